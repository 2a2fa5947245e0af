-- The frontier scripts' shared start, put before each script when it is loaded, after
-- one `local NAME = KEYS[1] .. 'suffix'` line per key of pipeline/keys.py's LUA_NAMES.
--
-- Every script gets KEYS[1] = the job's key prefix, crawler:{JOB}: (the hash tag is the
-- job's Redis Cluster slot, so each script declares the one slot it works in), ARGV[1]
-- = a JSON object of parameters, and, for the scripts that schedule URLs, the URLs'
-- 8-byte fingerprints from ARGV[2] on, one per entry of ARGV[1].links.
--
-- Each script's own header lists every key and parameter it touches, those of the
-- helpers below that it calls included. A call made with a policy version other than
-- the job's is refused with STALE_POLICY: the caller reads the policy again and repeats.

local A = cjson.decode(ARGV[1])
local stored_version = tonumber(redis.call('GET', VERSION))
if (tonumber(A.version) or 0) ~= 0 and stored_version and tonumber(A.version) ~= stored_version then
  return redis.error_reply('STALE_POLICY the job was seeded again with another policy')
end

local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local NOW = clock()

local function num(value) return tonumber(value) or 0 end

local function stat(name) return num(redis.call('HGET', STATS, name)) end

-- A host is due when it has URLs waiting and a free slot; its score is the planned
-- start of its next request.
local function schedule(host)
  local queue = QUEUE .. host
  if redis.call('ZCARD', queue) > 0 and num(redis.call('HGET', SLOTS, host)) < A.conc then
    redis.call('ZADD', DUE, num(redis.call('HGET', PLANNED, host)), host)
  else
    redis.call('ZREM', DUE, host)
  end
end

-- The job's delay, or the host's robots.txt Crawl-delay when that is larger.
local function delay_of(host)
  return math.max(A.delay, num(redis.call('HGET', HOST_DELAY, host)))
end

-- The job has fetched (or handed out) as many URLs as max_pages allows. What is still
-- queued stays there: seeding again with a larger budget carries on from it.
local function spent()
  return A.max_pages > 0 and stat('dispatched') >= A.max_pages
end

-- Schedule the never-seen URLs of A.links, whose fingerprints start at ARGV[first].
local function add_links(first)
  local touched, added = {}, 0
  for i, link in ipairs(A.links or {}) do
    -- link = {member, host, depth, is_sitemap}; pages and sitemaps have budgets of their own.
    local counter = link[4] == 1 and HOST_SITEMAPS or HOST_COUNT
    local budget = link[4] == 1 and A.sitemap_budget or A.host_budget
    local host_full = budget > 0 and num(redis.call('HGET', counter, link[2])) >= budget
    if host_full then
      -- The host has had its budget (a crawler trap, or just huge): the link stays unseen.
    elseif redis.call('SADD', SEEN, ARGV[first + i - 1]) == 1 then
      redis.call('HINCRBY', counter, link[2], 1)
      redis.call('ZADD', QUEUE .. link[2], link[3], link[1])
      redis.call('HINCRBY', STATS, 'queued', 1)
      touched[link[2]] = true
      added = added + 1
    else
      -- Found again by a shorter path while still waiting: it keeps the smaller depth.
      redis.call('ZADD', QUEUE .. link[2], 'XX', 'LT', link[3], link[1])
    end
  end
  for host in pairs(touched) do schedule(host) end
  return added
end

local function release_slot(host)
  redis.call('HINCRBY', SLOTS, host, -1)
  schedule(host)
end

-- Lease up to `limit` URLs of due hosts, keeping at most A.window leased for the job.
local function lease(limit)
  local out = {}
  if redis.call('GET', STATE) ~= 'running' then return out end
  while #out < limit and redis.call('ZCARD', LEASES) < A.window do
    if spent() then break end
    local due = redis.call('ZRANGEBYSCORE', DUE, '-inf', NOW + A.lookahead, 'WITHSCORES', 'LIMIT', 0, 1)
    if #due == 0 then break end
    local host, at = due[1], math.max(tonumber(due[2]), NOW)
    local item = redis.call('ZPOPMIN', QUEUE .. host)
    if #item == 0 then
      redis.call('ZREM', DUE, host)
    else
      local url, depth = item[1], tonumber(item[2])
      local token = redis.call('HINCRBY', STATS, 'tokens', 1)
      redis.call('HINCRBY', STATS, 'dispatched', 1)
      redis.call('HINCRBY', STATS, 'queued', -1)
      redis.call('HINCRBY', SLOTS, host, 1)
      redis.call('HSET', PLANNED, host, tostring(at + delay_of(host)))
      redis.call('ZADD', LEASES, NOW + A.lease_timeout, url)
      redis.call('HSET', LEASE, url, cjson.encode({t = token, h = host, d = depth, s = 1}))
      schedule(host)
      out[#out + 1] = {url, depth, host, token, tostring(at - NOW)}
    end
  end
  return out
end

local function finish_if_done()
  if redis.call('GET', STATE) ~= 'running' or redis.call('ZCARD', LEASES) > 0 then return end
  if stat('queued') == 0 or spent() then
    redis.call('SET', STATE, 'finished')
    redis.call('HSET', STATS, 'finished_at', tostring(NOW))
  end
end

-- The lease of `url` if `token` still owns it (an expired lease was handed out again).
local function owned(url, token)
  local raw = redis.call('HGET', LEASE, url)
  if not raw then return nil end
  local lease_data = cjson.decode(raw)
  if lease_data.t ~= token then return nil end
  return lease_data
end
