// testclient.c -- a client process for integration tests.  Each mode does
// one small job through libmpb and reports through its exit code (the
// mpb_err number) and stdout (values got, one decimal integer a line).
//
//   put URL QUEUE INT [TIMEOUT_MS]       put one integer
//   get URL QUEUE TIMEOUT_MS             get one integer and print it
//   join URL QUEUE TIMEOUT_MS
//   produce URL QUEUE START COUNT        put START .. START+COUNT-1
//   produce-ack URL QUEUE START COUNT    the same, printing each value once
//                                        its put is acknowledged
//   consume URL QUEUE TIMEOUT_MS         get and print until the value -1;
//                                        a get that times out is retried
//   hold URL QUEUE LEASE_MS              leased get, print the value, then
//                                        hold the lease until killed
//   consume-ack URL QUEUE LEASE_MS       leased gets, each acked, printing
//                                        "VALUE DELIVERIES" after its ack,
//                                        until the value -1 (acked too)
//   dial-exit URL                        dial without waiting and exit at
//                                        once: a handshake left half done
//   flood URL COUNT SECONDS              send COUNT requests on a raw
//                                        socket without reading a reply,
//                                        then stay connected SECONDS
//   oversize URL BYTES                   send one ping frame of BYTES
//                                        bytes; exit 0 if the connection
//                                        was dropped without a reply

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "mpb.h"

// Gives up on consume after this long without the end marker.
#define CONSUME_LIMIT_MS 120000

static mpb_err
put_int(mpb_client *c, const char *q, int64_t v, uint32_t timeout)
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;
	mpb_err         rv;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_int64(&pk, v);
	rv = mpb_queue_put(c, q, sb.data, sb.size, 0, timeout);
	msgpack_sbuffer_destroy(&sb);
	return (rv);
}

// Gets one item and decodes it as an integer.
static mpb_err
get_int(mpb_client *c, const char *q, uint32_t timeout, int64_t *vp)
{
	void            *val;
	size_t           len;
	size_t           off = 0;
	msgpack_unpacked u;
	mpb_err          rv;

	if ((rv = mpb_queue_get(c, q, timeout, &val, &len, NULL)) != MPB_OK) {
		return (rv);
	}
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, val, len, &off) != MSGPACK_UNPACK_SUCCESS) {
		rv = MPB_EPROTO;
	} else if (u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*vp = (int64_t) u.data.via.u64;
	} else if (u.data.type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*vp = u.data.via.i64;
	} else {
		rv = MPB_EPROTO;
	}
	msgpack_unpacked_destroy(&u);
	mpb_free(val);
	return (rv);
}

static int
consume(mpb_client *c, const char *q, uint32_t timeout)
{
	long long waited = 0;
	int64_t   v;
	mpb_err   rv;

	for (;;) {
		rv = get_int(c, q, timeout, &v);
		if (rv == MPB_ETIMEDOUT && waited < CONSUME_LIMIT_MS) {
			waited += timeout;
			continue;
		}
		if (rv != MPB_OK) {
			return (rv);
		}
		if (v == -1) {
			return (0);
		}
		printf("%lld\n", (long long) v);
	}
}

// A leased get decoded as an integer.
static mpb_err
get_leased_int(mpb_client *c, const char *q, uint32_t timeout,
    uint32_t lease_ms, int64_t *vp, mpb_delivery *dp)
{
	void            *val;
	size_t           len;
	size_t           off = 0;
	msgpack_unpacked u;
	mpb_err          rv;

	rv = mpb_queue_get_leased(c, q, timeout, lease_ms, &val, &len, dp);
	if (rv != MPB_OK) {
		return (rv);
	}
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, val, len, &off) != MSGPACK_UNPACK_SUCCESS) {
		rv = MPB_EPROTO;
	} else {
		*vp = u.data.type == MSGPACK_OBJECT_NEGATIVE_INTEGER
		    ? u.data.via.i64
		    : (int64_t) u.data.via.u64;
	}
	msgpack_unpacked_destroy(&u);
	mpb_free(val);
	return (rv);
}

static int
consume_ack(mpb_client *c, const char *q, uint32_t lease_ms)
{
	mpb_delivery d;
	int64_t      v;
	mpb_err      rv;

	for (;;) {
		rv = get_leased_int(c, q, 1000, lease_ms, &v, &d);
		if (rv == MPB_ETIMEDOUT) {
			continue;
		}
		if (rv == MPB_OK) {
			rv = mpb_queue_ack(c, q, d.id);
		}
		if (rv != MPB_OK) {
			return (rv);
		}
		if (v == -1) {
			return (0);
		}
		printf("%lld %u\n", (long long) v, (unsigned) d.deliveries);
	}
}

static int
dial_exit(const char *url)
{
	nng_socket s;

	if (nng_req0_open(&s) != 0) {
		return (1);
	}
	(void) nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK);
	_exit(0);
}

static int
flood(const char *url, long count, int seconds)
{
	nng_socket s;
	long       sent = 0;

	if (nng_req0_open_raw(&s) != 0 ||
	    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 1000) != 0 ||
	    nng_dial(s, url, NULL, 0) != 0) {
		return (1);
	}
	for (long i = 0; i < count; i++) {
		nng_msg *m;
		if (nng_msg_alloc(&m, 0) != 0) {
			return (1);
		}
		// A raw req socket leaves the request id to us.
		(void) nng_msg_header_append_u32(m, 0x80000000u | (uint32_t) (i + 1));
		(void) nng_msg_append(m, "\x91\x11", 2); // queue.list
		if (nng_sendmsg(s, m, 0) != 0) {
			nng_msg_free(m);
			break; // the broker stopped reading us, or cut us off
		}
		sent++;
	}
	printf("%ld\n", sent);
	fflush(stdout);
	sleep((unsigned) seconds);
	return (0);
}

// The broker's nng refuses a frame past its receive limit unread and
// drops the connection.  Here, in a process of its own, because nng 1.5.2
// then leaks the client's dialer and pipe (an indirect leak LSan reports
// at exit; fixed upstream in 1.6.0): the process ends with _exit, which
// skips that report, and the leak stays out of the test's own process.
static int
oversize(const char *url, long bytes)
{
	nng_socket s;
	nng_msg   *m;
	uint8_t    head[7];
	int        rv;

	if (bytes < 16 || bytes > (1L << 30) || nng_req0_open(&s) != 0 ||
	    nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE) != 0 ||
	    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000) != 0 ||
	    nng_socket_set_ms(s, NNG_OPT_RECONNMINT, INT32_MAX) != 0 ||
	    nng_dial(s, url, NULL, 0) != 0 || nng_msg_alloc(&m, (size_t) bytes) != 0) {
		return (1);
	}
	// [ping, bin 32 of bytes - 7 bytes]: well-formed, just too big.
	head[0] = 0x92;
	head[1] = 0x01;
	head[2] = 0xc6;
	head[3] = (uint8_t) ((bytes - 7) >> 24);
	head[4] = (uint8_t) ((bytes - 7) >> 16);
	head[5] = (uint8_t) ((bytes - 7) >> 8);
	head[6] = (uint8_t) (bytes - 7);
	memset(nng_msg_body(m), 0xab, (size_t) bytes);
	memcpy(nng_msg_body(m), head, sizeof(head));
	if (nng_sendmsg(s, m, 0) != 0) {
		nng_msg_free(m);
		_exit(1);
	}
	rv = nng_recvmsg(s, &m, 0);
	if (rv == 0) {
		nng_msg_free(m);
	}
	printf("%s\n", rv == 0 ? "answered" : "dropped");
	fflush(stdout);
	_exit(rv == 0 ? 1 : 0);
}

int
main(int argc, char **argv)
{
	mpb_client *c;
	mpb_err     rv;
	int64_t     v;
	const char *mode = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "dial-exit") == 0 && argc == 3) {
		return (dial_exit(argv[2]));
	}
	if (strcmp(mode, "flood") == 0 && argc == 5) {
		return (flood(argv[2], atol(argv[3]), atoi(argv[4])));
	}
	if (strcmp(mode, "oversize") == 0 && argc == 4) {
		return (oversize(argv[2], atol(argv[3])));
	}
	if (argc < 4) {
		fprintf(stderr, "usage: see testclient.c\n");
		return (100);
	}
	if ((rv = mpb_connect(argv[2], 5000, &c)) != MPB_OK) {
		fprintf(stderr, "testclient: connect: %s\n", mpb_strerror(rv));
		return (rv);
	}
	if (strcmp(mode, "put") == 0 && (argc == 5 || argc == 6)) {
		rv = put_int(c, argv[3], atoll(argv[4]),
		    argc == 6 ? (uint32_t) atol(argv[5]) : 0);
	} else if (strcmp(mode, "get") == 0 && argc == 5) {
		rv = get_int(c, argv[3], (uint32_t) atol(argv[4]), &v);
		if (rv == MPB_OK) {
			printf("%lld\n", (long long) v);
		}
	} else if (strcmp(mode, "join") == 0 && argc == 5) {
		rv = mpb_queue_join(c, argv[3], (uint32_t) atol(argv[4]));
	} else if ((strcmp(mode, "produce") == 0 ||
	               strcmp(mode, "produce-ack") == 0) &&
	    argc == 6) {
		long long start = atoll(argv[4]);
		long long count = atoll(argv[5]);
		bool      ack   = strcmp(mode, "produce-ack") == 0;
		for (long long i = 0; i < count && rv == MPB_OK; i++) {
			rv = put_int(c, argv[3], start + i, 10000);
			if (rv == MPB_OK && ack) {
				printf("%lld\n", start + i);
			}
		}
	} else if (strcmp(mode, "hold") == 0 && argc == 5) {
		mpb_delivery d;
		rv = get_leased_int(c, argv[3], 20000, (uint32_t) atol(argv[4]), &v, &d);
		if (rv == MPB_OK) {
			printf("%lld\n", (long long) v);
			fflush(stdout);
			pause();
		}
	} else if (strcmp(mode, "consume-ack") == 0 && argc == 5) {
		rv = (mpb_err) consume_ack(c, argv[3], (uint32_t) atol(argv[4]));
	} else if (strcmp(mode, "consume") == 0 && argc == 5) {
		rv = (mpb_err) consume(c, argv[3], (uint32_t) atol(argv[4]));
	} else {
		fprintf(stderr, "testclient: bad mode or arguments\n");
		rv = 100;
	}
	if (rv != MPB_OK) {
		fprintf(stderr, "testclient %s: %s (%s)\n", mode,
		    mpb_strerror(rv), mpb_last_error_text());
	}
	mpb_close(c);
	return (rv);
}
