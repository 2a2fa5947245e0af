-- schedule: which hosts are due, when, their slots, and their pauses.
-- Defines: rules_seen, host_rule, conc_of, delay_of, schedule, schedule_queued, release_slot, park, unpark, pause_host, host_failed

-- The host policy file's rules (pipeline/fetch/hostpolicy.py) are in HOST_RULES, pattern ->
-- {delay, conc}; each host's is looked up once per call.
local rules_seen = {}

-- The rule of `host` (host[:port]): its name's, else its nearest `*.` parent's, as
-- hostpolicy.candidates walks them; false when none matches or the job has none.
local function host_rule(host)
  if not A.host_rules then return false end
  if rules_seen[host] ~= nil then return rules_seen[host] end
  local name = host:gsub(':%d+$', ''):gsub('^%[(.*)%]$', '%1')
  local found = redis.call('HGET', HOST_RULES, name)
  local at = name:find('.', 1, true)
  while not found and at do
    found = redis.call('HGET', HOST_RULES, '*' .. name:sub(at))
    at = name:find('.', at + 1, true)
  end
  rules_seen[host] = found and cjson.decode(found) or false
  return rules_seen[host]
end

-- Requests in flight to `host` at most: its rule's, else the job's.
local function conc_of(host)
  local rule = host_rule(host)
  return rule and rule.conc or A.conc
end

-- Seconds between request starts to `host`: its rule's delay (else the job's), or the
-- adaptive one (delay_factor times its last response time, at most max_delay), or its
-- robots.txt Crawl-delay, whichever is largest (pipeline/frontier/delays.py explains it).
local function delay_of(host)
  local rule = host_rule(host)
  local delay = rule and rule.delay or A.delay
  if A.delay_factor > 0 then
    delay = math.max(delay, math.min(A.delay_factor * num(redis.call('HGET', RESPONSE_TIME, host)), A.max_delay))
  end
  return math.max(delay, num(redis.call('HGET', HOST_DELAY, host)))
end

-- A host is due when it has URLs waiting (new ones, revisits, or retries) and a free
-- slot; its score is the planned start of its next request, or, when only retries
-- wait, the later of that and the first retry's time.
local function schedule(host)
  local waiting = redis.call('ZCARD', QUEUE_DEPTHS .. host) + redis.call('ZCARD', LEGACY_QUEUE .. host)
    + redis.call('ZCARD', REVISITS .. host)
  local at = num(redis.call('HGET', PLANNED, host))
  if waiting == 0 then
    local first = redis.call('ZRANGE', RETRIES .. host, 0, 0, 'WITHSCORES')
    if #first > 0 then
      waiting = 1
      at = math.max(at, tonumber(first[2]))
    end
  end
  if waiting > 0 and num(redis.call('HGET', SLOTS, host)) < conc_of(host) then
    redis.call('ZADD', DUE, at, host)
  else
    redis.call('ZREM', DUE, host)
  end
end

-- A host that has just had URLs queued is due if it has a free slot.
local function schedule_queued(host)
  if num(redis.call('HGET', SLOTS, host)) < conc_of(host) then
    redis.call('ZADD', DUE, num(redis.call('HGET', PLANNED, host)), host)
  end
end

local function release_slot(host)
  redis.call('HINCRBY', SLOTS, host, -1)
  schedule(host)
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

-- No request to `host` starts, on any worker, for `seconds`. The pause and its reason
-- are kept for `crawler status`; pauses that are over are dropped here, so the record
-- stays as small as the set of hosts paused.
local function pause_host(host, seconds, reason)
  local resume = NOW + seconds
  local started = num(redis.call('HGET', STARTED, host))
  redis.call('HSET', STARTED, host, tostring(math.max(started, resume - delay_of(host))))
  redis.call('HSET', PLANNED, host, tostring(math.max(num(redis.call('HGET', PLANNED, host)), resume)))
  schedule(host)
  if resume > num(redis.call('ZSCORE', BACKOFF, host)) then
    redis.call('ZADD', BACKOFF, resume, host)
    redis.call('HSET', BACKOFF_REASON, host, reason)
  end
  local over = redis.call('ZRANGEBYSCORE', BACKOFF, '-inf', NOW, 'LIMIT', 0, 100)
  if #over > 0 then
    redis.call('HDEL', BACKOFF_REASON, unpack(over))
    redis.call('ZREM', BACKOFF, unpack(over))
  end
end

-- A request of `url` failed, and may not next time. The host's failure (`host_level`)
-- pauses it for `seconds`; the URL's pauses it only once A.failures_to_pause different
-- URLs of the host failed with no success between them (0: never). Returns 1 when the
-- host was paused.
local function host_failed(host, url, seconds, reason, host_level)
  local failing = FAILING .. host
  if not host_level then
    if A.failures_to_pause <= 0 then return 0 end
    redis.call('SADD', failing, url)
    local count = redis.call('SCARD', failing)
    if count < A.failures_to_pause then return 0 end
    reason = reason .. ', ' .. count .. ' URLs failed in a row'
  end
  redis.call('DEL', failing)
  pause_host(host, seconds, reason)
  return 1
end
