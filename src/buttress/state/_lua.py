"""The Lua scripts the Redis store runs: one EVALSHA per decision, on Redis server time.

Times are integer microseconds from ``TIME`` (exact in a double), so replicas with skewed
clocks agree, and window boundaries are compared without rounding. Numbers are stored exactly:
passed to ``redis.call`` as numbers (Redis writes them with 17 digits), or packed with
``%.17g`` (Lua's own ``..`` keeps 14 digits, too few for a timestamp in microseconds). Each
state is one key written with one ``SET ... PX`` where it can be: every ``redis.call`` costs a
few microseconds of the server's single thread. Rate-limit scripts return integers
``{code, retry_us, remaining * 1e6, reset_us}`` (times rounded up, permits down): code 1 =
taken, 2 = reserved (wait ``retry_us`` first), 0 = refused, -1 = the cost can never be
granted. The last argument is empty, or a pinned time in microseconds (tests only).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

__all__ = ["SCRIPTS", "Script"]


@dataclass(frozen=True)
class Script:
    name: str
    text: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.text.encode()).hexdigest())  # noqa: S324  # Redis names scripts by SHA-1


_PRELUDE = """
local now
if ARGV[#ARGV] ~= '' then
  now = tonumber(ARGV[#ARGV])  -- a pinned time, for tests (RedisStore.pinned_time)
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function f(x) return string.format('%.17g', x) end
local function ms(us) return math.floor(us / 1000) + 1000 end
local function C(us) return math.ceil(us) end
local function R(permits) return math.floor(permits * 1000000) end
"""


# Token bucket and GCRA keep "owed last": the permits a key owes (the tokens its bucket lacks)
# at time `last` (us). A lone absolute time (when the bucket is full again, or GCRA's TAT) lost
# precision at the clock's magnitude: 1.8e15 us holds fractions only to 0.25 us, and a burst of
# 9 per minute granted 8. What a key owes stays small, and exact while a burst is taken at one
# instant. A bare number is the format before (that absolute time), read once and rewritten.
# A rate change (set_rate) is kept as in process: the token bucket keeps the permits used,
# capped at the new burst; GCRA (and the leaky bucket below) the time it owes: it also stores
# `per`, the us per permit its permits were counted in, and converts them.
def _owed(kept: str = "", var: str = "owed") -> str:
    """Read "owed last [per]" into the Lua variable ``var`` (permits owed now; the leaky
    bucket calls them ``queued``); ``kept`` is Lua run on what was owed at ``last``, before
    the refill since (what a rate change keeps)."""
    return f"""
local {var} = 0
local s = redis.call('GET', KEYS[1])
if s then
  local o, l, p = string.match(s, '(%S+) (%S+) ?(%S*)')
  if o then
    {var} = tonumber(o)
    if p ~= '' and tonumber(p) ~= per then {var} = {var} * tonumber(p) / per end
{kept}    {var} = {var} - (now - tonumber(l)) / per
  else
    {var} = (tonumber(s) - now) / per
  end
  if {var} < 0 then {var} = 0 end
end
"""


def _owed_script(args: str, kept: str, saved: str, refused: str) -> str:
    """The token bucket and GCRA: ``args`` sets burst, per (us per permit) and cost from
    ARGV; ``kept`` adjusts what was owed (see :func:`_owed`); ``saved`` is the Lua expression
    stored; ``refused`` is the reply when the cost exceeds the burst."""
    return (
        _PRELUDE
        + args
        + _owed(kept)
        + """
if owed + cost <= burst then
  owed = owed + cost
  redis.call('SET', KEYS[1], """
        + saved
        + """, 'PX', ms(owed * per))
  return {1, 0, R(burst - owed), C(owed * per)}
end
if cost > burst then return """
        + refused
        + """ end
return {0, C((owed + cost - burst) * per), R(math.max(0, burst - owed)), C(owed * per)}
"""
    )


TOKEN_BUCKET = _owed_script(
    """
-- KEYS[1] string "owed last"; ARGV: burst, us per token, cost
local burst, per, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
""",
    "    if owed > burst then owed = burst end  -- a smaller bucket is at most empty\n",
    "f(owed) .. ' ' .. f(now)",
    "{-1, 0, R(burst - owed), 0}",
)

GCRA = _owed_script(
    """
-- KEYS[1] string "owed last per" (TAT = last + owed * per); ARGV: us per permit, tolerance
-- (burst * interval) us, burst, cost
local per, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4])
""",
    "",
    "f(owed) .. ' ' .. f(now) .. ' ' .. f(per)",
    "{-1, 0, 0, 0}",
)

FIXED_WINDOW = (
    _PRELUDE
    + """
-- KEYS[1] string "index used"; ARGV: limit, window us, cost
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local index = math.floor(now / window)
local s = redis.call('GET', KEYS[1])
local used = 0
if s then
  local i, u = string.match(s, '(%S+) (%S+)')
  if tonumber(i) == index then used = tonumber(u) end
end
local reset = (index + 1) * window - now
if used + cost <= limit then
  used = used + cost
  redis.call('SET', KEYS[1], f(index) .. ' ' .. f(used), 'PX', ms(reset))
  return {1, 0, R(limit - used), C(reset)}
end
if cost > limit then return {-1, 0, 0, 0} end
return {0, C(reset), R(limit - used), C(reset)}
"""
)

SLIDING_LOG = (
    _PRELUDE
    + """
-- KEYS[1] zset: member "seq:cost", score = time us; KEYS[2] string "used seq oldest"
-- (oldest = the first score, -1 when empty); ARGV: limit, window us, cost
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local used, seq, oldest = 0, 0, -1
local meta = redis.call('GET', KEYS[2])
if meta then
  local u, q, o = string.match(meta, '(%S+) (%S+) (%S+)')
  used, seq, oldest = tonumber(u), tonumber(q), tonumber(o)
end
-- expired: stamp + window <= now, i.e. score <= now - window (integers: exact)
local edge = now - window
local changed = false
if oldest >= 0 and oldest <= edge then
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', edge)) do
    used = used - tonumber(string.match(m, ':(.+)$'))
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', edge)
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if first[2] then oldest = tonumber(first[2]) else oldest, used = -1, 0 end
  if used < 1e-9 then used = 0 end
  changed = true
end
local function save()
  redis.call('SET', KEYS[2], f(used) .. ' ' .. f(seq) .. ' ' .. f(oldest), 'PX', ms(window))
end
if used + cost <= limit then
  seq = seq + 1
  used = used + cost
  if oldest < 0 then oldest = now end
  redis.call('ZADD', KEYS[1], now, f(seq) .. ':' .. f(cost))
  redis.call('PEXPIRE', KEYS[1], ms(window))
  save()
  return {1, 0, R(limit - used), C(window)}
end
if changed then save() end
if cost > limit then return {-1, 0, 0, 0} end
local need = used + cost - limit
local freed, start, retry = 0, 0, window
while true do
  local page = redis.call('ZRANGE', KEYS[1], start, start + 99, 'WITHSCORES')
  if #page == 0 then break end
  local found = false
  for i = 1, #page, 2 do
    freed = freed + tonumber(string.match(page[i], ':(.+)$'))
    if freed >= need then retry = tonumber(page[i + 1]) + window - now; found = true; break end
  end
  if found then break end
  start = start + 100
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local reset = 0
if #last > 0 then reset = tonumber(last[2]) + window - now end
return {0, C(retry), R(limit - used), C(reset)}
"""
)

SLIDING_COUNTER = (
    _PRELUDE
    + """
-- KEYS[1] string "index current previous"; ARGV: limit, window us, cost
local limit, w, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local index = math.floor(now / w)
local s = redis.call('GET', KEYS[1])
local current, previous = 0, 0
if s then
  local i, c, p = string.match(s, '(%S+) (%S+) (%S+)')
  local was = tonumber(i)
  if was == index then
    current, previous = tonumber(c), tonumber(p)
  elseif was == index - 1 then
    previous = tonumber(c)
  end
end
local into = (now - index * w) / w
local used = previous * (1 - into) + current
if used + cost <= limit then
  current = current + cost
  local reset = (index + 2) * w - now
  redis.call('SET', KEYS[1], f(index) .. ' ' .. f(current) .. ' ' .. f(previous), 'PX', ms(reset))
  return {1, 0, R(math.max(0, limit - used - cost)), C(reset)}
end
if cost > limit then return {-1, 0, 0, 0} end
local retry
if current + cost <= limit and previous > 0 then
  retry = index * w + w * (1 - (limit - current - cost) / previous) - now
else
  retry = (index + 1) * w + w * math.max(0, 1 - (limit - cost) / current) - now
end
local reset = 0
if current > 0 then
  reset = (index + 2) * w - now
elseif previous > 0 then
  reset = (index + 1) * w - now
end
return {0, C(retry), R(math.max(0, limit - used)), C(reset)}
"""
)

LEAKY_BUCKET = (
    _PRELUDE
    + """
-- KEYS[1] string "queued last per": the permits waiting to leave at `last` (us), counted at
-- `per` us each (a rate change keeps the time the queue takes to drain); ARGV: us per permit,
-- capacity, cost, reserve. (A bare number is the format before: when the next leaves.)
local per, capacity, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
"""
    + _owed(var="queued")
    + """
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
"""
)

SCRIPTS = {
    s.name: s
    for s in (
        Script("token_bucket", TOKEN_BUCKET),
        Script("gcra", GCRA),
        Script("fixed_window", FIXED_WINDOW),
        Script("sliding_log", SLIDING_LOG),
        Script("sliding_counter", SLIDING_COUNTER),
        Script("leaky_bucket", LEAKY_BUCKET),
    )
}

# -- circuit breakers ---------------------------------------------------------------------------
# KEYS[1] hash: state, gen, until (us), opens, probes, results, pf, ps; KEYS[2] the window:
# a list of "calls fails slows" batches (count window) or a hash of per-second counters (time).

_BREAKER = """
local S, W = KEYS[1], KEYS[2]
local st = redis.call('HMGET', S, 'state', 'gen', 'until', 'opens')
local state, gen = st[1] or 'closed', tonumber(st[2] or '0')
local till, opens = tonumber(st[3] or '0'), tonumber(st[4] or '0')
local function publish(channel, name)
  redis.call('PUBLISH', channel,
    'cb|' .. name .. '|' .. state .. '|' .. gen .. '|' .. f(math.max(0, till - now)))
end
local function move(new, channel, name)
  state = new
  gen = gen + 1
  redis.call('HSET', S, 'state', state, 'gen', gen, 'until', f(till), 'opens', opens,
    'probes', 0, 'results', 0, 'pf', 0, 'ps', 0)
  redis.call('DEL', W)
  redis.call('PEXPIRE', S, 86400000)
  publish(channel, name)
end
local function open(wait, mult, cap, channel, name)
  till = now + math.min(wait * mult ^ opens, cap)
  opens = opens + 1
  move('open', channel, name)
end
local function reply(admitted, calls, fails, slows)
  return {admitted, state, gen, f(math.max(0, till - now)), calls or 0, fails or 0, slows or 0}
end
"""

BREAKER_SYNC = (
    _PRELUDE
    + _BREAKER
    + """
-- ARGV: gen, calls, fails, slows, window ('count'|'time'), size, minimum calls,
--       failure rate %, slow rate %, wait us, multiplier, max wait us, channel, name
local sgen, calls, fails, slows = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4])
local kind, size, minimum = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local rate, srate = tonumber(ARGV[8]), tonumber(ARGV[9])
-- outcomes count in the generation they were made in (-1: the process knew none yet)
local counting = (state == 'closed' or state == 'forced_closed') and (sgen == gen or sgen < 0)
local c, fl, sl = 0, 0, 0
if kind == 'time' then
  local sec = math.floor(now / 1000000)
  if counting and calls > 0 then
    redis.call('HINCRBY', W, 'c' .. sec, calls)
    redis.call('HINCRBY', W, 'f' .. sec, fails)
    redis.call('HINCRBY', W, 's' .. sec, slows)
  end
  local all = redis.call('HGETALL', W)
  for i = 1, #all, 2 do
    local field, at = all[i], tonumber(string.sub(all[i], 2))
    if at <= sec - size then
      redis.call('HDEL', W, field)
    else
      local n, p = tonumber(all[i + 1]), string.sub(field, 1, 1)
      if p == 'c' then c = c + n elseif p == 'f' then fl = fl + n else sl = sl + n end
    end
  end
  redis.call('PEXPIRE', W, (size + 1) * 1000)
else
  if counting and calls > 0 then
    redis.call('LPUSH', W, calls .. ' ' .. fails .. ' ' .. slows)
  end
  local batches = redis.call('LRANGE', W, 0, -1)
  for i, b in ipairs(batches) do
    local bc, bf, bs = string.match(b, '(%d+) (%d+) (%d+)')
    c, fl, sl = c + tonumber(bc), fl + tonumber(bf), sl + tonumber(bs)
    if c >= size then
      if i < #batches then redis.call('LTRIM', W, 0, i - 1) end
      break
    end
  end
  redis.call('PEXPIRE', W, 86400000)
end
if state == 'closed' and counting and calls > 0 and c >= minimum
   and (100 * fl >= rate * c or 100 * sl >= srate * c) then
  open(tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]), ARGV[13], ARGV[14])
  return reply(0, 0, 0, 0)
end
if st[1] then redis.call('PEXPIRE', S, 86400000) end
return reply(0, c, fl, sl)
"""
)

BREAKER_PROBE = (
    _PRELUDE
    + _BREAKER
    + """
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
"""
)

BREAKER_PROBE_RESULT = (
    _PRELUDE
    + _BREAKER
    + """
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
"""
)

BREAKER_SET = (
    _PRELUDE
    + _BREAKER
    + """
-- ARGV: new state, 1 to reset the growing wait, channel, name
if ARGV[2] == '1' then opens = 0 end
till = 0
move(ARGV[1], ARGV[3], ARGV[4])
return reply(0)
"""
)

for _s in (
    Script("breaker_sync", BREAKER_SYNC),
    Script("breaker_probe", BREAKER_PROBE),
    Script("breaker_probe_result", BREAKER_PROBE_RESULT),
    Script("breaker_set", BREAKER_SET),
):
    SCRIPTS[_s.name] = _s

# -- bulkheads: a semaphore of leases -------------------------------------------------------
# KEYS[1] zset: member = holder token, score = lease expiry (us). Expired leases (a holder that
# crashed or stalled) are dropped before every decision, so their permits come back.

BULKHEAD_ACQUIRE = (
    _PRELUDE
    + """
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
"""
)

BULKHEAD_RELEASE = (
    _PRELUDE
    + """
-- ARGV: token, channel, notice
local gone = redis.call('ZREM', KEYS[1], ARGV[1])
if gone == 1 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return gone
"""
)

BULKHEAD_RENEW = (
    _PRELUDE
    + """
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
"""
)

BULKHEAD_COUNT = (
    _PRELUDE
    + """
-- permits held now (expired leases dropped first)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', f(now))
return redis.call('ZCARD', KEYS[1])
"""
)

for _s in (
    Script("bulkhead_count", BULKHEAD_COUNT),
    Script("bulkhead_acquire", BULKHEAD_ACQUIRE),
    Script("bulkhead_release", BULKHEAD_RELEASE),
    Script("bulkhead_renew", BULKHEAD_RENEW),
):
    SCRIPTS[_s.name] = _s

# -- retry budgets ----------------------------------------------------------------------------
# KEYS[1] hash: c<second> = calls, r<second> = retries, for the last ttl seconds.

_BUDGET = """
local sec = math.floor(now / 1000000)
local ttl = tonumber(ARGV[2])
local calls = tonumber(ARGV[1])
if calls > 0 then redis.call('HINCRBY', KEYS[1], 'c' .. sec, calls) end
local c, r = 0, 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local field = all[i]
  if tonumber(string.sub(field, 2)) <= sec - ttl then
    redis.call('HDEL', KEYS[1], field)
  elseif string.sub(field, 1, 1) == 'c' then
    c = c + tonumber(all[i + 1])
  else
    r = r + tonumber(all[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], (ttl + 1) * 1000)
"""

BUDGET_SYNC = (
    _PRELUDE
    + _BUDGET
    + """
-- ARGV: calls to add, ttl seconds
return {c, r}
"""
)

BUDGET_WITHDRAW = (
    _PRELUDE
    + _BUDGET
    + """
-- ARGV: calls to add, ttl seconds, ratio, retries per second allowed whatever the traffic
local allowed = tonumber(ARGV[4]) * ttl + tonumber(ARGV[3]) * c
if r + 1 > allowed then return {0, c, r} end
redis.call('HINCRBY', KEYS[1], 'r' .. sec, 1)
return {1, c, r + 1}
"""
)

for _s in (Script("budget_sync", BUDGET_SYNC), Script("budget_withdraw", BUDGET_WITHDRAW)):
    SCRIPTS[_s.name] = _s

# -- degradation levels: each process's automatic level, the fleet's ---------------------------
# KEYS[1] hash: member (a process) -> "index:expiry_us". A process reports its level every round
# (and at once on a change, with a notice); reports older than their expiry are dropped, so a
# replica that died stops counting. The reply is the highest live index of the *other* members
# (each process combines it with its own, which it knows first-hand).
# KEYS[2] string: "index:since_us", the fleet level (the highest live index of *all* members)
# and when it last changed, rewritten only when a report changes it (`buttress level show`).

LEVEL_REPORT = (
    _PRELUDE
    + """
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
"""
)
SCRIPTS["level_report"] = Script("level_report", LEVEL_REPORT)
