/*
 * replies.c - the `error` event and the acks (contract section 5), in one
 * place: every refusal has a stable code and goes to its sender alone.
 */
#include "gateway.h"
#include "log.h"
#include "replies.h"
#include "sio_server.h"

static cJSON *
object(void)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		fatalx("cJSON: out of memory");
	return o;
}

static void
add_string(cJSON *o, const char *key, const char *value)
{
	if (cJSON_AddStringToObject(o, key, value) == NULL)
		fatalx("cJSON: out of memory");
}

void
reply_error(struct gateway *gw, struct sio_socket *s, const char *code,
    const char *message)
{
	cJSON *err = object();

	gw->stats.errors++;
	add_string(err, "message", message);
	add_string(err, "code", code);
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
	if ((args = cJSON_CreateArray()) == NULL)
		fatalx("cJSON: out of memory");
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
	a = object();
	cJSON_AddFalseToObject(a, "ok");
	add_string(a, "code", code);
	add_string(a, "message", message);
	reply_ack(s, ack, a);
}

void
reply_ack_ok(struct sio_socket *s, long long ack, const char *key,
    const char *value)
{
	cJSON *a;

	if (ack < 0)
		return;
	a = object();
	cJSON_AddTrueToObject(a, "ok");
	if (key != NULL)
		add_string(a, key, value);
	reply_ack(s, ack, a);
}
