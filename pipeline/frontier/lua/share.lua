-- SHARE: the dispatcher's share of a job's max_pages for one shard, when a job of
-- several shards has a max_pages (pipeline/frontier/budget.py): the shard's allowance
-- (new URLs it may hand out) is brought up toward ARGV[1].target, from at most
-- ARGV[1].offer more, while it has new URLs waiting. Once the budget runs short
-- (ARGV[1].strict) it is brought toward its new URLs waiting instead, and an allowance
-- above them goes back at once, so that no shard holds what another could spend. A
-- shard with no new URLs waiting hands its allowance back. A finished shard given an
-- allowance runs again.
--
-- KEYS[1]  the shard's key prefix, crawler:{JOB}: or crawler:{JOB#SHARD}: ; each key
--          below is KEYS[1] .. suffix
-- Keys:
--   version    STRING  the job's policy version, checked against ARGV[1].version
--   allowance  STRING  new URLs the shard may hand out (changed)
--   stats      HASH    counters: queued (read), restarts, finished_at
--   state      STRING  finished -> running when given an allowance
-- ARGV[1], a JSON object:
--   version  int   policy version the caller holds (0: do not check)
--   target   int   allowance a shard is brought up to at most
--   offer    int   allowance the caller may give at most
--   strict   bool  no more than the shard's new URLs waiting
-- Returns the change of the allowance: given (> 0) or handed back (< 0).

local allowance, queued = num(redis.call('GET', ALLOWANCE)), stat(STAT_QUEUED)
local wanted = A.target
if A.strict or queued == 0 then wanted = math.min(queued, A.target) end
local change = wanted - allowance
if change > 0 then
  change = math.min(change, A.offer)
elseif not A.strict and queued > 0 then
  change = 0
end
if change ~= 0 then redis.call('INCRBY', ALLOWANCE, change) end
if change > 0 and redis.call('GET', STATE) == STATE_FINISHED then restart() end
return change
