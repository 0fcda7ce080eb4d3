-- shared retry budget: budget_withdraw (after state/prelude.lua and _budget.lua)
-- ARGV: calls to add, ttl seconds, ratio, retries per second allowed whatever the traffic
local allowed = tonumber(ARGV[4]) * ttl + tonumber(ARGV[3]) * c
if r + 1 > allowed then return {0, c, r} end
redis.call('HINCRBY', KEYS[1], 'r' .. sec, 1)
return {1, c, r + 1}
