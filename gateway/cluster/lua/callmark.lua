-- callmark.lua - a call's start and its peak, for the webhooks' room_finished
-- whichever gateway sends it: the first mark starts it, each one raises the
-- peak.  ARGV: room, now (ms), members now.  Expires a day after its last
-- mark (a room whose finish nobody saw).
local key = 'coup:call:' .. ARGV[1]
redis.call('HSETNX', key, 'started', ARGV[2])
local peak = tonumber(redis.call('HGET', key, 'peak') or '0') or 0
if tonumber(ARGV[3]) > peak then
  redis.call('HSET', key, 'peak', ARGV[3])
end
redis.call('PEXPIRE', key, 86400000)
return 1
