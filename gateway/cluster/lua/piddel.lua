-- piddel.lua - a session ended on its node: its pid goes, unless another
-- node took the session over meanwhile.  ARGV: pid, node.
local v = redis.call('GET', 'coup:pid:' .. ARGV[1])
if v then
  local ok, s = pcall(cjson.decode, v)
  if ok and type(s) == 'table' and s.node == ARGV[2] then
    redis.call('DEL', 'coup:pid:' .. ARGV[1])
  end
end
redis.call('SREM', 'coup:node:' .. ARGV[2] .. ':pids', ARGV[1])
return 1
