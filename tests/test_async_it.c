// test_async_it.c -- asynchronous calls end to end: many requests in
// flight on one handle against a real mpbroker, errors delivered to
// callbacks, mpb_async_wait, and what happens to calls in flight when the
// handle is closed or the broker dies.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <msgpack.h>

#include "enc_it.h"
#include "harness.h"
#include "mpb.h"

// Calls in the bulk tests, and the bound on them in flight.
#define BULK   10000
#define WINDOW 256

static mpbt_broker broker;
static mpb_client *cl;

static int
group_setup(void **state)
{
	(void) state;
	if (!mpbt_broker_start(&broker, NULL)) {
		return (-1);
	}
	return (mpb_connect(broker.url, 5000, &cl) == MPB_OK ? 0 : -1);
}

static int
group_teardown(void **state)
{
	(void) state;
	mpb_close(cl);
	return (mpbt_broker_stop(&broker) == 0 ? 0 : -1);
}

// ---------------------------------------------------------------------
// What callbacks record.  Each call's arg is its slot in a `calls`
// array; the callback checks nothing itself (cmocka's asserts must run on
// the test's thread) but records everything.

typedef struct call {
	struct calls *all;
	atomic_int    called; // how many times done ran: must end at 1
	mpb_err       err;
	int64_t       value; // decoded integer result, or -1
	long long     at_ms; // when done ran
	char          text[64];
} call;

typedef struct calls {
	call       *v;
	size_t      n;
	atomic_long done; // callbacks run
} calls;

static void
calls_init(calls *cs, size_t n)
{
	cs->v = calloc(n, sizeof(*cs->v));
	assert_non_null(cs->v);
	cs->n = n;
	atomic_init(&cs->done, 0);
	for (size_t i = 0; i < n; i++) {
		cs->v[i].all   = cs;
		cs->v[i].value = -1;
	}
}

// int_of decodes a msgpack integer without cmocka (not on this thread).
static int64_t
int_of(const void *value, size_t len)
{
	msgpack_unpacked u;
	size_t           off = 0;
	int64_t          v   = -2;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, value, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    off == len) {
		if (u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			v = (int64_t) u.data.via.u64;
		} else if (u.data.type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
			v = u.data.via.i64;
		}
	}
	msgpack_unpacked_destroy(&u);
	return (v);
}

static void
record(void *arg, mpb_err err, const void *value, size_t len)
{
	call *k = arg;

	k->err   = err;
	k->at_ms = mpbt_now_ms();
	if (value != NULL) {
		k->value = int_of(value, len);
	}
	snprintf(k->text, sizeof(k->text), "%s", mpb_last_error_text());
	atomic_fetch_add(&k->called, 1);
	atomic_fetch_add(&k->all->done, 1);
}

// record_item records a get of test_coalesced_over_frame's items: value
// is the item's number, or -1 when its bytes are not the whole item.
static void
record_item(void *arg, mpb_err err, const void *value, size_t len)
{
	call          *k = arg;
	const uint8_t *b = value;

	if (value != NULL && len == 1003 && b[0] == 0xc5) {
		k->value = b[3];
	}
	k->err   = err;
	k->at_ms = mpbt_now_ms();
	atomic_fetch_add(&k->called, 1);
	atomic_fetch_add(&k->all->done, 1);
}

// Every call was called back exactly once; returns how many got want.
static size_t
calls_check(calls *cs, mpb_err want)
{
	size_t n = 0;

	assert_int_equal(atomic_load(&cs->done), (long) cs->n);
	for (size_t i = 0; i < cs->n; i++) {
		assert_int_equal(atomic_load(&cs->v[i].called), 1);
		n += cs->v[i].err == want;
	}
	return (n);
}

static void
calls_fini(calls *cs)
{
	free(cs->v);
}

static void
create(const char *q)
{
	assert_ok(mpb_queue_create(cl, q, MPB_QUEUE_FIFO, 0, NULL));
}

// ---------------------------------------------------------------------

// 10,000 puts, then 10,000 gets, at most WINDOW in flight: every
// callback once, every value exactly once (in any order: calls in flight
// together are independent).
static void
test_bulk_put_get(void **state)
{
	calls    puts, gets;
	uint64_t size;
	char    *seen;

	(void) state;
	create("bulk");
	assert_ok(mpb_async_set_limit(cl, WINDOW));
	calls_init(&puts, BULK);
	for (size_t i = 0; i < BULK; i++) {
		enc e = e_int((int64_t) i);

		assert_ok(mpb_async_queue_put(
		    cl, "bulk", e.b, e.n, 0, 0, record, &puts.v[i]));
		// The library's count, which bounds this one, stays at
		// WINDOW: a submission at the bound waited.
		assert_true((long) i + 1 - atomic_load(&puts.done) <= WINDOW);
	}
	assert_ok(mpb_async_wait(cl, 60000));
	assert_int_equal(calls_check(&puts, MPB_OK), BULK);
	assert_ok(mpb_queue_qsize(cl, "bulk", &size));
	assert_int_equal(size, BULK);

	calls_init(&gets, BULK);
	for (size_t i = 0; i < BULK; i++) {
		assert_ok(mpb_async_queue_get(cl, "bulk", 0, record, &gets.v[i]));
		assert_true((long) i + 1 - atomic_load(&gets.done) <= WINDOW);
	}
	assert_ok(mpb_async_wait(cl, 60000));
	assert_int_equal(calls_check(&gets, MPB_OK), BULK);
	seen = calloc(BULK, 1);
	assert_non_null(seen);
	for (size_t i = 0; i < BULK; i++) {
		int64_t v = gets.v[i].value;

		assert_true(v >= 0 && v < BULK);
		assert_int_equal(seen[v], 0);
		seen[v] = 1;
	}
	assert_ok(mpb_queue_qsize(cl, "bulk", &size));
	assert_int_equal(size, 0);
	assert_ok(mpb_async_set_limit(cl, MPB_ASYNC_MAX_INFLIGHT));
	free(seen);
	calls_fini(&puts);
	calls_fini(&gets);
}

// Errors reach the callback with the broker's text; a timed get times
// out in the broker after its timeout; refused submissions call nothing.
static void
test_errors(void **state)
{
	calls     cs;
	long long t0;
	enc       e = e_int(1);

	(void) state;
	create("empty");
	calls_init(&cs, 2);
	t0 = mpbt_now_ms();
	assert_ok(mpb_async_queue_get(cl, "no-such-queue", 0, record, &cs.v[0]));
	assert_ok(mpb_async_queue_get(cl, "empty", 300, record, &cs.v[1]));
	assert_ok(mpb_async_wait(cl, 10000));
	calls_check(&cs, MPB_OK);
	assert_int_equal(cs.v[0].err, MPB_ENOENT);
	assert_true(strstr(cs.v[0].text, "no-such-queue") != NULL);
	assert_int_equal(cs.v[1].err, MPB_ETIMEDOUT);
	assert_true(cs.v[1].at_ms - t0 >= 290);
	assert_true(cs.v[1].at_ms - t0 < 5000);
	assert_int_equal(cs.v[1].value, -1);

	// Refused before sending: no callback.
	assert_mpb(mpb_async_queue_put(cl, "empty", "\xc1", 1, 0, 0, record,
	               &cs.v[0]),
	    MPB_EINVAL);
	assert_mpb(mpb_async_queue_put(cl, "", e.b, e.n, 0, 0, record, &cs.v[0]),
	    MPB_EINVAL);
	assert_mpb(mpb_async_queue_put(cl, "empty", e.b, e.n, 0, 0, NULL, NULL),
	    MPB_EINVAL);
	assert_mpb(mpb_async_queue_get(NULL, "empty", 0, record, &cs.v[0]),
	    MPB_EINVAL);
	assert_mpb(mpb_async_set_limit(cl, 0), MPB_EINVAL);
	assert_ok(mpb_async_wait(cl, 0));
	assert_int_equal(atomic_load(&cs.done), 2);
	calls_fini(&cs);
}

// What a callback may and may not do.
typedef struct inside {
	mpb_err sync_err;  // a synchronous call from the callback
	mpb_err wait_err;  // mpb_async_wait from the callback
	mpb_err chain_err; // an async submission from the callback
	calls  *next;      // where the chained call records
} inside;

static void
try_inside(void *arg, mpb_err err, const void *value, size_t len)
{
	inside  *in = arg;
	uint64_t size;
	enc      e = e_int(7);

	(void) err;
	(void) value;
	(void) len;
	in->sync_err  = mpb_queue_qsize(cl, "chain", &size);
	in->wait_err  = mpb_async_wait(cl, 0);
	in->chain_err = mpb_async_queue_put(
	    cl, "chain", e.b, e.n, 0, 0, record, &in->next->v[0]);
}

static void
test_inside_callback(void **state)
{
	calls  next;
	inside in = { 0 };
	enc    e  = e_int(6);
	void  *val;
	size_t len;

	(void) state;
	create("chain");
	calls_init(&next, 1);
	in.next = &next;
	assert_ok(mpb_async_queue_put(cl, "chain", e.b, e.n, 0, 0, try_inside, &in));
	// The wait covers the call submitted from the callback too.
	assert_ok(mpb_async_wait(cl, 10000));
	assert_int_equal(in.sync_err, MPB_ESTATE);
	assert_int_equal(in.wait_err, MPB_ESTATE);
	assert_int_equal(in.chain_err, MPB_OK);
	assert_int_equal(calls_check(&next, MPB_OK), 1);
	for (int64_t want = 6; want <= 7; want++) {
		assert_ok(mpb_queue_get(cl, "chain", 0, &val, &len, NULL));
		assert_int_equal(d_int(val, len), want);
		mpb_free(val);
	}
	calls_fini(&next);
}

// A parked async get is served by another process's put; mpb_async_wait
// times out while it is parked.
static void
test_released_by_other_process(void **state)
{
	calls       cs;
	mpbt_proc   p;
	long long   t0;
	const char *argv[] = { mpbt_bin("mpb_testclient"), "put", broker.url,
		"rel", "42", NULL };

	(void) state;
	create("rel");
	calls_init(&cs, 1);
	assert_ok(mpb_async_queue_get(cl, "rel", 20000, record, &cs.v[0]));
	t0 = mpbt_now_ms();
	assert_mpb(mpb_async_wait(cl, 200), MPB_ETIMEDOUT);
	assert_true(mpbt_now_ms() - t0 >= 190);
	assert_true(mpbt_now_ms() - t0 < 2000);
	assert_mpb(mpb_async_wait(cl, 0), MPB_ETIMEDOUT);
	assert_int_equal(atomic_load(&cs.done), 0);

	assert_true(mpbt_spawn(&p, argv, false));
	assert_int_equal(mpbt_wait(&p, 10000), 0);
	assert_ok(mpb_async_wait(cl, -1));
	assert_int_equal(calls_check(&cs, MPB_OK), 1);
	assert_int_equal(cs.v[0].value, 42);
	calls_fini(&cs);
}

// The dict calls: set, incr (the new value as a msgpack integer), get.
static void
test_dict(void **state)
{
	calls sets, incrs, gets;
	enc   v = e_int(100);

	(void) state;
	calls_init(&sets, 50);
	calls_init(&incrs, 50);
	calls_init(&gets, 51);
	for (int i = 0; i < 50; i++) {
		enc k = e_int(i);

		assert_ok(mpb_async_dict_set(
		    cl, "ad", k.b, k.n, v.b, v.n, record, &sets.v[i]));
	}
	assert_ok(mpb_async_wait(cl, 10000));
	assert_int_equal(calls_check(&sets, MPB_OK), 50);
	for (int i = 0; i < 50; i++) {
		enc k = e_int(i);

		assert_ok(mpb_async_dict_incr(
		    cl, "ad", k.b, k.n, i, record, &incrs.v[i]));
	}
	assert_ok(mpb_async_wait(cl, 10000));
	assert_int_equal(calls_check(&incrs, MPB_OK), 50);
	for (int i = 0; i < 51; i++) {
		enc k = e_int(i);

		assert_ok(mpb_async_dict_get(cl, "ad", k.b, k.n, record, &gets.v[i]));
	}
	assert_ok(mpb_async_wait(cl, 10000));
	assert_int_equal(calls_check(&gets, MPB_OK), 50);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(incrs.v[i].value, 100 + i);
		assert_int_equal(gets.v[i].value, 100 + i);
	}
	assert_int_equal(gets.v[50].err, MPB_ENOTFOUND);
	assert_mpb(mpb_async_dict_set(cl, "ad", v.b, v.n, NULL, 0, record,
	               &gets.v[0]),
	    MPB_EINVAL);
	calls_fini(&sets);
	calls_fini(&incrs);
	calls_fini(&gets);
}

// stat_op reads how many requests of op the broker has run (stats' ops).
static int64_t
stat_op(mpb_client *c, const char *op)
{
	msgpack_unpacked u;
	void            *buf;
	size_t           len;
	size_t           off = 0;
	int64_t          n   = 0;

	assert_ok(mpb_stats(c, &buf, &len));
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, buf, len, &off),
	    MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
	for (uint32_t i = 0; i < u.data.via.map.size; i++) {
		msgpack_object_kv *kv = &u.data.via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != 3 ||
		    memcmp(kv->key.via.str.ptr, "ops", 3) != 0) {
			continue;
		}
		assert_int_equal(kv->val.type, MSGPACK_OBJECT_MAP);
		for (uint32_t j = 0; j < kv->val.via.map.size; j++) {
			msgpack_object_kv *o = &kv->val.via.map.ptr[j];

			if (o->key.type == MSGPACK_OBJECT_STR &&
			    o->key.via.str.size == strlen(op) &&
			    memcmp(o->key.via.str.ptr, op, strlen(op)) == 0) {
				n = (int64_t) o->val.via.u64;
			}
		}
	}
	msgpack_unpacked_destroy(&u);
	mpb_free(buf);
	return (n);
}

// Calls that cannot wait travel many to a frame (batch requests), each
// still answered in its own callback; coalescing can be turned off.
static void
test_coalesced(void **state)
{
	enum { N = 2000 };
	calls    puts, more;
	int64_t  batches0, puts0, batches1;
	uint64_t size;

	(void) state;
	create("co");
	assert_mpb(mpb_async_set_coalesce(cl, 0), MPB_EINVAL);
	assert_mpb(mpb_async_set_coalesce(cl, 4097), MPB_EINVAL);
	batches0 = stat_op(cl, "batch");
	puts0    = stat_op(cl, "queue.put");
	calls_init(&puts, N);
	for (size_t i = 0; i < N; i++) {
		enc e = e_int((int64_t) i);

		assert_ok(mpb_async_queue_put(
		    cl, "co", e.b, e.n, 0, 0, record, &puts.v[i]));
	}
	assert_ok(mpb_async_wait(cl, 60000));
	assert_int_equal(calls_check(&puts, MPB_OK), N);
	// Every put ran once, and fewer frames than puts carried them.
	assert_int_equal(stat_op(cl, "queue.put") - puts0, N);
	batches1 = stat_op(cl, "batch");
	assert_true(batches1 > batches0);
	assert_true(batches1 - batches0 < N / 2);
	assert_ok(mpb_queue_qsize(cl, "co", &size));
	assert_int_equal(size, N);

	// One call per frame: no batch at all.
	assert_ok(mpb_async_set_coalesce(cl, 1));
	calls_init(&more, 500);
	for (size_t i = 0; i < more.n; i++) {
		assert_ok(mpb_async_queue_get(cl, "co", 0, record, &more.v[i]));
	}
	assert_ok(mpb_async_wait(cl, 60000));
	assert_int_equal(calls_check(&more, MPB_OK), more.n);
	assert_int_equal(stat_op(cl, "batch"), batches1);
	assert_ok(mpb_async_set_coalesce(cl, MPB_ASYNC_COALESCE));
	calls_fini(&puts);
	calls_fini(&more);
}

// The over-frame tests: a broker whose frame limit is 4096 bytes, and a
// queue "big" of BIG_N items of BIG_ITEM bytes each (a bin 16 whose first
// byte numbers the item), so that a batch of gets outgrows a reply frame
// after about 5; then BIG_N async gets submitted on *cp at once.
enum { BIG_N = 40, BIG_ITEM = 1000 };

static void
big_gets_start(mpbt_broker *b, mpb_client **cp, calls *gets)
{
	static const char *const extra[] = { "--max-frame", "4096", NULL };
	uint8_t                  item[BIG_ITEM + 3];

	assert_true(mpbt_broker_start(b, extra));
	assert_ok(mpb_connect(b->url, 5000, cp));
	assert_ok(mpb_queue_create(*cp, "big", MPB_QUEUE_FIFO, 0, NULL));
	item[0] = 0xc5;
	item[1] = BIG_ITEM >> 8;
	item[2] = BIG_ITEM & 0xff;
	memset(item + 3, 'x', BIG_ITEM);
	for (int i = 0; i < BIG_N; i++) {
		item[3] = (uint8_t) i;
		assert_ok(mpb_queue_put(*cp, "big", item, sizeof(item), 0, 0));
	}
	calls_init(gets, BIG_N);
	for (size_t i = 0; i < BIG_N; i++) {
		assert_ok(mpb_async_queue_get(*cp, "big", 0, record_item, &gets->v[i]));
	}
}

// A frame whose replies would outgrow the broker's frame limit: the
// broker leaves the rest unrun and the library sends them again, so
// every get still gets its own item.
static void
test_coalesced_over_frame(void **state)
{
	enum { N = BIG_N };
	mpbt_broker b;
	mpb_client *c;
	calls       gets;
	bool        seen[N] = { false };
	int64_t     batches;

	(void) state;
	big_gets_start(&b, &c, &gets);
	assert_ok(mpb_async_wait(c, 30000));
	assert_int_equal(calls_check(&gets, MPB_OK), N);
	// Each item came back whole, and once.
	for (size_t i = 0; i < N; i++) {
		int64_t v = gets.v[i].value;

		assert_true(v >= 0 && v < N);
		assert_false(seen[v]);
		seen[v] = true;
	}
	// Some frames carried several gets, and no get ran twice (the
	// broker counts only the requests it ran).
	batches = stat_op(c, "batch");
	print_message("%lld batch frames\n", (long long) batches);
	assert_true(batches >= 1);
	assert_int_equal(stat_op(c, "queue.get"), N);
	mpb_close(c);
	assert_int_equal(mpbt_broker_stop(&b), 0);
	calls_fini(&gets);
}

// mpb_close while a frame of coalesced gets is out whose reply leaves
// some unrun (the batch's reply outgrew the frame limit): those are not
// sent again, they fail, and mpb_close returns.
static void
test_close_with_unrun_calls(void **state)
{
	mpbt_broker b;
	mpb_client *c;
	mpb_client *c2;
	calls       gets;
	long long   t0;

	(void) state;
	big_gets_start(&b, &c, &gets);
	assert_ok(mpb_connect(b.url, 5000, &c2));
	// The first get went alone; once it is back, the other 39 are on
	// their way in one batch, of which the broker runs about 5.
	while (atomic_load(&gets.done) == 0) {
		mpbt_sleep_ms(0);
	}
	t0 = mpbt_now_ms();
	mpb_close(c);
	assert_true(mpbt_now_ms() - t0 < 5000);
	assert_int_equal(calls_check(&gets, MPB_OK) + calls_check(&gets, MPB_ECONNLOST),
	    BIG_N);
	assert_ok(mpb_ping(c2, NULL));
	mpb_close(c2);
	assert_int_equal(mpbt_broker_stop(&b), 0);
	calls_fini(&gets);
}

// Synchronous calls from several threads on one handle share frames
// (they ride the async pipeline) and each thread gets its own replies.
typedef struct sync_thread_arg {
	int     id;
	int     bad; // calls that failed or answered wrongly
} sync_thread_arg;

static void *
sync_thread(void *arg)
{
	sync_thread_arg *t = arg;

	for (int i = 0; i < 400; i++) {
		enc     e = e_int((int64_t) t->id * 1000 + i);
		void   *got;
		size_t  len;
		int64_t v;

		if (mpb_dict_set(cl, "st", e.b, e.n, e.b, e.n) != MPB_OK ||
		    mpb_dict_get(cl, "st", e.b, e.n, &got, &len) != MPB_OK) {
			t->bad++;
			continue;
		}
		v = int_of(got, len);
		mpb_free(got);
		t->bad += v != (int64_t) t->id * 1000 + i;
	}
	return (NULL);
}

static void
test_sync_threads_share_frames(void **state)
{
	enum { NT = 8 };
	pthread_t       th[NT];
	sync_thread_arg args[NT];
	int64_t         batches0;
	uint64_t        n;

	(void) state;
	assert_ok(mpb_dict_create(cl, "st", NULL));
	batches0 = stat_op(cl, "batch");
	for (int i = 0; i < NT; i++) {
		args[i] = (sync_thread_arg) { .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, sync_thread, &args[i]), 0);
	}
	for (int i = 0; i < NT; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].bad, 0);
	}
	assert_ok(mpb_dict_len(cl, "st", &n));
	assert_int_equal(n, NT * 400);
	// 6400 calls from 8 threads at once: some shared a frame.
	assert_true(stat_op(cl, "batch") > batches0);
}

// mpb_close fails the calls in flight at once, after their callbacks.
static void
test_close_in_flight(void **state)
{
	calls       cs;
	mpb_client *c2;
	long long   t0;

	(void) state;
	create("parked");
	assert_ok(mpb_connect(broker.url, 5000, &c2));
	calls_init(&cs, 50);
	for (size_t i = 0; i < cs.n; i++) {
		assert_ok(mpb_async_queue_get(c2, "parked", 30000, record, &cs.v[i]));
	}
	mpbt_sleep_ms(100); // most of them parked in the broker
	t0 = mpbt_now_ms();
	mpb_close(c2);
	assert_true(mpbt_now_ms() - t0 < 2000);
	assert_int_equal(calls_check(&cs, MPB_ECONNLOST), cs.n);
	calls_fini(&cs);
}

// mpb_close with coalesced calls waiting and in flight: each is called
// back once; every acknowledged put is in the queue, and no more than
// the acknowledged plus the outcome-unknown ones.
static void
test_close_coalesced(void **state)
{
	calls       cs;
	mpb_client *c2;
	enc         e = e_int(7);
	size_t      ok, lost;
	uint64_t    size;

	(void) state;
	create("closing");
	assert_ok(mpb_connect(broker.url, 5000, &c2));
	calls_init(&cs, 1000);
	for (size_t i = 0; i < cs.n; i++) {
		assert_ok(mpb_async_queue_put(
		    c2, "closing", e.b, e.n, 0, 0, record, &cs.v[i]));
	}
	mpb_close(c2);
	ok   = calls_check(&cs, MPB_OK);
	lost = calls_check(&cs, MPB_ECONNLOST);
	assert_int_equal(ok + lost, cs.n);
	assert_ok(mpb_queue_qsize(cl, "closing", &size));
	assert_true(size >= ok && size <= ok + lost);
	calls_fini(&cs);
}

// A broker killed under calls in flight: every callback gets an
// outcome-unknown error promptly, and so do calls submitted while it is
// down (after the connect timeout, which bounds sends).
static void
test_broker_killed(void **state)
{
	mpbt_broker b;
	mpb_client *c3;
	calls       cs, late;
	enc         e = e_int(1);
	long long   t0;

	(void) state;
	assert_true(mpbt_broker_start(&b, NULL));
	assert_ok(mpb_connect(b.url, 1000, &c3));
	assert_ok(mpb_queue_create(c3, "k", MPB_QUEUE_FIFO, 0, NULL));
	calls_init(&cs, 100);
	for (size_t i = 0; i < cs.n; i++) {
		assert_ok(mpb_async_queue_get(c3, "k", 30000, record, &cs.v[i]));
	}
	mpbt_sleep_ms(100);
	t0 = mpbt_now_ms();
	mpbt_broker_kill(&b);
	assert_ok(mpb_async_wait(c3, 10000));
	assert_true(mpbt_now_ms() - t0 < 3000);
	assert_int_equal(atomic_load(&cs.done), (long) cs.n);
	assert_int_equal(calls_check(&cs, MPB_ECONNLOST) +
	        calls_check(&cs, MPB_ENOREPLY),
	    cs.n);

	calls_init(&late, 10);
	for (size_t i = 0; i < late.n; i++) {
		assert_ok(mpb_async_queue_put(c3, "k", e.b, e.n, 0, 0, record,
		    &late.v[i]));
	}
	assert_ok(mpb_async_wait(c3, 10000));
	assert_int_equal(calls_check(&late, MPB_ECONNLOST), late.n);
	mpb_close(c3);
	calls_fini(&cs);
	calls_fini(&late);
}

// A forked child cannot submit: MPB_EFORK, before nng is touched.
static void
test_fork(void **state)
{
	enc   e = e_int(1);
	pid_t pid;
	int   status;

	(void) state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		mpb_err err = mpb_async_queue_put(
		    cl, "chain", e.b, e.n, 0, 0, record, NULL);
		mpb_err werr = mpb_async_wait(cl, 0);

		_exit(err == MPB_EFORK && werr == MPB_EFORK ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bulk_put_get),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_inside_callback),
		cmocka_unit_test(test_released_by_other_process),
		cmocka_unit_test(test_dict),
		cmocka_unit_test(test_coalesced),
		cmocka_unit_test(test_coalesced_over_frame),
		cmocka_unit_test(test_close_with_unrun_calls),
		cmocka_unit_test(test_sync_threads_share_frames),
		cmocka_unit_test(test_close_in_flight),
		cmocka_unit_test(test_close_coalesced),
		cmocka_unit_test(test_broker_killed),
		cmocka_unit_test(test_fork),
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
