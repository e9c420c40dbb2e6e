// test_store_dict.c -- unit tests of dict and list storage (store_dict.c,
// store_list.c): canonical keys, value equality, numbers, the dict over
// its hash table (growth, deletion, paged scans while the dict changes,
// popitem) and the list over its deque (insert/take anywhere, against a
// plain array model).

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "store_dict.h"
#include "store_list.h"

#define SPAN(...)                                                            \
	((mpbi_span) { (const uint8_t[]) { __VA_ARGS__ },                     \
	    sizeof((const uint8_t[]) { __VA_ARGS__ }) })

// The canonical bytes of s must be want[0..wlen).
static void
check_norm(mpbi_span s, const uint8_t *want, size_t wlen)
{
	mpbi_val v;

	assert_int_equal(mpbi_val_norm(s, true, &v), MPB_OK);
	assert_int_equal(v.v_len, wlen);
	assert_memory_equal(v.v_ptr, want, wlen);
	mpbi_val_fini(&v);
}

static void
test_key_norm_int(void **state)
{
	(void) state;
	// 5 in every width, signed and unsigned.
	check_norm(SPAN(0x05), (const uint8_t[]) { 0x05 }, 1);
	check_norm(SPAN(0xcc, 0x05), (const uint8_t[]) { 0x05 }, 1);
	check_norm(SPAN(0xcd, 0x00, 0x05), (const uint8_t[]) { 0x05 }, 1);
	check_norm(SPAN(0xd0, 0x05), (const uint8_t[]) { 0x05 }, 1);
	check_norm(SPAN(0xd3, 0, 0, 0, 0, 0, 0, 0, 0x05), (const uint8_t[]) { 0x05 }, 1);
	// -1 and -200.
	check_norm(SPAN(0xd1, 0xff, 0xff), (const uint8_t[]) { 0xff }, 1);
	check_norm(SPAN(0xd2, 0xff, 0xff, 0xff, 0x38), (const uint8_t[]) { 0xd1, 0xff, 0x38 }, 3);
	// 200 signed becomes uint 8, as msgpack-c packs it.
	check_norm(SPAN(0xd1, 0x00, 0xc8), (const uint8_t[]) { 0xcc, 0xc8 }, 2);
	// Above INT64_MAX only uint 64 holds it.
	check_norm(SPAN(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
	    (const uint8_t[]) { 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9);
}

static void
test_key_norm_bytes(void **state)
{
	mpbi_val v;

	(void) state;
	check_norm(SPAN(0xd9, 0x02, 'a', 'b'), (const uint8_t[]) { 0xa2, 'a', 'b' }, 3);
	check_norm(SPAN(0xda, 0x00, 0x02, 'a', 'b'), (const uint8_t[]) { 0xa2, 'a', 'b' }, 3);
	check_norm(SPAN(0xa2, 'a', 'b'), (const uint8_t[]) { 0xa2, 'a', 'b' }, 3);
	// bin stays bin: a distinct key from the str.
	check_norm(SPAN(0xc5, 0x00, 0x02, 'a', 'b'), (const uint8_t[]) { 0xc4, 0x02, 'a', 'b' }, 4);
	// Floats, nil, arrays are no keys, but are values (kept as they are).
	assert_int_equal(mpbi_val_norm(SPAN(0xc0), true, &v), MPB_EINVAL);
	assert_int_equal(mpbi_val_norm(SPAN(0xca, 0, 0, 0, 0), true, &v), MPB_EINVAL);
	assert_int_equal(mpbi_val_norm(SPAN(0x91, 0x01), true, &v), MPB_EINVAL);
	assert_int_equal(mpbi_val_norm(SPAN(0x91, 0xcc, 0x01), false, &v), MPB_OK);
	assert_int_equal(v.v_len, 3);
	mpbi_val_fini(&v);
}

static bool
eq(mpbi_span a, mpbi_span b)
{
	return (mpbi_val_equal(a.ptr, a.len, b.ptr, b.len));
}

static void
test_val_equal(void **state)
{
	(void) state;
	assert_true(eq(SPAN(0x01), SPAN(0xcc, 0x01)));
	assert_true(eq(SPAN(0xff), SPAN(0xd0, 0xff)));
	assert_false(eq(SPAN(0x01), SPAN(0xff)));
	assert_true(eq(SPAN(0xa1, 'x'), SPAN(0xd9, 0x01, 'x')));
	assert_false(eq(SPAN(0xa1, 'x'), SPAN(0xc4, 0x01, 'x')));
	assert_false(eq(SPAN(0xa1, 'x'), SPAN(0xa1, 'y')));
	assert_true(eq(SPAN(0x91, 0x01), SPAN(0x91, 0x01)));
	// Containers compare byte-for-byte: no normalisation inside.
	assert_false(eq(SPAN(0x91, 0x01), SPAN(0x91, 0xcc, 0x01)));
	// float 32 1.0 and float 64 1.0 differ (documented).
	assert_false(eq(SPAN(0xca, 0x3f, 0x80, 0, 0),
	    SPAN(0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0)));
	assert_false(eq(SPAN(0xc0), SPAN(0x00)));
}

static void
test_int_encode_matches_msgpack(void **state)
{
	static const int64_t vals[] = { 0, 1, 127, 128, 255, 256, 65535, 65536,
		4294967295LL, 4294967296LL, INT64_MAX, -1, -32, -33, -128, -129,
		-32768, -32769, INT32_MIN, (int64_t) INT32_MIN - 1, INT64_MIN };

	(void) state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		msgpack_sbuffer sb;
		msgpack_packer  pk;
		uint8_t         buf[9];
		size_t          n = mpbi_int_encode(vals[i], buf);
		mpbi_num        num;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_int64(&pk, vals[i]);
		assert_int_equal(n, sb.size);
		assert_memory_equal(buf, sb.data, n);
		msgpack_sbuffer_destroy(&sb);
		assert_int_equal(mpbi_num_read((mpbi_span) { buf, n }, false, &num), MPB_OK);
		assert_false(num.n_float);
		assert_true(num.n_int == vals[i]);
	}
}

static void
test_num_read(void **state)
{
	mpbi_num n;
	uint8_t  f[9];

	(void) state;
	assert_int_equal(mpbi_num_read(SPAN(0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0), false, &n),
	    MPB_EOVERFLOW);
	assert_int_equal(mpbi_num_read(SPAN(0xa1, '1'), true, &n), MPB_EVALUE);
	assert_int_equal(mpbi_num_read(SPAN(0xc0), false, &n), MPB_EVALUE);
	assert_int_equal(mpbi_num_read(SPAN(0xca, 0x3f, 0xc0, 0, 0), false, &n), MPB_EVALUE);
	assert_int_equal(mpbi_num_read(SPAN(0xca, 0x3f, 0xc0, 0, 0), true, &n), MPB_OK);
	assert_true(n.n_float && n.n_dbl == 1.5);
	mpbi_float_encode(-2.25, f);
	assert_int_equal(mpbi_num_read((mpbi_span) { f, 9 }, true, &n), MPB_OK);
	assert_true(n.n_float && n.n_dbl == -2.25);
}

// ---------------------------------------------------------------------
// Dicts

static void
key_of(uint32_t i, mpbi_val *k)
{
	uint8_t buf[9];
	size_t  n = mpbi_int_encode(i, buf);

	assert_int_equal(mpbi_val_norm((mpbi_span) { buf, n }, true, k), MPB_OK);
	// v_ptr points at v_buf: canonical ints always live there.
	assert_ptr_equal(k->v_ptr, k->v_buf);
}

static uint32_t
key_num(const uint8_t *key, size_t klen)
{
	mpbi_num n;

	assert_int_equal(mpbi_num_read((mpbi_span) { key, klen }, false, &n), MPB_OK);
	return ((uint32_t) n.n_int);
}

static void
dict_put_int(mpbi_dict *d, uint32_t i, uint32_t v)
{
	mpbi_val k;
	uint8_t  buf[9];
	size_t   n = mpbi_int_encode(v, buf);

	key_of(i, &k);
	assert_int_equal(mpbi_dict_put(d, &k, mpbi_item_create(buf, n)), MPB_OK);
}

static void
dict_del_int(mpbi_dict *d, uint32_t i)
{
	mpbi_val   k;
	mpbi_item *it;

	key_of(i, &k);
	it = mpbi_dict_remove(d, k.v_ptr, k.v_len);
	assert_non_null(it);
	mpbi_item_destroy(it);
}

static void
test_dict_grow_delete(void **state)
{
	mpbi_dict d;
	mpbi_val  k;

	(void) state;
	assert_int_equal(mpbi_dict_init(&d), MPB_OK);
	for (uint32_t i = 0; i < 20000; i++) {
		dict_put_int(&d, i, i);
	}
	for (uint32_t i = 0; i < 20000; i++) {
		dict_put_int(&d, i, i * 2); // replace: the length stays
	}
	assert_int_equal(mpbi_dict_len(&d), 20000);
	for (uint32_t i = 0; i < 20000; i += 2) {
		dict_del_int(&d, i);
	}
	assert_int_equal(mpbi_dict_len(&d), 10000);
	for (uint32_t i = 0; i < 20000; i++) {
		mpbi_dslot *ds;
		key_of(i, &k);
		ds = mpbi_dict_get(&d, &k);
		if (i % 2 == 0) {
			assert_null(ds);
		} else {
			assert_non_null(ds);
			assert_int_equal(key_num(ds->ds_item->it_data, ds->ds_item->it_len), i * 2);
		}
	}
	key_of(0, &k);
	assert_null(mpbi_dict_remove(&d, k.v_ptr, k.v_len));
	mpbi_dict_clear(&d);
	assert_int_equal(mpbi_dict_len(&d), 0);
	dict_put_int(&d, 7, 7);
	assert_int_equal(mpbi_dict_len(&d), 1);
	mpbi_dict_fini(&d);
}

// A scan of d in pages of `count` from cursor 0 to the end, calling
// between(d, page number) between pages; seen[key] counts returns.
static void
scan_all(mpbi_dict *d, size_t count, size_t room, uint8_t *seen, size_t nseen,
    void (*between)(mpbi_dict *, size_t))
{
	uint64_t cursor = 0;
	size_t   page   = 0;

	do {
		mpbi_page    pg = { .pg_room = room, .pg_full = room, .pg_max = count };
		mpbi_dentry *ents;
		size_t       n, bytes = 0;
		uint64_t     prev = cursor;

		assert_int_equal(mpbi_dict_scan_page(d, cursor, MPBI_DSCAN_ITEMS, &pg,
		                     &ents, &n, &cursor),
		    MPB_OK);
		for (size_t i = 0; i < n; i++) {
			uint32_t key = key_num(ents[i].de_key, ents[i].de_klen);
			if (key < nseen && seen[key] < 255) {
				seen[key]++;
			}
			bytes += ents[i].de_klen + ents[i].de_item->it_len;
		}
		// A page stays within its room, unless it is one scan step (a
		// bucket) that fits no page: then a page of one entry from the
		// same cursor must hold the same entries.
		if (bytes > room) {
			mpbi_page    one = { .pg_room = SIZE_MAX / 2, .pg_full = SIZE_MAX / 2, .pg_max = 1 };
			mpbi_dentry *e1;
			size_t       n1;
			uint64_t     c1;
			assert_int_equal(mpbi_dict_scan_page(d, prev, MPBI_DSCAN_ITEMS,
			                     &one, &e1, &n1, &c1),
			    MPB_OK);
			assert_int_equal(n1, n);
			assert_true(c1 == cursor);
			free(e1);
		}
		free(ents);
		if (between != NULL) {
			between(d, page++);
		}
	} while (cursor != 0);
}

static void
fill(mpbi_dict *d, uint32_t n)
{
	assert_int_equal(mpbi_dict_init(d), MPB_OK);
	for (uint32_t i = 0; i < n; i++) {
		dict_put_int(d, i, i);
	}
}

#define NKEYS 5000u

static void
test_dict_scan_unchanged(void **state)
{
	mpbi_dict d;
	uint8_t  *seen = calloc(NKEYS, 1);

	(void) state;
	fill(&d, NKEYS);
	scan_all(&d, 37, SIZE_MAX / 2, seen, NKEYS, NULL);
	for (uint32_t i = 0; i < NKEYS; i++) {
		assert_int_equal(seen[i], 1);
	}
	// Small byte budgets: whole buckets per page, still exactly once.
	memset(seen, 0, NKEYS);
	scan_all(&d, 1000, 20, seen, NKEYS, NULL);
	for (uint32_t i = 0; i < NKEYS; i++) {
		assert_int_equal(seen[i], 1);
	}
	mpbi_dict_fini(&d);
	free(seen);
}

// Between pages: insert keys NKEYS.. (the table grows several times).
static void
grow_between(mpbi_dict *d, size_t page)
{
	for (uint32_t i = 0; i < 200; i++) {
		dict_put_int(d, NKEYS + (uint32_t) page * 200 + i, 0);
	}
}

static void
test_dict_scan_while_growing(void **state)
{
	mpbi_dict d;
	uint8_t  *seen = calloc(NKEYS, 1);

	(void) state;
	fill(&d, NKEYS);
	scan_all(&d, 50, SIZE_MAX / 2, seen, NKEYS, grow_between);
	assert_true(mpbi_dict_len(&d) > 4 * NKEYS); // it did grow
	// Growth never repeats a key (htab.h), so: exactly once.
	for (uint32_t i = 0; i < NKEYS; i++) {
		assert_int_equal(seen[i], 1);
	}
	mpbi_dict_fini(&d);
	free(seen);
}

// Between pages: delete keys from the top, NKEYS - 1 down, so the keys
// below NKEYS / 4 stay for the whole scan while the table shrinks.
static void
shrink_between(mpbi_dict *d, size_t page)
{
	for (uint32_t i = 0; i < 150; i++) {
		uint32_t k = NKEYS - 1 - (uint32_t) page * 150 - i;
		if (k >= NKEYS / 4 && k < NKEYS) {
			dict_del_int(d, k);
		}
	}
}

static void
test_dict_scan_while_shrinking(void **state)
{
	mpbi_dict d;
	uint8_t  *seen = calloc(NKEYS, 1);

	(void) state;
	fill(&d, NKEYS);
	scan_all(&d, 20, SIZE_MAX / 2, seen, NKEYS, shrink_between);
	assert_int_equal(mpbi_dict_len(&d), NKEYS / 4);
	// Keys present throughout: at least once; a shrink may repeat one
	// (htab.h), never more than a few times.
	for (uint32_t i = 0; i < NKEYS / 4; i++) {
		assert_true(seen[i] >= 1 && seen[i] <= 8);
	}
	mpbi_dict_fini(&d);
	free(seen);
}

static void
test_dict_popitem_drains(void **state)
{
	mpbi_dict   d;
	mpbi_dentry e;
	uint8_t    *seen = calloc(NKEYS, 1);

	(void) state;
	fill(&d, NKEYS);
	for (uint32_t n = 0; n < NKEYS; n++) {
		uint32_t key;
		assert_true(mpbi_dict_any(&d, &e));
		key = key_num(e.de_key, e.de_klen);
		assert_true(key < NKEYS);
		assert_int_equal(seen[key]++, 0);
		mpbi_item_destroy(mpbi_dict_remove(&d, e.de_key, e.de_klen));
	}
	assert_false(mpbi_dict_any(&d, &e));
	assert_int_equal(mpbi_dict_len(&d), 0);
	mpbi_dict_fini(&d);
	free(seen);
}

// ---------------------------------------------------------------------
// Lists, against an array model

static mpbi_item *
item_int(int v)
{
	uint8_t buf[9];
	size_t  n = mpbi_int_encode(v, buf);

	return (mpbi_item_create(buf, n));
}

static int
item_val(const mpbi_item *it)
{
	return ((int) key_num(it->it_data, it->it_len));
}

static void
check_list(const mpbi_list *l, const int *model, size_t n)
{
	assert_int_equal(mpbi_list_len(l), n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(item_val(mpbi_list_at(l, i)), model[i]);
	}
}

static void
test_list_model(void **state)
{
	mpbi_list l;
	int      *model = calloc(4096, sizeof(int));
	size_t    n     = 0;
	int       next  = 0;

	(void) state;
	srand(7);
	mpbi_list_init(&l);
	for (int step = 0; step < 6000; step++) {
		int op = rand() % 4;
		if (n == 0 || (op <= 1 && n < 4096)) {
			size_t pos = (size_t) rand() % (n + 1);
			assert_int_equal(mpbi_list_insert(&l, pos, item_int(next)), MPB_OK);
			memmove(&model[pos + 1], &model[pos], (n - pos) * sizeof(int));
			model[pos] = next++;
			n++;
		} else if (op == 2) {
			size_t pos = (size_t) rand() % n;
			mpbi_item *it = mpbi_list_take(&l, pos);
			assert_int_equal(item_val(it), model[pos]);
			mpbi_item_destroy(it);
			memmove(&model[pos], &model[pos + 1], (n - pos - 1) * sizeof(int));
			n--;
		} else {
			size_t pos = (size_t) rand() % n;
			mpbi_item_destroy(mpbi_list_swap(&l, pos, item_int(next)));
			model[pos] = next++;
		}
		if (step % 97 == 0) {
			check_list(&l, model, n);
		}
	}
	check_list(&l, model, n);
	mpbi_list_reverse(&l);
	for (size_t i = 0; i < n / 2; i++) {
		int t            = model[i];
		model[i]         = model[n - 1 - i];
		model[n - 1 - i] = t;
	}
	check_list(&l, model, n);
	mpbi_list_fini(&l);
	free(model);
}

static void
test_list_index_rules(void **state)
{
	mpbi_list l;
	size_t    pos;

	(void) state;
	mpbi_list_init(&l);
	assert_false(mpbi_list_pos(&l, 0, &pos));
	assert_false(mpbi_list_pos(&l, -1, &pos));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(mpbi_list_insert(&l, (size_t) i, item_int(i)), MPB_OK);
	}
	assert_true(mpbi_list_pos(&l, -1, &pos) && pos == 4);
	assert_true(mpbi_list_pos(&l, -5, &pos) && pos == 0);
	assert_false(mpbi_list_pos(&l, -6, &pos));
	assert_false(mpbi_list_pos(&l, 5, &pos));
	assert_false(mpbi_list_pos(&l, INT64_MIN, &pos));
	assert_int_equal(mpbi_list_clamp(&l, -2), 3);
	assert_int_equal(mpbi_list_clamp(&l, -100), 0);
	assert_int_equal(mpbi_list_clamp(&l, 100), 5);
	assert_int_equal(mpbi_list_clamp(&l, INT64_MIN), 0);
	assert_int_equal(mpbi_list_clamp(&l, INT64_MAX), 5);
	mpbi_list_drop_back(&l, 2);
	check_list(&l, (const int[]) { 0, 1, 2 }, 3);
	mpbi_list_fini(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_norm_int),
		cmocka_unit_test(test_key_norm_bytes),
		cmocka_unit_test(test_val_equal),
		cmocka_unit_test(test_int_encode_matches_msgpack),
		cmocka_unit_test(test_num_read),
		cmocka_unit_test(test_dict_grow_delete),
		cmocka_unit_test(test_dict_scan_unchanged),
		cmocka_unit_test(test_dict_scan_while_growing),
		cmocka_unit_test(test_dict_scan_while_shrinking),
		cmocka_unit_test(test_dict_popitem_drains),
		cmocka_unit_test(test_list_model),
		cmocka_unit_test(test_list_index_rules),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
