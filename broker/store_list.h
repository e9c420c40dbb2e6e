// store_list.h -- storage of lists: a deque of values (mpbi_item), with
// Python's index rules.
//
// append and pop at the end are O(1) amortised, get and set by index O(1)
// (the deque's ring buffer).  insert and delete at index i shift the
// shorter side, O(min(i, len - i)); reverse, remove, index and count are
// O(n), as in Python.

#ifndef MPBI_STORE_LIST_H
#define MPBI_STORE_LIST_H

#include "core.h"

typedef struct mpbi_list {
	mpbi_obj   l_obj; // first: a list is an object
	mpbi_deque l_dq;  // of mpbi_item *
} mpbi_list;

void mpbi_list_init(mpbi_list *l);
// Frees every value.
void   mpbi_list_fini(mpbi_list *l);
size_t mpbi_list_len(const mpbi_list *l);

// Python's index rule for one element: i < 0 counts from the end.  true
// and *posp when the element exists, false otherwise (IndexError).
bool mpbi_list_pos(const mpbi_list *l, int64_t i, size_t *posp);
// Python's rule for slice bounds and insert: i < 0 counts from the end,
// then clamped to 0..len.
size_t mpbi_list_clamp(const mpbi_list *l, int64_t i);

// The value at pos < len (still the list's).
mpbi_item *mpbi_list_at(const mpbi_list *l, size_t pos);
// Puts it at pos < len and returns the value that was there (the
// caller's now).
mpbi_item *mpbi_list_swap(mpbi_list *l, size_t pos, mpbi_item *it);
// Inserts it before pos <= len.  The list owns it on MPB_OK; MPB_ENOMEM
// leaves the list unchanged.
mpb_err mpbi_list_insert(mpbi_list *l, size_t pos, mpbi_item *it);
// Removes the value at pos < len and returns it (the caller's now).
mpbi_item *mpbi_list_take(mpbi_list *l, size_t pos);
// Removes and frees the last n values (n <= len).
void mpbi_list_drop_back(mpbi_list *l, size_t n);
void mpbi_list_reverse(mpbi_list *l);

#endif // MPBI_STORE_LIST_H
