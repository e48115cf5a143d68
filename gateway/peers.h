/*
 * peers.h - what the core of the gateway tells, and asks, an observer of
 * its rooms: the other gateways of a cluster (cluster/, multi-server
 * mode).  The core calls the peers_*() functions below and never the
 * observer itself; the observer fills a struct peer_hooks and registers
 * it from main.c at start.  With nothing registered (one server, no
 * REDIS_URL) every call does nothing or answers "no peers", so the core
 * has no "if clustered" of its own.
 *
 * The same shape as a transport meeting a core through a struct of
 * callbacks: the core does not know Redis exists.
 */
#ifndef COUP_PEERS_H
#define COUP_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct buf;
struct client;
struct gateway;
struct membership;
struct room;
struct sio_bins;
struct sio_socket;

/* What peers say to a join (peers_admit). */
enum peers_admit {
	PEERS_ADMITTED,		/* the peers have the member too */
	PEERS_FULL,		/* the room is full across the cluster */
	PEERS_LOCAL,		/* they cannot answer now: join here only */
};
typedef void	(*peers_admit_cb)(void *arg, enum peers_admit);
/* A replayed member for a new room process: its IPC_JOIN body. */
typedef void	(*peers_push_cb)(void *arg, uint64_t conn, const void *body,
		    size_t len);
/* A call's start (ms since epoch, 0: unknown) and peak (peers_call_*). */
typedef void	(*peers_call_cb)(void *arg, long long started, unsigned peak);

struct peer_hooks {
	/* A join of room (whose cap is max) must be admitted: cb later,
	 * never from inside. */
	void	(*admit)(void *ctx, struct client *, const char *room,
		    unsigned max, peers_admit_cb cb, void *arg);
	/* Members of the room elsewhere; is socket_id one of them? */
	unsigned (*remote_count)(void *ctx, const char *room);
	int	(*has_member)(void *ctx, const char *room,
		    const char *socket_id);
	/* Has user_id a connection in the room elsewhere? */
	int	(*has_user)(void *ctx, const char *room, const char *user_id);
	/* A checked event of a local client for the room (payload parsed
	 * and as written; msg_id: chat's; guest: not a member). */
	void	(*event)(void *ctx, const char *room, struct client *,
		    int event, int guest, const char *msg_id,
		    const cJSON *payload, const char *raw, size_t raw_len,
		    const struct sio_bins *);
	/* A local member joined, or is leaving (still linked). */
	void	(*member_joined)(void *ctx, struct membership *);
	void	(*member_left)(void *ctx, struct room *, struct client *,
		    int reason);
	/* A new room process must hear the members elsewhere too. */
	void	(*replay)(void *ctx, struct room *, peers_push_cb, void *arg);
	/* For /metrics and coupctl: a JSON object (the caller's), and the
	 * Prometheus samples. */
	cJSON	*(*status)(void *ctx);
	void	(*prometheus)(void *ctx, struct buf *);
	/* Leaving for good (the gateway stops). */
	void	(*stop)(void *ctx);
	/*
	 * Sessions that move between gateways (connection state recovery).
	 * A client was accepted (with a pid) or is gone for good; a socket
	 * gone before it was accepted.  take_over: an authenticated socket
	 * presented a pid no session here has: 1 if the peers will finish
	 * it (client_adopted() or, when the session is nowhere, client_new(),
	 * later), 0 to accept it as new now.
	 */
	void	(*accepted)(void *ctx, struct client *);
	void	(*gone)(void *ctx, struct client *);
	void	(*socket_gone)(void *ctx, struct sio_socket *);
	int	(*take_over)(void *ctx, struct sio_socket *, const cJSON *user,
		    const char *pid, uint64_t offset);
	/*
	 * A call's start and peak, shared (webhooks): call_joined marks a
	 * join with the members now; call_finished takes them back once,
	 * cb later (started 0: unknown), or returns -1 when it cannot ask.
	 */
	void	(*call_joined)(void *ctx, const char *room, unsigned members);
	int	(*call_finished)(void *ctx, const char *room,
		    peers_call_cb cb, void *arg);
};

/* main.c, through the observer's start function. */
void	 peers_register(struct gateway *, const struct peer_hooks *,
	    void *ctx);

/* Whether there are peers at all (REDIS_URL set). */
int	 peers_active(const struct gateway *);
void	 peers_admit(struct gateway *, struct client *, const char *room,
	    unsigned max, peers_admit_cb, void *arg);
unsigned peers_remote_count(struct gateway *, const char *room);
int	 peers_has_member(struct gateway *, const char *room,
	    const char *socket_id);
int	 peers_has_user(struct gateway *, const char *room,
	    const char *user_id);
void	 peers_event(struct gateway *, const char *room, struct client *,
	    int event, int guest, const char *msg_id, const cJSON *payload,
	    const char *raw, size_t raw_len, const struct sio_bins *);
void	 peers_member_joined(struct gateway *, struct membership *);
void	 peers_member_left(struct gateway *, struct room *, struct client *,
	    int reason);
void	 peers_replay(struct gateway *, struct room *, peers_push_cb,
	    void *arg);
/* NULL when there are no peers. */
cJSON	*peers_status(struct gateway *);
void	 peers_prometheus(struct gateway *, struct buf *);
void	 peers_accepted(struct gateway *, struct client *);
void	 peers_gone(struct gateway *, struct client *);
void	 peers_socket_gone(struct gateway *, struct sio_socket *);
int	 peers_take_over(struct gateway *, struct sio_socket *,
	    const cJSON *user, const char *pid, uint64_t offset);
void	 peers_call_joined(struct gateway *, const char *room,
	    unsigned members);
int	 peers_call_finished(struct gateway *, const char *room,
	    peers_call_cb, void *arg);
/* The observer leaves, and is forgotten. */
void	 peers_stop(struct gateway *);

#endif
