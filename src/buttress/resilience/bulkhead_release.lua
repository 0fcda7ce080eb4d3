-- shared bulkhead: bulkhead_release (after state/prelude.lua)
-- KEYS[1] zset: member = holder token, score = lease expiry (us). Expired leases (a holder
-- that crashed or stalled) are dropped before every decision, so their permits come back.
-- ARGV: token, channel, notice
local gone = redis.call('ZREM', KEYS[1], ARGV[1])
if gone == 1 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return gone
