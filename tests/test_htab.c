// test_htab.c -- unit tests for broker/htab.c: the insert/get/remove
// contract, binary and empty keys, many keys with growth and shrink while
// an incremental rehash is under way, and the scan guarantees of htab.h
// (exactly once on a stable or growing table, at least once across
// shrinks).

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"

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

// Key i as text; values are i + 1 so that NULL always means "absent".
static size_t
mkkey(char *buf, size_t i)
{
	return ((size_t) snprintf(buf, 32, "key:%zu", i));
}

static void
test_basic(void **state)
{
	mpbi_htab *h = NULL;
	char       k[8];

	(void) state;
	assert_int_equal(mpbi_htab_create(&h), MPB_OK);
	assert_non_null(h);
	assert_int_equal(mpbi_htab_len(h), 0);
	assert_null(mpbi_htab_get(h, "a", 1));
	assert_null(mpbi_htab_remove(h, "a", 1));

	assert_int_equal(mpbi_htab_insert(h, "alpha", 5, P(1)), MPB_OK);
	assert_int_equal(mpbi_htab_insert(h, "beta", 4, P(2)), MPB_OK);
	assert_int_equal(mpbi_htab_len(h), 2);
	assert_int_equal(N(mpbi_htab_get(h, "alpha", 5)), 1);
	assert_int_equal(N(mpbi_htab_get(h, "beta", 4)), 2);
	// Same bytes, other lengths, are other keys.
	assert_null(mpbi_htab_get(h, "alph", 4));
	assert_null(mpbi_htab_get(h, "alphaa", 6));

	// EEXIST leaves the old value.
	assert_int_equal(mpbi_htab_insert(h, "alpha", 5, P(9)), MPB_EEXIST);
	assert_int_equal(N(mpbi_htab_get(h, "alpha", 5)), 1);
	assert_int_equal(mpbi_htab_len(h), 2);

	// The key is copied: changing the caller's buffer changes nothing.
	memcpy(k, "gamma", 5);
	assert_int_equal(mpbi_htab_insert(h, k, 5, P(3)), MPB_OK);
	memcpy(k, "XXXXX", 5);
	assert_int_equal(N(mpbi_htab_get(h, "gamma", 5)), 3);
	assert_null(mpbi_htab_get(h, "XXXXX", 5));

	assert_int_equal(N(mpbi_htab_remove(h, "alpha", 5)), 1);
	assert_null(mpbi_htab_get(h, "alpha", 5));
	assert_null(mpbi_htab_remove(h, "alpha", 5));
	assert_int_equal(mpbi_htab_len(h), 2);
	// Gone means insertable again.
	assert_int_equal(mpbi_htab_insert(h, "alpha", 5, P(4)), MPB_OK);
	assert_int_equal(N(mpbi_htab_get(h, "alpha", 5)), 4);
	assert_int_equal(mpbi_htab_len(h), 3);

	mpbi_htab_destroy(h);
	mpbi_htab_destroy(NULL);
}

static void
test_binary_keys(void **state)
{
	mpbi_htab *h;
	const char a0b[] = { 'a', 0, 'b' };
	const char a0c[] = { 'a', 0, 'c' };
	const char zero3[] = { 0, 0, 0 };
	unsigned char buf[64];

	(void) state;
	assert_int_equal(mpbi_htab_create(&h), MPB_OK);
	assert_int_equal(mpbi_htab_insert(h, a0b, 3, P(1)), MPB_OK);
	assert_int_equal(mpbi_htab_insert(h, a0c, 3, P(2)), MPB_OK);
	assert_int_equal(mpbi_htab_insert(h, "a", 1, P(3)), MPB_OK);
	assert_int_equal(mpbi_htab_insert(h, zero3, 3, P(4)), MPB_OK);
	assert_int_equal(mpbi_htab_insert(h, zero3, 2, P(5)), MPB_OK);
	// The empty key, given as NULL or as any pointer, is one key.
	assert_int_equal(mpbi_htab_insert(h, NULL, 0, P(6)), MPB_OK);
	assert_int_equal(mpbi_htab_insert(h, "zz", 0, P(7)), MPB_EEXIST);
	assert_int_equal(mpbi_htab_len(h), 6);

	assert_int_equal(N(mpbi_htab_get(h, a0b, 3)), 1);
	assert_int_equal(N(mpbi_htab_get(h, a0c, 3)), 2);
	assert_int_equal(N(mpbi_htab_get(h, "a", 1)), 3);
	assert_int_equal(N(mpbi_htab_get(h, zero3, 3)), 4);
	assert_int_equal(N(mpbi_htab_get(h, zero3, 2)), 5);
	assert_null(mpbi_htab_get(h, zero3, 1));
	assert_int_equal(N(mpbi_htab_get(h, "", 0)), 6);
	assert_int_equal(N(mpbi_htab_get(h, NULL, 0)), 6);
	assert_null(mpbi_htab_get(h, a0b, 2)); // "a\0" is not "a"

	assert_int_equal(N(mpbi_htab_remove(h, "q", 0)), 6);
	assert_null(mpbi_htab_get(h, NULL, 0));
	assert_int_equal(N(mpbi_htab_get(h, zero3, 2)), 5);

	// All lengths 0..63 of zero bytes and of 0xff bytes are distinct
	// keys: exercises every tail length of the hash.
	for (size_t n = 0; n < 64; n++) {
		memset(buf, 0xff, n);
		assert_int_equal(mpbi_htab_insert(h, buf, n, P(1000 + n)),
		    MPB_OK);
	}
	for (size_t n = 4; n < 64; n++) {
		memset(buf, 0, n);
		assert_int_equal(mpbi_htab_insert(h, buf, n, P(2000 + n)),
		    MPB_OK);
	}
	for (size_t n = 0; n < 64; n++) {
		memset(buf, 0xff, n);
		assert_int_equal(N(mpbi_htab_get(h, buf, n)), 1000 + n);
		memset(buf, 0, n);
		if (n >= 4) {
			assert_int_equal(
			    N(mpbi_htab_get(h, buf, n)), 2000 + n);
		}
	}
	// One key of 100 KiB.
	{
		size_t         big = 100 * 1024;
		unsigned char *kb  = malloc(big);
		assert_non_null(kb);
		for (size_t i = 0; i < big; i++) {
			kb[i] = (unsigned char) (i * 7);
		}
		assert_int_equal(mpbi_htab_insert(h, kb, big, P(77)), MPB_OK);
		assert_int_equal(N(mpbi_htab_get(h, kb, big)), 77);
		kb[big - 1] ^= 1;
		assert_null(mpbi_htab_get(h, kb, big));
		kb[big - 1] ^= 1;
		assert_int_equal(N(mpbi_htab_remove(h, kb, big)), 77);
		free(kb);
	}
	mpbi_htab_destroy(h); // frees keys still in it (ASan checks)
}

// 200k keys with inserts, hits, misses and removes interleaved, so most
// operations run while an incremental rehash is under way; then a drain
// that shrinks the table again.  A model (present[]) says what must be
// there after every step, and everything is cross-checked at phase ends.
static void
test_many(void **state)
{
	enum { NK = 200000 };
	mpbi_htab *h;
	bool      *present;
	size_t     len = 0;
	uint64_t   s   = 0x853c49e6748fea9bULL;
	char       k[32];
	size_t     kl;

	(void) state;
	present = calloc(NK, sizeof(*present));
	assert_non_null(present);
	assert_int_equal(mpbi_htab_create(&h), MPB_OK);

	for (size_t i = 0; i < NK; i++) {
		size_t j;

		kl = mkkey(k, i);
		assert_int_equal(mpbi_htab_insert(h, k, kl, P(i + 1)), MPB_OK);
		present[i] = true;
		len++;
		// A hit on a random earlier key.
		j  = (size_t) (rnd(&s) % (i + 1));
		kl = mkkey(k, j);
		if (present[j]) {
			assert_int_equal(N(mpbi_htab_get(h, k, kl)), j + 1);
		} else {
			assert_null(mpbi_htab_get(h, k, kl));
		}
		// A miss.
		kl = mkkey(k, NK + i);
		assert_null(mpbi_htab_get(h, k, kl));
		// Every fourth step removes a random earlier key.
		if (i % 4 == 3) {
			j  = (size_t) (rnd(&s) % (i + 1));
			kl = mkkey(k, j);
			if (present[j]) {
				assert_int_equal(
				    N(mpbi_htab_remove(h, k, kl)), j + 1);
				present[j] = false;
				len--;
			} else {
				assert_null(mpbi_htab_remove(h, k, kl));
			}
		}
		// And a duplicate insert now and then.
		if (i % 16 == 0) {
			kl = mkkey(k, i);
			assert_int_equal(
			    mpbi_htab_insert(h, k, kl, P(7)), MPB_EEXIST);
		}
		assert_int_equal(mpbi_htab_len(h), len);
	}
	for (size_t i = 0; i < NK; i++) {
		kl = mkkey(k, i);
		if (present[i]) {
			assert_int_equal(N(mpbi_htab_get(h, k, kl)), i + 1);
		} else {
			assert_null(mpbi_htab_get(h, k, kl));
		}
	}
	// Drain in a scrambled order (i * a prime mod NK visits each i
	// once), checking a few survivors as it shrinks.
	for (size_t n = 0; n < NK; n++) {
		size_t i = (n * 7919) % NK;
		kl       = mkkey(k, i);
		if (present[i]) {
			assert_int_equal(N(mpbi_htab_remove(h, k, kl)), i + 1);
			present[i] = false;
			len--;
		} else {
			assert_null(mpbi_htab_remove(h, k, kl));
		}
		if (n % 64 == 0) {
			size_t j = (size_t) (rnd(&s) % NK);
			kl       = mkkey(k, j);
			if (present[j]) {
				assert_int_equal(
				    N(mpbi_htab_get(h, k, kl)), j + 1);
			} else {
				assert_null(mpbi_htab_get(h, k, kl));
			}
		}
		assert_int_equal(mpbi_htab_len(h), len);
	}
	assert_int_equal(len, 0);
	// Usable after shrinking all the way.
	assert_int_equal(mpbi_htab_insert(h, "x", 1, P(1)), MPB_OK);
	assert_int_equal(N(mpbi_htab_get(h, "x", 1)), 1);
	mpbi_htab_destroy(h);
	free(present);
}

// ---- scan ----

// Keys are "key:<i>" with value i + 1; the visitor counts visits per i.
typedef struct counts {
	unsigned *c;
	size_t    n;      // size of c
	size_t    calls;  // fn calls in total
	bool      bad;    // a key/value pair that does not match
} counts;

static void
count_fn(void *arg, const void *key, size_t klen, void *val)
{
	counts *ct = arg;
	char    k[32];
	size_t  i = N(val) - 1;

	ct->calls++;
	if (N(val) == 0 || i >= ct->n || mkkey(k, i) != klen ||
	    memcmp(k, key, klen) != 0) {
		ct->bad = true;
		return;
	}
	ct->c[i]++;
}

static void
counts_init(counts *ct, size_t n)
{
	ct->c     = calloc(n, sizeof(*ct->c));
	ct->n     = n;
	ct->calls = 0;
	ct->bad   = false;
	assert_non_null(ct->c);
}

static void
insert_range(mpbi_htab *h, size_t from, size_t to)
{
	char k[32];

	for (size_t i = from; i < to; i++) {
		size_t kl = mkkey(k, i);
		assert_int_equal(mpbi_htab_insert(h, k, kl, P(i + 1)), MPB_OK);
	}
}

// Destroy while a resize is under way, growing and then shrinking: the
// keys of both arrays must be freed (LeakSanitizer and valgrind check),
// and buckets of the new array the rehash has not reached must not be
// read.
static void
test_destroy_mid_rehash(void **state)
{
	mpbi_htab *h;
	char       k[32];

	(void) state;
	// 4096 keys fill 4096 buckets; the next insert starts a growth.
	assert_int_equal(mpbi_htab_create(&h), MPB_OK);
	insert_range(h, 0, 4097);
	for (size_t i = 0; i < 20; i++) {
		size_t kl = mkkey(k, i);
		assert_int_equal(N(mpbi_htab_get(h, k, kl)), i + 1);
	}
	insert_range(h, 4097, 4200); // some land in each array
	assert_int_equal(mpbi_htab_len(h), 4200);
	mpbi_htab_destroy(h);

	// 8192 buckets; dropping under 1024 keys starts a shrink.
	assert_int_equal(mpbi_htab_create(&h), MPB_OK);
	insert_range(h, 0, 8000);
	for (size_t i = 0; i < 7000; i++) {
		size_t kl = mkkey(k, i);
		assert_int_equal(N(mpbi_htab_remove(h, k, kl)), i + 1);
	}
	insert_range(h, 0, 50);
	for (size_t i = 0; i < 8000; i++) {
		size_t kl = mkkey(k, i);
		void  *v  = mpbi_htab_get(h, k, kl);
		if (i < 50 || i >= 7000) {
			assert_int_equal(N(v), i + 1);
		} else {
			assert_null(v);
		}
	}
	assert_int_equal(mpbi_htab_len(h), 1050);
	mpbi_htab_destroy(h);
}

static void
test_scan_empty(void **state)
{
	mpbi_htab *h;
	counts     ct;

	(void) state;
	counts_init(&ct, 1);
	assert_int_equal(mpbi_htab_create(&h), MPB_OK);
	assert_int_equal(mpbi_htab_scan(h, 0, 10, count_fn, &ct), 0);
	insert_range(h, 0, 1);
	assert_int_equal(N(mpbi_htab_remove(h, "key:0", 5)), 1);
	assert_int_equal(mpbi_htab_scan(h, 0, 10, count_fn, &ct), 0);
	assert_int_equal(ct.calls, 0);
	mpbi_htab_destroy(h);
	free(ct.c);
}

// A stable table: every key exactly once, whatever the page size, and a
// big enough count does it in one call.
static void
test_scan_stable(void **state)
{
	enum { NK = 10000 };
	static const size_t pages[] = { 0, 1, 7, 100, 5000 };
	mpbi_htab *h;
	counts     ct;

	(void) state;
	assert_int_equal(mpbi_htab_create(&h), MPB_OK);
	insert_range(h, 0, NK);
	for (size_t p = 0; p < sizeof(pages) / sizeof(pages[0]); p++) {
		uint64_t cur   = 0;
		size_t   calls = 0;
		counts_init(&ct, NK);
		do {
			size_t before = ct.calls;
			cur = mpbi_htab_scan(h, cur, pages[p], count_fn, &ct);
			calls++;
			// A page may be short, but not much too long: a
			// step is one bucket (plus its expansions).
			size_t most = (pages[p] ? pages[p] : 1) + 64;
			assert_true(ct.calls - before < most);
		} while (cur != 0);
		assert_false(ct.bad);
		assert_int_equal(ct.calls, NK);
		for (size_t i = 0; i < NK; i++) {
			assert_int_equal(ct.c[i], 1);
		}
		if (pages[p] >= 100) {
			assert_true(calls >= NK / (pages[p] + 64));
		}
		free(ct.c);
	}
	counts_init(&ct, NK);
	assert_int_equal(mpbi_htab_scan(h, 0, SIZE_MAX, count_fn, &ct), 0);
	assert_int_equal(ct.calls, NK);
	free(ct.c);
	mpbi_htab_destroy(h);
}

// Right after a growth starts, the table is mid-rehash: the scan runs
// over two arrays.  Only gets between calls, so the rehash advances
// without any insert or remove: still exactly once.
static void
test_scan_during_rehash(void **state)
{
	enum { NK = 4097 }; // one past a power of two: a growth just began
	mpbi_htab *h;
	counts     ct;
	uint64_t   cur = 0;

	(void) state;
	assert_int_equal(mpbi_htab_create(&h), MPB_OK);
	insert_range(h, 0, NK);
	counts_init(&ct, NK);
	do {
		cur = mpbi_htab_scan(h, cur, 5, count_fn, &ct);
		assert_int_equal(N(mpbi_htab_get(h, "key:1", 5)), 2);
	} while (cur != 0);
	assert_false(ct.bad);
	for (size_t i = 0; i < NK; i++) {
		assert_int_equal(ct.c[i], 1);
	}
	free(ct.c);
	mpbi_htab_destroy(h);
}

// The table grows many times between calls (from 1000 to 61000 keys):
// the first 1000 keys come exactly once; the new ones at most once.
static void
test_scan_growing(void **state)
{
	enum { NK0 = 1000, STEP = 60, NK = 61000 };
	mpbi_htab *h;
	counts     ct;
	uint64_t   cur  = 0;
	size_t     next = NK0;

	(void) state;
	assert_int_equal(mpbi_htab_create(&h), MPB_OK);
	insert_range(h, 0, NK0);
	counts_init(&ct, NK);
	do {
		cur = mpbi_htab_scan(h, cur, 4, count_fn, &ct);
		if (next + STEP <= NK) {
			insert_range(h, next, next + STEP);
			next += STEP;
		}
	} while (cur != 0);
	assert_false(ct.bad);
	assert_true(next > 16 * NK0); // it really grew, several times
	for (size_t i = 0; i < NK0; i++) {
		assert_int_equal(ct.c[i], 1);
	}
	for (size_t i = NK0; i < NK; i++) {
		assert_true(ct.c[i] <= 1);
	}
	free(ct.c);
	mpbi_htab_destroy(h);
}

// Keys [0, NS) stay for the whole scan; the others churn between scan
// calls: removes until few are left (the table shrinks, several times
// over), then inserts until most are back (it grows), and again.  Every
// stable key must come at least once.
static void
test_scan_resizing(void **state)
{
	enum { NS = 300, NK = 20000, NC = NK - NS, CHURN = 1000 };
	mpbi_htab *h;
	counts     ct;
	uint64_t   s = 0x1234567887654321ULL;
	size_t    *perm; // churn keys; perm[0..np) are in the table
	char       k[32];
	size_t     flips = 0;

	(void) state;
	perm = calloc(NC, sizeof(*perm));
	assert_non_null(perm);
	for (int round = 0; round < 20; round++) {
		uint64_t cur    = 0;
		size_t   calls  = 0;
		size_t   np     = NC;
		bool     shrink = true;

		assert_int_equal(mpbi_htab_create(&h), MPB_OK);
		insert_range(h, 0, NK);
		for (size_t i = 0; i < NC; i++) {
			perm[i] = NS + i;
		}
		counts_init(&ct, NK);
		do {
			cur = mpbi_htab_scan(h, cur,
			    20 + (size_t) (rnd(&s) % 80), count_fn, &ct);
			calls++;
			for (size_t n = 0; n < CHURN; n++) {
				size_t j, kl, t;
				if (shrink) {
					j  = (size_t) (rnd(&s) % np);
					kl = mkkey(k, perm[j]);
					assert_int_equal(N(mpbi_htab_remove(
					    h, k, kl)), perm[j] + 1);
					t            = perm[j];
					perm[j]      = perm[np - 1];
					perm[np - 1] = t;
					np--;
				} else {
					j = np +
					    (size_t) (rnd(&s) % (NC - np));
					kl = mkkey(k, perm[j]);
					assert_int_equal(mpbi_htab_insert(h, k,
					    kl, P(perm[j] + 1)), MPB_OK);
					t        = perm[j];
					perm[j]  = perm[np];
					perm[np] = t;
					np++;
				}
				if (shrink && np < 100) {
					shrink = false;
					flips++;
				} else if (!shrink && np > NC - 100) {
					shrink = true;
					flips++;
				}
			}
			assert_int_equal(mpbi_htab_len(h), NS + np);
		} while (cur != 0);
		assert_false(ct.bad);
		assert_true(calls > 1);
		for (size_t i = 0; i < NS; i++) {
			assert_true(ct.c[i] >= 1);
		}
		free(ct.c);
		mpbi_htab_destroy(h);
	}
	// The scans really spanned many shrinks and growths.
	assert_true(flips >= 40);
	free(perm);
}

// Per-table seeds: the same keys come out in different orders from two
// tables (64 keys: equal orders by chance are out of the question).
static void
order_fn(void *arg, const void *key, size_t klen, void *val)
{
	uintptr_t **op = arg;

	(void) key;
	(void) klen;
	*(*op)++ = N(val);
}

static void
test_seeded(void **state)
{
	mpbi_htab *h1, *h2;
	uintptr_t  o1[64], o2[64];
	uintptr_t *p1 = o1, *p2 = o2;

	(void) state;
	assert_int_equal(mpbi_htab_create(&h1), MPB_OK);
	assert_int_equal(mpbi_htab_create(&h2), MPB_OK);
	insert_range(h1, 0, 64);
	insert_range(h2, 0, 64);
	assert_int_equal(mpbi_htab_scan(h1, 0, SIZE_MAX, order_fn, &p1), 0);
	assert_int_equal(mpbi_htab_scan(h2, 0, SIZE_MAX, order_fn, &p2), 0);
	assert_int_equal(p1 - o1, 64);
	assert_int_equal(p2 - o2, 64);
	assert_memory_not_equal(o1, o2, sizeof(o1));
	mpbi_htab_destroy(h1);
	mpbi_htab_destroy(h2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_binary_keys),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_destroy_mid_rehash),
		cmocka_unit_test(test_scan_empty),
		cmocka_unit_test(test_scan_stable),
		cmocka_unit_test(test_scan_during_rehash),
		cmocka_unit_test(test_scan_growing),
		cmocka_unit_test(test_scan_resizing),
		cmocka_unit_test(test_seeded),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
