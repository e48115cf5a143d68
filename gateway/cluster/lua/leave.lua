-- leave.lua - a member leaves a room, and the room's channel is told.
-- KEYS: room, all rooms.  ARGV: sid, channel, leave message, room.
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[4])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
