-- The prelude of every script the shared store runs (buttress.state.scripts puts it first).
-- `now` is the Redis server's TIME in integer microseconds (exact in a double), so replicas
-- with skewed clocks agree; the last ARGV is empty, or a pinned time (tests only:
-- RedisStore.pinned_time). f() packs a number with 17 digits (Lua's `..` keeps 14, too few
-- for a timestamp in microseconds); ms() is a key's expiry in ms with a second to spare;
-- C() rounds a time up, R() permits down, to the integers a script replies with.
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
