-- The frontier scripts' shared start, put before each script when it is loaded, after
-- one `local NAME = KEYS[1] .. 'suffix'` line per key of pipeline/keys.py's LUA_NAMES.
--
-- Every script gets KEYS[1] = the key prefix of one shard of the job, crawler:{JOB}: or
-- crawler:{JOB#SHARD}: (the hash tag is the shard's Redis Cluster slot, so each script
-- declares the one slot it works in; its keys are found from it), ARGV[1]
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

-- A host's new URLs wait in one list per depth, ql:DEPTH:HOST, in the order found, and
-- qd:HOST holds the depths that have a list: a queued URL costs its path and a few
-- bytes, where a sorted set of whole URLs cost ~130. A URL on the host is kept as its
-- path ('/...') for http and as '+' and its path for https; any other member (a
-- sitemap's) whole. A job begun before the lists may still have a sorted set q:HOST of
-- URL -> depth: it is drained first.
local function compact(url, host)
  local http, https = 'http://' .. host .. '/', 'https://' .. host .. '/'
  if url:sub(1, #http) == http then return url:sub(#http) end
  if url:sub(1, #https) == https then return '+' .. url:sub(#https) end
  return url
end

local function expand(entry, host)
  local first = entry:sub(1, 1)
  if first == '/' then return 'http://' .. host .. entry end
  if first == '+' then return 'https://' .. host .. entry:sub(2) end
  return entry
end

local function push_new(host, depth, url)
  redis.call('RPUSH', QUEUE .. depth .. ':' .. host, compact(url, host))
  redis.call('ZADD', QUEUE_DEPTHS .. host, depth, depth)
end

-- The host's next new URL, the shallowest first, and its depth; nil when none waits.
local function pop_new(host)
  local item = redis.call('ZPOPMIN', LEGACY_QUEUE .. host)
  if #item > 0 then return item[1], tonumber(item[2]) end
  local top = redis.call('ZRANGE', QUEUE_DEPTHS .. host, 0, 0)
  if #top == 0 then return nil end
  local list = QUEUE .. top[1] .. ':' .. host
  local entry = redis.call('LPOP', list)
  if redis.call('EXISTS', list) == 0 then redis.call('ZREM', QUEUE_DEPTHS .. host, top[1]) end
  if not entry then return nil end
  return expand(entry, host), tonumber(top[1])
end

-- A host is due when it has URLs waiting (new ones or revisits) and a free slot; its
-- score is the planned start of its next request.
local function schedule(host)
  local waiting = redis.call('ZCARD', QUEUE_DEPTHS .. host) + redis.call('ZCARD', LEGACY_QUEUE .. host)
    + redis.call('ZCARD', REVISITS .. host)
  if waiting > 0 and num(redis.call('HGET', SLOTS, host)) < A.conc then
    redis.call('ZADD', DUE, num(redis.call('HGET', PLANNED, host)), host)
  else
    redis.call('ZREM', DUE, host)
  end
end

-- The job's delay, or the host's robots.txt Crawl-delay when that is larger.
local function delay_of(host)
  return math.max(A.delay, num(redis.call('HGET', HOST_DELAY, host)))
end

-- New URLs this shard may still hand out under max_pages. With A.shared_budget (a job
-- of several shards with a max_pages), the dispatcher shares the budget out: each
-- shard holds an allowance, spent as it hands URLs out and refilled on each tick.
-- Revisits are not counted: they fetch URLs the budget already let in.
local function allowed()
  if A.shared_budget then return num(redis.call('GET', ALLOWANCE)) end
  if A.max_pages == 0 then return math.huge end
  return A.max_pages - stat('dispatched')
end

-- The job has fetched (or handed out) as many URLs as max_pages allows. What is still
-- queued stays there: seeding again with a larger budget carries on from it. A shard
-- whose allowance is spent waits for more unless the dispatcher found none left.
local function spent()
  if A.shared_budget then return allowed() <= 0 and redis.call('EXISTS', BUDGET_SPENT) == 1 end
  return A.max_pages > 0 and stat('dispatched') >= A.max_pages
end

-- A finished job (or shard) given new work runs again; `restarts` lets a reader of
-- several shards tell that one ran again between two of its reads.
local function restart()
  redis.call('SET', STATE, 'running')
  redis.call('HDEL', STATS, 'finished_at')
  redis.call('HINCRBY', STATS, 'restarts', 1)
end

-- A URL a per-host budget kept out: it joins the host's HyperLogLog, whose count is
-- the host's score in `over` and, summed over hosts, the job's stat `field`.
local function drop_for_host(hll, over, field, host, fingerprint)
  local key = hll .. host
  if redis.call('PFADD', key, fingerprint) == 1 then
    local count = redis.call('PFCOUNT', key)
    redis.call('HINCRBY', STATS, field, count - num(redis.call('ZSCORE', over, host)))
    redis.call('ZADD', over, count, host)
  end
end

-- A URL found again by a shorter path while it is leased takes the smaller depth:
-- COMPLETE then schedules its links from that depth and hands it back for the record.
-- One still waiting keeps the depth it was queued at, as one already completed does:
-- finding it in its host's lists would take an index of every waiting URL (what the
-- lists save), and correcting a completed one would mean remembering every URL's depth
-- and fetching, or rewriting, its whole subtree again (measured: README, Export record).
local function shorter(url, depth)
  local raw = redis.call('HGET', LEASE, url)
  if not raw then return end
  local lease_data = cjson.decode(raw)
  if depth < lease_data.d then
    lease_data.d = depth
    redis.call('HSET', LEASE, url, cjson.encode(lease_data))
  end
end

-- A URL's i-th bit in the job's Bloom filter (i from 0).
local function bloom_bit(link, i)
  return (link[4] + i * link[5]) % A.bloom_bits
end

-- Whether a URL was scheduled before: in its seen set (or in the single set of a job
-- begun before the sets were bucketed, when there is one), or, with dedup=bloom, when
-- every one of its bits is set in the job's filter.
local function was_seen(link, fingerprint, legacy)
  if A.bloom_bits > 0 then
    -- A new URL has half its bits clear at capacity: most answers come after a bit or two.
    for i = 0, A.bloom_hashes - 1 do
      if redis.call('GETBIT', BLOOM, bloom_bit(link, i)) == 0 then return false end
    end
    return true
  end
  return redis.call('SISMEMBER', SEEN .. link[4], link[5]) == 1
    or (legacy and redis.call('SISMEMBER', LEGACY_SEEN, fingerprint) == 1)
end

-- Whether the URL is new, marking it seen: one call answers and marks at once (SADD to
-- its seen set; BITFIELD setting its bits in the filter, each old bit returned).
local function first_sight(link, fingerprint, legacy)
  if A.bloom_bits > 0 then
    local args = {}
    for i = 0, A.bloom_hashes - 1 do
      args[#args + 1] = 'SET'
      args[#args + 1] = 'u1'
      args[#args + 1] = bloom_bit(link, i)
      args[#args + 1] = 1
    end
    for _, bit in ipairs(redis.call('BITFIELD', BLOOM, unpack(args))) do
      if bit == 0 then return true end
    end
    return false
  end
  if legacy and redis.call('SISMEMBER', LEGACY_SEEN, fingerprint) == 1 then return false end
  return redis.call('SADD', SEEN .. link[4], link[5]) == 1
end

-- A host that has just had URLs queued is due if it has a free slot.
local function schedule_queued(host)
  if num(redis.call('HGET', SLOTS, host)) < A.conc then
    redis.call('ZADD', DUE, num(redis.call('HGET', PLANNED, host)), host)
  end
end

-- The URLs one call queues, gathered per host and depth so that each host's lists,
-- counters and schedule are written once per call, not once per URL.
local function queue_batch(batch)
  local added = 0
  for host, per_host in pairs(batch) do
    if per_host.added > 0 then schedule_queued(host) end
    for depth, entries in pairs(per_host.lists) do
      local list = QUEUE .. depth .. ':' .. host
      for first = 1, #entries, 1000 do
        redis.call('RPUSH', list, unpack(entries, first, math.min(first + 999, #entries)))
      end
      redis.call('ZADD', QUEUE_DEPTHS .. host, depth, depth)
    end
    for counter, count in pairs(per_host.counted) do redis.call('HINCRBY', counter, host, count) end
    added = added + per_host.added
  end
  if added > 0 then
    redis.call('HINCRBY', STATS, 'queued', added)
    redis.call('HINCRBY', STATS, 'seen', added)
  end
  return added
end

-- Schedule the never-seen URLs of A.links, listed by a URL at depth `base`, whose
-- fingerprints are ARGV[2..]. A page is one link deeper, and kept out past max_depth;
-- a sitemap keeps the depth of what listed it, whatever the limit. Each host has a
-- budget of pages and one of sitemaps. What a limit keeps out stays unseen (seeding
-- again with a larger limit can schedule it) and is counted, once per distinct URL.
local function add_links(base)
  local batch = {}
  local legacy = #A.links > 0 and A.bloom_bits == 0 and redis.call('EXISTS', LEGACY_SEEN) == 1
  for i, link in ipairs(A.links) do
    -- link = {member, host, is_sitemap, seen bucket or h1, seen entry or h2}
    local url, host, sitemap, fingerprint = link[1], link[2], link[3] == 1, ARGV[i + 1]
    local depth = sitemap and math.max(base, 0) or base + 1
    local counter = sitemap and HOST_SITEMAPS or HOST_COUNT
    local budget = sitemap and A.sitemap_budget or A.host_budget
    local per_host = batch[host]
    if not per_host then
      per_host = {lists = {}, counted = {}, used = {}, added = 0}
      batch[host] = per_host
    end
    if budget > 0 and per_host.used[counter] == nil then
      per_host.used[counter] = num(redis.call('HGET', counter, host))
    end
    if not sitemap and depth > A.max_depth then
      if not was_seen(link, fingerprint, legacy) then redis.call('PFADD', DROPPED_DEPTH, fingerprint) end
    elseif budget > 0 and per_host.used[counter] >= budget then
      if was_seen(link, fingerprint, legacy) then
        shorter(url, depth)
      elseif sitemap then
        -- A crawler trap, or just a huge host.
        drop_for_host(DROPPED_SITEMAPS, OVER_SITEMAPS, 'dropped_sitemaps', host, fingerprint)
      else
        drop_for_host(DROPPED_PAGES, OVER_PAGES, 'dropped_pages', host, fingerprint)
      end
    elseif first_sight(link, fingerprint, legacy) then
      per_host.used[counter] = (per_host.used[counter] or 0) + 1
      per_host.counted[counter] = (per_host.counted[counter] or 0) + 1
      local entries = per_host.lists[depth]
      if not entries then
        entries = {}
        per_host.lists[depth] = entries
      end
      entries[#entries + 1] = compact(url, host)
      per_host.added = per_host.added + 1
    else
      shorter(url, depth)
    end
  end
  return queue_batch(batch)
end

local function release_slot(host)
  redis.call('HINCRBY', SLOTS, host, -1)
  schedule(host)
end

-- A lease that will not complete: its URL goes back to its host's queue (a revisit to
-- the revisit queue, its history kept) at its depth, its host slot (if it held one) is
-- freed, and the stat `why` counts it.
local function unlease(url, lease_data, why)
  redis.call('ZREM', LEASES, url)
  redis.call('HDEL', LEASE, url)
  if lease_data.r == 1 then
    redis.call('ZADD', REVISITS .. lease_data.h, lease_data.d, url)
    redis.call('HINCRBY', STATS, 'revisits_waiting', 1)
    redis.call('HINCRBY', STATS, 'revisits', -1)
  else
    push_new(lease_data.h, lease_data.d, url)
    redis.call('HINCRBY', STATS, 'queued', 1)
    redis.call('HINCRBY', STATS, 'dispatched', -1)
    if A.shared_budget then redis.call('INCR', ALLOWANCE) end
  end
  redis.call('HINCRBY', STATS, why, 1)
  if lease_data.s == 1 then release_slot(lease_data.h) else schedule(lease_data.h) end
end

-- While max_pages is spent, a host with only new URLs waiting leaves the due hosts, so
-- that revisits of other hosts go on; a larger budget brings it back.
local function park(host)
  redis.call('ZREM', DUE, host)
  redis.call('SADD', PARKED, host)
end

local function unpark()
  if redis.call('SCARD', PARKED) == 0 then return end
  for _, host in ipairs(redis.call('SMEMBERS', PARKED)) do schedule(host) end
  redis.call('DEL', PARKED)
end

-- The next URL of a due host: a revisit first (it was waiting for the host's turn since
-- its due time), then a new URL unless the budget is `exhausted`. Returns url, depth,
-- whether it is a revisit; nil when the host has nothing to hand out now.
local function next_of(host, exhausted)
  local item = redis.call('ZPOPMIN', REVISITS .. host)
  if #item > 0 then return item[1], tonumber(item[2]), true end
  if exhausted then
    park(host)
    return nil
  end
  local url, depth = pop_new(host)
  if not url then
    redis.call('ZREM', DUE, host)
    return nil
  end
  return url, depth, false
end

-- Lease up to `limit` URLs of due hosts, keeping at most A.window leased for the job. A
-- revisit's row carries its last fetch (PRIOR), for a conditional request.
local function lease(limit)
  local out = {}
  if redis.call('GET', STATE) ~= 'running' then return out end
  if allowed() > 0 then unpark() end
  while #out < limit and redis.call('ZCARD', LEASES) < A.window do
    local exhausted = allowed() <= 0
    if exhausted and stat('revisits_waiting') <= 0 then break end
    local due = redis.call('ZRANGEBYSCORE', DUE, '-inf', NOW + A.lookahead, 'WITHSCORES', 'LIMIT', 0, 1)
    if #due == 0 then break end
    local host, at = due[1], math.max(tonumber(due[2]), NOW)
    local url, depth, revisit = next_of(host, exhausted)
    if url then
      local token = redis.call('HINCRBY', STATS, 'tokens', 1)
      local prior = ''
      if revisit then
        redis.call('HINCRBY', STATS, 'revisits', 1)
        redis.call('HINCRBY', STATS, 'revisits_waiting', -1)
        prior = redis.call('HGET', PRIOR, url) or ''
      else
        redis.call('HINCRBY', STATS, 'dispatched', 1)
        redis.call('HINCRBY', STATS, 'queued', -1)
        if A.shared_budget then redis.call('DECR', ALLOWANCE) end
      end
      redis.call('HINCRBY', SLOTS, host, 1)
      redis.call('HSET', PLANNED, host, tostring(at + delay_of(host)))
      redis.call('ZADD', LEASES, NOW + A.lease_timeout, url)
      redis.call('HSET', LEASE, url, cjson.encode({t = token, h = host, d = depth, s = 1, r = revisit and 1 or nil}))
      schedule(host)
      out[#out + 1] = {url, depth, host, token, tostring(at - NOW), prior}
    end
  end
  return out
end

-- A job that revisits continuously, or whose recrawl is still being fed from the store
-- or has revisits waiting, is not done.
local function finish_if_done()
  if redis.call('GET', STATE) ~= 'running' or redis.call('ZCARD', LEASES) > 0 then return end
  if A.continuous or stat('revisits_waiting') > 0 or redis.call('EXISTS', FEED) == 1 then return end
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
