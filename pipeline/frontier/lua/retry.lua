-- RETRY: the request of a leased URL failed in a way that may pass. The URL waits in
-- its host's retry queue until NOW + seconds, holding neither a host slot nor a
-- worker: the host's other URLs go on meanwhile, and the URL is handed out again (as
-- attempt `attempt`, under a new token) when its time and its host's turn have come.
-- The failure pauses the host too when it is the host's, or when several different
-- URLs of the host failed in a row (POSTPONE). What the freed slot made due is handed
-- out. A stale token changes nothing.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version         STRING  the job's policy version, checked against ARGV[1].version
--   lease           HASH    URL -> {t, h, d, s, r, a}: a new token, s = 0 and a = attempt; new leases added
--   leases          ZSET    URL -> lease deadline: the retry's time plus lease_timeout; new leases added
--   rt:HOST         ZSET    the host's leased URLs waiting for their retry -> its time (added)
--   started         HASH    host -> when its last request started (moved on by a pause, and to when it went out, if later)
--   planned         HASH    host -> planned start of its next request
--   delay           HASH    host -> robots.txt Crawl-delay (read)
--   slots           HASH    host -> requests in flight (-1, +1 per new lease)
--   due             ZSET    host -> planned start, for hosts with URLs waiting and a free slot
--   backoff         ZSET    host -> when its pause ends (a longer pause wins)
--   backoff-reason  HASH    host -> why it is paused
--   failing:HOST    SET     the host's URLs that failed since its last success
--   ql:DEPTH:HOST   LIST    the host's new URLs at DEPTH
--   qd:HOST         ZSET    the depths at which the host has new URLs waiting
--   q:HOST          ZSET    URL -> depth, as a job begun before the lists has it; taken first
--   rq:HOST         ZSET    the host's revisits waiting -> depth; taken before its new URLs
--   state           STRING  only a running job hands URLs out
--   stats           HASH    counters: retries_waiting (+1), tokens, dispatched, queued, revisits
--   parked          SET     hosts with only new URLs waiting while max_pages is spent
--   prior           HASH    URL -> JSON of its last fetch, handed out with its revisit lease
--   allowance       STRING  new URLs the shard may hand out of a shared max_pages (-1 per new page)
--   hostrules       HASH    pattern -> {delay, conc} of the job's host policy file (read)
--   rtime           HASH    host -> seconds its last request took (set from elapsed when delay_factor is on)
-- ARGV[1], a JSON object:
--   version            int     policy version the caller holds (0: do not check)
--   url                string  the leased member
--   token              int     the lease's token
--   host               string  the URL's host
--   seconds            float   how long the URL waits for its retry
--   attempt            int     the number of its next attempt
--   pause              float   how long the host pauses if it does
--   reason             string  why, for `crawler status`
--   host_level         bool    the failure is the host's: it pauses at once
--   failures_to_pause  int     different URLs of the host failing in a row that pause it (0: never)
--   limit              int     URLs to hand out at most
--   window             int     URLs of the job leased at once at most
--   lookahead          float   seconds before its host's turn that a URL may be handed out
--   conc               int     requests in flight per host at most
--   delay              float   seconds between request starts to one host
--   max_pages          int     URLs handed out for the job at most (0: no limit)
--   lease_timeout      float   seconds a lease lasts before it is handed out again
--   shared_budget      bool    the shards share max_pages out (allowance) instead of counting dispatched
--   delay_factor       float   a host's delay is this times its last response time (0: off)
--   host_rules         bool    the job has a host policy file (its rules are looked up)
--   max_delay          float   seconds the adaptive delay is at most
--   elapsed            float   seconds the request took (0: unknown, the last one's time stays)
--   sent_for           float   seconds since the request went out (0: unknown)
-- Returns {1 when the token owned the URL else 0, the new leases as LEASE returns them,
-- 1 when the host was paused else 0}.

local lease_data = owned(A.url, A.token)
if not lease_data then
  return {0, {}, 0}
end
end_request(A.url, lease_data, A.elapsed)
local at = NOW + A.seconds
lease_data.t = redis.call('HINCRBY', STATS, STAT_TOKENS, 1)
lease_data.a = A.attempt
redis.call('HSET', LEASE, A.url, cjson.encode(lease_data))
redis.call('ZADD', LEASES, at + A.lease_timeout, A.url)
redis.call('ZADD', RETRIES .. A.host, at, A.url)
redis.call('HINCRBY', STATS, STAT_RETRIES_WAITING, 1)
local paused = host_failed(A.host, A.url, A.pause, A.reason, A.host_level)
schedule(A.host)
return {1, lease(A.limit), paused}
