-- BLOCK: links a page listed that their host's known robots.txt disallows, settled
-- where they were found: each never-seen one is marked seen (so it is settled once and
-- never scheduled) and counted, per host and as a record stored with an error (the
-- caller wrote its record before). No lease, no slot, no turn of the host; neither the
-- host's page budget nor max_pages is spent on it, as no request is ever made for it.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version        STRING  the job's policy version, checked against ARGV[1].version
--   seen:BUCKET    SET     every URL scheduled or settled, as in ADD
--   seen           SET     a job's 8-byte fingerprints from before the buckets (read)
--   bloom          STRING  the Bloom filter instead of the seen sets, with dedup=bloom
--   blocked-hosts  ZSET    host -> links its robots.txt disallowed (+1 per URL settled)
--   stats          HASH    counters: blocked, stored, errors (+1 per URL settled)
-- ARGV[1], a JSON object:
--   version       int    policy version the caller holds (0: do not check)
--   links         array  {member, host, is_sitemap, seen bucket or h1, seen entry or h2}
--                        per URL, in ARGV[2..] order
--   bloom_bits    int    bits of the job's Bloom filter (0: the exact seen sets)
--   bloom_hashes  int    bits of the filter a URL sets
-- ARGV[2..]: the 8-byte fingerprint of each entry of links.
-- Returns the number of URLs settled now (one seen before is left as it is).

local legacy = #A.links > 0 and A.bloom_bits == 0 and redis.call('EXISTS', LEGACY_SEEN) == 1
local settled = 0
for i, link in ipairs(A.links) do
  if first_sight(link, ARGV[i + 1], legacy) then
    redis.call('ZINCRBY', BLOCKED_HOSTS, 1, link[2])
    settled = settled + 1
  end
end
if settled > 0 then
  redis.call('HINCRBY', STATS, STAT_BLOCKED, settled)
  redis.call('HINCRBY', STATS, STAT_STORED, settled)
  redis.call('HINCRBY', STATS, STAT_ERRORS, settled)
end
return settled
