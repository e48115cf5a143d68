-- takeover.lua - a session moves to the asking gateway: its record in
-- every room it is in says so, each room's channel hears it (a "join" of
-- a member already there, with "moved": the old node), the asker's inbox
-- gets each room's snapshot, and last the old node's inbox a "handover"
-- (it then sends the asker what the client missed).
-- ARGV: pid, sid, from, to, userId, to's inbox, req, offset.
-- Returns the rooms moved, or false when the session is not from's.
-- uses: snap.lua
local v = redis.call('GET', 'coup:pid:' .. ARGV[1])
if not v then return false end
local ok, s = pcall(cjson.decode, v)
if not ok or type(s) ~= 'table' or s.sid ~= ARGV[2] or
   s.node ~= ARGV[3] or s.userId ~= ARGV[5] then
  return false
end
local moved = {}
local to = cjson.encode(ARGV[4])
for _, room in ipairs(redis.call('SMEMBERS',
    'coup:node:' .. ARGV[3] .. ':rooms')) do
  local key = 'coup:room:' .. room
  local e = redis.call('HGET', key, ARGV[2])
  if e then
    local ok2, m = pcall(cjson.decode, e)
    if ok2 and type(m) == 'table' and m.node == ARGV[3] then
      m.node = ARGV[4]
      local rec = cjson.encode(m)
      redis.call('HSET', key, ARGV[2], rec)
      redis.call('SADD', 'coup:node:' .. ARGV[4] .. ':rooms', room)
      redis.call('PUBLISH', 'coup:ch:room:' .. room,
        '{"t":"join","node":' .. to .. ',"moved":' ..
        cjson.encode(ARGV[3]) .. ',"m":' .. rec .. '}')
      snap(key, room, ARGV[7], ARGV[6])
      moved[#moved + 1] = room
    end
  end
end
s.node = ARGV[4]
redis.call('SET', 'coup:pid:' .. ARGV[1], cjson.encode(s))
redis.call('SREM', 'coup:node:' .. ARGV[3] .. ':pids', ARGV[1])
redis.call('SADD', 'coup:node:' .. ARGV[4] .. ':pids', ARGV[1])
redis.call('PUBLISH', 'coup:ch:node:' .. ARGV[3],
  '{"t":"handover","node":' .. to .. ',"sid":' .. cjson.encode(ARGV[2]) ..
  ',"offset":' .. cjson.encode(ARGV[8]) .. '}')
return moved
