-- HAND_BACK: leases whose chains a worker dropped before running them (a worker that
-- loses its broker connection forgets the tasks it held) go back to their hosts'
-- queues at once, rather than waiting out their deadlines. A lease whose token no
-- longer owns its URL (done, or handed out again) is left alone.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version        STRING  the job's policy version, checked against ARGV[1].version
--   lease          HASH    URL -> {t, h, d, s}: read (token), removed
--   leases         ZSET    URL -> lease deadline: removed
--   ql:DEPTH:HOST  LIST    the host's new URLs at DEPTH (the URL put back at the front)
--   qd:HOST        ZSET    the depths at which the host has new URLs waiting
--   q:HOST         ZSET    URL -> depth, as a job begun before the lists has it; taken first
--   stats          HASH    counters: queued, dispatched, handed_back
--   slots          HASH    host -> requests in flight (-1 for a lease that held one)
--   due            ZSET    host -> planned start, for hosts with URLs waiting and a free slot
--   planned        HASH    host -> planned start of its next request (read)
--   rq:HOST        ZSET    the host's revisits waiting -> depth; taken before its new URLs
--   rt:HOST        ZSET    the host's leased URLs waiting for their retry -> its time (one handed back removed)
--   allowance      STRING  new URLs the shard may hand out of a shared max_pages (+1 per page requeued)
--   hostrules      HASH    pattern -> {delay, conc} of the job's host policy file (read)
-- ARGV[1], a JSON object:
--   version        int     policy version the caller holds (0: do not check)
--   leases         list    {member, token} pairs of the dropped chains
--   conc           int     requests in flight per host at most
--   shared_budget  bool    the shards share max_pages out (allowance) instead of counting dispatched
--   host_rules     bool    the job has a host policy file (its rules are looked up)
-- Returns how many leases went back (the others were no longer the chains').

local handed = 0
for _, item in ipairs(A.leases) do
  local lease_data = owned(item[1], item[2])
  if lease_data then
    unlease(item[1], lease_data, STAT_HANDED_BACK)
    handed = handed + 1
  end
end
return handed
