/*
 * checks.c - input from outside, checked once, where it enters.
 *
 * One table says what each CoUp event's payload holds (contract section
 * 6): which fields, of which kind.  events.c runs it on what a client
 * sends before anything else happens, and the cluster on what a Redis
 * peer publishes before it reaches a room process, so both are held to
 * the same rules and the same bounds.h limits that coup-roomd relies on.
 * User objects get the same care: the CoUp API's are trimmed to size
 * (the user still gets in), a peer's are refused when too large.
 */
#include <stdio.h>
#include <string.h>

#include "checks.h"
#include "json.h"
#include "log.h"

enum kind {
	K_ID,		/* check_id() */
	K_BOOL,
	K_CHAT,		/* a string of at most CHAT_MAX_LENGTH characters */
	K_SHORT,	/* a string of at most BOUND_STATUS_CHARS characters */
	K_OBJECT,
	K_ARRAY,
	K_ANY,		/* present: anything (an SDP, a candidate) */
};

struct field {
	const char	*name;
	enum kind	 kind;
	int		 optional;
};

#define FIELDS_MAX	3

static const struct spec {
	const char	*event;
	struct field	 f[FIELDS_MAX];
} specs[] = {
	{ "video:join-room", { { "studyId", K_ID, 0 }, { "roomId", K_ID, 0 } } },
	{ "video:leave-room", { { "roomId", K_ID, 0 } } },
	{ "video:offer", { { "to", K_ID, 0 }, { "offer", K_ANY, 0 } } },
	{ "video:answer", { { "to", K_ID, 0 }, { "answer", K_ANY, 0 } } },
	{ "video:ice-candidate",
	    { { "to", K_ID, 0 }, { "candidate", K_ANY, 0 } } },
	{ "video:toggle-audio",
	    { { "roomId", K_ID, 0 }, { "isMuted", K_BOOL, 0 } } },
	{ "video:toggle-video",
	    { { "roomId", K_ID, 0 }, { "isVideoOff", K_BOOL, 0 } } },
	{ "video:screen-share-start", { { "roomId", K_ID, 0 } } },
	{ "video:screen-share-stop", { { "roomId", K_ID, 0 } } },
	{ "video:speaking",
	    { { "roomId", K_ID, 0 }, { "speaking", K_BOOL, 0 } } },
	{ "video:get-ice-servers", { { "roomId", K_ID, 1 } } },
	{ "chat:send-message", { { "studyId", K_ID, 0 },
	    { "message", K_CHAT, 0 }, { "type", K_SHORT, 1 } } },
	{ "chat:video-message",
	    { { "roomId", K_ID, 0 }, { "message", K_CHAT, 0 } } },
	{ "chat:video-file",
	    { { "roomId", K_ID, 0 }, { "file", K_OBJECT, 0 } } },
	{ "chat:file-uploaded",
	    { { "studyId", K_ID, 0 }, { "file", K_OBJECT, 0 } } },
	{ "chat:typing",
	    { { "studyId", K_ID, 0 }, { "isTyping", K_BOOL, 0 } } },
	{ "chat:mark-read", { { "messageIds", K_ARRAY, 0 } } },
	{ "presence:join-study", { { "studyId", K_ID, 0 } } },
	{ "presence:leave-study", { { "studyId", K_ID, 0 } } },
	{ "presence:status-change", { { "status", K_SHORT, 0 } } },
};

size_t
check_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

int
check_id_text(const char *s, size_t max)
{
	size_t n = 0;

	/* Ids become room names, Redis keys, URL segments and log text:
	 * no control characters in them. */
	for (; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f || n >= max)
			return -1;
	return n > 0 ? 0 : -1;
}

int
check_id(const cJSON *p, const char *field, check_id_t out, char *why,
    size_t whylen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, field);
	long long n;

	if (cJSON_IsString(v) && check_id_text(v->valuestring, BOUND_ID) == 0) {
		strcpy(out, v->valuestring);
		return 0;
	}
	if (cJSON_IsNumber(v) && json_safe_integer(v->valuedouble, &n) == 0) {
		snprintf(out, sizeof(check_id_t), "%lld", n);
		return 0;
	}
	if (why != NULL)
		snprintf(why, whylen, "%s must be a non-empty string of at most "
		    "%d characters", field, BOUND_ID);
	return -1;
}

static int
check_text(const cJSON *v, const char *field, size_t max, char *why,
    size_t whylen)
{
	if (!cJSON_IsString(v)) {
		snprintf(why, whylen, "%s must be a string", field);
		return -1;
	}
	if (check_chars(v->valuestring) > max) {
		snprintf(why, whylen, "%s is longer than %zu characters", field,
		    max);
		return -1;
	}
	return 0;
}

static int
check_field(const cJSON *p, const struct field *f, size_t chat_max,
    char *why, size_t whylen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, f->name);
	check_id_t id;

	if (v == NULL) {
		if (f->optional)
			return 0;
		if (f->kind == K_ANY) {
			snprintf(why, whylen, "%s is missing", f->name);
			return -1;
		}
	}
	switch (f->kind) {
	case K_ID:
		return check_id(p, f->name, id, why, whylen);
	case K_BOOL:
		if (cJSON_IsBool(v))
			return 0;
		snprintf(why, whylen, "%s must be true or false", f->name);
		return -1;
	case K_CHAT:
		return check_text(v, f->name, chat_max, why, whylen);
	case K_SHORT:
		return check_text(v, f->name, BOUND_STATUS_CHARS, why, whylen);
	case K_OBJECT:
		if (cJSON_IsObject(v))
			return 0;
		snprintf(why, whylen, "%s must be an object", f->name);
		return -1;
	case K_ARRAY:
		if (cJSON_IsArray(v))
			return 0;
		snprintf(why, whylen, "%s must be an array", f->name);
		return -1;
	case K_ANY:
		return 0;
	}
	return 0;
}

int
check_payload(const char *event, const cJSON *payload, size_t chat_max,
    char *why, size_t whylen)
{
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		if (strcmp(specs[i].event, event) != 0)
			continue;
		if (!cJSON_IsObject(payload)) {
			snprintf(why, whylen, "the payload must be an object");
			return -1;
		}
		for (int k = 0; k < FIELDS_MAX && specs[i].f[k].name; k++)
			if (check_field(payload, &specs[i].f[k], chat_max, why,
			    whylen) < 0)
				return -1;
		return 0;
	}
	return 0;
}

/* The printed size of v, or SIZE_MAX if it cannot be printed. */
static size_t
printed_len(const cJSON *v)
{
	char *text = cJSON_PrintUnformatted(v);
	size_t n;

	if (text == NULL)
		return (size_t)-1;
	n = strlen(text);
	cJSON_free(text);
	return n;
}

int
check_user(const cJSON *user)
{
	return cJSON_IsObject(user) && printed_len(user) <= BOUND_USER_JSON ?
	    0 : -1;
}

int
check_api_user(cJSON *user)
{
	static const char *const fields[] = { "name", "email", "avatar" };
	int dropped = 0;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		cJSON *v = cJSON_GetObjectItemCaseSensitive(user, fields[i]);
		size_t n;

		if (v == NULL || (n = printed_len(v)) <= BOUND_USER_FIELD)
			continue;
		log_warnx("CoUp API: the user's %s is %zu bytes (more than "
		    "%d); handed on as null", fields[i], n, BOUND_USER_FIELD);
		cJSON_ReplaceItemInObjectCaseSensitive(user, fields[i],
		    cJSON_CreateNull());
		dropped++;
	}
	return dropped;
}
