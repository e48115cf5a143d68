-- pidset.lua - a session with a pid (connection state recovery) is on
-- this node: where another gateway can find it when its client comes back
-- there.  ARGV: pid, record ({sid, userId, node}), node.
redis.call('SET', 'coup:pid:' .. ARGV[1], ARGV[2])
redis.call('SADD', 'coup:node:' .. ARGV[3] .. ':pids', ARGV[1])
return 1
