-- schedule: which hosts are due, when, and their slots.
-- Defines: schedule, delay_of, schedule_queued, release_slot, park, unpark

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

-- A host that has just had URLs queued is due if it has a free slot.
local function schedule_queued(host)
  if num(redis.call('HGET', SLOTS, host)) < A.conc then
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
