// chunkq.c -- byte strings packed in a list of chunks (see chunkq.h).
//
// An entry, front to back:
//
//   varint H          H = value length << 1 | (delivery count != 0)
//   varint D          the delivery count, only when H's low bit is set
//   value bytes
//   reverse varint F  F = the size of the three fields above
//
// Varints are LEB128 (7 bits a byte, low bits first, high bit = more).
// The trailing F is written backwards (its last byte holds the low bits
// and the high bit means "more bytes before"), so an entry can be found
// from its end: that is how the back is peeked and dropped.  A value of
// under 64 bytes with no deliveries costs 2 bytes beyond itself, as
// Redis's listpack entries do.
//
// Invariants: every chunk on the list holds at least one entry, in
// ck_data[ck_head, ck_tail); a chunk that empties leaves the list at once.
// The spare, when there is one, is a standard chunk (CHUNK_CAP bytes).

#include <stdlib.h>
#include <string.h>

#include "chunkq.h"

struct chunkq_chunk {
	// ck_link[MPBI_CHUNKQ_FRONT] is the neighbour towards the front,
	// ck_link[MPBI_CHUNKQ_BACK] towards the back (NULL at the ends): one
	// piece of code then serves both ends.
	chunkq_chunk *ck_link[2];
	uint32_t      ck_cap;  // bytes of ck_data
	uint32_t      ck_head; // first byte in use
	uint32_t      ck_tail; // one past the last byte in use
	uint8_t       ck_data[];
};

#define FRONT MPBI_CHUNKQ_FRONT
#define BACK MPBI_CHUNKQ_BACK
#define OTHER(e) ((e) == FRONT ? BACK : FRONT)

// A standard chunk is one 4 KiB malloc block: glibc adds an 8-byte
// header and rounds to 16 bytes, so ask for 16 less.
#define CHUNK_ALLOC 4080
#define CHUNK_HDR offsetof(chunkq_chunk, ck_data)
#define CHUNK_CAP (CHUNK_ALLOC - CHUNK_HDR)

static size_t
varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return (n);
}

// Writes v as a varint from p[0] on, one byte a step of `step` (1:
// forwards; -1: backwards, for the trailer).  Returns the bytes written.
static size_t
varint_write(uint8_t *p, ptrdiff_t step, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[(ptrdiff_t) n++ * step] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	p[(ptrdiff_t) n++ * step] = (uint8_t) v;
	return (n);
}

// Reads a varint written by varint_write with the same step; returns its
// size in bytes.
static size_t
varint_read(const uint8_t *p, ptrdiff_t step, uint64_t *vp)
{
	uint64_t v = 0;
	size_t   n = 0;
	uint8_t  b;

	do {
		b = p[(ptrdiff_t) n * step];
		v |= (uint64_t) (b & 0x7f) << (7 * n);
		n++;
	} while ((b & 0x80) != 0);
	*vp = v;
	return (n);
}

// The size of the fields before the trailer (F in the format above).
static size_t
entry_body(size_t len, uint32_t deliveries)
{
	uint64_t h = (uint64_t) len << 1 | (deliveries != 0);

	return (varint_size(h) + (deliveries != 0 ? varint_size(deliveries) : 0) +
	    len);
}

static size_t
entry_size(size_t len, uint32_t deliveries)
{
	size_t f = entry_body(len, deliveries);

	return (f + varint_size(f));
}

static void
entry_write(uint8_t *p, const void *data, size_t len, uint32_t deliveries)
{
	size_t f = varint_write(p, 1, (uint64_t) len << 1 | (deliveries != 0));

	if (deliveries != 0) {
		f += varint_write(p + f, 1, deliveries);
	}
	memcpy(p + f, data, len);
	f += len;
	// The trailer's first byte (the low bits) is its last in memory.
	(void) varint_write(p + f + varint_size(f) - 1, -1, f);
}

// Reads the entry at p into *v; returns its whole size.
static size_t
entry_read(const uint8_t *p, mpbi_chunkq_view *v)
{
	uint64_t h;
	uint64_t d = 0;
	size_t   f = varint_read(p, 1, &h);

	if ((h & 1) != 0) {
		f += varint_read(p + f, 1, &d);
	}
	v->cv_data       = p + f;
	v->cv_len        = (size_t) (h >> 1);
	v->cv_deliveries = (uint32_t) d;
	f += v->cv_len;
	return (f + varint_size(f));
}

// The start of the entry that ends just before `end`.
static const uint8_t *
entry_before(const uint8_t *end)
{
	uint64_t f;
	size_t   n = varint_read(end - 1, -1, &f);

	return (end - n - f);
}

void
mpbi_chunkq_init(mpbi_chunkq *q)
{
	q->cq_end[FRONT] = NULL;
	q->cq_end[BACK]  = NULL;
	q->cq_spare      = NULL;
	q->cq_len        = 0;
}

void
mpbi_chunkq_fini(mpbi_chunkq *q)
{
	chunkq_chunk *c = q->cq_end[FRONT];
	chunkq_chunk *next;

	while (c != NULL) {
		next = c->ck_link[BACK];
		free(c);
		c = next;
	}
	free(q->cq_spare);
	mpbi_chunkq_init(q);
}

// An empty chunk with room for an entry of `need` bytes: the spare, a
// standard chunk, or one sized to fit.  NULL when out of memory.
static chunkq_chunk *
chunk_get(mpbi_chunkq *q, size_t need)
{
	chunkq_chunk *c;
	size_t        cap = need > CHUNK_CAP ? need : CHUNK_CAP;

	if (cap == CHUNK_CAP && q->cq_spare != NULL) {
		c           = q->cq_spare;
		q->cq_spare = NULL;
		return (c);
	}
	if ((c = malloc(CHUNK_HDR + cap)) != NULL) {
		c->ck_cap = (uint32_t) cap;
	}
	return (c);
}

// Links c in as the new chunk at end e.
static void
chunk_link(mpbi_chunkq *q, chunkq_chunk *c, mpbi_chunkq_end e)
{
	c->ck_link[e]        = NULL;
	c->ck_link[OTHER(e)] = q->cq_end[e];
	if (q->cq_end[e] != NULL) {
		q->cq_end[e]->ck_link[e] = c;
	} else {
		q->cq_end[OTHER(e)] = c;
	}
	q->cq_end[e] = c;
}

// Unlinks c, which has just emptied, and keeps it as the spare or frees
// it.
static void
chunk_release(mpbi_chunkq *q, chunkq_chunk *c)
{
	for (int e = FRONT; e <= BACK; e++) {
		chunkq_chunk *near = c->ck_link[e];
		chunkq_chunk *far  = c->ck_link[OTHER(e)];

		if (near != NULL) {
			near->ck_link[OTHER(e)] = far;
		} else {
			q->cq_end[e] = far;
		}
	}
	if (c->ck_cap == CHUNK_CAP && q->cq_spare == NULL) {
		q->cq_spare = c;
	} else {
		free(c);
	}
}

// Bytes free at end e of chunk c.
static size_t
chunk_room(const chunkq_chunk *c, mpbi_chunkq_end e)
{
	return (e == FRONT ? c->ck_head : c->ck_cap - c->ck_tail);
}

mpb_err
mpbi_chunkq_push(mpbi_chunkq *q, mpbi_chunkq_end e, const void *data,
    size_t len, uint32_t deliveries)
{
	chunkq_chunk *c = q->cq_end[e];
	size_t        n;

	if (len > MPBI_CHUNKQ_MAX_VALUE) {
		return (MPB_ENOMEM);
	}
	n = entry_size(len, deliveries);
	if (c == NULL || chunk_room(c, e) < n) {
		if ((c = chunk_get(q, n)) == NULL) {
			return (MPB_ENOMEM);
		}
		// A new back chunk fills from its start up, a new front
		// chunk from its end down.
		c->ck_head = e == FRONT ? c->ck_cap : 0;
		c->ck_tail = c->ck_head;
		chunk_link(q, c, e);
	}
	if (e == FRONT) {
		c->ck_head -= (uint32_t) n;
		entry_write(c->ck_data + c->ck_head, data, len, deliveries);
	} else {
		entry_write(c->ck_data + c->ck_tail, data, len, deliveries);
		c->ck_tail += (uint32_t) n;
	}
	q->cq_len++;
	return (MPB_OK);
}

// The start of the entry at end e of chunk c (which holds one).
static const uint8_t *
entry_at(const chunkq_chunk *c, mpbi_chunkq_end e)
{
	return (e == FRONT ? c->ck_data + c->ck_head
	                   : entry_before(c->ck_data + c->ck_tail));
}

bool
mpbi_chunkq_peek(const mpbi_chunkq *q, mpbi_chunkq_end e, mpbi_chunkq_view *v)
{
	const chunkq_chunk *c = q->cq_end[e];

	if (c == NULL) {
		return (false);
	}
	(void) entry_read(entry_at(c, e), v);
	return (true);
}

size_t
mpbi_chunkq_drop(mpbi_chunkq *q, mpbi_chunkq_end e)
{
	chunkq_chunk    *c     = q->cq_end[e];
	const uint8_t   *start = entry_at(c, e);
	size_t           n;
	mpbi_chunkq_view v;

	n = entry_read(start, &v);
	if (e == FRONT) {
		c->ck_head += (uint32_t) n;
	} else {
		c->ck_tail = (uint32_t) (start - c->ck_data);
	}
	q->cq_len--;
	if (c->ck_head == c->ck_tail) {
		chunk_release(q, c);
	}
	return (v.cv_len);
}

size_t
mpbi_chunkq_len(const mpbi_chunkq *q)
{
	return (q->cq_len);
}

size_t
mpbi_chunkq_chunks(const mpbi_chunkq *q)
{
	size_t n = q->cq_spare != NULL ? 1 : 0;

	for (const chunkq_chunk *c = q->cq_end[FRONT]; c != NULL;
	     c = c->ck_link[BACK]) {
		n++;
	}
	return (n);
}

void
mpbi_chunkq_iter_init(const mpbi_chunkq *q, mpbi_chunkq_iter *it)
{
	it->ci_chunk = q->cq_end[FRONT];
	it->ci_off   = it->ci_chunk != NULL ? it->ci_chunk->ck_head : 0;
}

bool
mpbi_chunkq_iter_next(mpbi_chunkq_iter *it, mpbi_chunkq_view *v)
{
	const chunkq_chunk *c = it->ci_chunk;

	if (c != NULL && it->ci_off == c->ck_tail) {
		c            = c->ck_link[BACK];
		it->ci_chunk = c;
		it->ci_off   = c != NULL ? c->ck_head : 0;
	}
	if (c == NULL) {
		return (false);
	}
	it->ci_off += entry_read(c->ck_data + it->ci_off, v);
	return (true);
}
