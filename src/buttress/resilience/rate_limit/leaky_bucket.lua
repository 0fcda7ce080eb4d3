-- rate limit, leaky bucket (after state/prelude.lua and _owed.lua)
-- KEYS[1] string "queued last per": the permits waiting to leave at `last` (us), counted at
-- `per` us each (a rate change keeps the time the queue takes to drain); ARGV: us per permit,
-- capacity, cost, reserve. (A bare number is the format before: when the next leaves.)
local per, capacity, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local queued = owed_now(per)
local function save(q)
  redis.call('SET', KEYS[1], f(q) .. ' ' .. f(now) .. ' ' .. f(per), 'PX', ms(q * per))
end
if ARGV[4] == '1' and queued + cost <= capacity + 1e-9 then
  save(queued + cost)
  return {2, C(queued * per), R(math.max(0, capacity - queued - cost)), C((queued + cost) * per)}
end
if queued <= 0 then
  save(cost)
  return {1, 0, R(math.max(0, capacity - cost)), C(cost * per)}
end
if cost > capacity then return {-1, 0, 0, 0} end
return {0, C(queued * per), R(capacity - queued), C(queued * per)}
