// test_heap.c -- unit tests for broker/heap.c: sorted output, FIFO among
// equal priorities with a sequence tie-break, exact positions reported by
// setpos after every operation, removal at arbitrary positions, and
// pointer elements as the deadline heap uses them.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"

static uint64_t
rnd(uint64_t *s)
{
	// xorshift64: fixed seed, so a failure replays the same way.
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

// ---- plain ints ----

static bool
int_less(const void *a, const void *b)
{
	int x, y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return (x < y);
}

static int
int_cmp(const void *a, const void *b)
{
	int x = *(const int *) a, y = *(const int *) b;

	return ((x > y) - (x < y));
}

static void
test_empty(void **state)
{
	mpbi_heap h;
	int       x = 42;

	(void) state;
	mpbi_heap_init(&h, sizeof(int), int_less, NULL);
	assert_int_equal(mpbi_heap_len(&h), 0);
	assert_null(mpbi_heap_peek(&h));
	assert_null(mpbi_heap_at(&h, 0));
	assert_false(mpbi_heap_pop(&h, &x));
	assert_int_equal(x, 42); // out untouched
	assert_false(mpbi_heap_pop(&h, NULL));
	mpbi_heap_fini(&h);
	mpbi_heap_fini(&h);
}

static void
test_sorted(void **state)
{
	enum { N = 5000 };
	mpbi_heap h;
	int      *want;
	uint64_t  s = 88172645463325252ULL;

	(void) state;
	want = malloc(N * sizeof(*want));
	assert_non_null(want);
	mpbi_heap_init(&h, sizeof(int), int_less, NULL);
	for (int i = 0; i < N; i++) {
		// Narrow range: plenty of duplicates, and negatives.
		want[i] = (int) (rnd(&s) % 2001) - 1000;
		assert_int_equal(mpbi_heap_push(&h, &want[i]), MPB_OK);
		assert_int_equal(mpbi_heap_len(&h), (size_t) i + 1);
	}
	qsort(want, N, sizeof(*want), int_cmp);
	for (int i = 0; i < N; i++) {
		int x = 99999;
		assert_int_equal(*(int *) mpbi_heap_peek(&h), want[i]);
		assert_true(mpbi_heap_pop(&h, &x));
		assert_int_equal(x, want[i]);
	}
	assert_int_equal(mpbi_heap_len(&h), 0);
	assert_false(mpbi_heap_pop(&h, NULL));
	// Memory follows the depth back down.
	assert_int_equal(h.hp_cap, 8);
	mpbi_heap_fini(&h);
	free(want);
}

// ---- {priority, sequence, id}: the priority queue's element ----

typedef struct pelem {
	int      prio;
	uint64_t seq;
	size_t   id;
} pelem;

// Positions as last reported by setpos, by element id.
static size_t *g_pos;
static size_t  g_setpos_calls;

static bool
pelem_less(const void *a, const void *b)
{
	pelem x, y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	if (x.prio != y.prio) {
		return (x.prio < y.prio);
	}
	return (x.seq < y.seq);
}

static int
pelem_cmp(const void *a, const void *b)
{
	const pelem *x = a, *y = b;

	if (x->prio != y->prio) {
		return ((x->prio > y->prio) - (x->prio < y->prio));
	}
	return ((x->seq > y->seq) - (x->seq < y->seq));
}

static void
pelem_setpos(void *elem, size_t pos)
{
	pelem e;

	memcpy(&e, elem, sizeof(e));
	g_pos[e.id] = pos;
	g_setpos_calls++;
}

static void
test_ties_fifo(void **state)
{
	enum { N = 3000 };
	mpbi_heap h;
	pelem    *want;
	uint64_t  s = 0x2545f4914f6cdd1dULL;

	(void) state;
	want = malloc(N * sizeof(*want));
	assert_non_null(want);
	mpbi_heap_init(&h, sizeof(pelem), pelem_less, NULL);
	for (size_t i = 0; i < N; i++) {
		// Five priorities, so each has hundreds of equal elements.
		want[i] = (pelem) { .prio = (int) (rnd(&s) % 5), .seq = i,
			.id = i };
		assert_int_equal(mpbi_heap_push(&h, &want[i]), MPB_OK);
	}
	qsort(want, N, sizeof(*want), pelem_cmp);
	for (size_t i = 0; i < N; i++) {
		pelem x;
		assert_true(mpbi_heap_pop(&h, &x));
		assert_int_equal(x.prio, want[i].prio);
		assert_int_equal(x.seq, want[i].seq); // FIFO within a priority
		assert_int_equal(x.id, want[i].id);
	}
	mpbi_heap_fini(&h);
	free(want);
}

// Every live element is where setpos last said, the heap order holds
// everywhere, and exactly the live ids are in the heap.
static void
check_heap(const mpbi_heap *h, const bool *live, size_t nids, size_t nlive)
{
	size_t n = mpbi_heap_len(h);

	for (size_t i = 0; i < n; i++) {
		pelem e;
		memcpy(&e, mpbi_heap_at(h, i), sizeof(e));
		assert_true(e.id < nids);
		assert_true(live[e.id]);
		assert_int_equal(g_pos[e.id], i);
		if (i > 0) {
			assert_false(pelem_less(
			    mpbi_heap_at(h, i), mpbi_heap_at(h, (i - 1) / 2)));
		}
	}
	// With every slot holding a distinct live id (positions are unique),
	// n == nlive means the live set and the heap are the same.
	assert_int_equal(nlive, n);
	assert_null(mpbi_heap_at(h, n));
}

static void
test_setpos_remove(void **state)
{
	enum { NIDS = 20000, ROUNDS = 30000 };
	mpbi_heap h;
	bool     *live;
	size_t   *ids; // live ids, unordered, for picking one at random
	size_t    nlive = 0, next = 0;
	uint64_t  seq   = 0;
	uint64_t  s     = 0xdeadbeefcafef00dULL;

	(void) state;
	live  = calloc(NIDS, sizeof(*live));
	ids   = calloc(NIDS, sizeof(*ids));
	g_pos = calloc(NIDS, sizeof(*g_pos));
	assert_non_null(live);
	assert_non_null(ids);
	assert_non_null(g_pos);
	mpbi_heap_init(&h, sizeof(pelem), pelem_less, pelem_setpos);

	for (int r = 0; r < ROUNDS && next < NIDS; r++) {
		uint64_t x = rnd(&s) % 100;

		// 55% push, 20% pop, 25% remove: it grows to a few thousand.
		if (x < 55 || nlive == 0) {
			pelem e = { .prio = (int) (rnd(&s) % 50), .seq = seq++,
				.id = next };
			size_t calls = g_setpos_calls;
			assert_int_equal(mpbi_heap_push(&h, &e), MPB_OK);
			assert_true(g_setpos_calls > calls); // it landed
			live[next]   = true;
			ids[nlive++] = next++;
		} else if (x < 75) {
			// Pop: must be the least live element.
			pelem  got, least;
			size_t k;
			memcpy(&least, mpbi_heap_peek(&h), sizeof(least));
			for (k = 0; k < nlive; k++) {
				pelem *c = mpbi_heap_at(&h, g_pos[ids[k]]);
				assert_false(pelem_less(c, &least));
			}
			assert_true(mpbi_heap_pop(&h, &got));
			assert_int_equal(got.id, least.id);
			live[got.id] = false;
			for (k = 0; ids[k] != got.id; k++) {
			}
			ids[k] = ids[--nlive];
		} else {
			// Remove a random live element by its recorded
			// position.
			size_t k  = (size_t) (rnd(&s) % nlive);
			size_t id = ids[k];
			pelem  got;
			memset(&got, 0, sizeof(got));
			mpbi_heap_remove(&h, g_pos[id], &got);
			assert_int_equal(got.id, id);
			live[id] = false;
			ids[k]   = ids[--nlive];
		}
		check_heap(&h, live, NIDS, nlive);
	}
	assert_true(nlive > 1000);
	// Drain by removing from the end, the middle and the root.
	while (nlive > 0) {
		size_t n   = mpbi_heap_len(&h);
		size_t pos = (nlive % 3 == 0) ? n - 1
		    : (nlive % 3 == 1)      ? n / 2
		                            : 0;
		pelem  got;
		mpbi_heap_remove(&h, pos, &got);
		assert_true(live[got.id]);
		live[got.id] = false;
		nlive--;
		check_heap(&h, live, NIDS, nlive);
	}
	assert_int_equal(mpbi_heap_len(&h), 0);
	mpbi_heap_remove(&h, 0, NULL); // out of range: ignored
	assert_int_equal(mpbi_heap_len(&h), 0);
	mpbi_heap_fini(&h);
	free(live);
	free(ids);
	free(g_pos);
	g_pos = NULL;
}

// A small exact case: remove with out NULL, and the last element moving up
// into a hole in the other subtree.
static void
test_remove_moves_up(void **state)
{
	mpbi_heap h;
	int       v[] = { 1, 10, 2, 11, 12, 3, 4 };
	int       x;

	(void) state;
	mpbi_heap_init(&h, sizeof(int), int_less, NULL);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(mpbi_heap_push(&h, &v[i]), MPB_OK);
	}
	// Pushed in heap order, so the layout is exactly v.
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(*(int *) mpbi_heap_at(&h, i), v[i]);
	}
	// Removing 11 (index 3) puts the last element, 4, at index 3 under
	// 10: it must move up above 10.
	mpbi_heap_remove(&h, 3, &x);
	assert_int_equal(x, 11);
	assert_int_equal(*(int *) mpbi_heap_at(&h, 1), 4);
	assert_int_equal(*(int *) mpbi_heap_at(&h, 3), 10);
	mpbi_heap_remove(&h, 0, NULL);
	assert_int_equal(*(int *) mpbi_heap_peek(&h), 2);
	for (size_t i = 0; i < 5; i++) {
		assert_true(mpbi_heap_pop(&h, &x));
		assert_int_equal(x, ((const int[]) { 2, 3, 4, 10, 12 })[i]);
	}
	assert_int_equal(mpbi_heap_len(&h), 0);
	mpbi_heap_fini(&h);
}

// ---- pointer elements: the deadline heap's shape ----

typedef struct waiter {
	uint64_t deadline;
	size_t   hpos;
} waiter;

static bool
waiter_less(const void *a, const void *b)
{
	const waiter *x, *y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return (x->deadline < y->deadline);
}

// elem points at the slot, which holds the waiter pointer.
static void
waiter_setpos(void *elem, size_t pos)
{
	waiter *w;

	memcpy(&w, elem, sizeof(w));
	w->hpos = pos;
}

static void
test_pointer_elems(void **state)
{
	enum { N = 500 };
	mpbi_heap h;
	waiter    ws[N];
	uint64_t  s = 12345;

	(void) state;
	mpbi_heap_init(&h, sizeof(waiter *), waiter_less, waiter_setpos);
	for (size_t i = 0; i < N; i++) {
		waiter *w      = &ws[i];
		ws[i].deadline = rnd(&s) % 100000;
		ws[i].hpos     = SIZE_MAX;
		assert_int_equal(mpbi_heap_push(&h, &w), MPB_OK);
	}
	for (size_t i = 0; i < N; i++) {
		waiter *w;
		memcpy(&w, mpbi_heap_at(&h, ws[i].hpos), sizeof(w));
		assert_ptr_equal(w, &ws[i]);
	}
	// Cancel every odd waiter by its position, then expire the rest in
	// deadline order.
	for (size_t i = 1; i < N; i += 2) {
		waiter *w = NULL;
		mpbi_heap_remove(&h, ws[i].hpos, &w);
		assert_ptr_equal(w, &ws[i]);
	}
	assert_int_equal(mpbi_heap_len(&h), N / 2);
	{
		uint64_t last = 0;
		size_t   n    = 0;
		waiter  *w;
		while (mpbi_heap_pop(&h, &w)) {
			assert_true(w->deadline >= last);
			assert_int_equal((size_t) (w - ws) % 2, 0);
			last = w->deadline;
			n++;
		}
		assert_int_equal(n, N / 2);
	}
	mpbi_heap_fini(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_sorted),
		cmocka_unit_test(test_ties_fifo),
		cmocka_unit_test(test_setpos_remove),
		cmocka_unit_test(test_remove_moves_up),
		cmocka_unit_test(test_pointer_elems),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
