-- SEEN: which of the URLs of ARGV[1].links the job scheduled before (read only: nothing
-- is scheduled or marked). With dedup=bloom, a URL it never scheduled may answer 1: the
-- filter's false positive.
--
-- KEYS[1]  the job's key prefix, crawler:{JOB}: ; each key below is KEYS[1] .. suffix
-- Keys:
--   version      STRING  the job's policy version, checked against ARGV[1].version
--   seen:BUCKET  SET     every URL scheduled, as in ADD (read)
--   seen         SET     a job's 8-byte fingerprints from before the buckets (read)
--   bloom        STRING  the Bloom filter instead of the seen sets, with dedup=bloom (read)
-- ARGV[1], a JSON object:
--   version       int    policy version the caller holds (0: do not check)
--   links         array  {member, host, is_sitemap, seen bucket or h1, seen entry or h2}
--                        per URL, in ARGV[2..] order
--   bloom_bits    int    bits of the job's Bloom filter (0: the exact seen sets)
--   bloom_hashes  int    bits of the filter a URL sets
-- ARGV[2..]: the 8-byte fingerprint of each entry of links.
-- Returns 1 or 0 per URL.

local legacy = #A.links > 0 and A.bloom_bits == 0 and redis.call('EXISTS', LEGACY_SEEN) == 1
local answers = {}
for i, link in ipairs(A.links) do
  answers[i] = was_seen(link, ARGV[i + 1], legacy) and 1 or 0
end
return answers
