-- RELEASE_HOST: the request of a leased URL is over: free its host's slot (once per
-- lease), record how long it took (the adaptive delay's base), plan the host's next
-- start a delay after this one's, renew the lease for the parse and store steps, and
-- hand out what is now due. A request that did not fail (`ok`) ends the host's run of
-- failures. The lease itself stays until COMPLETE. A stale token frees, renews and
-- hands out nothing.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version        STRING  the job's policy version, checked against ARGV[1].version
--   lease          HASH    URL -> {t, h, d, s}: s (slot held) goes to 0; new leases added
--   started        HASH    host -> when its last request started (moved to when it went out, if later)
--   planned        HASH    host -> planned start of its next request
--   delay          HASH    host -> robots.txt Crawl-delay (read)
--   slots          HASH    host -> requests in flight (-1, +1 per new lease)
--   due            ZSET    host -> planned start, for hosts with URLs waiting and a free slot
--   ql:DEPTH:HOST  LIST    the host's new URLs at DEPTH
--   qd:HOST        ZSET    the depths at which the host has new URLs waiting
--   q:HOST         ZSET    URL -> depth, as a job begun before the lists has it; taken first
--   state          STRING  only a running job hands URLs out
--   leases         ZSET    URL -> lease deadline (renewed; new leases added)
--   stats          HASH    counters: tokens, dispatched, queued
--   parked         SET     hosts with only new URLs waiting while max_pages is spent
--   prior          HASH    URL -> JSON of its last fetch, handed out with its revisit lease
--   rq:HOST        ZSET    the host's revisits waiting -> depth; taken before its new URLs
--   rt:HOST        ZSET    the host's leased URLs waiting for their retry -> its time; one whose time came goes first
--   allowance      STRING  new URLs the shard may hand out of a shared max_pages (-1 per new page)
--   failing:HOST   SET     the host's URLs that failed since its last success (removed when `ok`)
--   hostrules      HASH    pattern -> {delay, conc} of the job's host policy file (read)
--   rtime          HASH    host -> seconds its last request took (set from elapsed when delay_factor is on)
-- ARGV[1], a JSON object:
--   version        int     policy version the caller holds (0: do not check)
--   url            string  the leased member
--   token          int     the lease's token; a stale one frees nothing
--   ok             bool    the host answered: its run of failing URLs is over
--   limit          int     URLs to hand out at most
--   window         int     URLs of the job leased at once at most
--   lookahead      float   seconds before its host's turn that a URL may be handed out
--   conc           int     requests in flight per host at most
--   delay          float   seconds between request starts to one host
--   max_pages      int     URLs handed out for the job at most (0: no limit)
--   lease_timeout  float   seconds a lease lasts before it is handed out again
--   shared_budget  bool    the shards share max_pages out (allowance) instead of counting dispatched
--   delay_factor   float   a host's delay is this times its last response time (0: off)
--   host_rules     bool    the job has a host policy file (its rules are looked up)
--   max_delay      float   seconds the adaptive delay is at most
--   elapsed        float   seconds the request took (0: unknown, the last one's time stays)
--   sent_for       float   seconds since the request went out (0: unknown)
-- Returns {1 when the token owns the URL else 0, the new leases as LEASE returns them}.

local lease_data = owned(A.url, A.token)
if not lease_data then
  return {0, {}}
end
end_request(A.url, lease_data, A.elapsed)
if A.ok then redis.call('DEL', FAILING .. lease_data.h) end
redis.call('ZADD', LEASES, NOW + A.lease_timeout, A.url)
return {1, lease(A.limit)}
