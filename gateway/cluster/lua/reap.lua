-- reap.lua - dead nodes: in coup:nodes, their heartbeat key expired.
-- Their members leave every room (published, as if each had left), their
-- traces go.  ARGV[1]: a node to remove whatever its key says
-- (ourselves, leaving), or "".  Returns the ids removed.
local dead = {}
for _, id in ipairs(redis.call('ZRANGE', 'coup:nodes', 0, -1)) do
  if id == ARGV[1] or
     redis.call('EXISTS', 'coup:node:' .. id) == 0 then
    local rk = 'coup:node:' .. id .. ':rooms'
    local node = cjson.encode(id)
    for _, room in ipairs(redis.call('SMEMBERS', rk)) do
      local key = 'coup:room:' .. room
      local all = redis.call('HGETALL', key)
      for i = 1, #all, 2 do
        local ok, m = pcall(cjson.decode, all[i + 1])
        if ok and type(m) == 'table' and m.node == id then
          redis.call('HDEL', key, all[i])
          redis.call('PUBLISH', 'coup:ch:room:' .. room,
            '{"t":"leave","node":' .. node .. ',"sid":' ..
            cjson.encode(all[i]) .. ',"reason":1}')
        end
      end
      if redis.call('HLEN', key) == 0 then
        redis.call('SREM', 'coup:rooms', room)
      end
    end
    -- Its sessions' pids, those not taken over by another node.
    local pk = 'coup:node:' .. id .. ':pids'
    for _, pid in ipairs(redis.call('SMEMBERS', pk)) do
      local v = redis.call('GET', 'coup:pid:' .. pid)
      if v then
        local ok, s = pcall(cjson.decode, v)
        if ok and type(s) == 'table' and s.node == id then
          redis.call('DEL', 'coup:pid:' .. pid)
        end
      end
    end
    redis.call('DEL', rk, pk, 'coup:node:' .. id)
    redis.call('ZREM', 'coup:nodes', id)
    dead[#dead + 1] = id
  end
end
return dead
