// deque.c -- growable ring buffer of pointers (see deque.h).
//
// Invariants: dq_cap is 0 (dq_buf NULL) or a power of two >= DEQUE_MIN;
// the elements are dq_buf[(dq_head + i) & (dq_cap - 1)] for i < dq_len.
// Once allocated the buffer never goes below DEQUE_MIN slots, so a queue
// that hovers around empty does not malloc and free on every push/pop.

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deque.h"

#define DEQUE_MIN 8

void
mpbi_deque_init(mpbi_deque *d)
{
	d->dq_buf  = NULL;
	d->dq_head = 0;
	d->dq_len  = 0;
	d->dq_cap  = 0;
}

void
mpbi_deque_fini(mpbi_deque *d)
{
	free(d->dq_buf);
	mpbi_deque_init(d);
}

// Moves the elements into a fresh buffer of ncap slots (ncap >= len),
// unwrapped so the head lands at index 0.  The deque is untouched when
// the allocation fails.
static mpb_err
deque_resize(mpbi_deque *d, size_t ncap)
{
	void **nbuf;
	size_t first;

	if (ncap > SIZE_MAX / sizeof(void *)) {
		return (MPB_ENOMEM);
	}
	if ((nbuf = malloc(ncap * sizeof(void *))) == NULL) {
		return (MPB_ENOMEM);
	}
	if (d->dq_len > 0) {
		// Two runs: head to the end of the buffer, then the wrapped
		// part from slot 0.
		first = d->dq_cap - d->dq_head;
		if (first > d->dq_len) {
			first = d->dq_len;
		}
		memcpy(nbuf, d->dq_buf + d->dq_head, first * sizeof(void *));
		if (first < d->dq_len) {
			memcpy(nbuf + first, d->dq_buf,
			    (d->dq_len - first) * sizeof(void *));
		}
	}
	free(d->dq_buf);
	d->dq_buf  = nbuf;
	d->dq_head = 0;
	d->dq_cap  = ncap;
	return (MPB_OK);
}

static mpb_err
deque_reserve_one(mpbi_deque *d)
{
	if (d->dq_len < d->dq_cap) {
		return (MPB_OK);
	}
	if (d->dq_cap == 0) {
		return (deque_resize(d, DEQUE_MIN));
	}
	if (d->dq_cap > SIZE_MAX / 2) {
		return (MPB_ENOMEM);
	}
	return (deque_resize(d, d->dq_cap * 2));
}

// Called after a pop.  Halving at a quarter leaves the deque half full, so
// a push right after a shrink never has to grow again (no thrashing), and
// each resize is paid for by the cap/8 or more pops or pushes before it.
static void
deque_maybe_shrink(mpbi_deque *d)
{
	if (d->dq_cap > DEQUE_MIN && d->dq_len < d->dq_cap / 4) {
		// Failure is harmless: we just keep the bigger buffer.
		(void) deque_resize(d, d->dq_cap / 2);
	}
}

mpb_err
mpbi_deque_push_back(mpbi_deque *d, void *p)
{
	mpb_err rv;

	rv = deque_reserve_one(d);
	if (rv != MPB_OK) {
		return (rv);
	}
	d->dq_buf[(d->dq_head + d->dq_len) & (d->dq_cap - 1)] = p;
	d->dq_len++;
	return (MPB_OK);
}

mpb_err
mpbi_deque_push_front(mpbi_deque *d, void *p)
{
	mpb_err rv;

	rv = deque_reserve_one(d);
	if (rv != MPB_OK) {
		return (rv);
	}
	// Unsigned wraparound of head - 1 is well defined; the mask folds it
	// back into the buffer.
	d->dq_head = (d->dq_head - 1) & (d->dq_cap - 1);
	d->dq_buf[d->dq_head] = p;
	d->dq_len++;
	return (MPB_OK);
}

void *
mpbi_deque_pop_front(mpbi_deque *d)
{
	void *p;

	if (d->dq_len == 0) {
		return (NULL);
	}
	p          = d->dq_buf[d->dq_head];
	d->dq_head = (d->dq_head + 1) & (d->dq_cap - 1);
	d->dq_len--;
	deque_maybe_shrink(d);
	return (p);
}

void *
mpbi_deque_pop_back(mpbi_deque *d)
{
	void *p;

	if (d->dq_len == 0) {
		return (NULL);
	}
	d->dq_len--;
	p = d->dq_buf[(d->dq_head + d->dq_len) & (d->dq_cap - 1)];
	deque_maybe_shrink(d);
	return (p);
}

void *
mpbi_deque_at(const mpbi_deque *d, size_t i)
{
	// Out of range is a caller bug; NULL is safer than reading a stale
	// slot.
	if (i >= d->dq_len) {
		return (NULL);
	}
	return (d->dq_buf[(d->dq_head + i) & (d->dq_cap - 1)]);
}

size_t
mpbi_deque_len(const mpbi_deque *d)
{
	return (d->dq_len);
}
