-- dedup: whether a URL was scheduled before, in the seen sets or the Bloom filter.
-- Defines: bloom_bit, was_seen, first_sight

-- A URL's i-th bit in the job's Bloom filter (i from 0).
local function bloom_bit(link, i)
  return (link[4] + i * link[5]) % A.bloom_bits
end

-- Whether a URL was scheduled before: in its seen set (or in the single set of a job
-- begun before the sets were bucketed, when there is one), or, with dedup=bloom, when
-- every one of its bits is set in the job's filter.
local function was_seen(link, fingerprint, legacy)
  if A.bloom_bits > 0 then
    -- A new URL has half its bits clear at capacity: most answers come after a bit or two.
    for i = 0, A.bloom_hashes - 1 do
      if redis.call('GETBIT', BLOOM, bloom_bit(link, i)) == 0 then return false end
    end
    return true
  end
  return redis.call('SISMEMBER', SEEN .. link[4], link[5]) == 1
    or (legacy and redis.call('SISMEMBER', LEGACY_SEEN, fingerprint) == 1)
end

-- Whether the URL is new, marking it seen: one call answers and marks at once (SADD to
-- its seen set; BITFIELD setting its bits in the filter, each old bit returned).
local function first_sight(link, fingerprint, legacy)
  if A.bloom_bits > 0 then
    local args = {}
    for i = 0, A.bloom_hashes - 1 do
      args[#args + 1] = 'SET'
      args[#args + 1] = 'u1'
      args[#args + 1] = bloom_bit(link, i)
      args[#args + 1] = 1
    end
    for _, bit in ipairs(redis.call('BITFIELD', BLOOM, unpack(args))) do
      if bit == 0 then return true end
    end
    return false
  end
  if legacy and redis.call('SISMEMBER', LEGACY_SEEN, fingerprint) == 1 then return false end
  return redis.call('SADD', SEEN .. link[4], link[5]) == 1
end
