// test_examples_it.c -- every program in examples/ against a real broker:
// each must exit 0 and print its summary line, alone and all at once
// (their object names are unique per run), must leave no objects behind,
// must find the broker through $MPB_URL without an argument, and must
// fail (not hang) when no broker answers.  The examples are found in
// $MPB_TEST_EXAMPLES (build/bin).

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mpb.h"

static mpbt_broker broker;

static const struct example {
	const char *name;    // build/bin/mpb-example-<name>
	const char *summary; // a line its output must hold when all is well
} examples[] = {
	{"producer-consumer", "total: 300 items, sum 15150 (want 300, 15150): OK\n"},
	{"priority-scheduler", "scheduler: 20 jobs on 3 workers, most urgent first: OK\n"},
	{"shared-counter", "shared_counter: incr and lock exact: OK\n"},
	{"traffic-light", "traffic_light: nobody crossed on red, all crossed on green: OK\n"},
	{"bounded-buffer", "bounded_buffer: 120 items, sum 3660, through a buffer of 4: OK\n"},
	{"pool-async", "pool_async: 50 tasks on 4 workers, 50 callbacks ran exactly "
	               "once with the right result: OK\n"},
};
#define NEXAMPLES (sizeof(examples) / sizeof(examples[0]))
#define RUN_MS    60000

static const char *
example_path(const struct example *ex)
{
	static char path[NEXAMPLES][512];
	const char *dir = getenv("MPB_TEST_EXAMPLES");

	snprintf(path[ex - examples], sizeof(path[0]), "%s/mpb-example-%s",
	    dir != NULL ? dir : ".", ex->name);
	return (path[ex - examples]);
}

static int
group_setup(void **state)
{
	(void) state;
	return (mpbt_broker_start(&broker, NULL) ? 0 : -1);
}

static int
group_teardown(void **state)
{
	(void) state;
	return (mpbt_broker_stop(&broker) == 0 ? 0 : -1);
}

// Asserts that the broker holds no objects: every example cleans up.
static void
assert_no_objects(void)
{
	mpb_client      *c;
	mpb_object_info *list;
	size_t           n;

	assert_int_equal(mpb_connect(broker.url, 5000, &c), MPB_OK);
	assert_int_equal(mpb_object_list(c, &list, &n), MPB_OK);
	for (size_t i = 0; i < n; i++) {
		print_message("left behind: %s (%s)\n", list[i].name, list[i].class_name);
	}
	mpb_object_list_free(list, n);
	mpb_close(c);
	assert_int_equal(n, 0);
}

static void
check_output(const struct example *ex, int code, char *out, char *err)
{
	if (code != 0 || strstr(out, ex->summary) == NULL) {
		print_message("%s exited %d\n--- stdout:\n%s--- stderr:\n%s", ex->name,
		    code, out, err);
	}
	assert_int_equal(code, 0);
	assert_non_null(strstr(out, ex->summary));
	free(out);
	free(err);
}

// Each example alone, the broker URL as its argument.
static void
test_each(void **state)
{
	(void) state;
	for (size_t i = 0; i < NEXAMPLES; i++) {
		const char *argv[] = {example_path(&examples[i]), broker.url, NULL};
		char       *out, *err;
		int         code = mpbt_run(argv, NULL, &out, &err, RUN_MS);

		check_output(&examples[i], code, out, err);
	}
	assert_no_objects();
}

// All of them at once, twice over: no run may see another's objects.
static void
test_all_at_once(void **state)
{
	mpbt_proc procs[2 * NEXAMPLES];

	(void) state;
	for (size_t i = 0; i < 2 * NEXAMPLES; i++) {
		const char *argv[] = {
		    example_path(&examples[i % NEXAMPLES]), broker.url, NULL};
		assert_true(mpbt_spawn(&procs[i], argv, true));
	}
	for (size_t i = 0; i < 2 * NEXAMPLES; i++) {
		char *out  = mpbt_read_all(&procs[i]);
		int   code = mpbt_wait(&procs[i], RUN_MS);

		check_output(&examples[i % NEXAMPLES], code, out, strdup(""));
	}
	assert_no_objects();
}

// Without an argument, an example connects to $MPB_URL.
static void
test_mpb_url(void **state)
{
	const char *argv[] = {example_path(&examples[0]), NULL};
	char       *out, *err;
	int         code;

	(void) state;
	setenv("MPB_URL", broker.url, 1);
	code = mpbt_run(argv, NULL, &out, &err, RUN_MS);
	unsetenv("MPB_URL");
	check_output(&examples[0], code, out, err);
}

// No broker: every example fails soon, with a message, instead of hanging.
static void
test_no_broker(void **state)
{
	(void) state;
	for (size_t i = 0; i < NEXAMPLES; i++) {
		const char *argv[] = {
		    example_path(&examples[i]), "ipc:///nonexistent/mpb-examples.ipc", NULL};
		char       *out, *err;
		long long   t0   = mpbt_now_ms();
		int         code = mpbt_run(argv, NULL, &out, &err, RUN_MS);

		assert_int_not_equal(code, 0);
		assert_in_range(code, 1, 127); // an exit, not a signal or timeout
		assert_non_null(strstr(err, "connect: "));
		assert_true(mpbt_now_ms() - t0 < 15000);
		free(out);
		free(err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each),
		cmocka_unit_test(test_all_at_once),
		cmocka_unit_test(test_mpb_url),
		cmocka_unit_test(test_no_broker),
	};

	return (cmocka_run_group_tests_name(
	    "examples", tests, group_setup, group_teardown));
}
