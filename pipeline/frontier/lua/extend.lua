-- EXTEND: push a live lease's deadline out again (before a retry, a wait, or the
-- store step); a stale token extends nothing.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version   STRING  the job's policy version, checked against ARGV[1].version
--   lease     HASH    URL -> {t: token, ...} (read: does the token still own the URL)
--   leases    ZSET    URL -> lease deadline (renewed)
-- ARGV[1], a JSON object:
--   version        int     policy version the caller holds (0: do not check)
--   url            string  the leased member
--   token          int     the lease's token
--   lease_timeout  float   seconds the renewed lease lasts
-- Returns 1 when renewed, 0 when the token no longer owns the URL.

if owned(A.url, A.token) then
  redis.call('ZADD', LEASES, NOW + A.lease_timeout, A.url)
  return 1
end
return 0
