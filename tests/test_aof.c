// test_aof.c -- the append-only log's rewrite process: a rewrite whose
// child never finishes is killed after its deadline, and the next one
// completes and replaces the log.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aof.h"
#include "core.h"

static const uint8_t record[] = { 0x91, 0x2a }; // [42]

// A dump that never ends, as a child deadlocked at fork would.
static mpb_err
stuck_dump(void *arg, mpb_err (*emit)(void *sink, const void *rec, size_t len),
    void *sink)
{
	(void) arg;
	(void) emit;
	(void) sink;
	for (;;) {
		pause();
	}
	return (MPB_OK); // never reached
}

// A dump of one record.
static mpb_err
one_record_dump(void *arg,
    mpb_err (*emit)(void *sink, const void *rec, size_t len), void *sink)
{
	(void) arg;
	return (emit(sink, record, sizeof(record)));
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
test_stuck_rewrite_is_killed_and_retried(void **state)
{
	char      dir[] = "/tmp/mpb-test-aof-XXXXXX";
	char      path[64];
	mpbi_aof *aof;
	uint64_t  t0;
	int       ticks = 0;

	(void) state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(mpbi_aof_open(dir, MPBI_FSYNC_NO, &aof), MPB_OK);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(mpbi_aof_add(aof, record, sizeof(record)), MPB_OK);
	}
	assert_int_equal(mpbi_aof_commit(aof), MPB_OK);
	assert_int_equal(mpbi_aof_size(aof), 100 * (8 + sizeof(record)));

	// The stuck child: ticks leave it alone until its deadline (10 s for
	// a small log), then kill it; the log is untouched.
	t0 = mpbi_now_ms();
	assert_int_equal(mpbi_aof_rewrite(aof, stuck_dump, NULL), MPB_OK);
	while (mpbi_aof_rewriting(aof) && ticks++ < 300) {
		mpbi_aof_tick(aof, one_record_dump, NULL);
		sleep_ms(100);
	}
	assert_false(mpbi_aof_rewriting(aof));
	assert_true(mpbi_now_ms() - t0 >= 9000);
	assert_int_equal(mpbi_aof_size(aof), 100 * (8 + sizeof(record)));

	// The next rewrite runs and replaces the log with its one record.
	assert_int_equal(mpbi_aof_rewrite(aof, one_record_dump, NULL), MPB_OK);
	ticks = 0;
	while (mpbi_aof_rewriting(aof) && ticks++ < 300) {
		mpbi_aof_tick(aof, one_record_dump, NULL);
		sleep_ms(20);
	}
	assert_false(mpbi_aof_rewriting(aof));
	assert_int_equal(mpbi_aof_size(aof), 8 + sizeof(record));
	mpbi_aof_close(aof);

	snprintf(path, sizeof(path), "%s/mpbroker.aof", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stuck_rewrite_is_killed_and_retried),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
