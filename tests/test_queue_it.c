// test_queue_it.c -- queues end to end: a real mpbroker on a private ipc
// address, this process as one client through libmpb, and real client
// processes (testclient) started with fork+exec.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "enc_it.h"
#include "harness.h"
#include "mpb.h"

typedef struct fixture {
	mpbt_broker broker;
	mpb_client *c;
} fixture;

static fixture fx;


static int
group_setup(void **state)
{
	(void) state;
	if (!mpbt_broker_start(&fx.broker, NULL)) {
		return (-1);
	}
	return (mpb_connect(fx.broker.url, 5000, &fx.c) == MPB_OK ? 0 : -1);
}

static int
group_teardown(void **state)
{
	(void) state;
	mpb_close(fx.c);
	return (mpbt_broker_stop(&fx.broker) == 0 ? 0 : -1);
}

// ---------------------------------------------------------------------
// Small helpers

static void
put_int(const char *q, int64_t v, int64_t prio)
{
	enc e = e_int(v);

	assert_ok(mpb_queue_put(fx.c, q, e.b, e.n, prio, 0));
}

static int64_t
get_int(const char *q, int64_t *priop)
{
	void   *val;
	size_t  len;
	int64_t v;

	assert_ok(mpb_queue_get(fx.c, q, 0, &val, &len, priop));
	v = d_int(val, len);
	mpb_free(val);
	return (v);
}

// A get that must fail with `want`.
static void
get_fails(const char *q, uint32_t timeout, mpb_err want)
{
	void  *val = NULL;
	size_t len = 0;

	assert_mpb(mpb_queue_get(fx.c, q, timeout, &val, &len, NULL), want);
	assert_null(val);
}

static void
create(const char *q, mpb_queue_kind kind, uint64_t maxsize)
{
	bool created = false;

	assert_ok(mpb_queue_create(fx.c, q, kind, maxsize, &created));
	assert_true(created);
}

// Starts testclient with the given arguments after the mode and URL.
static void
spawn_client(mpbt_proc *p, bool capture, const char *mode, ...)
{
	const char *argv[16];
	size_t      n = 0;
	va_list     ap;
	const char *a;

	argv[n++] = mpbt_bin("mpb_testclient");
	argv[n++] = mode;
	argv[n++] = fx.broker.url;
	va_start(ap, mode);
	while ((a = va_arg(ap, const char *)) != NULL && n < 15) {
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	assert_true(mpbt_spawn(p, argv, capture));
}

// ---------------------------------------------------------------------
// Ordering

static void
test_fifo_order(void **state)
{
	(void) state;
	create("ord-fifo", MPB_QUEUE_FIFO, 0);
	for (int i = 0; i < 100; i++) {
		put_int("ord-fifo", i, 0);
	}
	for (int i = 0; i < 100; i++) {
		assert_int_equal(get_int("ord-fifo", NULL), i);
	}
	get_fails("ord-fifo", 0, MPB_EEMPTY);
}

static void
test_lifo_order(void **state)
{
	(void) state;
	create("ord-lifo", MPB_QUEUE_LIFO, 0);
	for (int i = 0; i < 100; i++) {
		put_int("ord-lifo", i, 0);
	}
	for (int i = 99; i >= 0; i--) {
		assert_int_equal(get_int("ord-lifo", NULL), i);
	}
}

static void
test_priority_order(void **state)
{
	static const int64_t prios[] = { 5, -3, 5, INT64_MAX, 0, -3, INT64_MIN, 5 };
	// Expected: by priority, then put order (the value is the put index).
	static const int64_t order[] = { 6, 1, 5, 4, 0, 2, 7, 3 };
	int64_t              prio;

	(void) state;
	create("ord-prio", MPB_QUEUE_PRIORITY, 0);
	for (size_t i = 0; i < 8; i++) {
		put_int("ord-prio", (int64_t) i, prios[i]);
	}
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(get_int("ord-prio", &prio), order[i]);
		assert_int_equal(prio, prios[order[i]]);
	}
}

static void
test_values_byte_for_byte(void **state)
{
	// Non-canonical encodings (cc 05 is 5 as uint8), an empty bin, a
	// 1 MiB bin: all come back exactly as put.
	static const uint8_t canon[] = { 0xcc, 0x05 };
	static const uint8_t empty_bin[] = { 0xc4, 0x00 };
	size_t               big_len = 1u << 20;
	uint8_t             *big     = malloc(big_len + 5);
	void                *val;
	size_t               len;

	(void) state;
	assert_non_null(big);
	big[0] = 0xc6;
	big[1] = (uint8_t) (big_len >> 24);
	big[2] = (uint8_t) (big_len >> 16);
	big[3] = (uint8_t) (big_len >> 8);
	big[4] = (uint8_t) big_len;
	for (size_t i = 0; i < big_len; i++) {
		big[5 + i] = (uint8_t) (i * 7);
	}
	create("bytes", MPB_QUEUE_FIFO, 0);
	assert_ok(mpb_queue_put(fx.c, "bytes", canon, sizeof(canon), 0, 0));
	assert_ok(mpb_queue_put(fx.c, "bytes", empty_bin, sizeof(empty_bin), 0, 0));
	assert_ok(mpb_queue_put(fx.c, "bytes", big, big_len + 5, 0, 0));

	assert_ok(mpb_queue_get(fx.c, "bytes", 0, &val, &len, NULL));
	assert_int_equal(len, sizeof(canon));
	assert_memory_equal(val, canon, len);
	mpb_free(val);
	assert_ok(mpb_queue_get(fx.c, "bytes", 0, &val, &len, NULL));
	assert_int_equal(len, sizeof(empty_bin));
	assert_memory_equal(val, empty_bin, len);
	mpb_free(val);
	assert_ok(mpb_queue_get(fx.c, "bytes", 0, &val, &len, NULL));
	assert_int_equal(len, big_len + 5);
	assert_memory_equal(val, big, len);
	mpb_free(val);
	free(big);

	// Not one msgpack object: refused by the library before sending.
	assert_mpb(mpb_queue_put(fx.c, "bytes", canon, 1, 0, 0), MPB_EINVAL);
}

static void
test_create_conflicts(void **state)
{
	bool created = true;

	(void) state;
	create("conf", MPB_QUEUE_FIFO, 3);
	assert_ok(mpb_queue_create(fx.c, "conf", MPB_QUEUE_FIFO, 3, &created));
	assert_false(created);
	assert_mpb(mpb_queue_create(fx.c, "conf", MPB_QUEUE_LIFO, 3, NULL), MPB_EEXIST);
	assert_mpb(mpb_queue_create(fx.c, "conf", MPB_QUEUE_FIFO, 4, NULL), MPB_EEXIST);
	assert_mpb(mpb_queue_put(fx.c, "nope", "\x01", 1, 0, 0), MPB_ENOENT);
	get_fails("nope", 0, MPB_ENOENT);

	char longname[300];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_mpb(mpb_queue_create(fx.c, longname, MPB_QUEUE_FIFO, 0, NULL),
	    MPB_ENAMETOOLONG);
	assert_mpb(mpb_queue_create(fx.c, "", MPB_QUEUE_FIFO, 0, NULL), MPB_EINVAL);
}

// ---------------------------------------------------------------------
// Blocking, with other processes

static void
test_get_released_by_put_from_other_process(void **state)
{
	mpbt_proc p;
	char     *out;

	(void) state;
	create("rel", MPB_QUEUE_FIFO, 0);
	spawn_client(&p, true, "get", "rel", "20000", NULL);
	mpbt_sleep_ms(300);
	assert_true(mpbt_running(&p)); // parked, not answered
	put_int("rel", 4242, 0);
	out = mpbt_read_all(&p);
	assert_int_equal(mpbt_wait(&p, 10000), 0);
	assert_string_equal(out, "4242\n");
	free(out);
	get_fails("rel", 0, MPB_EEMPTY);
}

static void
test_get_timeout(void **state)
{
	long long t0;
	long long took;

	(void) state;
	create("tmo", MPB_QUEUE_FIFO, 0);
	t0 = mpbt_now_ms();
	get_fails("tmo", 300, MPB_ETIMEDOUT);
	took = mpbt_now_ms() - t0;
	// Never early; the upper bound only catches a hang.
	assert_true(took >= 300);
	assert_true(took < 10000);
	// An item put after the timeout stays in the queue.
	put_int("tmo", 7, 0);
	assert_int_equal(get_int("tmo", NULL), 7);
}

static void
test_bounded_put_blocks_until_get(void **state)
{
	mpbt_proc p;
	uint64_t  size;
	bool      full;

	(void) state;
	create("bnd", MPB_QUEUE_FIFO, 1);
	put_int("bnd", 1, 0);
	assert_ok(mpb_queue_full(fx.c, "bnd", &full));
	assert_true(full);
	assert_mpb(mpb_queue_put(fx.c, "bnd", "\x02", 1, 0, 0), MPB_EFULL);
	assert_mpb(mpb_queue_put(fx.c, "bnd", "\x02", 1, 0, 200), MPB_ETIMEDOUT);

	spawn_client(&p, false, "put", "bnd", "2", "20000", NULL);
	mpbt_sleep_ms(300);
	assert_true(mpbt_running(&p));
	assert_int_equal(get_int("bnd", NULL), 1);
	assert_int_equal(mpbt_wait(&p, 10000), 0);
	assert_ok(mpb_queue_qsize(fx.c, "bnd", &size));
	assert_int_equal(size, 1);
	assert_int_equal(get_int("bnd", NULL), 2);
}

static void
test_task_done_and_join(void **state)
{
	mpbt_proc      p;
	mpb_queue_info info;

	(void) state;
	create("join", MPB_QUEUE_FIFO, 0);
	assert_ok(mpb_queue_join(fx.c, "join", 0)); // nothing outstanding
	put_int("join", 1, 0);
	put_int("join", 2, 0);
	assert_mpb(mpb_queue_join(fx.c, "join", 0), MPB_ETIMEDOUT);

	spawn_client(&p, false, "join", "join", "20000", NULL);
	(void) get_int("join", NULL);
	(void) get_int("join", NULL);
	assert_ok(mpb_queue_info_get(fx.c, "join", &info));
	assert_int_equal(info.size, 0);
	assert_int_equal(info.unfinished, 2);
	assert_ok(mpb_queue_task_done(fx.c, "join"));
	mpbt_sleep_ms(200);
	assert_true(mpbt_running(&p)); // one task still unfinished
	assert_ok(mpb_queue_task_done(fx.c, "join"));
	assert_int_equal(mpbt_wait(&p, 10000), 0);
	assert_mpb(mpb_queue_task_done(fx.c, "join"), MPB_ESTATE);
}

static void
test_delete_wakes_waiters(void **state)
{
	mpbt_proc getter;
	mpbt_proc joiner;
	uint64_t  size;

	(void) state;
	create("del", MPB_QUEUE_FIFO, 0);
	spawn_client(&getter, false, "get", "del", "20000", NULL);
	mpbt_sleep_ms(200);
	put_int("del", 1, 0); // taken by the getter; unfinished stays 1
	assert_int_equal(mpbt_wait(&getter, 10000), 0);

	spawn_client(&getter, false, "get", "del", "20000", NULL);
	spawn_client(&joiner, false, "join", "del", "20000", NULL);
	mpbt_sleep_ms(300);
	assert_true(mpbt_running(&getter));
	assert_true(mpbt_running(&joiner));
	assert_ok(mpb_queue_delete(fx.c, "del"));
	assert_int_equal(mpbt_wait(&getter, 10000), MPB_EDELETED);
	assert_int_equal(mpbt_wait(&joiner, 10000), MPB_EDELETED);
	assert_mpb(mpb_queue_qsize(fx.c, "del", &size), MPB_ENOENT);
}

static void
test_killed_getter_takes_nothing(void **state)
{
	mpbt_proc p;

	(void) state;
	create("kill", MPB_QUEUE_FIFO, 0);
	spawn_client(&p, false, "get", "kill", "20000", NULL);
	mpbt_sleep_ms(300);
	assert_true(mpbt_running(&p));
	kill(p.pid, SIGKILL);
	assert_int_equal(mpbt_wait(&p, 5000), 128 + SIGKILL);
	// Give the broker a moment to see the pipe close; the item must end
	// up in the queue, not in a reply to the dead process.
	mpbt_sleep_ms(200);
	put_int("kill", 99, 0);
	assert_int_equal(get_int("kill", NULL), 99);
}

static void
test_list_and_info(void **state)
{
	mpb_queue_info *list;
	size_t          n;
	bool            seen = false;

	(void) state;
	create("zz-list", MPB_QUEUE_PRIORITY, 9);
	put_int("zz-list", 1, 3);
	assert_ok(mpb_queue_list(fx.c, &list, &n));
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			assert_true(strcmp(list[i - 1].name, list[i].name) < 0);
		}
		if (strcmp(list[i].name, "zz-list") == 0) {
			seen = true;
			assert_int_equal(list[i].kind, MPB_QUEUE_PRIORITY);
			assert_int_equal(list[i].size, 1);
			assert_int_equal(list[i].maxsize, 9);
			assert_int_equal(list[i].unfinished, 1);
		}
	}
	assert_true(seen);
	mpb_queue_list_free(list, n);
}

// ---------------------------------------------------------------------
// Threads share one handle without serialising.

static void *
blocked_get_thread(void *arg)
{
	mpb_err *rvp = arg;
	void    *val;
	size_t   len;

	*rvp = mpb_queue_get(fx.c, "thr-a", 30000, &val, &len, NULL);
	if (*rvp == MPB_OK) {
		mpb_free(val);
	}
	return (NULL);
}

static void
test_threads_do_not_serialise(void **state)
{
	pthread_t th;
	mpb_err   rv = MPB_EINTERNAL;

	(void) state;
	create("thr-a", MPB_QUEUE_FIFO, 0);
	create("thr-b", MPB_QUEUE_FIFO, 0);
	assert_int_equal(pthread_create(&th, NULL, blocked_get_thread, &rv), 0);
	mpbt_sleep_ms(200);
	// While that thread is parked in a get, this one works normally.
	for (int i = 0; i < 20; i++) {
		put_int("thr-b", i, 0);
		assert_int_equal(get_int("thr-b", NULL), i);
	}
	put_int("thr-a", 1, 0);
	pthread_join(th, NULL);
	assert_int_equal(rv, MPB_OK);
}

// ---------------------------------------------------------------------
// Stress: producers and consumers in separate processes; every item is
// received exactly once.

#define PRODUCERS 4
#define CONSUMERS 4
#define PER_PRODUCER 1500

static void
test_stress_exactly_once(void **state)
{
	mpbt_proc prod[PRODUCERS];
	mpbt_proc cons[CONSUMERS];
	char     *outs[CONSUMERS];
	char      start[32];
	char      count[32];
	uint8_t  *seen = calloc(PRODUCERS * PER_PRODUCER, 1);
	size_t    total = 0;

	(void) state;
	assert_non_null(seen);
	// Bounded, so producers also block and get released.
	create("stress", MPB_QUEUE_FIFO, 64);
	for (int i = 0; i < CONSUMERS; i++) {
		// A short get timeout makes consumers time out and retry all
		// the time: a get that times out must never take an item.
		spawn_client(&cons[i], true, "consume", "stress", "20", NULL);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		snprintf(start, sizeof(start), "%d", i * PER_PRODUCER);
		snprintf(count, sizeof(count), "%d", PER_PRODUCER);
		spawn_client(&prod[i], false, "produce", "stress", start, count, NULL);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		assert_int_equal(mpbt_wait(&prod[i], 120000), 0);
	}
	for (int i = 0; i < CONSUMERS; i++) {
		mpb_err         rv;
		msgpack_sbuffer sb;
		msgpack_packer  pk;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_int64(&pk, -1);
		rv = mpb_queue_put(fx.c, "stress", sb.data, sb.size, 0, 30000);
		msgpack_sbuffer_destroy(&sb);
		assert_ok(rv);
	}
	for (int i = 0; i < CONSUMERS; i++) {
		outs[i] = mpbt_read_all(&cons[i]);
		assert_int_equal(mpbt_wait(&cons[i], 60000), 0);
	}
	for (int i = 0; i < CONSUMERS; i++) {
		char *save = NULL;
		for (char *tok = strtok_r(outs[i], "\n", &save); tok != NULL;
		     tok       = strtok_r(NULL, "\n", &save)) {
			long v = strtol(tok, NULL, 10);
			assert_true(v >= 0 && v < PRODUCERS * PER_PRODUCER);
			if (seen[v]) {
				fail_msg("item %ld received twice", v);
			}
			seen[v] = 1;
			total++;
		}
		free(outs[i]);
	}
	assert_int_equal(total, PRODUCERS * PER_PRODUCER);
	get_fails("stress", 0, MPB_EEMPTY);
	free(seen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_order),
		cmocka_unit_test(test_lifo_order),
		cmocka_unit_test(test_priority_order),
		cmocka_unit_test(test_values_byte_for_byte),
		cmocka_unit_test(test_create_conflicts),
		cmocka_unit_test(test_get_released_by_put_from_other_process),
		cmocka_unit_test(test_get_timeout),
		cmocka_unit_test(test_bounded_put_blocks_until_get),
		cmocka_unit_test(test_task_done_and_join),
		cmocka_unit_test(test_delete_wakes_waiters),
		cmocka_unit_test(test_killed_getter_takes_nothing),
		cmocka_unit_test(test_list_and_info),
		cmocka_unit_test(test_threads_do_not_serialise),
		cmocka_unit_test(test_stress_exactly_once),
	};

	return (cmocka_run_group_tests_name(
	    "queue integration", tests, group_setup, group_teardown));
}
