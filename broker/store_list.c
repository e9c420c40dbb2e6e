// store_list.c -- list storage on a deque (see store_list.h).
//
// The deque has no insert or delete in the middle; this file moves
// elements through its slots directly (deque.h documents the layout:
// element i is dq_buf[(dq_head + i) & (dq_cap - 1)]).

#include "store_list.h"

static void **
slot(const mpbi_list *l, size_t i)
{
	const mpbi_deque *d = &l->l_dq;

	return (&d->dq_buf[(d->dq_head + i) & (d->dq_cap - 1)]);
}

void
mpbi_list_init(mpbi_list *l)
{
	mpbi_deque_init(&l->l_dq);
}

void
mpbi_list_fini(mpbi_list *l)
{
	mpbi_list_drop_back(l, mpbi_list_len(l));
	mpbi_deque_fini(&l->l_dq);
}

size_t
mpbi_list_len(const mpbi_list *l)
{
	return (mpbi_deque_len(&l->l_dq));
}

bool
mpbi_list_pos(const mpbi_list *l, int64_t i, size_t *posp)
{
	size_t len = mpbi_list_len(l);

	if (i < 0) {
		// -i of INT64_MIN overflows; no list is that long anyway.
		if (i == INT64_MIN || (uint64_t) -i > len) {
			return (false);
		}
		*posp = len - (size_t) -i;
		return (true);
	}
	if ((uint64_t) i >= len) {
		return (false);
	}
	*posp = (size_t) i;
	return (true);
}

size_t
mpbi_list_clamp(const mpbi_list *l, int64_t i)
{
	size_t len = mpbi_list_len(l);

	if (i < 0) {
		return (i == INT64_MIN || (uint64_t) -i >= len ? 0 : len - (size_t) -i);
	}
	return ((uint64_t) i > len ? len : (size_t) i);
}

mpbi_item *
mpbi_list_at(const mpbi_list *l, size_t pos)
{
	return (*slot(l, pos));
}

mpbi_item *
mpbi_list_swap(mpbi_list *l, size_t pos, mpbi_item *it)
{
	void **s   = slot(l, pos);
	void  *old = *s;

	*s = it;
	return (old);
}

mpb_err
mpbi_list_insert(mpbi_list *l, size_t pos, mpbi_item *it)
{
	size_t  len = mpbi_list_len(l);
	mpb_err rv;

	// Grow at the end nearer pos, then shift the elements between.
	if (pos >= len / 2) {
		if ((rv = mpbi_deque_push_back(&l->l_dq, it)) != MPB_OK) {
			return (rv);
		}
		for (size_t j = len; j > pos; j--) {
			*slot(l, j) = *slot(l, j - 1);
		}
	} else {
		if ((rv = mpbi_deque_push_front(&l->l_dq, it)) != MPB_OK) {
			return (rv);
		}
		for (size_t j = 0; j < pos; j++) {
			*slot(l, j) = *slot(l, j + 1);
		}
	}
	*slot(l, pos) = it;
	return (MPB_OK);
}

mpbi_item *
mpbi_list_take(mpbi_list *l, size_t pos)
{
	size_t     len = mpbi_list_len(l);
	mpbi_item *it  = *slot(l, pos);

	// Close the gap from the nearer end, then drop that end's slot.
	if (pos >= len / 2) {
		for (size_t j = pos; j + 1 < len; j++) {
			*slot(l, j) = *slot(l, j + 1);
		}
		(void) mpbi_deque_pop_back(&l->l_dq);
	} else {
		for (size_t j = pos; j > 0; j--) {
			*slot(l, j) = *slot(l, j - 1);
		}
		(void) mpbi_deque_pop_front(&l->l_dq);
	}
	return (it);
}

void
mpbi_list_drop_back(mpbi_list *l, size_t n)
{
	while (n-- > 0) {
		mpbi_item_destroy(mpbi_deque_pop_back(&l->l_dq));
	}
}

void
mpbi_list_reverse(mpbi_list *l)
{
	size_t len = mpbi_list_len(l);

	for (size_t i = 0; i < len / 2; i++) {
		void **a = slot(l, i);
		void **b = slot(l, len - 1 - i);
		void  *t = *a;
		*a       = *b;
		*b       = t;
	}
}
