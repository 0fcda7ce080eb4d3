-- shared bulkhead: bulkhead_count (after state/prelude.lua)
-- KEYS[1] zset: member = holder token, score = lease expiry (us). Expired leases (a holder
-- that crashed or stalled) are dropped before every decision, so their permits come back.
-- permits held now (expired leases dropped first)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', f(now))
return redis.call('ZCARD', KEYS[1])
