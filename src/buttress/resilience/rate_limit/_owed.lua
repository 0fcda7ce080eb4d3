-- rate limit: what the token bucket, GCRA and the leaky bucket share (after state/prelude.lua)
-- They keep "owed last [per]" in KEYS[1]: the permits a key owes (the tokens its bucket lacks,
-- or the leaky bucket's queue) at time `last` (us), counted at `per` us each. A lone absolute
-- time (when the bucket is full again, or GCRA's TAT) lost precision at the clock's magnitude:
-- 1.8e15 us holds fractions only to 0.25 us, and a burst of 9 per minute granted 8. What a key
-- owes stays small, and exact while a burst is taken at one instant. A bare number is the
-- format before (that absolute time), read once and rewritten. A rate change keeps what it
-- kept in process: permits stored at another `per` are converted, and `cap` (the token
-- bucket's burst: a smaller bucket is at most empty) bounds what was owed before the refill.

-- the permits owed now (never below 0), at `per` us per permit
local function owed_now(per, cap)
  local owed = 0
  local s = redis.call('GET', KEYS[1])
  if s then
    local o, l, p = string.match(s, '(%S+) (%S+) ?(%S*)')
    if o then
      owed = tonumber(o)
      if p ~= '' and tonumber(p) ~= per then owed = owed * tonumber(p) / per end
      if cap and owed > cap then owed = cap end
      owed = owed - (now - tonumber(l)) / per
    else
      owed = (tonumber(s) - now) / per
    end
    if owed < 0 then owed = 0 end
  end
  return owed
end
