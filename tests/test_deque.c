// test_deque.c -- unit tests for broker/deque.c: both ends, index,
// wraparound across growth and shrink, and a long random run checked
// against a plain array model.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>

#include "deque.h"

// Elements are small integers disguised as pointers; 0 is never used, so
// NULL from a pop always means "empty".
#define P(n) ((void *) (uintptr_t) (n))
#define N(p) ((uintptr_t) (p))

static uint64_t
rnd(uint64_t *s)
{
	// xorshift64: fixed seed, so a failure replays the same way.
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

// Checks the whole content against want[0..n).
static void
check_content(const mpbi_deque *d, const uintptr_t *want, size_t n)
{
	assert_int_equal(mpbi_deque_len(d), n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(N(mpbi_deque_at(d, i)), want[i]);
	}
	assert_null(mpbi_deque_at(d, n));
}

static void
test_empty(void **state)
{
	mpbi_deque d;

	(void) state;
	mpbi_deque_init(&d);
	assert_int_equal(mpbi_deque_len(&d), 0);
	assert_null(mpbi_deque_pop_front(&d));
	assert_null(mpbi_deque_pop_back(&d));
	assert_null(mpbi_deque_at(&d, 0));
	assert_int_equal(d.dq_cap, 0);
	mpbi_deque_fini(&d);
	mpbi_deque_fini(&d); // twice is harmless
	assert_null(d.dq_buf);
}

static void
test_both_ends(void **state)
{
	mpbi_deque d;

	(void) state;
	mpbi_deque_init(&d);
	assert_int_equal(mpbi_deque_push_back(&d, P(3)), MPB_OK);
	assert_int_equal(mpbi_deque_push_back(&d, P(4)), MPB_OK);
	assert_int_equal(mpbi_deque_push_front(&d, P(2)), MPB_OK);
	assert_int_equal(mpbi_deque_push_front(&d, P(1)), MPB_OK);
	assert_int_equal(mpbi_deque_push_back(&d, P(5)), MPB_OK);
	check_content(&d, (const uintptr_t[]) { 1, 2, 3, 4, 5 }, 5);
	assert_int_equal(d.dq_cap, 8);

	assert_int_equal(N(mpbi_deque_pop_front(&d)), 1);
	assert_int_equal(N(mpbi_deque_pop_back(&d)), 5);
	check_content(&d, (const uintptr_t[]) { 2, 3, 4 }, 3);
	assert_int_equal(N(mpbi_deque_pop_back(&d)), 4);
	assert_int_equal(N(mpbi_deque_pop_back(&d)), 3);
	assert_int_equal(N(mpbi_deque_pop_back(&d)), 2);
	assert_null(mpbi_deque_pop_back(&d));
	assert_null(mpbi_deque_pop_front(&d));
	assert_int_equal(mpbi_deque_len(&d), 0);

	// push_front alone is a stack read from the front.
	for (uintptr_t i = 1; i <= 20; i++) {
		assert_int_equal(mpbi_deque_push_front(&d, P(i)), MPB_OK);
	}
	for (size_t i = 0; i < 20; i++) {
		assert_int_equal(N(mpbi_deque_at(&d, i)), 20 - i);
	}
	for (uintptr_t i = 1; i <= 20; i++) {
		assert_int_equal(N(mpbi_deque_pop_back(&d)), i);
	}
	mpbi_deque_fini(&d);
}

// The content wraps around the end of the buffer when it has to grow;
// growth must unwrap it in order.
static void
test_wrap_growth(void **state)
{
	mpbi_deque d;
	uintptr_t  want[40];
	size_t     n = 0;

	(void) state;
	mpbi_deque_init(&d);
	for (uintptr_t i = 1; i <= 6; i++) {
		assert_int_equal(mpbi_deque_push_back(&d, P(i)), MPB_OK);
	}
	for (uintptr_t i = 1; i <= 5; i++) {
		assert_int_equal(N(mpbi_deque_pop_front(&d)), i);
	}
	// One left, in slot 5 of 8.  Seven more fill it with a wrap...
	assert_int_equal(d.dq_head, 5);
	want[n++] = 6;
	for (uintptr_t i = 7; i <= 13; i++) {
		assert_int_equal(mpbi_deque_push_back(&d, P(i)), MPB_OK);
		want[n++] = i;
	}
	assert_int_equal(d.dq_cap, 8);
	assert_true(d.dq_head + d.dq_len > d.dq_cap); // really wrapped
	check_content(&d, want, n);
	// ...and the ninth grows it.
	assert_int_equal(mpbi_deque_push_back(&d, P(14)), MPB_OK);
	want[n++] = 14;
	assert_int_equal(d.dq_cap, 16);
	check_content(&d, want, n);

	// Same through the front: wrap below slot 0, then grow.
	mpbi_deque_fini(&d);
	mpbi_deque_init(&d);
	for (uintptr_t i = 1; i <= 3; i++) {
		assert_int_equal(mpbi_deque_push_back(&d, P(100 + i)), MPB_OK);
	}
	for (uintptr_t i = 1; i <= 6; i++) {
		assert_int_equal(
		    mpbi_deque_push_front(&d, P(100 - i)), MPB_OK);
	}
	assert_int_equal(d.dq_cap, 16);
	check_content(&d,
	    (const uintptr_t[]) { 94, 95, 96, 97, 98, 99, 101, 102, 103 }, 9);
	mpbi_deque_fini(&d);
}

static void
test_shrink(void **state)
{
	mpbi_deque d;

	(void) state;
	mpbi_deque_init(&d);
	for (uintptr_t i = 1; i <= 1000; i++) {
		assert_int_equal(mpbi_deque_push_back(&d, P(i)), MPB_OK);
	}
	assert_int_equal(d.dq_cap, 1024);
	// Pop from the front so the head is far from slot 0 when the
	// shrinks happen: they must unwrap, keeping order.
	for (uintptr_t i = 1; i <= 744; i++) {
		assert_int_equal(N(mpbi_deque_pop_front(&d)), i);
	}
	// 256 left: exactly a quarter, not below it.
	assert_int_equal(mpbi_deque_len(&d), 256);
	assert_int_equal(d.dq_cap, 1024);
	assert_int_equal(N(mpbi_deque_pop_front(&d)), 745);
	assert_int_equal(d.dq_cap, 512);
	assert_int_equal(d.dq_head, 0);
	for (size_t i = 0; i < 255; i++) {
		assert_int_equal(N(mpbi_deque_at(&d, i)), 746 + i);
	}
	// From the back down to empty: halves step by step, stops at 8.
	for (uintptr_t i = 1000; i >= 746; i--) {
		assert_int_equal(N(mpbi_deque_pop_back(&d)), i);
		assert_true(d.dq_cap >= 8);
		assert_true(d.dq_cap <= 8 || d.dq_len >= d.dq_cap / 4);
	}
	assert_int_equal(mpbi_deque_len(&d), 0);
	assert_int_equal(d.dq_cap, 8);
	assert_non_null(d.dq_buf);
	// And it still works after shrinking all the way.
	assert_int_equal(mpbi_deque_push_front(&d, P(7)), MPB_OK);
	assert_int_equal(N(mpbi_deque_pop_back(&d)), 7);
	mpbi_deque_fini(&d);
}

static void
test_many_in_order(void **state)
{
	mpbi_deque     d;
	const uintptr_t n = 100000;

	(void) state;
	mpbi_deque_init(&d);
	// FIFO.
	for (uintptr_t i = 1; i <= n; i++) {
		assert_int_equal(mpbi_deque_push_back(&d, P(i)), MPB_OK);
	}
	assert_int_equal(mpbi_deque_len(&d), n);
	assert_int_equal(d.dq_cap, 131072);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(N(mpbi_deque_at(&d, i)), i + 1);
	}
	for (uintptr_t i = 1; i <= n; i++) {
		assert_int_equal(N(mpbi_deque_pop_front(&d)), i);
	}
	assert_null(mpbi_deque_pop_front(&d));
	assert_int_equal(d.dq_cap, 8);
	// LIFO through the front.
	for (uintptr_t i = 1; i <= n; i++) {
		assert_int_equal(mpbi_deque_push_front(&d, P(i)), MPB_OK);
	}
	for (uintptr_t i = n; i >= 1; i--) {
		assert_int_equal(N(mpbi_deque_pop_front(&d)), i);
	}
	assert_int_equal(mpbi_deque_len(&d), 0);
	mpbi_deque_fini(&d);
}

// Random pushes and pops at both ends against an array with a movable
// window; the bias drifts so the deque grows and shrinks many times.
static void
test_random_model(void **state)
{
	enum { CAP = 1 << 20, ROUNDS = 400000 };
	mpbi_deque d;
	uintptr_t *model;
	size_t     lo = CAP / 2, hi = CAP / 2; // model[lo..hi)
	uint64_t   s  = 0x9e3779b97f4a7c15ULL;
	uintptr_t  next = 1;
	size_t     maxcap = 0;

	(void) state;
	model = calloc(CAP, sizeof(*model));
	assert_non_null(model);
	mpbi_deque_init(&d);
	for (int r = 0; r < ROUNDS; r++) {
		// Phases of 50000 rounds: mostly pushing, then mostly popping.
		unsigned push_pct = ((r / 50000) % 2 == 0) ? 70 : 30;
		uint64_t x        = rnd(&s);
		bool     push     = (x % 100) < push_pct;
		bool     front    = (x >> 32) & 1;

		if (push && lo > 0 && hi < CAP) {
			if (front) {
				assert_int_equal(mpbi_deque_push_front(
				    &d, P(next)), MPB_OK);
				model[--lo] = next++;
			} else {
				assert_int_equal(
				    mpbi_deque_push_back(&d, P(next)), MPB_OK);
				model[hi++] = next++;
			}
		} else if (front) {
			void *p = mpbi_deque_pop_front(&d);
			if (lo == hi) {
				assert_null(p);
			} else {
				assert_int_equal(N(p), model[lo++]);
			}
		} else {
			void *p = mpbi_deque_pop_back(&d);
			if (lo == hi) {
				assert_null(p);
			} else {
				assert_int_equal(N(p), model[--hi]);
			}
		}
		assert_int_equal(mpbi_deque_len(&d), hi - lo);
		if (d.dq_cap > maxcap) {
			maxcap = d.dq_cap;
		}
		// Capacity invariants: a power of two, big enough, and not
		// left far above the depth after pops.
		assert_true(d.dq_cap == 0 || (d.dq_cap & (d.dq_cap - 1)) == 0);
		assert_true(d.dq_len <= d.dq_cap);
		assert_true(d.dq_cap <= 8 || d.dq_len >= d.dq_cap / 4);
		if (r % 997 == 0) {
			// An index check now and then keeps this O(n) overall.
			check_content(&d, model + lo, hi - lo);
		}
	}
	check_content(&d, model + lo, hi - lo);
	assert_true(maxcap >= 16384); // the phases really did grow it
	mpbi_deque_fini(&d);
	free(model);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_both_ends),
		cmocka_unit_test(test_wrap_growth),
		cmocka_unit_test(test_shrink),
		cmocka_unit_test(test_many_in_order),
		cmocka_unit_test(test_random_model),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
