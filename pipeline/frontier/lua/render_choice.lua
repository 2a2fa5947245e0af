-- RENDER_CHOICE: under render=auto, what becomes of a fetched page of a host: one of
-- the host's samples (reserved here, so workers racing cannot take more than the
-- sample size), its verdict, or 'pending' while the host has its samples reserved but
-- not yet in and no verdict to go by. A reservation not turned into a sample within
-- its hold (its worker died, its render failed) is given back. After `every` pages
-- under a verdict, the host is sampled again (the verdict holds meanwhile). A caller
-- that went by a verdict it kept for a few pages counts them all in one call (`pages`).
--
-- KEYS[1]  the job's key prefix of shard 0, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version       STRING  the job's policy version, checked against ARGV[1].version
--   render-hosts  HASH    "HOST FIELD" -> value; this script reads and writes the fields
--                         taken (reservations), sampled, until (when reservations lapse),
--                         verdict, evidence, since (pages under the verdict) and every
--                         (pages between checks), and deletes the sample sums on a check
-- ARGV[1], a JSON object:
--   version   int     policy version the caller holds (0: do not check)
--   host      string  the page's host
--   sample    int     samples a verdict rests on
--   recheck   int     pages under a first verdict before the host is sampled again
--   hold      float   seconds a reservation holds before it is given back
--   pages     int     pages this call counts under the verdict, this one included
-- Returns {choice, evidence, left}: choice 'sample', 'pending', or a verdict ('render',
-- 'plain') with its evidence as JSON and the pages left under it before the next check.

local function field(name) return A.host .. ' ' .. name end

local got = redis.call('HMGET', RENDER_HOSTS, field('taken'), field('sampled'), field('until'), field('verdict'),
  field('evidence'), field('since'), field('every'))
local taken, sampled, hold_until = num(got[1]), num(got[2]), num(got[3])
local verdict, evidence, since = got[4], got[5], num(got[6])

local function reserve(from)
  redis.call('HSET', RENDER_HOSTS, field('taken'), from + 1, field('until'), NOW + A.hold)
  return {'sample', false, 0}
end

if taken > sampled and NOW > hold_until then taken = sampled end
if taken < A.sample then return reserve(taken) end
if not verdict then return {'pending', false, 0} end
local every = tonumber(got[7]) or A.recheck
since = since + A.pages
if since >= every then
  redis.call('HDEL', RENDER_HOSTS, field('sampled'), field('plain_links'), field('rendered_links'),
    field('plain_text'), field('rendered_text'))
  redis.call('HSET', RENDER_HOSTS, field('since'), 0)
  return reserve(0)
end
redis.call('HSET', RENDER_HOSTS, field('since'), since)
return {verdict, evidence, every - since}
