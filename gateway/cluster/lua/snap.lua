-- snap.lua - snap(): publish to a node's inbox the room's members and the
-- live nodes.  It travels on the same connection, in the same order, as
-- the room's own messages, so the receiver knows exactly which joins and
-- leaves it already reflects.  Not a script of its own: join.lua,
-- snapshot.lua and resync.lua begin with it ("-- uses: snap.lua").
local function snap(key, room, req, inbox)
  local alive = {}
  for _, id in ipairs(redis.call('ZRANGE', 'coup:nodes', 0, -1)) do
    if redis.call('EXISTS', 'coup:node:' .. id) == 1 then
      alive[#alive + 1] = cjson.encode(id)
    end
  end
  local m = redis.call('HVALS', key)
  redis.call('PUBLISH', inbox, '{"t":"snap","room":' ..
    cjson.encode(room) .. ',"req":' .. req .. ',"alive":[' ..
    table.concat(alive, ',') .. '],"m":[' ..
    table.concat(m, ',') .. ']}')
end
