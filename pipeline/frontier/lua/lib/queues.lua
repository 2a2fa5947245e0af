-- queues: a host's new URLs, kept compact in one list per depth.
-- Defines: compact, expand, put_back, pop_new

-- A host's new URLs wait in one list per depth, ql:DEPTH:HOST, in the order found, and
-- qd:HOST holds the depths that have a list: a queued URL costs its path and a few
-- bytes, where a sorted set of whole URLs cost ~130. A URL on the host is kept as its
-- path ('/...') for http and as '+' and its path for https; any other member (a
-- sitemap's) whole. A job begun before the lists may still have a sorted set q:HOST of
-- URL -> depth: it is drained first.
local function compact(url, host)
  local http, https = 'http://' .. host .. '/', 'https://' .. host .. '/'
  if url:sub(1, #http) == http then return url:sub(#http) end
  if url:sub(1, #https) == https then return '+' .. url:sub(#https) end
  return url
end

local function expand(entry, host)
  local first = entry:sub(1, 1)
  if first == '/' then return 'http://' .. host .. entry end
  if first == '+' then return 'https://' .. host .. entry:sub(2) end
  return entry
end

-- A URL handed out before goes back to the front of its depth's list: it keeps its
-- place ahead of the URLs found after it, so that a lease lost with its worker does not
-- let the URL's links be found first through longer paths.
local function put_back(host, depth, url)
  redis.call('LPUSH', QUEUE .. depth .. ':' .. host, compact(url, host))
  redis.call('ZADD', QUEUE_DEPTHS .. host, depth, depth)
end

-- The host's next new URL, the shallowest first, and its depth; nil when none waits.
local function pop_new(host)
  local item = redis.call('ZPOPMIN', LEGACY_QUEUE .. host)
  if #item > 0 then return item[1], tonumber(item[2]) end
  local top = redis.call('ZRANGE', QUEUE_DEPTHS .. host, 0, 0)
  if #top == 0 then return nil end
  local list = QUEUE .. top[1] .. ':' .. host
  local entry = redis.call('LPOP', list)
  if redis.call('EXISTS', list) == 0 then redis.call('ZREM', QUEUE_DEPTHS .. host, top[1]) end
  if not entry then return nil end
  return expand(entry, host), tonumber(top[1])
end
