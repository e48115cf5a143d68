-- overview.lua - the cluster for coupctl cluster and /metrics, as JSON
-- text: every node with its heartbeat fields, every room (up to 1000)
-- with its members per node.
local nodes = {}
local z = redis.call('ZRANGE', 'coup:nodes', 0, -1, 'WITHSCORES')
for i = 1, #z, 2 do
  local h = redis.call('HGETALL', 'coup:node:' .. z[i])
  local n = {}
  for j = 1, #h, 2 do n[h[j]] = h[j + 1] end
  n.id = z[i]
  n.beat = tonumber(z[i + 1])
  n.alive = #h > 0
  nodes[#nodes + 1] = n
end
local rooms = {}
for _, r in ipairs(redis.call('SMEMBERS', 'coup:rooms')) do
  if #rooms >= 1000 then break end
  local per = {}
  local total = 0
  for _, v in ipairs(redis.call('HVALS', 'coup:room:' .. r)) do
    local ok, m = pcall(cjson.decode, v)
    if ok and type(m) == 'table' and type(m.node) == 'string' then
      per[m.node] = (per[m.node] or 0) + 1
      total = total + 1
    end
  end
  rooms[#rooms + 1] = { name = r, members = total, nodes = per }
end
local t = redis.call('TIME')
return cjson.encode({ nodes = nodes, rooms = rooms,
  now = t[1] * 1000 + math.floor(t[2] / 1000) })
