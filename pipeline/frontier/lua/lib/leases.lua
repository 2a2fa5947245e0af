-- leases: URLs handed out to workers, their tokens, and those that go back.
-- Defines: shorter, unretry, unlease, free_after_request, end_request, next_of, carried, lease, owned

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

-- A leased URL waiting for its retry that goes elsewhere leaves its host's retry queue.
local function unretry(url, lease_data)
  if redis.call('ZREM', RETRIES .. lease_data.h, url) == 1 then
    redis.call('HINCRBY', STATS, STAT_RETRIES_WAITING, -1)
  end
end

-- A lease that will not complete: its URL goes back to the front of its host's queue (a revisit to
-- the revisit queue, its history kept) at its depth, its host slot (if it held one) is
-- freed, and the stat `why` counts it.
local function unlease(url, lease_data, why)
  redis.call('ZREM', LEASES, url)
  redis.call('HDEL', LEASE, url)
  unretry(url, lease_data)
  if lease_data.r == 1 then
    redis.call('ZADD', REVISITS .. lease_data.h, lease_data.d, url)
    redis.call('HINCRBY', STATS, STAT_REVISITS_WAITING, 1)
    redis.call('HINCRBY', STATS, STAT_REVISITS, -1)
  else
    put_back(lease_data.h, lease_data.d, url)
    redis.call('HINCRBY', STATS, STAT_QUEUED, 1)
    if counts(url) then
      redis.call('HINCRBY', STATS, STAT_DISPATCHED, -1)
      if A.shared_budget then redis.call('INCR', ALLOWANCE) end
    end
  end
  redis.call('HINCRBY', STATS, why, 1)
  if lease_data.s == 1 then release_slot(lease_data.h) else schedule(lease_data.h) end
end

-- A request to `host` is over: its slot is freed, how long it took (`elapsed` seconds;
-- 0: unknown) kept as the adaptive delay's base when delay_factor is on, and the host's
-- next start planned a delay after this one's. The request went out `sent_for` seconds
-- ago (0: unknown): when that is later than its claim (the worker paused in between),
-- the host's start moves there, so the next request cannot reach the host closer than
-- the delay.
local function free_after_request(host, elapsed, sent_for)
  if A.delay_factor > 0 and elapsed > 0 then
    redis.call('HSET', RESPONSE_TIME, host, tostring(elapsed))
  end
  local started = tonumber(redis.call('HGET', STARTED, host)) or NOW
  if sent_for > 0 and NOW - sent_for > started then
    started = NOW - sent_for
    redis.call('HSET', STARTED, host, tostring(started))
  end
  local planned = math.max(num(redis.call('HGET', PLANNED, host)), started + delay_of(host))
  redis.call('HSET', PLANNED, host, tostring(planned))
  release_slot(host)
end

-- The request of a lease is over while the lease goes on (to the parse and store
-- steps, or to its retry): its host slot is freed once per lease.
local function end_request(url, lease_data, elapsed)
  if lease_data.s ~= 1 then return end
  lease_data.s = 0
  redis.call('HSET', LEASE, url, cjson.encode(lease_data))
  free_after_request(lease_data.h, elapsed, num(A.sent_for))
end

-- The next URL of a due host whose turn is `at`: a revisit first (it was waiting for the
-- host's turn since its due time), then a retry whose time has come (it was handed out
-- before), then a new URL unless the budget is `exhausted`. Returns url, depth and its
-- kind ('revisit', 'retry' or 'new'); nil when the host has nothing to hand out then.
local function next_of(host, exhausted, at)
  local item = redis.call('ZPOPMIN', REVISITS .. host)
  if #item > 0 then return item[1], tonumber(item[2]), 'revisit' end
  local retry = redis.call('ZRANGEBYSCORE', RETRIES .. host, '-inf', at, 'LIMIT', 0, 1)
  if #retry > 0 then
    redis.call('ZREM', RETRIES .. host, retry[1])
    redis.call('HINCRBY', STATS, STAT_RETRIES_WAITING, -1)
    return retry[1], nil, 'retry'
  end
  if exhausted then
    -- Its new URLs wait for more budget; its retries do not.
    local first = redis.call('ZRANGE', RETRIES .. host, 0, 0, 'WITHSCORES')
    if #first == 0 then
      park(host)
    else
      redis.call('ZADD', DUE, math.max(num(redis.call('HGET', PLANNED, host)), tonumber(first[2])), host)
    end
    return nil
  end
  local url, depth = pop_new(host)
  if not url then
    -- Nothing but retries not due yet: the host is due again at the first one's time.
    schedule(host)
    return nil
  end
  return url, depth, 'new'
end

-- Leases the broker carries: a URL waiting in its host's retry queue keeps its lease but
-- has no message, so it takes no room in the window (a window's worth of broken URLs
-- would otherwise stop the job, their own retries included).
local function carried()
  return redis.call('ZCARD', LEASES) - stat(STAT_RETRIES_WAITING)
end

-- Lease up to `limit` URLs of due hosts, keeping at most A.window carried for the job. A
-- revisit's row carries its last fetch (PRIOR); a retry's keeps its depth and kind and
-- carries the number of its next attempt.
local function lease(limit)
  local out = {}
  if redis.call('GET', STATE) ~= STATE_RUNNING then return out end
  if allowed() > 0 then unpark() end
  while #out < limit and carried() < A.window do
    local exhausted = allowed() <= 0
    if exhausted and stat(STAT_REVISITS_WAITING) <= 0 and stat(STAT_RETRIES_WAITING) <= 0 then break end
    local due = redis.call('ZRANGEBYSCORE', DUE, '-inf', NOW + A.lookahead, 'WITHSCORES', 'LIMIT', 0, 1)
    if #due == 0 then break end
    local host, at = due[1], math.max(tonumber(due[2]), NOW)
    local url, depth, kind = next_of(host, exhausted, at)
    local held = kind == 'retry' and redis.call('HGET', LEASE, url)
    if held then
      held = cjson.decode(held)
      depth = held.d
    elseif kind == 'revisit' then
      redis.call('HINCRBY', STATS, STAT_REVISITS, 1)
      redis.call('HINCRBY', STATS, STAT_REVISITS_WAITING, -1)
    elseif kind == 'new' then
      redis.call('HINCRBY', STATS, STAT_QUEUED, -1)
      if counts(url) then
        redis.call('HINCRBY', STATS, STAT_DISPATCHED, 1)
        if A.shared_budget then redis.call('DECR', ALLOWANCE) end
      end
    end
    if depth then
      local token = redis.call('HINCRBY', STATS, STAT_TOKENS, 1)
      local revisit = kind == 'revisit' or (held and held.r == 1)
      local attempt = held and held.a or 0
      local prior = revisit and redis.call('HGET', PRIOR, url) or ''
      redis.call('HINCRBY', SLOTS, host, 1)
      redis.call('HSET', PLANNED, host, tostring(at + delay_of(host)))
      redis.call('ZADD', LEASES, NOW + A.lease_timeout, url)
      redis.call('HSET', LEASE, url, cjson.encode({t = token, h = host, d = depth, s = 1, r = revisit and 1 or nil,
                                                   a = attempt > 0 and attempt or nil}))
      schedule(host)
      out[#out + 1] = {url, depth, host, token, tostring(at - NOW), prior, attempt}
    end
  end
  return out
end

-- The lease of `url` if `token` still owns it (an expired lease was handed out again).
local function owned(url, token)
  local raw = redis.call('HGET', LEASE, url)
  if not raw then return nil end
  local lease_data = cjson.decode(raw)
  if lease_data.t ~= token then return nil end
  return lease_data
end
