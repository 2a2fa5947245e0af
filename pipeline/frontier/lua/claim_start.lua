-- CLAIM_START: may the request of a leased URL start now? A stale chain (its lease
-- expired and went to another worker, or was completed) must not send the request; a
-- live one renews its lease, whether it starts now or waits.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version   STRING  the job's policy version, checked against ARGV[1].version
--   lease     HASH    URL -> {t: token, ...} (read: does the token still own the URL)
--   leases    ZSET    URL -> lease deadline (renewed)
--   started   HASH    host -> when its last request started (set when this one may start)
--   delay     HASH    host -> robots.txt Crawl-delay (read)
--   hostrules HASH    pattern -> {delay, conc} of the job's host policy file (read)
--   rtime     HASH    host -> seconds its last request took (read: the adaptive delay)
-- ARGV[1], a JSON object:
--   version        int     policy version the caller holds (0: do not check)
--   url            string  the leased member (a sitemap's is sitemap:URL)
--   token          int     the lease's token
--   host           string  the URL's host
--   delay          float   seconds between request starts to one host
--   lease_timeout  float   seconds the renewed lease lasts
--   delay_factor   float   a host's delay is this times its last response time (0: off)
--   host_rules     bool    the job has a host policy file (its rules are looked up)
--   max_delay      float   seconds the adaptive delay is at most
--   sent_for       float   0, or a report instead of a claim: this chain's last request
--                          to the host (its robots.txt) went out this many seconds ago;
--                          the host's turn counts from then when that is later than its
--                          claim, and nothing is claimed
-- Returns '0' when the request may start (its start is recorded), else the seconds to
-- wait, as a string; '-1' when the token no longer owns the URL. A report returns the
-- seconds until the next request may start ('0': now, to be claimed).

if not owned(A.url, A.token) then return '-1' end
redis.call('ZADD', LEASES, NOW + A.lease_timeout, A.url)
local gap = delay_of(A.host)
local last = tonumber(redis.call('HGET', STARTED, A.host))
if num(A.sent_for) > 0 then
  if not last or NOW - A.sent_for > last then
    last = NOW - A.sent_for
    redis.call('HSET', STARTED, A.host, tostring(last))
  end
  return tostring(math.max(0, last + gap - NOW))
end
if last and NOW < last + gap then
  return tostring(last + gap - NOW)
end
redis.call('HSET', STARTED, A.host, tostring(NOW))
return '0'
