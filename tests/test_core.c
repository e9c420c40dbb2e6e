// test_core.c -- unit tests for the broker core with no network.
//
// A broker is created with a fake transport that records every deferred
// reply (token, message).  Requests are built with the proto writer,
// handed to mpbi_broker_handle with an explicit clock, and every reply
// (immediate or deferred) is checked to be a well-formed frame and
// decoded with mpbi_reply_parse.  Tests check exact codes, values (byte
// for byte), orders and counts; the last one runs a seeded random mix of
// requests against a reference model and checks that every item put is
// got exactly once.  Run under ASan/LSan, every message received is freed.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "reply.h"
#include "proto.h"

// Sessions every test starts with.
#define SID_A 1u
#define SID_B 2u
#define SID_C 3u
// Token of requests that must be answered at once.
#define NO_TOKEN ((uintptr_t) 0xdead)
// An arbitrary, non-zero monotonic start time.
#define T0 1000000u

// ---------------------------------------------------------------------
// Fake transport: records each deferred reply.

typedef struct sent {
	void    *token;
	nng_msg *msg; // freed by the test (NULL once freed)
} sent;

typedef struct fake_tp {
	sent  *s;
	size_t n;
	size_t cap;
} fake_tp;

static void
tp_send_reply(void *arg, void *token, nng_msg *msg)
{
	fake_tp *tp = arg;

	if (tp->n == tp->cap) {
		size_t cap = tp->cap != 0 ? 2 * tp->cap : 64;
		sent  *s   = realloc(tp->s, cap * sizeof(*s));

		assert_non_null(s);
		tp->s   = s;
		tp->cap = cap;
	}
	// The core hands over a NULL message only when out of memory.
	assert_non_null(msg);
	tp->s[tp->n].token = token;
	tp->s[tp->n].msg   = msg;
	tp->n++;
}

static void
tp_free(fake_tp *tp)
{
	for (size_t i = 0; i < tp->n; i++) {
		nng_msg_free(tp->s[i].msg);
	}
	free(tp->s);
	memset(tp, 0, sizeof(*tp));
}

// ---------------------------------------------------------------------
// Fixture

typedef struct fx {
	mpbi_config  cfg;
	mpbi_broker *b;
	fake_tp      tp;
	uint64_t     now;
	nng_msg    **kept; // immediate replies, freed at teardown
	size_t       nkept;
	size_t       capkept;
} fx;

// The defaults, over a zeroed struct: a field the defaults do not set
// (e.g. no authentication secret) is then off, whatever the defaults do.
// test_config_defaults checks the defaults alone.
static void
default_config(mpbi_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	mpbi_config_defaults(cfg);
}

// Small limits, so each can be reached in a few requests.
static void
test_config(mpbi_config *cfg)
{
	default_config(cfg);
	cfg->max_frame   = 4096;
	cfg->max_name    = 32;
	cfg->max_objects = 16;
	cfg->max_parked  = 8;
	cfg->max_depth   = 4;
}

static void
fx_start(fx *x, const mpbi_config *cfg)
{
	mpbi_transport tp = { &x->tp, tp_send_reply };

	x->cfg = *cfg;
	x->now = T0;
	assert_int_equal(mpbi_broker_create(cfg, &tp, &x->b), MPB_OK);
	assert_int_equal(mpbi_broker_session_open(x->b, SID_A), MPB_OK);
	assert_int_equal(mpbi_broker_session_open(x->b, SID_B), MPB_OK);
	assert_int_equal(mpbi_broker_session_open(x->b, SID_C), MPB_OK);
}

static void
fx_free_kept(fx *x)
{
	for (size_t i = 0; i < x->nkept; i++) {
		nng_msg_free(x->kept[i]);
	}
	x->nkept = 0;
}

static void
fx_stop(fx *x)
{
	if (x->b != NULL) {
		mpbi_broker_shutdown(x->b);
		mpbi_broker_destroy(x->b);
		x->b = NULL;
	}
	tp_free(&x->tp);
	fx_free_kept(x);
	free(x->kept);
	x->kept    = NULL;
	x->capkept = 0;
}

// For tests that need other limits than test_config's.
static void
fx_restart(fx *x, const mpbi_config *cfg)
{
	fx_stop(x);
	fx_start(x, cfg);
}

static int
setup(void **state)
{
	fx         *x = calloc(1, sizeof(*x));
	mpbi_config cfg;

	if (x == NULL) {
		return (-1);
	}
	test_config(&cfg);
	fx_start(x, &cfg);
	*state = x;
	return (0);
}

static int
teardown(void **state)
{
	fx *x = *state;

	fx_stop(x);
	free(x);
	return (0);
}

static void
keep(fx *x, nng_msg *m)
{
	if (x->nkept == x->capkept) {
		size_t    cap = x->capkept != 0 ? 2 * x->capkept : 64;
		nng_msg **k   = realloc(x->kept, cap * sizeof(*k));

		assert_non_null(k);
		x->kept    = k;
		x->capkept = cap;
	}
	x->kept[x->nkept++] = m;
}

// ---------------------------------------------------------------------
// Request builder

typedef enum akind {
	A_UINT,
	A_INT,
	A_CSTR, // NUL-terminated str
	A_STR,  // str of n bytes
	A_BIN,
	A_RAW, // an encoded value, verbatim
	A_NIL,
} akind;

typedef struct arg {
	akind       k;
	uint64_t    u;
	int64_t     i;
	const void *p;
	size_t      n;
} arg;

#define U(v) { .k = A_UINT, .u = (v) }
#define I(v) { .k = A_INT, .i = (v) }
#define S(s) { .k = A_CSTR, .p = (s) }
#define SN(s, len) { .k = A_STR, .p = (s), .n = (len) }
#define BIN(s, len) { .k = A_BIN, .p = (s), .n = (len) }
#define RAWP(s, len) { .k = A_RAW, .p = (s), .n = (len) }
#define RAW(...)                                                              \
	{ .k = A_RAW, .p = (const uint8_t[]) { __VA_ARGS__ },                 \
		.n = sizeof((const uint8_t[]) { __VA_ARGS__ }) }
#define NIL { .k = A_NIL }

// V(0xcc, 0x05) expands to a pointer and a length.
#define V(...)                                                                \
	(const uint8_t[]) { __VA_ARGS__ },                                    \
	    sizeof((const uint8_t[]) { __VA_ARGS__ })

static void
put_arg(mpbi_writer *w, const arg *a)
{
	switch (a->k) {
	case A_UINT:
		mpbi_put_uint(w, a->u);
		break;
	case A_INT:
		mpbi_put_int(w, a->i);
		break;
	case A_CSTR:
		mpbi_put_str(w, a->p, strlen(a->p));
		break;
	case A_STR:
		mpbi_put_str(w, a->p, a->n);
		break;
	case A_BIN:
		mpbi_put_bin(w, a->p, a->n);
		break;
	case A_RAW:
		mpbi_put_raw(w, a->p, a->n);
		break;
	case A_NIL:
		mpbi_put_nil(w);
		break;
	}
}

// [op, args...] in a new message.
static nng_msg *
req_build(uint64_t op, const arg *a, size_t n)
{
	nng_msg    *m;
	mpbi_writer w;

	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	mpbi_writer_init(&w, m);
	if (op < MPBI_OP_LIMIT) {
		mpbi_request_begin(&w, (mpbi_op) op, n);
	} else {
		// Numbers the enum has no member for: the same envelope by hand.
		mpbi_put_array(&w, n + 1);
		mpbi_put_uint(&w, op);
	}
	for (size_t i = 0; i < n; i++) {
		put_arg(&w, &a[i]);
	}
	assert_int_equal(mpbi_writer_err(&w), MPB_OK);
	return (m);
}

#define ARGS(...)                                                             \
	(const arg[]) { __VA_ARGS__ },                                        \
	    sizeof((const arg[]) { __VA_ARGS__ }) / sizeof(arg)
#define REQ(op, ...) req_build((op), ARGS(__VA_ARGS__))
#define REQ0(op) req_build((op), NULL, 0)

// Bytes sent as they are, for frames the writer would not produce.
static nng_msg *
req_raw(const void *p, size_t n)
{
	nng_msg *m;

	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_int_equal(nng_msg_append(m, p, n), 0);
	return (m);
}

// ---------------------------------------------------------------------
// Reply decoder

typedef struct reply {
	mpb_err     code; // MPB_OK, or the error the broker sent
	mpbi_frame  f;    // results are f.elem[1..]
	const char *text; // error message (points into the message)
	size_t      textlen;
} reply;

// Every reply must be a well-formed frame: [0, results...] or [code, str]
// with a non-empty message of at most 200 bytes.  (mpbi_reply_parse
// alone cannot tell a malformed reply from an EPROTO the broker sent, so
// the status is read first.)
static mpb_err
decode(nng_msg *m, reply *rp)
{
	const void *body = nng_msg_body(m);
	size_t      len  = nng_msg_len(m);
	uint64_t    status;

	assert_int_equal(
	    mpbi_frame_parse(body, len, MPBI_MAX_DEPTH_CAP, &rp->f), MPB_OK);
	assert_int_equal(mpbi_span_uint(rp->f.elem[0], &status), MPB_OK);
	rp->text    = "";
	rp->textlen = 0;
	rp->code = mpbi_reply_parse(
	    body, len, MPBI_MAX_DEPTH_CAP, &rp->f, &rp->text, &rp->textlen);
	assert_int_equal(rp->code, status);
	if (status != 0) {
		assert_int_equal(rp->f.nelem, 2);
		assert_true(rp->textlen > 0 && rp->textlen <= 200);
	}
	return (rp->code);
}

static bool
text_has(const reply *rp, const char *needle)
{
	return (memmem(rp->text, rp->textlen, needle, strlen(needle)) != NULL);
}

// ---------------------------------------------------------------------
// Calling the broker

// Hands req (consumed) to the broker as from session sid.  For
// MPBI_REPLY, the reply is decoded into *rp (and kept until teardown);
// otherwise the core must not have touched the reply pointer.
static mpbi_outcome
call(fx *x, uint32_t sid, uintptr_t token, nng_msg *req, reply *rp)
{
	nng_msg     *rep = NULL;
	mpbi_outcome oc;

	oc = mpbi_broker_handle(x->b, sid, (void *) token, nng_msg_body(req),
	    nng_msg_len(req), x->now, &rep);
	// The core keeps no pointer into the request (a parked put owns a
	// copy of its value): spoil the bytes before freeing them, so a
	// stray pointer shows up as a wrong value even without ASan.
	memset(nng_msg_body(req), 0xee, nng_msg_len(req));
	nng_msg_free(req);
	if (oc == MPBI_REPLY) {
		assert_non_null(rep);
		keep(x, rep);
		decode(rep, rp);
	} else {
		assert_null(rep);
	}
	return (oc);
}

// Allocation counting for the hot-path test: while count_allocs is set,
// every malloc/calloc/realloc made by code linked into this program (the
// broker core, not nng or libc themselves), every nng_msg_alloc, and every
// nng_msg_append or nng_msg_reserve that must grow a message counts one.
// Linked with --wrap for each (unit_core.cmake).
static bool   count_allocs;
static size_t nallocs;
void         *__real_malloc(size_t n);
void         *__real_calloc(size_t n, size_t size);
void         *__real_realloc(void *p, size_t n);
int           __real_nng_msg_alloc(nng_msg **mp, size_t n);
int           __real_nng_msg_reserve(nng_msg *m, size_t n);
void         *__wrap_malloc(size_t n);
void         *__wrap_calloc(size_t n, size_t size);
void         *__wrap_realloc(void *p, size_t n);
int           __wrap_nng_msg_alloc(nng_msg **mp, size_t n);
int           __wrap_nng_msg_reserve(nng_msg *m, size_t n);

void *
__wrap_malloc(size_t n)
{
	nallocs += count_allocs;
	return (__real_malloc(n));
}

void *
__wrap_calloc(size_t n, size_t size)
{
	nallocs += count_allocs;
	return (__real_calloc(n, size));
}

void *
__wrap_realloc(void *p, size_t n)
{
	nallocs += count_allocs;
	return (__real_realloc(p, n));
}

int
__wrap_nng_msg_alloc(nng_msg **mp, size_t n)
{
	nallocs += count_allocs;
	return (__real_nng_msg_alloc(mp, n));
}

int
__wrap_nng_msg_reserve(nng_msg *m, size_t n)
{
	nallocs += count_allocs && nng_msg_capacity(m) < n;
	return (__real_nng_msg_reserve(m, n));
}

// Out-of-memory injection: the next fail_appends calls of nng_msg_append
// (how every reply is built) fail.  Linked with --wrap=nng_msg_append.
static int fail_appends;
int        __real_nng_msg_append(nng_msg *m, const void *p, size_t n);
int        __wrap_nng_msg_append(nng_msg *m, const void *p, size_t n);

int
__wrap_nng_msg_append(nng_msg *m, const void *p, size_t n)
{
	nallocs += count_allocs && nng_msg_capacity(m) - nng_msg_len(m) < n;
	if (fail_appends > 0) {
		fail_appends--;
		return (NNG_ENOMEM);
	}
	return (__real_nng_msg_append(m, p, n));
}

// A request that must be answered at once: returns its code.
static mpb_err
call_now(fx *x, uint32_t sid, nng_msg *req, reply *rp)
{
	assert_int_equal(call(x, sid, NO_TOKEN, req, rp), MPBI_REPLY);
	return (rp->code);
}

// A request that must park: nothing is sent for it, yet.
static void
call_park(fx *x, uint32_t sid, uintptr_t token, nng_msg *req)
{
	size_t before = x->tp.n;
	reply  r;

	assert_int_equal(call(x, sid, token, req, &r), MPBI_PARKED);
	assert_int_equal(x->tp.n, before);
}

static mpb_err
ping(fx *x, uint32_t sid)
{
	reply    r;
	uint64_t version = 0;

	if (call_now(x, sid, REQ0(MPBI_OP_PING), &r) != MPB_OK) {
		return (r.code);
	}
	assert_int_equal(r.f.nelem, 4);
	assert_int_equal(mpbi_span_uint(r.f.elem[1], &version), MPB_OK);
	assert_int_equal(version, MPBI_PROTOCOL_VERSION);
	return (MPB_OK);
}

// ---------------------------------------------------------------------
// Queue ops

static mpb_err
q_create(fx *x, const char *name, uint64_t kind, uint64_t maxsize,
    bool *createdp)
{
	reply r;
	bool  created;

	if (call_now(x, SID_A,
	        REQ(MPBI_OP_Q_CREATE, S(name), U(kind), U(maxsize)),
	        &r) != MPB_OK) {
		return (r.code);
	}
	assert_int_equal(r.f.nelem, 2);
	assert_int_equal(mpbi_span_bool(r.f.elem[1], &created), MPB_OK);
	if (createdp != NULL) {
		*createdp = created;
	}
	return (MPB_OK);
}

// Creates a queue that must not exist yet.
static void
q_make(fx *x, const char *name, uint64_t kind, uint64_t maxsize)
{
	bool created = false;

	assert_int_equal(q_create(x, name, kind, maxsize, &created), MPB_OK);
	assert_true(created);
}

static mpb_err
q_put(fx *x, uint32_t sid, const char *name, const void *v, size_t n,
    int64_t prio, uint32_t timeout)
{
	reply r;

	if (call_now(x, sid,
	        REQ(MPBI_OP_Q_PUT, S(name), RAWP(v, n), I(prio), U(timeout)),
	        &r) == MPB_OK) {
		assert_int_equal(r.f.nelem, 1);
	}
	return (r.code);
}

static void
q_park_put(fx *x, uint32_t sid, uintptr_t token, const char *name,
    const void *v, size_t n, int64_t prio, uint32_t timeout)
{
	call_park(x, sid, token,
	    REQ(MPBI_OP_Q_PUT, S(name), RAWP(v, n), I(prio), U(timeout)));
}

// An item got: its value points into a reply kept until teardown.
typedef struct got {
	const uint8_t *v;
	size_t         len;
	int64_t        prio;
} got;

static void
reply_got(const reply *r, got *g)
{
	assert_int_equal(r->code, MPB_OK);
	assert_int_equal(r->f.nelem, 3);
	g->v   = r->f.elem[1].ptr;
	g->len = r->f.elem[1].len;
	assert_int_equal(mpbi_span_int(r->f.elem[2], &g->prio), MPB_OK);
}

static mpb_err
q_get(fx *x, uint32_t sid, const char *name, uint32_t timeout, got *g)
{
	reply r;

	if (call_now(x, sid, REQ(MPBI_OP_Q_GET, S(name), U(timeout)), &r) ==
	    MPB_OK) {
		reply_got(&r, g);
	}
	return (r.code);
}

static void
q_park_get(fx *x, uint32_t sid, uintptr_t token, const char *name,
    uint32_t timeout)
{
	call_park(x, sid, token, REQ(MPBI_OP_Q_GET, S(name), U(timeout)));
}

static mpb_err
q_simple(fx *x, uint32_t sid, mpbi_op op, const char *name)
{
	reply r;

	if (call_now(x, sid, REQ(op, S(name)), &r) == MPB_OK) {
		assert_int_equal(r.f.nelem, 1);
	}
	return (r.code);
}

static mpb_err
q_task_done(fx *x, const char *name)
{
	return (q_simple(x, SID_A, MPBI_OP_Q_TASK_DONE, name));
}

static mpb_err
q_delete(fx *x, const char *name)
{
	return (q_simple(x, SID_A, MPBI_OP_Q_DELETE, name));
}

static mpb_err
q_join(fx *x, uint32_t sid, const char *name, uint32_t timeout)
{
	reply r;

	if (call_now(x, sid, REQ(MPBI_OP_Q_JOIN, S(name), U(timeout)), &r) ==
	    MPB_OK) {
		assert_int_equal(r.f.nelem, 1);
	}
	return (r.code);
}

static void
q_park_join(fx *x, uint32_t sid, uintptr_t token, const char *name,
    uint32_t timeout)
{
	call_park(x, sid, token, REQ(MPBI_OP_Q_JOIN, S(name), U(timeout)));
}

typedef struct qinfo {
	uint64_t kind;
	uint64_t size;
	uint64_t maxsize;
	uint64_t unfinished;
	uint64_t leased;
} qinfo;

static mpb_err
q_info(fx *x, const char *name, qinfo *qi)
{
	reply r;

	if (call_now(x, SID_A, REQ(MPBI_OP_Q_INFO, S(name)), &r) != MPB_OK) {
		return (r.code);
	}
	assert_int_equal(r.f.nelem, 6);
	assert_int_equal(mpbi_span_uint(r.f.elem[1], &qi->kind), MPB_OK);
	assert_int_equal(mpbi_span_uint(r.f.elem[2], &qi->size), MPB_OK);
	assert_int_equal(mpbi_span_uint(r.f.elem[3], &qi->maxsize), MPB_OK);
	assert_int_equal(mpbi_span_uint(r.f.elem[4], &qi->unfinished), MPB_OK);
	assert_int_equal(mpbi_span_uint(r.f.elem[5], &qi->leased), MPB_OK);
	return (MPB_OK);
}

// ---------------------------------------------------------------------
// Expectations, reported at the caller's line.

#define EQ_AT(a, b)                                                           \
	_assert_int_equal(cast_to_largest_integral_type(a),                   \
	    cast_to_largest_integral_type(b), file, line)
#define TRUE_AT(c)                                                            \
	_assert_true(cast_to_largest_integral_type(c), #c, file, line)

static void
expect_info_at(const char *file, int line, fx *x, const char *name,
    uint64_t kind, uint64_t size, uint64_t maxsize, uint64_t unfinished)
{
	qinfo qi;

	EQ_AT(q_info(x, name, &qi), MPB_OK);
	EQ_AT(qi.kind, kind);
	EQ_AT(qi.size, size);
	EQ_AT(qi.maxsize, maxsize);
	EQ_AT(qi.unfinished, unfinished);
}
#define expect_info(x, name, kind, size, maxsize, unfinished)                 \
	expect_info_at(__FILE__, __LINE__, (x), (name), (kind), (size),       \
	    (maxsize), (unfinished))

static void
expect_value_at(const char *file, int line, const got *g, const void *v,
    size_t n, int64_t prio)
{
	EQ_AT(g->len, n);
	_assert_memory_equal(g->v, v, n, file, line);
	EQ_AT(g->prio, prio);
}

// A get (timeout 0, session A) that must return exactly v and prio.
static void
expect_get_at(const char *file, int line, fx *x, const char *name,
    const void *v, size_t n, int64_t prio)
{
	got g;

	EQ_AT(q_get(x, SID_A, name, 0, &g), MPB_OK);
	expect_value_at(file, line, &g, v, n, prio);
}
// expect_get(x, name, v, n, prio); v and n may come from one V(...).
#define expect_get(x, name, ...)                                              \
	expect_get_at(__FILE__, __LINE__, (x), (name), __VA_ARGS__)

// Deferred reply number i: its token, and its code; for MPB_OK either no
// results (v NULL) or exactly [value, prio].
static void
expect_sent_at(const char *file, int line, fx *x, size_t i,
    uintptr_t token, mpb_err code, const void *v, size_t n, int64_t prio)
{
	reply r;

	TRUE_AT(i < x->tp.n);
	EQ_AT((uintptr_t) x->tp.s[i].token, token);
	EQ_AT(decode(x->tp.s[i].msg, &r), code);
	if (code == MPB_OK && v == NULL) {
		EQ_AT(r.f.nelem, 1);
	} else if (code == MPB_OK) {
		got g;

		reply_got(&r, &g);
		expect_value_at(file, line, &g, v, n, prio);
	}
}
#define expect_sent_err(x, i, token, code)                                    \
	expect_sent_at(__FILE__, __LINE__, (x), (i), (token), (code), NULL, 0, 0)
#define expect_sent_ok(x, i, token)                                           \
	expect_sent_at(__FILE__, __LINE__, (x), (i), (token), MPB_OK, NULL, 0, 0)
// expect_sent_got(x, i, token, v, n, prio); v, n may come from one V(...).
#define expect_sent_got(x, i, token, ...)                                     \
	expect_sent_at(__FILE__, __LINE__, (x), (i), (token), MPB_OK,         \
	    __VA_ARGS__)

// Item number i as a value: a uint32 in its 5-byte form (ce xx xx xx xx),
// non-canonical for small numbers, so byte-exact storage is checked too.
typedef struct ival {
	uint8_t b[5];
} ival;

static ival
ival_of(uint32_t i)
{
	ival v = { { 0xce, (uint8_t) (i >> 24), (uint8_t) (i >> 16),
		(uint8_t) (i >> 8), (uint8_t) i } };

	return (v);
}

static uint32_t
ival_decode(const uint8_t *p, size_t n)
{
	assert_int_equal(n, 5);
	assert_int_equal(p[0], 0xce);
	return (((uint32_t) p[1] << 24) | ((uint32_t) p[2] << 16) |
	    ((uint32_t) p[3] << 8) | p[4]);
}

static mpb_err
put_i(fx *x, const char *name, uint32_t i, int64_t prio)
{
	ival v = ival_of(i);

	return (q_put(x, SID_A, name, v.b, sizeof(v.b), prio, 0));
}

#define expect_get_i(x, name, i, prio)                                        \
	do {                                                                  \
		ival v_ = ival_of(i);                                         \
		expect_get_at(__FILE__, __LINE__, (x), (name), v_.b,          \
		    sizeof(v_.b), (prio));                                    \
	} while (0)

#define expect_sent_got_i(x, idx, token, i, prio)                             \
	do {                                                                  \
		ival v_ = ival_of(i);                                         \
		expect_sent_at(__FILE__, __LINE__, (x), (idx), (token),       \
		    MPB_OK, v_.b, sizeof(v_.b), (prio));                      \
	} while (0)

// The raw bytes of a queue.list reply, to compare states.
static void
list_bytes(fx *x, uint8_t *buf, size_t cap, size_t *lenp)
{
	reply r;

	assert_int_equal(call_now(x, SID_A, REQ0(MPBI_OP_Q_LIST), &r), MPB_OK);
	assert_int_equal(r.f.nelem, 2);
	assert_true(r.f.elem[1].len <= cap);
	memcpy(buf, r.f.elem[1].ptr, r.f.elem[1].len);
	*lenp = r.f.elem[1].len;
}

// ---------------------------------------------------------------------
// Requests in general

// mpbi_config_defaults alone, over garbage, must give a broker that
// serves every op with the documented default limits.
static void
test_config_defaults(void **state)
{
	fx         *x = *state;
	mpbi_config cfg;
	reply       r;

	memset(&cfg, 0xa5, sizeof(cfg));
	mpbi_config_defaults(&cfg);
	assert_int_equal(cfg.max_frame, MPBI_DEFAULT_MAX_FRAME);
	assert_int_equal(cfg.max_name, MPBI_DEFAULT_MAX_NAME);
	assert_int_equal(cfg.max_objects, MPBI_DEFAULT_MAX_OBJECTS);
	assert_int_equal(cfg.max_parked, MPBI_DEFAULT_MAX_PARKED);
	assert_int_equal(cfg.max_depth, MPBI_DEFAULT_MAX_DEPTH);
	fx_restart(x, &cfg);
	assert_int_equal(ping(x, SID_A), MPB_OK);
	assert_int_equal(call_now(x, SID_A,
	                     REQ(MPBI_OP_Q_CREATE, S("q"), U(0), U(0)), &r),
	    MPB_OK);
	assert_int_equal(put_i(x, "q", 1, 0), MPB_OK);
	expect_get_i(x, "q", 1, 0);
}

static void
test_ping(void **state)
{
	fx         *x = *state;
	reply       r;
	uint64_t    version;
	const char *p;
	size_t      l;

	assert_int_equal(call_now(x, SID_A, REQ0(MPBI_OP_PING), &r), MPB_OK);
	assert_int_equal(r.f.nelem, 4);
	assert_int_equal(mpbi_span_uint(r.f.elem[1], &version), MPB_OK);
	assert_int_equal(version, 1);
	assert_int_equal(mpbi_span_str(r.f.elem[2], &p, &l), MPB_OK);
	assert_true(l > 9 && memcmp(p, "mpbroker ", 9) == 0);
	assert_int_equal(mpbi_span_uint(r.f.elem[3], &version), MPB_OK);
	assert_int_equal(version, x->cfg.max_frame);
	// The op in any integer encoding, e.g. int8 1.
	assert_int_equal(
	    call_now(x, SID_B, req_raw(V(0x91, 0xd0, 0x01)), &r), MPB_OK);
	assert_int_equal(r.f.nelem, 4);
	assert_int_equal(
	    call_now(x, SID_C, req_raw(V(0x91, 0xcf, 0, 0, 0, 0, 0, 0, 0, 1)),
	        &r),
	    MPB_OK);
	assert_int_equal(x->tp.n, 0);
}

// A request that fails a check gets its error, and changes nothing.
typedef struct bad_req {
	const char    *what;
	const uint8_t *raw; // sent verbatim when not NULL
	size_t         rawlen;
	uint64_t       op;
	arg            a[6];
	size_t         n;
	mpb_err        want;
	const char    *text; // part of the message, or NULL
} bad_req;

#define NAME33 "abcdefghijklmnopqrstuvwxyz0123456"
#define NAME32 "abcdefghijklmnopqrstuvwxyz012345"

static void
test_bad_requests_change_nothing(void **state)
{
	fx                  *x  = *state;
	static const uint8_t v1[]      = { 0xcc, 0x05 };
	static const uint8_t hostile[] = { 0x91, 0xdd, 0x00, 0xff, 0xff, 0xff };
	static const uint8_t many[]    = { 0xdc, 0x00, 0x11, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	const bad_req        bad[]     = {
		// Not a frame at all.
		{ "empty body", (const uint8_t[]) { 0x91 }, 0, 0, { { 0 } }, 0,
		    MPB_EPROTO, NULL },
		{ "0xc1", V(0xc1), 0, { { 0 } }, 0, MPB_EPROTO, NULL },
		{ "trailing bytes", V(0x91, 0x01, 0x02), 0, { { 0 } }, 0,
		    MPB_EPROTO, NULL },
		{ "two objects", V(0x01, 0x02), 0, { { 0 } }, 0, MPB_EPROTO,
		    NULL },
		{ "not an array", V(0x01), 0, { { 0 } }, 0, MPB_EPROTO, NULL },
		{ "a map", V(0x81, 0x01, 0x01), 0, { { 0 } }, 0, MPB_EPROTO,
		    NULL },
		{ "empty array", V(0x90), 0, { { 0 } }, 0, MPB_EPROTO, NULL },
		{ "truncated", V(0x92, 0x0d, 0xa1), 0, { { 0 } }, 0, MPB_EPROTO,
		    NULL },
		{ "hostile count", hostile, sizeof(hostile), 0, { { 0 } }, 0,
		    MPB_EPROTO, NULL },
		{ "17 elements", many, sizeof(many), 0, { { 0 } }, 0,
		    MPB_EPROTO, NULL },
		// Too deep: with max_depth 4, a value may nest 3 deep.
		{ "too deep", NULL, 0, MPBI_OP_Q_PUT,
		    { S("q"), RAW(0x91, 0x91, 0x91, 0x91, 0x01), I(0), U(0) }, 4,
		    MPB_EPROTO, "deep" },
		{ "too deep map", NULL, 0, MPBI_OP_Q_PUT,
		    { S("q"), RAW(0x81, 0x00, 0x81, 0x00, 0x81, 0x00, 0x91, 0x01),
		        I(0), U(0) },
		    4, MPB_EPROTO, NULL },
		// The op.
		{ "op a str", V(0x91, 0xa1, 0x31), 0, { { 0 } }, 0, MPB_EPROTO,
		    "op" },
		{ "op negative", V(0x91, 0xff), 0, { { 0 } }, 0, MPB_EPROTO,
		    NULL },
		{ "op a float", V(0x91, 0xca, 0x3f, 0x80, 0x00, 0x00), 0,
		    { { 0 } }, 0, MPB_EPROTO, NULL },
		{ "op nil", V(0x91, 0xc0), 0, { { 0 } }, 0, MPB_EPROTO, NULL },
		{ "op 0", NULL, 0, 0, { { 0 } }, 0, MPB_ENOTSUP, "0" },
		{ "op 999", NULL, 0, 999, { { 0 } }, 0, MPB_ENOTSUP, "999" },
		{ "op max", NULL, 0, UINT64_MAX, { S("q") }, 1, MPB_ENOTSUP,
		    NULL },
		// Argument counts.
		{ "ping + 1", NULL, 0, MPBI_OP_PING, { U(1) }, 1, MPB_EINVAL,
		    "ping" },
		{ "create 2", NULL, 0, MPBI_OP_Q_CREATE, { S("q"), U(0) }, 2,
		    MPB_EINVAL, NULL },
		{ "create 4", NULL, 0, MPBI_OP_Q_CREATE,
		    { S("q"), U(0), U(0), U(0) }, 4, MPB_EINVAL, NULL },
		{ "put 3", NULL, 0, MPBI_OP_Q_PUT, { S("q"), RAW(0x01), I(0) },
		    3, MPB_EINVAL, "queue.put" },
		{ "put 5", NULL, 0, MPBI_OP_Q_PUT,
		    { S("q"), RAW(0x01), I(0), U(0), U(0) }, 5, MPB_EINVAL,
		    NULL },
		{ "get 1", NULL, 0, MPBI_OP_Q_GET, { S("q") }, 1, MPB_EINVAL,
		    NULL },
		{ "get 3", NULL, 0, MPBI_OP_Q_GET, { S("q"), U(0), U(0) }, 3,
		    MPB_EINVAL, NULL },
		{ "info 0", NULL, 0, MPBI_OP_Q_INFO, { { 0 } }, 0, MPB_EINVAL,
		    NULL },
		{ "info 2", NULL, 0, MPBI_OP_Q_INFO, { S("q"), U(0) }, 2,
		    MPB_EINVAL, NULL },
		{ "task_done 0", NULL, 0, MPBI_OP_Q_TASK_DONE, { { 0 } }, 0,
		    MPB_EINVAL, NULL },
		{ "join 1", NULL, 0, MPBI_OP_Q_JOIN, { S("q") }, 1, MPB_EINVAL,
		    NULL },
		{ "delete 2", NULL, 0, MPBI_OP_Q_DELETE, { S("q"), S("q") }, 2,
		    MPB_EINVAL, NULL },
		{ "list 1", NULL, 0, MPBI_OP_Q_LIST, { U(0) }, 1, MPB_EINVAL,
		    NULL },
		// The name.
		{ "name uint", NULL, 0, MPBI_OP_Q_INFO, { U(5) }, 1, MPB_EINVAL,
		    "string" },
		{ "name bin", NULL, 0, MPBI_OP_Q_INFO, { BIN("q", 1) }, 1,
		    MPB_EINVAL, "string" },
		{ "name nil", NULL, 0, MPBI_OP_Q_DELETE, { NIL }, 1, MPB_EINVAL,
		    NULL },
		{ "name array", NULL, 0, MPBI_OP_Q_INFO, { RAW(0x91, 0xa1, 0x71) },
		    1, MPB_EINVAL, NULL },
		{ "create name uint", NULL, 0, MPBI_OP_Q_CREATE,
		    { U(1), U(0), U(0) }, 3, MPB_EINVAL, NULL },
		{ "name empty", NULL, 0, MPBI_OP_Q_INFO, { S("") }, 1,
		    MPB_EINVAL, "empty" },
		{ "create name empty", NULL, 0, MPBI_OP_Q_CREATE,
		    { S(""), U(0), U(0) }, 3, MPB_EINVAL, "empty" },
		{ "put name empty", NULL, 0, MPBI_OP_Q_PUT,
		    { S(""), RAW(0x01), I(0), U(0) }, 4, MPB_EINVAL, NULL },
		{ "name 33", NULL, 0, MPBI_OP_Q_INFO, { S(NAME33) }, 1,
		    MPB_ENAMETOOLONG, "33" },
		{ "create name 33", NULL, 0, MPBI_OP_Q_CREATE,
		    { S(NAME33), U(0), U(0) }, 3, MPB_ENAMETOOLONG, NULL },
		{ "put name 33", NULL, 0, MPBI_OP_Q_PUT,
		    { S(NAME33), RAW(0x01), I(0), U(0) }, 4, MPB_ENAMETOOLONG,
		    NULL },
		// 32 bytes is within the limit: the name is looked up.
		{ "name 32", NULL, 0, MPBI_OP_Q_INFO, { S(NAME32) }, 1,
		    MPB_ENOENT, NULL },
		// The op's own arguments.
		{ "put prio str", NULL, 0, MPBI_OP_Q_PUT,
		    { S("q"), RAW(0x01), S("x"), U(0) }, 4, MPB_EINVAL,
		    "priority" },
		{ "put prio > INT64_MAX", NULL, 0, MPBI_OP_Q_PUT,
		    { S("q"), RAW(0x01), U(UINT64_MAX), U(0) }, 4, MPB_EINVAL,
		    "priority" },
		{ "put prio float", NULL, 0, MPBI_OP_Q_PUT,
		    { S("q"), RAW(0x01), RAW(0xca, 0x3f, 0x80, 0, 0), U(0) }, 4,
		    MPB_EINVAL, NULL },
		{ "put timeout -1", NULL, 0, MPBI_OP_Q_PUT,
		    { S("q"), RAW(0x01), I(0), I(-1) }, 4, MPB_EINVAL,
		    "timeout" },
		{ "put timeout 2^32", NULL, 0, MPBI_OP_Q_PUT,
		    { S("q"), RAW(0x01), I(0), U((uint64_t) UINT32_MAX + 1) }, 4,
		    MPB_EINVAL, "timeout" },
		{ "get timeout str", NULL, 0, MPBI_OP_Q_GET, { S("q"), S("1") },
		    2, MPB_EINVAL, "timeout" },
		{ "get timeout -1", NULL, 0, MPBI_OP_Q_GET, { S("q"), I(-1) },
		    2, MPB_EINVAL, NULL },
		{ "join timeout nil", NULL, 0, MPBI_OP_Q_JOIN, { S("q"), NIL },
		    2, MPB_EINVAL, NULL },
		{ "create kind 3", NULL, 0, MPBI_OP_Q_CREATE,
		    { S("new"), U(3), U(0) }, 3, MPB_EINVAL, "kind" },
		{ "create kind -1", NULL, 0, MPBI_OP_Q_CREATE,
		    { S("new"), I(-1), U(0) }, 3, MPB_EINVAL, "kind" },
		{ "create kind str", NULL, 0, MPBI_OP_Q_CREATE,
		    { S("new"), S("fifo"), U(0) }, 3, MPB_EINVAL, NULL },
		{ "create maxsize -1", NULL, 0, MPBI_OP_Q_CREATE,
		    { S("new"), U(0), I(-1) }, 3, MPB_EINVAL, "maxsize" },
		// The object is looked up before the arguments are read.
		{ "put missing, bad prio", NULL, 0, MPBI_OP_Q_PUT,
		    { S("nope"), RAW(0x01), S("x"), U(0) }, 4, MPB_ENOENT,
		    "'nope'" },
	};
	uint8_t before[256], after[256];
	size_t  beforelen, afterlen;

	// State to compare against: one queue holding one item.
	q_make(x, "q", MPBI_QKIND_FIFO, 0);
	assert_int_equal(q_put(x, SID_A, "q", v1, sizeof(v1), 0, 0), MPB_OK);
	list_bytes(x, before, sizeof(before), &beforelen);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const bad_req *b = &bad[i];
		reply          r;
		nng_msg       *m;

		print_message("  %s\n", b->what);
		m = b->raw != NULL ? req_raw(b->raw, b->rawlen)
		                   : req_build(b->op, b->a, b->n);
		assert_int_equal(call_now(x, SID_B, m, &r), b->want);
		if (b->text != NULL && !text_has(&r, b->text)) {
			print_error("%s: message '%.*s' lacks '%s'\n", b->what,
			    (int) r.textlen, r.text, b->text);
			fail();
		}
		// Still answering, nothing parked, nothing changed.
		assert_int_equal(ping(x, SID_B), MPB_OK);
		assert_int_equal(x->tp.n, 0);
		assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
		expect_info(x, "q", MPBI_QKIND_FIFO, 1, 0, 1);
		list_bytes(x, after, sizeof(after), &afterlen);
		assert_int_equal(afterlen, beforelen);
		assert_memory_equal(after, before, beforelen);
	}
	expect_get(x, "q", v1, sizeof(v1), 0);
}

// A queue.put whose whole frame is exactly len bytes: a bin16 value of a
// known pattern, returned in *valp (the value's encoding) for comparison.
static nng_msg *
put_of_size(const char *name, size_t len, uint8_t *val, size_t *vallenp)
{
	uint8_t *pad = malloc(len);
	nng_msg *m;
	size_t   over;
	size_t   plen;

	assert_non_null(pad);
	for (size_t i = 0; i < len; i++) {
		pad[i] = (uint8_t) (i * 13u + 1u);
	}
	m    = REQ(MPBI_OP_Q_PUT, S(name), BIN(pad, 1000), I(0), U(0));
	over = nng_msg_len(m) - 1000;
	nng_msg_free(m);
	plen = len - over;
	assert_true(plen >= 256 && plen <= 65535); // stays a bin16
	m = REQ(MPBI_OP_Q_PUT, S(name), BIN(pad, plen), I(0), U(0));
	assert_int_equal(nng_msg_len(m), len);
	val[0] = 0xc5;
	val[1] = (uint8_t) (plen >> 8);
	val[2] = (uint8_t) plen;
	memcpy(val + 3, pad, plen);
	*vallenp = plen + 3;
	free(pad);
	return (m);
}

static void
test_frame_size_limit(void **state)
{
	fx     *x = *state;
	reply   r;
	uint8_t val[4100];
	uint8_t big[4097];
	size_t  vallen;

	q_make(x, "q", MPBI_QKIND_FIFO, 0);
	// Exactly max_frame bytes is accepted, and the value comes back whole.
	assert_int_equal(call_now(x, SID_A,
	                     put_of_size("q", x->cfg.max_frame, val, &vallen),
	                     &r),
	    MPB_OK);
	expect_info(x, "q", MPBI_QKIND_FIFO, 1, 0, 1);
	// One byte more is refused before anything is parsed.
	{
		uint8_t val2[4100];
		size_t  vallen2;

		assert_int_equal(call_now(x, SID_A,
		                     put_of_size("q", x->cfg.max_frame + 1, val2,
		                         &vallen2),
		                     &r),
		    MPB_EMSGSIZE);
		assert_true(text_has(&r, "4097"));
	}
	// Oversized garbage is EMSGSIZE too: size is the first check.
	memset(big, 0xc1, sizeof(big));
	assert_int_equal(
	    call_now(x, SID_A, req_raw(big, sizeof(big)), &r), MPB_EMSGSIZE);
	assert_int_equal(ping(x, SID_A), MPB_OK);
	expect_info(x, "q", MPBI_QKIND_FIFO, 1, 0, 1);
	expect_get(x, "q", val, vallen, 0);
	expect_info(x, "q", MPBI_QKIND_FIFO, 0, 0, 1);
}

// max_depth 4 counts the frame's array: values may nest 3 deep.
static void
test_depth_limit(void **state)
{
	fx                  *x      = *state;
	static const uint8_t ok3[]  = { 0x91, 0x91, 0x91, 0x01 };
	static const uint8_t map3[] = { 0x81, 0xa1, 0x6b, 0x81, 0x00, 0x91,
		0xc0 };
	static const uint8_t deep4[] = { 0x91, 0x91, 0x91, 0x91, 0x01 };

	q_make(x, "q", MPBI_QKIND_FIFO, 0);
	assert_int_equal(q_put(x, SID_A, "q", ok3, sizeof(ok3), 0, 0), MPB_OK);
	assert_int_equal(q_put(x, SID_A, "q", map3, sizeof(map3), 0, 0), MPB_OK);
	assert_int_equal(
	    q_put(x, SID_A, "q", deep4, sizeof(deep4), 0, 0), MPB_EPROTO);
	expect_info(x, "q", MPBI_QKIND_FIFO, 2, 0, 2);
	expect_get(x, "q", ok3, sizeof(ok3), 0);
	expect_get(x, "q", map3, sizeof(map3), 0);
}

// ---------------------------------------------------------------------
// queue.create and the object table

static void
test_qcreate(void **state)
{
	fx   *x       = *state;
	bool  created = true;
	reply r;

	assert_int_equal(q_create(x, "q", MPBI_QKIND_FIFO, 0, &created), MPB_OK);
	assert_true(created);
	assert_int_equal(q_create(x, "q", MPBI_QKIND_FIFO, 0, &created), MPB_OK);
	assert_false(created);
	expect_info(x, "q", MPBI_QKIND_FIFO, 0, 0, 0);
	// Same name, other parameters.
	assert_int_equal(call_now(x, SID_A,
	                     REQ(MPBI_OP_Q_CREATE, S("q"), U(MPBI_QKIND_LIFO), U(0)),
	                     &r),
	    MPB_EEXIST);
	assert_true(text_has(&r, "'q'"));
	assert_int_equal(
	    q_create(x, "q", MPBI_QKIND_PRIORITY, 0, NULL), MPB_EEXIST);
	assert_int_equal(q_create(x, "q", MPBI_QKIND_FIFO, 5, NULL), MPB_EEXIST);
	expect_info(x, "q", MPBI_QKIND_FIFO, 0, 0, 0);
	// A bad kind is refused whether or not the name exists.
	assert_int_equal(q_create(x, "q", 3, 0, NULL), MPB_EINVAL);
	assert_int_equal(q_create(x, "k3", 3, 0, NULL), MPB_EINVAL);
	assert_int_equal(q_info(x, "k3", &(qinfo) { 0 }), MPB_ENOENT);
	// Every kind, and the largest maxsize.
	q_make(x, "l", MPBI_QKIND_LIFO, 7);
	expect_info(x, "l", MPBI_QKIND_LIFO, 0, 7, 0);
	q_make(x, "p", MPBI_QKIND_PRIORITY, UINT64_MAX);
	expect_info(x, "p", MPBI_QKIND_PRIORITY, 0, UINT64_MAX, 0);
	// Names are bytes: case matters, and NUL is an ordinary byte.
	q_make(x, "Q", MPBI_QKIND_FIFO, 0);
	assert_int_equal(call_now(x, SID_A,
	                     REQ(MPBI_OP_Q_CREATE, SN("q\0x", 3), U(0), U(0)), &r),
	    MPB_OK);
	assert_int_equal(x->tp.n, 0);
}

static void
test_missing_queue_enoent(void **state)
{
	fx   *x = *state;
	reply r;
	got   g;

	assert_int_equal(q_put(x, SID_A, "nope", V(0x01), 0, 0), MPB_ENOENT);
	assert_int_equal(q_get(x, SID_A, "nope", 0, &g), MPB_ENOENT);
	// A timeout does not make a missing queue wait.
	assert_int_equal(q_get(x, SID_A, "nope", 1000, &g), MPB_ENOENT);
	assert_int_equal(q_info(x, "nope", &(qinfo) { 0 }), MPB_ENOENT);
	assert_int_equal(q_task_done(x, "nope"), MPB_ENOENT);
	assert_int_equal(q_join(x, SID_A, "nope", 1000), MPB_ENOENT);
	assert_int_equal(q_delete(x, "nope"), MPB_ENOENT);
	assert_int_equal(
	    call_now(x, SID_A, REQ(MPBI_OP_Q_INFO, S("nope")), &r), MPB_ENOENT);
	assert_true(text_has(&r, "'nope'"));
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	// A deleted queue is missing too.
	q_make(x, "q", MPBI_QKIND_FIFO, 0);
	assert_int_equal(q_delete(x, "q"), MPB_OK);
	assert_int_equal(q_put(x, SID_A, "q", V(0x01), 0, 0), MPB_ENOENT);
	assert_int_equal(q_delete(x, "q"), MPB_ENOENT);
}

static void
test_max_objects(void **state)
{
	fx   *x = *state;
	char  name[16];
	bool  created;
	reply r;

	for (unsigned i = 0; i < x->cfg.max_objects; i++) {
		snprintf(name, sizeof(name), "q%u", i);
		q_make(x, name, MPBI_QKIND_FIFO, 0);
	}
	assert_int_equal(call_now(x, SID_A,
	                     REQ(MPBI_OP_Q_CREATE, S("one-more"), U(0), U(0)), &r),
	    MPB_ELIMIT);
	assert_int_equal(q_info(x, "one-more", &(qinfo) { 0 }), MPB_ENOENT);
	// Creating an existing queue again is not a new object.
	assert_int_equal(q_create(x, "q3", MPBI_QKIND_FIFO, 0, &created), MPB_OK);
	assert_false(created);
	// Deleting one makes room for one.
	assert_int_equal(q_delete(x, "q3"), MPB_OK);
	q_make(x, "one-more", MPBI_QKIND_LIFO, 0);
	assert_int_equal(q_create(x, "q3", MPBI_QKIND_FIFO, 0, NULL), MPB_ELIMIT);
}

// A write that fails on a name nobody has used creates nothing: the
// object its first use would make is taken away again.
static void
test_failed_first_use_creates_nothing(void **state)
{
	fx   *x = *state;
	reply r;

	// dict.update with a map where an array of pairs is wanted; dict.set
	// with a float key (keys are str, bin or int).
	assert_int_equal(call_now(x, SID_A,
	                     REQ(MPBI_OP_D_UPDATE, S("nd"), RAWP("\x80", 1)), &r),
	    MPB_EINVAL);
	assert_int_equal(call_now(x, SID_A,
	                     REQ(MPBI_OP_D_SET, S("nd"),
	                         RAWP("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00",
	                             9),
	                         U(1)),
	                     &r),
	    MPB_EINVAL);
	assert_int_equal(
	    call_now(x, SID_A, REQ(MPBI_OP_D_LEN, S("nd")), &r), MPB_ENOENT);
	// A good one creates it.
	assert_int_equal(
	    call_now(x, SID_A, REQ(MPBI_OP_D_SET, S("nd"), U(1), U(2)), &r),
	    MPB_OK);
	assert_int_equal(
	    call_now(x, SID_A, REQ(MPBI_OP_D_LEN, S("nd")), &r), MPB_OK);
}

// ---------------------------------------------------------------------
// Ordering and values

static void
test_fifo_order(void **state)
{
	fx *x = *state;

	q_make(x, "f", MPBI_QKIND_FIFO, 0);
	// Priorities are ignored by fifo, and reported as 0.
	assert_int_equal(put_i(x, "f", 1, 5), MPB_OK);
	assert_int_equal(put_i(x, "f", 2, -5), MPB_OK);
	expect_get_i(x, "f", 1, 0);
	assert_int_equal(put_i(x, "f", 3, INT64_MIN), MPB_OK);
	assert_int_equal(put_i(x, "f", 4, 0), MPB_OK);
	expect_get_i(x, "f", 2, 0);
	expect_get_i(x, "f", 3, 0);
	expect_get_i(x, "f", 4, 0);
	assert_int_equal(q_get(x, SID_A, "f", 0, &(got) { 0 }), MPB_EEMPTY);
	expect_info(x, "f", MPBI_QKIND_FIFO, 0, 0, 4);
}

static void
test_lifo_order(void **state)
{
	fx *x = *state;

	q_make(x, "l", MPBI_QKIND_LIFO, 0);
	assert_int_equal(put_i(x, "l", 1, 5), MPB_OK);
	assert_int_equal(put_i(x, "l", 2, -5), MPB_OK);
	expect_get_i(x, "l", 2, 0);
	assert_int_equal(put_i(x, "l", 3, INT64_MAX), MPB_OK);
	assert_int_equal(put_i(x, "l", 4, 0), MPB_OK);
	expect_get_i(x, "l", 4, 0);
	expect_get_i(x, "l", 3, 0);
	expect_get_i(x, "l", 1, 0);
	assert_int_equal(q_get(x, SID_A, "l", 0, &(got) { 0 }), MPB_EEMPTY);
	expect_info(x, "l", MPBI_QKIND_LIFO, 0, 0, 4);
}

// Lowest priority first, signed, FIFO among equals; get returns it.
static void
test_priority_order(void **state)
{
	fx *x = *state;
	static const struct {
		uint32_t id;
		int64_t  prio;
	} puts[] = { { 1, 5 }, { 2, -3 }, { 3, 5 }, { 4, INT64_MAX },
		{ 5, INT64_MIN }, { 6, 0 }, { 7, -3 }, { 8, INT64_MIN },
		{ 9, INT64_MAX }, { 10, 5 } };
	static const uint32_t want[] = { 5, 8, 2, 7, 6, 1, 3, 10, 4, 9 };

	q_make(x, "p", MPBI_QKIND_PRIORITY, 0);
	for (size_t i = 0; i < sizeof(puts) / sizeof(puts[0]); i++) {
		assert_int_equal(put_i(x, "p", puts[i].id, puts[i].prio), MPB_OK);
	}
	expect_info(x, "p", MPBI_QKIND_PRIORITY, 10, 0, 10);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int64_t prio = 0;

		for (size_t j = 0; j < sizeof(puts) / sizeof(puts[0]); j++) {
			if (puts[j].id == want[i]) {
				prio = puts[j].prio;
			}
		}
		expect_get_i(x, "p", want[i], prio);
	}
	// Equal priorities put later, after earlier ones were taken, still
	// come after those put before them.
	assert_int_equal(put_i(x, "p", 20, 1), MPB_OK);
	assert_int_equal(put_i(x, "p", 21, 1), MPB_OK);
	expect_get_i(x, "p", 20, 1);
	assert_int_equal(put_i(x, "p", 22, 1), MPB_OK);
	assert_int_equal(put_i(x, "p", 23, 0), MPB_OK);
	expect_get_i(x, "p", 23, 0);
	expect_get_i(x, "p", 21, 1);
	expect_get_i(x, "p", 22, 1);
}

// Values are opaque bytes: every encoding comes back exactly as sent.
static void
test_values_byte_exact(void **state)
{
	fx *x = *state;
	static const struct {
		uint8_t b[12];
		size_t  n;
	} vals[] = {
		{ { 0xcc, 0x05 }, 2 },                      // uint8 5
		{ { 0xd0, 0x05 }, 2 },                      // int8 5
		{ { 0xcf, 0, 0, 0, 0, 0, 0, 0, 0x01 }, 9 }, // uint64 1
		{ { 0xd9, 0x00 }, 2 },                      // str8 ""
		{ { 0xa3, 0x61, 0x00, 0x62 }, 4 },          // "a\0b"
		{ { 0xc4, 0x00 }, 2 },                      // bin8 empty
		{ { 0xdc, 0x00, 0x01, 0x01 }, 4 },          // array16 [1]
		{ { 0xde, 0x00, 0x01, 0xa1, 0x6b, 0xc0 }, 6 }, // map16
		{ { 0x82, 0x02, 0x02, 0x01, 0x01 }, 5 }, // key order kept
		{ { 0xc7, 0x02, 0x05, 0xaa, 0xbb }, 5 }, // ext8
		{ { 0xd4, 0xff, 0xaa }, 3 },             // fixext1, type -1
		{ { 0xca, 0x3f, 0x80, 0x00, 0x00 }, 5 }, // float32 1.0
		{ { 0xc0 }, 1 },
		{ { 0xc2 }, 1 },
		{ { 0x90 }, 1 },
		{ { 0x80 }, 1 },
		{ { 0x92, 0xc0, 0xc3 }, 3 },
	};
	const size_t n = sizeof(vals) / sizeof(vals[0]);

	q_make(x, "f", MPBI_QKIND_FIFO, 0);
	q_make(x, "p", MPBI_QKIND_PRIORITY, 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(
		    q_put(x, SID_A, "f", vals[i].b, vals[i].n, 0, 0), MPB_OK);
		assert_int_equal(q_put(x, SID_A, "p", vals[i].b, vals[i].n,
		                     (int64_t) i - 100, 0),
		    MPB_OK);
	}
	for (size_t i = 0; i < n; i++) {
		expect_get(x, "f", vals[i].b, vals[i].n, 0);
		expect_get(x, "p", vals[i].b, vals[i].n, (int64_t) i - 100);
	}
	// Handed straight to a waiting getter, too.
	q_park_get(x, SID_B, 1, "f", 1000);
	assert_int_equal(q_put(x, SID_A, "f", vals[2].b, vals[2].n, 0, 0), MPB_OK);
	expect_sent_got(x, 0, 1, vals[2].b, vals[2].n, 0);
}

// ---------------------------------------------------------------------
// Non-blocking and blocking gets and puts

static void
test_get_empty_eempty(void **state)
{
	fx   *x = *state;
	reply r;

	q_make(x, "q", MPBI_QKIND_FIFO, 0);
	assert_int_equal(call_now(x, SID_A, REQ(MPBI_OP_Q_GET, S("q"), U(0)), &r),
	    MPB_EEMPTY);
	assert_true(text_has(&r, "'q'"));
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	expect_info(x, "q", MPBI_QKIND_FIFO, 0, 0, 0);
	assert_int_equal(x->tp.n, 0);
}

static void
test_put_full_efull(void **state)
{
	fx   *x = *state;
	reply r;

	q_make(x, "q", MPBI_QKIND_FIFO, 2);
	// A put with a timeout to a queue with room completes at once.
	{
		ival v = ival_of(1);

		assert_int_equal(
		    q_put(x, SID_A, "q", v.b, sizeof(v.b), 0, 5000), MPB_OK);
	}
	assert_int_equal(put_i(x, "q", 2, 0), MPB_OK);
	{
		ival v = ival_of(3);

		assert_int_equal(call_now(x, SID_A,
		                     REQ(MPBI_OP_Q_PUT, S("q"), RAWP(v.b, 5), I(0),
		                         U(0)),
		                     &r),
		    MPB_EFULL);
		assert_true(text_has(&r, "'q'"));
	}
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	expect_info(x, "q", MPBI_QKIND_FIFO, 2, 2, 2);
	expect_get_i(x, "q", 1, 0);
	assert_int_equal(put_i(x, "q", 4, 0), MPB_OK);
	expect_get_i(x, "q", 2, 0);
	expect_get_i(x, "q", 4, 0);
	assert_int_equal(x->tp.n, 0);
}

static void
test_parked_get_handoff(void **state)
{
	fx *x = *state;
	got g;

	q_make(x, "q", MPBI_QKIND_FIFO, 0);
	q_park_get(x, SID_B, 100, "q", 500);
	assert_int_equal(mpbi_broker_next_deadline(x->b), T0 + 500);
	// The put, from another session, goes straight to the waiter.
	x->now += 10;
	assert_int_equal(q_put(x, SID_A, "q", V(0xcd, 0x00, 0x07), 9, 0), MPB_OK);
	assert_int_equal(x->tp.n, 1);
	// fifo reports priority 0, as a pop from the queue would.
	expect_sent_got(x, 0, 100, V(0xcd, 0x00, 0x07), 0);
	// It never entered the queue, but counts as unfinished work.
	expect_info(x, "q", MPBI_QKIND_FIFO, 0, 0, 1);
	assert_int_equal(q_get(x, SID_A, "q", 0, &g), MPB_EEMPTY);
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	assert_int_equal(mpbi_broker_expire(x->b, T0 + 10000), MPBI_NO_DEADLINE);
	assert_int_equal(x->tp.n, 1);
}

// What priority a get that waited reports: the put's on a priority queue,
// 0 on fifo and lifo (as for items taken from the queue).
static void
test_handoff_priority(void **state)
{
	fx *x = *state;

	q_make(x, "f", MPBI_QKIND_FIFO, 0);
	q_make(x, "l", MPBI_QKIND_LIFO, 0);
	q_make(x, "p", MPBI_QKIND_PRIORITY, 0);
	q_park_get(x, SID_B, 1, "f", 500);
	q_park_get(x, SID_B, 2, "l", 500);
	q_park_get(x, SID_B, 3, "p", 500);
	assert_int_equal(put_i(x, "f", 1, 7), MPB_OK);
	assert_int_equal(put_i(x, "l", 2, -7), MPB_OK);
	assert_int_equal(put_i(x, "p", 3, INT64_MIN), MPB_OK);
	assert_int_equal(x->tp.n, 3);
	expect_sent_got_i(x, 0, 1, 1, 0);
	expect_sent_got_i(x, 1, 2, 2, 0);
	expect_sent_got_i(x, 2, 3, 3, INT64_MIN);
}

static void
test_parked_getters_arrival_order(void **state)
{
	fx *x = *state;

	q_make(x, "q", MPBI_QKIND_PRIORITY, 0);
	// Across sessions, with later deadlines first: arrival order counts.
	q_park_get(x, SID_B, 11, "q", 900);
	q_park_get(x, SID_C, 12, "q", 800);
	q_park_get(x, SID_A, 13, "q", 700);
	q_park_get(x, SID_B, 14, "q", 600);
	// Priorities do not reorder waiters: each put serves the oldest.
	assert_int_equal(put_i(x, "q", 1, 50), MPB_OK);
	assert_int_equal(put_i(x, "q", 2, -50), MPB_OK);
	assert_int_equal(put_i(x, "q", 3, 0), MPB_OK);
	assert_int_equal(x->tp.n, 3);
	expect_sent_got_i(x, 0, 11, 1, 50);
	expect_sent_got_i(x, 1, 12, 2, -50);
	expect_sent_got_i(x, 2, 13, 3, 0);
	expect_info(x, "q", MPBI_QKIND_PRIORITY, 0, 0, 3);
	assert_int_equal(mpbi_broker_next_deadline(x->b), T0 + 600);
	assert_int_equal(put_i(x, "q", 4, 1), MPB_OK);
	expect_sent_got_i(x, 3, 14, 4, 1);
	// No waiter left: the next put is stored.
	assert_int_equal(put_i(x, "q", 5, 1), MPB_OK);
	assert_int_equal(x->tp.n, 4);
	expect_info(x, "q", MPBI_QKIND_PRIORITY, 1, 0, 5);
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
}

// No memory for a get's reply: the reply says ENOMEM, and the item it
// would have carried stays first in the queue.
static void
test_get_reply_oom_keeps_item(void **state)
{
	fx      *x = *state;
	nng_msg *req;
	reply    r;

	q_make(x, "oom", MPBI_QKIND_FIFO, 0);
	assert_int_equal(put_i(x, "oom", 1, 0), MPB_OK);
	assert_int_equal(put_i(x, "oom", 2, 0), MPB_OK);
	req          = REQ(MPBI_OP_Q_GET, S("oom"), U(0));
	fail_appends = 1;
	assert_int_equal(call(x, SID_A, NO_TOKEN, req, &r), MPBI_REPLY);
	assert_int_equal(r.code, MPB_ENOMEM);
	expect_get_i(x, "oom", 1, 0);
	expect_get_i(x, "oom", 2, 0);
}

// The hot path allocates nothing in steady state: puts and gets of small
// values on a fifo and a priority queue, dict sets and gets of one key,
// and a batch frame of them, each handled and answered the way the server
// does it (the reply leaves in the request's message, mpbi_reply_move).
// The first round warms the caches; the later rounds must not allocate.

// Handles req (consumed) like server.c and checks the reply's status.
static void
hot_call(fx *x, nng_msg *req, mpb_err want)
{
	nng_msg *rep = NULL;
	nng_msg *out;
	reply    r;

	count_allocs = true;
	assert_int_equal(mpbi_broker_handle(x->b, SID_A, (void *) NO_TOKEN,
	                     nng_msg_body(req), nng_msg_len(req), x->now, &rep),
	    MPBI_REPLY);
	out          = mpbi_reply_move(rep, req);
	count_allocs = false;
	assert_int_equal(decode(out, &r), want);
	nng_msg_free(out); // what nng does once the reply is sent
}

// A 16-byte value (bin of 14 bytes), as mpb-bench -d 16 stores.
#define HOT_VALUE                                                             \
	RAW(0xc4, 0x0e, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)

// [BATCH, [[put f], [get f], [put p], [get p], [dset], [dget]]]
static nng_msg *
hot_batch(void)
{
	static const uint8_t value[] = { 0xc4, 0x0e, 1, 2, 3, 4, 5, 6, 7, 8,
		9, 10, 11, 12, 13, 14 };
	static const uint8_t key[]   = { 0xa1, 'k' };
	nng_msg             *m;
	mpbi_writer          w;

	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	mpbi_writer_init(&w, m);
	mpbi_request_begin(&w, MPBI_OP_BATCH, 1);
	mpbi_put_array(&w, 6);
	for (int q = 0; q < 2; q++) {
		const char *name = q == 0 ? "f" : "p";

		mpbi_request_begin(&w, MPBI_OP_Q_PUT, 4);
		mpbi_put_str(&w, name, 1);
		mpbi_put_raw(&w, value, sizeof(value));
		mpbi_put_int(&w, 3);
		mpbi_put_uint(&w, 0);
		mpbi_request_begin(&w, MPBI_OP_Q_GET, 2);
		mpbi_put_str(&w, name, 1);
		mpbi_put_uint(&w, 0);
	}
	mpbi_request_begin(&w, MPBI_OP_D_SET, 3);
	mpbi_put_str(&w, "d", 1);
	mpbi_put_raw(&w, key, sizeof(key));
	mpbi_put_raw(&w, value, sizeof(value));
	mpbi_request_begin(&w, MPBI_OP_D_GET, 2);
	mpbi_put_str(&w, "d", 1);
	mpbi_put_raw(&w, key, sizeof(key));
	assert_int_equal(mpbi_writer_err(&w), MPB_OK);
	return (m);
}

static void
test_hot_path_allocation_free(void **state)
{
	fx *x = *state;

	q_make(x, "f", MPBI_QKIND_FIFO, 0);
	q_make(x, "p", MPBI_QKIND_PRIORITY, 0);
	// Items standing in the queues, so gets never empty them.
	assert_int_equal(put_i(x, "f", 1, 0), MPB_OK);
	assert_int_equal(put_i(x, "p", 1, 9), MPB_OK);
	nallocs = 0;
	for (int round = 0; round < 3; round++) {
		size_t before = nallocs;

		for (int i = 0; i < 20; i++) {
			hot_call(x, REQ(MPBI_OP_Q_PUT, S("f"), HOT_VALUE, I(0), U(0)),
			    MPB_OK);
			hot_call(x, REQ(MPBI_OP_Q_GET, S("f"), U(0)), MPB_OK);
			hot_call(x,
			    REQ(MPBI_OP_Q_PUT, S("p"), HOT_VALUE, I(i % 5), U(0)),
			    MPB_OK);
			hot_call(x, REQ(MPBI_OP_Q_GET, S("p"), U(0)), MPB_OK);
			hot_call(x,
			    REQ(MPBI_OP_D_SET, S("d"), RAW(0xa1, 'k'), HOT_VALUE),
			    MPB_OK);
			hot_call(x, REQ(MPBI_OP_D_GET, S("d"), RAW(0xa1, 'k')),
			    MPB_OK);
			hot_call(x, hot_batch(), MPB_OK);
		}
		// The first round fills the caches (which also shows that the
		// counting works); after it, nothing allocates.
		if (round == 0) {
			assert_true(nallocs > before);
		} else {
			assert_int_equal(nallocs, before);
		}
	}
}

// No memory for a parked getter's reply when a put hands over: the put
// still stores the item, and the getter gets it once a reply can be made.
static void
test_handoff_reply_oom_keeps_item(void **state)
{
	fx      *x = *state;
	nng_msg *req;
	reply    r;
	ival     v = ival_of(7);

	q_make(x, "oom", MPBI_QKIND_FIFO, 0);
	q_park_get(x, SID_B, 9, "oom", 60000);
	req = REQ(MPBI_OP_Q_PUT, S("oom"), RAWP(v.b, sizeof(v.b)), I(0), U(0));
	fail_appends = 1;
	assert_int_equal(call(x, SID_A, NO_TOKEN, req, &r), MPBI_REPLY);
	assert_int_equal(r.code, MPB_OK);
	// The item went through the queue to the getter, exactly once.
	assert_int_equal(x->tp.n, 1);
	expect_sent_got_i(x, 0, 9, 7, 0);
	expect_info(x, "oom", MPBI_QKIND_FIFO, 0, 0, 1);
}

// Thousands of parked getters on one queue, from thousands of sessions:
// every put serves the oldest, in arrival order, and a timed-out one in
// the middle is skipped.
static void
test_thousands_of_waiters(void **state)
{
	enum { N = 5000 };
	fx *x = *state;

	q_make(x, "many", MPBI_QKIND_FIFO, 0);
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(
		    mpbi_broker_session_open(x->b, 1000 + i), MPB_OK);
		// Waiter 2500 alone has a short timeout.
		q_park_get(x, 1000 + i, 100000 + i, "many", i == 2500 ? 50 : 60000);
	}
	assert_int_equal(mpbi_broker_expire(x->b, T0 + 50), T0 + 60000);
	assert_int_equal(x->tp.n, 1);
	assert_int_equal((uintptr_t) x->tp.s[0].token, 100000 + 2500);
	for (uint32_t i = 0; i < N - 1; i++) {
		assert_int_equal(put_i(x, "many", i, 0), MPB_OK);
	}
	assert_int_equal(x->tp.n, N);
	for (uint32_t i = 0, w = 0; i < N - 1; i++, w++) {
		if (w == 2500) {
			w++;
		}
		assert_int_equal((uintptr_t) x->tp.s[1 + i].token, 100000 + w);
	}
	expect_info(x, "many", MPBI_QKIND_FIFO, 0, 0, N - 1);
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
}

static void
test_parked_get_timeout(void **state)
{
	fx *x = *state;

	q_make(x, "q", MPBI_QKIND_FIFO, 0);
	q_park_get(x, SID_B, 5, "q", 100);
	assert_int_equal(mpbi_broker_next_deadline(x->b), T0 + 100);
	// Not a millisecond early.
	assert_int_equal(mpbi_broker_expire(x->b, T0 + 99), T0 + 100);
	assert_int_equal(x->tp.n, 0);
	assert_int_equal(mpbi_broker_expire(x->b, T0 + 100), MPBI_NO_DEADLINE);
	assert_int_equal(x->tp.n, 1);
	expect_sent_err(x, 0, 5, MPB_ETIMEDOUT);
	// A put afterwards is not taken by the timed-out getter.
	x->now = T0 + 101;
	assert_int_equal(put_i(x, "q", 1, 0), MPB_OK);
	assert_int_equal(x->tp.n, 1);
	expect_info(x, "q", MPBI_QKIND_FIFO, 1, 0, 1);
	expect_get_i(x, "q", 1, 0);
}

static void
test_next_deadline_exact(void **state)
{
	fx *x = *state;

	q_make(x, "q", MPBI_QKIND_FIFO, 0);
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	assert_int_equal(mpbi_broker_expire(x->b, T0), MPBI_NO_DEADLINE);
	q_park_get(x, SID_A, 1, "q", 300); // T0+300
	assert_int_equal(mpbi_broker_next_deadline(x->b), T0 + 300);
	x->now = T0 + 10;
	q_park_get(x, SID_B, 2, "q", 100); // T0+110
	assert_int_equal(mpbi_broker_next_deadline(x->b), T0 + 110);
	x->now = T0 + 50;
	q_park_get(x, SID_C, 3, "q", 250); // T0+300, ties with 1
	x->now = T0 + 60;
	q_park_get(x, SID_C, 4, "q", UINT32_MAX); // the longest timeout
	assert_int_equal(mpbi_broker_next_deadline(x->b), T0 + 110);
	assert_int_equal(mpbi_broker_expire(x->b, T0 + 109), T0 + 110);
	assert_int_equal(x->tp.n, 0);
	assert_int_equal(mpbi_broker_expire(x->b, T0 + 110), T0 + 300);
	assert_int_equal(x->tp.n, 1);
	expect_sent_err(x, 0, 2, MPB_ETIMEDOUT);
	assert_int_equal(mpbi_broker_next_deadline(x->b), T0 + 300);
	// Equal deadlines go in arrival order.
	assert_int_equal(mpbi_broker_expire(x->b, T0 + 300),
	    T0 + 60 + (uint64_t) UINT32_MAX);
	assert_int_equal(x->tp.n, 3);
	expect_sent_err(x, 1, 1, MPB_ETIMEDOUT);
	expect_sent_err(x, 2, 3, MPB_ETIMEDOUT);
	// A served waiter leaves the heap too.
	assert_int_equal(put_i(x, "q", 1, 0), MPB_OK);
	expect_sent_got_i(x, 3, 4, 1, 0);
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	assert_int_equal(mpbi_broker_expire(x->b, UINT64_MAX - 1), MPBI_NO_DEADLINE);
	assert_int_equal(x->tp.n, 4);
}

static void
test_parked_put_admitted_fifo(void **state)
{
	fx  *x  = *state;
	ival v3 = ival_of(3);
	ival v4 = ival_of(4);

	q_make(x, "q", MPBI_QKIND_FIFO, 2);
	assert_int_equal(put_i(x, "q", 1, 0), MPB_OK);
	assert_int_equal(put_i(x, "q", 2, 0), MPB_OK);
	q_park_put(x, SID_B, 30, "q", v3.b, sizeof(v3.b), 0, 1000);
	q_park_put(x, SID_C, 40, "q", v4.b, sizeof(v4.b), 0, 1000);
	assert_int_equal(mpbi_broker_next_deadline(x->b), T0 + 1000);
	// Parked puts are not in the queue and not yet unfinished.
	expect_info(x, "q", MPBI_QKIND_FIFO, 2, 2, 2);
	// A new put cannot overtake them.
	assert_int_equal(put_i(x, "q", 9, 0), MPB_EFULL);
	// Each get admits the oldest parked put, which then gets its reply.
	expect_get_i(x, "q", 1, 0);
	assert_int_equal(x->tp.n, 1);
	expect_sent_ok(x, 0, 30);
	expect_info(x, "q", MPBI_QKIND_FIFO, 2, 2, 3);
	expect_get_i(x, "q", 2, 0);
	assert_int_equal(x->tp.n, 2);
	expect_sent_ok(x, 1, 40);
	expect_info(x, "q", MPBI_QKIND_FIFO, 2, 2, 4);
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	expect_get_i(x, "q", 3, 0);
	expect_get_i(x, "q", 4, 0);
	assert_int_equal(q_get(x, SID_A, "q", 0, &(got) { 0 }), MPB_EEMPTY);
	assert_int_equal(x->tp.n, 2);
}

static void
test_parked_put_admitted_lifo(void **state)
{
	fx  *x  = *state;
	ival v3 = ival_of(3);

	q_make(x, "q", MPBI_QKIND_LIFO, 2);
	assert_int_equal(put_i(x, "q", 1, 0), MPB_OK);
	assert_int_equal(put_i(x, "q", 2, 0), MPB_OK);
	q_park_put(x, SID_B, 30, "q", v3.b, sizeof(v3.b), 0, 1000);
	expect_get_i(x, "q", 2, 0);
	expect_sent_ok(x, 0, 30);
	// The admitted item is the newest.
	expect_get_i(x, "q", 3, 0);
	expect_get_i(x, "q", 1, 0);
	expect_info(x, "q", MPBI_QKIND_LIFO, 0, 2, 3);
}

static void
test_parked_put_admitted_priority(void **state)
{
	fx  *x  = *state;
	ival v3 = ival_of(3);
	ival v4 = ival_of(4);

	q_make(x, "q", MPBI_QKIND_PRIORITY, 2);
	assert_int_equal(put_i(x, "q", 1, 5), MPB_OK);
	assert_int_equal(put_i(x, "q", 2, 6), MPB_OK);
	q_park_put(x, SID_B, 30, "q", v3.b, sizeof(v3.b), 0, 1000);
	q_park_put(x, SID_B, 40, "q", v4.b, sizeof(v4.b), 6, 1000);
	expect_get_i(x, "q", 1, 5);
	expect_sent_ok(x, 0, 30);
	// Admitted with the priority it was put with.
	expect_get_i(x, "q", 3, 0);
	expect_sent_ok(x, 1, 40);
	// Equal priority 6: admitted later, so after item 2.
	expect_get_i(x, "q", 2, 6);
	expect_get_i(x, "q", 4, 6);
	expect_info(x, "q", MPBI_QKIND_PRIORITY, 0, 2, 4);
}

static void
test_parked_put_timeout(void **state)
{
	fx  *x  = *state;
	ival v2 = ival_of(2);

	q_make(x, "q", MPBI_QKIND_FIFO, 1);
	assert_int_equal(put_i(x, "q", 1, 0), MPB_OK);
	q_park_put(x, SID_B, 9, "q", v2.b, sizeof(v2.b), 0, 50);
	assert_int_equal(mpbi_broker_expire(x->b, T0 + 49), T0 + 50);
	assert_int_equal(mpbi_broker_expire(x->b, T0 + 50), MPBI_NO_DEADLINE);
	assert_int_equal(x->tp.n, 1);
	expect_sent_err(x, 0, 9, MPB_ETIMEDOUT);
	// Its value was discarded.
	expect_info(x, "q", MPBI_QKIND_FIFO, 1, 1, 1);
	expect_get_i(x, "q", 1, 0);
	assert_int_equal(q_get(x, SID_A, "q", 0, &(got) { 0 }), MPB_EEMPTY);
	assert_int_equal(x->tp.n, 1);
	expect_info(x, "q", MPBI_QKIND_FIFO, 0, 1, 1);
}

// ---------------------------------------------------------------------
// task_done and join

static void
test_task_done_join(void **state)
{
	fx   *x = *state;
	reply r;

	q_make(x, "q", MPBI_QKIND_FIFO, 0);
	assert_int_equal(q_task_done(x, "q"), MPB_ESTATE);
	// Nothing outstanding: join returns at once, whatever the timeout.
	assert_int_equal(q_join(x, SID_A, "q", 0), MPB_OK);
	assert_int_equal(q_join(x, SID_A, "q", 1000), MPB_OK);
	assert_int_equal(put_i(x, "q", 1, 0), MPB_OK);
	assert_int_equal(put_i(x, "q", 2, 0), MPB_OK);
	expect_info(x, "q", MPBI_QKIND_FIFO, 2, 0, 2);
	q_park_join(x, SID_B, 1, "q", 1000);
	q_park_join(x, SID_C, 2, "q", 2000);
	// A get does not finish a task.
	expect_get_i(x, "q", 1, 0);
	expect_get_i(x, "q", 2, 0);
	expect_info(x, "q", MPBI_QKIND_FIFO, 0, 0, 2);
	assert_int_equal(q_task_done(x, "q"), MPB_OK);
	expect_info(x, "q", MPBI_QKIND_FIFO, 0, 0, 1);
	assert_int_equal(x->tp.n, 0);
	// The last one wakes every joiner, in arrival order.
	assert_int_equal(q_task_done(x, "q"), MPB_OK);
	assert_int_equal(x->tp.n, 2);
	expect_sent_ok(x, 0, 1);
	expect_sent_ok(x, 1, 2);
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	expect_info(x, "q", MPBI_QKIND_FIFO, 0, 0, 0);
	assert_int_equal(
	    call_now(x, SID_A, REQ(MPBI_OP_Q_TASK_DONE, S("q")), &r), MPB_ESTATE);
	assert_int_equal(q_join(x, SID_A, "q", 0), MPB_OK);
	// A hand-off counts as work put.
	q_park_get(x, SID_B, 3, "q", 1000);
	assert_int_equal(put_i(x, "q", 3, 0), MPB_OK);
	expect_sent_got_i(x, 2, 3, 3, 0);
	expect_info(x, "q", MPBI_QKIND_FIFO, 0, 0, 1);
	// A parked join that times out.
	q_park_join(x, SID_B, 4, "q", 10);
	assert_int_equal(mpbi_broker_expire(x->b, T0 + 10), MPBI_NO_DEADLINE);
	expect_sent_err(x, 3, 4, MPB_ETIMEDOUT);
	assert_int_equal(q_task_done(x, "q"), MPB_OK);
	assert_int_equal(x->tp.n, 4);
}

static void
test_join_timeout_zero_outstanding(void **state)
{
	fx   *x = *state;
	reply r;

	q_make(x, "q", MPBI_QKIND_FIFO, 0);
	assert_int_equal(put_i(x, "q", 1, 0), MPB_OK);
	assert_int_equal(put_i(x, "q", 2, 0), MPB_OK);
	assert_int_equal(
	    call_now(x, SID_A, REQ(MPBI_OP_Q_JOIN, S("q"), U(0)), &r),
	    MPB_ETIMEDOUT);
	assert_true(text_has(&r, "2 task"));
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	expect_info(x, "q", MPBI_QKIND_FIFO, 2, 0, 2);
}

// ---------------------------------------------------------------------
// Delete, sessions, limits

static void
test_delete_wakes_all(void **state)
{
	fx  *x  = *state;
	ival v2 = ival_of(2);
	ival v3 = ival_of(3);

	// "e": empty with unfinished work, so gets and joins wait.
	q_make(x, "e", MPBI_QKIND_FIFO, 0);
	assert_int_equal(put_i(x, "e", 1, 0), MPB_OK);
	expect_get_i(x, "e", 1, 0);
	q_park_join(x, SID_B, 3, "e", 1000);
	q_park_get(x, SID_B, 1, "e", 1000);
	q_park_get(x, SID_C, 2, "e", 1000);
	// "f": full, so puts wait (holding their values).
	q_make(x, "f", MPBI_QKIND_PRIORITY, 1);
	assert_int_equal(put_i(x, "f", 1, 0), MPB_OK);
	q_park_put(x, SID_B, 4, "f", v2.b, sizeof(v2.b), 0, 1000);
	q_park_join(x, SID_A, 6, "f", 1000);
	q_park_put(x, SID_C, 5, "f", v3.b, sizeof(v3.b), 0, 1000);

	// Getters, then putters, then joiners, each in arrival order.
	assert_int_equal(q_delete(x, "e"), MPB_OK);
	assert_int_equal(x->tp.n, 3);
	expect_sent_err(x, 0, 1, MPB_EDELETED);
	expect_sent_err(x, 1, 2, MPB_EDELETED);
	expect_sent_err(x, 2, 3, MPB_EDELETED);
	assert_int_equal(q_delete(x, "f"), MPB_OK);
	assert_int_equal(x->tp.n, 6);
	expect_sent_err(x, 3, 4, MPB_EDELETED);
	expect_sent_err(x, 4, 5, MPB_EDELETED);
	expect_sent_err(x, 5, 6, MPB_EDELETED);
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	assert_int_equal(q_info(x, "e", &(qinfo) { 0 }), MPB_ENOENT);
	assert_int_equal(q_info(x, "f", &(qinfo) { 0 }), MPB_ENOENT);
	// The name is free again, as a new, empty queue of any kind.
	q_make(x, "f", MPBI_QKIND_LIFO, 0);
	expect_info(x, "f", MPBI_QKIND_LIFO, 0, 0, 0);
	// The sessions' parked counts were released: B can park its maximum.
	for (uintptr_t t = 0; t < x->cfg.max_parked; t++) {
		q_park_get(x, SID_B, 100 + t, "f", 1000);
	}
	assert_int_equal(x->tp.n, 6);
}

static void
test_session_close_cancels(void **state)
{
	fx  *x  = *state;
	ival v9 = ival_of(9);
	got  g;

	q_make(x, "e", MPBI_QKIND_FIFO, 0);
	q_make(x, "f", MPBI_QKIND_FIFO, 1);
	assert_int_equal(put_i(x, "f", 1, 0), MPB_OK);
	q_park_get(x, SID_B, 1, "e", 1000);
	q_park_get(x, SID_C, 2, "e", 1000);
	q_park_put(x, SID_B, 3, "f", v9.b, sizeof(v9.b), 0, 1000);
	q_park_join(x, SID_B, 4, "f", 1000);

	// Ending B answers its three parked requests (the transport drops
	// them); the code is ECONNLOST, never delivered to a client.
	mpbi_broker_session_close(x->b, SID_B);
	assert_int_equal(x->tp.n, 3);
	{
		bool seen[5] = { false };

		for (size_t i = 0; i < 3; i++) {
			uintptr_t t = (uintptr_t) x->tp.s[i].token;

			assert_true(t == 1 || t == 3 || t == 4);
			assert_false(seen[t]);
			seen[t] = true;
			expect_sent_err(x, i, t, MPB_ECONNLOST);
		}
	}
	assert_int_equal(mpbi_broker_next_deadline(x->b), T0 + 1000);
	// B's cancelled get takes nothing: the put goes to C's getter.
	assert_int_equal(put_i(x, "e", 5, 0), MPB_OK);
	assert_int_equal(x->tp.n, 4);
	expect_sent_got_i(x, 3, 2, 5, 0);
	assert_int_equal(put_i(x, "e", 6, 0), MPB_OK);
	expect_info(x, "e", MPBI_QKIND_FIFO, 1, 0, 2);
	// B's cancelled put left nothing behind: no admission after a get.
	expect_get_i(x, "f", 1, 0);
	assert_int_equal(q_get(x, SID_A, "f", 0, &g), MPB_EEMPTY);
	expect_info(x, "f", MPBI_QKIND_FIFO, 0, 1, 1);
	assert_int_equal(x->tp.n, 4);
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	// Closing it again, or a session never opened, is harmless.
	mpbi_broker_session_close(x->b, SID_B);
	mpbi_broker_session_close(x->b, 4242);
	assert_int_equal(x->tp.n, 4);
}

// Requests from a session that is not open are dropped unrun.
static void
test_closed_session_dropped(void **state)
{
	fx   *x = *state;
	reply r;
	ival  v = ival_of(1);

	q_make(x, "q", MPBI_QKIND_FIFO, 0);
	mpbi_broker_session_close(x->b, SID_B);
	assert_int_equal(call(x, SID_B, 1,
	                     REQ(MPBI_OP_Q_PUT, S("q"), RAWP(v.b, 5), I(0), U(0)),
	                     &r),
	    MPBI_DROP);
	assert_int_equal(call(x, SID_B, 2, REQ(MPBI_OP_Q_GET, S("q"), U(1000)), &r),
	    MPBI_DROP);
	assert_int_equal(call(x, 999, 3, REQ0(MPBI_OP_PING), &r), MPBI_DROP);
	assert_int_equal(
	    call(x, 999, 4, REQ(MPBI_OP_Q_CREATE, S("new"), U(0), U(0)), &r),
	    MPBI_DROP);
	// Garbage from a dead session is dropped too, not answered.
	assert_int_equal(call(x, 999, 5, req_raw(V(0xc1)), &r), MPBI_DROP);
	assert_int_equal(x->tp.n, 0);
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	expect_info(x, "q", MPBI_QKIND_FIFO, 0, 0, 0);
	assert_int_equal(q_info(x, "new", &(qinfo) { 0 }), MPB_ENOENT);
	// A put now is stored: the dropped get is not waiting for it.
	assert_int_equal(put_i(x, "q", 2, 0), MPB_OK);
	assert_int_equal(x->tp.n, 0);
	expect_info(x, "q", MPBI_QKIND_FIFO, 1, 0, 1);
	// The id can be opened again, as a new session.
	assert_int_equal(mpbi_broker_session_open(x->b, SID_B), MPB_OK);
	assert_int_equal(ping(x, SID_B), MPB_OK);
}

static void
test_session_open_twice(void **state)
{
	fx *x = *state;

	q_make(x, "q", MPBI_QKIND_FIFO, 0);
	q_park_get(x, SID_B, 1, "q", 1000);
	assert_int_equal(mpbi_broker_session_open(x->b, SID_B), MPB_EEXIST);
	// The existing session and its parked request are untouched.
	assert_int_equal(x->tp.n, 0);
	assert_int_equal(put_i(x, "q", 1, 0), MPB_OK);
	expect_sent_got_i(x, 0, 1, 1, 0);
}

static void
test_max_parked(void **state)
{
	fx         *x = *state;
	mpbi_config cfg;
	reply       r;
	ival        v = ival_of(7);

	test_config(&cfg);
	cfg.max_parked = 3;
	fx_restart(x, &cfg);
	q_make(x, "e", MPBI_QKIND_FIFO, 0);
	q_make(x, "f", MPBI_QKIND_FIFO, 1);
	assert_int_equal(put_i(x, "f", 1, 0), MPB_OK);
	q_park_get(x, SID_B, 1, "e", 100);
	q_park_put(x, SID_B, 2, "f", v.b, sizeof(v.b), 0, 1000);
	q_park_join(x, SID_B, 3, "f", 1000);
	// The fourth of each kind is refused at once, and changes nothing.
	assert_int_equal(
	    call_now(x, SID_B, REQ(MPBI_OP_Q_GET, S("e"), U(1000)), &r),
	    MPB_ELIMIT);
	assert_true(text_has(&r, "limit"));
	assert_int_equal(q_put(x, SID_B, "f", v.b, sizeof(v.b), 0, 1000),
	    MPB_ELIMIT);
	assert_int_equal(q_join(x, SID_B, "f", 1000), MPB_ELIMIT);
	expect_info(x, "f", MPBI_QKIND_FIFO, 1, 1, 1);
	// Requests that do not park are not limited.
	assert_int_equal(q_get(x, SID_B, "e", 0, &(got) { 0 }), MPB_EEMPTY);
	assert_int_equal(ping(x, SID_B), MPB_OK);
	// The limit is per session.
	q_park_get(x, SID_C, 4, "e", 1000);
	// A freed slot can be used again.
	assert_int_equal(mpbi_broker_expire(x->b, T0 + 100), T0 + 1000);
	expect_sent_err(x, 0, 1, MPB_ETIMEDOUT);
	q_park_get(x, SID_B, 5, "e", 1000);
	assert_int_equal(x->tp.n, 1);
	// The refused put was not stored: a get admits only B's parked one.
	expect_get_i(x, "f", 1, 0);
	expect_sent_ok(x, 1, 2);
	expect_get_i(x, "f", 7, 0);
	assert_int_equal(q_get(x, SID_A, "f", 0, &(got) { 0 }), MPB_EEMPTY);
}

// One entry of a queue.list reply.
static void
expect_list_entry(mpbi_span *rest, const char *name, size_t namelen,
    uint64_t kind, uint64_t size, uint64_t maxsize, uint64_t unfinished)
{
	mpbi_span   e, body, f;
	size_t      n;
	const char *p;
	size_t      l;
	uint64_t    u;

	assert_int_equal(mpbi_span_next(rest, &e), MPB_OK);
	assert_int_equal(mpbi_span_array(e, &n, &body), MPB_OK);
	assert_int_equal(n, 5);
	assert_int_equal(mpbi_span_next(&body, &f), MPB_OK);
	assert_int_equal(mpbi_span_str(f, &p, &l), MPB_OK);
	assert_int_equal(l, namelen);
	assert_memory_equal(p, name, namelen);
	assert_int_equal(mpbi_span_next(&body, &f), MPB_OK);
	assert_int_equal(mpbi_span_uint(f, &u), MPB_OK);
	assert_int_equal(u, kind);
	assert_int_equal(mpbi_span_next(&body, &f), MPB_OK);
	assert_int_equal(mpbi_span_uint(f, &u), MPB_OK);
	assert_int_equal(u, size);
	assert_int_equal(mpbi_span_next(&body, &f), MPB_OK);
	assert_int_equal(mpbi_span_uint(f, &u), MPB_OK);
	assert_int_equal(u, maxsize);
	assert_int_equal(mpbi_span_next(&body, &f), MPB_OK);
	assert_int_equal(mpbi_span_uint(f, &u), MPB_OK);
	assert_int_equal(u, unfinished);
	assert_int_equal(body.len, 0);
}

static void
test_qlist_sorted(void **state)
{
	fx       *x = *state;
	reply     r;
	size_t    n;
	mpbi_span rest;

	// Empty: [0, []].
	assert_int_equal(call_now(x, SID_A, REQ0(MPBI_OP_Q_LIST), &r), MPB_OK);
	assert_int_equal(r.f.nelem, 2);
	assert_int_equal(r.f.elem[1].len, 1);
	assert_int_equal(r.f.elem[1].ptr[0], 0x90);

	q_make(x, "b", MPBI_QKIND_FIFO, 0);
	q_make(x, "ab", MPBI_QKIND_PRIORITY, 0);
	q_make(x, "a", MPBI_QKIND_LIFO, 3);
	q_make(x, "B", MPBI_QKIND_FIFO, 9);
	assert_int_equal(call_now(x, SID_A,
	                     REQ(MPBI_OP_Q_CREATE, SN("a\0", 2), U(0), U(0)), &r),
	    MPB_OK);
	assert_int_equal(put_i(x, "b", 1, 0), MPB_OK);
	assert_int_equal(put_i(x, "b", 2, 0), MPB_OK);
	assert_int_equal(put_i(x, "ab", 3, 0), MPB_OK);
	assert_int_equal(put_i(x, "a", 4, 0), MPB_OK);
	expect_get_i(x, "a", 4, 0);

	// Bytewise: "B" < "a" < "a\0" < "ab" < "b".
	assert_int_equal(call_now(x, SID_A, REQ0(MPBI_OP_Q_LIST), &r), MPB_OK);
	assert_int_equal(r.f.nelem, 2);
	assert_int_equal(mpbi_span_array(r.f.elem[1], &n, &rest), MPB_OK);
	assert_int_equal(n, 5);
	expect_list_entry(&rest, "B", 1, MPBI_QKIND_FIFO, 0, 9, 0);
	expect_list_entry(&rest, "a", 1, MPBI_QKIND_LIFO, 0, 3, 1);
	expect_list_entry(&rest, "a\0", 2, MPBI_QKIND_FIFO, 0, 0, 0);
	expect_list_entry(&rest, "ab", 2, MPBI_QKIND_PRIORITY, 1, 0, 1);
	expect_list_entry(&rest, "b", 1, MPBI_QKIND_FIFO, 2, 0, 2);
	assert_int_equal(rest.len, 0);

	// Deleted queues leave the list.
	assert_int_equal(q_delete(x, "ab"), MPB_OK);
	assert_int_equal(call_now(x, SID_A, REQ0(MPBI_OP_Q_LIST), &r), MPB_OK);
	assert_int_equal(mpbi_span_array(r.f.elem[1], &n, &rest), MPB_OK);
	assert_int_equal(n, 4);
}

// ---------------------------------------------------------------------
// Shutdown and destroy

static void
test_shutdown_eclosed(void **state)
{
	fx  *x  = *state;
	ival v2 = ival_of(2);

	q_make(x, "e", MPBI_QKIND_FIFO, 0);
	q_make(x, "f", MPBI_QKIND_FIFO, 1);
	assert_int_equal(put_i(x, "f", 1, 0), MPB_OK);
	q_park_get(x, SID_B, 1, "e", 300);
	q_park_put(x, SID_C, 2, "f", v2.b, sizeof(v2.b), 0, 100);
	q_park_join(x, SID_A, 3, "f", 200);
	mpbi_broker_shutdown(x->b);
	// Every parked request answered, earliest deadline first.
	assert_int_equal(x->tp.n, 3);
	expect_sent_err(x, 0, 2, MPB_ECLOSED);
	expect_sent_err(x, 1, 3, MPB_ECLOSED);
	expect_sent_err(x, 2, 1, MPB_ECLOSED);
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	assert_int_equal(mpbi_broker_expire(x->b, T0 + 1000), MPBI_NO_DEADLINE);
	// Every request after it is refused at once: none may park again,
	// and none runs.
	{
		got g;

		assert_int_equal(ping(x, SID_A), MPB_ECLOSED);
		assert_int_equal(q_get(x, SID_B, "e", 1000, &g), MPB_ECLOSED);
		assert_int_equal(q_join(x, SID_C, "f", 1000), MPB_ECLOSED);
		assert_int_equal(q_put(x, SID_A, "e", V(0x01), 0, 1000),
		    MPB_ECLOSED);
		assert_int_equal(q_get(x, SID_A, "f", 0, &g), MPB_ECLOSED);
		assert_int_equal(q_info(x, "f", &(qinfo) { 0 }), MPB_ECLOSED);
		assert_int_equal(q_create(x, "new", 0, 0, NULL), MPB_ECLOSED);
		assert_int_equal(
		    call_now(x, SID_A, req_raw(V(0xc1)), &(reply) { 0 }),
		    MPB_ECLOSED);
	}
	assert_int_equal(mpbi_broker_next_deadline(x->b), MPBI_NO_DEADLINE);
	// A dead session is still dropped, not answered.
	assert_int_equal(
	    call(x, 999, 7, REQ0(MPBI_OP_PING), &(reply) { 0 }), MPBI_DROP);
	mpbi_broker_shutdown(x->b);
	assert_int_equal(x->tp.n, 3);
}

// Destroy with everything in use: items of every kind, parked requests
// (a parked put holds an item), open sessions.  LSan checks the rest.
static void
test_destroy_frees_everything(void **state)
{
	fx  *x  = *state;
	ival v9 = ival_of(9);

	q_make(x, "f", MPBI_QKIND_FIFO, 2);
	q_make(x, "l", MPBI_QKIND_LIFO, 0);
	q_make(x, "p", MPBI_QKIND_PRIORITY, 0);
	q_make(x, "e", MPBI_QKIND_FIFO, 0);
	for (uint32_t i = 0; i < 50; i++) {
		assert_int_equal(put_i(x, "l", i, 0), MPB_OK);
		assert_int_equal(put_i(x, "p", i, (int64_t) (i % 7)), MPB_OK);
	}
	assert_int_equal(put_i(x, "f", 1, 0), MPB_OK);
	assert_int_equal(put_i(x, "f", 2, 0), MPB_OK);
	q_park_put(x, SID_B, 1, "f", v9.b, sizeof(v9.b), 0, 1000);
	q_park_get(x, SID_C, 2, "e", 1000);
	q_park_join(x, SID_A, 3, "l", 1000);
	mpbi_broker_destroy(x->b);
	x->b = NULL;
	// Destroy shut down first: the parked requests got ECLOSED.
	assert_int_equal(x->tp.n, 3);
	for (size_t i = 0; i < 3; i++) {
		expect_sent_err(x, i, (uintptr_t) x->tp.s[i].token, MPB_ECLOSED);
	}
	// NULL is accepted.
	mpbi_broker_destroy(NULL);
}

// ---------------------------------------------------------------------
// Exactly once: a seeded random mix against a reference model.
//
// The model predicts every outcome (immediate or parked), every deferred
// reply (token, code, item) in order, and each queue's contents.  Apart
// from it, a ledger per item checks the property itself: every item put
// is got exactly once, or is still in its queue at the end (drained), and
// no item whose put failed is ever got.

enum {
	P_QUEUES   = 3,
	P_SESSIONS = 4,
	P_STEPS    = 20000,
};

typedef enum pkind { PK_GET, PK_PUT, PK_JOIN } pkind;

typedef struct pend {
	pkind    kind;
	unsigned q;
	uint32_t id; // a put's item
	int64_t  prio;
	uint32_t sid;
	uint64_t deadline;
	bool     parked;
} pend;

typedef struct tlist {
	uintptr_t *t;
	size_t     n;
	size_t     cap;
} tlist;

typedef struct mitem {
	uint32_t id;
	int64_t  prio;
	uint64_t seq;
} mitem;

typedef struct mqueue {
	const char *name;
	mpbi_qkind  kind;
	uint64_t    maxsize;
	mitem      *items;
	size_t      nitems;
	uint64_t    seq;
	uint64_t    unfinished;
	tlist       getters;
	tlist       putters;
	tlist       joiners;
} mqueue;

// An expected deferred reply.
typedef struct ev {
	uintptr_t token;
	mpb_err   code;
	bool      item; // [value, prio] expected
	uint32_t  id;
	int64_t   prio;
} ev;

typedef struct pm {
	fx       *x;
	uint64_t  rng;
	mqueue    q[P_QUEUES];
	pend     *pend; // by token - 1
	size_t    npend;
	size_t    cappend;
	tlist     parked; // tokens parked now
	ev       *exp;
	size_t    nexp;
	size_t    capexp;
	uint32_t  sids[P_SESSIONS];
	uint32_t  next_sid;
	uint32_t  next_id;
	uint8_t  *accepted; // by item id: put answered [0]
	uint8_t  *failed;   // put answered with an error, or dropped
	uint32_t *gotcount;
	size_t    seen; // deferred replies checked
	size_t    stats[8];
} pm;

static uint64_t
rnd(uint64_t *s)
{
	// xorshift64: fixed seed, so a failure replays the same way.
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

static void *
grow(void *p, size_t *capp, size_t need, size_t elem)
{
	if (need > *capp) {
		size_t cap = *capp != 0 ? *capp : 16;

		while (cap < need) {
			cap *= 2;
		}
		p = realloc(p, cap * elem);
		assert_non_null(p);
		*capp = cap;
	}
	return (p);
}

static void
tl_push(tlist *l, uintptr_t t)
{
	l->t         = grow(l->t, &l->cap, l->n + 1, sizeof(*l->t));
	l->t[l->n++] = t;
}

static uintptr_t
tl_pop_front(tlist *l)
{
	uintptr_t t = l->t[0];

	memmove(l->t, l->t + 1, (l->n - 1) * sizeof(*l->t));
	l->n--;
	return (t);
}

static void
tl_remove(tlist *l, uintptr_t t)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->t[i] == t) {
			memmove(l->t + i, l->t + i + 1, (l->n - i - 1) * sizeof(*l->t));
			l->n--;
			return;
		}
	}
	fail_msg("token %zu not on the list", (size_t) t);
}

static void
pm_expect(pm *m, uintptr_t token, mpb_err code, bool item, uint32_t id,
    int64_t prio)
{
	ev e = { token, code, item, id, prio };

	m->exp = grow(m->exp, &m->capexp, m->nexp + 1, sizeof(*m->exp));
	m->exp[m->nexp++] = e;
}

static pend *
pm_pend(pm *m, uintptr_t token)
{
	assert_true(token >= 1 && token <= m->npend);
	return (&m->pend[token - 1]);
}

static uintptr_t
pm_new_pend(pm *m, pkind kind, unsigned q, uint32_t id, int64_t prio,
    uint32_t sid, uint32_t timeout)
{
	pend p = { kind, q, id, prio, sid, m->x->now + timeout, false };

	m->pend = grow(m->pend, &m->cappend, m->npend + 1, sizeof(*m->pend));
	m->pend[m->npend++] = p;
	return (m->npend); // token = index + 1
}

static size_t
mq_len(const mqueue *mq)
{
	return (mq->nitems);
}

static bool
mq_full(const mqueue *mq)
{
	return (mq->maxsize != 0 && mq->nitems >= mq->maxsize);
}

static void
mq_push(mqueue *mq, uint32_t id, int64_t prio)
{
	size_t cap = mq->nitems; // exact fit; realloc each time is fine here

	mq->items = realloc(mq->items, (cap + 1) * sizeof(*mq->items));
	assert_non_null(mq->items);
	mq->items[mq->nitems].id   = id;
	mq->items[mq->nitems].prio = prio;
	mq->items[mq->nitems].seq  = mq->seq++;
	mq->nitems++;
}

// Removes the next item as the broker would; *priop as a get reports it.
static uint32_t
mq_pop(mqueue *mq, int64_t *priop)
{
	size_t   at = 0;
	uint32_t id;

	assert_true(mq->nitems > 0);
	if (mq->kind == MPBI_QKIND_LIFO) {
		at = mq->nitems - 1;
	} else if (mq->kind == MPBI_QKIND_PRIORITY) {
		for (size_t i = 1; i < mq->nitems; i++) {
			const mitem *a = &mq->items[i], *b = &mq->items[at];
			if (a->prio < b->prio ||
			    (a->prio == b->prio && a->seq < b->seq)) {
				at = i;
			}
		}
	}
	id     = mq->items[at].id;
	*priop = mq->kind == MPBI_QKIND_PRIORITY ? mq->items[at].prio : 0;
	memmove(mq->items + at, mq->items + at + 1,
	    (mq->nitems - at - 1) * sizeof(*mq->items));
	mq->nitems--;
	return (id);
}

// A parked request ends: off every list.
static void
pm_unpark(pm *m, uintptr_t token)
{
	pend   *p  = pm_pend(m, token);
	mqueue *mq = &m->q[p->q];

	assert_true(p->parked);
	p->parked = false;
	tl_remove(&m->parked, token);
	tl_remove(p->kind == PK_GET       ? &mq->getters
	        : p->kind == PK_PUT       ? &mq->putters
	                                  : &mq->joiners,
	    token);
}

// Checks the deferred replies sent since the last call against the
// expected ones, in order, and keeps the ledger.
static void
pm_check_sent(pm *m)
{
	fx *x = m->x;

	assert_int_equal(x->tp.n - m->seen, m->nexp);
	for (size_t i = 0; i < m->nexp; i++, m->seen++) {
		sent      *s = &x->tp.s[m->seen];
		const ev  *e = &m->exp[i];
		pend      *p = pm_pend(m, e->token);
		reply      r;

		assert_int_equal((uintptr_t) s->token, e->token);
		assert_int_equal(decode(s->msg, &r), e->code);
		if (e->item) {
			got      g;
			uint32_t id;

			reply_got(&r, &g);
			id = ival_decode(g.v, g.len);
			assert_int_equal(id, e->id);
			assert_int_equal(g.prio, e->prio);
			m->gotcount[id]++;
		} else if (e->code == MPB_OK) {
			assert_int_equal(r.f.nelem, 1);
		}
		if (p->kind == PK_PUT) {
			if (e->code == MPB_OK) {
				m->accepted[p->id] = 1;
			} else {
				m->failed[p->id] = 1;
			}
		}
		nng_msg_free(s->msg);
		s->msg = NULL;
	}
	m->nexp = 0;
}

// Expected order of replies to parked requests ended together (expire,
// shutdown): by deadline, then arrival (token order).
static int
token_deadline_cmp(const void *a, const void *b, void *ctx)
{
	pm       *m  = ctx;
	uintptr_t ta = *(const uintptr_t *) a, tb = *(const uintptr_t *) b;
	uint64_t  da = pm_pend(m, ta)->deadline, db = pm_pend(m, tb)->deadline;

	if (da != db) {
		return (da < db ? -1 : 1);
	}
	return (ta < tb ? -1 : ta > tb);
}

static uint32_t
pm_sid(pm *m)
{
	return (m->sids[rnd(&m->rng) % P_SESSIONS]);
}

static uint32_t
pm_timeout(pm *m)
{
	return (rnd(&m->rng) % 2 == 0 ? 0 : 1 + (uint32_t) (rnd(&m->rng) % 200));
}

static void
pm_put(pm *m)
{
	fx       *x       = m->x;
	unsigned  qi      = (unsigned) (rnd(&m->rng) % P_QUEUES);
	mqueue   *mq      = &m->q[qi];
	uint32_t  id      = m->next_id++;
	int64_t   prio    = (int64_t) (rnd(&m->rng) % 7) - 3;
	uint32_t  timeout = pm_timeout(m);
	uint32_t  sid     = pm_sid(m);
	uintptr_t tok     = pm_new_pend(m, PK_PUT, qi, id, prio, sid, timeout);
	ival      v       = ival_of(id);
	reply     r;
	mpbi_outcome oc;

	oc = call(x, sid, tok,
	    REQ(MPBI_OP_Q_PUT, S(mq->name), RAWP(v.b, 5), I(prio), U(timeout)),
	    &r);
	if (mq->getters.n > 0) {
		// Straight to the oldest getter.
		uintptr_t g = tl_pop_front(&mq->getters);

		pm_pend(m, g)->parked = false;
		tl_remove(&m->parked, g);
		pm_expect(m, g, MPB_OK, true, id,
		    mq->kind == MPBI_QKIND_PRIORITY ? prio : 0);
		assert_int_equal(oc, MPBI_REPLY);
		assert_int_equal(r.code, MPB_OK);
		m->accepted[id] = 1;
		mq->unfinished++;
		m->stats[0]++;
	} else if (!mq_full(mq)) {
		assert_int_equal(oc, MPBI_REPLY);
		assert_int_equal(r.code, MPB_OK);
		mq_push(mq, id, prio);
		m->accepted[id] = 1;
		mq->unfinished++;
	} else if (timeout == 0) {
		assert_int_equal(oc, MPBI_REPLY);
		assert_int_equal(r.code, MPB_EFULL);
		m->failed[id] = 1;
		m->stats[1]++;
	} else {
		assert_int_equal(oc, MPBI_PARKED);
		pm_pend(m, tok)->parked = true;
		tl_push(&mq->putters, tok);
		tl_push(&m->parked, tok);
		m->stats[2]++;
	}
	pm_check_sent(m);
}

static void
pm_get(pm *m)
{
	fx       *x       = m->x;
	unsigned  qi      = (unsigned) (rnd(&m->rng) % P_QUEUES);
	mqueue   *mq      = &m->q[qi];
	uint32_t  timeout = pm_timeout(m);
	uint32_t  sid     = pm_sid(m);
	uintptr_t tok     = pm_new_pend(m, PK_GET, qi, 0, 0, sid, timeout);
	reply     r;
	mpbi_outcome oc;

	oc = call(x, sid, tok, REQ(MPBI_OP_Q_GET, S(mq->name), U(timeout)), &r);
	if (mq_len(mq) > 0) {
		int64_t  prio;
		uint32_t id = mq_pop(mq, &prio);
		got      g;

		assert_int_equal(oc, MPBI_REPLY);
		reply_got(&r, &g);
		assert_int_equal(ival_decode(g.v, g.len), id);
		assert_int_equal(g.prio, prio);
		m->gotcount[id]++;
		// The room made admits the oldest parked put.
		if (mq->putters.n > 0) {
			uintptr_t pt = tl_pop_front(&mq->putters);
			pend     *pp = pm_pend(m, pt);

			pp->parked = false;
			tl_remove(&m->parked, pt);
			mq_push(mq, pp->id, pp->prio);
			mq->unfinished++;
			pm_expect(m, pt, MPB_OK, false, 0, 0);
			m->stats[3]++;
		}
	} else if (timeout == 0) {
		assert_int_equal(oc, MPBI_REPLY);
		assert_int_equal(r.code, MPB_EEMPTY);
	} else {
		assert_int_equal(oc, MPBI_PARKED);
		pm_pend(m, tok)->parked = true;
		tl_push(&mq->getters, tok);
		tl_push(&m->parked, tok);
		m->stats[4]++;
	}
	pm_check_sent(m);
}

static void
pm_task_done(pm *m)
{
	unsigned qi = (unsigned) (rnd(&m->rng) % P_QUEUES);
	mqueue  *mq = &m->q[qi];
	mpb_err  rv = q_simple(m->x, pm_sid(m), MPBI_OP_Q_TASK_DONE, mq->name);

	if (mq->unfinished == 0) {
		assert_int_equal(rv, MPB_ESTATE);
	} else {
		assert_int_equal(rv, MPB_OK);
		if (--mq->unfinished == 0) {
			while (mq->joiners.n > 0) {
				uintptr_t t = tl_pop_front(&mq->joiners);

				pm_pend(m, t)->parked = false;
				tl_remove(&m->parked, t);
				pm_expect(m, t, MPB_OK, false, 0, 0);
				m->stats[5]++;
			}
		}
	}
	pm_check_sent(m);
}

static void
pm_join(pm *m)
{
	unsigned  qi      = (unsigned) (rnd(&m->rng) % P_QUEUES);
	mqueue   *mq      = &m->q[qi];
	uint32_t  timeout = pm_timeout(m);
	uint32_t  sid     = pm_sid(m);
	uintptr_t tok     = pm_new_pend(m, PK_JOIN, qi, 0, 0, sid, timeout);
	reply     r;
	mpbi_outcome oc;

	oc = call(m->x, sid, tok, REQ(MPBI_OP_Q_JOIN, S(mq->name), U(timeout)),
	    &r);
	if (mq->unfinished == 0) {
		assert_int_equal(oc, MPBI_REPLY);
		assert_int_equal(r.code, MPB_OK);
	} else if (timeout == 0) {
		assert_int_equal(oc, MPBI_REPLY);
		assert_int_equal(r.code, MPB_ETIMEDOUT);
	} else {
		assert_int_equal(oc, MPBI_PARKED);
		pm_pend(m, tok)->parked = true;
		tl_push(&mq->joiners, tok);
		tl_push(&m->parked, tok);
	}
	pm_check_sent(m);
}

// Expects every parked request with a deadline up to `until` to end with
// `code`, in deadline order (what expire and shutdown do).
static void
pm_end_parked(pm *m, mpb_err code, uint64_t until)
{
	uintptr_t *ending = NULL;
	size_t     n = 0, cap = 0;

	for (size_t i = 0; i < m->parked.n; i++) {
		uintptr_t t = m->parked.t[i];

		if (pm_pend(m, t)->deadline <= until) {
			ending      = grow(ending, &cap, n + 1, sizeof(*ending));
			ending[n++] = t;
		}
	}
	if (n > 1) {
		qsort_r(ending, n, sizeof(*ending), token_deadline_cmp, m);
	}
	for (size_t i = 0; i < n; i++) {
		pm_unpark(m, ending[i]);
		pm_expect(m, ending[i], code, false, 0, 0);
	}
	free(ending);
}

static uint64_t
pm_next_deadline(pm *m)
{
	uint64_t d = MPBI_NO_DEADLINE;

	for (size_t i = 0; i < m->parked.n; i++) {
		uint64_t pd = pm_pend(m, m->parked.t[i])->deadline;

		d = pd < d ? pd : d;
	}
	return (d);
}

static void
pm_tick(pm *m)
{
	fx      *x = m->x;
	uint64_t next;

	x->now += rnd(&m->rng) % 120;
	pm_end_parked(m, MPB_ETIMEDOUT, x->now);
	m->stats[6] += m->nexp;
	next = mpbi_broker_expire(x->b, x->now);
	assert_int_equal(next, pm_next_deadline(m));
	pm_check_sent(m);
}

// Ends a session: its parked requests are answered ECONNLOST in no
// promised order; a new session takes its place.
static void
pm_close_session(pm *m)
{
	fx      *x   = m->x;
	unsigned k   = (unsigned) (rnd(&m->rng) % P_SESSIONS);
	uint32_t sid = m->sids[k];
	size_t   n   = 0;

	for (size_t i = 0; i < m->parked.n;) {
		uintptr_t t = m->parked.t[i];

		if (pm_pend(m, t)->sid == sid) {
			pm_unpark(m, t);
			pm_expect(m, t, MPB_ECONNLOST, false, 0, 0);
			n++;
		} else {
			i++;
		}
	}
	mpbi_broker_session_close(x->b, sid);
	// Put the replies sent in token order to compare them.
	assert_int_equal(x->tp.n - m->seen, n);
	for (size_t i = m->seen + 1; i < x->tp.n; i++) {
		for (size_t j = i; j > m->seen &&
		     (uintptr_t) x->tp.s[j - 1].token > (uintptr_t) x->tp.s[j].token;
		     j--) {
			sent tmp       = x->tp.s[j];
			x->tp.s[j]     = x->tp.s[j - 1];
			x->tp.s[j - 1] = tmp;
		}
	}
	pm_check_sent(m);
	m->sids[k] = m->next_sid++;
	assert_int_equal(mpbi_broker_session_open(x->b, m->sids[k]), MPB_OK);
	m->stats[7]++;
}

// A put from a session that has ended: dropped, nothing changes.
static void
pm_dead_put(pm *m)
{
	uint32_t id = m->next_id++;
	ival     v  = ival_of(id);
	reply    r;

	assert_int_equal(call(m->x, m->next_sid + 1000, 1,
	                     REQ(MPBI_OP_Q_PUT, S(m->q[0].name), RAWP(v.b, 5),
	                         I(0), U(0)),
	                     &r),
	    MPBI_DROP);
	m->failed[id] = 1;
	pm_check_sent(m);
}

static void
pm_check_state(pm *m)
{
	for (unsigned i = 0; i < P_QUEUES; i++) {
		const mqueue *mq = &m->q[i];
		qinfo         qi;

		assert_int_equal(q_info(m->x, mq->name, &qi), MPB_OK);
		assert_int_equal(qi.kind, mq->kind);
		assert_int_equal(qi.maxsize, mq->maxsize);
		assert_int_equal(qi.size, mq_len(mq));
		assert_int_equal(qi.unfinished, mq->unfinished);
		// The invariants of core.h.
		assert_true(mq->getters.n == 0 || mq_len(mq) == 0);
		assert_true(mq->putters.n == 0 || mq_full(mq));
	}
	assert_int_equal(mpbi_broker_next_deadline(m->x->b), pm_next_deadline(m));
}

static void
test_exactly_once_property(void **state)
{
	fx         *x = *state;
	mpbi_config cfg;
	pm         *m = calloc(1, sizeof(*m));
	static const struct {
		const char *name;
		mpbi_qkind  kind;
		uint64_t    maxsize;
	} queues[P_QUEUES] = { { "fifo", MPBI_QKIND_FIFO, 0 },
		{ "lifo", MPBI_QKIND_LIFO, 3 },
		{ "prio", MPBI_QKIND_PRIORITY, 2 } };
	const size_t maxitems = P_STEPS + 1;

	assert_non_null(m);
	default_config(&cfg);
	fx_restart(x, &cfg);
	m->x        = x;
	m->rng      = 0x2545f4914f6cdd1dull;
	m->accepted = calloc(maxitems, 1);
	m->failed   = calloc(maxitems, 1);
	m->gotcount = calloc(maxitems, sizeof(*m->gotcount));
	assert_non_null(m->accepted);
	assert_non_null(m->failed);
	assert_non_null(m->gotcount);
	for (unsigned i = 0; i < P_QUEUES; i++) {
		m->q[i].name    = queues[i].name;
		m->q[i].kind    = queues[i].kind;
		m->q[i].maxsize = queues[i].maxsize;
		q_make(x, queues[i].name, queues[i].kind, queues[i].maxsize);
	}
	// Sessions of their own: SID_A stays open for checks and the drain.
	m->next_sid = 100;
	for (unsigned i = 0; i < P_SESSIONS; i++) {
		m->sids[i] = m->next_sid++;
		assert_int_equal(
		    mpbi_broker_session_open(x->b, m->sids[i]), MPB_OK);
	}

	for (unsigned step = 0; step < P_STEPS; step++) {
		unsigned dice = (unsigned) (rnd(&m->rng) % 100);

		// task_done about as often as puts succeed, so unfinished
		// returns to 0 now and then and parked joins get woken.
		if (dice < 27) {
			pm_put(m);
		} else if (dice < 54) {
			pm_get(m);
		} else if (dice < 64) {
			pm_tick(m);
		} else if (dice < 90) {
			pm_task_done(m);
		} else if (dice < 95) {
			pm_join(m);
		} else if (dice < 98) {
			pm_close_session(m);
		} else {
			pm_dead_put(m);
		}
		pm_check_state(m);
		fx_free_kept(x);
	}

	// Drain every queue (a get admits parked puts until none is left),
	// then shut down: the remaining parked requests get ECLOSED.
	for (unsigned i = 0; i < P_QUEUES; i++) {
		mqueue *mq = &m->q[i];

		while (mq_len(mq) > 0) {
			int64_t  prio;
			uint32_t id = mq_pop(mq, &prio);
			got      g;

			assert_int_equal(q_get(x, SID_A, mq->name, 0, &g), MPB_OK);
			assert_int_equal(ival_decode(g.v, g.len), id);
			m->gotcount[id]++;
			if (mq->putters.n > 0) {
				uintptr_t pt = tl_pop_front(&mq->putters);
				pend     *pp = pm_pend(m, pt);

				pp->parked = false;
				tl_remove(&m->parked, pt);
				mq_push(mq, pp->id, pp->prio);
				mq->unfinished++;
				pm_expect(m, pt, MPB_OK, false, 0, 0);
			}
			pm_check_sent(m);
		}
		assert_int_equal(
		    q_get(x, SID_A, mq->name, 0, &(got) { 0 }), MPB_EEMPTY);
		assert_int_equal(mq->putters.n, 0);
	}
	pm_check_state(m);
	pm_end_parked(m, MPB_ECLOSED, MPBI_NO_DEADLINE);
	mpbi_broker_shutdown(x->b);
	pm_check_sent(m);
	assert_int_equal(m->parked.n, 0);

	// The ledger: each item got once if its put was accepted, else never.
	{
		size_t nacc = 0, nfail = 0;

		for (uint32_t id = 0; id < m->next_id; id++) {
			assert_true(m->accepted[id] != m->failed[id]);
			assert_int_equal(m->gotcount[id], m->accepted[id] ? 1 : 0);
			nacc += m->accepted[id];
			nfail += m->failed[id];
		}
		print_message("exactly-once: %u items, %zu accepted, %zu failed; "
		              "%zu hand-offs, %zu EFULL, %zu parked puts (%zu "
		              "admitted), %zu parked gets, %zu joins woken, %zu "
		              "timeouts, %zu session closes\n",
		    m->next_id, nacc, nfail, m->stats[0], m->stats[1],
		    m->stats[2], m->stats[3], m->stats[4], m->stats[5],
		    m->stats[6], m->stats[7]);
		// Every path must have been taken for the test to mean much.
		for (size_t i = 0; i < 8; i++) {
			assert_true(m->stats[i] >= 10);
		}
	}

	for (unsigned i = 0; i < P_QUEUES; i++) {
		free(m->q[i].items);
		free(m->q[i].getters.t);
		free(m->q[i].putters.t);
		free(m->q[i].joiners.t);
	}
	free(m->parked.t);
	free(m->pend);
	free(m->exp);
	free(m->accepted);
	free(m->failed);
	free(m->gotcount);
	free(m);
}

// ---------------------------------------------------------------------

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_config_defaults),
		T(test_ping),
		T(test_bad_requests_change_nothing),
		T(test_frame_size_limit),
		T(test_depth_limit),
		T(test_qcreate),
		T(test_missing_queue_enoent),
		T(test_max_objects),
		T(test_failed_first_use_creates_nothing),
		T(test_fifo_order),
		T(test_lifo_order),
		T(test_priority_order),
		T(test_values_byte_exact),
		T(test_get_empty_eempty),
		T(test_put_full_efull),
		T(test_parked_get_handoff),
		T(test_handoff_priority),
		T(test_parked_getters_arrival_order),
		T(test_thousands_of_waiters),
		T(test_get_reply_oom_keeps_item),
		T(test_hot_path_allocation_free),
		T(test_handoff_reply_oom_keeps_item),
		T(test_parked_get_timeout),
		T(test_next_deadline_exact),
		T(test_parked_put_admitted_fifo),
		T(test_parked_put_admitted_lifo),
		T(test_parked_put_admitted_priority),
		T(test_parked_put_timeout),
		T(test_task_done_join),
		T(test_join_timeout_zero_outstanding),
		T(test_delete_wakes_all),
		T(test_session_close_cancels),
		T(test_closed_session_dropped),
		T(test_session_open_twice),
		T(test_max_parked),
		T(test_qlist_sorted),
		T(test_shutdown_eclosed),
		T(test_destroy_frees_everything),
		T(test_exactly_once_property),
	};

	return (cmocka_run_group_tests_name("core", tests, NULL, NULL));
}
