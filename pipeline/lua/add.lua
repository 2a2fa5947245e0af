-- ADD: schedule the URLs a page, a sitemap, robots.txt or a seeding listed that were
-- never seen; a finished job that gets new URLs (and has budget left) runs again.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version       STRING  the job's policy version, checked against ARGV[1].version
--   seen          SET     fingerprints of every URL scheduled: a URL is scheduled once
--   hostcount     HASH    host -> URLs scheduled for it, checked against host_budget
--   hostsitemaps  HASH    host -> sitemaps scheduled for it, checked against sitemap_budget
--   q:HOST        ZSET    the host's waiting URLs -> depth; a shorter path lowers it
--   slots         HASH    host -> requests in flight (read: is the host due)
--   planned       HASH    host -> planned start of its next request (read)
--   due           ZSET    host -> planned start, for hosts with URLs waiting and a free slot
--   stats         HASH    counters: queued (+1 per URL), dispatched (read), finished_at
--   state         STRING  finished -> running when URLs were added; running -> finished
--   leases        ZSET    URL -> lease deadline (read: is anything still in flight)
-- ARGV[1], a JSON object:
--   version         int     policy version the caller holds (0: do not check)
--   links           array   {member, host, depth, is_sitemap} per URL, in ARGV[2..] order
--   host_budget     int     pages scheduled per host at most (0: no limit)
--   sitemap_budget  int     sitemaps scheduled per host at most (0: no limit)
--   conc            int     requests in flight per host at most
--   max_pages       int     URLs handed out for the job at most (0: no limit)
-- ARGV[2..]: the 8-byte fingerprint of each entry of links.
-- Returns the number of URLs scheduled.

local added = add_links(2)
if redis.call('GET', STATE) == 'finished' and stat('queued') > 0 and not spent() then
  redis.call('SET', STATE, 'running')
  redis.call('HDEL', STATS, 'finished_at')
end
finish_if_done()
return added
