// heap.c -- binary min-heap of fixed-size inline elements (see heap.h).
//
// Element i lives at hp_data + i * hp_esize; its children are 2i+1 and
// 2i+2.  hp_data holds hp_cap + 1 slots: the extra slot at index hp_cap is
// scratch for the element being sifted, so sifting moves each element
// once (a hole travels instead of swapping) and needs no stack buffer of
// unknown size.
//
// setpos, when set, is called every time an element is written to an
// index, with that index: after a push, pop or remove every element's
// last reported position is where it is.  It is never called for the
// scratch slot or for the element that leaves the heap.

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"

#define HEAP_MIN 8

static inline unsigned char *
heap_slot(const mpbi_heap *h, size_t i)
{
	return (h->hp_data + i * h->hp_esize);
}

// Writes the element at src to index i and tells its owner.
static inline void
heap_put(mpbi_heap *h, size_t i, const void *src)
{
	memcpy(heap_slot(h, i), src, h->hp_esize);
	if (h->hp_setpos != NULL) {
		h->hp_setpos(heap_slot(h, i), i);
	}
}

void
mpbi_heap_init(mpbi_heap *h, size_t esize, mpbi_heap_less_fn less,
    mpbi_heap_setpos_fn setpos)
{
	h->hp_data   = NULL;
	h->hp_esize  = esize;
	h->hp_len    = 0;
	h->hp_cap    = 0;
	h->hp_less   = less;
	h->hp_setpos = setpos;
}

void
mpbi_heap_fini(mpbi_heap *h)
{
	free(h->hp_data);
	h->hp_data = NULL;
	h->hp_len  = 0;
	h->hp_cap  = 0;
}

// Reallocates to ncap usable slots plus the scratch slot.
static mpb_err
heap_resize(mpbi_heap *h, size_t ncap)
{
	unsigned char *nd;

	if (h->hp_esize == 0 || ncap >= SIZE_MAX / h->hp_esize) {
		return (MPB_ENOMEM);
	}
	if ((nd = realloc(h->hp_data, (ncap + 1) * h->hp_esize)) == NULL) {
		return (MPB_ENOMEM);
	}
	h->hp_data = nd;
	h->hp_cap  = ncap;
	return (MPB_OK);
}

// The element in the scratch slot goes to the hole at i, moving up past
// every parent it is less than.
static void
heap_sift_up(mpbi_heap *h, size_t i)
{
	const unsigned char *x = heap_slot(h, h->hp_cap);

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!h->hp_less(x, heap_slot(h, p))) {
			break;
		}
		heap_put(h, i, heap_slot(h, p));
		i = p;
	}
	heap_put(h, i, x);
}

// The element in the scratch slot goes to the hole at i, moving down
// while a child is less than it.
static void
heap_sift_down(mpbi_heap *h, size_t i)
{
	const unsigned char *x = heap_slot(h, h->hp_cap);
	size_t               n = h->hp_len;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n) {
			break;
		}
		if (c + 1 < n &&
		    h->hp_less(heap_slot(h, c + 1), heap_slot(h, c))) {
			c++;
		}
		if (!h->hp_less(heap_slot(h, c), x)) {
			break;
		}
		heap_put(h, i, heap_slot(h, c));
		i = c;
	}
	heap_put(h, i, x);
}

mpb_err
mpbi_heap_push(mpbi_heap *h, const void *elem)
{
	mpb_err rv;

	if (h->hp_len == h->hp_cap) {
		size_t ncap = h->hp_cap == 0 ? HEAP_MIN : h->hp_cap * 2;
		if (ncap < h->hp_cap) {
			return (MPB_ENOMEM);
		}
		rv = heap_resize(h, ncap);
		if (rv != MPB_OK) {
			return (rv);
		}
	}
	memcpy(heap_slot(h, h->hp_cap), elem, h->hp_esize);
	h->hp_len++;
	heap_sift_up(h, h->hp_len - 1);
	return (MPB_OK);
}

// Same policy as the deque: halve below a quarter, never below HEAP_MIN,
// and keep the big buffer if the smaller one cannot be had.
static void
heap_maybe_shrink(mpbi_heap *h)
{
	if (h->hp_cap > HEAP_MIN && h->hp_len < h->hp_cap / 4) {
		(void) heap_resize(h, h->hp_cap / 2);
	}
}

void
mpbi_heap_remove(mpbi_heap *h, size_t pos, void *out)
{
	size_t last;

	if (pos >= h->hp_len) {
		return; // caller bug; leave the heap intact
	}
	if (out != NULL) {
		memcpy(out, heap_slot(h, pos), h->hp_esize);
	}
	last = --h->hp_len;
	if (pos != last) {
		// The last element fills the hole.  It may belong above
		// (it came from another subtree) or below, never both.
		memcpy(heap_slot(h, h->hp_cap), heap_slot(h, last),
		    h->hp_esize);
		if (pos > 0 &&
		    h->hp_less(heap_slot(h, h->hp_cap),
		        heap_slot(h, (pos - 1) / 2))) {
			heap_sift_up(h, pos);
		} else {
			heap_sift_down(h, pos);
		}
	}
	heap_maybe_shrink(h);
}

bool
mpbi_heap_pop(mpbi_heap *h, void *out)
{
	if (h->hp_len == 0) {
		return (false);
	}
	mpbi_heap_remove(h, 0, out);
	return (true);
}

void *
mpbi_heap_peek(const mpbi_heap *h)
{
	if (h->hp_len == 0) {
		return (NULL);
	}
	return (h->hp_data);
}

size_t
mpbi_heap_len(const mpbi_heap *h)
{
	return (h->hp_len);
}

void *
mpbi_heap_at(const mpbi_heap *h, size_t pos)
{
	if (pos >= h->hp_len) {
		return (NULL);
	}
	return (heap_slot(h, pos));
}
