-- shared bulkhead: bulkhead_acquire (after state/prelude.lua)
-- KEYS[1] zset: member = holder token, score = lease expiry (us). Expired leases (a holder
-- that crashed or stalled) are dropped before every decision, so their permits come back.
-- ARGV: permits, lease us, token
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', f(now))
local held = redis.call('ZCARD', KEYS[1])
if held < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], f(now + tonumber(ARGV[2])), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ms(tonumber(ARGV[2])))
  return {1, held + 1, '0'}
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, held, f(tonumber(first[2]) - now)}
