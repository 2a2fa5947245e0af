-- POSTPONE: the host asked for a pause (Retry-After) or is failing: no request to it
-- starts, on any worker, before NOW + seconds. The pause and its reason are kept for
-- `crawler status`; pauses that are over are dropped here, so the record stays as
-- small as the set of hosts paused.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version         STRING  the job's policy version, checked against ARGV[1].version
--   started         HASH    host -> last start, moved so that the next waits for the pause
--   planned         HASH    host -> planned start of its next request (at least the end)
--   delay           HASH    host -> robots.txt Crawl-delay (read)
--   qd:HOST         ZSET    the depths at which the host has new URLs waiting (read: is the host due)
--   q:HOST          ZSET    URL -> depth, as a job begun before the lists has it (read)
--   slots           HASH    host -> requests in flight (read)
--   due             ZSET    host -> planned start, for hosts with URLs waiting and a free slot
--   backoff         ZSET    host -> when its pause ends (a longer pause wins)
--   backoff-reason  HASH    host -> why it is paused
--   rq:HOST         ZSET    the host's revisits waiting -> depth; taken before its new URLs
--   hostrules       HASH    pattern -> {delay, conc} of the job's host policy file (read)
--   rtime           HASH    host -> seconds its last request took (read: the adaptive delay)
-- ARGV[1], a JSON object:
--   version   int     policy version the caller holds (0: do not check)
--   host      string  the host to pause
--   seconds   float   how long
--   reason    string  why, for `crawler status`
--   conc      int     requests in flight per host at most
--   delay     float   seconds between request starts to one host
--   delay_factor float a host's delay is this times its last response time (0: off)
--   host_rules bool   the job has a host policy file (its rules are looked up)
--   max_delay float   seconds the adaptive delay is at most
-- Returns 1.

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
