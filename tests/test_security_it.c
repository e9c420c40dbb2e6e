// test_security_it.c -- who may talk to the broker: ipc socket permissions,
// shared-secret authentication (and re-authentication after a reconnect),
// refusing an open TCP listener without a secret, and TLS with a
// certificate the test makes itself.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "mpb.h"


// Files the tests make, in one private directory.
static char dir[64];
static char secret_path[128];
static char wrong_path[128];
static char cert_path[128];
static char key_path[128];
static char other_cert_path[128];
static char other_key_path[128];

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

// A self-signed certificate for localhost/127.0.0.1, made with openssl.
static bool
make_cert(const char *cert, const char *key)
{
	const char *argv[] = { "/usr/bin/openssl", "req", "-x509", "-newkey",
		"rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
		"-subj", "/CN=localhost", "-addext",
		"subjectAltName=DNS:localhost,IP:127.0.0.1", NULL };

	return (mpbt_run(argv, NULL, NULL, NULL, 60000) == 0);
}

static int
group_setup(void **state)
{
	(void) state;
	snprintf(dir, sizeof(dir), "/tmp/mpbt-sec-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return (-1);
	}
	snprintf(secret_path, sizeof(secret_path), "%s/secret", dir);
	snprintf(wrong_path, sizeof(wrong_path), "%s/wrong", dir);
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
	snprintf(other_cert_path, sizeof(other_cert_path), "%s/other.pem", dir);
	snprintf(other_key_path, sizeof(other_key_path), "%s/otherkey.pem", dir);
	write_file(secret_path, "correct horse battery staple\n");
	write_file(wrong_path, "tr0ub4dor&3\n");
	return (make_cert(cert_path, key_path) &&
	               make_cert(other_cert_path, other_key_path)
	           ? 0
	           : -1);
}

static int
group_teardown(void **state)
{
	const char *files[] = { secret_path, wrong_path, cert_path, key_path,
		other_cert_path, other_key_path };

	(void) state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		unlink(files[i]);
	}
	rmdir(dir);
	return (0);
}

// A TCP port for this test program; collisions with other programs are
// unlikely in the test range and show up as a broker that fails to start.
static const char *
test_port(int offset)
{
	static char port[4][16];

	snprintf(port[offset], sizeof(port[0]), "%d",
	    30000 + (int) (getpid() % 15000) * 2 + offset);
	return (port[offset]);
}

static void
test_ipc_socket_mode(void **state)
{
	static const char *const wide[] = { "--ipc-mode", "0660", NULL };
	mpbt_broker              b;
	struct stat              st;

	(void) state;
	assert_true(mpbt_broker_start(&b, NULL));
	assert_int_equal(stat(b.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(mpbt_broker_stop(&b), 0);

	assert_true(mpbt_broker_start(&b, wide));
	assert_int_equal(stat(b.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(mpbt_broker_stop(&b), 0);
}

static void
test_auth(void **state)
{
	const char *const extra[] = { "--auth-file", secret_path, NULL };
	mpbt_broker       b;
	mpb_connect_opts  opts = { 0 };
	mpb_client       *c;
	uint64_t          size;

	(void) state;
	assert_true(mpbt_broker_start(&b, extra));
	opts.url = b.url;

	// No secret: ping answers (it tells a client to authenticate), and
	// nothing else does.
	assert_ok(mpb_connect(b.url, 5000, &c));
	assert_mpb(mpb_queue_create(c, "sec", MPB_QUEUE_FIFO, 0, NULL), MPB_EAUTH);
	mpb_close(c);

	// The wrong secret fails at connect.
	opts.auth_file = wrong_path;
	assert_mpb(mpb_connect_ex(&opts, &c), MPB_EAUTH);

	// The right one works.
	opts.auth_file = secret_path;
	assert_ok(mpb_connect_ex(&opts, &c));
	assert_ok(mpb_queue_create(c, "sec", MPB_QUEUE_FIFO, 0, NULL));
	assert_ok(mpb_queue_put(c, "sec", "\x01", 1, 0, 0));
	assert_ok(mpb_queue_qsize(c, "sec", &size));
	assert_int_equal(size, 1);
	mpb_close(c);

	// The environment variable is the default.
	setenv("MPB_AUTH_FILE", secret_path, 1);
	assert_ok(mpb_connect(b.url, 5000, &c));
	assert_ok(mpb_queue_qsize(c, "sec", &size));
	mpb_close(c);
	unsetenv("MPB_AUTH_FILE");
	assert_int_equal(mpbt_broker_stop(&b), 0);
}

// After the broker restarts, the handle's new connection is a new,
// unauthenticated session: the library proves the secret again by itself.
static void
test_reauth_after_restart(void **state)
{
	const char *const extra[] = { "--auth-file", secret_path, NULL };
	const char       *argv[8];
	mpbt_broker       b;
	mpbt_proc         p;
	mpb_connect_opts  opts = { 0 };
	mpb_client       *c;
	long long         deadline;
	mpb_err           rv = MPB_EINTERNAL;

	(void) state;
	assert_true(mpbt_broker_start(&b, extra));
	opts.url       = b.url;
	opts.auth_file = secret_path;
	assert_ok(mpb_connect_ex(&opts, &c));
	assert_ok(mpb_ping(c, NULL));

	// Restart on the same address by hand: SIGKILL, then the same
	// command line again.
	kill(b.pid, SIGKILL);
	{
		mpbt_proc dead = { b.pid, -1 };
		(void) mpbt_wait(&dead, 5000);
	}
	argv[0] = mpbt_bin("mpbroker");
	argv[1] = "--listen";
	argv[2] = b.url;
	argv[3] = "--auth-file";
	argv[4] = secret_path;
	argv[5] = NULL;
	assert_true(mpbt_spawn(&p, argv, false));
	b.pid = p.pid;

	deadline = mpbt_now_ms() + 15000;
	while (mpbt_now_ms() < deadline) {
		rv = mpb_queue_create(c, "again", MPB_QUEUE_FIFO, 0, NULL);
		if (rv == MPB_OK) {
			break;
		}
		// Until the dialer reconnects, calls fail cleanly.
		assert_true(rv == MPB_ECONNLOST || rv == MPB_ENOREPLY);
		mpbt_sleep_ms(50);
	}
	assert_ok(rv);
	mpb_close(c);
	assert_int_equal(mpbt_broker_stop(&b), 0);
}

// Before authenticating, only small frames are read at all.
static void
test_preauth_frame_limit(void **state)
{
	const char *const extra[] = { "--auth-file", secret_path, NULL };
	mpbt_broker       b;
	nng_socket        s;
	nng_msg          *m;
	uint8_t           frame[1000];

	(void) state;
	assert_true(mpbt_broker_start(&b, extra));
	assert_int_equal(nng_req0_open(&s), 0);
	assert_int_equal(
	    nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000), 0);
	assert_int_equal(nng_dial(s, b.url, NULL, 0), 0);
	// [ping, bin of 990 bytes]
	memset(frame, 0, sizeof(frame));
	frame[0] = 0x92;
	frame[1] = 0x01;
	frame[2] = 0xc5;
	frame[3] = (uint8_t) (995 >> 8);
	frame[4] = (uint8_t) 995;
	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_int_equal(nng_msg_append(m, frame, sizeof(frame)), 0);
	assert_int_equal(nng_sendmsg(s, m, 0), 0);
	assert_int_equal(nng_recvmsg(s, &m, 0), 0);
	// [13 (EMSGSIZE), "..."]
	assert_true(nng_msg_len(m) > 2);
	assert_int_equal(((uint8_t *) nng_msg_body(m))[0], 0x92);
	assert_int_equal(((uint8_t *) nng_msg_body(m))[1], MPB_EMSGSIZE);
	nng_msg_free(m);
	nng_close(s);
	assert_int_equal(mpbt_broker_stop(&b), 0);
}

static void
test_open_tcp_needs_auth(void **state)
{
	char        url[64];
	const char *argv[6];
	char       *err;
	int         code;

	(void) state;
	snprintf(url, sizeof(url), "tcp://0.0.0.0:%s", test_port(0));
	argv[0] = mpbt_bin("mpbroker");
	argv[1] = "--listen";
	argv[2] = url;
	argv[3] = NULL;
	code    = mpbt_run(argv, NULL, NULL, &err, 10000);
	assert_int_equal(code, 1);
	assert_non_null(strstr(err, "--auth-file"));
	free(err);
}

static void
test_open_tcp_with_insecure(void **state)
{
	char              url[64];
	char              dial[64];
	const char *const extra[] = { "--listen", url, "--insecure", NULL };
	mpbt_broker       b;
	mpb_client       *c;

	(void) state;
	snprintf(url, sizeof(url), "tcp://0.0.0.0:%s", test_port(1));
	snprintf(dial, sizeof(dial), "tcp://127.0.0.1:%s", test_port(1));
	assert_true(mpbt_broker_start(&b, extra));
	assert_ok(mpb_connect(dial, 5000, &c));
	assert_ok(mpb_ping(c, NULL));
	mpb_close(c);
	assert_int_equal(mpbt_broker_stop(&b), 0);
}

static void
test_tls(void **state)
{
	char              listen[64];
	char              dial[64];
	const char *const extra[] = { "--listen", listen, "--tls-cert", cert_path,
		"--tls-key", key_path, NULL };
	mpbt_broker       b;
	mpb_connect_opts  opts = { 0 };
	mpb_client       *c;
	void             *val;
	size_t            len;

	(void) state;
	snprintf(listen, sizeof(listen), "tls+tcp://127.0.0.1:%s", test_port(2));
	snprintf(dial, sizeof(dial), "tls+tcp://localhost:%s", test_port(2));
	assert_true(mpbt_broker_start(&b, extra));
	opts.url = dial;

	// No CA: refused before anything is sent.
	assert_mpb(mpb_connect_ex(&opts, &c), MPB_EINVAL);
	// A certificate this CA did not sign: the handshake fails.
	opts.tls_ca_file = other_cert_path;
	assert_mpb(mpb_connect_ex(&opts, &c), MPB_ENOBROKER);
	// The right CA.
	opts.tls_ca_file = cert_path;
	assert_ok(mpb_connect_ex(&opts, &c));
	assert_ok(mpb_queue_create(c, "tls", MPB_QUEUE_FIFO, 0, NULL));
	assert_ok(mpb_queue_put(c, "tls", "\xa3yes", 4, 0, 0));
	assert_ok(mpb_queue_get(c, "tls", 0, &val, &len, NULL));
	assert_int_equal(len, 4);
	assert_memory_equal(val, "\xa3yes", 4);
	mpb_free(val);
	mpb_close(c);
	assert_int_equal(mpbt_broker_stop(&b), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipc_socket_mode),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_reauth_after_restart),
		cmocka_unit_test(test_preauth_frame_limit),
		cmocka_unit_test(test_open_tcp_needs_auth),
		cmocka_unit_test(test_open_tcp_with_insecure),
		cmocka_unit_test(test_tls),
	};

	return (cmocka_run_group_tests_name(
	    "security", tests, group_setup, group_teardown));
}
