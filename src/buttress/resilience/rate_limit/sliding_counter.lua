-- rate limit, sliding counter (after state/prelude.lua)
-- KEYS[1] string "index current previous"; ARGV: limit, window us, cost
local limit, w, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local index = math.floor(now / w)
local s = redis.call('GET', KEYS[1])
local current, previous = 0, 0
if s then
  local i, c, p = string.match(s, '(%S+) (%S+) (%S+)')
  local was = tonumber(i)
  if was == index then
    current, previous = tonumber(c), tonumber(p)
  elseif was == index - 1 then
    previous = tonumber(c)
  end
end
local into = (now - index * w) / w
local used = previous * (1 - into) + current
if used + cost <= limit then
  current = current + cost
  local reset = (index + 2) * w - now
  redis.call('SET', KEYS[1], f(index) .. ' ' .. f(current) .. ' ' .. f(previous), 'PX', ms(reset))
  return {1, 0, R(math.max(0, limit - used - cost)), C(reset)}
end
if cost > limit then return {-1, 0, 0, 0} end
local retry
if current + cost <= limit and previous > 0 then
  retry = index * w + w * (1 - (limit - current - cost) / previous) - now
else
  retry = (index + 1) * w + w * math.max(0, 1 - (limit - cost) / current) - now
end
local reset = 0
if current > 0 then
  reset = (index + 2) * w - now
elseif previous > 0 then
  reset = (index + 1) * w - now
end
return {0, C(retry), R(math.max(0, limit - used)), C(reset)}
