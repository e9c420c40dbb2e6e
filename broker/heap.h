// heap.h -- a binary min-heap of fixed-size elements stored inline.
//
// Used for the priority queue (elements {priority, sequence, item}) and
// the broker's deadline heap (elements are waiter pointers).  Elements are
// copied in and out with memcpy; `less` orders them.  If `setpos` is not
// NULL it is called with every element's new index whenever an element
// moves, so an owner can remove any element in O(log n) (beanstalkd's
// heap, used for timeouts and cancellations).

#ifndef MPBI_HEAP_H
#define MPBI_HEAP_H

#include <stdbool.h>
#include <stddef.h>

#include "mpb_err.h"

typedef bool (*mpbi_heap_less_fn)(const void *a, const void *b);
typedef void (*mpbi_heap_setpos_fn)(void *elem, size_t pos);

typedef struct mpbi_heap {
	unsigned char      *hp_data;
	size_t              hp_esize; // bytes per element
	size_t              hp_len;
	size_t              hp_cap;
	mpbi_heap_less_fn   hp_less;
	mpbi_heap_setpos_fn hp_setpos; // may be NULL
} mpbi_heap;

void mpbi_heap_init(mpbi_heap *h, size_t esize, mpbi_heap_less_fn less,
    mpbi_heap_setpos_fn setpos);
void mpbi_heap_fini(mpbi_heap *h); // frees storage, not what elements point to

// Copies esize bytes from elem in.  MPB_OK or MPB_ENOMEM (heap unchanged).
mpb_err mpbi_heap_push(mpbi_heap *h, const void *elem);
// Copies the least element to out (if not NULL) and removes it.  Returns
// false when empty.
bool mpbi_heap_pop(mpbi_heap *h, void *out);
// Pointer to the least element (valid until the next change), or NULL.
void *mpbi_heap_peek(const mpbi_heap *h);
// Removes the element at index pos (as last told by setpos), copying it to
// out if not NULL.
void   mpbi_heap_remove(mpbi_heap *h, size_t pos, void *out);
size_t mpbi_heap_len(const mpbi_heap *h);
// The element at index pos (0 <= pos < len), in heap order, for iteration.
void *mpbi_heap_at(const mpbi_heap *h, size_t pos);

#endif // MPBI_HEAP_H
