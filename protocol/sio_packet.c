/*
 * sio_packet.c - the Socket.IO v5 packet codec (no I/O, no state).
 *
 * Decoding follows socket.io-parser's decodeString() field by field and
 * rejects what it rejects (as of socket.io-parser 4.2.7).  Where JavaScript
 * is loose we are stricter: the attachment count is digits (not "1e1" or
 * " 1"), namespaces and ack ids are bounded, the payload is required
 * wherever the protocol says so (socket.io-parser lets a bare "2" through),
 * an event name must be a string (it also takes a number, which no client
 * sends), the JSON is held to JSON.parse()'s grammar where cJSON is looser,
 * and placeholders are checked as soon as the packet arrives rather than
 * after its attachments.  One limit is looser: SIO_MAX_ATTACHMENTS (64)
 * where socket.io-parser's default maxAttachments is 10.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "sio_packet.h"

/* Event names socket.io-parser refuses: they mean something to the API. */
static const char *const reserved_events[] = {
	"connect", "connect_error", "disconnect", "disconnecting",
	"newListener", "removeListener",
};

/* The deepest tree cJSON builds while parsing, plus the root. */
#define WALK_DEPTH	(CJSON_NESTING_LIMIT + 1)

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_binary_type(enum sio_type type)
{
	return type == SIO_BINARY_EVENT || type == SIO_BINARY_ACK;
}

/*
 * The member of an object named `name`, the last one if the name repeats:
 * JSON.parse() keeps the last duplicate, cJSON_GetObjectItem() the first,
 * and we must judge a placeholder the way the JavaScript peer will.
 */
static const cJSON *
last_member(const cJSON *obj, const char *name)
{
	const cJSON *it, *found = NULL;

	for (it = obj->child; it != NULL; it = it->next)
		if (it->string != NULL && strcmp(it->string, name) == 0)
			found = it;
	return found;
}

/* {"_placeholder":true,...}, the stand-in for a binary attachment. */
static int
is_placeholder(const cJSON *item)
{
	return cJSON_IsObject(item) &&
	    cJSON_IsTrue(last_member(item, "_placeholder"));
}

static int
placeholder_num_ok(const cJSON *item, int attachments)
{
	const cJSON *num = last_member(item, "num");
	double d;

	if (!cJSON_IsNumber(num))
		return 0;
	d = num->valuedouble;
	/* Range first, so the cast is defined (NaN fails both tests). */
	if (!(d >= 0 && d < attachments))
		return 0;
	return d == (double)(int)d;
}

int
sio_check_placeholders(const cJSON *data, int attachments)
{
	const cJSON *resume[WALK_DEPTH];	/* where to go after subtrees */
	const cJSON *it = data, *sibling;
	int depth = 0;

	/*
	 * Depth-first without recursion.  A placeholder is not searched
	 * inside: socket.io-parser replaces it whole with its buffer.
	 */
	for (;;) {
		if (it == NULL) {
			if (depth == 0)
				return 0;
			it = resume[--depth];
			continue;
		}
		sibling = it == data ? NULL : it->next;	/* stay under data */
		if (is_placeholder(it)) {
			if (!placeholder_num_ok(it, attachments))
				return -1;
		} else if ((cJSON_IsArray(it) || cJSON_IsObject(it)) &&
		    it->child != NULL) {
			if (depth == WALK_DEPTH)
				return -1;	/* deeper than cJSON parses */
			resume[depth++] = sibling;
			it = it->child;
			continue;
		}
		it = sibling;
	}
}

static int
is_reserved_event(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(reserved_events) / sizeof(reserved_events[0]);
	    i++)
		if (strcmp(name, reserved_events[i]) == 0)
			return 1;
	return 0;
}

/* What each type may carry; NULL means no payload. */
static const char *
payload_problem(enum sio_type type, const cJSON *data)
{
	const cJSON *first;

	switch (type) {
	case SIO_CONNECT:
		if (data != NULL && !cJSON_IsObject(data))
			return "CONNECT payload is not an object";
		return NULL;
	case SIO_DISCONNECT:
		if (data != NULL)
			return "DISCONNECT carries a payload";
		return NULL;
	case SIO_CONNECT_ERROR:
		if (!cJSON_IsObject(data) && !cJSON_IsString(data))
			return "CONNECT_ERROR payload is not an object or "
			    "string";
		return NULL;
	case SIO_EVENT:
	case SIO_BINARY_EVENT:
		if (!cJSON_IsArray(data))
			return "event payload is not an array";
		first = data->child;
		if (first == NULL)
			return "event payload is an empty array";
		if (!cJSON_IsString(first))
			return "event name is not a string";
		if (is_reserved_event(first->valuestring))
			return "event name is reserved";
		return NULL;
	case SIO_ACK:
	case SIO_BINARY_ACK:
		if (!cJSON_IsArray(data))
			return "ack payload is not an array";
		return NULL;
	}
	return "unknown packet type";
}

#define FAIL(msg) do {							\
	if (why != NULL)						\
		*why = (msg);						\
	sio_packet_clear(p);						\
	return -1;							\
} while (0)

int
sio_decode(const char *buf, size_t len, struct sio_packet *p,
    const char **why)
{
	const char	*s = buf, *end = buf + len, *start, *problem;
	size_t		 n;
	long long	 id;
	int		 count;

	p->type = SIO_CONNECT;
	p->attachments = 0;
	strcpy(p->nsp, "/");
	p->id = SIO_NO_ACK;
	p->data = NULL;

	if (len == 0)
		FAIL("empty packet");
	if (*s < '0' || *s > '0' + SIO_BINARY_ACK)
		FAIL("unknown packet type");
	p->type = (enum sio_type)(*s++ - '0');

	/*
	 * "<n>-": digits, then the dash.  socket.io-parser 4.2.7 also refuses
	 * a count of 0: its encoder only makes a binary packet for binary data.
	 */
	if (is_binary_type(p->type)) {
		for (start = s, count = 0; s < end && is_digit(*s); s++) {
			count = count * 10 + (*s - '0');
			if (count > SIO_MAX_ATTACHMENTS)
				FAIL("too many attachments");
		}
		if (s == start || s == end || *s != '-' || count == 0)
			FAIL("illegal attachments");
		p->attachments = count;
		s++;
	}

	/* "/name," - or "/name" up to the end, as socket.io-parser reads it. */
	if (s < end && *s == '/') {
		start = s;
		while (s < end && *s != ',')
			s++;
		n = (size_t)(s - start);
		if (n > SIO_MAX_NSP_LEN)
			FAIL("namespace too long");
		if (memchr(start, '\0', n) != NULL)
			FAIL("NUL in namespace");
		memcpy(p->nsp, start, n);
		p->nsp[n] = '\0';
		if (s < end)
			s++;		/* the comma */
	}

	if (s < end && is_digit(*s)) {
		for (id = 0; s < end && is_digit(*s); s++) {
			if (id > (SIO_MAX_ACK_ID - (*s - '0')) / 10)
				FAIL("ack id too large");
			id = id * 10 + (*s - '0');
		}
		p->id = id;
	}

	/*
	 * JSON.parse() would take blanks before the value, but socket.io-parser
	 * never gets that far: it reads a leading blank as an ack id digit
	 * ("2 [...]" has id 0 there).  Refusing it beats a different meaning.
	 */
	if (s < end && json_is_blank(*s))
		FAIL("blank before JSON payload");
	if (s < end && (p->data = json_parse_strict(s,
	    (size_t)(end - s))) == NULL)
		FAIL("invalid JSON payload");
	if ((problem = payload_problem(p->type, p->data)) != NULL)
		FAIL(problem);
	if (is_binary_type(p->type) &&
	    sio_check_placeholders(p->data, p->attachments) != 0)
		FAIL("illegal attachment placeholder");
	if (why != NULL)
		*why = NULL;
	return 0;
}

void
sio_packet_clear(struct sio_packet *p)
{
	cJSON_Delete(p->data);
	p->data = NULL;
}

void
sio_encode(struct buf *b, enum sio_type type, const char *nsp, long long id,
    int attachments, const cJSON *data)
{
	char	*json;

	if (type < SIO_CONNECT || type > SIO_BINARY_ACK)
		fatalx("sio_encode: bad packet type %d", (int)type);
	buf_append_byte(b, (uint8_t)('0' + type));
	if (is_binary_type(type))
		buf_printf(b, "%d-", attachments);
	/* socket.io writes the comma even when nothing follows: "1/admin,". */
	if (nsp != NULL && nsp[0] != '\0' && strcmp(nsp, "/") != 0) {
		buf_append_str(b, nsp);
		buf_append_byte(b, ',');
	}
	if (id >= 0)
		buf_printf(b, "%lld", id);
	if (data != NULL) {
		/* NULL is out of memory (or a hand-built invalid item). */
		if ((json = cJSON_PrintUnformatted(data)) == NULL)
			fatalx("sio_encode: cannot print JSON payload");
		buf_append_str(b, json);
		cJSON_free(json);
	}
}
