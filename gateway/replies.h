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

/* The old server's words (the web app shows them). */
#define MSG_NOT_MEMBER	"접근 권한이 없습니다."
#define MSG_CHECK_FAIL	"멤버십 확인에 실패했습니다."
#define MSG_JOIN_FAIL	"방 입장에 실패했습니다."

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
