-- shared circuit breaker: breaker_sync (after state/prelude.lua and _breaker.lua)
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
