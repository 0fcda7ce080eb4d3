-- rate limit, sliding log (after state/prelude.lua)
-- KEYS[1] zset: member "seq:cost", score = time us; KEYS[2] string "used seq oldest"
-- (oldest = the first score, -1 when empty); ARGV: limit, window us, cost
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local used, seq, oldest = 0, 0, -1
local meta = redis.call('GET', KEYS[2])
if meta then
  local u, q, o = string.match(meta, '(%S+) (%S+) (%S+)')
  used, seq, oldest = tonumber(u), tonumber(q), tonumber(o)
end
-- expired: stamp + window <= now, i.e. score <= now - window (integers: exact)
local edge = now - window
local changed = false
if oldest >= 0 and oldest <= edge then
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', edge)) do
    used = used - tonumber(string.match(m, ':(.+)$'))
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', edge)
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if first[2] then oldest = tonumber(first[2]) else oldest, used = -1, 0 end
  if used < 1e-9 then used = 0 end
  changed = true
end
local function save()
  redis.call('SET', KEYS[2], f(used) .. ' ' .. f(seq) .. ' ' .. f(oldest), 'PX', ms(window))
end
if used + cost <= limit then
  seq = seq + 1
  used = used + cost
  if oldest < 0 then oldest = now end
  redis.call('ZADD', KEYS[1], now, f(seq) .. ':' .. f(cost))
  redis.call('PEXPIRE', KEYS[1], ms(window))
  save()
  return {1, 0, R(limit - used), C(window)}
end
if changed then save() end
if cost > limit then return {-1, 0, 0, 0} end
local need = used + cost - limit
local freed, start, retry = 0, 0, window
while true do
  local page = redis.call('ZRANGE', KEYS[1], start, start + 99, 'WITHSCORES')
  if #page == 0 then break end
  local found = false
  for i = 1, #page, 2 do
    freed = freed + tonumber(string.match(page[i], ':(.+)$'))
    if freed >= need then retry = tonumber(page[i + 1]) + window - now; found = true; break end
  end
  if found then break end
  start = start + 100
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local reset = 0
if #last > 0 then reset = tonumber(last[2]) + window - now end
return {0, C(retry), R(limit - used), C(reset)}
