-- REVISIT: stored URLs that are due again, fed in from the store a batch at a time:
-- each waits in its host's revisit queue with its last fetch, unless it is already
-- waiting or leased. (A stored URL is not among the new URLs waiting, but in one case:
-- its lease expired while its chain went on to store it. Both fetches then store it.)
-- They are no new URLs: `seen` and the budgets do not change. When
-- the store has no more due URLs of the recrawl pass the caller read, the pass is over.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version       STRING  the job's policy version, checked against ARGV[1].version
--   lease         HASH    URL -> {t, h, d, s, r} (read: a leased URL is not queued again)
--   rq:HOST       ZSET    the host's revisits waiting -> depth (added)
--   rt:HOST       ZSET    the host's leased URLs waiting for their retry -> its time (read: is the host due)
--   qd:HOST       ZSET    the depths at which the host has new URLs waiting (read: is the host due)
--   q:HOST        ZSET    URL -> depth, as a job begun before the lists has it (read)
--   prior         HASH    URL -> JSON of its last fetch (set)
--   stats         HASH    counters: revisits_waiting (+1 per URL), queued, dispatched (read),
--                         finished_at
--   slots         HASH    host -> requests in flight (read: is the host due)
--   planned       HASH    host -> planned start of its next request (read)
--   due           ZSET    host -> planned start, for hosts with URLs waiting and a free slot
--   feed          STRING  the recrawl pass being fed: deleted when `done` and still `feed`
--   state         STRING  finished -> running with `reopen`; running -> finished when nothing is left
--   leases        ZSET    URL -> lease deadline (read: is anything still in flight)
--   allowance     STRING  new URLs the shard may hand out of a shared max_pages (read)
--   budget-spent  STRING  set when no more of a shared max_pages will come (read)
--   hostrules     HASH    pattern -> {delay, conc} of the job's host policy file (read)
-- ARGV[1], a JSON object:
--   version        int     policy version the caller holds (0: do not check)
--   revisits       array   {member, host, depth, prior JSON} per URL
--   done           bool    the store has no more due URLs
--   feed           string  the pass the caller read from `feed` before it asked the store
--   reopen         bool    a finished job runs again for these (seeds whose failure a new
--                          policy lifts); none is queued when max_pages is spent
--   conc           int     requests in flight per host at most
--   max_pages      int     URLs handed out for the job at most (0: no limit)
--   continuous     bool    the job revisits for ever (it never finishes)
--   shared_budget  bool    the shards share max_pages out (allowance) instead of counting dispatched
--   host_rules     bool    the job has a host policy file (its rules are looked up)
-- Returns the number of URLs queued.

if A.reopen and redis.call('GET', STATE) == STATE_FINISHED then
  if spent() then return 0 end
  restart()
end
local touched, added = {}, 0
for _, item in ipairs(A.revisits) do
  local url, host, depth, prior = item[1], item[2], item[3], item[4]
  if not redis.call('ZSCORE', REVISITS .. host, url) and redis.call('HEXISTS', LEASE, url) == 0 then
    redis.call('ZADD', REVISITS .. host, depth, url)
    redis.call('HSET', PRIOR, url, prior)
    redis.call('HINCRBY', STATS, STAT_REVISITS_WAITING, 1)
    touched[host] = true
    added = added + 1
  end
end
for host in pairs(touched) do schedule(host) end
if A.done and redis.call('GET', FEED) == A.feed then redis.call('DEL', FEED) end
finish_if_done()
return added
