// test_batch_it.c -- the batch op and libmpb's mpb_batch: results in
// order, an error per operation with the rest still run, no waiting,
// no nesting, the size limits, isolation between concurrent batches of
// two processes, and durability across a kill -9.
//
// Run as `test_batch_it --writer URL ID` it is one of the isolation
// test's writer processes (exec'd: nng must not run in a forked child).

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "enc_it.h"
#include "harness.h"
#include "mpb.h"

// The broker's request limit for this test: small, so that the size
// tests stay small.
#define MAX_FRAME 65536
#define MAX_FRAME_ARG "65536"

// Isolation test: each writer sends ISO_ROUNDS batches of ISO_N puts.
#define ISO_ROUNDS 40
#define ISO_N 200

static const char *self_path;

typedef struct fixture {
	mpbt_broker b;
	mpb_client *c;
	mpb_batch  *batch;
} fixture;

static fixture fx;

static int
setup(void **state)
{
	const char *extra[] = { "--max-frame", MAX_FRAME_ARG, NULL };

	(void) state;
	memset(&fx, 0, sizeof(fx));
	if (!mpbt_broker_start(&fx.b, extra) ||
	    mpb_connect(fx.b.url, 5000, &fx.c) != MPB_OK ||
	    (fx.batch = mpb_batch_new()) == NULL) {
		return (-1);
	}
	return (0);
}

static int
teardown(void **state)
{
	(void) state;
	mpb_batch_free(fx.batch);
	mpb_close(fx.c);
	return (mpbt_broker_stop(&fx.b) == 0 ? 0 : -1);
}

static void
create_fifo(const char *q)
{
	assert_ok(mpb_queue_create(fx.c, q, MPB_QUEUE_FIFO, 0, NULL));
}

// Adds a put of the integer v to q.
static void
add_put_int(mpb_batch *b, const char *q, int64_t v)
{
	enc e = e_int(v);

	assert_ok(mpb_batch_queue_put(b, q, e.b, e.n, 0));
}

// The integer operation i of the last run got as its value.
static int64_t
value_int(mpb_batch *b, size_t i)
{
	const void *val;
	size_t      len;

	assert_ok(mpb_batch_value(b, i, &val, &len));
	return (d_int(val, len));
}

static uint64_t
qsize(const char *q)
{
	uint64_t n;

	assert_ok(mpb_queue_qsize(fx.c, q, &n));
	return (n);
}

// ---------------------------------------------------------------------
// Raw frames: what libmpb cannot build (bad requests, nested batches)

// Sends one frame on its own req0 socket and returns the reply, parsed
// (free with msgpack_unpacked_destroy).
static void
raw_call(const msgpack_sbuffer *req, msgpack_unpacked *out)
{
	nng_socket s;
	nng_msg   *msg;
	size_t     off = 0;

	assert_int_equal(nng_req0_open(&s), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000), 0);
	assert_int_equal(nng_dial(s, fx.b.url, NULL, 0), 0);
	assert_int_equal(nng_send(s, req->data, req->size, 0), 0);
	assert_int_equal(nng_recvmsg(s, &msg, 0), 0);
	msgpack_unpacked_init(out);
	assert_int_equal(msgpack_unpack_next(out, nng_msg_body(msg), nng_msg_len(msg), &off),
	    MSGPACK_UNPACK_SUCCESS);
	nng_msg_free(msg);
	nng_close(s);
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

// The status of reply frame o (an array whose first element is it).
static uint64_t
reply_status(const msgpack_object *o)
{
	assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
	assert_true(o->via.array.size >= 1);
	assert_int_equal(o->via.array.ptr[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	return (o->via.array.ptr[0].via.u64);
}

// ---------------------------------------------------------------------

// 1000 puts in one batch, then 1000 gets in one batch: in order.
static void
test_thousand_in_order(void **state)
{
	(void) state;
	create_fifo("order");
	for (int64_t i = 0; i < 1000; i++) {
		add_put_int(fx.batch, "order", i);
	}
	assert_int_equal(mpb_batch_len(fx.batch), 1000);
	assert_ok(mpb_batch_run(fx.c, fx.batch));
	for (size_t i = 0; i < 1000; i++) {
		assert_ok(mpb_batch_status(fx.batch, i));
	}
	assert_int_equal(qsize("order"), 1000);

	mpb_batch_clear(fx.batch);
	assert_int_equal(mpb_batch_len(fx.batch), 0);
	for (int i = 0; i < 1000; i++) {
		assert_ok(mpb_batch_queue_get(fx.batch, "order"));
	}
	assert_ok(mpb_batch_run(fx.c, fx.batch));
	for (size_t i = 0; i < 1000; i++) {
		assert_int_equal(value_int(fx.batch, i), (int64_t) i);
	}
	assert_int_equal(qsize("order"), 0);
	// No result past the end, and a put has no value.
	assert_mpb(mpb_batch_status(fx.batch, 1000), MPB_EINVAL);
	mpb_batch_clear(fx.batch);
	add_put_int(fx.batch, "order", 7);
	assert_ok(mpb_batch_run(fx.c, fx.batch));
	{
		const void *val;
		size_t      len;

		assert_mpb(mpb_batch_value(fx.batch, 0, &val, &len), MPB_EINVAL);
	}
	// The same batch runs again.
	assert_ok(mpb_batch_run(fx.c, fx.batch));
	assert_int_equal(qsize("order"), 2);
}

// Failing operations have their own status; those around them run.
static void
test_mixed_errors(void **state)
{
	enc k = e_str("k");
	enc s = e_str("not a number");
	enc v = e_int(5);

	(void) state;
	create_fifo("mixed");
	add_put_int(fx.batch, "mixed", 1);                             // 0
	add_put_int(fx.batch, "no-such-queue", 2);                     // 1 ENOENT
	assert_ok(mpb_batch_queue_get(fx.batch, "mixed"));             // 2 -> 1
	assert_ok(mpb_batch_queue_get(fx.batch, "mixed"));             // 3 EEMPTY
	assert_ok(mpb_batch_dict_set(fx.batch, "d", k.b, k.n, s.b, s.n)); // 4
	assert_ok(mpb_batch_dict_incr(fx.batch, "d", k.b, k.n, 1));    // 5 EVALUE
	assert_ok(mpb_batch_dict_set(fx.batch, "d", k.b, k.n, v.b, v.n)); // 6
	assert_ok(mpb_batch_dict_incr(fx.batch, "d", k.b, k.n, 2));    // 7 -> 7
	assert_ok(mpb_batch_dict_get(fx.batch, "d", k.b, k.n));        // 8 -> 7
	assert_ok(mpb_batch_list_append(fx.batch, "l", v.b, v.n));     // 9
	assert_ok(mpb_batch_list_pop(fx.batch, "l", -1));              // 10 -> 5
	assert_ok(mpb_batch_list_pop(fx.batch, "l", -1));              // 11 EINDEX
	assert_ok(mpb_batch_queue_put(fx.batch, "d", v.b, v.n, 0));    // 12 EWRONGTYPE
	add_put_int(fx.batch, "mixed", 3);                             // 13
	// Refused before they are added: not in the batch.
	assert_mpb(mpb_batch_queue_put(fx.batch, "", v.b, v.n, 0), MPB_EINVAL);
	assert_mpb(mpb_batch_queue_put(fx.batch, "mixed", "\xc1", 1, 0), MPB_EINVAL);
	assert_mpb(mpb_batch_list_append(fx.batch, "l", NULL, 0), MPB_EINVAL);
	assert_int_equal(mpb_batch_len(fx.batch), 14);

	assert_ok(mpb_batch_run(fx.c, fx.batch));
	{
		const mpb_err want[] = { MPB_OK, MPB_ENOENT, MPB_OK, MPB_EEMPTY,
			MPB_OK, MPB_EVALUE, MPB_OK, MPB_OK, MPB_OK, MPB_OK, MPB_OK,
			MPB_EINDEX, MPB_EWRONGTYPE, MPB_OK };
		int64_t n;

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			assert_int_equal(mpb_batch_status(fx.batch, i), want[i]);
		}
		assert_int_equal(value_int(fx.batch, 2), 1);
		assert_ok(mpb_batch_int(fx.batch, 7, &n));
		assert_int_equal(n, 7);
		assert_int_equal(value_int(fx.batch, 8), 7);
		assert_int_equal(value_int(fx.batch, 10), 5);
		assert_mpb(mpb_batch_int(fx.batch, 3, &n), MPB_EEMPTY);
	}
	assert_int_equal(qsize("mixed"), 1);
}

// A get that would wait answers EEMPTY at once inside a batch, and a
// batch of nothing is fine.
static void
test_no_waiting(void **state)
{
	long long t0;

	(void) state;
	create_fifo("idle");
	assert_ok(mpb_batch_run(fx.c, fx.batch));
	assert_ok(mpb_batch_queue_get(fx.batch, "idle"));
	t0 = mpbt_now_ms();
	assert_ok(mpb_batch_run(fx.c, fx.batch));
	assert_mpb(mpb_batch_status(fx.batch, 0), MPB_EEMPTY);
	assert_true(mpbt_now_ms() - t0 < 1000);
}

// Requests libmpb would not send: each gets its own error, the rest run;
// a get with a timeout does not wait; batches do not nest.
static void
test_raw_frames(void **state)
{
	msgpack_sbuffer  sb;
	msgpack_packer   pk;
	msgpack_unpacked u;
	msgpack_object  *r;
	long long        t0;
	const uint64_t   want[] = { MPB_ENOENT, MPB_OK, MPB_EINVAL, MPB_EINVAL,
		MPB_EPROTO, MPB_ENOTSUP, MPB_OK, MPB_EEMPTY, MPB_EINVAL };
	const size_t     n = sizeof(want) / sizeof(want[0]);

	(void) state;
	create_fifo("raw");
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, 110);
	msgpack_pack_array(&pk, n);
	// [12, "nope", 0]: no such queue
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, 12);
	pack_str(&pk, "nope");
	msgpack_pack_uint64(&pk, 0);
	// [11, "raw", 42, 0, 0]
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint64(&pk, 11);
	pack_str(&pk, "raw");
	msgpack_pack_uint64(&pk, 42);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint64(&pk, 0);
	// [12, "raw", "x"]: the timeout is not an integer
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, 12);
	pack_str(&pk, "raw");
	pack_str(&pk, "x");
	// [110, []]: a batch in a batch
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, 110);
	msgpack_pack_array(&pk, 0);
	// 5: not a request at all
	msgpack_pack_uint64(&pk, 5);
	// [999]: no such op
	msgpack_pack_array(&pk, 1);
	msgpack_pack_uint64(&pk, 999);
	// [12, "raw", 5000] -> 42, then the same would wait 5 s: EEMPTY now
	for (int i = 0; i < 2; i++) {
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint64(&pk, 12);
		pack_str(&pk, "raw");
		msgpack_pack_uint64(&pk, 5000);
	}
	// [11, "raw"]: too few arguments
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, 11);
	pack_str(&pk, "raw");

	t0 = mpbt_now_ms();
	raw_call(&sb, &u);
	assert_true(mpbt_now_ms() - t0 < 2000);
	assert_int_equal(reply_status(&u.data), 0);
	assert_int_equal(u.data.via.array.size, 2);
	r = &u.data.via.array.ptr[1];
	assert_int_equal(r->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(r->via.array.size, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(reply_status(&r->via.array.ptr[i]), want[i]);
	}
	// The get's reply is [0, value, priority], as the op alone.
	assert_int_equal(r->via.array.ptr[6].via.array.size, 3);
	assert_int_equal(r->via.array.ptr[6].via.array.ptr[1].via.u64, 42);
	msgpack_unpacked_destroy(&u);

	// The batch argument must be an array.
	sb.size = 0;
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, 110);
	pack_str(&pk, "no");
	raw_call(&sb, &u);
	assert_int_equal(reply_status(&u.data), MPB_EINVAL);
	msgpack_unpacked_destroy(&u);

	// At most 4096 requests: one more, and none runs.
	sb.size = 0;
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, 110);
	msgpack_pack_array(&pk, 4097);
	for (int i = 0; i < 4097; i++) {
		msgpack_pack_array(&pk, 1);
		msgpack_pack_uint64(&pk, 1);
	}
	raw_call(&sb, &u);
	assert_int_equal(reply_status(&u.data), MPB_EMSGSIZE);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

// A batch larger than --max-frame is refused whole; a reply that outgrows
// it stops the batch, leaving the rest unrun.
static void
test_sizes(void **state)
{
	uint8_t big[1000];
	size_t  ran = 0;

	(void) state;
	create_fifo("big");
	// A bin of 997 bytes: one value of 1000 bytes.
	big[0] = 0xc5;
	big[1] = 997 >> 8;
	big[2] = 997 & 0xff;
	memset(big + 3, 'x', sizeof(big) - 3);
	for (int i = 0; i < 70; i++) {
		assert_ok(mpb_batch_queue_put(fx.batch, "big", big, sizeof(big), 0));
	}
	assert_mpb(mpb_batch_run(fx.c, fx.batch), MPB_EMSGSIZE);
	assert_mpb(mpb_batch_status(fx.batch, 0), MPB_EMSGSIZE);
	assert_int_equal(qsize("big"), 0);

	// Two batches of 50 fit; then 100 gets in one reply do not.
	mpb_batch_clear(fx.batch);
	for (int i = 0; i < 50; i++) {
		assert_ok(mpb_batch_queue_put(fx.batch, "big", big, sizeof(big), 0));
	}
	assert_ok(mpb_batch_run(fx.c, fx.batch));
	assert_ok(mpb_batch_run(fx.c, fx.batch));
	assert_int_equal(qsize("big"), 100);
	mpb_batch_clear(fx.batch);
	for (int i = 0; i < 100; i++) {
		assert_ok(mpb_batch_queue_get(fx.batch, "big"));
	}
	assert_ok(mpb_batch_run(fx.c, fx.batch));
	while (ran < 100 && mpb_batch_status(fx.batch, ran) == MPB_OK) {
		ran++;
	}
	// Run while the reply was within the limit (about 1 KB each), and
	// one more.
	assert_in_range(ran, MAX_FRAME / 1010, MAX_FRAME / 1000 + 1);
	for (size_t i = ran; i < 100; i++) {
		assert_mpb(mpb_batch_status(fx.batch, i), MPB_EMSGSIZE);
	}
	assert_int_equal(qsize("big"), 100 - ran);

	// The 4097th operation is refused when added.
	mpb_batch_clear(fx.batch);
	for (int i = 0; i < 4096; i++) {
		assert_ok(mpb_batch_queue_get(fx.batch, "big"));
	}
	assert_mpb(mpb_batch_queue_get(fx.batch, "big"), MPB_EMSGSIZE);
	assert_int_equal(mpb_batch_len(fx.batch), 4096);
}

// Writer process of the isolation test: ISO_ROUNDS batches of ISO_N puts
// to "iso", item k of round r of writer id being id*1e6 + r*1000 + k.
static int
writer_main(const char *url, const char *id_text)
{
	mpb_client *c;
	mpb_batch  *b = mpb_batch_new();
	int64_t     id = atoi(id_text);

	if (b == NULL || mpb_connect(url, 5000, &c) != MPB_OK) {
		return (2);
	}
	for (int64_t r = 0; r < ISO_ROUNDS; r++) {
		mpb_batch_clear(b);
		for (int64_t k = 0; k < ISO_N; k++) {
			enc e = e_int(id * 1000000 + r * 1000 + k);

			if (mpb_batch_queue_put(b, "iso", e.b, e.n, 0) != MPB_OK) {
				return (3);
			}
		}
		if (mpb_batch_run(c, b) != MPB_OK) {
			return (4);
		}
		for (size_t k = 0; k < ISO_N; k++) {
			if (mpb_batch_status(b, k) != MPB_OK) {
				return (5);
			}
		}
	}
	mpb_batch_free(b);
	mpb_close(c);
	return (0);
}

// Two processes send batches to one queue while this one reads it: each
// batch's items arrive together and in order, never interleaved with
// another batch's.
static void
test_isolation(void **state)
{
	const size_t total = 2 * ISO_ROUNDS * ISO_N;
	int64_t     *seen  = calloc(total, sizeof(*seen));
	mpbt_proc    w[2];
	size_t       got = 0;
	int          switches = 0;

	(void) state;
	assert_non_null(seen);
	create_fifo("iso");
	for (int i = 0; i < 2; i++) {
		const char *argv[] = { self_path, "--writer", fx.b.url,
			i == 0 ? "1" : "2", NULL };

		assert_true(mpbt_spawn(&w[i], argv, false));
	}
	// Read as they write, in batches of gets.
	mpb_batch_clear(fx.batch);
	for (int i = 0; i < 256; i++) {
		assert_ok(mpb_batch_queue_get(fx.batch, "iso"));
	}
	for (long long t0 = mpbt_now_ms(); got < total;) {
		assert_true(mpbt_now_ms() - t0 < 60000);
		assert_ok(mpb_batch_run(fx.c, fx.batch));
		for (size_t i = 0; i < 256 && got < total; i++) {
			if (mpb_batch_status(fx.batch, i) == MPB_OK) {
				seen[got++] = value_int(fx.batch, i);
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(mpbt_wait(&w[i], 30000), 0);
	}
	// Every batch is ISO_N consecutive items, k = 0..ISO_N-1.
	for (size_t i = 0; i < total; i += ISO_N) {
		int64_t base = seen[i];

		assert_int_equal(base % 1000, 0);
		for (size_t k = 0; k < ISO_N; k++) {
			assert_int_equal(seen[i + k], base + (int64_t) k);
		}
		// How often the writers took turns: the test means more
		// the more they overlapped.
		switches += i > 0 && seen[i] / 1000000 != seen[i - 1] / 1000000;
	}
	print_message("the writers' batches took turns %d times\n", switches);
	free(seen);
}

// ---------------------------------------------------------------------
// Durability: a fixture of its own (a data directory, restarts)

static char data_dir[64];

static void
rm_data_dir(void)
{
	DIR           *d = opendir(data_dir);
	struct dirent *de;
	char           path[320];

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			snprintf(path, sizeof(path), "%s/%s", data_dir, de->d_name);
			unlink(path);
		}
	}
	if (d != NULL) {
		closedir(d);
	}
	rmdir(data_dir);
}

static void
start_durable(void)
{
	const char *extra[] = { "--data-dir", data_dir, "--fsync", "always", NULL };

	assert_true(mpbt_broker_start(&fx.b, extra));
	assert_ok(mpb_connect(fx.b.url, 5000, &fx.c));
}

// What a batch's reply acknowledged survives a kill -9 right after it.
static void
test_durable_kill9(void **state)
{
	enc     k = e_str("n");
	int64_t n;

	(void) state;
	snprintf(data_dir, sizeof(data_dir), "/tmp/mpbt-batch-XXXXXX");
	assert_non_null(mkdtemp(data_dir));
	memset(&fx, 0, sizeof(fx));
	start_durable();
	fx.batch = mpb_batch_new();
	assert_non_null(fx.batch);
	create_fifo("dq");
	for (int64_t i = 0; i < 300; i++) {
		add_put_int(fx.batch, "dq", i);
	}
	assert_ok(mpb_batch_dict_incr(fx.batch, "dd", k.b, k.n, 300));
	assert_ok(mpb_batch_queue_get(fx.batch, "dq")); // takes 0
	assert_ok(mpb_batch_run(fx.c, fx.batch));
	assert_ok(mpb_batch_status(fx.batch, 301));
	mpb_close(fx.c);
	fx.c = NULL;
	mpbt_broker_kill(&fx.b);

	start_durable();
	mpb_batch_clear(fx.batch);
	for (int i = 0; i < 300; i++) {
		assert_ok(mpb_batch_queue_get(fx.batch, "dq"));
	}
	assert_ok(mpb_batch_dict_incr(fx.batch, "dd", k.b, k.n, 0));
	assert_ok(mpb_batch_run(fx.c, fx.batch));
	for (size_t i = 0; i < 299; i++) {
		assert_int_equal(value_int(fx.batch, i), (int64_t) i + 1);
	}
	assert_mpb(mpb_batch_status(fx.batch, 299), MPB_EEMPTY);
	assert_ok(mpb_batch_int(fx.batch, 300, &n));
	assert_int_equal(n, 300);
	mpb_batch_free(fx.batch);
	fx.batch = NULL;
	mpb_close(fx.c);
	fx.c = NULL;
	assert_int_equal(mpbt_broker_stop(&fx.b), 0);
	rm_data_dir();
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_thousand_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mixed_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolation, setup, teardown),
		cmocka_unit_test(test_durable_kill9),
	};

	if (argc == 4 && strcmp(argv[1], "--writer") == 0) {
		return (writer_main(argv[2], argv[3]));
	}
	// Writers exec this very program again.
	self_path = "/proc/self/exe";
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
