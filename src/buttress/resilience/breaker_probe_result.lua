-- shared circuit breaker: breaker_probe_result (after state/prelude.lua and _breaker.lua)
-- ARGV: gen, outcome (-1 ignored, else fail + 2 * slow), probe calls, failure rate %,
--       slow rate %, wait us, multiplier, max wait us, channel, name
local outcome, needed = tonumber(ARGV[2]), tonumber(ARGV[3])
if state ~= 'half_open' or tonumber(ARGV[1]) ~= gen then return reply(0) end
if outcome < 0 then
  redis.call('HINCRBY', S, 'probes', -1)
  return reply(0)
end
local results = redis.call('HINCRBY', S, 'results', 1)
local pf = redis.call('HINCRBY', S, 'pf', outcome % 2)
local ps = redis.call('HINCRBY', S, 'ps', outcome >= 2 and 1 or 0)
if results >= needed then
  if 100 * pf >= tonumber(ARGV[4]) * needed or 100 * ps >= tonumber(ARGV[5]) * needed then
    open(tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9], ARGV[10])
  else
    opens = 0
    move('closed', ARGV[9], ARGV[10])
  end
end
return reply(0)
