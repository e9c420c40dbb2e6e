// test_lease_it.c -- acknowledged gets: leases, ack/nack/extend, lease
// expiry, consumers killed while holding items, leases over a restart.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "enc_it.h"
#include "harness.h"
#include "mpb.h"


static mpbt_broker broker;
static mpb_client *c;

static int
setup(void **state)
{
	(void) state;
	if (!mpbt_broker_start(&broker, NULL)) {
		return (-1);
	}
	return (mpb_connect(broker.url, 5000, &c) == MPB_OK ? 0 : -1);
}

static int
teardown(void **state)
{
	(void) state;
	mpb_close(c);
	return (mpbt_broker_stop(&broker) == 0 ? 0 : -1);
}

static void
put_int(const char *q, int64_t v, int64_t prio)
{
	enc e = e_int(v);

	assert_ok(mpb_queue_put(c, q, e.b, e.n, prio, 0));
}

static int64_t
decode(void *val, size_t len)
{
	int64_t v = d_int(val, len);

	mpb_free(val);
	return (v);
}

static int64_t
lease_int(mpb_client *cl, const char *q, uint32_t timeout, uint32_t lease,
    mpb_delivery *d)
{
	void  *val;
	size_t len;

	assert_ok(mpb_queue_get_leased(cl, q, timeout, lease, &val, &len, d));
	return (decode(val, len));
}

static int64_t
get_int(const char *q)
{
	void  *val;
	size_t len;

	assert_ok(mpb_queue_get(c, q, 0, &val, &len, NULL));
	return (decode(val, len));
}

static void
test_ack_nack_extend(void **state)
{
	mpb_delivery   d;
	mpb_delivery   d2;
	mpb_queue_info info;

	(void) state;
	assert_ok(mpb_queue_create(c, "a", MPB_QUEUE_FIFO, 0, NULL));
	put_int("a", 1, 0);
	put_int("a", 2, 0);

	assert_int_equal(lease_int(c, "a", 0, 60000, &d), 1);
	assert_int_equal(d.deliveries, 1);
	assert_ok(mpb_queue_info_get(c, "a", &info));
	assert_int_equal(info.size, 1);
	assert_int_equal(info.leased, 1);

	// nack: back at the head, delivered again with count 2.
	assert_ok(mpb_queue_nack(c, "a", d.id));
	assert_int_equal(lease_int(c, "a", 0, 60000, &d2), 1);
	assert_int_equal(d2.deliveries, 2);
	assert_true(d2.id != d.id);
	assert_mpb(mpb_queue_ack(c, "a", d.id), MPB_ENOTFOUND);
	assert_ok(mpb_queue_extend(c, "a", d2.id, 60000));
	assert_ok(mpb_queue_ack(c, "a", d2.id));
	assert_mpb(mpb_queue_ack(c, "a", d2.id), MPB_ENOTFOUND);
	assert_ok(mpb_queue_info_get(c, "a", &info));
	assert_int_equal(info.size, 1);
	assert_int_equal(info.leased, 0);
	assert_int_equal(get_int("a"), 2);
	assert_mpb(mpb_queue_get_leased(c, "a", 0, 0, NULL, NULL, &d), MPB_EINVAL);
}

static void
test_only_the_session_acks(void **state)
{
	mpb_client  *other;
	mpb_delivery d;

	(void) state;
	assert_ok(mpb_queue_create(c, "o", MPB_QUEUE_FIFO, 0, NULL));
	put_int("o", 7, 0);
	assert_int_equal(lease_int(c, "o", 0, 60000, &d), 7);
	assert_ok(mpb_connect(broker.url, 5000, &other));
	assert_mpb(mpb_queue_ack(other, "o", d.id), MPB_ENOTOWNER);
	assert_mpb(mpb_queue_nack(other, "o", d.id), MPB_ENOTOWNER);
	// Closing the handle that holds it gives it back.
	assert_ok(mpb_queue_ack(c, "o", d.id));
	mpb_close(other);
}

static void
test_lease_expires(void **state)
{
	mpb_delivery d;
	long long    t0;

	(void) state;
	assert_ok(mpb_queue_create(c, "e", MPB_QUEUE_PRIORITY, 0, NULL));
	put_int("e", 10, 5);
	put_int("e", 20, 1);
	put_int("e", 30, 9);
	assert_int_equal(lease_int(c, "e", 0, 300, &d), 20);
	t0 = mpbt_now_ms();
	// Until it expires the next get sees 10; after, 20 is back first.
	assert_int_equal(lease_int(c, "e", 0, 60000, &d), 10);
	{
		mpb_delivery d3;
		int64_t      v = lease_int(c, "e", 5000, 60000, &d3);
		// 30 was available at once; take it, then wait for 20.
		assert_int_equal(v, 30);
		v = lease_int(c, "e", 5000, 60000, &d3);
		assert_int_equal(v, 20);
		assert_int_equal(d3.deliveries, 2);
		assert_true(mpbt_now_ms() - t0 >= 250);
		assert_ok(mpb_queue_ack(c, "e", d3.id));
	}
}

// A parked leased get is served by a put, and by an item returned.
static void
test_parked_leased_get(void **state)
{
	const char *argv[] = { mpbt_bin("mpb_testclient"), "hold", broker.url,
		"p", "60000", NULL };
	mpbt_proc   holder;
	mpb_delivery d;
	char       *out;

	(void) state;
	assert_ok(mpb_queue_create(c, "p", MPB_QUEUE_FIFO, 0, NULL));
	assert_true(mpbt_spawn(&holder, argv, true));
	mpbt_sleep_ms(300);
	put_int("p", 5, 0); // goes to the parked leased get
	// The holder prints it and keeps the lease; kill it: the item comes
	// back at once, to us.
	mpbt_sleep_ms(300);
	kill(holder.pid, SIGKILL);
	out = mpbt_read_all(&holder);
	assert_string_equal(out, "5\n");
	free(out);
	(void) mpbt_wait(&holder, 5000);
	assert_int_equal(lease_int(c, "p", 2000, 60000, &d), 5);
	assert_int_equal(d.deliveries, 2);
	assert_ok(mpb_queue_ack(c, "p", d.id));
}

// Consumers killed while they hold leased items: every item is acked
// exactly once by the survivors.
static void
test_killed_consumers(void **state)
{
	enum { ITEMS = 300, HOLDERS = 3, SURVIVORS = 2 };
	mpbt_proc hold[HOLDERS];
	mpbt_proc surv[SURVIVORS];
	char     *outs[SURVIVORS];
	int       acked[ITEMS] = { 0 };
	int       redelivered  = 0;
	size_t    total        = 0;

	(void) state;
	assert_ok(mpb_queue_create(c, "k", MPB_QUEUE_FIFO, 0, NULL));
	for (int i = 0; i < ITEMS; i++) {
		put_int("k", i, 0);
	}
	for (int i = 0; i < HOLDERS; i++) {
		const char *argv[] = { mpbt_bin("mpb_testclient"), "hold",
			broker.url, "k", "600000", NULL };
		assert_true(mpbt_spawn(&hold[i], argv, true));
		free(mpbt_read_line(&hold[i]));
	}
	for (int i = 0; i < HOLDERS; i++) {
		kill(hold[i].pid, SIGKILL);
		(void) mpbt_wait(&hold[i], 5000);
	}
	for (int i = 0; i < SURVIVORS; i++) {
		const char *argv[] = { mpbt_bin("mpb_testclient"), "consume-ack",
			broker.url, "k", "5000", NULL };
		assert_true(mpbt_spawn(&surv[i], argv, true));
	}
	for (int i = 0; i < SURVIVORS; i++) {
		put_int("k", -1, 0);
	}
	for (int i = 0; i < SURVIVORS; i++) {
		outs[i] = mpbt_read_all(&surv[i]);
		assert_int_equal(mpbt_wait(&surv[i], 60000), 0);
	}
	for (int i = 0; i < SURVIVORS; i++) {
		char *save = NULL;
		for (char *t = strtok_r(outs[i], "\n", &save); t != NULL;
		     t       = strtok_r(NULL, "\n", &save)) {
			long v;
			unsigned n;
			assert_int_equal(sscanf(t, "%ld %u", &v, &n), 2);
			assert_true(v >= 0 && v < ITEMS);
			if (acked[v]++) {
				fail_msg("item %ld acked twice", v);
			}
			if (n > 1) {
				redelivered++;
			}
			total++;
		}
		free(outs[i]);
	}
	assert_int_equal(total, ITEMS);
	// The items the killed holders had came again.
	assert_int_equal(redelivered, HOLDERS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ack_nack_extend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_the_session_acks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parked_leased_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_consumers, setup, teardown),
	};

	return (cmocka_run_group_tests_name("leases", tests, NULL, NULL));
}
