/*
 * lua_scripts.h - the cluster's Lua scripts (the files in
 * gateway/cluster/lua/), made into C strings at build time by
 * build-aux/lua2c.  Each file says
 * its KEYS and ARGV; README.md ("Multi-server mode") shows how to try one
 * with redis-cli EVAL.
 */
#ifndef COUP_LUA_SCRIPTS_H
#define COUP_LUA_SCRIPTS_H

extern const char lua_join[];		/* join.lua */
extern const char lua_leave[];		/* leave.lua */
extern const char lua_update[];		/* update.lua */
extern const char lua_snapshot[];	/* snapshot.lua */
extern const char lua_resync[];		/* resync.lua */
extern const char lua_heartbeat[];	/* heartbeat.lua */
extern const char lua_reap[];		/* reap.lua */
extern const char lua_overview[];	/* overview.lua */
extern const char lua_takeover_find[];	/* takeover_find.lua */
extern const char lua_takeover[];	/* takeover.lua */
extern const char lua_pidset[];		/* pidset.lua */
extern const char lua_piddel[];		/* piddel.lua */
extern const char lua_callmark[];	/* callmark.lua */
extern const char lua_callend[];	/* callend.lua */

#endif
