-- ADD: schedule the URLs a page, a sitemap, robots.txt or a seeding listed that were
-- never seen; a finished job that gets new URLs (and has budget left) runs again.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version               STRING  the job's policy version, checked against ARGV[1].version
--   seen:BUCKET           SET     every URL scheduled, as its fingerprint's low 48 bits (an
--                                 integer) in the set of its high 16: a URL is scheduled once
--   seen                  SET     a job's 8-byte fingerprints from before the buckets (read)
--   bloom                 STRING  the Bloom filter instead of the seen sets, with dedup=bloom
--   hostcount             HASH    host -> URLs scheduled for it, checked against host_budget
--   hostsitemaps          HASH    host -> sitemaps scheduled for it, checked against sitemap_budget
--   dropped-depth         HLL     unseen links past max_depth (added)
--   dropped-pages:HOST    HLL     the host's URLs kept out by host_budget (added)
--   dropped-sitemaps:HOST HLL     the host's sitemaps kept out by sitemap_budget (added)
--   over-pages            ZSET    host -> URLs its page budget kept out (its HLL's count)
--   over-sitemaps         ZSET    host -> sitemaps its sitemap budget kept out
--   ql:DEPTH:HOST         LIST    the host's new URLs at DEPTH, in the order found (pushed)
--   qd:HOST               ZSET    the depths at which the host has new URLs waiting
--   lease                 HASH    URL -> {t, h, d, s}: a shorter path lowers a leased URL's d
--   slots                 HASH    host -> requests in flight (read: is the host due)
--   planned               HASH    host -> planned start of its next request (read)
--   due                   ZSET    host -> planned start, for hosts with URLs waiting and a free slot
--   stats                 HASH    counters: queued and seen (+1 per URL), dropped_pages, dropped_sitemaps,
--                                 dispatched (read), finished_at
--   state                 STRING  finished -> running when URLs were added; running -> finished
--   leases                ZSET    URL -> lease deadline (read: is anything still in flight)
--   feed                  STRING  a recrawl pass still being fed from the store (read: not finished)
-- ARGV[1], a JSON object:
--   version         int     policy version the caller holds (0: do not check)
--   links           array   {member, host, is_sitemap, seen bucket or h1, seen entry or h2}
--                           per URL, in ARGV[2..] order
--   depth           int     depth of what listed them (-1 for seeds, which are depth 0)
--   max_depth       int     pages deeper than this are kept out (and counted)
--   host_budget     int     pages scheduled per host at most (0: no limit)
--   sitemap_budget  int     sitemaps scheduled per host at most (0: no limit)
--   conc            int     requests in flight per host at most
--   max_pages       int     URLs handed out for the job at most (0: no limit)
--   bloom_bits      int     bits of the job's Bloom filter (0: the exact seen sets)
--   bloom_hashes    int     bits of the filter a URL sets
--   continuous      bool    the job revisits for ever (it never finishes)
-- ARGV[2..]: the 8-byte fingerprint of each entry of links.
-- Returns the number of URLs scheduled.

local added = add_links(A.depth)
if redis.call('GET', STATE) == 'finished' and stat('queued') > 0 and not spent() then
  redis.call('SET', STATE, 'running')
  redis.call('HDEL', STATS, 'finished_at')
end
finish_if_done()
return added
