/*
 * fuzz_eio.c - libFuzzer target for the Engine.IO codec.
 *
 * The input is tried as a WebSocket text frame, as a binary frame and as a
 * long-polling payload.  Whatever decodes is encoded again for polling and
 * must decode back to the same packet; a payload that is refused must not
 * have reached the callback or been modified.  Any broken promise aborts,
 * which libFuzzer reports as a crash.  Built with replay_main.c, the same
 * code replays the seed corpus under `make check`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eio_packet.h"
#include "fuzz.h"

static int
same_packet(const struct eio_packet *a, const struct eio_packet *b)
{
	return a->type == b->type && a->binary == b->binary &&
	    a->len == b->len &&
	    (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void
check_sane(const struct eio_packet *p)
{
	CHECK(p->type >= EIO_OPEN && p->type <= EIO_NOOP);
	CHECK(!p->binary || p->type == EIO_MESSAGE);
	CHECK(p->len == 0 || p->data != NULL);
}

/* Collects the packets of one payload walk. */
struct walk {
	struct eio_packet *pkts;
	size_t		 n, cap;
	const uint8_t	*lo, *hi;	/* the body: data must point inside */
	size_t		 stop_at;	/* 1-based; 0 = never stop */
};

static int
collect(void *arg, const struct eio_packet *p)
{
	struct walk *w = arg;

	check_sane(p);
	CHECK(p->len == 0 || (p->data >= w->lo && p->data + p->len <= w->hi));
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 16;
		w->pkts = realloc(w->pkts, w->cap * sizeof(*w->pkts));
		CHECK(w->pkts != NULL);
	}
	w->pkts[w->n++] = *p;
	return w->n == w->stop_at ? 1 : 0;
}

/* Walk a heap copy of exactly len bytes; the copy is returned in *copyp. */
static int
walk_copy(const uint8_t *data, size_t len, struct walk *w, uint8_t **copyp)
{
	uint8_t *copy = malloc(len ? len : 1);

	CHECK(copy != NULL);
	if (len)
		memcpy(copy, data, len);
	w->lo = copy;
	w->hi = copy + len;
	*copyp = copy;
	return eio_decode_payload(copy, len, collect, w);
}

/* Encode one packet for polling; it must decode back unchanged. */
static void
round_trip(const struct eio_packet *p)
{
	struct buf b = BUF_INIT;
	struct eio_packet q;
	struct walk w = { 0 };
	uint8_t *copy;

	eio_encode_polling(&b, p);
	CHECK(b.len == eio_polling_len(p));
	if (p->binary) {
		CHECK(b.len >= 1 && b.data[0] == 'b');
		CHECK(walk_copy(b.data, b.len, &w, &copy) == 0);
		CHECK(w.n == 1 && same_packet(p, &w.pkts[0]));
		free(copy);
		free(w.pkts);
	} else {
		CHECK(eio_decode_frame(b.data, b.len, 0, &q) == 0);
		CHECK(same_packet(p, &q));
	}
	buf_free(&b);
}

static void
fuzz_frames(const uint8_t *data, size_t size)
{
	struct eio_packet p;

	if (eio_decode_frame(data, size, 0, &p) == 0) {
		check_sane(&p);
		CHECK(!p.binary && size >= 1 && p.len == size - 1);
		CHECK(p.len == 0 || p.data == data + 1);
		round_trip(&p);
	}
	CHECK(eio_decode_frame(data, size, 1, &p) == 0);
	CHECK(p.binary && p.type == EIO_MESSAGE && p.len == size);
	round_trip(&p);
}

static void
fuzz_payload(const uint8_t *data, size_t size)
{
	struct walk w = { 0 }, w2 = { 0 };
	struct buf again = BUF_INIT;
	uint8_t *copy, *copy2;
	size_t i;
	int rc;

	rc = walk_copy(data, size, &w, &copy);
	if (rc != 0) {
		/* Refused: checked before any callback, body untouched. */
		CHECK(rc == -1 && w.n == 0);
		CHECK(size == 0 || memcmp(copy, data, size) == 0);
		free(copy);
		free(w.pkts);
		return;
	}
	CHECK(w.n >= 1);

	/* Each packet alone, and the whole payload re-encoded. */
	for (i = 0; i < w.n; i++) {
		round_trip(&w.pkts[i]);
		if (i > 0)
			buf_append_byte(&again, EIO_SEPARATOR);
		eio_encode_polling(&again, &w.pkts[i]);
	}
	CHECK(walk_copy(again.data, again.len, &w2, &copy2) == 0);
	CHECK(w2.n == w.n);
	for (i = 0; i < w.n; i++)
		CHECK(same_packet(&w.pkts[i], &w2.pkts[i]));
	free(copy2);
	free(w2.pkts);
	buf_free(&again);
	free(copy);

	/* Stopping early: the callback's value comes back, nothing after. */
	w2 = (struct walk){ 0 };
	w2.stop_at = 1 + data[0] % w.n;
	rc = walk_copy(data, size, &w2, &copy2);
	CHECK(rc == 1 && w2.n == w2.stop_at);
	free(copy2);
	free(w2.pkts);
	free(w.pkts);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_frames(data, size);
	fuzz_payload(data, size);
	return 0;
}
