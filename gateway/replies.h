/*
 * replies.h - how the gateway answers a client (contract section 5): the
 * error codes, the messages the old server used for them, the `error`
 * event and the acks.  Every refusal goes through replies.c.
 */
#ifndef COUP_REPLIES_H
#define COUP_REPLIES_H

#include <cjson/cJSON.h>

struct gateway;
struct sio_socket;

#include "bounds.h"

/* The codes of the `error` event and of refusing acks (contract 5). */
#define ERR_BAD_REQUEST		"BAD_REQUEST"
#define ERR_NOT_MEMBER		"NOT_MEMBER"
#define ERR_CHECK_FAILED	"MEMBERSHIP_CHECK_FAILED"
#define ERR_NOT_IN_ROOM		"NOT_IN_ROOM"
#define ERR_ROOM_FULL		"ROOM_FULL"
#define ERR_RATE_LIMITED	"RATE_LIMITED"
#define ERR_ROOM_UNAVAILABLE	"ROOM_UNAVAILABLE"
#define ERR_INTERNAL		"INTERNAL"
/* All of them, for the per-code error throttle (clients.c). */
#define ERR_CODES { ERR_BAD_REQUEST, ERR_NOT_MEMBER, ERR_CHECK_FAILED, \
	ERR_NOT_IN_ROOM, ERR_ROOM_FULL, ERR_RATE_LIMITED, \
	ERR_ROOM_UNAVAILABLE, ERR_INTERNAL }
#define ERR_NCODES		8

/* The old server's words (the web app shows them). */
#define MSG_NOT_MEMBER	"접근 권한이 없습니다."
#define MSG_CHECK_FAIL	"멤버십 확인에 실패했습니다."
#define MSG_JOIN_FAIL	"방 입장에 실패했습니다."
/* Ours, in the same language: `coupctl close` closed the room. */
#define MSG_ROOM_CLOSED	"방이 닫혔습니다."
/* Ours, for what the old server did not refuse. */
#define MSG_NOT_IN_VIDEO	"You are not in that video room"
#define MSG_NOT_IN_STUDY	"You are not in that study"
#define MSG_NO_RECIPIENT	"The recipient is not in your video room"
#define MSG_ROOM_FULL		"The video room is full"
#define MSG_RATE_LIMITED	"Too many events; slow down"
#define MSG_QUEUE_FULL		"Too many events waiting; slow down"

/* CONNECT_ERROR messages: the old server's, then ours for what an auth
 * is refused for before the API is asked. */
#define MSG_NO_USER_ID		"Authentication required: userId missing"
#define MSG_REJECTED		"Authentication failed"
#define MSG_INACTIVE		"User not found or inactive"
#define MSG_UNREACHABLE		"Failed to authenticate with server"
#define MSG_BAD_USER_ID		"Authentication failed: userId must be at " \
				"most 128 characters, without control " \
				"characters"
#define MSG_BAD_TOKEN		"Authentication failed: token must be at " \
				"most 8192 characters, without control " \
				"characters"
_Static_assert(BOUND_USER_ID == 128 && BOUND_TOKEN == 8192,
    "the messages above say the bounds");

/* The event "error" {message, code} to the socket alone. */
void	reply_error(struct gateway *, struct sio_socket *, const char *code,
	    const char *message);
/* An ack with one object (taken, also when ack < 0: no ack asked). */
void	reply_ack(struct sio_socket *, long long ack, cJSON *obj);
/* {ok:false, code, message} as the ack. */
void	reply_ack_refused(struct sio_socket *, long long ack,
	    const char *code, const char *message);
/* {ok:true} plus, when key is not NULL, one string field. */
void	reply_ack_ok(struct sio_socket *, long long ack, const char *key,
	    const char *value);

#endif
