// client.c -- connection, authentication and the generic call path of
// libmpb.
//
// One mpb_client is one link to the broker (transport.c, the only file
// that uses nng's sockets, dialers, contexts and aios).  Each call writes
// its request, runs it through the link synchronously (mpbi_link_call) and
// reads the reply; async calls (async.c) run theirs on the link's
// asynchronous exchanges.  No NNG_E* code reaches this file: the link
// translates them.
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
#include <sys/random.h>

#include "client_internal.h"

// Longest broker error text kept for mpb_last_error_text(), NUL included;
// a longer one is cut at a character boundary.
#define ERR_TEXT_MAX 512

struct mpb_client {
	uint8_t        *c_secret; // shared secret for auth, or NULL
	size_t          c_secret_len;
	pthread_mutex_t c_auth_mtx; // one handshake at a time
	mpbi_link      *c_link;    // the connection; NULL until dialled
	pid_t           c_pid;     // the process that connected
	int32_t         c_conn_ms; // connect timeout; also bounds sends
	uint64_t        c_max_frame; // the broker's, from ping; 0: unknown
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

// ---------------------------------------------------------------------
// Timeouts

// mpbi_recv_timeout is how long a call waits for its reply: the time the
// broker may park it plus a margin, or the connect timeout for calls that
// never park.
int32_t
mpbi_recv_timeout(const mpb_client *c, int64_t wait_ms)
{
	int64_t ms;

	if (wait_ms < 0) {
		return (c->c_conn_ms);
	}
	ms = wait_ms + MPB_REPLY_MARGIN_MS;
	// nng counts in int32 milliseconds: the safety net stops at ~24 days.
	return (ms > INT32_MAX ? INT32_MAX : (int32_t) ms);
}

int32_t
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

mpbi_link *
mpbi_client_link(mpb_client *c)
{
	return (c->c_link);
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

// rides_pipeline: whether call may go through async.c's pipeline, where
// the calls that cannot wait in the broker, from every thread sharing the
// handle, travel many to a frame (when the handle is idle it still goes
// straight to the link: mpbi_direct_enter).  Not a batch (a batch cannot
// hold one) and not the handshake (it must run before anything else).
static bool
rides_pipeline(const mpbi_call *call, int64_t wait_ms)
{
	return (wait_ms <= 0 && call->op != MPBI_OP_BATCH &&
	    call->op != MPBI_OP_AUTH_CHALLENGE && call->op != MPBI_OP_AUTH_PROVE);
}

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
	if (rides_pipeline(call, wait_ms)) {
		mpb_err err;

		if (!mpbi_direct_enter(c)) {
			return (mpbi_call_pipelined(c, req, wait_ms, &call->reply));
		}
		err = mpbi_link_call(c->c_link, req, mpbi_send_timeout(c),
		    mpbi_recv_timeout(c, wait_ms), &call->reply);
		mpbi_direct_leave(c);
		return (err);
	}
	return (mpbi_link_call(c->c_link, req, mpbi_send_timeout(c),
	    mpbi_recv_timeout(c, wait_ms), &call->reply));
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
	// A pipelined call shares the refusal of its whole batch.
	if (again != NULL &&
	    (err == MPB_EAUTH ||
	        (err == MPB_OK &&
	            mpbi_reply_parse(nng_msg_body(call->reply),
	                nng_msg_len(call->reply), MPBI_MAX_DEPTH_CAP, &call->f,
	                NULL, NULL) == MPB_EAUTH))) {
		// Refused unrun: this session has not authenticated (the
		// connection was re-established).  Prove the secret, then
		// send the same request once more.
		if (call->reply != NULL) {
			nng_msg_free(call->reply);
		}
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

// client_free releases c and everything under it.  Only in the process
// that connected: elsewhere nng must not be called.
static void
client_free(mpb_client *c)
{
	if (c->c_link != NULL) {
		mpbi_link_close(c->c_link);
	}
	mpbi_async_fini(&c->c_async);
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
	if (pthread_mutex_init(&c->c_auth_mtx, NULL) != 0) {
		free(c);
		return (MPB_ENOMEM);
	}
	if (mpbi_async_init(&c->c_async) != MPB_OK) {
		pthread_mutex_destroy(&c->c_auth_mtx);
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
	if ((err = mpbi_link_open(url, opts, c->c_conn_ms, &c->c_link)) !=
	    MPB_OK) {
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
		// link's mutexes either (a parent thread may have held one
		// at the fork): the link, its nng objects and contexts are
		// leaked, and only the handle itself is freed.
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
