// transport.c -- libmpb's link to the broker over nng (see transport.h).
//
// A link is one req0 socket with one dialer.  Each exchange borrows an nng
// context from the link's free list (opening a new one when the list is
// empty), sends its request, receives the reply on that context and gives
// the context back; threads wait for each other only on the list's mutex,
// never behind another thread's blocking call.  A context on which nng
// reported a failure (send or receive timeout, lost pipe) is closed rather
// than reused, so a late reply can never answer the next request;
// asynchronous exchanges, whose callbacks must not wait, retire such a
// context to a dead list instead, closed by the next thread that may.
//
// Every nng status is translated here: no NNG_E* code leaves this file.
//
// An exchange (mpbi_xchg) is a context and an aio whose callback drives
// send -> receive -> the completion function.  Its callbacks never block:
// the only locks they take are brief (the exchange's own, the context
// pool's, and whatever the completion function takes).  Lock order: the
// caller's locks (async.c's a_mtx), then an exchange's x_mtx, then the
// context pool's c_mtx and nng's own locks.  Starts and cancels may run
// under the caller's lock because nng 1.5.2 never runs a completion
// inline in the call that starts or cancels an operation (it dispatches
// every one to a task thread): a callback run inline would take that lock
// again.

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "transport.h"

// The dialer's reconnect interval starts here and doubles on each failed
// attempt up to the maximum, so a restarted broker is found again within
// about a second, without spinning while it is down.
#define RECONN_MIN_MS 50
#define RECONN_MAX_MS 1000

typedef struct link_ctx {
	nng_ctx          cx_ctx;
	nng_aio         *cx_aio;  // for synchronous calls (exchanges bring
	                          // their own aio, with a callback)
	struct link_ctx *cx_next; // next on the free or dead list
} link_ctx;

struct mpbi_link {
	nng_socket      l_sock;
	pthread_mutex_t l_mtx;  // protects l_free and l_dead
	link_ctx       *l_free; // idle contexts
	link_ctx       *l_dead; // failed contexts waiting to be closed
};

struct mpbi_xchg {
	mpbi_link      *x_link;
	link_ctx       *x_cx;
	nng_aio        *x_aio;
	mpbi_xchg_fn    x_fn;
	void           *x_arg;
	int32_t         x_recv_ms;   // how long the reply may take
	bool            x_sent;      // the send completed; the receive is next
	pthread_mutex_t x_mtx;       // orders x_cancelled with the receive
	bool            x_cancelled; // mpbi_xchg_cancel ran since the start
};

// nng statuses outside the send/receive path: only running out of memory
// is expected; anything else is a bug here or in nng.
static mpb_err
from_nng(int rv)
{
	return (rv == NNG_ENOMEM ? MPB_ENOMEM : MPB_EINTERNAL);
}

// send_err is the mpb_err for a failed send of a request: it did not run.
static mpb_err
send_err(int rv)
{
	return (rv == NNG_ENOMEM ? MPB_ENOMEM : MPB_ECONNLOST);
}

// recv_err is the mpb_err for a failed receive of a reply.
static mpb_err
recv_err(int rv)
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

// ---------------------------------------------------------------------
// Contexts

static void
ctx_close(link_ctx *cx)
{
	// Closing the context aborts whatever is still pending on it, so
	// freeing the aio afterwards cannot wait on a live operation.
	(void) nng_ctx_close(cx->cx_ctx);
	nng_aio_free(cx->cx_aio);
	free(cx);
}

static mpb_err
ctx_open(mpbi_link *l, link_ctx **cxp)
{
	link_ctx *cx;
	int       rv;

	if ((cx = calloc(1, sizeof(*cx))) == NULL) {
		return (MPB_ENOMEM);
	}
	if ((rv = nng_aio_alloc(&cx->cx_aio, NULL, NULL)) != 0) {
		free(cx);
		return (from_nng(rv));
	}
	if ((rv = nng_ctx_open(&cx->cx_ctx, l->l_sock)) != 0) {
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
ctx_close_list(link_ctx *cx)
{
	link_ctx *next;

	for (; cx != NULL; cx = next) {
		next = cx->cx_next;
		ctx_close(cx);
	}
}

void
mpbi_link_close_retired(mpbi_link *l)
{
	link_ctx *dead;

	pthread_mutex_lock(&l->l_mtx);
	dead      = l->l_dead;
	l->l_dead = NULL;
	pthread_mutex_unlock(&l->l_mtx);
	ctx_close_list(dead);
}

// ctx_get borrows an idle context or opens one.  It never waits:
// exchanges are made under their callers' locks and in callbacks.
static mpb_err
ctx_get(mpbi_link *l, link_ctx **cxp)
{
	link_ctx *cx;

	pthread_mutex_lock(&l->l_mtx);
	if ((cx = l->l_free) != NULL) {
		l->l_free = cx->cx_next;
	}
	pthread_mutex_unlock(&l->l_mtx);
	if (cx == NULL) {
		return (ctx_open(l, cxp));
	}
	*cxp = cx;
	return (MPB_OK);
}

// ctx_push puts cx on one of l's lists: l_free or l_dead.
static void
ctx_push(mpbi_link *l, link_ctx **listp, link_ctx *cx)
{
	pthread_mutex_lock(&l->l_mtx);
	cx->cx_next = *listp;
	*listp      = cx;
	pthread_mutex_unlock(&l->l_mtx);
}

// ---------------------------------------------------------------------
// Synchronous calls

mpb_err
mpbi_link_call(mpbi_link *l, nng_msg *req, int32_t send_ms, int32_t recv_ms,
    nng_msg **replyp)
{
	link_ctx *cx;
	nng_aio  *aio;
	mpb_err   err;
	int       rv;

	// Contexts retired by failed exchanges are closed here, by a thread
	// that may wait: closing one waits on nng.
	mpbi_link_close_retired(l);
	if ((err = ctx_get(l, &cx)) != MPB_OK) {
		nng_msg_free(req);
		return (err);
	}
	aio = cx->cx_aio;

	// The send completes when the request is handed to a connection;
	// it times out only when there is none (broker down, reconnecting).
	nng_aio_set_msg(aio, req);
	nng_aio_set_timeout(aio, send_ms);
	nng_ctx_send(cx->cx_ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		// A failed send gives the message back to us.
		if ((req = nng_aio_get_msg(aio)) != NULL) {
			nng_msg_free(req);
			nng_aio_set_msg(aio, NULL);
		}
		ctx_close(cx);
		return (send_err(rv));
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
		return (recv_err(rv));
	}
	*replyp = nng_aio_get_msg(aio);
	nng_aio_set_msg(aio, NULL);
	ctx_push(l, &l->l_free, cx);
	return (MPB_OK);
}

// ---------------------------------------------------------------------
// Asynchronous exchanges

static void
xchg_cb(void *arg)
{
	mpbi_xchg *x  = arg;
	nng_msg   *msg;
	int        rv = nng_aio_result(x->x_aio);

	if (!x->x_sent) {
		if (rv != 0) {
			// A failed send gives the request back: nothing ran.
			if ((msg = nng_aio_get_msg(x->x_aio)) != NULL) {
				nng_aio_set_msg(x->x_aio, NULL);
				nng_msg_free(msg);
			}
			x->x_fn(x->x_arg, send_err(rv), NULL);
			return;
		}
		nng_aio_set_msg(x->x_aio, NULL);
		// Receive only now: cancelling a req receive while its send
		// is pending crashes nng 1.5.2 (#1702).  Under x_mtx, so a
		// cancel cannot fall between the send and the receive.
		pthread_mutex_lock(&x->x_mtx);
		x->x_sent = true;
		if (!x->x_cancelled) {
			nng_aio_set_timeout(x->x_aio, x->x_recv_ms);
			nng_ctx_recv(x->x_cx->cx_ctx, x->x_aio);
			pthread_mutex_unlock(&x->x_mtx);
			return;
		}
		pthread_mutex_unlock(&x->x_mtx);
		x->x_fn(x->x_arg, MPB_ECONNLOST, NULL); // sent: outcome unknown
		return;
	}
	if (rv != 0) {
		x->x_fn(x->x_arg, recv_err(rv), NULL);
		return;
	}
	msg = nng_aio_get_msg(x->x_aio);
	nng_aio_set_msg(x->x_aio, NULL);
	x->x_fn(x->x_arg, MPB_OK, msg);
}

mpb_err
mpbi_xchg_alloc(mpbi_link *l, mpbi_xchg_fn fn, void *arg, mpbi_xchg **xp)
{
	mpbi_xchg *x;
	mpb_err    err;
	int        rv;

	if ((x = calloc(1, sizeof(*x))) == NULL) {
		return (MPB_ENOMEM);
	}
	x->x_link = l;
	x->x_fn   = fn;
	x->x_arg  = arg;
	if (pthread_mutex_init(&x->x_mtx, NULL) != 0) {
		free(x);
		return (MPB_ENOMEM);
	}
	if ((rv = nng_aio_alloc(&x->x_aio, xchg_cb, x)) != 0) {
		pthread_mutex_destroy(&x->x_mtx);
		free(x);
		return (from_nng(rv));
	}
	if ((err = ctx_get(l, &x->x_cx)) != MPB_OK) {
		nng_aio_free(x->x_aio);
		pthread_mutex_destroy(&x->x_mtx);
		free(x);
		return (err);
	}
	*xp = x;
	return (MPB_OK);
}

void
mpbi_xchg_start(mpbi_xchg *x, nng_msg *req, int32_t send_ms, int32_t recv_ms)
{
	pthread_mutex_lock(&x->x_mtx);
	x->x_sent      = false;
	x->x_cancelled = false;
	x->x_recv_ms   = recv_ms;
	pthread_mutex_unlock(&x->x_mtx);
	nng_aio_set_msg(x->x_aio, req);
	nng_aio_set_timeout(x->x_aio, send_ms);
	nng_ctx_send(x->x_cx->cx_ctx, x->x_aio);
}

void
mpbi_xchg_cancel(mpbi_xchg *x)
{
	pthread_mutex_lock(&x->x_mtx);
	x->x_cancelled = true;
	nng_aio_cancel(x->x_aio);
	pthread_mutex_unlock(&x->x_mtx);
}

void
mpbi_xchg_retire(mpbi_xchg *x)
{
	ctx_push(x->x_link, &x->x_link->l_dead, x->x_cx);
	nng_aio_reap(x->x_aio);
	// nng may run an aio's callback on two task threads at once: the
	// receive can fail, and this run, before the callback that began it
	// has let go of x_mtx.  Wait for that before destroying it.
	pthread_mutex_lock(&x->x_mtx);
	pthread_mutex_unlock(&x->x_mtx);
	pthread_mutex_destroy(&x->x_mtx);
	free(x);
}

void
mpbi_xchg_free(mpbi_xchg *x)
{
	// Waits for the callback that completed x to return.
	nng_aio_free(x->x_aio);
	ctx_push(x->x_link, &x->x_link->l_free, x->x_cx);
	pthread_mutex_destroy(&x->x_mtx);
	free(x);
}

// ---------------------------------------------------------------------
// Connection

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
dial_once(mpbi_link *l, const char *url, const mpb_connect_opts *opts,
    mpb_err *errp)
{
	nng_dialer d;
	int        rv;

	*errp = MPB_OK;
	if ((rv = nng_dialer_create(&d, l->l_sock, url)) != 0) {
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
link_dial(mpbi_link *l, const char *url, const mpb_connect_opts *opts,
    int32_t conn_ms)
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
	    l->l_sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (rv == 0) {
		rv = nng_socket_set_ms(l->l_sock, NNG_OPT_SENDTIMEO, conn_ms);
	}
	if (rv != 0) {
		return (from_nng(rv));
	}
	// A full listen backlog (EAGAIN: many processes connecting at once)
	// is worth waiting out, up to the connect timeout.
	while (dial_once(l, url, opts, &err) == NNG_EAGAIN &&
	    waited < conn_ms) {
		nng_msleep(pause);
		waited += pause;
		pause = pause < 100 ? 2 * pause : 100;
	}
	return (err);
}

mpb_err
mpbi_link_open(const char *url, const mpb_connect_opts *opts, int32_t conn_ms,
    mpbi_link **linkp)
{
	mpbi_link *l;
	mpb_err    err;
	int        rv;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		return (MPB_ENOMEM);
	}
	if (pthread_mutex_init(&l->l_mtx, NULL) != 0) {
		free(l);
		return (MPB_ENOMEM);
	}
	if ((rv = nng_req0_open(&l->l_sock)) != 0) {
		pthread_mutex_destroy(&l->l_mtx);
		free(l);
		return (from_nng(rv));
	}
	if ((err = link_dial(l, url, opts, conn_ms)) != MPB_OK) {
		mpbi_link_close(l);
		return (err);
	}
	*linkp = l;
	return (MPB_OK);
}

void
mpbi_link_close(mpbi_link *l)
{
	ctx_close_list(l->l_free);
	ctx_close_list(l->l_dead);
	(void) nng_close(l->l_sock);
	pthread_mutex_destroy(&l->l_mtx);
	free(l);
}
