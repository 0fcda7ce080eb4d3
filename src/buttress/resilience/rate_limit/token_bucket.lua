-- rate limit, token bucket (after state/prelude.lua and _owed.lua)
-- KEYS[1] string "owed last"; ARGV: burst, us per token, cost
local burst, per, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local owed = owed_now(per, burst)
if owed + cost <= burst then
  owed = owed + cost
  redis.call('SET', KEYS[1], f(owed) .. ' ' .. f(now), 'PX', ms(owed * per))
  return {1, 0, R(burst - owed), C(owed * per)}
end
if cost > burst then return {-1, 0, R(burst - owed), 0} end
return {0, C((owed + cost - burst) * per), R(math.max(0, burst - owed)), C(owed * per)}
