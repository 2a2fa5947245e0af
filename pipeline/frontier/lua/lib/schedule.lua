-- schedule: which hosts are due, when, and their slots.
-- Defines: rules_seen, host_rule, conc_of, delay_of, schedule, schedule_queued, release_slot, park, unpark

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

-- A host is due when it has URLs waiting (new ones or revisits) and a free slot; its
-- score is the planned start of its next request.
local function schedule(host)
  local waiting = redis.call('ZCARD', QUEUE_DEPTHS .. host) + redis.call('ZCARD', LEGACY_QUEUE .. host)
    + redis.call('ZCARD', REVISITS .. host)
  if waiting > 0 and num(redis.call('HGET', SLOTS, host)) < conc_of(host) then
    redis.call('ZADD', DUE, num(redis.call('HGET', PLANNED, host)), host)
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
