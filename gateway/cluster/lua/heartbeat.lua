-- heartbeat.lua - the node beats: its id scored with Redis's clock in
-- coup:nodes, its key rewritten with an expiry.
-- KEYS: nodes, our key.  ARGV: id, ttl ms, then field/value pairs.
-- Returns whether our key was still there (0: new, expired, or Redis
-- restarted).
local existed = redis.call('EXISTS', KEYS[2])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
local f = {}
for i = 3, #ARGV do f[#f + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], 'beat', now, unpack(f))
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return existed
