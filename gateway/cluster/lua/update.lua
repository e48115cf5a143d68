-- update.lua - a member's flags or status changed, and the event that
-- says so is published.
-- KEYS: room.  ARGV: sid, member, channel, message.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
