-- budget: what max_pages lets out, and what a per-host budget kept out.
-- Defines: counts, allowed, spent, drop_for_host

-- Whether handing out the new URL `member` spends max_pages: a page does, a sitemap
-- (sitemap:URL) does not, as its own per-host budget (sitemap_budget) bounds it and a
-- site without /sitemap.xml must not cost a page.
local function counts(member)
  return string.sub(member, 1, #SITEMAP_PREFIX) ~= SITEMAP_PREFIX
end

-- New pages this shard may still hand out under max_pages. With A.shared_budget (a job
-- of several shards with a max_pages), the dispatcher shares the budget out: each
-- shard holds an allowance, spent as it hands URLs out and refilled on each tick.
-- Revisits are not counted: they fetch URLs the budget already let in.
local function allowed()
  if A.shared_budget then return num(redis.call('GET', ALLOWANCE)) end
  if A.max_pages == 0 then return math.huge end
  return A.max_pages - stat(STAT_DISPATCHED)
end

-- The job has fetched (or handed out) as many URLs as max_pages allows. What is still
-- queued stays there: seeding again with a larger budget carries on from it. A shard
-- whose allowance is spent waits for more unless the dispatcher found none left.
local function spent()
  if A.shared_budget then return allowed() <= 0 and redis.call('EXISTS', BUDGET_SPENT) == 1 end
  return A.max_pages > 0 and stat(STAT_DISPATCHED) >= A.max_pages
end

-- A URL a per-host budget kept out: it joins the host's HyperLogLog, whose count is
-- the host's score in `over` and, summed over hosts, the job's stat `field`.
local function drop_for_host(hll, over, field, host, fingerprint)
  local key = hll .. host
  if redis.call('PFADD', key, fingerprint) == 1 then
    local count = redis.call('PFCOUNT', key)
    redis.call('HINCRBY', STATS, field, count - num(redis.call('ZSCORE', over, host)))
    redis.call('ZADD', over, count, host)
  end
end
