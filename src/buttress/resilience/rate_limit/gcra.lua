-- rate limit, GCRA (after state/prelude.lua and _owed.lua)
-- KEYS[1] string "owed last per" (TAT = last + owed * per); ARGV: us per permit, tolerance
-- (burst * interval) us, burst, cost
local per, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4])
local owed = owed_now(per)
if owed + cost <= burst then
  owed = owed + cost
  redis.call('SET', KEYS[1], f(owed) .. ' ' .. f(now) .. ' ' .. f(per), 'PX', ms(owed * per))
  return {1, 0, R(burst - owed), C(owed * per)}
end
if cost > burst then return {-1, 0, 0, 0} end
return {0, C((owed + cost - burst) * per), R(math.max(0, burst - owed)), C(owed * per)}
