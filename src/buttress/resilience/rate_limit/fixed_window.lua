-- rate limit, fixed window (after state/prelude.lua)
-- KEYS[1] string "index used"; ARGV: limit, window us, cost
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local index = math.floor(now / window)
local s = redis.call('GET', KEYS[1])
local used = 0
if s then
  local i, u = string.match(s, '(%S+) (%S+)')
  if tonumber(i) == index then used = tonumber(u) end
end
local reset = (index + 1) * window - now
if used + cost <= limit then
  used = used + cost
  redis.call('SET', KEYS[1], f(index) .. ' ' .. f(used), 'PX', ms(reset))
  return {1, 0, R(limit - used), C(reset)}
end
if cost > limit then return {-1, 0, 0, 0} end
return {0, C(reset), R(limit - used), C(reset)}
