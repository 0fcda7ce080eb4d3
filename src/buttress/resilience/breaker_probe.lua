-- shared circuit breaker: breaker_probe (after state/prelude.lua and _breaker.lua)
-- ARGV: probe calls allowed, channel, name
local allowed = tonumber(ARGV[1])
if state == 'open' and now >= till then move('half_open', ARGV[2], ARGV[3]) end
if state == 'half_open' then
  if redis.call('HINCRBY', S, 'probes', 1) <= allowed then return reply(1) end
  redis.call('HINCRBY', S, 'probes', -1)
  return reply(0)
end
if state == 'open' or state == 'forced_open' then return reply(0) end
return reply(1)
