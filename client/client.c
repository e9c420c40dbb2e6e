// client.c -- connection, context pool and the generic call path of libmpb.
//
// One mpb_client is one req0 socket with one dialer.  Each call borrows an
// nng context from the handle's free list (opening a new one when the list
// is empty), sends its request, waits for the reply on that context and
// gives the context back; threads wait for each other only on the list's
// mutex, never behind another thread's blocking call.  A context on which
// nng reported a failure (send or receive timeout, lost pipe) is closed
// rather than reused, so a late reply can never answer the next request;
// async calls (async.c), whose callbacks must not wait, retire such a
// context to a dead list instead, closed by the next thread that may.
//
// Every nng status is translated here: no NNG_E* code leaves this file.
//
// fork: nng panics when used in a child forked after the parent used it
// (TECH-NOTES 1.9).  The pid that first reached nng through libmpb is kept
// library-wide, and each handle keeps the pid that connected it; a call
// from any other process returns MPB_EFORK before it touches nng.

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <sys/random.h>

#include "client_internal.h"

// Longest broker error text kept for mpb_last_error_text(), NUL included;
// a longer one is cut at a character boundary.
#define ERR_TEXT_MAX 512

// The dialer's reconnect interval starts here and doubles on each failed
// attempt up to the maximum, so a restarted broker is found again within
// about a second, without spinning while it is down.
#define RECONN_MIN_MS 50
#define RECONN_MAX_MS 1000

typedef struct mpbi_ctx {
	nng_ctx          cx_ctx;
	nng_aio         *cx_aio;  // for synchronous calls (async ones bring
	                          // their own aio, with a callback)
	struct mpbi_ctx *cx_next; // next on the free or dead list
} client_ctx;

struct mpb_client {
	uint8_t        *c_secret; // shared secret for auth, or NULL
	size_t          c_secret_len;
	pthread_mutex_t c_auth_mtx; // one handshake at a time
	nng_socket      c_sock;
	bool            c_open;    // c_sock was opened
	pid_t           c_pid;     // the process that connected
	nng_duration    c_conn_ms; // connect timeout; also bounds sends
	uint64_t        c_max_frame; // the broker's, from ping; 0: unknown
	pthread_mutex_t c_mtx;     // protects c_free and c_dead
	client_ctx     *c_free;    // idle contexts
	client_ctx     *c_dead;    // failed contexts waiting to be closed
	_Atomic bool    c_reauth;  // an async call was refused: auth again
	mpbi_async      c_async;   // async calls (async.c)
};

static _Thread_local char err_text[ERR_TEXT_MAX];

// The process that first reached nng through libmpb; 0 until one did.
static _Atomic pid_t nng_pid;

// nng_claim records that this process is about to use nng and tells
// whether it may: not in a fork of a process that already did.
static bool
nng_claim(void)
{
	pid_t self = getpid();
	pid_t prev = 0;

	if (atomic_compare_exchange_strong(&nng_pid, &prev, self)) {
		return (true);
	}
	return (prev == self);
}

void
mpbi_error_clear(void)
{
	err_text[0] = '\0';
}

static void
error_set(const char *text, size_t len)
{
	if (len >= sizeof(err_text)) {
		len = sizeof(err_text) - 1;
		// Back off to the start of the character that would be cut,
		// so the text stays valid UTF-8.
		while (len > 0 && ((unsigned char) text[len] & 0xc0u) == 0x80u) {
			len--;
		}
	}
	memcpy(err_text, text, len);
	err_text[len] = '\0';
}

const char *
mpb_last_error_text(void)
{
	return (err_text);
}

void
mpb_free(void *ptr)
{
	free(ptr);
}

// nng statuses outside the send/receive path: only running out of memory
// is expected; anything else is a bug here or in nng.
static mpb_err
from_nng(int rv)
{
	return (rv == NNG_ENOMEM ? MPB_ENOMEM : MPB_EINTERNAL);
}

// ---------------------------------------------------------------------
// Contexts

static void
ctx_close(client_ctx *cx)
{
	// Closing the context aborts whatever is still pending on it, so
	// freeing the aio afterwards cannot wait on a live operation.
	(void) nng_ctx_close(cx->cx_ctx);
	nng_aio_free(cx->cx_aio);
	free(cx);
}

static mpb_err
ctx_open(mpb_client *c, client_ctx **cxp)
{
	client_ctx *cx;
	int         rv;

	if ((cx = calloc(1, sizeof(*cx))) == NULL) {
		return (MPB_ENOMEM);
	}
	if ((rv = nng_aio_alloc(&cx->cx_aio, NULL, NULL)) != 0) {
		free(cx);
		return (from_nng(rv));
	}
	if ((rv = nng_ctx_open(&cx->cx_ctx, c->c_sock)) != 0) {
		nng_aio_free(cx->cx_aio);
		free(cx);
		return (from_nng(rv));
	}
	// A context copies the socket's resend time when it opens; say it
	// again anyway, since a resend would apply a put or take an item
	// twice (TECH-NOTES 1.3).
	rv = nng_ctx_set_ms(
	    cx->cx_ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (rv != 0) {
		ctx_close(cx);
		return (from_nng(rv));
	}
	*cxp = cx;
	return (MPB_OK);
}

// ctx_close_list closes every context on a list.
static void
ctx_close_list(client_ctx *cx)
{
	client_ctx *next;

	for (; cx != NULL; cx = next) {
		next = cx->cx_next;
		ctx_close(cx);
	}
}

void
mpbi_ctx_close_dead(mpb_client *c)
{
	client_ctx *dead;

	pthread_mutex_lock(&c->c_mtx);
	dead      = c->c_dead;
	c->c_dead = NULL;
	pthread_mutex_unlock(&c->c_mtx);
	ctx_close_list(dead);
}

// ctx_get borrows an idle context or opens one.  It never waits: async.c
// calls it under its own lock and from callbacks.
static mpb_err
ctx_get(mpb_client *c, client_ctx **cxp)
{
	client_ctx *cx;

	pthread_mutex_lock(&c->c_mtx);
	if ((cx = c->c_free) != NULL) {
		c->c_free = cx->cx_next;
	}
	pthread_mutex_unlock(&c->c_mtx);
	if (cx == NULL) {
		return (ctx_open(c, cxp));
	}
	*cxp = cx;
	return (MPB_OK);
}

// ctx_push puts cx on one of c's lists: c_free or c_dead.
static void
ctx_push(mpb_client *c, client_ctx **listp, client_ctx *cx)
{
	pthread_mutex_lock(&c->c_mtx);
	cx->cx_next = *listp;
	*listp      = cx;
	pthread_mutex_unlock(&c->c_mtx);
}

static void
ctx_put(mpb_client *c, client_ctx *cx)
{
	ctx_push(c, &c->c_free, cx);
}

mpb_err
mpbi_ctx_get(mpb_client *c, mpbi_ctx **cxp)
{
	return (ctx_get(c, cxp));
}

void
mpbi_ctx_put(mpb_client *c, mpbi_ctx *cx)
{
	ctx_put(c, cx);
}

void
mpbi_ctx_drop(mpb_client *c, mpbi_ctx *cx)
{
	ctx_push(c, &c->c_dead, cx);
}

nng_ctx
mpbi_ctx_nng(const mpbi_ctx *cx)
{
	return (cx->cx_ctx);
}

mpb_err
mpbi_send_err(int rv)
{
	return (rv == NNG_ENOMEM ? MPB_ENOMEM : MPB_ECONNLOST);
}

mpb_err
mpbi_recv_err(int rv)
{
	switch (rv) {
	case NNG_ETIMEDOUT:
		return (MPB_ENOREPLY);
	case NNG_ENOMEM:
		return (MPB_ENOMEM);
	default: // NNG_ECONNRESET, NNG_ECLOSED, NNG_ECANCELED, ...
		return (MPB_ECONNLOST);
	}
}

// transact sends req on a context of c and waits up to recv_ms for its
// reply.  Takes ownership of req; on MPB_OK *replyp is the reply.
static mpb_err
transact(mpb_client *c, nng_msg *req, nng_duration recv_ms, nng_msg **replyp)
{
	client_ctx *cx;
	nng_aio    *aio;
	mpb_err     err;
	int         rv;

	// Contexts retired by async callbacks are closed here, by a thread
	// that may wait: closing one waits on nng.
	mpbi_ctx_close_dead(c);
	if ((err = ctx_get(c, &cx)) != MPB_OK) {
		nng_msg_free(req);
		return (err);
	}
	aio = cx->cx_aio;

	// The send completes when the request is handed to a connection;
	// it times out only when there is none (broker down, reconnecting).
	nng_aio_set_msg(aio, req);
	nng_aio_set_timeout(aio, mpbi_send_timeout(c));
	nng_ctx_send(cx->cx_ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		// A failed send gives the message back to us.
		if ((req = nng_aio_get_msg(aio)) != NULL) {
			nng_msg_free(req);
			nng_aio_set_msg(aio, NULL);
		}
		ctx_close(cx);
		return (mpbi_send_err(rv));
	}
	nng_aio_set_msg(aio, NULL);

	// Receive only once the send has completed: cancelling a req
	// receive while its send is pending crashes nng 1.5.2 (#1702).
	nng_aio_set_timeout(aio, recv_ms);
	nng_ctx_recv(cx->cx_ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		// The request may have been applied.  The context is
		// dropped: it must not be reused with this request open.
		ctx_close(cx);
		return (mpbi_recv_err(rv));
	}
	*replyp = nng_aio_get_msg(aio);
	nng_aio_set_msg(aio, NULL);
	ctx_put(c, cx);
	return (MPB_OK);
}

// recv_timeout is how long a call waits for its reply: the time the
// broker may park it plus a margin, or the connect timeout for calls that
// never park.
nng_duration
mpbi_recv_timeout(const mpb_client *c, int64_t wait_ms)
{
	int64_t ms;

	if (wait_ms < 0) {
		return (c->c_conn_ms);
	}
	ms = wait_ms + MPB_REPLY_MARGIN_MS;
	// nng counts in int32 milliseconds: the safety net stops at ~24 days.
	return (ms > INT32_MAX ? INT32_MAX : (nng_duration) ms);
}

nng_duration
mpbi_send_timeout(const mpb_client *c)
{
	return (c->c_conn_ms);
}

// ---------------------------------------------------------------------
// The call path

mpb_err
mpbi_client_check(const mpb_client *c)
{
	if (c == NULL) {
		return (MPB_EINVAL);
	}
	if (c->c_pid != getpid()) {
		return (MPB_EFORK);
	}
	return (MPB_OK);
}

uint64_t
mpbi_client_max_frame(const mpb_client *c)
{
	return (c->c_max_frame);
}

mpbi_async *
mpbi_client_async(mpb_client *c)
{
	return (&c->c_async);
}

mpb_err
mpbi_call_open(mpbi_call *call, mpb_client *c)
{
	mpb_err err;

	memset(call, 0, sizeof(*call));
	call->client = c;
	mpbi_error_clear();
	if ((err = mpbi_client_check(c)) != MPB_OK) {
		return (err);
	}
	if (nng_msg_alloc(&call->req, 0) != 0) {
		return (MPB_ENOMEM);
	}
	mpbi_writer_init(&call->w, call->req);
	return (MPB_OK);
}

mpb_err
mpbi_call_begin(mpbi_call *call, mpb_client *c, mpbi_op op, size_t nargs)
{
	mpb_err err = mpbi_call_open(call, c);

	if (err == MPB_OK) {
		call->op = op;
		mpbi_request_begin(&call->w, op, nargs);
	}
	return (err);
}

static mpb_err authenticate(mpb_client *c);

// One round trip of call's request; a copy is kept (in *againp) when the
// handle has a secret, so a request refused for want of authentication
// (a reconnect makes a new, unauthenticated session) can be sent again.
static mpb_err
call_once(mpbi_call *call, int64_t wait_ms, nng_msg **againp)
{
	mpb_client *c   = call->client;
	nng_msg    *req = call->req;

	call->req = NULL;
	*againp   = NULL;
	if (c->c_secret != NULL && call->op != MPBI_OP_AUTH_CHALLENGE &&
	    call->op != MPBI_OP_AUTH_PROVE && nng_msg_dup(againp, req) != 0) {
		nng_msg_free(req);
		return (MPB_ENOMEM);
	}
	return (transact(c, req, mpbi_recv_timeout(c, wait_ms), &call->reply));
}

mpb_err
mpbi_call_ready(mpbi_call *call)
{
	mpb_client *c = call->client;
	mpb_err     err;
	size_t      len;

	if ((err = mpbi_writer_err(&call->w)) != MPB_OK) {
		return (err);
	}
	// A frame over the broker's limit is refused here rather than sent:
	// a broker reads at most a little more before it closes the
	// connection without an answer.
	len = nng_msg_len(call->req);
	if (c->c_max_frame != 0 && len > c->c_max_frame) {
		char text[96];
		int  n = snprintf(text, sizeof(text),
		     "request of %zu bytes exceeds the broker's frame limit of "
		     "%llu",
		     len, (unsigned long long) c->c_max_frame);
		error_set(text, n > 0 ? (size_t) n : 0);
		return (MPB_EMSGSIZE);
	}
	return (MPB_OK);
}

mpb_err
mpbi_call_run(mpbi_call *call, int64_t wait_ms, size_t nresults)
{
	nng_msg *again;
	mpb_err  err;

	if ((err = mpbi_call_ready(call)) != MPB_OK) {
		return (err);
	}
	// A done function runs on one of nng's few task threads, which
	// also carry the replies: blocking it in a round trip could leave
	// none to read that round trip's answer.
	if (mpbi_in_callback()) {
		return (MPB_ESTATE);
	}
	err = call_once(call, wait_ms, &again);
	if (err == MPB_OK && again != NULL &&
	    mpbi_reply_parse(nng_msg_body(call->reply), nng_msg_len(call->reply),
	        MPBI_MAX_DEPTH_CAP, &call->f, NULL, NULL) == MPB_EAUTH) {
		// Refused unrun: this session has not authenticated (the
		// connection was re-established).  Prove the secret, then
		// send the same request once more.
		nng_msg_free(call->reply);
		call->reply = NULL;
		call->req   = again;
		again       = NULL;
		if ((err = authenticate(call->client)) == MPB_OK) {
			err = call_once(call, wait_ms, &again);
		}
	}
	if (again != NULL) {
		nng_msg_free(again);
	}
	if (err != MPB_OK) {
		return (err);
	}
	return (mpbi_call_reply(call, nresults));
}

mpb_err
mpbi_call_reply(mpbi_call *call, size_t nresults)
{
	return (mpbi_reply_read(nng_msg_body(call->reply),
	    nng_msg_len(call->reply), nresults, &call->f));
}

mpb_err
mpbi_reply_read(const void *buf, size_t len, size_t nresults, mpbi_frame *f)
{
	const char *text    = NULL;
	size_t      textlen = 0;
	mpb_err     err;

	err = mpbi_reply_parse(buf, len, MPBI_MAX_DEPTH_CAP, f, &text, &textlen);
	if (text != NULL) {
		// The broker answered with an error.  (A reply that does not
		// parse also gives MPB_EPROTO, but leaves text NULL.)
		error_set(text, textlen);
		return (err);
	}
	if (err != MPB_OK) {
		return (err);
	}
	// More results are fine: a newer broker may append some.
	if (f->nelem < nresults + 1) {
		return (MPB_EPROTO);
	}
	return (MPB_OK);
}

void
mpbi_call_fini(mpbi_call *call)
{
	if (call->req != NULL) {
		nng_msg_free(call->req);
		call->req = NULL;
	}
	if (call->reply != NULL) {
		nng_msg_free(call->reply);
		call->reply = NULL;
	}
}

// ---------------------------------------------------------------------
// Connection

static mpb_err
ping(mpb_client *c, uint32_t *versionp)
{
	mpbi_call   call;
	uint64_t    version;
	const char *server;
	size_t      serverlen;
	mpb_err     err;

	err = mpbi_call_begin(&call, c, MPBI_OP_PING, 0);
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 2);
	}
	if (err == MPB_OK &&
	    (mpbi_span_uint(call.f.elem[1], &version) != MPB_OK ||
	        version > UINT32_MAX ||
	        mpbi_span_str(call.f.elem[2], &server, &serverlen) !=
	            MPB_OK)) {
		err = MPB_EPROTO;
	}
	// Brokers before the frame limit was in ping send two results.
	if (err == MPB_OK && call.f.nelem > 3 &&
	    mpbi_span_uint(call.f.elem[3], &c->c_max_frame) != MPB_OK) {
		err = MPB_EPROTO;
	}
	if (err == MPB_OK && versionp != NULL) {
		*versionp = (uint32_t) version;
	}
	mpbi_call_fini(&call);
	return (err);
}

mpb_err
mpb_ping(mpb_client *c, uint32_t *versionp)
{
	return (ping(c, versionp));
}

// auth_round runs one of the two auth ops and copies its one binary
// result of exactly `want` bytes to out.
static mpb_err
auth_round(mpb_client *c, mpbi_op op, const uint8_t *nonce,
    const uint8_t *mac, uint8_t *out, size_t want)
{
	mpbi_call      call;
	const uint8_t *p;
	size_t         n;
	mpb_err        err;

	err = mpbi_call_begin(&call, c, op, nonce != NULL ? 2 : 0);
	if (err == MPB_OK) {
		if (nonce != NULL) {
			mpbi_put_bin(&call.w, nonce, MPBI_AUTH_NONCE_LEN);
			mpbi_put_bin(&call.w, mac, MPBI_AUTH_MAC_LEN);
		}
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 1);
	}
	if (err == MPB_OK &&
	    (mpbi_span_bytes(call.f.elem[1], &p, &n) != MPB_OK || n != want)) {
		err = MPB_EPROTO;
	}
	if (err == MPB_OK) {
		memcpy(out, p, n);
	}
	mpbi_call_fini(&call);
	return (err);
}

// authenticate proves to the broker that this handle knows the secret,
// and checks the broker's proof that it does too (proto/auth.c).
static mpb_err
authenticate(mpb_client *c)
{
	uint8_t snonce[MPBI_AUTH_NONCE_LEN];
	uint8_t cnonce[MPBI_AUTH_NONCE_LEN];
	uint8_t mac[MPBI_AUTH_MAC_LEN];
	uint8_t proof[MPBI_AUTH_MAC_LEN];
	mpb_err err;

	pthread_mutex_lock(&c->c_auth_mtx);
	err = auth_round(c, MPBI_OP_AUTH_CHALLENGE, NULL, NULL, snonce,
	    sizeof(snonce));
	if (err == MPB_OK &&
	    getrandom(cnonce, sizeof(cnonce), 0) != (ssize_t) sizeof(cnonce)) {
		err = MPB_EINTERNAL;
	}
	if (err == MPB_OK) {
		err = mpbi_auth_mac(c->c_secret, c->c_secret_len, false, snonce,
		    cnonce, mac);
	}
	if (err == MPB_OK) {
		err = auth_round(
		    c, MPBI_OP_AUTH_PROVE, cnonce, mac, proof, sizeof(proof));
	}
	if (err == MPB_OK) {
		err = mpbi_auth_mac(c->c_secret, c->c_secret_len, true, snonce,
		    cnonce, mac);
	}
	// A broker that cannot prove the secret back is not ours.
	if (err == MPB_OK && !mpbi_auth_equal(mac, proof, sizeof(mac))) {
		err = MPB_EAUTH;
	}
	pthread_mutex_unlock(&c->c_auth_mtx);
	return (err);
}

void
mpbi_reauth_later(mpb_client *c)
{
	if (c->c_secret != NULL) {
		atomic_store(&c->c_reauth, true);
	}
}

mpb_err
mpbi_reauth(mpb_client *c)
{
	mpb_err err;

	if (!atomic_exchange(&c->c_reauth, false)) {
		return (MPB_OK);
	}
	if ((err = authenticate(c)) != MPB_OK) {
		atomic_store(&c->c_reauth, true); // the next one tries again
	}
	return (err);
}

// dial_err translates a failed nng_dialer_create/start.
static mpb_err
dial_err(int rv)
{
	switch (rv) {
	case NNG_EINVAL:     // malformed URL
	case NNG_EADDRINVAL: // bad address: ipc path too long, bad port,
	                     // host that does not resolve
	case NNG_ENOTSUP:    // unknown scheme
		return (MPB_EINVAL);
	case NNG_ENOMEM:
		return (MPB_ENOMEM);
	default: // NNG_ECONNREFUSED, NNG_ENOENT, unreachable, ...
		return (MPB_ENOBROKER);
	}
}

// dial_tls gives a tls+tcp:// dialer the CA that must have signed the
// broker's certificate, and the name the certificate must carry.
static mpb_err
dial_tls(nng_dialer d, const char *url, const mpb_connect_opts *opts)
{
	const char     *ca   = opts->tls_ca_file;
	const char     *name = opts->tls_server_name;
	nng_tls_config *tls;
	nng_url        *u = NULL;
	int             rv;

	if (ca == NULL) {
		ca = getenv("MPB_TLS_CA");
	}
	if (ca == NULL || ca[0] == '\0') {
		return (MPB_EINVAL); // no unverified TLS
	}
	if (name == NULL) {
		if (nng_url_parse(&u, url) != 0) {
			return (MPB_EINVAL);
		}
		name = u->u_hostname;
	}
	if ((rv = nng_tls_config_alloc(&tls, NNG_TLS_MODE_CLIENT)) != 0) {
		nng_url_free(u);
		return (from_nng(rv));
	}
	rv = nng_tls_config_auth_mode(tls, NNG_TLS_AUTH_MODE_REQUIRED);
	if (rv == 0) {
		rv = nng_tls_config_ca_file(tls, ca);
	}
	if (rv == 0) {
		rv = nng_tls_config_server_name(tls, name);
	}
	if (rv == 0) {
		rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tls);
	}
	nng_tls_config_free(tls); // the dialer keeps its reference
	nng_url_free(u);
	return (rv == 0 ? MPB_OK : rv == NNG_ENOMEM ? MPB_ENOMEM : MPB_EINVAL);
}

// dial_once makes one dialer for url and starts it synchronously.
static int
dial_once(mpb_client *c, const char *url, const mpb_connect_opts *opts,
    mpb_err *errp)
{
	nng_dialer d;
	int        rv;

	*errp = MPB_OK;
	if ((rv = nng_dialer_create(&d, c->c_sock, url)) != 0) {
		*errp = dial_err(rv);
		return (rv);
	}
	rv = nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, RECONN_MIN_MS);
	if (rv == 0) {
		rv = nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, RECONN_MAX_MS);
	}
	if (rv != 0) {
		*errp = from_nng(rv);
		return (rv);
	}
	if (strncmp(url, "tls+tcp://", 10) == 0 &&
	    (*errp = dial_tls(d, url, opts)) != MPB_OK) {
		return (NNG_EINVAL);
	}
	// Synchronous: the first attempt's failure comes back here, so
	// "nobody listens there" fails at once instead of retrying in the
	// background.
	if ((rv = nng_dialer_start(d, 0)) != 0) {
		(void) nng_dialer_close(d);
		*errp = dial_err(rv);
	}
	return (rv);
}

static mpb_err
client_dial(mpb_client *c, const char *url, const mpb_connect_opts *opts)
{
	nng_duration waited = 0;
	nng_duration pause  = 5;
	mpb_err      err;
	int          rv;

	// Resend off: req0 resends after 60 s and on every reconnect, which
	// would apply a put or take an item twice (TECH-NOTES 1.3).  Calls
	// bound their sends with aio timeouts; the socket's send timeout
	// backs them up, since with no connection a req send waits forever.
	rv = nng_socket_set_ms(
	    c->c_sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (rv == 0) {
		rv = nng_socket_set_ms(c->c_sock, NNG_OPT_SENDTIMEO, c->c_conn_ms);
	}
	if (rv != 0) {
		return (from_nng(rv));
	}
	// A full listen backlog (EAGAIN: many processes connecting at once)
	// is worth waiting out, up to the connect timeout.
	while (dial_once(c, url, opts, &err) == NNG_EAGAIN &&
	    waited < c->c_conn_ms) {
		nng_msleep(pause);
		waited += pause;
		pause = pause < 100 ? 2 * pause : 100;
	}
	return (err);
}

// client_free releases c and everything under it.  Only in the process
// that connected: elsewhere nng must not be called.
static void
client_free(mpb_client *c)
{
	ctx_close_list(c->c_free);
	ctx_close_list(c->c_dead);
	if (c->c_open) {
		(void) nng_close(c->c_sock);
	}
	mpbi_async_fini(&c->c_async);
	pthread_mutex_destroy(&c->c_mtx);
	pthread_mutex_destroy(&c->c_auth_mtx);
	free(c->c_secret);
	free(c);
}

mpb_err
mpb_connect(const char *url, int connect_timeout_ms, mpb_client **clientp)
{
	mpb_connect_opts opts = { 0 };

	opts.url                = url;
	opts.connect_timeout_ms = connect_timeout_ms;
	return (mpb_connect_ex(&opts, clientp));
}

// client_new allocates a handle that has not touched nng yet.
static mpb_err
client_new(const mpb_connect_opts *opts, mpb_client **cp)
{
	const char *auth_file = opts->auth_file;
	mpb_client *c;
	mpb_err     err;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return (MPB_ENOMEM);
	}
	if (pthread_mutex_init(&c->c_mtx, NULL) != 0) {
		free(c);
		return (MPB_ENOMEM);
	}
	if (pthread_mutex_init(&c->c_auth_mtx, NULL) != 0) {
		pthread_mutex_destroy(&c->c_mtx);
		free(c);
		return (MPB_ENOMEM);
	}
	if (mpbi_async_init(&c->c_async) != MPB_OK) {
		pthread_mutex_destroy(&c->c_auth_mtx);
		pthread_mutex_destroy(&c->c_mtx);
		free(c);
		return (MPB_ENOMEM);
	}
	c->c_pid     = getpid();
	c->c_conn_ms = opts->connect_timeout_ms != 0
	    ? opts->connect_timeout_ms
	    : MPB_DEFAULT_CONNECT_TIMEOUT_MS;
	if (auth_file == NULL) {
		auth_file = getenv("MPB_AUTH_FILE");
	}
	if (auth_file != NULL && auth_file[0] != '\0' &&
	    (err = mpbi_auth_read_secret(
	         auth_file, &c->c_secret, &c->c_secret_len)) != MPB_OK) {
		client_free(c);
		return (err);
	}
	*cp = c;
	return (MPB_OK);
}

mpb_err
mpb_connect_ex(const mpb_connect_opts *opts, mpb_client **clientp)
{
	const char *url;
	mpb_client *c;
	uint32_t    version;
	mpb_err     err;
	int         rv;

	mpbi_error_clear();
	if (opts == NULL || clientp == NULL || opts->connect_timeout_ms < 0) {
		return (MPB_EINVAL);
	}
	// Dialing waits on nng: not on a task thread (see mpbi_call_run).
	if (mpbi_in_callback()) {
		return (MPB_ESTATE);
	}
	if ((url = opts->url) == NULL) {
		url = getenv("MPB_URL");
		if (url == NULL || url[0] == '\0') {
			url = MPB_DEFAULT_URL;
		}
	}
	// Claimed before the first nng call, even one that then fails:
	// nng may already have started its threads by then.
	if (!nng_claim()) {
		return (MPB_EFORK);
	}
	if ((err = client_new(opts, &c)) != MPB_OK) {
		return (err);
	}
	if ((rv = nng_req0_open(&c->c_sock)) != 0) {
		client_free(c);
		return (from_nng(rv));
	}
	c->c_open = true;

	if ((err = client_dial(c, url, opts)) != MPB_OK) {
		client_free(c);
		return (err);
	}
	// A completed dial proves only that something accepted the
	// connection: a ping proves a broker serves it.
	// Anything but an answer (an error reply, a timeout, a reply that
	// does not parse) means no broker of ours serves this address.
	err = ping(c, &version);
	if (err != MPB_OK && err != MPB_ENOMEM) {
		err = MPB_ENOBROKER;
	}
	// Versions change only when an older client could misread replies.
	if (err == MPB_OK && version != MPBI_PROTOCOL_VERSION) {
		err = MPB_ENOTSUP;
	}
	if (err == MPB_OK && c->c_secret != NULL) {
		err = authenticate(c);
	}
	if (err != MPB_OK) {
		client_free(c);
		if (err != MPB_EAUTH) {
			mpbi_error_clear();
		}
		return (err);
	}
	*clientp = c;
	return (MPB_OK);
}

void
mpb_close(mpb_client *c)
{
	if (c == NULL) {
		return;
	}
	if (c->c_pid != getpid()) {
		// A forked child must not call nng, and cannot take the
		// list's mutex either (a parent thread may have held it at
		// the fork): the nng objects and contexts are leaked, and
		// only the handle itself is freed.
		free(c);
		return;
	}
	// Calls still in flight fail now, and their callbacks return,
	// before anything they use is freed.
	mpbi_async_close(c);
	client_free(c);
}

mpb_err
mpbi_request_named(mpbi_writer *w, mpbi_op op, const char *name, size_t nargs)
{
	if (name == NULL || name[0] == '\0') {
		return (MPB_EINVAL);
	}
	mpbi_request_begin(w, op, nargs);
	mpbi_put_str(w, name, strlen(name));
	return (MPB_OK);
}

mpb_err
mpbi_call_named(mpbi_call *call, mpb_client *c, mpbi_op op, const char *name,
    size_t nargs)
{
	mpb_err err = mpbi_call_open(call, c);

	if (err == MPB_OK) {
		call->op = op;
		err      = mpbi_request_named(&call->w, op, name, nargs);
	}
	return (err);
}

mpb_err
mpbi_value_check(const void *value, size_t len)
{
	if (value == NULL ||
	    mpbi_check(value, len, MPBI_MAX_DEPTH_CAP - 1) != MPB_OK) {
		return (MPB_EINVAL);
	}
	return (MPB_OK);
}

mpb_err
mpbi_value_dup(mpbi_span value, void **valuep, size_t *lenp)
{
	void *buf;

	// The reply check made the value one msgpack object: at least a byte.
	if ((buf = malloc(value.len)) == NULL) {
		return (MPB_ENOMEM);
	}
	memcpy(buf, value.ptr, value.len);
	*valuep = buf;
	*lenp   = value.len;
	return (MPB_OK);
}

mpb_err
mpbi_str_dup(const char *p, size_t len, char **strp)
{
	char *s;

	if ((s = malloc(len + 1)) == NULL) {
		return (MPB_ENOMEM);
	}
	memcpy(s, p, len);
	s[len] = '\0';
	*strp  = s;
	return (MPB_OK);
}
