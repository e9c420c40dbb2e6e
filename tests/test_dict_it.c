// test_dict_it.c -- dicts end to end: a real mpbroker on a private ipc
// address, this process as one client through libmpb, and real client
// processes (dictclient) racing on incr and compare-and-set.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dict_list_it.h"

// ---------------------------------------------------------------------
// Encoded values

static enc
e_raw(size_t n, const uint8_t *p)
{
	enc e;

	memcpy(e.b, p, n);
	e.n = n;
	return (e);
}

#define RAW(...)                                                              \
	e_raw(sizeof((const uint8_t[]) { __VA_ARGS__ }),                       \
	    (const uint8_t[]) { __VA_ARGS__ })

// d[k] must hold exactly the bytes of want.
static void
expect(const char *d, enc k, enc want)
{
	void  *v;
	size_t n;

	assert_ok(mpb_dict_get(cl, d, k.b, k.n, &v, &n));
	assert_int_equal(n, want.n);
	assert_memory_equal(v, want.b, n);
	mpb_free(v);
}

static void
expect_missing(const char *d, enc k)
{
	void  *v = NULL;
	size_t n = 0;

	assert_mpb(mpb_dict_get(cl, d, k.b, k.n, &v, &n), MPB_ENOTFOUND);
	assert_null(v);
}

static uint64_t
dlen(const char *d)
{
	uint64_t n = 0;

	assert_ok(mpb_dict_len(cl, d, &n));
	return (n);
}

// ---------------------------------------------------------------------
// The DictProxy surface

static void
test_set_get_del(void **state)
{
	enc   k = e_str("a");
	bool  found;
	void *v;
	size_t n;

	(void) state;
	assert_mpb(mpb_dict_len(cl, "d1", &(uint64_t) { 0 }), MPB_ENOENT);
	assert_ok(mpb_dict_set(cl, "d1", k.b, k.n, e_int(1).b, e_int(1).n));
	expect("d1", k, e_int(1));
	// Values come back byte-for-byte, non-canonical ones too.
	assert_ok(mpb_dict_set(cl, "d1", k.b, k.n, RAW(0xcc, 0x01).b, 2));
	expect("d1", k, RAW(0xcc, 0x01));
	assert_int_equal(dlen("d1"), 1);
	assert_ok(mpb_dict_contains(cl, "d1", k.b, k.n, &found));
	assert_true(found);
	assert_ok(mpb_dict_del(cl, "d1", k.b, k.n));
	assert_mpb(mpb_dict_del(cl, "d1", k.b, k.n), MPB_ENOTFOUND);
	assert_ok(mpb_dict_contains(cl, "d1", k.b, k.n, &found));
	assert_false(found);
	expect_missing("d1", k);
	// get with a default.
	assert_ok(mpb_dict_get_default(cl, "d1", k.b, k.n, e_int(7).b, e_int(7).n, &v, &n));
	assert_int_equal(n, 1);
	assert_int_equal(((uint8_t *) v)[0], 7);
	mpb_free(v);
	assert_int_equal(dlen("d1"), 0);
}

static void
test_key_equality(void **state)
{
	(void) state;
	// 5 as fixint, uint8, int16: one key.  "5" and bin "5": two more.
	assert_ok(mpb_dict_set(cl, "d2", RAW(0x05).b, 1, e_str("fix").b, e_str("fix").n));
	expect("d2", RAW(0xcc, 0x05), e_str("fix"));
	assert_ok(mpb_dict_set(cl, "d2", RAW(0xd1, 0x00, 0x05).b, 3, e_str("i16").b, e_str("i16").n));
	expect("d2", RAW(0x05), e_str("i16"));
	assert_int_equal(dlen("d2"), 1);
	assert_ok(mpb_dict_set(cl, "d2", e_str("5").b, e_str("5").n, e_int(1).b, 1));
	assert_ok(mpb_dict_set(cl, "d2", RAW(0xc4, 0x01, '5').b, 3, e_int(2).b, 1));
	assert_int_equal(dlen("d2"), 3);
	// str with a long header is the same key as the fixstr.
	expect("d2", RAW(0xd9, 0x01, '5'), e_int(1));
	// Floats, nil, arrays are not keys; nothing changes.
	assert_mpb(mpb_dict_set(cl, "d2", RAW(0xc0).b, 1, e_int(1).b, 1), MPB_EINVAL);
	assert_mpb(mpb_dict_set(cl, "d2", RAW(0xca, 0, 0, 0, 0).b, 5, e_int(1).b, 1), MPB_EINVAL);
	assert_mpb(mpb_dict_set(cl, "d2", RAW(0x91, 0x01).b, 2, e_int(1).b, 1), MPB_EINVAL);
	assert_int_equal(dlen("d2"), 3);
	// Keys come back canonical: popitem until empty.
	for (int i = 0; i < 3; i++) {
		void  *k, *v;
		size_t kn, vn;
		assert_ok(mpb_dict_popitem(cl, "d2", &k, &kn, &v, &vn));
		assert_true((kn == 1 && ((uint8_t *) k)[0] == 0x05) ||
		    (kn == 2 && memcmp(k, "\xa1" "5", 2) == 0) ||
		    (kn == 3 && memcmp(k, "\xc4\x01" "5", 3) == 0));
		mpb_free(k);
		mpb_free(v);
	}
	assert_mpb(mpb_dict_popitem(cl, "d2", &(void *) { NULL }, &(size_t) { 0 },
	               &(void *) { NULL }, &(size_t) { 0 }),
	    MPB_ENOTFOUND);
}

static void
test_pop_setdefault_getset(void **state)
{
	enc    k = e_str("k");
	void  *v = NULL;
	size_t n;
	bool   flag;

	(void) state;
	assert_mpb(mpb_dict_pop(cl, "d3", k.b, k.n, &v, &n), MPB_ENOENT);
	assert_ok(mpb_dict_setdefault(cl, "d3", k.b, k.n, e_int(1).b, 1, &v, &n, &flag));
	assert_true(flag);
	assert_int_equal(((uint8_t *) v)[0], 1);
	mpb_free(v);
	assert_ok(mpb_dict_setdefault(cl, "d3", k.b, k.n, e_int(2).b, 1, &v, &n, &flag));
	assert_false(flag);
	assert_int_equal(((uint8_t *) v)[0], 1);
	mpb_free(v);
	v = NULL;
	assert_ok(mpb_dict_getset(cl, "d3", k.b, k.n, e_int(3).b, 1, &v, &n, &flag));
	assert_true(flag);
	assert_int_equal(((uint8_t *) v)[0], 1);
	mpb_free(v);
	v = NULL;
	assert_ok(mpb_dict_getset(cl, "d3", e_str("new").b, e_str("new").n, e_int(4).b, 1, &v, &n, &flag));
	assert_false(flag);
	assert_null(v);
	assert_ok(mpb_dict_pop(cl, "d3", k.b, k.n, &v, &n));
	assert_int_equal(((uint8_t *) v)[0], 3);
	mpb_free(v);
	assert_mpb(mpb_dict_pop(cl, "d3", k.b, k.n, &v, &n), MPB_ENOTFOUND);
	assert_int_equal(dlen("d3"), 1);
	assert_ok(mpb_dict_clear(cl, "d3"));
	assert_int_equal(dlen("d3"), 0);
}

static void
test_update_get_many(void **state)
{
	enc        k[3] = { e_str("a"), e_int(-1), e_str("c") };
	enc        v[3] = { e_int(10), e_int(20), e_int(30) };
	mpb_buf    kb[4], vb[4];
	mpb_value *out;

	(void) state;
	for (int i = 0; i < 3; i++) {
		kb[i] = (mpb_buf) { k[i].b, k[i].n };
		vb[i] = (mpb_buf) { v[i].b, v[i].n };
	}
	// A bad key anywhere: nothing is applied.
	kb[3] = (mpb_buf) { RAW(0xc0).b, 1 };
	vb[3] = vb[0];
	assert_mpb(mpb_dict_update(cl, "d4", kb, vb, 4), MPB_EINVAL);
	{
		// A failed first use creates nothing.
		uint64_t n;
		assert_mpb(mpb_dict_len(cl, "d4", &n), MPB_ENOENT);
	}
	// A key given twice: the later value wins, as dict.update.
	kb[3] = kb[0];
	vb[3] = (mpb_buf) { e_int(99).b, e_int(99).n };
	assert_ok(mpb_dict_update(cl, "d4", kb, vb, 4));
	assert_int_equal(dlen("d4"), 3);
	expect("d4", k[0], e_int(99));
	kb[2] = (mpb_buf) { e_str("zz").b, e_str("zz").n };
	assert_ok(mpb_dict_get_many(cl, "d4", kb, 3, &out));
	assert_int_equal(out[0].len, e_int(99).n);
	assert_memory_equal(out[0].data, e_int(99).b, out[0].len);
	assert_int_equal(((uint8_t *) out[1].data)[0], 20);
	assert_null(out[2].data);
	mpb_values_free(out, 3);
}

static void
test_incr(void **state)
{
	enc     k = e_str("n");
	int64_t v = 0;
	double  f = 0;

	(void) state;
	assert_ok(mpb_dict_incr(cl, "d5", k.b, k.n, 5, &v));
	assert_int_equal(v, 5);
	assert_ok(mpb_dict_incr_str(cl, "d5", "n", -7, &v));
	assert_int_equal(v, -2);
	expect("d5", k, e_int(-2));
	// Overflow is an error and changes nothing.
	assert_ok(mpb_dict_set(cl, "d5", k.b, k.n, e_int(INT64_MAX - 1).b, e_int(INT64_MAX - 1).n));
	assert_ok(mpb_dict_incr(cl, "d5", k.b, k.n, 1, &v));
	assert_true(v == INT64_MAX);
	assert_mpb(mpb_dict_incr(cl, "d5", k.b, k.n, 1, &v), MPB_EOVERFLOW);
	expect("d5", k, e_int(INT64_MAX));
	assert_ok(mpb_dict_set(cl, "d5", k.b, k.n, e_int(INT64_MIN).b, e_int(INT64_MIN).n));
	assert_mpb(mpb_dict_incr(cl, "d5", k.b, k.n, -1, &v), MPB_EOVERFLOW);
	// A non-integer: EVALUE, unchanged.
	assert_ok(mpb_dict_set(cl, "d5", k.b, k.n, e_str("x").b, e_str("x").n));
	assert_mpb(mpb_dict_incr(cl, "d5", k.b, k.n, 1, &v), MPB_EVALUE);
	assert_mpb(mpb_dict_incr_float(cl, "d5", k.b, k.n, 1.0, &f), MPB_EVALUE);
	expect("d5", k, e_str("x"));
	// Floats: from an integer, from missing.
	assert_ok(mpb_dict_set(cl, "d5", k.b, k.n, e_int(2).b, 1));
	assert_ok(mpb_dict_incr_float(cl, "d5", k.b, k.n, 0.5, &f));
	assert_true(f == 2.5);
	assert_ok(mpb_dict_incr_float(cl, "d5", e_str("m").b, e_str("m").n, -1.25, &f));
	assert_true(f == -1.25);
	// incr (integer) on a float is a type mismatch.
	assert_mpb(mpb_dict_incr(cl, "d5", k.b, k.n, 1, &v), MPB_EVALUE);
	assert_mpb(mpb_dict_incr_float(cl, "d5", k.b, k.n, 1e308, &f), MPB_OK);
	assert_mpb(mpb_dict_incr_float(cl, "d5", k.b, k.n, 1e308, &f), MPB_EOVERFLOW);
}

static void
test_cas_single(void **state)
{
	enc  k = e_str("c");
	bool sw;

	(void) state;
	assert_ok(mpb_dict_cas(cl, "d6", k.b, k.n, NULL, 0, e_int(1).b, 1, &sw));
	assert_true(sw);
	assert_ok(mpb_dict_cas(cl, "d6", k.b, k.n, NULL, 0, e_int(2).b, 1, &sw));
	assert_false(sw);
	// 1 as uint8 equals the stored fixint 1 (integers by value).
	assert_ok(mpb_dict_cas(cl, "d6", k.b, k.n, RAW(0xcc, 0x01).b, 2, e_int(2).b, 1, &sw));
	assert_true(sw);
	assert_ok(mpb_dict_cas(cl, "d6", k.b, k.n, e_int(1).b, 1, e_int(3).b, 1, &sw));
	assert_false(sw);
	expect("d6", k, e_int(2));
}

static void
test_wrong_kind_and_listing(void **state)
{
	bool found = true;

	(void) state;
	assert_ok(mpb_dict_set(cl, "d7", e_int(1).b, 1, e_int(1).b, 1));
	assert_ok(mpb_dict_set(cl, "d7", e_int(2).b, 1, e_int(1).b, 1));
	assert_mpb(mpb_list_append(cl, "d7", e_int(1).b, 1), MPB_EWRONGTYPE);
	assert_mpb(mpb_list_len(cl, "d7", &(uint64_t) { 0 }), MPB_EWRONGTYPE);
	assert_mpb(mpb_queue_put(cl, "d7", e_int(1).b, 1, 0, 0), MPB_EWRONGTYPE);
	assert_ok(mpb_dict_create(cl, "d7", &found));
	assert_false(found);
	expect_listed("d7", "dict", 2);
	assert_ok(mpb_object_delete(cl, "d7"));
	assert_mpb(mpb_dict_len(cl, "d7", &(uint64_t) { 0 }), MPB_ENOENT);
}

// ---------------------------------------------------------------------
// Paging

#define BIGN 100000

static void
fill_big(const char *d)
{
	mpb_buf *kb = calloc(1000, sizeof(*kb));
	mpb_buf *vb = calloc(1000, sizeof(*vb));
	enc     *ke = calloc(1000, sizeof(*ke));

	for (int base = 0; base < BIGN; base += 1000) {
		for (int i = 0; i < 1000; i++) {
			ke[i] = e_int(base + i);
			kb[i] = (mpb_buf) { ke[i].b, ke[i].n };
			vb[i] = kb[i];
		}
		assert_ok(mpb_dict_update(cl, d, kb, vb, 1000));
	}
	free(kb);
	free(vb);
	free(ke);
	assert_int_equal(dlen(d), BIGN);
}

// Scans d in pages of count; every key in 0..BIGN exactly once, each
// value equal to its key; returns the number of pages.
static size_t
scan_check(const char *d, size_t count, mpb_dict_what what)
{
	uint8_t *seen  = calloc(BIGN, 1);
	uint64_t cur   = 0;
	size_t   pages = 0, total = 0;

	do {
		mpb_value *vals;
		size_t     n;
		size_t     step = what == MPB_DICT_ITEMS ? 2 : 1;
		assert_ok(mpb_dict_scan(cl, d, cur, count, what, &vals, &n, &cur));
		for (size_t i = 0; i < n; i += step) {
			msgpack_unpacked u;
			size_t           off = 0;
			msgpack_unpacked_init(&u);
			assert_int_equal(msgpack_unpack_next(&u, vals[i].data, vals[i].len, &off),
			    MSGPACK_UNPACK_SUCCESS);
			assert_int_equal(u.data.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
			assert_true(u.data.via.u64 < BIGN);
			assert_int_equal(seen[u.data.via.u64]++, 0);
			if (step == 2) {
				assert_int_equal(vals[i].len, vals[i + 1].len);
				assert_memory_equal(vals[i].data, vals[i + 1].data, vals[i].len);
			}
			msgpack_unpacked_destroy(&u);
			total++;
		}
		mpb_values_free(vals, n);
		pages++;
	} while (cur != 0);
	assert_int_equal(total, BIGN);
	free(seen);
	return (pages);
}

static void
test_scan_100k(void **state)
{
	(void) state;
	fill_big("big");
	assert_true(scan_check("big", 1000, MPB_DICT_KEYS) >= BIGN / 1100);
	assert_true(scan_check("big", 7000, MPB_DICT_ITEMS) >= BIGN / 7100);
	assert_true(scan_check("big", 100000, MPB_DICT_VALUES) >= 2);
}

// A broker with a 4 KiB frame limit: pages are cut by bytes, not count.
static void
test_scan_frame_limit(void **state)
{
	static const char *const extra[] = { "--max-frame", "4096", NULL };
	mpbt_broker              small;
	mpb_client              *c2;
	mpb_buf                  kb[1], vb[1];
	uint8_t                  val[203] = { 0xd9, 200 };
	uint64_t                 cur = 0;
	size_t                   total = 0, pages = 0;

	(void) state;
	assert_true(mpbt_broker_start(&small, extra));
	assert_ok(mpb_connect(small.url, 5000, &c2));
	memset(val + 2, 'x', 200);
	for (int i = 0; i < 200; i++) {
		enc k = e_int(i);
		kb[0] = (mpb_buf) { k.b, k.n };
		vb[0] = (mpb_buf) { val, 202 };
		assert_ok(mpb_dict_update(c2, "wide", kb, vb, 1));
	}
	do {
		mpb_value *vals;
		size_t     n, bytes = 0;
		assert_ok(mpb_dict_scan(c2, "wide", cur, 1000, MPB_DICT_ITEMS, &vals, &n, &cur));
		for (size_t i = 0; i < n; i++) {
			bytes += vals[i].len;
		}
		assert_true(bytes < 4096);
		total += n / 2;
		pages++;
		mpb_values_free(vals, n);
	} while (cur != 0);
	assert_int_equal(total, 200);
	assert_true(pages >= 200 * 204 / 4096);
	mpb_close(c2);
	assert_int_equal(mpbt_broker_stop(&small), 0);
}

// ---------------------------------------------------------------------
// Races between processes

static void
spawn(mpbt_proc *p, bool capture, const char *const *args)
{
	const char *argv[10];
	size_t      n = 0;

	argv[n++] = mpbt_bin("mpb_dictclient");
	argv[n++] = args[0];
	argv[n++] = broker.url;
	for (size_t i = 1; args[i] != NULL && n < 9; i++) {
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	assert_true(mpbt_spawn(p, argv, capture));
}

static void
test_incr_race(void **state)
{
	static const char *const args[] = { "incr", "race", "hits", "1000", NULL };
	mpbt_proc                p[8];
	int64_t                  v = 0;

	(void) state;
	for (int i = 0; i < 8; i++) {
		spawn(&p[i], false, args);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(mpbt_wait(&p[i], 120000), 0);
	}
	assert_ok(mpb_dict_incr_str(cl, "race", "hits", 0, &v));
	assert_int_equal(v, 8000);
}

#define CAS_ROUNDS 50

static void
test_cas_race(void **state)
{
	mpbt_proc p[8];
	char      id[8][8];
	int       steps[CAS_ROUNDS] = { 0 }, claims[CAS_ROUNDS] = { 0 };
	int64_t   v = 0;

	(void) state;
	for (int i = 0; i < 8; i++) {
		const char *args[] = { "cas", "casd", "ctr", "50", id[i], NULL };
		snprintf(id[i], sizeof(id[i]), "%d", i);
		spawn(&p[i], true, args);
	}
	for (int i = 0; i < 8; i++) {
		char *out = mpbt_read_all(&p[i]);
		char *line, *save = NULL;
		assert_int_equal(mpbt_wait(&p[i], 120000), 0);
		for (line = strtok_r(out, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			int r;
			if (sscanf(line, "step %d", &r) == 1) {
				assert_true(r >= 0 && r < CAS_ROUNDS);
				steps[r]++;
			} else {
				assert_int_equal(sscanf(line, "claim %d", &r), 1);
				assert_true(r >= 0 && r < CAS_ROUNDS);
				claims[r]++;
			}
		}
		free(out);
	}
	// Exactly one winner per round, of each race.
	for (int r = 0; r < CAS_ROUNDS; r++) {
		assert_int_equal(steps[r], 1);
		assert_int_equal(claims[r], 1);
	}
	assert_ok(mpb_dict_incr_str(cl, "casd", "ctr", 0, &v));
	assert_int_equal(v, CAS_ROUNDS);
	assert_int_equal(dlen("casd"), CAS_ROUNDS + 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_get_del),
		cmocka_unit_test(test_key_equality),
		cmocka_unit_test(test_pop_setdefault_getset),
		cmocka_unit_test(test_update_get_many),
		cmocka_unit_test(test_incr),
		cmocka_unit_test(test_cas_single),
		cmocka_unit_test(test_wrong_kind_and_listing),
		cmocka_unit_test(test_scan_100k),
		cmocka_unit_test(test_scan_frame_limit),
		cmocka_unit_test(test_incr_race),
		cmocka_unit_test(test_cas_race),
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
