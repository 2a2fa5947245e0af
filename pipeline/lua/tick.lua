-- TICK: the dispatcher's heartbeat: leases that expired (their worker died or was cut
-- off) go back to their host's queue at their depth, then what is due is handed out.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version   STRING  the job's policy version, checked against ARGV[1].version
--   leases    ZSET    URL -> lease deadline: expired ones removed; new leases added
--   lease     HASH    URL -> {t, h, d, s}: expired ones removed; new leases added
--   q:HOST    ZSET    each host's waiting URLs -> depth (expired ones put back)
--   stats     HASH    counters: queued, dispatched, requeued, tokens, finished_at
--   slots     HASH    host -> requests in flight (-1 per expired lease that held one)
--   due       ZSET    host -> planned start, for hosts with URLs waiting and a free slot
--   planned   HASH    host -> planned start of its next request
--   delay     HASH    host -> robots.txt Crawl-delay (read)
--   state     STRING  only a running job hands URLs out; running -> finished
-- ARGV[1], a JSON object:
--   version        int     policy version the caller holds (0: do not check)
--   expire_all     bool    treat every lease as expired (no worker of the job is alive)
--   expire_limit   int     expired leases handled at most in one call
--   limit          int     URLs to hand out at most
--   window         int     URLs of the job leased at once at most
--   lookahead      float   seconds before its host's turn that a URL may be handed out
--   conc           int     requests in flight per host at most
--   delay          float   seconds between request starts to one host
--   max_pages      int     URLs handed out for the job at most (0: no limit)
--   lease_timeout  float   seconds a lease lasts before it is handed out again
-- Returns {expired, leases}: how many leases expired, and new leases as LEASE returns them.

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
