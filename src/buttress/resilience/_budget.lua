-- shared retry budget: what its scripts share (included after state/prelude.lua)
-- KEYS[1] hash: c<second> = calls, r<second> = retries, for the last ttl seconds.
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
