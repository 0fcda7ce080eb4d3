-- shared bulkhead: bulkhead_renew (after state/prelude.lua)
-- KEYS[1] zset: member = holder token, score = lease expiry (us). Expired leases (a holder
-- that crashed or stalled) are dropped before every decision, so their permits come back.
-- ARGV: lease us, tokens...: extends the leases still held; returns the tokens it did not
-- find (their leases expired, or they were released since the renewal was sent)
local lost = {}
for i = 2, #ARGV - 1 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', f(now + tonumber(ARGV[1])), ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
redis.call('PEXPIRE', KEYS[1], ms(tonumber(ARGV[1])))
return lost
