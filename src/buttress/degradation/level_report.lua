-- the fleet's degradation level (after state/prelude.lua)
-- KEYS[1] hash: member (a process) -> "index:expiry_us". A process reports its level every round
-- (and at once on a change, with a notice); reports older than their expiry are dropped, so a
-- replica that died stops counting. The reply is the highest live index of the *other* members
-- (each process combines it with its own, which it knows first-hand).
-- KEYS[2] string: "index:since_us", the fleet level (the highest live index of *all* members)
-- and when it last changed, rewritten only when a report changes it (`buttress level show`).
-- ARGV: member, index, ttl us, channel, notice ('' = none)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. f(now + tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], ms(tonumber(ARGV[3])))
local top = 0
local fleet = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local idx, exp = string.match(all[i + 1], '^(%d+):(.+)$')
  if idx and tonumber(exp) > now then
    if all[i] ~= ARGV[1] and tonumber(idx) > top then top = tonumber(idx) end
    if tonumber(idx) > fleet then fleet = tonumber(idx) end
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
local held = redis.call('GET', KEYS[2])
if not held or tonumber(string.match(held, '^(%d+):') or -1) ~= fleet then
  redis.call('SET', KEYS[2], fleet .. ':' .. f(now))
end
redis.call('PEXPIRE', KEYS[2], ms(tonumber(ARGV[3])))
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return top
