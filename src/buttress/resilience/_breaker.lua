-- shared circuit breaker: what its scripts share (included after state/prelude.lua)
-- KEYS[1] hash: state, gen, until (us), opens, probes, results, pf, ps; KEYS[2] the window:
-- a list of "calls fails slows" batches (count window) or a hash of per-second counters (time).
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
