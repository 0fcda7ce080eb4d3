-- shared circuit breaker: breaker_set (after state/prelude.lua and _breaker.lua)
-- ARGV: new state, 1 to reset the growing wait, channel, name
if ARGV[2] == '1' then opens = 0 end
till = 0
move(ARGV[1], ARGV[3], ARGV[4])
return reply(0)
