-- callend.lua - a call is over: its start and peak (callmark.lua), once,
-- for the gateway that sends room_finished.  ARGV: room.
-- Returns {started, peak} or false when nobody marked it.
local key = 'coup:call:' .. ARGV[1]
local v = redis.call('HMGET', key, 'started', 'peak')
redis.call('DEL', key)
if not v[1] then return false end
return {v[1], v[2] or '0'}
