"""The frontier's Lua scripts: every change that touches several keys runs atomically
inside Redis, in one round trip, on Redis's own clock (so hosts whose clocks disagree
still keep one politeness schedule).

Every script takes ARGV[1] = the job's key prefix, ARGV[2] = a JSON object of
parameters, and for ADD and COMPLETE the URL fingerprints (binary) from ARGV[3] on.
"""

from __future__ import annotations

from pipeline.keys import LUA_NAMES

_PREAMBLE = "\n".join(f"local {name} = ARGV[1] .. '{suffix}'" for name, suffix in LUA_NAMES.items()) + r"""
local A = cjson.decode(ARGV[2])
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

-- Lease up to `limit` URLs of due hosts, keeping at most `window` leased for the job.
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
"""

ADD = _PREAMBLE + r"""
local added = add_links(3)
if redis.call('GET', STATE) == 'finished' and stat('queued') > 0 and not spent() then
  redis.call('SET', STATE, 'running')
  redis.call('HDEL', STATS, 'finished_at')
end
finish_if_done()
return added
"""

LEASE = _PREAMBLE + r"""
return lease(A.limit)
"""

CLAIM_START = _PREAMBLE + r"""
-- A stale chain (its lease expired and went to another worker, or was completed) must
-- not send the request; a live one renews its lease, whether it starts now or waits.
if not owned(A.url, A.token) then return '-1' end
redis.call('ZADD', LEASES, NOW + A.lease_timeout, A.url)
local last = tonumber(redis.call('HGET', STARTED, A.host))
local gap = delay_of(A.host)
if last and NOW < last + gap then
  return tostring(last + gap - NOW)
end
redis.call('HSET', STARTED, A.host, tostring(NOW))
return '0'
"""

RELEASE_HOST = _PREAMBLE + r"""
local lease_data = owned(A.url, A.token)
if lease_data and lease_data.s == 1 then
  lease_data.s = 0
  redis.call('HSET', LEASE, A.url, cjson.encode(lease_data))
  local started = tonumber(redis.call('HGET', STARTED, lease_data.h)) or NOW
  local planned = math.max(num(redis.call('HGET', PLANNED, lease_data.h)), started + delay_of(lease_data.h))
  redis.call('HSET', PLANNED, lease_data.h, tostring(planned))
  release_slot(lease_data.h)
end
return lease(A.limit)
"""

POSTPONE = _PREAMBLE + r"""
-- The host asked for a pause (Retry-After) or is failing: no request to it starts
-- before NOW + seconds. The pause and its reason are kept for `crawler status`; pauses
-- that are over are dropped here, so the record stays as small as the hosts paused.
local resume = NOW + A.seconds
local started = num(redis.call('HGET', STARTED, A.host))
redis.call('HSET', STARTED, A.host, tostring(math.max(started, resume - delay_of(A.host))))
redis.call('HSET', PLANNED, A.host, tostring(math.max(num(redis.call('HGET', PLANNED, A.host)), resume)))
schedule(A.host)
if resume > num(redis.call('ZSCORE', BACKOFF, A.host)) then
  redis.call('ZADD', BACKOFF, resume, A.host)
  redis.call('HSET', BACKOFF_REASON, A.host, A.reason)
end
local over = redis.call('ZRANGEBYSCORE', BACKOFF, '-inf', NOW, 'LIMIT', 0, 100)
if #over > 0 then
  redis.call('HDEL', BACKOFF_REASON, unpack(over))
  redis.call('ZREM', BACKOFF, unpack(over))
end
return 1
"""

EXTEND = _PREAMBLE + r"""
if owned(A.url, A.token) then
  redis.call('ZADD', LEASES, NOW + A.lease_timeout, A.url)
  return 1
end
return 0
"""

COMPLETE = _PREAMBLE + r"""
local counted = 0
local lease_data = owned(A.url, A.token)
if lease_data then
  if lease_data.s == 1 then release_slot(lease_data.h) end
  redis.call('ZREM', LEASES, A.url)
  redis.call('HDEL', LEASE, A.url)
  redis.call('HINCRBY', STATS, 'stored', 1)
  if A.failed then redis.call('HINCRBY', STATS, 'errors', 1) end
  counted = 1
  -- A stale completion (its lease expired and went to another worker) adds nothing:
  -- the owner's completion will, and a finished job is not fed behind its back.
  add_links(3)
end
local leased = lease(A.limit)
finish_if_done()
return {counted, leased}
"""

TICK = _PREAMBLE + r"""
local expire_before = A.expire_all and '+inf' or NOW
local expired = redis.call('ZRANGEBYSCORE', LEASES, '-inf', expire_before, 'LIMIT', 0, A.expire_limit)
for _, url in ipairs(expired) do
  local raw = redis.call('HGET', LEASE, url)
  redis.call('ZREM', LEASES, url)
  redis.call('HDEL', LEASE, url)
  if raw then
    local lease_data = cjson.decode(raw)
    redis.call('ZADD', QUEUE .. lease_data.h, lease_data.d, url)
    redis.call('HINCRBY', STATS, 'queued', 1)
    redis.call('HINCRBY', STATS, 'dispatched', -1)
    redis.call('HINCRBY', STATS, 'requeued', 1)
    if lease_data.s == 1 then
      release_slot(lease_data.h)
    else
      schedule(lease_data.h)
    end
  end
end
local leased = lease(A.limit)
finish_if_done()
return {#expired, leased}
"""

HAND_BACK = _PREAMBLE + r"""
-- A.leases = {{member, token}, ...}: leases whose chain was dropped before it ran (a
-- worker that lost its broker connection forgets the tasks it held). Each one still
-- owned goes back to its host's queue at once, rather than waiting out its deadline.
local handed = 0
for _, item in ipairs(A.leases) do
  local lease_data = owned(item[1], item[2])
  if lease_data then
    redis.call('ZREM', LEASES, item[1])
    redis.call('HDEL', LEASE, item[1])
    redis.call('ZADD', QUEUE .. lease_data.h, lease_data.d, item[1])
    redis.call('HINCRBY', STATS, 'queued', 1)
    redis.call('HINCRBY', STATS, 'dispatched', -1)
    redis.call('HINCRBY', STATS, 'handed_back', 1)
    if lease_data.s == 1 then release_slot(lease_data.h) else schedule(lease_data.h) end
    handed = handed + 1
  end
end
return handed
"""

REQUEUE_EXCEPT = _PREAMBLE + r"""
-- After a restart with no worker of the earlier run left: A.keep lists {member, token}
-- of the leases that a chain still waiting in the broker carries. Every other lease
-- belonged to a chain that died with its worker, so its URL goes back to its host's
-- queue now instead of at its timeout.
local keep = {}
for _, pair in ipairs(A.keep) do keep[pair[1]] = pair[2] end
local requeued = 0
for _, url in ipairs(redis.call('ZRANGE', LEASES, 0, -1)) do
  local raw = redis.call('HGET', LEASE, url)
  local lease_data = raw and cjson.decode(raw)
  if not (lease_data and keep[url] == lease_data.t) then
    redis.call('ZREM', LEASES, url)
    redis.call('HDEL', LEASE, url)
    if lease_data then
      redis.call('ZADD', QUEUE .. lease_data.h, lease_data.d, url)
      redis.call('HINCRBY', STATS, 'queued', 1)
      redis.call('HINCRBY', STATS, 'dispatched', -1)
      redis.call('HINCRBY', STATS, 'requeued', 1)
      if lease_data.s == 1 then
        release_slot(lease_data.h)
      else
        schedule(lease_data.h)
      end
      requeued = requeued + 1
    end
  end
end
return requeued
"""
