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
#include <unistd.h>

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

// Runs `mpb --url URL args...` (NULL-terminated), feeding stdin.
static result
mpb_run(const char *url, const char *input, ...)
{
	const char *argv[24];
	size_t      n = 0;
	va_list     ap;
	const char *a;
	result      r;

	argv[n++] = mpbt_bin("mpb");
	argv[n++] = "--url";
	argv[n++] = url;
	va_start(ap, input);
	while ((a = va_arg(ap, const char *)) != NULL && n < 23) {
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	r.code  = mpbt_run(argv, input, &r.out, &r.err, 30000);
	return (r);
}

// With this group's broker, feeding stdin; with this group's broker; with
// another broker.
#define mpb_in(...) mpb_run(broker.url, __VA_ARGS__)
#define mpb(...) mpb_run(broker.url, NULL, __VA_ARGS__, NULL)
#define mpb_at(url, ...) mpb_run(url, NULL, __VA_ARGS__, NULL)

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

// --json on a broker of its own, so that listings hold exactly what the
// test made.
static void
test_json(void **state)
{
	mpbt_broker b;
	const char *u = b.url;

	(void) state;
	assert_true(mpbt_broker_start(&b, NULL));
	expect(mpb_at(u, "ping", "--json"), 0, "{\"protocol\":1}\n");
	expect(mpb_at(u, "queue", "create", "jq", "--kind", "fifo", "--json"), 0,
	    "{\"created\":true}\n");
	expect(mpb_at(u, "queue", "create", "jq", "--kind", "fifo", "--json"), 0,
	    "{\"created\":false}\n");
	expect(mpb_at(u, "queue", "put", "jq", "say \"hi\"\\\n\x01"), 0, "");
	expect(mpb_at(u, "queue", "list", "--json"), 0,
	    "[{\"name\":\"jq\",\"kind\":\"fifo\",\"size\":1,\"maxsize\":0,"
	    "\"unfinished\":1}]\n");
	// Before the command too; a size is a bare number.
	expect(mpb_at(u, "--json", "queue", "size", "jq"), 0, "1\n");
	expect(mpb_at(u, "queue", "get", "jq", "--json"), 0,
	    "\"say \\\"hi\\\"\\\\\\n\\u0001\"\n");

	expect(mpb_at(u, "dict", "set", "jd", "n", "5", "--int"), 0, "");
	expect(mpb_at(u, "dict", "items", "jd", "--json"), 0, "{\"n\":5}\n");
	expect(mpb_at(u, "dict", "keys", "jd", "--json"), 0, "[\"n\"]\n");
	expect(mpb_at(u, "dict", "incr", "jd", "n", "--json"), 0, "6\n");
	expect(mpb_at(u, "dict", "len", "jd", "--json"), 0, "1\n");
	// A key that is not a string is named by its JSON text.
	expect(mpb_at(u, "dict", "del", "jd", "n"), 0, "");
	expect(mpb_at(u, "dict", "set", "jd", "7", "seven", "--int-key"), 0, "");
	expect(mpb_at(u, "dict", "items", "jd", "--json"), 0,
	    "{\"7\":\"seven\"}\n");
	expect(mpb_at(u, "dict", "get", "jd", "7", "--int-key", "--json"), 0,
	    "\"seven\"\n");

	expect(mpb_at(u, "list", "append", "jl", "1", "--int"), 0, "");
	expect(mpb_at(u, "list", "append", "jl", "two"), 0, "");
	expect(mpb_at(u, "list", "range", "jl", "--json"), 0, "[1,\"two\"]\n");
	expect(mpb_at(u, "list", "range", "jl", "5", "--json"), 0, "[]\n");
	expect(mpb_at(u, "list", "get", "jl", "0", "--json"), 0, "1\n");
	expect(mpb_at(u, "list-objects", "--json"), 0,
	    "[{\"name\":\"jd\",\"class\":\"dict\",\"kind\":\"dict\",\"size\":1},"
	    "{\"name\":\"jl\",\"class\":\"list\",\"kind\":\"list\",\"size\":2},"
	    "{\"name\":\"jq\",\"class\":\"queue\",\"kind\":\"fifo\",\"size\":0}]\n");
	expect(mpb_at(u, "list", "pop", "jl", "--json"), 0, "\"two\"\n");

	// A failed listing leaves no half document; --json where nothing
	// is printed is a usage error.
	expect(mpb_at(u, "dict", "keys", "jnone", "--json"), 1, "");
	expect_err(mpb_at(u, "dict", "set", "jd", "k", "v", "--json"), 2,
	    "mpb: dict set: option '--json' does not apply");
	assert_int_equal(mpbt_broker_stop(&b), 0);
}

// A byte that is not UTF-8 is U+FFFD in JSON, and the text form keeps it.
static void
test_json_bad_utf8(void **state)
{
	(void) state;
	expect(mpb_in("\xff" "ok", "queue", "put", "cli-u", "-", NULL), 1, "");
	expect(mpb("queue", "create", "cli-u", "--kind", "fifo"), 0, "created\n");
	expect(mpb_in("\xff" "ok", "queue", "put", "cli-u", "-", NULL), 0, "");
	expect(mpb_in("\xff" "ok", "queue", "put", "cli-u", "-", NULL), 0, "");
	expect(mpb("queue", "get", "cli-u", "--json"), 0, "\"\\ufffdok\"\n");
	expect(mpb("queue", "get", "cli-u"), 0, "\xff" "ok\n");
}

// VALUE "-" is all of standard input, for every command that takes one.
static void
test_stdin_values(void **state)
{
	(void) state;
	expect(mpb_in("line one\nline two", "dict", "set", "cli-d", "s", "-",
	           NULL),
	    0, "");
	expect(mpb("dict", "get", "cli-d", "s", "--json"), 0,
	    "\"line one\\nline two\"\n");
	// An integer may end with a newline (echo 42 | ...).
	expect(mpb_in("42\n", "dict", "set", "cli-d", "i", "-", "--int", NULL), 0,
	    "");
	expect(mpb("dict", "incr", "cli-d", "i"), 0, "43\n");
	expect_err(mpb_in("4 2\n", "dict", "set", "cli-d", "i", "-", "--int",
	               NULL),
	    2, "mpb: dict set: standard input is not a 64-bit integer");
	// "--" does not make "-" literal.
	expect(mpb_in("x\ty", "list", "append", "cli-sl", "--", "-", NULL), 0, "");
	expect(mpb_in("z", "list", "set", "cli-sl", "0", "-", NULL), 0, "");
	expect(mpb_in("", "list", "append", "cli-sl", "-", NULL), 0, "");
	expect(mpb("list", "range", "cli-sl", "--json"), 0, "[\"z\",\"\"]\n");
}

// --auth-file (and MPB_AUTH_FILE, its default) against a broker that
// wants a secret.
static void
test_auth_file(void **state)
{
	char        dir[]  = "/tmp/mpbt-cli-XXXXXX";
	char        secret[64], wrong[64];
	const char *extra[] = { "--auth-file", secret, NULL };
	mpbt_broker b;
	FILE       *f;

	(void) state;
	assert_non_null(mkdtemp(dir));
	snprintf(secret, sizeof(secret), "%s/secret", dir);
	snprintf(wrong, sizeof(wrong), "%s/wrong", dir);
	assert_non_null(f = fopen(secret, "w"));
	fputs("open sesame\n", f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(f = fopen(wrong, "w"));
	fputs("open barley\n", f);
	assert_int_equal(fclose(f), 0);
	assert_true(mpbt_broker_start(&b, extra));

	expect_err(mpb_at(b.url, "list-objects"), 1, "mpb: EAUTH: ");
	expect_err(mpb_at(b.url, "--auth-file", wrong, "list-objects"), 1,
	    "mpb: EAUTH: ");
	expect_err(mpb_at(b.url, "--auth-file", "/nonexistent", "ping"), 1,
	    "mpb: EINVAL: invalid argument: cannot read '/nonexistent': ");
	expect_err(mpb_at(b.url, "--auth-file=", "ping"), 2,
	    "mpb: bad value '' for '--auth-file'");
	expect(mpb_at(b.url, "--auth-file", secret, "list-objects", "--json"), 0,
	    "[]\n");
	expect(mpb_at(b.url, "dict", "set", "d", "k", "v", "--auth-file", secret),
	    0, "");
	setenv("MPB_AUTH_FILE", secret, 1);
	expect(mpb_at(b.url, "dict", "get", "d", "k"), 0, "v\n");
	// The option wins over the environment.
	expect_err(mpb_at(b.url, "--auth-file", wrong, "dict", "len", "d"), 1,
	    "mpb: EAUTH: ");
	unsetenv("MPB_AUTH_FILE");
	assert_int_equal(mpbt_broker_stop(&b), 0);
	unlink(secret);
	unlink(wrong);
	rmdir(dir);
}

// --tls-ca and --tls-server-name (MPB_TLS_CA the default) against a
// tls+tcp:// broker with a self-signed EC certificate for localhost.
static void
test_tls_ca(void **state)
{
	char        dir[] = "/tmp/mpbt-clitls-XXXXXX";
	char        cert[64], key[64], listen[64], url[64], ip_url[64];
	const char *mk[] = { "/usr/bin/openssl", "req", "-x509", "-newkey", "ec",
		"-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
		"-out", cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
		"subjectAltName=DNS:localhost", NULL };
	const char *extra[] = { "--listen", listen, "--tls-cert", cert, "--tls-key",
		key, NULL };
	// A port of this program's own, below the ephemeral range.
	int         port = 20000 + (int) (getpid() % 10000);
	mpbt_broker b;

	(void) state;
	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(listen, sizeof(listen), "tls+tcp://127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "tls+tcp://localhost:%d", port);
	snprintf(ip_url, sizeof(ip_url), "tls+tcp://127.0.0.1:%d", port);
	assert_int_equal(mpbt_run(mk, NULL, NULL, NULL, 60000), 0);
	assert_true(mpbt_broker_start(&b, extra));

	expect_err(mpb_at(url, "ping"), 1,
	    "mpb: EINVAL: invalid argument: a tls+tcp:// URL needs --tls-ca");
	expect(mpb_at(url, "--tls-ca", cert, "ping"), 0, "PONG (protocol 1)\n");
	// The certificate names localhost, not 127.0.0.1.
	expect_err(mpb_at(ip_url, "--tls-ca", cert, "ping"), 4, "mpb: ENOBROKER");
	expect(mpb_at(ip_url, "--tls-ca", cert, "--tls-server-name", "localhost",
	           "ping", "--json"),
	    0, "{\"protocol\":1}\n");
	setenv("MPB_TLS_CA", cert, 1);
	expect(mpb_at(url, "ping"), 0, "PONG (protocol 1)\n");
	unsetenv("MPB_TLS_CA");
	assert_int_equal(mpbt_broker_stop(&b), 0);
	unlink(cert);
	unlink(key);
	rmdir(dir);
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
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_bad_utf8),
		cmocka_unit_test(test_stdin_values),
		cmocka_unit_test(test_auth_file),
		cmocka_unit_test(test_tls_ca),
		cmocka_unit_test(test_no_broker),
	};

	return (cmocka_run_group_tests_name(
	    "mpb command", tests, group_setup, group_teardown));
}
