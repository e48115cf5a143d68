-- resync.lua - this node's members of a room, all of them, written again
-- (after Redis was away, or restarted empty).
-- KEYS: room, node's rooms, all rooms.
-- ARGV: node, room, channel, inbox, req, members: one JSON array of
-- [socket id, member text] pairs.  One argument whatever their number (a
-- room of any size is rewritten in one step, like a small one), and the
-- stale entries can only be told with the whole list at hand.
-- uses: snap.lua
local list = cjson.decode(ARGV[6])
local mine = {}
for _, p in ipairs(list) do mine[p[1]] = true end
local node = cjson.encode(ARGV[1])
-- Ours but not in the list: left while Redis was away.
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if not mine[all[i]] then
    local ok, m = pcall(cjson.decode, all[i + 1])
    if ok and type(m) == 'table' and m.node == ARGV[1] then
      redis.call('HDEL', KEYS[1], all[i])
      redis.call('PUBLISH', ARGV[3], '{"t":"leave","node":' ..
        node .. ',"sid":' .. cjson.encode(all[i]) .. ',"reason":1}')
    end
  end
end
-- The list as it is now; a member Redis did not have is a join.
for _, p in ipairs(list) do
  if redis.call('HSET', KEYS[1], p[1], p[2]) == 1 then
    redis.call('PUBLISH', ARGV[3], '{"t":"join","node":' ..
      node .. ',"m":' .. p[2] .. '}')
  end
end
-- The room's place in the indexes (coupctl, the dead-node reaper).
if #list > 0 then
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('SADD', KEYS[3], ARGV[2])
elseif redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[2])
end
snap(KEYS[1], ARGV[2], ARGV[5], ARGV[4])
return 1
