-- snapshot.lua - a room's members and the live nodes, to a node's inbox.
-- KEYS: room.  ARGV: room, req, inbox.
-- uses: snap.lua
snap(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
return 1
