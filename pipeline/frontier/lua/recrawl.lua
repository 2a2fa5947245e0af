-- RECRAWL: a new pass over the job's stored URLs, which the store has just made due:
-- the job does not finish before the store has fed them all in (REVISIT), and a
-- finished or cancelled job runs again.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version  STRING  the job's policy version, checked against ARGV[1].version
--   feed     STRING  the number of the recrawl pass being fed (+1, or set to ARGV[1].pass)
--   state    STRING  finished or cancelled -> running
--   stats    HASH    counters: finished_at (removed), restarts
-- ARGV[1], a JSON object:
--   version  int  policy version the caller holds (0: do not check)
--   pass     int  the pass's number, when shard 0 began it for the job's other shards (absent: +1)
-- Returns the number of the pass.

local pass = A.pass or redis.call('INCR', FEED)
if A.pass then redis.call('SET', FEED, A.pass) end
local state = redis.call('GET', STATE)
if state == STATE_FINISHED or state == STATE_CANCELLED then restart() end
return pass
