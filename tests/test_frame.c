// test_frame.c -- unit tests for proto/: the wire codec.
//
// Round trips go through the real writer into an nng message and back
// through mpbi_frame_parse and the span readers, checking exact values and
// exact encodings.  Every class of malformed input has its own named test
// that expects MPB_EPROTO; hostile container counts must be refused
// without allocating (counted below in a plain build; under ASan the
// sanitizer's allocator aborts on the huge requests instead).  A seeded
// fuzz loop checks the structural check against msgpack-c itself: every
// buffer mpbi_check accepts must decode completely.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto.h"

// ---------------------------------------------------------------------
// Allocation counter.
//
// A plain build replaces malloc, calloc and realloc (glibc supports that;
// free stays glibc's, which is the same allocator) so a test can count the
// calls made while a check runs.  That catches a regression where
// unchecked bytes reach msgpack-c, which allocates from the declared count
// before it reads anything (TECH-NOTES 2.3).  Sanitizers own the allocator,
// so there the counter is off and their allocation limits are the guard.

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ALLOC_COUNTING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||    \
    __has_feature(memory_sanitizer)
#define ALLOC_COUNTING 0
#endif
#endif
#ifndef ALLOC_COUNTING
#define ALLOC_COUNTING 1
#endif

static volatile bool   g_counting;
static volatile size_t g_nallocs;

#if ALLOC_COUNTING
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

void *
malloc(size_t n)
{
	if (g_counting) {
		g_nallocs++;
	}
	return (__libc_malloc(n));
}

void *
calloc(size_t n, size_t size)
{
	if (g_counting) {
		g_nallocs++;
	}
	return (__libc_calloc(n, size));
}

void *
realloc(void *p, size_t n)
{
	if (g_counting) {
		g_nallocs++;
	}
	return (__libc_realloc(p, n));
}
#endif

static void
count_start(void)
{
	g_nallocs  = 0;
	g_counting = true;
}

static size_t
count_stop(void)
{
	g_counting = false;
	return (g_nallocs);
}

// The counter must see allocations made inside msgpack-c, or a zero from
// it would prove nothing.
static void
alloc_counter_selftest(void)
{
	static const uint8_t one[] = { 0x91, 0x01 };
	msgpack_unpacked     u;
	size_t               off = 0;
	size_t               n;

	if (!ALLOC_COUNTING) {
		return;
	}
	msgpack_unpacked_init(&u);
	count_start();
	assert_int_equal(msgpack_unpack_next(&u, (const char *) one,
	                     sizeof(one), &off),
	    MSGPACK_UNPACK_SUCCESS);
	n = count_stop();
	msgpack_unpacked_destroy(&u);
	assert_true(n > 0);
}

// ---------------------------------------------------------------------
// Helpers

// BYTES(0x91, 0x01) expands to a pointer and a length.
#define BYTES(...)                                                            \
	(const uint8_t[]) { __VA_ARGS__ },                                    \
	    sizeof((const uint8_t[]) { __VA_ARGS__ })

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double) ts.tv_sec + (double) ts.tv_nsec / 1e9);
}

static mpbi_span
span_of(const void *p, size_t n)
{
	mpbi_span s = { p, n };

	return (s);
}

// A writer over a fresh nng message (no socket needed).
typedef struct wbuf {
	nng_msg    *m;
	mpbi_writer w;
} wbuf;

static void
wb_init(wbuf *wb)
{
	assert_int_equal(nng_msg_alloc(&wb->m, 0), 0);
	mpbi_writer_init(&wb->w, wb->m);
}

static const uint8_t *
wb_body(const wbuf *wb)
{
	return (nng_msg_body(wb->m));
}

static size_t
wb_len(const wbuf *wb)
{
	return (nng_msg_len(wb->m));
}

static void
wb_fini(wbuf *wb)
{
	nng_msg_free(wb->m);
	wb->m = NULL;
}

// Parses what the writer produced, which must be a valid frame.
static void
wb_parse(const wbuf *wb, mpbi_frame *f)
{
	assert_int_equal(mpbi_writer_err(&wb->w), MPB_OK);
	assert_int_equal(
	    mpbi_frame_parse(wb_body(wb), wb_len(wb), MPBI_DEFAULT_MAX_DEPTH, f),
	    MPB_OK);
}

static void
assert_bytes(const void *got, size_t gotlen, const void *want, size_t wantlen)
{
	assert_int_equal(gotlen, wantlen);
	if (wantlen != 0) {
		assert_memory_equal(got, want, wantlen);
	}
}

static void
assert_frame_proto(const uint8_t *b, size_t n)
{
	mpbi_frame f;

	assert_int_equal(
	    mpbi_frame_parse(b, n, MPBI_DEFAULT_MAX_DEPTH, &f), MPB_EPROTO);
}

// b as a lone object (mpbi_check) and as the only element of a frame.
static void
assert_object_proto(const uint8_t *b, size_t n)
{
	uint8_t    wrapped[80];
	mpbi_frame f;

	assert_true(n < sizeof(wrapped));
	assert_int_equal(mpbi_check(b, n, MPBI_DEFAULT_MAX_DEPTH), MPB_EPROTO);
	wrapped[0] = 0x91;
	memcpy(wrapped + 1, b, n);
	assert_int_equal(mpbi_frame_parse(wrapped, n + 1, MPBI_DEFAULT_MAX_DEPTH,
	                     &f),
	    MPB_EPROTO);
}

static void
assert_object_ok(const uint8_t *b, size_t n)
{
	uint8_t    wrapped[80];
	mpbi_frame f;

	assert_true(n < sizeof(wrapped));
	assert_int_equal(mpbi_check(b, n, MPBI_DEFAULT_MAX_DEPTH), MPB_OK);
	wrapped[0] = 0x91;
	memcpy(wrapped + 1, b, n);
	assert_int_equal(mpbi_frame_parse(wrapped, n + 1, MPBI_DEFAULT_MAX_DEPTH,
	                     &f),
	    MPB_OK);
	assert_int_equal(f.nelem, 1);
	assert_bytes(f.elem[0].ptr, f.elem[0].len, b, n);
}

// Refused, with no allocation, and fast: 1000 rounds of the lone check,
// the wrapped frame and the bare frame.
static void
assert_rejected_cheaply(const uint8_t *b, size_t n)
{
	double t0;
	size_t allocs;

	count_start();
	t0 = now_s();
	for (int i = 0; i < 1000; i++) {
		assert_object_proto(b, n);
		assert_frame_proto(b, n);
	}
	allocs = count_stop();
	assert_int_equal(allocs, 0);
	// Microseconds in practice; a second means something walked or
	// allocated for the declared count.
	assert_true(now_s() - t0 < 1.0);
}

// n arrays nested around the fixint 1: 91 91 ... 01.
static size_t
nested(uint8_t *b, size_t n)
{
	memset(b, 0x91, n);
	b[n] = 0x01;
	return (n + 1);
}

// ---------------------------------------------------------------------
// Round trips

static void
test_uint_roundtrip(void **state)
{
	static const struct {
		uint64_t v;
		size_t   enclen; // msgpack-c's canonical (shortest) encoding
	} cases[] = {
		{ 0, 1 },
		{ 127, 1 },
		{ 128, 2 },
		{ 255, 2 },
		{ 256, 3 },
		{ 65535, 3 },
		{ 65536, 5 },
		{ UINT32_MAX, 5 },
		{ (uint64_t) UINT32_MAX + 1, 9 },
		{ (uint64_t) INT64_MAX, 9 },
		{ UINT64_MAX, 9 },
	};
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	wbuf         wb;
	mpbi_frame   f;

	(void) state;
	wb_init(&wb);
	mpbi_put_array(&wb.w, n);
	for (size_t i = 0; i < n; i++) {
		mpbi_put_uint(&wb.w, cases[i].v);
	}
	wb_parse(&wb, &f);
	assert_int_equal(f.nelem, n);
	for (size_t i = 0; i < n; i++) {
		uint64_t u = 42;
		int64_t  s = 42;

		assert_int_equal(f.elem[i].len, cases[i].enclen);
		assert_int_equal(mpbi_span_uint(f.elem[i], &u), MPB_OK);
		assert_true(u == cases[i].v);
		if (cases[i].v <= (uint64_t) INT64_MAX) {
			assert_int_equal(mpbi_span_int(f.elem[i], &s), MPB_OK);
			assert_true(s == (int64_t) cases[i].v);
		} else {
			// Out of int64 range: refused, output untouched.
			assert_int_equal(mpbi_span_int(f.elem[i], &s), MPB_EINVAL);
			assert_int_equal(s, 42);
		}
	}
	wb_fini(&wb);
}

static void
test_int_roundtrip(void **state)
{
	static const struct {
		int64_t v;
		size_t  enclen;
	} cases[] = {
		{ INT64_MIN, 9 },
		{ (int64_t) INT32_MIN - 1, 9 },
		{ INT32_MIN, 5 },
		{ -32769, 5 },
		{ -32768, 3 },
		{ -129, 3 },
		{ -128, 2 },
		{ -33, 2 },
		{ -32, 1 },
		{ -1, 1 },
		{ 0, 1 },
		{ 127, 1 },
		{ 128, 2 },
		{ INT64_MAX, 9 },
	};
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	wbuf         wb;
	mpbi_frame   f;

	(void) state;
	wb_init(&wb);
	mpbi_put_array(&wb.w, n);
	for (size_t i = 0; i < n; i++) {
		mpbi_put_int(&wb.w, cases[i].v);
	}
	wb_parse(&wb, &f);
	assert_int_equal(f.nelem, n);
	for (size_t i = 0; i < n; i++) {
		int64_t  s = 42;
		uint64_t u = 42;

		assert_int_equal(f.elem[i].len, cases[i].enclen);
		assert_int_equal(mpbi_span_int(f.elem[i], &s), MPB_OK);
		assert_true(s == cases[i].v);
		if (cases[i].v < 0) {
			assert_int_equal(mpbi_span_uint(f.elem[i], &u), MPB_EINVAL);
			assert_int_equal(u, 42);
		} else {
			assert_int_equal(mpbi_span_uint(f.elem[i], &u), MPB_OK);
			assert_true(u == (uint64_t) cases[i].v);
		}
	}
	wb_fini(&wb);
}

static void
test_bool_nil_roundtrip(void **state)
{
	wbuf       wb;
	mpbi_frame f;
	bool       v;

	(void) state;
	wb_init(&wb);
	mpbi_put_array(&wb.w, 3);
	mpbi_put_bool(&wb.w, true);
	mpbi_put_bool(&wb.w, false);
	mpbi_put_nil(&wb.w);
	wb_parse(&wb, &f);
	assert_bytes(wb_body(&wb), wb_len(&wb), BYTES(0x93, 0xc3, 0xc2, 0xc0));
	assert_int_equal(f.nelem, 3);
	v = false;
	assert_int_equal(mpbi_span_bool(f.elem[0], &v), MPB_OK);
	assert_true(v);
	v = true;
	assert_int_equal(mpbi_span_bool(f.elem[1], &v), MPB_OK);
	assert_false(v);
	assert_false(mpbi_span_is_nil(f.elem[0]));
	assert_false(mpbi_span_is_nil(f.elem[1]));
	assert_true(mpbi_span_is_nil(f.elem[2]));
	v = true;
	assert_int_equal(mpbi_span_bool(f.elem[2], &v), MPB_EINVAL);
	assert_true(v);
	wb_fini(&wb);
}

// A payload with NUL bytes in it (byte 0 is NUL, and every 256th).
static uint8_t *
pattern(size_t n)
{
	uint8_t *p = malloc(n + 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint8_t) (i * 7u);
	}
	return (p);
}

static void
test_str_roundtrip(void **state)
{
	static const struct {
		size_t len;
		size_t hdr; // header bytes: fixstr, str8, str16, str32
	} cases[] = {
		{ 0, 1 },
		{ 3, 1 },
		{ 31, 1 },
		{ 32, 2 },
		{ 255, 2 },
		{ 256, 3 },
		{ 65535, 3 },
		{ 65536, 5 },
	};
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	uint8_t     *data = pattern(65536);
	wbuf         wb;
	mpbi_frame   f;

	(void) state;
	wb_init(&wb);
	mpbi_put_array(&wb.w, n);
	for (size_t i = 0; i < n; i++) {
		mpbi_put_str(&wb.w, (const char *) data, cases[i].len);
	}
	wb_parse(&wb, &f);
	assert_int_equal(f.nelem, n);
	for (size_t i = 0; i < n; i++) {
		const char    *p  = NULL;
		const uint8_t *bp = NULL;
		size_t         l  = 12345;

		assert_int_equal(f.elem[i].len, cases[i].hdr + cases[i].len);
		assert_int_equal(mpbi_span_str(f.elem[i], &p, &l), MPB_OK);
		// Zero-copy: the text points into the frame, after the header.
		assert_ptr_equal(p, f.elem[i].ptr + cases[i].hdr);
		assert_bytes(p, l, data, cases[i].len);
		// A str is also bytes.
		assert_int_equal(mpbi_span_bytes(f.elem[i], &bp, &l), MPB_OK);
		assert_bytes(bp, l, data, cases[i].len);
	}
	// The NULs really are inside: a 3-byte string starting with NUL.
	assert_int_equal(f.elem[1].ptr[1], 0x00);
	wb_fini(&wb);
	free(data);
}

static void
test_bin_roundtrip(void **state)
{
	static const struct {
		size_t len;
		size_t hdr; // bin8, bin16, bin32
	} cases[] = {
		{ 0, 2 },
		{ 1, 2 },
		{ 255, 2 },
		{ 256, 3 },
		{ 65535, 3 },
		{ 65536, 5 },
	};
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	uint8_t     *data = pattern(65536);
	wbuf         wb;
	mpbi_frame   f;

	(void) state;
	wb_init(&wb);
	mpbi_put_array(&wb.w, n);
	for (size_t i = 0; i < n; i++) {
		mpbi_put_bin(&wb.w, data, cases[i].len);
	}
	wb_parse(&wb, &f);
	assert_int_equal(f.nelem, n);
	// The empty bin is exactly c4 00.
	assert_bytes(f.elem[0].ptr, f.elem[0].len, BYTES(0xc4, 0x00));
	for (size_t i = 0; i < n; i++) {
		const uint8_t *bp = NULL;
		const char    *p  = "untouched";
		size_t         l  = 12345;

		assert_int_equal(f.elem[i].len, cases[i].hdr + cases[i].len);
		assert_int_equal(mpbi_span_bytes(f.elem[i], &bp, &l), MPB_OK);
		assert_ptr_equal(bp, f.elem[i].ptr + cases[i].hdr);
		assert_bytes(bp, l, data, cases[i].len);
		// A bin is not a str.
		assert_int_equal(mpbi_span_str(f.elem[i], &p, &l), MPB_EINVAL);
		assert_string_equal(p, "untouched");
	}
	wb_fini(&wb);
	free(data);
}

// Values are stored and returned as the client's exact bytes, so raw
// elements, including non-canonical encodings, must come back unchanged.
static void
test_raw_values_preserved(void **state)
{
	static const struct {
		uint8_t b[12];
		size_t  n;
	} raws[] = {
		{ { 0xcc, 0x05 }, 2 },                         // uint8 5
		{ { 0xd0, 0x05 }, 2 },                         // int8 5
		{ { 0xcd, 0x00, 0x05 }, 3 },                   // uint16 5
		{ { 0xcf, 0, 0, 0, 0, 0, 0, 0, 0x05 }, 9 },    // uint64 5
		{ { 0xd0, 0xff }, 2 },                         // int8 -1
		{ { 0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9 },
		{ { 0xd9, 0x01, 0x61 }, 3 },                   // str8 "a"
		{ { 0xda, 0x00, 0x00 }, 3 },                   // str16 ""
		{ { 0xc4, 0x00 }, 2 },                         // bin8 empty
		{ { 0xca, 0x3f, 0x80, 0x00, 0x00 }, 5 },       // float32 1.0
		{ { 0xdc, 0x00, 0x01, 0x01 }, 4 },             // array16 [1]
		{ { 0xde, 0x00, 0x01, 0xa1, 0x6b, 0x01 }, 6 }, // map16 {k:1}
		{ { 0xc7, 0x01, 0x05, 0xaa }, 4 },             // ext8
		{ { 0xd4, 0x05, 0xaa }, 3 },                   // fixext1
		{ { 0xc0 }, 1 },                               // nil
	};
	const size_t n = sizeof(raws) / sizeof(raws[0]);
	wbuf         wb;
	mpbi_frame   f;
	uint64_t     u;
	int64_t      s;
	const char  *p;
	size_t       l;

	(void) state;
	assert_true(n <= MPBI_MAX_ELEMS);
	wb_init(&wb);
	mpbi_put_array(&wb.w, n);
	for (size_t i = 0; i < n; i++) {
		mpbi_put_raw(&wb.w, raws[i].b, raws[i].n);
	}
	wb_parse(&wb, &f);
	assert_int_equal(f.nelem, n);
	for (size_t i = 0; i < n; i++) {
		assert_bytes(f.elem[i].ptr, f.elem[i].len, raws[i].b, raws[i].n);
	}
	// The readers decode the non-canonical forms to the plain values.
	assert_int_equal(mpbi_span_uint(f.elem[0], &u), MPB_OK);
	assert_int_equal(u, 5);
	assert_int_equal(mpbi_span_uint(f.elem[1], &u), MPB_OK);
	assert_int_equal(u, 5);
	assert_int_equal(mpbi_span_int(f.elem[1], &s), MPB_OK);
	assert_int_equal(s, 5);
	assert_int_equal(mpbi_span_uint(f.elem[2], &u), MPB_OK);
	assert_int_equal(u, 5);
	assert_int_equal(mpbi_span_uint(f.elem[3], &u), MPB_OK);
	assert_int_equal(u, 5);
	assert_int_equal(mpbi_span_int(f.elem[4], &s), MPB_OK);
	assert_int_equal(s, -1);
	assert_int_equal(mpbi_span_int(f.elem[5], &s), MPB_OK);
	assert_int_equal(s, -1);
	assert_int_equal(mpbi_span_str(f.elem[6], &p, &l), MPB_OK);
	assert_bytes(p, l, "a", 1);
	assert_int_equal(mpbi_span_str(f.elem[7], &p, &l), MPB_OK);
	assert_int_equal(l, 0);
	assert_true(mpbi_span_is_nil(f.elem[14]));
	wb_fini(&wb);
}

// [[1, [2, "x"], {}], {"a": [true, nil], "b": -5}]
static void
test_nested_roundtrip(void **state)
{
	wbuf           wb;
	mpbi_frame     f;
	mpbi_span      body;
	mpbi_span      e;
	mpbi_span      inner;
	size_t         n;
	uint64_t       u;
	const char    *p;
	size_t         l;
	static const uint8_t map_enc[] = { 0x82, 0xa1, 0x61, 0x92, 0xc3, 0xc0,
		0xa1, 0x62, 0xfb };

	(void) state;
	wb_init(&wb);
	mpbi_put_array(&wb.w, 2);
	mpbi_put_array(&wb.w, 3);
	mpbi_put_uint(&wb.w, 1);
	mpbi_put_array(&wb.w, 2);
	mpbi_put_uint(&wb.w, 2);
	mpbi_put_str(&wb.w, "x", 1);
	// The writer has no map call; the packer inside it does.
	assert_int_equal(msgpack_pack_map(&wb.w.pk, 0), 0);
	assert_int_equal(msgpack_pack_map(&wb.w.pk, 2), 0);
	mpbi_put_str(&wb.w, "a", 1);
	mpbi_put_array(&wb.w, 2);
	mpbi_put_bool(&wb.w, true);
	mpbi_put_nil(&wb.w);
	mpbi_put_str(&wb.w, "b", 1);
	mpbi_put_int(&wb.w, -5);
	wb_parse(&wb, &f);
	assert_int_equal(f.nelem, 2);
	assert_bytes(f.elem[1].ptr, f.elem[1].len, map_enc, sizeof(map_enc));

	// Three levels deep: accepted at 3, refused at 2.
	assert_int_equal(mpbi_frame_parse(wb_body(&wb), wb_len(&wb), 3, &f),
	    MPB_OK);
	assert_int_equal(mpbi_frame_parse(wb_body(&wb), wb_len(&wb), 2, &f),
	    MPB_EPROTO);
	wb_parse(&wb, &f);

	// Walk the first element.
	assert_int_equal(mpbi_span_array(f.elem[0], &n, &body), MPB_OK);
	assert_int_equal(n, 3);
	assert_int_equal(mpbi_span_next(&body, &e), MPB_OK);
	assert_int_equal(mpbi_span_uint(e, &u), MPB_OK);
	assert_int_equal(u, 1);
	assert_int_equal(mpbi_span_next(&body, &e), MPB_OK);
	assert_bytes(e.ptr, e.len, BYTES(0x92, 0x02, 0xa1, 0x78));
	assert_int_equal(mpbi_span_array(e, &n, &inner), MPB_OK);
	assert_int_equal(n, 2);
	assert_int_equal(mpbi_span_next(&inner, &e), MPB_OK);
	assert_int_equal(mpbi_span_uint(e, &u), MPB_OK);
	assert_int_equal(u, 2);
	assert_int_equal(mpbi_span_next(&inner, &e), MPB_OK);
	assert_int_equal(mpbi_span_str(e, &p, &l), MPB_OK);
	assert_bytes(p, l, "x", 1);
	assert_int_equal(inner.len, 0);
	assert_int_equal(mpbi_span_next(&body, &e), MPB_OK);
	assert_bytes(e.ptr, e.len, BYTES(0x80));
	// A map is not an array, and the walk is over.
	assert_int_equal(mpbi_span_array(e, &n, &inner), MPB_EINVAL);
	assert_int_equal(body.len, 0);
	assert_int_equal(mpbi_span_next(&body, &e), MPB_EPROTO);
	assert_int_equal(mpbi_span_array(f.elem[1], &n, &inner), MPB_EINVAL);
	// Containers are not scalars.
	assert_int_equal(mpbi_span_uint(f.elem[0], &u), MPB_EINVAL);
	assert_int_equal(mpbi_span_str(f.elem[1], &p, &l), MPB_EINVAL);
	wb_fini(&wb);
}

// Errors are sticky: once an append failed nothing more is written.
static void
test_writer_sticky_failure(void **state)
{
	wbuf wb;

	(void) state;
	wb_init(&wb);
	assert_int_equal(mpbi_writer_err(&wb.w), MPB_OK);
	mpbi_put_uint(&wb.w, 1);
	assert_int_equal(wb_len(&wb), 1);
	wb.w.failed = true; // as after a failed nng_msg_append
	mpbi_put_uint(&wb.w, 2);
	mpbi_put_str(&wb.w, "abc", 3);
	mpbi_put_raw(&wb.w, "\xc0", 1);
	mpbi_put_array(&wb.w, 3);
	mpbi_reply_err(&wb.w, MPB_EINVAL, "x");
	assert_int_equal(wb_len(&wb), 1);
	assert_int_equal(mpbi_writer_err(&wb.w), MPB_ENOMEM);
	wb_fini(&wb);
}

// ---------------------------------------------------------------------
// Envelopes

static void
test_request_envelope(void **state)
{
	wbuf       wb;
	mpbi_frame f;
	uint64_t   op;

	(void) state;
	wb_init(&wb);
	mpbi_request_begin(&wb.w, MPBI_OP_PING, 0);
	assert_bytes(wb_body(&wb), wb_len(&wb), BYTES(0x91, 0x01));
	wb_fini(&wb);

	wb_init(&wb);
	mpbi_request_begin(&wb.w, MPBI_OP_Q_PUT, 4);
	mpbi_put_str(&wb.w, "q", 1);
	mpbi_put_raw(&wb.w, "\xcc\x05", 2);
	mpbi_put_int(&wb.w, -3);
	mpbi_put_uint(&wb.w, 100);
	assert_bytes(wb_body(&wb), wb_len(&wb),
	    BYTES(0x95, 0x0b, 0xa1, 0x71, 0xcc, 0x05, 0xfd, 0x64));
	wb_parse(&wb, &f);
	assert_int_equal(f.nelem, 5);
	assert_int_equal(mpbi_span_uint(f.elem[0], &op), MPB_OK);
	assert_int_equal(op, MPBI_OP_Q_PUT);
	assert_bytes(f.elem[2].ptr, f.elem[2].len, BYTES(0xcc, 0x05));
	wb_fini(&wb);
}

static void
test_reply_ok_envelope(void **state)
{
	wbuf        wb;
	mpbi_frame  f;
	const char *text    = "sentinel";
	size_t      textlen = 777;
	uint64_t    u;
	const char *p;
	size_t      l;

	(void) state;
	wb_init(&wb);
	mpbi_reply_ok_begin(&wb.w, 0);
	assert_bytes(wb_body(&wb), wb_len(&wb), BYTES(0x91, 0x00));
	assert_int_equal(mpbi_reply_parse(wb_body(&wb), wb_len(&wb),
	                     MPBI_DEFAULT_MAX_DEPTH, &f, &text, &textlen),
	    MPB_OK);
	assert_int_equal(f.nelem, 1);
	// Success carries no message: the out-parameters stay as they were.
	assert_string_equal(text, "sentinel");
	assert_int_equal(textlen, 777);
	wb_fini(&wb);

	wb_init(&wb);
	mpbi_reply_ok_begin(&wb.w, 2);
	mpbi_put_uint(&wb.w, 1);
	mpbi_put_str(&wb.w, "hi", 2);
	assert_bytes(wb_body(&wb), wb_len(&wb),
	    BYTES(0x93, 0x00, 0x01, 0xa2, 0x68, 0x69));
	assert_int_equal(mpbi_reply_parse(wb_body(&wb), wb_len(&wb),
	                     MPBI_DEFAULT_MAX_DEPTH, &f, NULL, NULL),
	    MPB_OK);
	assert_int_equal(f.nelem, 3);
	assert_int_equal(mpbi_span_uint(f.elem[1], &u), MPB_OK);
	assert_int_equal(u, 1);
	assert_int_equal(mpbi_span_str(f.elem[2], &p, &l), MPB_OK);
	assert_bytes(p, l, "hi", 2);
	wb_fini(&wb);
}

static void
test_reply_err_envelope(void **state)
{
	static const mpb_err codes[] = {
#define CODE_(name, num, text) MPB_##name,
		MPB_ERR_MAP(CODE_)
#undef CODE_
	};
	wbuf        wb;
	mpbi_frame  f;
	const char *text;
	size_t      textlen;

	(void) state;
	wb_init(&wb);
	mpbi_reply_err(&wb.w, MPB_EEMPTY, "empty");
	assert_bytes(wb_body(&wb), wb_len(&wb),
	    BYTES(0x92, 0x08, 0xa5, 'e', 'm', 'p', 't', 'y'));
	wb_fini(&wb);

	// Every error code survives the round trip with its message.
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *msg = mpb_strerror(codes[i]);

		if (codes[i] == MPB_OK) {
			continue;
		}
		wb_init(&wb);
		mpbi_reply_err(&wb.w, codes[i], msg);
		text    = NULL;
		textlen = 0;
		assert_int_equal(mpbi_reply_parse(wb_body(&wb), wb_len(&wb),
		                     MPBI_DEFAULT_MAX_DEPTH, &f, &text, &textlen),
		    codes[i]);
		assert_bytes(text, textlen, msg, strlen(msg));
		// The message points into the buffer.
		assert_true((const uint8_t *) text > wb_body(&wb) &&
		    (const uint8_t *) text + textlen == wb_body(&wb) + wb_len(&wb));
		// And a caller that does not want the text may pass NULL.
		assert_int_equal(mpbi_reply_parse(wb_body(&wb), wb_len(&wb),
		                     MPBI_DEFAULT_MAX_DEPTH, &f, NULL, NULL),
		    codes[i]);
		wb_fini(&wb);
	}

	// An empty message is still a message.
	wb_init(&wb);
	mpbi_reply_err(&wb.w, MPB_EINVAL, "");
	text    = NULL;
	textlen = 5;
	assert_int_equal(mpbi_reply_parse(wb_body(&wb), wb_len(&wb),
	                     MPBI_DEFAULT_MAX_DEPTH, &f, &text, &textlen),
	    MPB_EINVAL);
	assert_non_null(text);
	assert_int_equal(textlen, 0);
	wb_fini(&wb);

	// A code this build does not know is passed through, as documented;
	// up to INT32_MAX.
	{
		mpbi_frame ff;

		assert_int_equal(
		    mpbi_reply_parse(BYTES(0x92, 0xcd, 0x03, 0xe7, 0xa1, 0x6d),
		        MPBI_DEFAULT_MAX_DEPTH, &ff, NULL, NULL),
		    999);
		assert_int_equal(mpbi_reply_parse(BYTES(0x92, 0xce, 0x7f, 0xff,
		                                      0xff, 0xff, 0xa1, 0x6d),
		                     MPBI_DEFAULT_MAX_DEPTH, &ff, NULL, NULL),
		    INT32_MAX);
	}
}

static void
assert_reply_proto(const uint8_t *b, size_t n)
{
	mpbi_frame  f;
	const char *text    = "sentinel";
	size_t      textlen = 777;

	assert_int_equal(
	    mpbi_reply_parse(b, n, MPBI_DEFAULT_MAX_DEPTH, &f, &text, &textlen),
	    MPB_EPROTO);
	assert_string_equal(text, "sentinel");
	assert_int_equal(textlen, 777);
}

static void
test_reply_parse_not_a_reply(void **state)
{
	static const uint8_t empty[1] = { 0 };

	(void) state;
	assert_reply_proto(empty, 0);
	assert_reply_proto(BYTES(0xc1));
	assert_reply_proto(BYTES(0x00));             // not an array
	assert_reply_proto(BYTES(0x90));             // no status
	assert_reply_proto(BYTES(0x91, 0xa1, 0x78)); // status a str
	assert_reply_proto(BYTES(0x91, 0xff));       // status -1
	assert_reply_proto(BYTES(0x91, 0xc0));       // status nil
	assert_reply_proto(BYTES(0x91, 0xc3));       // status true
	assert_reply_proto(BYTES(0x91, 0x05));       // error without message
	assert_reply_proto(BYTES(0x92, 0x05, 0x07)); // message not a str
	assert_reply_proto(BYTES(0x92, 0x05, 0xc4, 0x01, 0x6d)); // bin message
	assert_reply_proto(BYTES(0x92, 0x05, 0xc0)); // nil message
	assert_reply_proto(BYTES(0x93, 0x05, 0xa1, 0x6d, 0x01)); // extra element
	assert_reply_proto(
	    BYTES(0x92, 0xce, 0x80, 0x00, 0x00, 0x00, 0xa1, 0x6d)); // > INT32
	assert_reply_proto(BYTES(0x92, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xa1, 0x6d));
	assert_reply_proto(BYTES(0x92, 0x05, 0xa1));             // truncated
	assert_reply_proto(BYTES(0x92, 0x05, 0xa1, 0x6d, 0x00)); // trailing
	assert_reply_proto(BYTES(0x91, 0xca, 0x00, 0x00, 0x00, 0x00)); // float
}

// ---------------------------------------------------------------------
// Malformed input: one test per class, each expecting MPB_EPROTO.

static void
test_malformed_empty_buffer(void **state)
{
	static const uint8_t buf[4] = { 0x91, 0x01, 0, 0 };
	mpbi_frame           f;

	(void) state;
	// A valid frame behind the pointer must not matter: length 0 is 0.
	assert_int_equal(mpbi_check(buf, 0, MPBI_DEFAULT_MAX_DEPTH), MPB_EPROTO);
	assert_int_equal(
	    mpbi_frame_parse(buf, 0, MPBI_DEFAULT_MAX_DEPTH, &f), MPB_EPROTO);
	assert_int_equal(mpbi_frame_parse(buf, 2, MPBI_DEFAULT_MAX_DEPTH, &f),
	    MPB_OK);
}

// A frame with one element of every encoding family, cut at every offset.
static void
test_malformed_truncated_every_offset(void **state)
{
	static const uint8_t fixext16[18] = { 0xd8, 0x07, 1, 2, 3, 4, 5, 6, 7,
		8, 9, 10, 11, 12, 13, 14, 15, 16 };
	wbuf                 wb;
	mpbi_frame           f;
	uint8_t             *data = pattern(300);
	const uint8_t       *b;
	size_t               len;

	(void) state;
	wb_init(&wb);
	mpbi_put_array(&wb.w, 14);
	mpbi_put_uint(&wb.w, UINT64_MAX);
	mpbi_put_int(&wb.w, INT64_MIN);
	mpbi_put_uint(&wb.w, 300);
	mpbi_put_str(&wb.w, "str", 3);
	mpbi_put_str(&wb.w, (const char *) data, 40);  // str8
	mpbi_put_str(&wb.w, (const char *) data, 300); // str16
	mpbi_put_bin(&wb.w, data, 3);
	mpbi_put_array(&wb.w, 2);
	mpbi_put_uint(&wb.w, 1);
	assert_int_equal(msgpack_pack_map(&wb.w.pk, 1), 0);
	mpbi_put_str(&wb.w, "k", 1);
	mpbi_put_nil(&wb.w);
	mpbi_put_raw(&wb.w, "\xc7\x02\x05\xaa\xbb", 5); // ext8
	mpbi_put_raw(&wb.w, fixext16, sizeof(fixext16));
	assert_int_equal(msgpack_pack_double(&wb.w.pk, 1.5), 0);
	mpbi_put_bool(&wb.w, true);
	mpbi_put_raw(&wb.w, "\xdc\x00\x01\xc0", 4); // array16
	mpbi_put_raw(&wb.w, "\xc6\x00\x00\x00\x01\x61", 6); // bin32
	wb_parse(&wb, &f);
	assert_int_equal(f.nelem, 14);
	b   = wb_body(&wb);
	len = wb_len(&wb);
	assert_int_equal(mpbi_check(b, len, MPBI_DEFAULT_MAX_DEPTH), MPB_OK);
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_equal(mpbi_frame_parse(b, cut, MPBI_DEFAULT_MAX_DEPTH,
		                     &f),
		    MPB_EPROTO);
		assert_int_equal(
		    mpbi_check(b, cut, MPBI_DEFAULT_MAX_DEPTH), MPB_EPROTO);
		assert_reply_proto(b, cut);
	}
	// Every element alone, cut at every offset inside it.
	wb_parse(&wb, &f);
	for (size_t i = 0; i < f.nelem; i++) {
		assert_int_equal(
		    mpbi_check(f.elem[i].ptr, f.elem[i].len, MPBI_DEFAULT_MAX_DEPTH),
		    MPB_OK);
		for (size_t cut = 0; cut < f.elem[i].len; cut++) {
			assert_int_equal(mpbi_check(f.elem[i].ptr, cut,
			                     MPBI_DEFAULT_MAX_DEPTH),
			    MPB_EPROTO);
		}
	}
	wb_fini(&wb);
	free(data);
}

static void
test_malformed_c1(void **state)
{
	(void) state;
	assert_object_proto(BYTES(0xc1));
	assert_frame_proto(BYTES(0xc1));
	assert_frame_proto(BYTES(0x92, 0x01, 0xc1));
	assert_object_proto(BYTES(0x91, 0xc1));             // in an array
	assert_object_proto(BYTES(0x81, 0xc1, 0x01));       // as a map key
	assert_object_proto(BYTES(0x81, 0x01, 0xc1));       // as a map value
	assert_object_proto(BYTES(0x91, 0x91, 0x91, 0xc1)); // deep down
}

static void
test_malformed_trailing_bytes(void **state)
{
	(void) state;
	assert_int_equal(mpbi_check(BYTES(0x01), MPBI_DEFAULT_MAX_DEPTH), MPB_OK);
	assert_int_equal(
	    mpbi_check(BYTES(0x01, 0x02), MPBI_DEFAULT_MAX_DEPTH), MPB_EPROTO);
	assert_int_equal(
	    mpbi_check(BYTES(0x90, 0x00), MPBI_DEFAULT_MAX_DEPTH), MPB_EPROTO);
	assert_frame_proto(BYTES(0x91, 0x01, 0x02));
	assert_frame_proto(BYTES(0x91, 0x01, 0xc0));
	assert_frame_proto(BYTES(0x91, 0x01, 0x91, 0x01)); // a second frame
	assert_frame_proto(BYTES(0x91, 0x01, 0xc1));
}

static void
test_malformed_top_not_array(void **state)
{
	(void) state;
	assert_frame_proto(BYTES(0x01));
	assert_frame_proto(BYTES(0xc0));
	assert_frame_proto(BYTES(0xa1, 0x61));
	assert_frame_proto(BYTES(0xc4, 0x01, 0x00));
	assert_frame_proto(BYTES(0x81, 0x01, 0x02));             // fixmap
	assert_frame_proto(BYTES(0xde, 0x00, 0x01, 0x01, 0x02)); // map16
	// Each is a fine lone object: only the frame rule refuses it.
	assert_int_equal(mpbi_check(BYTES(0x81, 0x01, 0x02),
	                     MPBI_DEFAULT_MAX_DEPTH),
	    MPB_OK);
	// A non-canonical array header is still an array.
	{
		mpbi_frame f;

		assert_int_equal(mpbi_frame_parse(BYTES(0xdc, 0x00, 0x01, 0x07),
		                     MPBI_DEFAULT_MAX_DEPTH, &f),
		    MPB_OK);
		assert_int_equal(f.nelem, 1);
		assert_int_equal(mpbi_frame_parse(BYTES(0xdd, 0x00, 0x00, 0x00,
		                                      0x01, 0x07),
		                     MPBI_DEFAULT_MAX_DEPTH, &f),
		    MPB_OK);
		assert_int_equal(f.nelem, 1);
	}
}

static void
test_malformed_empty_array(void **state)
{
	(void) state;
	assert_frame_proto(BYTES(0x90));
	assert_frame_proto(BYTES(0xdc, 0x00, 0x00));
	assert_frame_proto(BYTES(0xdd, 0x00, 0x00, 0x00, 0x00));
	// As a value it is fine.
	assert_object_ok(BYTES(0x90));
}

static void
test_malformed_too_many_elems(void **state)
{
	uint8_t    b[3 + MPBI_MAX_ELEMS + 1];
	mpbi_frame f;

	(void) state;
	b[0] = 0xdc;
	b[1] = 0x00;
	for (size_t i = 0; i <= MPBI_MAX_ELEMS; i++) {
		b[3 + i] = (uint8_t) i;
	}
	b[2] = MPBI_MAX_ELEMS;
	assert_int_equal(mpbi_frame_parse(b, 3 + MPBI_MAX_ELEMS,
	                     MPBI_DEFAULT_MAX_DEPTH, &f),
	    MPB_OK);
	assert_int_equal(f.nelem, MPBI_MAX_ELEMS);
	for (size_t i = 0; i < MPBI_MAX_ELEMS; i++) {
		assert_bytes(f.elem[i].ptr, f.elem[i].len, &b[3 + i], 1);
	}
	b[2] = MPBI_MAX_ELEMS + 1;
	assert_frame_proto(b, sizeof(b));
	// The same through the writer.
	{
		wbuf wb;

		wb_init(&wb);
		mpbi_put_array(&wb.w, MPBI_MAX_ELEMS + 1);
		for (size_t i = 0; i <= MPBI_MAX_ELEMS; i++) {
			mpbi_put_uint(&wb.w, i);
		}
		assert_frame_proto(wb_body(&wb), wb_len(&wb));
		wb_fini(&wb);
	}
}

// mpbi_check allows max_depth containers; mpbi_frame_parse counts its top
// array as one of them.  Both clamp the limit to msgpack-c's 32.
static void
test_depth_limit(void **state)
{
	uint8_t          b[64];
	mpbi_frame       f;
	size_t           n;
	msgpack_unpacked u;
	size_t           off = 0;

	(void) state;
	for (unsigned d = 0; d <= MPBI_MAX_DEPTH_CAP; d++) {
		n = nested(b, d);
		assert_int_equal(mpbi_check(b, n, d), MPB_OK);
		n = nested(b, d + 1);
		assert_int_equal(mpbi_check(b, n, d), MPB_EPROTO);
	}
	for (unsigned d = 1; d <= MPBI_MAX_DEPTH_CAP; d++) {
		n = nested(b, d);
		assert_int_equal(mpbi_frame_parse(b, n, d, &f), MPB_OK);
		assert_int_equal(f.nelem, 1);
		n = nested(b, d + 1);
		assert_int_equal(mpbi_frame_parse(b, n, d, &f), MPB_EPROTO);
	}
	// Depth 0 admits no frame at all.
	assert_int_equal(mpbi_frame_parse(BYTES(0x91, 0x01), 0, &f), MPB_EPROTO);
	// Maps count like arrays: {1: {1: 1}} is two deep.
	assert_int_equal(
	    mpbi_check(BYTES(0x81, 0x01, 0x81, 0x01, 0x01), 2), MPB_OK);
	assert_int_equal(
	    mpbi_check(BYTES(0x81, 0x01, 0x81, 0x01, 0x01), 1), MPB_EPROTO);
	// A container as a map key counts too.
	assert_int_equal(mpbi_check(BYTES(0x81, 0x91, 0x01, 0x01), 1), MPB_EPROTO);

	// The cap: a larger limit is treated as 32.
	n = nested(b, MPBI_MAX_DEPTH_CAP);
	assert_int_equal(mpbi_check(b, n, UINT_MAX), MPB_OK);
	assert_int_equal(mpbi_frame_parse(b, n, UINT_MAX, &f), MPB_OK);
	// ... which msgpack-c itself still decodes.
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, (const char *) b, n, &off),
	    MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, n);
	msgpack_unpacked_destroy(&u);
	n = nested(b, MPBI_MAX_DEPTH_CAP + 1);
	assert_int_equal(mpbi_check(b, n, UINT_MAX), MPB_EPROTO);
	assert_int_equal(mpbi_check(b, n, MPBI_MAX_DEPTH_CAP + 1), MPB_EPROTO);
	assert_int_equal(mpbi_frame_parse(b, n, UINT_MAX, &f), MPB_EPROTO);
}

// Container counts far beyond the bytes left: refused before anything is
// allocated for them (msgpack-c would map 512 MiB, 16 GiB, or try 96 GiB).
static void
test_hostile_container_counts(void **state)
{
	(void) state;
	alloc_counter_selftest();
	assert_rejected_cheaply(BYTES(0xdd, 0x00, 0xff, 0xff, 0xff));
	assert_rejected_cheaply(BYTES(0xdf, 0x0f, 0xff, 0xff, 0xff));
	assert_rejected_cheaply(BYTES(0xdd, 0xff, 0xff, 0xff, 0xff));
	assert_rejected_cheaply(BYTES(0xdf, 0xff, 0xff, 0xff, 0xff));
	assert_rejected_cheaply(BYTES(0xdf, 0x80, 0x00, 0x00, 0x00, 0x01));
	assert_rejected_cheaply(BYTES(0xdc, 0xff, 0xff));
	assert_rejected_cheaply(BYTES(0xde, 0xff, 0xff, 0x01, 0x01));
	// Small lies are lies too: one byte short.
	assert_rejected_cheaply(BYTES(0x92, 0x01));
	assert_rejected_cheaply(BYTES(0x81, 0x01)); // a pair needs two
	assert_rejected_cheaply(BYTES(0xdd, 0x00, 0x00, 0x00, 0x02, 0x01));
	// Deep inside a frame.
	assert_rejected_cheaply(BYTES(0x92, 0x01, 0x91, 0xdd, 0xff, 0xff, 0xff,
	    0xff));
}

static void
test_hostile_str32_4gib(void **state)
{
	(void) state;
	alloc_counter_selftest();
	assert_rejected_cheaply(BYTES(0xdb, 0xff, 0xff, 0xff, 0xff, 0xab));
	assert_rejected_cheaply(BYTES(0xc6, 0xff, 0xff, 0xff, 0xff, 0xab));
	assert_rejected_cheaply(BYTES(0xc9, 0xff, 0xff, 0xff, 0xff, 0x01));
	assert_rejected_cheaply(BYTES(0xda, 0xff, 0xff, 0x61));
}

static void
test_malformed_bin_str_past_end(void **state)
{
	(void) state;
	assert_object_proto(BYTES(0xc4, 0x02, 0x61));
	assert_object_proto(BYTES(0xc5, 0x00, 0x02, 0x61));
	assert_object_proto(BYTES(0xc6, 0x00, 0x00, 0x00, 0x05, 0x61, 0x62));
	assert_object_proto(BYTES(0xd9, 0x03, 0x61, 0x62));
	assert_object_proto(BYTES(0xda, 0x00, 0x03, 0x61));
	assert_object_proto(BYTES(0xa3, 0x61, 0x62)); // fixstr
	// The length field itself cut short.
	assert_object_proto(BYTES(0xc4));
	assert_object_proto(BYTES(0xc5, 0x00));
	assert_object_proto(BYTES(0xc6, 0x00, 0x00, 0x00));
	assert_object_proto(BYTES(0xd9));
	assert_object_proto(BYTES(0xda, 0x00));
	assert_object_proto(BYTES(0xdb, 0x00, 0x00, 0x00));
	// Exact lengths pass.
	assert_object_ok(BYTES(0xc4, 0x02, 0x61, 0x62));
	assert_object_ok(BYTES(0xd9, 0x00));
}

static void
test_malformed_ext_past_end(void **state)
{
	(void) state;
	assert_object_proto(BYTES(0xc7, 0x02, 0x05, 0xaa)); // one data byte
	assert_object_proto(BYTES(0xc7, 0x00));             // no type byte
	assert_object_proto(BYTES(0xc8, 0x00, 0x01, 0x05));
	assert_object_proto(BYTES(0xc9, 0x00, 0x00, 0x00, 0x02, 0x05, 0xaa));
	assert_object_proto(BYTES(0xc7));
	assert_object_proto(BYTES(0xc8, 0x00));
	assert_object_proto(BYTES(0xc9, 0x00, 0x00));
	assert_object_ok(BYTES(0xc7, 0x00, 0x05));
	assert_object_ok(BYTES(0xc7, 0x02, 0x05, 0xaa, 0xbb));
	assert_object_ok(BYTES(0xc9, 0x00, 0x00, 0x00, 0x01, 0x05, 0xaa));
}

static void
test_malformed_fixext_truncated(void **state)
{
	// fixext1/2/4/8/16: a type byte, then 1/2/4/8/16 data bytes.
	static const struct {
		uint8_t t;
		size_t  data;
	} kinds[] = { { 0xd4, 1 }, { 0xd5, 2 }, { 0xd6, 4 }, { 0xd7, 8 },
		{ 0xd8, 16 } };
	uint8_t b[18];

	(void) state;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t full = 2 + kinds[k].data;

		b[0] = kinds[k].t;
		for (size_t i = 1; i < full; i++) {
			b[i] = (uint8_t) (0xa0 + i);
		}
		assert_object_ok(b, full);
		for (size_t cut = 1; cut < full; cut++) {
			assert_object_proto(b, cut);
		}
	}
}

static void
test_malformed_fixed_scalars_truncated(void **state)
{
	static const struct {
		uint8_t t;
		size_t  payload;
	} kinds[] = { { 0xcc, 1 }, { 0xcd, 2 }, { 0xce, 4 }, { 0xcf, 8 },
		{ 0xd0, 1 }, { 0xd1, 2 }, { 0xd2, 4 }, { 0xd3, 8 }, { 0xca, 4 },
		{ 0xcb, 8 } };
	uint8_t b[9] = { 0 };

	(void) state;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		b[0] = kinds[k].t;
		assert_object_ok(b, 1 + kinds[k].payload);
		for (size_t cut = 1; cut <= kinds[k].payload; cut++) {
			assert_object_proto(b, cut);
		}
	}
}

// ---------------------------------------------------------------------
// Readers given the wrong type: MPB_EINVAL, outputs untouched.

static void
assert_uint_einval(const uint8_t *b, size_t n)
{
	uint64_t u = 4242;

	assert_int_equal(mpbi_span_uint(span_of(b, n), &u), MPB_EINVAL);
	assert_int_equal(u, 4242);
}

static void
assert_int_einval(const uint8_t *b, size_t n)
{
	int64_t s = 4242;

	assert_int_equal(mpbi_span_int(span_of(b, n), &s), MPB_EINVAL);
	assert_int_equal(s, 4242);
}

static void
assert_bool_einval(const uint8_t *b, size_t n)
{
	bool v = true;

	assert_int_equal(mpbi_span_bool(span_of(b, n), &v), MPB_EINVAL);
	assert_true(v);
}

static void
assert_str_einval(const uint8_t *b, size_t n)
{
	const char *p = "untouched";
	size_t      l = 4242;

	assert_int_equal(mpbi_span_str(span_of(b, n), &p, &l), MPB_EINVAL);
	assert_string_equal(p, "untouched");
	assert_int_equal(l, 4242);
}

static void
assert_bytes_einval(const uint8_t *b, size_t n)
{
	const uint8_t *p = NULL;
	size_t         l = 4242;

	assert_int_equal(mpbi_span_bytes(span_of(b, n), &p, &l), MPB_EINVAL);
	assert_null(p);
	assert_int_equal(l, 4242);
}

static void
assert_array_einval(const uint8_t *b, size_t n)
{
	size_t    cnt  = 4242;
	mpbi_span body = { NULL, 4242 };

	assert_int_equal(mpbi_span_array(span_of(b, n), &cnt, &body), MPB_EINVAL);
	assert_int_equal(cnt, 4242);
	assert_null(body.ptr);
}

static void
test_reader_wrong_type(void **state)
{
	static const uint8_t none[1] = { 0 };

	(void) state;
	// uint: negatives, non-integers, containers, nothing, two objects.
	assert_uint_einval(BYTES(0xff));
	assert_uint_einval(BYTES(0xd0, 0xff));
	assert_uint_einval(BYTES(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0));
	assert_uint_einval(BYTES(0xa1, 0x31));
	assert_uint_einval(BYTES(0xc4, 0x01, 0x01));
	assert_uint_einval(BYTES(0xc0));
	assert_uint_einval(BYTES(0xc2));
	assert_uint_einval(BYTES(0xca, 0x3f, 0x80, 0x00, 0x00));
	assert_uint_einval(BYTES(0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0));
	assert_uint_einval(BYTES(0x91, 0x01));
	assert_uint_einval(BYTES(0x80));
	assert_uint_einval(BYTES(0xd4, 0x05, 0x01));
	assert_uint_einval(none, 0);
	assert_uint_einval(BYTES(0x01, 0x02));
	// int: beyond INT64_MAX, non-integers.
	assert_int_einval(BYTES(0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0));
	assert_int_einval(BYTES(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff));
	assert_int_einval(BYTES(0xa1, 0x31));
	assert_int_einval(BYTES(0xc0));
	assert_int_einval(BYTES(0xc3));
	assert_int_einval(BYTES(0xca, 0x3f, 0x80, 0x00, 0x00));
	assert_int_einval(BYTES(0x91, 0x01));
	assert_int_einval(none, 0);
	// bool: integers and nil are not booleans.
	assert_bool_einval(BYTES(0x00));
	assert_bool_einval(BYTES(0x01));
	assert_bool_einval(BYTES(0xc0));
	assert_bool_einval(BYTES(0xa0));
	assert_bool_einval(BYTES(0x91, 0xc3));
	// str: a bin, an integer, nil, an ext, an array of a str.
	assert_str_einval(BYTES(0xc4, 0x01, 0x61));
	assert_str_einval(BYTES(0x01));
	assert_str_einval(BYTES(0xc0));
	assert_str_einval(BYTES(0xd4, 0x05, 0x61));
	assert_str_einval(BYTES(0x91, 0xa1, 0x61));
	assert_str_einval(none, 0);
	// bytes: anything but str and bin.
	assert_bytes_einval(BYTES(0x01));
	assert_bytes_einval(BYTES(0xc0));
	assert_bytes_einval(BYTES(0xc3));
	assert_bytes_einval(BYTES(0x91, 0x01));
	assert_bytes_einval(BYTES(0xd4, 0x05, 0x61));
	assert_bytes_einval(BYTES(0xc7, 0x01, 0x05, 0x61));
	// array: maps and scalars.
	assert_array_einval(BYTES(0x80));
	assert_array_einval(BYTES(0xde, 0x00, 0x00));
	assert_array_einval(BYTES(0x01));
	assert_array_einval(BYTES(0xa0));
	assert_array_einval(BYTES(0xc0));
	assert_array_einval(none, 0);
	// nil is exactly c0.
	assert_true(mpbi_span_is_nil(span_of(BYTES(0xc0))));
	assert_false(mpbi_span_is_nil(span_of(BYTES(0xc0, 0xc0))));
	assert_false(mpbi_span_is_nil(span_of(BYTES(0xc2))));
	assert_false(mpbi_span_is_nil(span_of(none, 0)));
}

// ---------------------------------------------------------------------
// Error and op names

static void
test_err_names(void **state)
{
	// The wire numbers of version 1, written out: a renumbering must fail
	// here.  Codes appended later are covered by the map loop below.
	static const struct {
		int         num;
		const char *name;
	} pinned[] = { { 0, "OK" }, { 1, "EINVAL" }, { 2, "EPROTO" },
		{ 3, "ENOTSUP" }, { 4, "ENOMEM" }, { 5, "ENOENT" },
		{ 6, "EWRONGTYPE" }, { 7, "EEXIST" }, { 8, "EEMPTY" },
		{ 9, "EFULL" }, { 10, "ETIMEDOUT" }, { 11, "EDELETED" },
		{ 12, "ENAMETOOLONG" }, { 13, "EMSGSIZE" }, { 14, "ESTATE" },
		{ 15, "ELIMIT" }, { 16, "ECLOSED" }, { 17, "ENOBROKER" },
		{ 18, "ECONNLOST" }, { 19, "EFORK" }, { 20, "ENOREPLY" },
		{ 21, "EINTERNAL" } };
	static const struct {
		mpb_err     code;
		int         num;
		const char *name;
		const char *text;
	} map[] = {
#define ENTRY_(name, num, text) { MPB_##name, num, #name, text },
		MPB_ERR_MAP(ENTRY_)
#undef ENTRY_
	};
	const size_t n = sizeof(map) / sizeof(map[0]);
	int          maxnum = 0;

	(void) state;
	for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++) {
		assert_string_equal(
		    mpb_errname((mpb_err) pinned[i].num), pinned[i].name);
	}
	for (size_t i = 0; i < n; i++) {
		assert_int_equal((int) map[i].code, map[i].num);
		assert_string_equal(mpb_errname(map[i].code), map[i].name);
		assert_string_equal(mpb_strerror(map[i].code), map[i].text);
		assert_true(strlen(mpb_errname(map[i].code)) > 0);
		assert_true(strlen(mpb_strerror(map[i].code)) > 0);
		assert_string_not_equal(mpb_strerror(map[i].code), "unknown error");
		assert_string_not_equal(mpb_errname(map[i].code), "EUNKNOWN");
		for (size_t j = 0; j < i; j++) {
			assert_int_not_equal(map[i].num, map[j].num);
			assert_string_not_equal(
			    mpb_errname(map[i].code), mpb_errname(map[j].code));
			assert_string_not_equal(
			    mpb_strerror(map[i].code), mpb_strerror(map[j].code));
		}
		if (map[i].num > maxnum) {
			maxnum = map[i].num;
		}
	}
	assert_string_equal(mpb_strerror(MPB_OK), "success");
	assert_string_equal(mpb_strerror(MPB_EEMPTY), "queue is empty");
	{
		const int unknown[] = { maxnum + 1, maxnum + 2, 1000, INT32_MAX,
			-1 };

		for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
			assert_string_equal(
			    mpb_strerror((mpb_err) unknown[i]), "unknown error");
			assert_string_equal(
			    mpb_errname((mpb_err) unknown[i]), "EUNKNOWN");
		}
	}
}

static void
test_op_names(void **state)
{
	// Version 1's queue ops, written out; ops appended later are covered
	// by the map loop.
	static const struct {
		uint64_t    num;
		const char *name;
	} pinned[] = { { 1, "ping" }, { 10, "queue.create" },
		{ 11, "queue.put" }, { 12, "queue.get" }, { 13, "queue.info" },
		{ 14, "queue.task_done" }, { 15, "queue.join" },
		{ 16, "queue.delete" }, { 17, "queue.list" } };
	static const struct {
		mpbi_op     op;
		uint64_t    num;
		const char *text;
	} map[] = {
#define OP_(name, num, text) { MPBI_OP_##name, num, text },
		MPBI_OP_MAP(OP_)
#undef OP_
	};
	const size_t          n         = sizeof(map) / sizeof(map[0]);
	static const uint64_t unknown[] = { 0, 1000, 1u << 20, UINT32_MAX,
		UINT64_MAX };

	(void) state;
	for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++) {
		assert_non_null(mpbi_op_name(pinned[i].num));
		assert_string_equal(mpbi_op_name(pinned[i].num), pinned[i].name);
	}
	for (size_t i = 0; i < n; i++) {
		assert_int_equal((uint64_t) map[i].op, map[i].num);
		assert_non_null(mpbi_op_name(map[i].num));
		assert_string_equal(mpbi_op_name(map[i].num), map[i].text);
		assert_true(map[i].num < (uint64_t) MPBI_OP_LIMIT);
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(map[i].text, map[j].text);
		}
	}
	// Every number up to and past the table's end that is not in the map
	// has no name: the gaps left for later kinds, and MPBI_OP_LIMIT.
	for (uint64_t op = 0; op < (uint64_t) MPBI_OP_LIMIT + 4; op++) {
		bool known = false;

		for (size_t i = 0; i < n; i++) {
			known = known || map[i].num == op;
		}
		if (!known) {
			assert_null(mpbi_op_name(op));
		}
	}
	assert_null(mpbi_op_name(MPBI_OP_LIMIT));
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_null(mpbi_op_name(unknown[i]));
	}
}

// ---------------------------------------------------------------------
// Differential fuzz: mpbi_check against msgpack-c.

static uint64_t
rnd(uint64_t *s)
{
	// xorshift64: fixed seed, so a failure replays the same way.
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

typedef struct gen {
	uint64_t *rng;
	uint8_t  *b;
	size_t    cap;
	size_t    len;
	unsigned  maxdepth; // deepest container nesting written
} gen;

static bool
gen_put(gen *g, const void *p, size_t n)
{
	if (n > g->cap - g->len) {
		return (false);
	}
	memcpy(g->b + g->len, p, n);
	g->len += n;
	return (true);
}

static bool
gen_byte(gen *g, uint8_t v)
{
	return (gen_put(g, &v, 1));
}

static bool
gen_random_bytes(gen *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!gen_byte(g, (uint8_t) rnd(g->rng))) {
			return (false);
		}
	}
	return (true);
}

static bool
gen_be(gen *g, uint64_t v, unsigned width)
{
	for (unsigned i = width; i-- > 0;) {
		if (!gen_byte(g, (uint8_t) (v >> (8 * i)))) {
			return (false);
		}
	}
	return (true);
}

// Writes one random valid msgpack object at nesting level `level`
// (containers may go beyond msgpack-c's 32 so the cap is exercised).
// False when it would not fit.
static bool
gen_obj(gen *g, unsigned level)
{
	static const uint8_t fixed[] = { 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1,
		0xd2, 0xd3, 0xca, 0xcb };
	static const unsigned fixed_len[] = { 1, 2, 4, 8, 1, 2, 4, 8, 4, 8 };
	static const uint8_t  fixext[]    = { 0xd4, 0xd5, 0xd6, 0xd7, 0xd8 };
	static const uint8_t  nil_bools[] = { 0xc0, 0xc2, 0xc3 };
	unsigned              kind;
	uint64_t              n;
	unsigned              w;

	// Four kinds in fourteen are containers; none below level 36, so
	// every object ends (the 64-byte cap usually ends it sooner).
	kind = (unsigned) (rnd(g->rng) % (level < 36 ? 14 : 10));
	switch (kind) {
	case 0: // fixint, either sign
		n = rnd(g->rng);
		return (gen_byte(g, (uint8_t) (n % 2 ? (n >> 8) & 0x7f
		                                     : 0xe0 | ((n >> 8) & 0x1f))));
	case 1: // nil, false, true
		return (gen_byte(g, nil_bools[rnd(g->rng) % 3]));
	case 2: { // fixed-width numbers
		unsigned i = (unsigned) (rnd(g->rng) % sizeof(fixed));
		return (gen_byte(g, fixed[i]) &&
		    gen_random_bytes(g, fixed_len[i]));
	}
	case 3: // fixstr
		n = rnd(g->rng) % 6;
		return (gen_byte(g, (uint8_t) (0xa0 | n)) && gen_random_bytes(g, n));
	case 4: // str8/16/32, bin8/16/32
		n = rnd(g->rng) % 5;
		w = 1u << (rnd(g->rng) % 3);
		return (gen_byte(g, (uint8_t) ((rnd(g->rng) % 2 ? 0xd9 : 0xc4) +
		                     (w == 1 ? 0 : w == 2 ? 1 : 2))) &&
		    gen_be(g, n, w) && gen_random_bytes(g, n));
	case 5: { // fixext
		unsigned i = (unsigned) (rnd(g->rng) % sizeof(fixext));
		return (gen_byte(g, fixext[i]) &&
		    gen_random_bytes(g, 1 + (1u << i)));
	}
	case 6: // ext8/16/32
		n = rnd(g->rng) % 4;
		w = 1u << (rnd(g->rng) % 3);
		return (gen_byte(g, (uint8_t) (0xc7 + (w == 1 ? 0 : w == 2 ? 1 : 2))) &&
		    gen_be(g, n, w) && gen_random_bytes(g, 1 + n));
	case 7:
	case 8:
	case 9: // more scalars than containers
		return (gen_byte(g, (uint8_t) (rnd(g->rng) & 0x7f)));
	default: { // arrays and maps, fix/16/32 headers
		bool map = rnd(g->rng) % 3 == 0;
		n        = rnd(g->rng) % (map ? 3 : 4);
		w        = (unsigned) (rnd(g->rng) % 3);
		if (w == 0) {
			if (!gen_byte(g, (uint8_t) ((map ? 0x80 : 0x90) | n))) {
				return (false);
			}
		} else if (!gen_byte(g, (uint8_t) ((map ? 0xde : 0xdc) + (w - 1))) ||
		    !gen_be(g, n, w == 1 ? 2 : 4)) {
			return (false);
		}
		if (level + 1 > g->maxdepth) {
			g->maxdepth = level + 1;
		}
		for (uint64_t i = 0; i < (map ? 2 * n : n); i++) {
			if (!gen_obj(g, level + 1)) {
				return (false);
			}
		}
		return (true);
	}
	}
}

// k containers nested one inside the other (single-element arrays, or
// single-pair maps with the container as value, in any header form)
// around a fixint: random generation alone would almost never reach
// msgpack-c's limit of 32, and this is where the cap matters.
static bool
gen_chain(gen *g, unsigned k)
{
	for (unsigned i = 0; i < k; i++) {
		bool ok;

		switch (rnd(g->rng) % 8) {
		case 0:
			ok = gen_byte(g, 0xdc) && gen_be(g, 1, 2);
			break;
		case 1:
			ok = gen_byte(g, 0xdd) && gen_be(g, 1, 4);
			break;
		case 2:
			ok = gen_byte(g, 0x81) && gen_byte(g, 0x00);
			break;
		default:
			ok = gen_byte(g, 0x91);
			break;
		}
		if (!ok) {
			return (false);
		}
	}
	g->maxdepth = k;
	return (gen_byte(g, 0x2a));
}

static void
mutate(uint64_t *rng, uint8_t *b, size_t *lenp, size_t cap)
{
	static const uint8_t interesting[] = { 0xc1, 0xdd, 0xdf, 0xdb, 0xc6,
		0xc9, 0xff, 0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xdc, 0xde, 0xd8 };
	size_t len = *lenp;
	size_t pos = len != 0 ? (size_t) (rnd(rng) % len) : 0;

	switch (rnd(rng) % 6) {
	case 0: // flip a bit
		if (len != 0) {
			b[pos] ^= (uint8_t) (1u << (rnd(rng) % 8));
		}
		break;
	case 1: // replace a byte
		if (len != 0) {
			b[pos] = (uint8_t) rnd(rng);
		}
		break;
	case 2: // an interesting byte
		if (len != 0) {
			b[pos] = interesting[rnd(rng) % sizeof(interesting)];
		}
		break;
	case 3: // truncate
		*lenp = len != 0 ? (size_t) (rnd(rng) % len) : 0;
		break;
	case 4: // insert a byte
		if (len < cap) {
			memmove(b + pos + 1, b + pos, len - pos);
			b[pos] = (uint8_t) rnd(rng);
			*lenp  = len + 1;
		}
		break;
	default: // append a byte
		if (len < cap) {
			b[len] = (uint8_t) rnd(rng);
			*lenp  = len + 1;
		}
		break;
	}
}

// Whatever mpbi_check accepts, msgpack-c decodes in full.  Unmutated
// generated objects are also checked the other way: accepted exactly
// when within the depth limit.  Only accepted bytes ever reach msgpack-c.
static void
test_fuzz_check_vs_msgpack(void **state)
{
	enum { ITERATIONS = 200000, CAP = 64 };
	const double deadline = now_s() + 5.0;
	uint64_t     rng      = 0x9e3779b97f4a7c15ull;
	size_t       accepted = 0, rejected = 0, frames = 0, mutated_ok = 0;
	size_t       iter;
	uint8_t      b[CAP];

	(void) state;
	for (iter = 0; iter < ITERATIONS; iter++) {
		// Limits past the cap too: they must act as the cap.
		unsigned   depth  = (unsigned) (rnd(&rng) % 36);
		unsigned   eff    = depth < MPBI_MAX_DEPTH_CAP ? depth
		                                               : MPBI_MAX_DEPTH_CAP;
		size_t     len    = 0;
		bool       pure   = false;
		unsigned   gdepth = 0;
		unsigned   how    = (unsigned) (rnd(&rng) % 4);
		mpbi_frame f;
		mpb_err    rv;

		if ((iter & 1023) == 0 && now_s() > deadline) {
			break;
		}
		if (how == 0) {
			len = (size_t) (rnd(&rng) % (CAP + 1));
			for (size_t i = 0; i < len; i++) {
				b[i] = (uint8_t) rnd(&rng);
			}
		} else {
			gen      g = { &rng, b, CAP, 0, 0 };
			unsigned nmut;
			bool     ok;

			if (rnd(&rng) % 8 == 0) {
				ok = gen_chain(&g, 26 + (unsigned) (rnd(&rng) % 10));
			} else {
				ok = gen_obj(&g, 0);
			}
			if (!ok) {
				continue;
			}
			len    = g.len;
			gdepth = g.maxdepth;
			pure   = true;
			// how 1: as generated; 2: one mutation; 3: a few.
			nmut = how == 1   ? 0
			     : how == 2 ? 1
			                : 2 + (unsigned) (rnd(&rng) % 3);
			for (unsigned m = 0; m < nmut; m++) {
				mutate(&rng, b, &len, CAP);
				pure = false;
			}
		}
		rv = mpbi_check(b, len, depth);
		if (pure) {
			assert_int_equal(rv, gdepth <= eff ? MPB_OK : MPB_EPROTO);
		}
		if (rv == MPB_OK) {
			msgpack_unpacked u;
			size_t           off = 0;

			accepted++;
			mutated_ok += !pure && how != 0;
			msgpack_unpacked_init(&u);
			if (msgpack_unpack_next(&u, (const char *) b, len, &off) !=
			        MSGPACK_UNPACK_SUCCESS ||
			    off != len) {
				print_error("iteration %zu: accepted but msgpack-c "
				            "disagrees (len %zu, off %zu)\n",
				    iter, len, off);
				msgpack_unpacked_destroy(&u);
				fail();
			}
			msgpack_unpacked_destroy(&u);
		} else {
			assert_int_equal(rv, MPB_EPROTO);
			rejected++;
		}
		// A parsed frame is a checked object whose spans tile it.
		if (mpbi_frame_parse(b, len, depth, &f) == MPB_OK) {
			size_t at;

			frames++;
			assert_int_equal(rv, MPB_OK);
			assert_true(f.nelem >= 1 && f.nelem <= MPBI_MAX_ELEMS);
			at = (size_t) (f.elem[0].ptr - b);
			for (size_t i = 0; i < f.nelem; i++) {
				assert_ptr_equal(f.elem[i].ptr, b + at);
				assert_int_equal(mpbi_check(f.elem[i].ptr,
				                     f.elem[i].len, eff - 1),
				    MPB_OK);
				at += f.elem[i].len;
			}
			assert_int_equal(at, len);
		}
	}
	print_message("fuzz: %zu iterations, %zu accepted (%zu mutated), "
	              "%zu rejected, %zu frames\n",
	    iter, accepted, mutated_ok, rejected, frames);
	// Both sides of the check must have been exercised.
	assert_true(iter >= 20000);
	assert_true(accepted >= 1000);
	assert_true(mutated_ok >= 100);
	assert_true(rejected >= 1000);
	assert_true(frames >= 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uint_roundtrip),
		cmocka_unit_test(test_int_roundtrip),
		cmocka_unit_test(test_bool_nil_roundtrip),
		cmocka_unit_test(test_str_roundtrip),
		cmocka_unit_test(test_bin_roundtrip),
		cmocka_unit_test(test_raw_values_preserved),
		cmocka_unit_test(test_nested_roundtrip),
		cmocka_unit_test(test_writer_sticky_failure),
		cmocka_unit_test(test_request_envelope),
		cmocka_unit_test(test_reply_ok_envelope),
		cmocka_unit_test(test_reply_err_envelope),
		cmocka_unit_test(test_reply_parse_not_a_reply),
		cmocka_unit_test(test_malformed_empty_buffer),
		cmocka_unit_test(test_malformed_truncated_every_offset),
		cmocka_unit_test(test_malformed_c1),
		cmocka_unit_test(test_malformed_trailing_bytes),
		cmocka_unit_test(test_malformed_top_not_array),
		cmocka_unit_test(test_malformed_empty_array),
		cmocka_unit_test(test_malformed_too_many_elems),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_hostile_container_counts),
		cmocka_unit_test(test_hostile_str32_4gib),
		cmocka_unit_test(test_malformed_bin_str_past_end),
		cmocka_unit_test(test_malformed_ext_past_end),
		cmocka_unit_test(test_malformed_fixext_truncated),
		cmocka_unit_test(test_malformed_fixed_scalars_truncated),
		cmocka_unit_test(test_reader_wrong_type),
		cmocka_unit_test(test_err_names),
		cmocka_unit_test(test_op_names),
		cmocka_unit_test(test_fuzz_check_vs_msgpack),
	};

	return (cmocka_run_group_tests_name("frame", tests, NULL, NULL));
}
