-- REQUEUE_EXCEPT: after a restart in which no worker of the earlier run can be alive,
-- every lease of the job that no chain still waiting in the broker carries died with
-- its worker: its URL goes back to its host's queue now instead of at its deadline.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version        STRING  the job's policy version, checked against ARGV[1].version
--   leases         ZSET    URL -> lease deadline: read whole; the uncarried ones removed
--   lease          HASH    URL -> {t, h, d, s}: read (token), the uncarried ones removed
--   ql:DEPTH:HOST  LIST    the host's new URLs at DEPTH (the URL put back at the front)
--   qd:HOST        ZSET    the depths at which the host has new URLs waiting
--   q:HOST         ZSET    URL -> depth, as a job begun before the lists has it; taken first
--   stats          HASH    counters: queued, dispatched, requeued
--   slots          HASH    host -> requests in flight (-1 for a lease that held one)
--   due            ZSET    host -> planned start, for hosts with URLs waiting and a free slot
--   planned        HASH    host -> planned start of its next request (read)
--   rq:HOST        ZSET    the host's revisits waiting -> depth; taken before its new URLs
--   rt:HOST        ZSET    the host's leased URLs waiting for their retry -> its time (one requeued removed)
--   allowance      STRING  new URLs the shard may hand out of a shared max_pages (+1 per page requeued)
--   hostrules      HASH    pattern -> {delay, conc} of the job's host policy file (read)
-- ARGV[1], a JSON object:
--   version        int     policy version the caller holds (0: do not check)
--   keep           list    {member, token} pairs that a chain in the broker still carries
--   conc           int     requests in flight per host at most
--   shared_budget  bool    the shards share max_pages out (allowance) instead of counting dispatched
--   host_rules     bool    the job has a host policy file (its rules are looked up)
-- Returns how many leases went back to the queues.

local keep = {}
for _, pair in ipairs(A.keep) do keep[pair[1]] = pair[2] end
local requeued = 0
for _, url in ipairs(redis.call('ZRANGE', LEASES, 0, -1)) do
  local raw = redis.call('HGET', LEASE, url)
  local lease_data = raw and cjson.decode(raw)
  if not lease_data then
    redis.call('ZREM', LEASES, url)
  elseif keep[url] ~= lease_data.t then
    unlease(url, lease_data, STAT_REQUEUED)
    requeued = requeued + 1
  end
end
return requeued
