// test_chunkq.c -- unit tests for broker/chunkq.c (the inline storage of
// fifo and lifo queues) and the fifo/lifo ops over it in store_queue.c:
// both ends across chunk boundaries, requeue at the front, delivery
// counts, values bigger than a chunk, chunks freed as the queue empties,
// a million-item round trip, a random run against an array model, and
// the --max-memory accounting of the store.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chunkq.h"
#include "store_queue.h"

// A standard chunk's allocation (chunkq.c).
#define CHUNK_BYTES 4096

static uint64_t
rnd(uint64_t *s)
{
	// xorshift64: fixed seed, so a failure replays the same way.
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

// The value of entry `id`: its length comes from the id (0 to 299 bytes,
// or `big` bytes for every 97th id when big is not 0), its bytes too.
static size_t
val_len(uint32_t id, size_t big)
{
	if (big != 0 && id % 97 == 5) {
		return (big);
	}
	return ((size_t) (id * 7919u) % 300);
}

static void
val_fill(uint8_t *buf, uint32_t id, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		buf[i] = (uint8_t) (id * 31u + i);
	}
}

static uint8_t *scratch; // big enough for any value of a test

#define FRONT MPBI_CHUNKQ_FRONT
#define BACK MPBI_CHUNKQ_BACK

static void
push(mpbi_chunkq *q, mpbi_chunkq_end e, uint32_t id, size_t big,
    uint32_t deliveries)
{
	size_t len = val_len(id, big);

	val_fill(scratch, id, len);
	assert_int_equal(mpbi_chunkq_push(q, e, scratch, len, deliveries), MPB_OK);
}

static void
check_view(const mpbi_chunkq_view *v, uint32_t id, size_t big,
    uint32_t deliveries)
{
	size_t len = val_len(id, big);

	assert_int_equal(v->cv_len, len);
	assert_int_equal(v->cv_deliveries, deliveries);
	val_fill(scratch, id, len);
	assert_memory_equal(v->cv_data, scratch, len);
}

// Starts q with entries 0 .. n-1, front to back.
static void
fill(mpbi_chunkq *q, uint32_t n)
{
	mpbi_chunkq_init(q);
	for (uint32_t i = 0; i < n; i++) {
		push(q, BACK, i, 0, 0);
	}
}

// Peeks at end e, checks the entry is `id`, and drops it.
static void
pop_check(mpbi_chunkq *q, mpbi_chunkq_end e, uint32_t id, size_t big,
    uint32_t deliveries)
{
	mpbi_chunkq_view v;

	assert_true(mpbi_chunkq_peek(q, e, &v));
	check_view(&v, id, big, deliveries);
	assert_int_equal(mpbi_chunkq_drop(q, e), val_len(id, big));
}

static int
setup(void **state)
{
	(void) state;
	scratch = malloc(1u << 20);
	return (scratch == NULL ? -1 : 0);
}

static int
teardown(void **state)
{
	(void) state;
	free(scratch);
	scratch = NULL;
	return (0);
}

static void
test_empty(void **state)
{
	mpbi_chunkq      q;
	mpbi_chunkq_view v;
	mpbi_chunkq_iter it;

	(void) state;
	mpbi_chunkq_init(&q);
	assert_int_equal(mpbi_chunkq_len(&q), 0);
	assert_false(mpbi_chunkq_peek(&q, FRONT, &v));
	assert_false(mpbi_chunkq_peek(&q, BACK, &v));
	mpbi_chunkq_iter_init(&q, &it);
	assert_false(mpbi_chunkq_iter_next(&it, &v));
	assert_int_equal(mpbi_chunkq_chunks(&q), 0);
	mpbi_chunkq_fini(&q);
	mpbi_chunkq_fini(&q); // twice is harmless
}

// fifo: back in, front out, over many chunks.
static void
test_fifo_across_chunks(void **state)
{
	mpbi_chunkq q;
	uint32_t    n = 20000;

	(void) state;
	fill(&q, n);
	assert_int_equal(mpbi_chunkq_len(&q), n);
	assert_true(mpbi_chunkq_chunks(&q) > 100);
	for (uint32_t i = 0; i < n; i++) {
		pop_check(&q, FRONT, i, 0, 0);
	}
	assert_int_equal(mpbi_chunkq_len(&q), 0);
	assert_int_equal(mpbi_chunkq_chunks(&q), 1); // the spare
	mpbi_chunkq_fini(&q);
}

// lifo: back in, back out, and interleaved so the top crosses chunk
// boundaries in both directions.
static void
test_lifo_across_chunks(void **state)
{
	mpbi_chunkq q;
	uint32_t    n = 20000;

	(void) state;
	fill(&q, n);
	for (uint32_t i = n; i-- > n / 2;) {
		pop_check(&q, BACK, i, 0, 0);
	}
	for (uint32_t i = n / 2; i < n; i++) {
		push(&q, BACK, i, 0, 0);
	}
	for (uint32_t i = n; i-- > 0;) {
		pop_check(&q, BACK, i, 0, 0);
	}
	assert_int_equal(mpbi_chunkq_len(&q), 0);
	assert_int_equal(mpbi_chunkq_chunks(&q), 1);
	mpbi_chunkq_fini(&q);
}

// A fifo's requeue: items taken from the front go back to the front,
// newest first, so the oldest is first again; also onto an empty queue
// and in front of a chunk that has no room at its head.
static void
test_requeue_front(void **state)
{
	mpbi_chunkq      q;
	mpbi_chunkq_iter it;
	mpbi_chunkq_view v;
	uint32_t         n = 5000;

	(void) state;
	fill(&q, n);
	// Nothing taken yet: the first chunk has no room at its head.
	push(&q, FRONT, n, 0, 1);
	pop_check(&q, FRONT, n, 0, 1);
	for (uint32_t i = 0; i < 3000; i++) {
		pop_check(&q, FRONT, i, 0, 0);
	}
	for (uint32_t i = 3000; i-- > 0;) {
		push(&q, FRONT, i, 0, i % 3);
	}
	assert_int_equal(mpbi_chunkq_len(&q), n);
	mpbi_chunkq_iter_init(&q, &it);
	for (uint32_t i = 0; i < n; i++) {
		assert_true(mpbi_chunkq_iter_next(&it, &v));
		check_view(&v, i, 0, i < 3000 ? i % 3 : 0);
	}
	assert_false(mpbi_chunkq_iter_next(&it, &v));
	// Drain from the back this time.
	for (uint32_t i = n; i-- > 0;) {
		pop_check(&q, BACK, i, 0, i < 3000 ? i % 3 : 0);
	}
	// Front pushes onto an empty queue, then back pushes after them.
	push(&q, FRONT, 1, 0, 0);
	push(&q, FRONT, 0, 0, 0);
	push(&q, BACK, 2, 0, 0);
	for (uint32_t i = 0; i < 3; i++) {
		pop_check(&q, FRONT, i, 0, 0);
	}
	assert_int_equal(mpbi_chunkq_chunks(&q), 1);
	mpbi_chunkq_fini(&q);
}

// Delivery counts round trip at every varint width, at both ends.
static void
test_deliveries(void **state)
{
	static const uint32_t d[] = { 0, 1, 63, 64, 127, 128, 16383, 16384,
		(1u << 21) - 1, 1u << 21, (1u << 28) - 1, 1u << 28, UINT32_MAX };
	size_t                n   = sizeof(d) / sizeof(d[0]);
	mpbi_chunkq           q;

	(void) state;
	mpbi_chunkq_init(&q);
	for (size_t i = 0; i < n; i++) {
		push(&q, BACK, (uint32_t) i, 0, d[i]);
	}
	for (size_t i = 0; i < n; i++) {
		pop_check(&q, FRONT, (uint32_t) i, 0, d[i]);
	}
	for (size_t i = 0; i < n; i++) {
		push(&q, FRONT, (uint32_t) i, 0, d[i]);
	}
	for (size_t i = 0; i < n; i++) {
		pop_check(&q, BACK, (uint32_t) i, 0, d[i]);
	}
	mpbi_chunkq_fini(&q);
}

// Values around and far beyond a chunk's size, mixed with small ones,
// pushed and popped at both ends; and the empty value.
static void
test_large_values(void **state)
{
	static const size_t bigs[] = { CHUNK_BYTES - 64, CHUNK_BYTES - 40,
		CHUNK_BYTES - 36, CHUNK_BYTES - 32, CHUNK_BYTES, CHUNK_BYTES + 1,
		20000, 1u << 20 };
	mpbi_chunkq         q;
	mpbi_chunkq_view    v;

	(void) state;
	for (size_t b = 0; b < sizeof(bigs) / sizeof(bigs[0]); b++) {
		mpbi_chunkq_init(&q);
		for (uint32_t i = 0; i < 400; i++) {
			push(&q, BACK, i, bigs[b], i % 2);
		}
		for (uint32_t i = 400; i < 600; i++) {
			push(&q, FRONT, i, bigs[b], 0);
		}
		// Front: 599 .. 400, then 0 .. 399.
		for (uint32_t i = 600; i-- > 500;) {
			pop_check(&q, FRONT, i, bigs[b], 0);
		}
		for (uint32_t i = 400; i-- > 200;) {
			pop_check(&q, BACK, i, bigs[b], i % 2);
		}
		for (uint32_t i = 500; i-- > 400;) {
			pop_check(&q, FRONT, i, bigs[b], 0);
		}
		for (uint32_t i = 0; i < 200; i++) {
			pop_check(&q, FRONT, i, bigs[b], i % 2);
		}
		assert_int_equal(mpbi_chunkq_len(&q), 0);
		assert_true(mpbi_chunkq_chunks(&q) <= 1);
		mpbi_chunkq_fini(&q);
	}
	mpbi_chunkq_init(&q);
	assert_int_equal(mpbi_chunkq_push(&q, BACK, "", 0, 0), MPB_OK);
	assert_int_equal(mpbi_chunkq_push(&q, FRONT, "", 0, 7), MPB_OK);
	assert_true(mpbi_chunkq_peek(&q, BACK, &v));
	assert_int_equal(v.cv_len, 0);
	assert_int_equal(v.cv_deliveries, 0);
	assert_true(mpbi_chunkq_peek(&q, FRONT, &v));
	assert_int_equal(v.cv_deliveries, 7);
	assert_int_equal(
	    mpbi_chunkq_push(&q, BACK, "", MPBI_CHUNKQ_MAX_VALUE + 1, 0),
	    MPB_ENOMEM);
	assert_int_equal(mpbi_chunkq_len(&q), 2);
	mpbi_chunkq_fini(&q);
}

// Chunks go as the queue empties: memory follows the standing depth, with
// at most one spare.
static void
test_empty_frees_chunks(void **state)
{
	mpbi_chunkq q;
	uint32_t    n = 100000;
	size_t      full;
	size_t      half;

	(void) state;
	fill(&q, n);
	full = mpbi_chunkq_chunks(&q);
	for (uint32_t i = 0; i < n / 2; i++) {
		pop_check(&q, FRONT, i, 0, 0);
	}
	half = mpbi_chunkq_chunks(&q);
	assert_true(half <= full / 2 + 2);
	for (uint32_t i = n; i-- > n / 2;) {
		pop_check(&q, BACK, i, 0, 0);
	}
	assert_int_equal(mpbi_chunkq_chunks(&q), 1);
	// A queue that hovers around empty reuses the spare.
	for (uint32_t i = 0; i < 1000; i++) {
		push(&q, BACK, i, 0, 0);
		assert_int_equal(mpbi_chunkq_chunks(&q), 1);
		pop_check(&q, FRONT, i, 0, 0);
	}
	mpbi_chunkq_fini(&q);
	assert_int_equal(mpbi_chunkq_chunks(&q), 0);
}

// A million 18-byte values (a msgpack bin of 16 bytes, as mpb-bench's
// memory mode puts), in and out at both ends, at about 20 bytes each.
static void
test_million_round_trip(void **state)
{
	mpbi_chunkq      q;
	uint32_t         n = 1000000;
	uint8_t          val[18];
	mpbi_chunkq_view v;
	size_t           bytes;

	(void) state;
	mpbi_chunkq_init(&q);
	val[0] = 0xc4;
	val[1] = 16;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(val + 2, &i, sizeof(i));
		memset(val + 2 + sizeof(i), (int) (i & 0xff), 16 - sizeof(i));
		assert_int_equal(
		    mpbi_chunkq_push(&q, BACK, val, sizeof(val), 0), MPB_OK);
	}
	bytes = mpbi_chunkq_chunks(&q) * CHUNK_BYTES;
	print_message("1M items of 18 bytes: %zu chunks, %.2f bytes/item\n",
	    mpbi_chunkq_chunks(&q), (double) bytes / n);
	assert_true(bytes <= (size_t) n * 21);
	for (uint32_t i = 0; i < n; i++) {
		// Alternately the front (0, 1, ...) and the back (n-1, ...).
		mpbi_chunkq_end e    = i % 2 == 0 ? FRONT : BACK;
		uint32_t        want = e == FRONT ? i / 2 : n - 1 - i / 2;

		assert_true(mpbi_chunkq_peek(&q, e, &v));
		assert_int_equal(v.cv_len, sizeof(val));
		memcpy(val + 2, &want, sizeof(want));
		memset(val + 2 + sizeof(want), (int) (want & 0xff), 16 - sizeof(want));
		assert_memory_equal(v.cv_data, val, sizeof(val));
		(void) mpbi_chunkq_drop(&q, e);
	}
	assert_int_equal(mpbi_chunkq_len(&q), 0);
	assert_int_equal(mpbi_chunkq_chunks(&q), 1);
	mpbi_chunkq_fini(&q);
}

// Random operations at both ends checked against an array model.
static void
test_random_model(void **state)
{
	enum { OPS = 200000, CAP = 2 * OPS + 1 };
	uint32_t        *ids  = malloc(CAP * sizeof(*ids));
	uint32_t        *dls  = malloc(CAP * sizeof(*dls));
	size_t           head = CAP / 2;
	size_t           tail = CAP / 2; // the model is ids[head, tail)
	uint64_t         seed = 0x9e3779b97f4a7c15u;
	uint32_t         next = 0;
	mpbi_chunkq      q;
	mpbi_chunkq_iter it;
	mpbi_chunkq_view v;

	(void) state;
	assert_non_null(ids);
	assert_non_null(dls);
	mpbi_chunkq_init(&q);
	for (int op = 0; op < OPS; op++) {
		uint64_t r = rnd(&seed);
		uint32_t d = (r >> 8) % 4 == 0 ? (uint32_t) (r >> 16) : 0;

		// Slightly more pushes than pops, so the depth wanders.
		switch (r % 9) {
		case 0: case 1: case 2:
			push(&q, BACK, next, 5000, d);
			ids[tail] = next++;
			dls[tail++] = d;
			break;
		case 3: case 4:
			push(&q, FRONT, next, 5000, d);
			ids[--head] = next++;
			dls[head]   = d;
			break;
		case 5: case 6:
			if (head < tail) {
				pop_check(&q, FRONT, ids[head], 5000, dls[head]);
				head++;
			}
			break;
		default:
			if (head < tail) {
				tail--;
				pop_check(&q, BACK, ids[tail], 5000, dls[tail]);
			}
			break;
		}
		assert_int_equal(mpbi_chunkq_len(&q), tail - head);
		if (op % 20000 == 0) {
			mpbi_chunkq_iter_init(&q, &it);
			for (size_t i = head; i < tail; i++) {
				assert_true(mpbi_chunkq_iter_next(&it, &v));
				check_view(&v, ids[i], 5000, dls[i]);
			}
			assert_false(mpbi_chunkq_iter_next(&it, &v));
		}
	}
	mpbi_chunkq_fini(&q);
	free(ids);
	free(dls);
}

static mpb_err
count_each(void *arg, const mpbi_qview *v)
{
	size_t *n = arg;

	assert_int_equal(v->qv_prio, 0);
	(*n)++;
	return (MPB_OK);
}

// The fifo and lifo ops: plain gets by peek and drop, leased gets by
// take and requeue, and every value counted in mpbi_item_bytes as
// len + sizeof(mpbi_item) while stored, inline or as an item.
static void
test_store_ops(void **state)
{
	(void) state;
	for (uint64_t kind = MPBI_QKIND_FIFO; kind <= MPBI_QKIND_LIFO; kind++) {
		const mpbi_queue_ops *ops  = mpbi_queue_ops_for(kind);
		mpbi_queue           *q    = calloc(1, sizeof(*q));
		size_t                base = mpbi_item_bytes();
		bool                  lifo = kind == MPBI_QKIND_LIFO;
		mpbi_qview            v;
		mpbi_item            *it;
		int64_t               prio;
		uint64_t              seq;
		size_t                n = 0;

		assert_non_null(q);
		q->q_ops = ops;
		ops->qo_init(q);
		assert_false(ops->qo_peek(q, &v));
		for (uint32_t i = 0; i < 1000; i++) {
			size_t len = val_len(i, 0);
			val_fill(scratch, i, len);
			assert_int_equal(ops->qo_put(q, scratch, len, 9), MPB_OK);
		}
		assert_int_equal(ops->qo_len(q), 1000);
		assert_int_equal(ops->qo_each(q, count_each, &n), MPB_OK);
		assert_int_equal(n, 1000);
		size_t full = mpbi_item_bytes();
		assert_true(full > base);
		// Leased: the item is counted instead of the inline value.
		assert_int_equal(ops->qo_take(q, &it, &prio, &seq), MPB_OK);
		assert_int_equal(mpbi_item_bytes(), full);
		assert_int_equal(it->it_len, val_len(lifo ? 999 : 0, 0));
		assert_int_equal(prio, 0);
		it->it_deliveries = 3;
		assert_int_equal(ops->qo_requeue(q, it, prio, seq), MPB_OK);
		assert_int_equal(mpbi_item_bytes(), full);
		assert_true(ops->qo_peek(q, &v));
		assert_int_equal(v.qv_deliveries, 3);
		// Plain gets: peek, then drop.
		for (uint32_t i = 0; i < 500; i++) {
			uint32_t id = lifo ? 999 - i : i;
			assert_true(ops->qo_peek(q, &v));
			assert_int_equal(v.qv_len, val_len(id, 0));
			assert_int_equal(v.qv_deliveries, i == 0 ? 3 : 0);
			ops->qo_drop(q);
		}
		assert_true(mpbi_item_bytes() < full);
		// fini uncounts what is left.
		ops->qo_fini(q);
		assert_int_equal(mpbi_item_bytes(), base);
		free(q);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test_setup_teardown(test_fifo_across_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifo_across_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requeue_front, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliveries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_frees_chunks, setup, teardown),
		cmocka_unit_test(test_million_round_trip),
		cmocka_unit_test_setup_teardown(test_random_model, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_ops, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
