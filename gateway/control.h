/*
 * control.h - the gateway's control socket, for coupctl(8).
 *
 * A Unix-domain stream socket (CONTROL_SOCKET, default
 * RUN_DIR/coup-gateway.sock), mode 0660, group CONTROL_GROUP.  A client
 * whose peer credentials (SO_PEERCRED) are neither root, nor the
 * gateway's user, nor a member of the socket's group is refused.
 *
 * The protocol (control_proto.h, shared with coupctl), version
 * CONTROL_VERSION: the client sends one request, one line of JSON, and
 * reads one answer, one line of JSON; then the gateway closes the
 * connection.
 *
 * codes: BAD_VERSION, BAD_REQUEST, UNKNOWN_COMMAND, NOT_FOUND, FAILED,
 * and FORBIDDEN for a peer without permission (then nothing is read).
 * BAD_REQUEST also answers a request that is not one JSON object with
 * each of its three members once, and arguments that are not strings,
 * too many or too few for the command, empty, longer than their kind's
 * CONTROL_*_MAX below, or holding a control character.
 * A client that sends no whole request within CONTROL_IDLE_SECS is
 * dropped.
 * Commands and their data:
 *   status          {version, pid, uptime, mode, logLevel, draining,
 *                    connections, sessions, rooms, roomProcesses,
 *                    roomRestarts, memory:{gateway,rooms}}
 *   rooms           [{name, members, pid, rss, restarts}]
 *   room NAME       {name, pid, members:[{socketId, userId, name,
 *                    transport, isMuted, isVideoOff, isSharingScreen,
 *                    joinedAt}]}
 *   user ID         {userId, connections:[{socketId, transport, peer,
 *                    rooms:[names]}]}
 *   kick SOCKET     {kicked: n}        (args: ["SOCKET"] or ["--user","ID"])
 *   close-room NAME {removed: n}
 *   restart-room NAME {pid: old}       (members stay)
 *   log-level LEVEL {level}
 *   reload          {changed:[keys], restartNeeded:[keys]}
 *   drain           {draining: true, sessions: n}
 *   show-config     {config:[{key, value, source, reloadable}]}
 *   cluster         {node, redis:{address, connected, ...}, nodeTimeoutMs,
 *                    local:{rooms, members, remoteMembers}, counters:{...},
 *                    nodes:[{id, alive, beat, host, port, pid, connections,
 *                    rooms, ...}], rooms:[{name, members, nodes:{id: n}}],
 *                    now}       (FAILED when REDIS_URL is unset)
 */
#ifndef COUP_CONTROL_H
#define COUP_CONTROL_H

struct gateway;

/* Listen on the control socket (none when CONTROL_SOCKET is "off"). */
int	control_start(struct gateway *);
void	control_stop(struct gateway *);

#endif
