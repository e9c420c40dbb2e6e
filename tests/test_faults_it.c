// test_faults_it.c -- hostile and unlucky clients against a real broker:
// malformed and oversized frames sent on a raw nng socket, connections
// aborted mid-handshake (nng 1.5.2 bug #1518), a broker that dies or stops
// under blocked clients, and a client handle used after fork.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "mpb.h"
#include "proto.h"

// A small frame limit so oversized frames are cheap to make.
#define MAX_FRAME 4096


static mpbt_broker broker;

static int
setup(void **state)
{
	static const char *const extra[] = { "--max-frame", "4096", NULL };

	(void) state;
	return (mpbt_broker_start(&broker, extra) ? 0 : -1);
}

static int
teardown(void **state)
{
	(void) state;
	if (broker.pid > 0) {
		return (mpbt_broker_stop(&broker) == 0 ? 0 : -1);
	}
	mpbt_broker_kill(&broker);
	return (0);
}

// For tests that break a listener on purpose (nng #1518): nng 1.5.2 never
// frees a listener in that state, so LeakSanitizer would fail the
// broker's clean exit for nng's leak, not ours.  These end it with
// SIGKILL; clean shutdown is checked by every other test.
static int
teardown_kill(void **state)
{
	(void) state;
	mpbt_broker_kill(&broker);
	return (0);
}

// ---------------------------------------------------------------------
// A raw req socket: frames go out exactly as the test writes them.

static nng_socket
raw_open(void)
{
	nng_socket s;

	assert_int_equal(nng_req0_open(&s), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME,
	                     NNG_DURATION_INFINITE),
	    0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 5000), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000), 0);
	// No redial (nng picks each wait at random below RECONNMINT, here 24
	// days): a test that makes the broker drop a connection sees it stay
	// dropped.
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECONNMINT, INT32_MAX), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 0), 0);
	assert_int_equal(nng_dial(s, broker.url, NULL, 0), 0);
	return (s);
}

// Sends bytes, returns the reply's code (MPB_OK or the error), or -1 when
// no reply came (the connection was closed).
static int
raw_call(nng_socket s, const void *bytes, size_t len)
{
	nng_msg    *m;
	mpbi_frame  f;
	const char *text;
	size_t      textlen;
	int         rv;

	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_int_equal(nng_msg_append(m, bytes, len), 0);
	assert_int_equal(nng_sendmsg(s, m, 0), 0);
	if (nng_recvmsg(s, &m, 0) != 0) {
		return (-1);
	}
	rv = mpbi_reply_parse(nng_msg_body(m), nng_msg_len(m), 32, &f, &text,
	    &textlen);
	// Every error reply carries a message.
	if (rv != MPB_OK) {
		assert_true(textlen > 0);
	}
	nng_msg_free(m);
	return (rv);
}

static void
raw_ping_ok(nng_socket s)
{
	static const uint8_t ping[] = { 0x91, 0x01 };

	assert_int_equal(raw_call(s, ping, sizeof(ping)), MPB_OK);
}

static void
test_malformed_frames(void **state)
{
	static const struct {
		const char *what;
		const char *bytes;
		size_t      len;
		int         want;
	} cases[] = {
		{ "empty frame", "", 0, MPB_EPROTO },
		{ "0xc1", "\xc1", 1, MPB_EPROTO },
		{ "not an array", "\x01", 1, MPB_EPROTO },
		{ "empty array", "\x90", 1, MPB_EPROTO },
		{ "truncated", "\x93\x0b\xa3jo", 5, MPB_EPROTO },
		{ "trailing bytes", "\x91\x01\x01", 3, MPB_EPROTO },
		{ "huge array count", "\xdd\x00\xff\xff\xff", 5, MPB_EPROTO },
		{ "huge map count", "\xdf\x0f\xff\xff\xff", 5, MPB_EPROTO },
		{ "huge str length", "\x92\x01\xdb\xff\xff\xff\xff\xab", 8,
		    MPB_EPROTO },
		{ "op not an integer", "\x91\xa1x", 3, MPB_EPROTO },
		{ "unknown op", "\x91\x7f", 2, MPB_ENOTSUP },
		{ "negative op", "\x91\xff", 2, MPB_EPROTO },
		{ "ping with arguments", "\x92\x01\x01", 3, MPB_EINVAL },
		{ "name not a string", "\x94\x0a\x05\x00\x00", 5, MPB_EINVAL },
		{ "empty name", "\x94\x0a\xa0\x00\x00", 5, MPB_EINVAL },
		{ "kind out of range", "\x94\x0a\xa1q\x09\x00", 6, MPB_EINVAL },
		{ "maxsize negative", "\x94\x0a\xa1q\x00\xff", 6, MPB_EINVAL },
		{ "get on missing queue", "\x93\x0c\xa4nope\x00", 8, MPB_ENOENT },
	};
	nng_socket s;

	(void) state;
	s = raw_open();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rv = raw_call(s, cases[i].bytes, cases[i].len);
		if (rv != cases[i].want) {
			fail_msg("%s: got %d, want %d", cases[i].what, rv,
			    cases[i].want);
		}
		// The same connection keeps working after every bad frame.
		raw_ping_ok(s);
	}
	nng_close(s);
}

static void
test_too_deep_and_bad_types(void **state)
{
	uint8_t    frame[64];
	size_t     n = 0;
	nng_socket s;

	(void) state;
	// queue.put q <value nested 20 arrays deep> 0 0: over the default
	// depth limit of 16.
	frame[n++] = 0x95;
	frame[n++] = 0x0b;
	frame[n++] = 0xa1;
	frame[n++] = 'q';
	for (int i = 0; i < 20; i++) {
		frame[n++] = 0x91;
	}
	frame[n++] = 0x01;
	frame[n++] = 0x00;
	frame[n++] = 0x00;
	s          = raw_open();
	assert_int_equal(raw_call(s, frame, n), MPB_EPROTO);
	raw_ping_ok(s);
	nng_close(s);
}

// utf8_valid: s[0..n) is well-formed UTF-8 (the same rules as the
// broker's, written out plainly for the check).
static bool
utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char b = s[i];
		size_t        len;
		uint32_t      cp;

		if (b < 0x80) {
			i++;
			continue;
		}
		if ((b & 0xe0) == 0xc0) {
			len = 2;
			cp  = b & 0x1f;
		} else if ((b & 0xf0) == 0xe0) {
			len = 3;
			cp  = b & 0x0f;
		} else if ((b & 0xf8) == 0xf0) {
			len = 4;
			cp  = b & 0x07;
		} else {
			return (false);
		}
		if (i + len > n) {
			return (false);
		}
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80) {
				return (false);
			}
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			return (false);
		}
		i += len;
	}
	return (true);
}

// Error texts quote names as sent, cut to 64 bytes: the reply's text is
// still valid UTF-8 (a msgpack str must be) when the cut splits a
// character or the name was not UTF-8 at all.
static void
test_error_text_is_utf8(void **state)
{
	char        split[80];
	const char *names[] = { split, "\xff\xfe-not-utf8", "ok-\xc3", "\xed\xa0\x80" };
	mpb_client *c;
	uint64_t    size;

	(void) state;
	// 63 ASCII bytes, then U+00E9 across the 64-byte cut.
	memset(split, 'a', 63);
	memcpy(split + 63, "\xc3\xa9", 3);
	assert_ok(mpb_connect(broker.url, 5000, &c));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *text;

		assert_mpb(mpb_queue_qsize(c, names[i], &size), MPB_ENOENT);
		text = mpb_last_error_text();
		assert_true(strlen(text) > 0);
		if (!utf8_valid((const unsigned char *) text, strlen(text))) {
			fail_msg("name %zu: error text is not UTF-8: %s", i, text);
		}
	}
	// The connection serves on after those errors.
	assert_ok(mpb_ping(c, NULL));
	mpb_close(c);
}

// A frame just over the broker's limit gets an error reply and the
// connection stays; one more than twice the limit is cut off by nng
// itself, and the broker goes on serving everyone else.
static void
test_oversized_frames(void **state)
{
	size_t     len = MAX_FRAME + 100;
	uint8_t   *big = malloc(3 * MAX_FRAME);
	nng_socket s;
	nng_socket other;
	mpb_client *c;

	(void) state;
	assert_non_null(big);
	// [ping-op 1, bin of len-8 bytes]: well-formed, just too big.
	big[0] = 0x92;
	big[1] = 0x01;
	big[2] = 0xc6;
	big[3] = 0;
	big[4] = 0;
	big[5] = (uint8_t) ((len - 7) >> 8);
	big[6] = (uint8_t) (len - 7);
	memset(big + 7, 0xab, len - 7);
	s     = raw_open();
	other = raw_open();
	assert_int_equal(raw_call(s, big, len), MPB_EMSGSIZE);
	raw_ping_ok(s);

	// Past the limit plus 1 KiB, nng refuses it unread and closes that
	// connection; everyone else goes on.  (From a process of its own:
	// see testclient.c's oversize.)
	{
		char        bytes[32];
		const char *argv[] = { mpbt_bin("mpb_testclient"), "oversize",
			broker.url, bytes, NULL };
		char       *out;

		snprintf(bytes, sizeof(bytes), "%d", MAX_FRAME + 2000);
		assert_int_equal(mpbt_run(argv, NULL, &out, NULL, 20000), 0);
		assert_string_equal(out, "dropped\n");
		free(out);
	}
	raw_ping_ok(other);
	raw_ping_ok(s);
	nng_close(s);
	nng_close(other);

	// The library learnt the limit from ping: it refuses the request
	// itself, without sending it.
	assert_ok(mpb_connect(broker.url, 5000, &c));
	assert_ok(mpb_queue_create(c, "big", MPB_QUEUE_FIFO, 0, NULL));
	big[0] = 0xc5;
	big[1] = (uint8_t) ((MAX_FRAME + 10) >> 8);
	big[2] = (uint8_t) (MAX_FRAME + 10);
	assert_mpb(mpb_queue_put(c, "big", big, MAX_FRAME + 13, 0, 0), MPB_EMSGSIZE);
	assert_non_null(strstr(mpb_last_error_text(), "frame limit of 4096"));
	assert_ok(mpb_ping(c, NULL));
	mpb_close(c);
	free(big);
}

// ---------------------------------------------------------------------
// Connections aborted during the handshake must not stop the broker from
// accepting others (Debian's nng 1.5.2, bug #1518).

static bool
connect_and_ping(int within_ms)
{
	long long   deadline = mpbt_now_ms() + within_ms;
	mpb_client *c;

	while (mpbt_now_ms() < deadline) {
		if (mpb_connect(broker.url, 1000, &c) == MPB_OK) {
			mpb_err rv = mpb_ping(c, NULL);
			mpb_close(c);
			if (rv == MPB_OK) {
				return (true);
			}
		}
		mpbt_sleep_ms(50);
	}
	return (false);
}

static void
test_bare_connect_close(void **state)
{
	struct sockaddr_un sa;

	(void) state;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", broker.path);
	for (int i = 0; i < 3; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		assert_int_equal(
		    connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
		close(fd);
	}
	// The watchdog notices within a few seconds; 20 s only catches a
	// broker that never recovers.
	assert_true(connect_and_ping(20000));
	assert_true(connect_and_ping(20000));
}

static void
test_client_killed_right_after_dial(void **state)
{
	(void) state;
	for (int i = 0; i < 10; i++) {
		const char *argv[] = { mpbt_bin("mpb_testclient"), "dial-exit",
			broker.url, NULL };
		mpbt_proc p;
		assert_true(mpbt_spawn(&p, argv, false));
		assert_int_equal(mpbt_wait(&p, 10000), 0);
	}
	assert_true(connect_and_ping(20000));
}

// ---------------------------------------------------------------------
// Clients that misbehave on purpose

// Many requests, no reply read: the broker keeps serving others, and cuts
// the flooding client off.
static void
test_flood_without_reading(void **state)
{
	const char *argv[] = { mpbt_bin("mpb_testclient"), "flood", broker.url,
		"50000", "20", NULL };
	mpbt_proc   flooder;
	mpb_client *c;

	(void) state;
	assert_ok(mpb_connect(broker.url, 5000, &c));
	// Replies of a few KiB each fill the socket buffers quickly.
	for (int i = 0; i < 100; i++) {
		char name[64];
		snprintf(name, sizeof(name), "flood-queue-with-a-long-name-%03d", i);
		assert_ok(mpb_queue_create(c, name, MPB_QUEUE_FIFO, 0, NULL));
	}
	assert_true(mpbt_spawn(&flooder, argv, false));
	for (int i = 0; i < 50; i++) {
		assert_ok(mpb_ping(c, NULL));
		mpbt_sleep_ms(40);
	}
	assert_true(mpbt_running(&flooder));
	kill(flooder.pid, SIGKILL);
	(void) mpbt_wait(&flooder, 5000);
	assert_ok(mpb_ping(c, NULL));
	mpb_close(c);
}

// A frame cut off half-way, then the client vanishes.
static void
test_half_frame(void **state)
{
	struct sockaddr_un sa;
	// SP header for a req0 peer, then an 8-byte length of 100 and 3
	// bytes of body.
	static const uint8_t bytes[] = { 0x00, 'S', 'P', 0x00, 0x00, 0x30, 0x00,
		0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 100, 0x80, 0x00, 0x00 };
	mpb_client *c;

	(void) state;
	assert_ok(mpb_connect(broker.url, 5000, &c));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", broker.path);
	for (int i = 0; i < 5; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
		assert_int_equal(write(fd, bytes, sizeof(bytes)), sizeof(bytes));
		mpbt_sleep_ms(50);
		close(fd);
	}
	assert_ok(mpb_ping(c, NULL));
	mpb_close(c);
	assert_true(connect_and_ping(20000));
}

// A broker that stops and comes back on the same address: the same
// handle works again, without being made anew.
static void
test_handle_survives_restart(void **state)
{
	const char *argv[] = { mpbt_bin("mpbroker"), "--listen", broker.url,
		NULL };
	mpb_client *c;
	mpbt_proc   p;
	long long   deadline;
	mpb_err     rv = MPB_EINTERNAL;

	(void) state;
	assert_ok(mpb_connect(broker.url, 5000, &c));
	{
		// Stopped by hand: mpbt_broker_stop would remove its directory.
		mpbt_proc old = { broker.pid, -1 };
		kill(broker.pid, SIGTERM);
		assert_int_equal(mpbt_wait(&old, 10000), 0);
	}
	assert_true(mpb_ping(c, NULL) != MPB_OK);
	assert_true(mpbt_spawn(&p, argv, false));
	broker.pid = p.pid;
	deadline   = mpbt_now_ms() + 15000;
	while (mpbt_now_ms() < deadline &&
	    (rv = mpb_queue_create(c, "back", MPB_QUEUE_FIFO, 0, NULL)) != MPB_OK) {
		assert_true(rv == MPB_ECONNLOST || rv == MPB_ENOREPLY);
		mpbt_sleep_ms(50);
	}
	assert_ok(rv);
	mpb_close(c);
}

// ---------------------------------------------------------------------
// Broker death and shutdown under blocked clients

static void
spawn_get(mpbt_proc *p, const char *q, const char *timeout)
{
	const char *argv[] = { mpbt_bin("mpb_testclient"), "get", broker.url, q,
		timeout, NULL };

	assert_true(mpbt_spawn(p, argv, false));
}

static void
test_broker_killed_under_blocked_client(void **state)
{
	mpb_client *c;
	mpbt_proc   p;
	long long   t0;

	(void) state;
	assert_ok(mpb_connect(broker.url, 5000, &c));
	assert_ok(mpb_queue_create(c, "dead", MPB_QUEUE_FIFO, 0, NULL));
	spawn_get(&p, "dead", "60000");
	mpbt_sleep_ms(300);
	assert_true(mpbt_running(&p));
	t0 = mpbt_now_ms();
	mpbt_broker_kill(&broker);
	// Well before its 60 s timeout: the lost connection ends the call.
	assert_int_equal(mpbt_wait(&p, 20000), MPB_ECONNLOST);
	assert_true(mpbt_now_ms() - t0 < 20000);
	// This handle's next call fails too, and never hangs.
	assert_true(mpb_ping(c, NULL) != MPB_OK);
	mpb_close(c);
	// Nobody listens any more.
	assert_mpb(mpb_connect(broker.url, 1000, &c), MPB_ENOBROKER);
}

static void
test_sigterm_answers_parked_requests(void **state)
{
	mpb_client *c;
	mpbt_proc   p;

	(void) state;
	assert_ok(mpb_connect(broker.url, 5000, &c));
	assert_ok(mpb_queue_create(c, "term", MPB_QUEUE_FIFO, 0, NULL));
	spawn_get(&p, "term", "60000");
	mpbt_sleep_ms(300);
	assert_true(mpbt_running(&p));
	mpb_close(c);
	// Exit status 0 and no socket file left behind.
	assert_int_equal(mpbt_broker_stop(&broker), 0);
	assert_int_equal(mpbt_wait(&p, 10000), MPB_ECLOSED);
}

static void
test_no_broker(void **state)
{
	mpb_client *c;
	long long   t0 = mpbt_now_ms();

	(void) state;
	assert_mpb(mpb_connect("ipc:///tmp/mpbt-nobody-here.ipc", 2000, &c),
	    MPB_ENOBROKER);
	assert_true(mpbt_now_ms() - t0 < 10000);
	assert_mpb(mpb_connect("nonsense://x", 2000, &c), MPB_EINVAL);
}

// ---------------------------------------------------------------------
// fork: a child of a process that used the library gets MPB_EFORK
// instead of nng's abort.

static void
test_fork_detected(void **state)
{
	mpb_client *c;
	pid_t       pid;
	int         status;

	(void) state;
	assert_ok(mpb_connect(broker.url, 5000, &c));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		mpb_client *c2;
		int         code = 0;
		if (mpb_ping(c, NULL) != MPB_EFORK) {
			code |= 1;
		}
		if (mpb_connect(broker.url, 1000, &c2) != MPB_EFORK) {
			code |= 2;
		}
		_exit(code);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	// The parent's handle is unaffected.
	assert_ok(mpb_ping(c, NULL));
	mpb_close(c);
}

// --max-memory: puts past the limit fail with ENOMEM and change nothing;
// after a get makes room they work again.
static void
test_max_memory(void **state)
{
	static const char *const extra[] = { "--max-memory", "64k", NULL };
	mpbt_broker              b;
	mpb_client              *c;
	uint8_t                  val[1003];
	uint64_t                 size;
	uint64_t                 stored = 0;
	mpb_err                  rv;
	void                    *got;
	size_t                   len;

	(void) state;
	val[0] = 0xc5; // bin16 of 1000 bytes
	val[1] = 0x03;
	val[2] = 0xe8;
	memset(val + 3, 0x11, 1000);
	assert_true(mpbt_broker_start(&b, extra));
	assert_ok(mpb_connect(b.url, 5000, &c));
	assert_ok(mpb_queue_create(c, "mem", MPB_QUEUE_FIFO, 0, NULL));
	while ((rv = mpb_queue_put(c, "mem", val, sizeof(val), 0, 0)) == MPB_OK) {
		stored++;
		assert_true(stored < 100);
	}
	assert_mpb(rv, MPB_ENOMEM);
	// 64 KiB of 1 KiB values, less the last frame's size in hand.
	assert_true(stored >= 55 && stored <= 64);
	assert_ok(mpb_queue_qsize(c, "mem", &size));
	assert_int_equal(size, stored);
	assert_ok(mpb_queue_get(c, "mem", 0, &got, &len, NULL));
	mpb_free(got);
	assert_ok(mpb_queue_put(c, "mem", val, sizeof(val), 0, 0));
	mpb_close(c);
	assert_int_equal(mpbt_broker_stop(&b), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_malformed_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_deep_and_bad_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_text_is_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bare_connect_close, setup, teardown_kill),
		cmocka_unit_test_setup_teardown(test_client_killed_right_after_dial, setup, teardown_kill),
		cmocka_unit_test_setup_teardown(test_flood_without_reading, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_frame, setup, teardown_kill),
		cmocka_unit_test_setup_teardown(test_handle_survives_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broker_killed_under_blocked_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_answers_parked_requests, setup, teardown),
		cmocka_unit_test(test_no_broker),
		cmocka_unit_test(test_max_memory),
		cmocka_unit_test_setup_teardown(test_fork_detected, setup, teardown),
	};

	return (cmocka_run_group_tests_name("faults", tests, NULL, NULL));
}
