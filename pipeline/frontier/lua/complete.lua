-- COMPLETE: a URL's record is stored: release its lease (and the host slot it still
-- holds, pacing the host's next start as RELEASE_HOST does), count it, schedule what it
-- listed, settle the links it listed that robots.txt disallows (as BLOCK does), hand
-- out what is now due, and finish the job when nothing is left. A stale completion
-- (its lease expired and went to another worker) counts and schedules nothing of the
-- URL's own: the owner's completion will, and a finished job is not fed behind its
-- back. The disallowed links it lists are settled all the same: their records are
-- written, and settling is idempotent.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version               STRING  the job's policy version, checked against ARGV[1].version
--   lease                 HASH    URL -> {t, h, d, s}: removed (its links are one deeper than d,
--                                 which a shorter path may have lowered); new leases added, and a
--                                 shorter path lowers a leased link's d
--   leases                ZSET    URL -> lease deadline: removed; new leases added
--   requeues              HASH    URL -> times it was requeued: removed
--   slots                 HASH    host -> requests in flight (-1 if the lease still held one)
--   started               HASH    host -> when its last request started (moved to when it went
--                                 out, if later), when the lease still held its slot
--   rtime                 HASH    host -> seconds its last request took (set from elapsed when
--                                 delay_factor is on and the lease still held its slot; read:
--                                 the adaptive delay)
--   failing:HOST          SET     the host's URLs that failed since its last success (removed
--                                 when the lease still held its slot and `ok`)
--   stats                 HASH    counters: stored, errors, blocked, queued, seen, dropped_pages,
--                                 dropped_sitemaps, hosts, tokens, dispatched, finished_at
--   seen:BUCKET           SET     every URL scheduled, as its fingerprint's low 48 bits (an
--                                 integer) in the set of its high 16: a URL is scheduled once
--   seen                  SET     a job's 8-byte fingerprints from before the buckets (read)
--   bloom                 STRING  the Bloom filter instead of the seen sets, with dedup=bloom
--   hostcount             HASH    host -> URLs scheduled for it, checked against host_budget
--                                 (a host in it or in hostsitemaps is admitted under host_cap)
--   hostsitemaps          HASH    host -> sitemaps scheduled for it, checked against sitemap_budget
--   dropped-depth         HLL     unseen links past max_depth (added)
--   dropped-pages:HOST    HLL     the host's URLs kept out by host_budget (added)
--   dropped-sitemaps:HOST HLL     the host's sitemaps kept out by sitemap_budget (added)
--   over-pages            ZSET    host -> URLs its page budget kept out (its HLL's count)
--   over-sitemaps         ZSET    host -> sitemaps its sitemap budget kept out
--   dropped-hosts         HLL     URLs of new hosts kept out by host_cap (added)
--   refused-hosts         HLL     the new hosts kept out by host_cap (added)
--   ql:DEPTH:HOST         LIST    the host's new URLs at DEPTH
--   qd:HOST               ZSET    the depths at which the host has new URLs waiting
--   q:HOST                ZSET    URL -> depth, as a job begun before the lists has it; taken first
--   due                   ZSET    host -> planned start, for hosts with URLs waiting and a free slot
--   planned               HASH    host -> planned start of its next request
--   delay                 HASH    host -> robots.txt Crawl-delay (read)
--   state                 STRING  only a running job hands URLs out; running -> finished
--   feed                  STRING  a recrawl pass still being fed from the store (read: not finished)
--   parked                SET     hosts with only new URLs waiting while max_pages is spent
--   prior                 HASH    URL -> JSON of its last fetch, handed out with its revisit lease
--   rq:HOST               ZSET    the host's revisits waiting -> depth; taken before its new URLs
--   rt:HOST               ZSET    the host's leased URLs waiting for their retry -> its time; one whose time came goes first
--   allowance             STRING  new URLs the shard may hand out of a shared max_pages (-1 per new page)
--   budget-spent          STRING  set when no more of a shared max_pages will come (read)
--   hostrules             HASH    pattern -> {delay, conc} of the job's host policy file (read)
--   blocked-hosts         ZSET    host -> links its robots.txt disallowed (+1 per link settled)
-- ARGV[1], a JSON object:
--   version         int     policy version the caller holds (0: do not check)
--   url             string  the leased member
--   token           int     the lease's token
--   failed          bool    the record has an error (counted in errors)
--   disallowed      bool    the record is robots.txt's refusal, made without a request (counted in
--                           blocked and blocked-hosts, as a link settled where it was found is)
--   links           array   {member, host, is_sitemap, seen bucket or h1, seen entry or h2}
--                           per URL listed, in ARGV[2..] order
--   blocked         array   the same per link robots.txt disallows, whose record is stored;
--                           settled whether or not the token owns the URL (the records are)
--   max_depth       int     pages deeper than this are kept out (and counted)
--   host_budget     int     pages scheduled per host at most (0: no limit)
--   sitemap_budget  int     sitemaps scheduled per host at most (0: no limit)
--   host_cap        int     hosts the shard schedules URLs for at most (-1: no limit)
--   limit           int     URLs to hand out at most
--   window          int     URLs of the job leased at once at most
--   lookahead       float   seconds before its host's turn that a URL may be handed out
--   conc            int     requests in flight per host at most
--   delay           float   seconds between request starts to one host
--   max_pages       int     URLs handed out for the job at most (0: no limit)
--   bloom_bits      int     bits of the job's Bloom filter (0: the exact seen sets)
--   bloom_hashes    int     bits of the filter a URL sets
--   lease_timeout   float   seconds a lease lasts before it is handed out again
--   continuous      bool    the job revisits for ever (it never finishes)
--   shared_budget   bool    the shards share max_pages out (allowance) instead of counting dispatched
--   delay_factor    float   a host's delay is this times its last response time (0: off)
--   host_rules      bool    the job has a host policy file (its rules are looked up)
--   max_delay       float   seconds the adaptive delay is at most
--   elapsed         float   seconds the request took (0: unknown), for a lease that still holds
--                           its slot: the worker stored the page itself and frees the slot here,
--                           as RELEASE_HOST would have before the parse
--   sent_for        float   seconds since the request went out (0: unknown), for such a lease
--   ok              bool    the host answered: its run of failing URLs is over, for such a lease
-- ARGV[2..]: the 8-byte fingerprint of each entry of links, then of each of blocked.
-- Returns {counted, leases, depth}: counted is 1 when the token owned the URL, 0
-- otherwise; leases as LEASE returns them; the URL's depth as it was leased, or lower if
-- a shorter path was found meanwhile (-1 when not counted).

local counted, depth = 0, -1
local lease_data = owned(A.url, A.token)
if lease_data then
  depth = lease_data.d
  if lease_data.s == 1 then
    free_after_request(lease_data.h, num(A.elapsed), num(A.sent_for))
    if A.ok then redis.call('DEL', FAILING .. lease_data.h) end
  end
  redis.call('ZREM', LEASES, A.url)
  redis.call('HDEL', LEASE, A.url)
  redis.call('HDEL', REQUEUES, A.url)
  if lease_data.r == 1 then
    -- A revisit updated a record the job already counts.
    redis.call('HDEL', PRIOR, A.url)
    redis.call('HINCRBY', STATS, STAT_REVISITED, 1)
  else
    redis.call('HINCRBY', STATS, STAT_STORED, 1)
    if A.failed then redis.call('HINCRBY', STATS, STAT_ERRORS, 1) end
    if A.disallowed then
      -- Its robots.txt, known by the time its lease came, disallows it: no request was made.
      redis.call('HINCRBY', STATS, STAT_BLOCKED, 1)
      redis.call('ZINCRBY', BLOCKED_HOSTS, 1, lease_data.h)
    end
  end
  counted = 1
  add_links(lease_data.d)
end
settle_blocked(A.blocked or {}, #A.links + 1)
local leased = lease(A.limit)
finish_if_done()
return {counted, leased, depth}
