-- takeover_find.lua - where a session of another gateway is, for a client
-- back with its pid (connection state recovery) on a new gateway.
-- ARGV: pid, userId, the asking node.
-- Returns {sid, node, rooms} as JSON, or false when there is no such
-- session of that user elsewhere (unknown, ended, another user's, or the
-- asker's own).
local v = redis.call('GET', 'coup:pid:' .. ARGV[1])
if not v then return false end
local ok, s = pcall(cjson.decode, v)
if not ok or type(s) ~= 'table' or s.userId ~= ARGV[2] or
   type(s.sid) ~= 'string' or type(s.node) ~= 'string' or
   s.node == ARGV[3] then
  return false
end
local rooms = {}
for _, room in ipairs(redis.call('SMEMBERS',
    'coup:node:' .. s.node .. ':rooms')) do
  local e = redis.call('HGET', 'coup:room:' .. room, s.sid)
  if e then
    local ok2, m = pcall(cjson.decode, e)
    if ok2 and type(m) == 'table' and m.node == s.node then
      rooms[#rooms + 1] = room
    end
  end
end
return cjson.encode({sid = s.sid, node = s.node, rooms = rooms})
