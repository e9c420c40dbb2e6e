// deque.h -- a growable ring buffer of pointers: O(1) push and pop at both
// ends, O(1) access by index.  Backs the fifo and lifo queues.
//
// The deque stores pointers only and never frees what they point to; its
// owner does.  It grows by doubling and shrinks by half when it falls
// below a quarter full, so memory follows the standing depth.

#ifndef MPBI_DEQUE_H
#define MPBI_DEQUE_H

#include <stddef.h>

#include "mpb_err.h"

typedef struct mpbi_deque {
	void **dq_buf;  // dq_cap slots, a power of two (or NULL when 0)
	size_t dq_head; // index of the first element
	size_t dq_len;  // number of elements
	size_t dq_cap;
} mpbi_deque;

void mpbi_deque_init(mpbi_deque *d);
// Frees the slots, not the elements.
void mpbi_deque_fini(mpbi_deque *d);

// Push: MPB_OK, or MPB_ENOMEM with the deque unchanged.
mpb_err mpbi_deque_push_back(mpbi_deque *d, void *p);
mpb_err mpbi_deque_push_front(mpbi_deque *d, void *p);
// Pop: the element, or NULL when empty.
void *mpbi_deque_pop_front(mpbi_deque *d);
void *mpbi_deque_pop_back(mpbi_deque *d);
// The i-th element from the front (i < len), not removed.
void  *mpbi_deque_at(const mpbi_deque *d, size_t i);
size_t mpbi_deque_len(const mpbi_deque *d);

#endif // MPBI_DEQUE_H
