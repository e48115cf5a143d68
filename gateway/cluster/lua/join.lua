-- join.lua - a member joins a room, unless the room is full.
-- KEYS: room, node's rooms, all rooms.
-- ARGV: sid, member, max, channel, join message, room, inbox, req.
-- Returns 0 when full; else 1, and the joiner's gateway gets a snapshot.
-- uses: snap.lua
local max = tonumber(ARGV[3])
if max > 0 and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and
   redis.call('HLEN', KEYS[1]) >= max then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[6])
redis.call('SADD', KEYS[3], ARGV[6])
redis.call('PUBLISH', ARGV[4], ARGV[5])
snap(KEYS[1], ARGV[6], ARGV[8], ARGV[7])
return 1
