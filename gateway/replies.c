/*
 * replies.c - the `error` event and the acks (contract section 5), in one
 * place: every refusal has a stable code and goes to its sender alone.
 */
#include "gateway.h"
#include "log.h"
#include "replies.h"
#include "sio_server.h"

void
reply_error(struct gateway *gw, struct sio_socket *s, const char *code,
    const char *message)
{
	cJSON *err = cJSON_CreateObject();	/* xmalloc's hooks: not NULL */

	gw->stats.errors++;
	cJSON_AddStringToObject(err, "message", message);
	cJSON_AddStringToObject(err, "code", code);
	sio_emit(s, "error", err, NULL);
	cJSON_Delete(err);
}

void
reply_ack(struct sio_socket *s, long long ack, cJSON *obj)
{
	cJSON *args;

	if (ack < 0) {
		cJSON_Delete(obj);
		return;
	}
	args = cJSON_CreateArray();
	cJSON_AddItemToArray(args, obj);
	sio_ack(s, ack, args, NULL);
	cJSON_Delete(args);
}

void
reply_ack_refused(struct sio_socket *s, long long ack, const char *code,
    const char *message)
{
	cJSON *a;

	if (ack < 0)
		return;
	a = cJSON_CreateObject();
	cJSON_AddFalseToObject(a, "ok");
	cJSON_AddStringToObject(a, "code", code);
	cJSON_AddStringToObject(a, "message", message);
	reply_ack(s, ack, a);
}

void
reply_ack_ok(struct sio_socket *s, long long ack, const char *key,
    const char *value)
{
	cJSON *a;

	if (ack < 0)
		return;
	a = cJSON_CreateObject();
	cJSON_AddTrueToObject(a, "ok");
	if (key != NULL)
		cJSON_AddStringToObject(a, key, value);
	reply_ack(s, ack, a);
}
