-- TICK: the dispatcher's heartbeat: leases that expired (their worker died or was cut
-- off) go back to their host's queue at their depth, then what is due is handed out.
-- A URL whose lease expired once more after max_requeues requeues is not requeued: it
-- is handed back to the caller, which stores it as failed and completes it.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version        STRING  the job's policy version, checked against ARGV[1].version
--   leases         ZSET    URL -> lease deadline: expired ones removed; new leases added
--   lease          HASH    URL -> {t, h, d, s}: expired ones removed; new leases added
--   requeues       HASH    URL -> times it was requeued (+1 per requeue)
--   ql:DEPTH:HOST  LIST    the host's new URLs at DEPTH (the URL put back at the front)
--   qd:HOST        ZSET    the depths at which the host has new URLs waiting
--   q:HOST         ZSET    URL -> depth, as a job begun before the lists has it; taken first
--   stats          HASH    counters: queued, dispatched, requeued, tokens, finished_at
--   slots          HASH    host -> requests in flight (-1 per expired lease that held one)
--   due            ZSET    host -> planned start, for hosts with URLs waiting and a free slot
--   planned        HASH    host -> planned start of its next request
--   delay          HASH    host -> robots.txt Crawl-delay (read)
--   state          STRING  only a running job hands URLs out; running -> finished
--   feed           STRING  a recrawl pass still being fed from the store (read: not finished)
--   parked         SET     hosts with only new URLs waiting while max_pages is spent
--   prior          HASH    URL -> JSON of its last fetch, handed out with its revisit lease
--   rq:HOST        ZSET    the host's revisits waiting -> depth; taken before its new URLs
--   rt:HOST        ZSET    the host's leased URLs waiting for their retry -> its time (an expired one removed)
--   allowance      STRING  new URLs the shard may hand out of a shared max_pages (-1 per new URL, +1 per URL requeued)
--   budget-spent   STRING  set when no more of a shared max_pages will come (read)
--   hostrules      HASH    pattern -> {delay, conc} of the job's host policy file (read)
--   rtime          HASH    host -> seconds its last request took (read: the adaptive delay)
-- ARGV[1], a JSON object:
--   version        int     policy version the caller holds (0: do not check)
--   expire_all     bool    treat every lease as expired (no worker of the job is alive)
--   expire_limit   int     expired leases handled at most in one call
--   max_requeues   int     times a URL is requeued; at its next expiry it is handed back
--   limit          int     URLs to hand out at most
--   window         int     URLs of the job leased at once at most
--   lookahead      float   seconds before its host's turn that a URL may be handed out
--   conc           int     requests in flight per host at most
--   delay          float   seconds between request starts to one host
--   max_pages      int     URLs handed out for the job at most (0: no limit)
--   lease_timeout  float   seconds a lease lasts before it is handed out again
--   continuous     bool    the job revisits for ever (it never finishes)
--   shared_budget  bool    the shards share max_pages out (allowance) instead of counting dispatched
--   delay_factor   float   a host's delay is this times its last response time (0: off)
--   host_rules     bool    the job has a host policy file (its rules are looked up)
--   max_delay      float   seconds the adaptive delay is at most
-- Returns {expired, leases, lost}: how many leases expired, new leases as LEASE returns
-- them, and the URLs handed back, each as a lease row followed by the times it was lost.

-- Its workers kept dying on it: the URL goes to the caller under a new token, holding
-- no host slot, to be stored as failed and completed. Its deadline is now, so that
-- until it is completed every tick hands it back again (the caller may die too).
local function hand_back(url, lease_data, times)
  unretry(url, lease_data)
  local token = redis.call('HINCRBY', STATS, STAT_TOKENS, 1)
  redis.call('ZADD', LEASES, NOW, url)
  redis.call('HSET', LEASE, url, cjson.encode({t = token, h = lease_data.h, d = lease_data.d, s = 0, r = lease_data.r}))
  return {url, lease_data.d, lease_data.h, token, '0', times}
end

local expire_before = A.expire_all and '+inf' or NOW
local expired = redis.call('ZRANGEBYSCORE', LEASES, '-inf', expire_before, 'LIMIT', 0, A.expire_limit)
local lost = {}
for _, url in ipairs(expired) do
  local raw = redis.call('HGET', LEASE, url)
  if raw then
    local lease_data = cjson.decode(raw)
    local requeues = num(redis.call('HGET', REQUEUES, url))
    if requeues >= A.max_requeues then
      lost[#lost + 1] = hand_back(url, lease_data, requeues + 1)
      if lease_data.s == 1 then release_slot(lease_data.h) else schedule(lease_data.h) end
    else
      redis.call('HINCRBY', REQUEUES, url, 1)
      unlease(url, lease_data, STAT_REQUEUED)
    end
  else
    redis.call('ZREM', LEASES, url)
  end
end
local leased = lease(A.limit)
finish_if_done()
return {#expired, leased, lost}
