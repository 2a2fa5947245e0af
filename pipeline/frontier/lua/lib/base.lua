-- base: what every script starts with, put before each one when it is loaded, after
-- one `local NAME = KEYS[1] .. 'suffix'` line per key of pipeline/keys.py's LUA_NAMES
-- and one `local STATE_RUNNING = 'running'` line per name of pipeline/frontier/names.py
-- the scripts share (lua.CONSTANTS: STATE_*, STAT_*, STALE_POLICY, SITEMAP_PREFIX).
-- Defines: A, stored_version, clock, NOW, num, stat
--
-- Every script gets KEYS[1] = the key prefix of one shard of the job, crawler:{JOB}: or
-- crawler:{JOB#SHARD}: (the hash tag is the shard's Redis Cluster slot, so each script
-- declares the one slot it works in; its keys are found from it), ARGV[1]
-- = a JSON object of parameters, and, for the scripts that schedule URLs, the URLs'
-- 8-byte fingerprints from ARGV[2] on, one per entry of ARGV[1].links (then, for
-- COMPLETE, one per entry of ARGV[1].blocked).
--
-- Each script's own header lists every key and parameter it touches, those of the
-- library helpers it calls included. A call made with a policy version other than
-- the job's is refused with STALE_POLICY: the caller reads the policy again and repeats.

local A = cjson.decode(ARGV[1])
local stored_version = tonumber(redis.call('GET', VERSION))
if (tonumber(A.version) or 0) ~= 0 and stored_version and tonumber(A.version) ~= stored_version then
  return redis.error_reply(STALE_POLICY .. ' the job was seeded again with another policy')
end

local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local NOW = clock()

local function num(value) return tonumber(value) or 0 end

local function stat(name) return num(redis.call('HGET', STATS, name)) end
