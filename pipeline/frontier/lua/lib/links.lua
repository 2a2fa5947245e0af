-- links: the URLs a page (or a seeding) listed, kept out by a limit or queued.
-- Defines: queue_batch, admitted, add_links, settle_blocked

-- The URLs one call queues, gathered per host and depth so that each host's lists,
-- counters and schedule are written once per call, not once per URL.
local function queue_batch(batch)
  local added = 0
  for host, per_host in pairs(batch) do
    if per_host.added > 0 then schedule_queued(host) end
    for depth, entries in pairs(per_host.lists) do
      local list = QUEUE .. depth .. ':' .. host
      for first = 1, #entries, 1000 do
        redis.call('RPUSH', list, unpack(entries, first, math.min(first + 999, #entries)))
      end
      redis.call('ZADD', QUEUE_DEPTHS .. host, depth, depth)
    end
    for counter, count in pairs(per_host.counted) do redis.call('HINCRBY', counter, host, count) end
    added = added + per_host.added
  end
  if added > 0 then
    redis.call('HINCRBY', STATS, STAT_QUEUED, added)
    redis.call('HINCRBY', STATS, STAT_SEEN, added)
  end
  return added
end

-- Whether URLs of `host` may be scheduled: a host that has some already always, a new
-- one while the shard's hosts are fewer than A.host_cap (-1: no cap), a seed's always.
-- A new host admitted is counted; one kept out joins the refused hosts. Asked once per
-- host per call (the answer is kept in `per_host`).
local function admitted(per_host, host, seeding)
  if per_host.admitted == nil then
    if redis.call('HEXISTS', HOST_COUNT, host) == 1 or redis.call('HEXISTS', HOST_SITEMAPS, host) == 1 then
      per_host.admitted = true
    elseif seeding or A.host_cap < 0 or stat(STAT_HOSTS) < A.host_cap then
      redis.call('HINCRBY', STATS, STAT_HOSTS, 1)
      per_host.admitted = true
    else
      redis.call('PFADD', REFUSED_HOSTS, host)
      per_host.admitted = false
    end
  end
  return per_host.admitted
end

-- Schedule the never-seen URLs of A.links, listed by a URL at depth `base`, whose
-- fingerprints are ARGV[2..]. A page is one link deeper, and kept out past max_depth;
-- a sitemap keeps the depth of what listed it, whatever the limit. Each host has a
-- budget of pages and one of sitemaps, and a new host needs room under max_hosts
-- (seeds, at base -1, are never refused). What a limit keeps out stays unseen (seeding
-- again with a larger limit can schedule it) and is counted, once per distinct URL.
local function add_links(base)
  local batch = {}
  local legacy = #A.links > 0 and A.bloom_bits == 0 and redis.call('EXISTS', LEGACY_SEEN) == 1
  for i, link in ipairs(A.links) do
    -- link = {member, host, is_sitemap, seen bucket or h1, seen entry or h2}
    local url, host, sitemap, fingerprint = link[1], link[2], link[3] == 1, ARGV[i + 1]
    local depth = sitemap and math.max(base, 0) or base + 1
    local counter = sitemap and HOST_SITEMAPS or HOST_COUNT
    local budget = sitemap and A.sitemap_budget or A.host_budget
    local per_host = batch[host]
    if not per_host then
      per_host = {lists = {}, counted = {}, used = {}, added = 0}
      batch[host] = per_host
    end
    if budget > 0 and per_host.used[counter] == nil then
      per_host.used[counter] = num(redis.call('HGET', counter, host))
    end
    if not sitemap and depth > A.max_depth then
      if not was_seen(link, fingerprint, legacy) then redis.call('PFADD', DROPPED_DEPTH, fingerprint) end
    elseif not admitted(per_host, host, base < 0) then
      -- Never seen: a host gets its first URL only once admitted.
      redis.call('PFADD', DROPPED_HOSTS, fingerprint)
    elseif budget > 0 and per_host.used[counter] >= budget then
      if was_seen(link, fingerprint, legacy) then
        shorter(url, depth)
      elseif sitemap then
        -- A crawler trap, or just a huge host.
        drop_for_host(DROPPED_SITEMAPS, OVER_SITEMAPS, STAT_DROPPED_SITEMAPS, host, fingerprint)
      else
        drop_for_host(DROPPED_PAGES, OVER_PAGES, STAT_DROPPED_PAGES, host, fingerprint)
      end
    elseif first_sight(link, fingerprint, legacy) then
      per_host.used[counter] = (per_host.used[counter] or 0) + 1
      per_host.counted[counter] = (per_host.counted[counter] or 0) + 1
      local entries = per_host.lists[depth]
      if not entries then
        entries = {}
        per_host.lists[depth] = entries
      end
      entries[#entries + 1] = compact(url, host)
      per_host.added = per_host.added + 1
    else
      shorter(url, depth)
    end
  end
  return queue_batch(batch)
end

-- Settle `rows` (links a page listed that their host's known robots.txt disallows, whose
-- records the caller stored), whose fingerprints are ARGV[first + 1..]: each never-seen
-- one is marked seen (settled once, never scheduled) and counted, per host and as a
-- record stored with an error. No lease, no slot, no turn of the host; neither the
-- host's page budget nor max_pages is spent, as no request is ever made for it.
-- Returns how many were settled now (one seen before is left as it is).
local function settle_blocked(rows, first)
  local legacy = #rows > 0 and A.bloom_bits == 0 and redis.call('EXISTS', LEGACY_SEEN) == 1
  local settled = 0
  for i, link in ipairs(rows) do
    if first_sight(link, ARGV[first + i], legacy) then
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
end
