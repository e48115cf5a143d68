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

static int
is_json_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Length of the JSON number at s, or 0 if it is not one.  cJSON collects
 * any run of "0-9+-.eE" and hands it to strtod(), so it takes "01", "1.",
 * "-.5" and "1e5e5"-style runs that JSON.parse() refuses; the grammar here
 * is JSON's, and the number must end where cJSON's run would.
 */
static size_t
json_number_len(const char *s, size_t len)
{
	static const char run[] = "0123456789+-.eE";
	size_t i = 0;

	if (i < len && s[i] == '-')
		i++;
	if (i == len || !is_digit(s[i]))
		return 0;
	if (s[i] == '0')
		i++;
	else
		while (i < len && is_digit(s[i]))
			i++;
	if (i < len && s[i] == '.') {
		if (++i == len || !is_digit(s[i]))
			return 0;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i == len || !is_digit(s[i]))
			return 0;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && memchr(run, s[i], sizeof(run) - 1) != NULL)
		return 0;
	return i;
}

static int
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * The four hex digits after "\u".  cJSON reads bad ones ("\uthor") as
 * \u0000, which would hand on a string other than the one sent, so they
 * are refused.  (\u0000 itself and lone surrogates are valid JSON that
 * JSON.stringify() writes; soften_escapes() deals with them.)
 */
static int
unicode_escape_ok(const char *s, size_t len)
{
	int i;

	if (len < 4)
		return 0;
	for (i = 0; i < 4; i++)
		if (!is_hex(s[i]))
			return 0;
	return 1;
}

static unsigned
hex4(const char *s)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++)
		v = v * 16 + (unsigned)(is_digit(s[i]) ? s[i] - '0' :
		    (s[i] | 0x20) - 'a' + 10);
	return v;
}

/*
 * Two escapes that JSON.parse() takes and cJSON cannot: \u0000 (it would
 * cut the C string short) and a lone UTF-16 surrogate (cJSON refuses the
 * whole text).  Both become U+FFFD, the replacement character, in place
 * (same length), as a UTF-8 encoder in JavaScript would do with a lone
 * surrogate.  Runs after json_tokens_ok(), so every \u has four hex
 * digits and every string is terminated.
 */
static void
soften_escapes(char *s, size_t len)
{
	int in_string = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"') {
			in_string = !in_string;
			continue;
		}
		if (!in_string || s[i] != '\\')
			continue;
		if (s[++i] != 'u')
			continue;
		unsigned v = hex4(s + i + 1);
		int lone = 0;

		if (v >= 0xd800 && v <= 0xdbff) {
			/* A high surrogate wants a low one right after. */
			if (i + 10 < len && s[i + 5] == '\\' &&
			    s[i + 6] == 'u') {
				unsigned w = hex4(s + i + 7);

				if (w >= 0xdc00 && w <= 0xdfff) {
					i += 10;	/* a good pair */
					continue;
				}
			}
			lone = 1;
		} else if (v >= 0xdc00 && v <= 0xdfff)
			lone = 1;
		if (v == 0 || lone)
			memcpy(s + i + 1, "fffd", 4);
		i += 4;
	}
}

/*
 * The tokens cJSON is looser about than JSON.parse(), the parser the Node
 * server and its clients use: it skips any control character as a blank,
 * keeps raw control characters in strings (a NUL silently cuts a string
 * short), reads a bad \u escape as \u0000, and reads numbers with
 * strtod().  A packet the Node server would close the connection on must
 * not get through here, so strings and numbers are checked first; cJSON
 * then checks the structure.
 */
static int
json_tokens_ok(const char *s, size_t len)
{
	size_t i = 0, n;
	unsigned char c;

	while (i < len) {
		c = (unsigned char)s[i];
		if (c == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				if ((unsigned char)s[i] < 0x20)
					return 0;
				if (s[i] != '\\')
					continue;
				if (++i == len)
					return 0;
				/* cJSON checks the one-letter escapes. */
				if (s[i] == 'u') {
					if (!unicode_escape_ok(s + i + 1,
					    len - i - 1))
						return 0;
					i += 4;
				}
			}
			if (i == len)
				return 0;	/* unterminated */
			i++;
		} else if (c == '-' || is_digit((char)c)) {
			if ((n = json_number_len(s + i, len - i)) == 0)
				return 0;
			i += n;
		} else if (c < 0x20 && !is_json_blank((char)c)) {
			return 0;
		} else
			i++;
	}
	return 1;
}

/*
 * Parse the JSON that ends the packet.  A copy with a NUL gives cJSON the
 * terminated string its whole-input check wants (one value, then only
 * blanks), and keeps it from ever looking past our bytes.
 */
static cJSON *
parse_json(const char *s, size_t len)
{
	cJSON	*json;
	char	*copy;

	if (!json_tokens_ok(s, len))
		return NULL;
	if ((copy = malloc(len + 1)) == NULL)
		fatal("sio_decode: malloc");
	memcpy(copy, s, len);
	copy[len] = '\0';
	soften_escapes(copy, len);
	json = cJSON_ParseWithLengthOpts(copy, len + 1, NULL, 1);
	free(copy);
	return json;
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
	if (s < end && is_json_blank(*s))
		FAIL("blank before JSON payload");
	if (s < end && (p->data = parse_json(s, (size_t)(end - s))) == NULL)
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
