-- RECRAWL: a new pass over the job's stored URLs, which the store has just made due:
-- the job does not finish before the store has fed them all in (REVISIT), and a
-- finished or cancelled job runs again.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version  STRING  the job's policy version, checked against ARGV[1].version
--   feed     STRING  the number of the recrawl pass being fed (+1)
--   state    STRING  finished or cancelled -> running
--   stats    HASH    counters: finished_at (removed)
-- ARGV[1], a JSON object:
--   version  int  policy version the caller holds (0: do not check)
-- Returns the number of the pass.

local pass = redis.call('INCR', FEED)
local state = redis.call('GET', STATE)
if state == 'finished' or state == 'cancelled' then
  redis.call('SET', STATE, 'running')
  redis.call('HDEL', STATS, 'finished_at')
end
return pass
