-- state: a job (or shard) that runs again, and one that is done.
-- Defines: restart, finish_if_done

-- A finished job (or shard) given new work runs again; `restarts` lets a reader of
-- several shards tell that one ran again between two of its reads.
local function restart()
  redis.call('SET', STATE, STATE_RUNNING)
  redis.call('HDEL', STATS, STAT_FINISHED_AT)
  redis.call('HINCRBY', STATS, STAT_RESTARTS, 1)
end

-- A job that revisits continuously, or whose recrawl is still being fed from the store
-- or has revisits waiting, is not done.
local function finish_if_done()
  if redis.call('GET', STATE) ~= STATE_RUNNING or redis.call('ZCARD', LEASES) > 0 then return end
  if A.continuous or stat(STAT_REVISITS_WAITING) > 0 or redis.call('EXISTS', FEED) == 1 then return end
  if stat(STAT_QUEUED) == 0 or spent() then
    redis.call('SET', STATE, STATE_FINISHED)
    redis.call('HSET', STATS, STAT_FINISHED_AT, tostring(NOW))
  end
end
