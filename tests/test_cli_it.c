// test_cli_it.c -- the `mpb` command against a real broker: output, error
// lines and exit statuses exactly as `mpb --help` documents them.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static mpbt_broker broker;

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

typedef struct result {
	int   code;
	char *out;
	char *err;
} result;

// Runs `mpb --url <broker> args...` (NULL-terminated), feeding stdin.
static result
mpb_in(const char *input, ...)
{
	const char *argv[24];
	size_t      n = 0;
	va_list     ap;
	const char *a;
	result      r;

	argv[n++] = mpbt_bin("mpb");
	argv[n++] = "--url";
	argv[n++] = broker.url;
	va_start(ap, input);
	while ((a = va_arg(ap, const char *)) != NULL && n < 23) {
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	r.code  = mpbt_run(argv, input, &r.out, &r.err, 30000);
	return (r);
}

#define mpb(...) mpb_in(NULL, __VA_ARGS__, NULL)

static void
result_free(result *r)
{
	free(r->out);
	free(r->err);
}

// Checks exit code and exact stdout, then frees.
static void
expect(result r, int code, const char *out)
{
	if (r.code != code || (out != NULL && strcmp(r.out, out) != 0)) {
		fail_msg("exit %d (want %d), stdout '%s' (want '%s'), stderr '%s'",
		    r.code, code, r.out, out != NULL ? out : "(any)", r.err);
	}
	result_free(&r);
}

// Checks exit code and that stderr is one line starting with prefix.
static void
expect_err(result r, int code, const char *prefix)
{
	size_t n = strlen(r.err);

	if (r.code != code || strncmp(r.err, prefix, strlen(prefix)) != 0 ||
	    n == 0 || r.err[n - 1] != '\n' || strchr(r.err, '\n') != r.err + n - 1) {
		fail_msg("exit %d (want %d), stderr '%s' (want one line '%s...')",
		    r.code, code, r.err, prefix);
	}
	result_free(&r);
}

static void
test_ping_and_help(void **state)
{
	result r;

	(void) state;
	expect(mpb("ping"), 0, "PONG (protocol 1)\n");
	r = mpb("--help");
	assert_int_equal(r.code, 0);
	// The help documents the exit statuses and the URL default.
	assert_non_null(strstr(r.out, "Exit status"));
	assert_non_null(strstr(r.out, "MPB_URL"));
	assert_non_null(strstr(r.out, "queue get NAME"));
	result_free(&r);
	expect_err(mpb("frobnicate"), 2, "mpb: ");
}

static void
test_put_get_fifo(void **state)
{
	(void) state;
	expect(mpb("queue", "create", "cli-f", "--kind", "fifo"), 0, "created\n");
	expect(mpb("queue", "create", "cli-f", "--kind", "fifo"), 0, "exists\n");
	expect(mpb("queue", "put", "cli-f", "one"), 0, "");
	expect(mpb("queue", "put", "cli-f", "two words"), 0, "");
	expect(mpb_in("from stdin\n", "queue", "put", "cli-f", "-", NULL), 0, "");
	expect(mpb("queue", "size", "cli-f"), 0, "3\n");
	expect(mpb("queue", "get", "cli-f"), 0, "one\n");
	expect(mpb("queue", "get", "cli-f"), 0, "two words\n");
	expect(mpb("queue", "get", "cli-f"), 0, "from stdin\n\n");
	// Nothing there: the documented "nothing got" status, 3.
	expect_err(mpb("queue", "get", "cli-f"), 3, "mpb: EEMPTY");
	expect_err(mpb("queue", "get", "cli-f", "--timeout", "0.2"), 3,
	    "mpb: ETIMEDOUT");
}

static void
test_priority_and_negative_numbers(void **state)
{
	(void) state;
	expect(mpb("queue", "create", "cli-p", "--kind", "priority"), 0,
	    "created\n");
	expect(mpb("queue", "put", "cli-p", "mid", "--priority", "0"), 0, "");
	expect(mpb("queue", "put", "cli-p", "low", "--priority", "-5"), 0, "");
	expect(mpb("queue", "put", "--priority", "7", "cli-p", "high"), 0, "");
	expect(mpb("queue", "get", "cli-p"), 0, "low\n");
	expect(mpb("queue", "get", "cli-p"), 0, "mid\n");
	expect(mpb("queue", "get", "cli-p"), 0, "high\n");
}

static void
test_bounded_and_errors(void **state)
{
	(void) state;
	expect(mpb("queue", "create", "cli-b", "--kind", "lifo", "--maxsize", "1"),
	    0, "created\n");
	expect(mpb("queue", "put", "cli-b", "a"), 0, "");
	expect_err(mpb("queue", "put", "cli-b", "b"), 3, "mpb: EFULL");
	expect_err(mpb("queue", "create", "cli-b", "--kind", "fifo"), 1,
	    "mpb: EEXIST");
	expect_err(mpb("queue", "get", "cli-missing"), 1, "mpb: ENOENT");
	expect_err(mpb("queue", "create", "x", "--kind", "stack"), 2, "mpb: ");
	expect_err(mpb("queue", "get", "cli-b", "--timeout", "-1"), 2, "mpb: ");
	expect_err(mpb("queue", "put", "cli-b"), 2, "mpb: ");
}

static void
test_list_and_delete(void **state)
{
	(void) state;
	expect(mpb("queue", "create", "cli-l", "--kind", "priority", "--maxsize",
	           "5"),
	    0, "created\n");
	expect(mpb("queue", "put", "cli-l", "x"), 0, "");
	{
		result r = mpb("queue", "list");
		assert_int_equal(r.code, 0);
		assert_non_null(strstr(r.out, "cli-l\tpriority\t1\t5\t1\n"));
		result_free(&r);
	}
	{
		result r = mpb("list-objects");
		assert_int_equal(r.code, 0);
		assert_non_null(strstr(r.out, "cli-l\tqueue\tpriority\t1\n"));
		result_free(&r);
	}
	expect(mpb("queue", "delete", "cli-l"), 0, "");
	expect_err(mpb("queue", "size", "cli-l"), 1, "mpb: ENOENT");
	expect(mpb("queue", "create", "cli-l2", "--kind", "fifo"), 0, "created\n");
	expect(mpb("delete", "cli-l2"), 0, "");
	expect_err(mpb("delete", "cli-l2"), 1, "mpb: ENOENT");
}

static void
test_task_done_join(void **state)
{
	(void) state;
	expect(mpb("queue", "create", "cli-j", "--kind", "fifo"), 0, "created\n");
	expect(mpb("queue", "put", "cli-j", "w"), 0, "");
	expect_err(mpb("queue", "join", "cli-j"), 3, "mpb: ETIMEDOUT");
	expect(mpb("queue", "get", "cli-j"), 0, "w\n");
	expect(mpb("queue", "task-done", "cli-j"), 0, "");
	expect(mpb("queue", "join", "cli-j"), 0, "");
	expect_err(mpb("queue", "task-done", "cli-j"), 1, "mpb: ESTATE");
}

static void
test_stats(void **state)
{
	result r;

	(void) state;
	expect(mpb("queue", "create", "cli-s", "--kind", "fifo"), 0, "created\n");
	r = mpb("stats");
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "version: mpbroker "));
	assert_non_null(strstr(r.out, "\nsessions: 1\n"));
	assert_non_null(strstr(r.out, "\nmemory_limit: 0\n"));
	assert_non_null(strstr(r.out, "\ndurable: false\n"));
	assert_non_null(strstr(r.out, "\nops.queue.create: "));
	result_free(&r);
	r = mpb("stats", "--json");
	assert_int_equal(r.code, 0);
	assert_true(r.out[0] == '{');
	assert_non_null(strstr(r.out, "\"durable\":false"));
	assert_non_null(strstr(r.out, "\"ops\":{"));
	result_free(&r);
}

static void
test_no_broker(void **state)
{
	const char *argv[] = { mpbt_bin("mpb"), "--url",
		"ipc:///tmp/mpbt-nobody.ipc", "ping", NULL };
	char *out;
	char *err;

	(void) state;
	assert_int_equal(mpbt_run(argv, NULL, &out, &err, 30000), 4);
	assert_non_null(strstr(err, "ENOBROKER"));
	free(out);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping_and_help),
		cmocka_unit_test(test_put_get_fifo),
		cmocka_unit_test(test_priority_and_negative_numbers),
		cmocka_unit_test(test_bounded_and_errors),
		cmocka_unit_test(test_list_and_delete),
		cmocka_unit_test(test_task_done_join),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_no_broker),
	};

	return (cmocka_run_group_tests_name(
	    "mpb command", tests, group_setup, group_teardown));
}
