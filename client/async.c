// async.c -- asynchronous calls: many requests in flight on one handle.
//
// A synchronous call costs a full round trip of nng hand-offs per request
// (bench/README.md); throughput comes from keeping many requests in
// flight.  An async call writes its request with the same encoder as its
// synchronous twin (enc.h), borrows a context from the handle's pool and
// is then driven by nng callbacks on its own aio:
//
//	submit:  nng_ctx_send (bounded by the connect timeout)
//	sent:    nng_ctx_recv (the op's timeout + MPB_REPLY_MARGIN_MS) --
//	         only now, since cancelling a req receive while its send is
//	         pending crashes nng 1.5.2 (#1702)
//	replied: parse, give the context back, call the user's done function
//	failed:  retire the context (a late reply must never answer another
//	         request), call done with the error
//
// then the aio is reaped (it cannot be freed from its own callback) and
// the call leaves the handle's in-flight count.  Callbacks never block:
// the only lock they take is the handle's async mutex, held for a few
// instructions by everyone.  Contexts they retire are closed later by a
// thread that may wait (client.c's ctx_get, or mpb_close).
//
// Lock order: a_mtx, then nng's own locks.  Sends and receives are
// started, and mpb_close cancels, under a_mtx, so a close cannot miss a
// call between its send and its receive, and an op cannot be freed while
// its start is under way.  This relies on nng 1.5.2 never running a
// completion inline in the call that starts or cancels an operation (it
// dispatches every one to a task thread): a callback run inline would
// take a_mtx again.

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_internal.h"
#include "enc.h"

// One async call in flight.
typedef struct mpbi_aop {
	mpbi_call        call; // client; the reply and its parse
	mpbi_ctx        *cx;   // borrowed context; NULL once given back
	nng_aio         *aio;
	nng_duration     recv_ms;
	size_t           nresults;
	mpbi_result_fn   rd;
	mpb_done_fn      done;
	void            *arg;
	bool             sent; // the send completed; the receive is next
	struct mpbi_aop *prev; // the handle's in-flight list
	struct mpbi_aop *next;
} aop;

// Set while this thread runs a done function.  Callbacks are never run
// inline by a submission, so they do not nest.
static _Thread_local bool in_callback;

bool
mpbi_in_callback(void)
{
	return (in_callback);
}

mpb_err
mpbi_async_init(mpbi_async *a)
{
	pthread_condattr_t attr;
	int                rv;

	memset(a, 0, sizeof(*a));
	a->a_limit = MPB_ASYNC_MAX_INFLIGHT;
	if (pthread_condattr_init(&attr) != 0) {
		return (MPB_ENOMEM);
	}
	// Timed waits measure with the monotonic clock: a clock step must
	// not stretch or cut mpb_async_wait's timeout.
	rv = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rv == 0) {
		rv = pthread_cond_init(&a->a_cv, &attr);
	}
	pthread_condattr_destroy(&attr);
	if (rv != 0) {
		return (MPB_ENOMEM);
	}
	if (pthread_mutex_init(&a->a_mtx, NULL) != 0) {
		pthread_cond_destroy(&a->a_cv);
		return (MPB_ENOMEM);
	}
	return (MPB_OK);
}

void
mpbi_async_fini(mpbi_async *a)
{
	pthread_cond_destroy(&a->a_cv);
	pthread_mutex_destroy(&a->a_mtx);
}

// slot_release ends one call's stay in the count; the caller holds a_mtx.
static void
slot_release(mpbi_async *a)
{
	a->a_inflight--;
	if (a->a_sleepers > 0) {
		pthread_cond_broadcast(&a->a_cv);
	}
}

void
mpbi_async_close(mpbi_async *a)
{
	pthread_mutex_lock(&a->a_mtx);
	a->a_closing = true;
	// Each cancelled call completes through its callback with
	// NNG_ECANCELED; one between its send and its receive sees
	// a_closing instead.
	for (aop *op = a->a_calls; op != NULL; op = op->next) {
		nng_aio_cancel(op->aio);
	}
	while (a->a_inflight > 0) {
		a->a_sleepers++;
		pthread_cond_wait(&a->a_cv, &a->a_mtx);
		a->a_sleepers--;
	}
	pthread_mutex_unlock(&a->a_mtx);
}

// aop_finish delivers the outcome of op and forgets it.
static void
aop_finish(aop *op, mpb_err err)
{
	mpb_client *c = op->call.client;
	mpbi_async *a = mpbi_client_async(c);
	mpbi_span   v = { NULL, 0 };

	if (op->cx != NULL) {
		mpbi_ctx_drop(c, op->cx);
	}
	if (err == MPB_OK && op->rd != NULL) {
		err = op->rd(&op->call.f, &v);
	}
	if (err != MPB_OK) {
		v = (mpbi_span) { NULL, 0 };
	}
	if (err == MPB_EAUTH) {
		// Refused unrun: the connection was re-established and this
		// session has not proved the secret yet.  A callback cannot
		// wait for the handshake; the next submission does it.
		mpbi_reauth_later(c);
	}
	in_callback = true;
	op->done(op->arg, err, v.ptr, v.len);
	in_callback = false;
	mpbi_error_clear();
	mpbi_call_fini(&op->call);

	pthread_mutex_lock(&a->a_mtx);
	if (op->prev != NULL) {
		op->prev->next = op->next;
	} else {
		a->a_calls = op->next;
	}
	if (op->next != NULL) {
		op->next->prev = op->prev;
	}
	slot_release(a);
	pthread_mutex_unlock(&a->a_mtx);
	// From here on the handle may be gone (mpb_close was waiting).
	nng_aio_reap(op->aio);
	free(op);
}

static void
aop_cb(void *arg)
{
	aop        *op = arg;
	mpb_client *c  = op->call.client;
	mpbi_async *a  = mpbi_client_async(c);
	nng_msg    *msg;
	int         rv = nng_aio_result(op->aio);
	mpb_err     err;

	mpbi_error_clear();
	if (!op->sent && rv != 0) {
		// A failed send gives the request back.
		if ((msg = nng_aio_get_msg(op->aio)) != NULL) {
			nng_aio_set_msg(op->aio, NULL);
			nng_msg_free(msg);
		}
		aop_finish(op, mpbi_send_err(rv));
		return;
	}
	if (!op->sent) {
		op->sent = true;
		nng_aio_set_msg(op->aio, NULL);
		pthread_mutex_lock(&a->a_mtx);
		if (!a->a_closing) {
			nng_aio_set_timeout(op->aio, op->recv_ms);
			nng_ctx_recv(mpbi_ctx_nng(op->cx), op->aio);
			pthread_mutex_unlock(&a->a_mtx);
			return;
		}
		pthread_mutex_unlock(&a->a_mtx);
		aop_finish(op, MPB_ECONNLOST); // sent: outcome unknown
		return;
	}
	if (rv != 0) {
		aop_finish(op, mpbi_recv_err(rv));
		return;
	}
	op->call.reply = nng_aio_get_msg(op->aio);
	nng_aio_set_msg(op->aio, NULL);
	// A complete round trip: the context is clean for the next call.
	mpbi_ctx_put(c, op->cx);
	op->cx = NULL;
	err    = mpbi_call_reply(&op->call, op->nresults);
	aop_finish(op, err);
}

// slot_take counts one more call in flight, waiting at the limit -- but
// not in a callback, which must not block: there it is MPB_ELIMIT.
static mpb_err
slot_take(mpbi_async *a)
{
	mpb_err err = MPB_OK;

	pthread_mutex_lock(&a->a_mtx);
	while (!a->a_closing && a->a_inflight >= a->a_limit && !in_callback) {
		a->a_sleepers++;
		pthread_cond_wait(&a->a_cv, &a->a_mtx);
		a->a_sleepers--;
	}
	if (a->a_closing) {
		err = MPB_ECONNLOST;
	} else if (a->a_inflight >= a->a_limit) {
		err = MPB_ELIMIT;
	} else {
		a->a_inflight++;
	}
	pthread_mutex_unlock(&a->a_mtx);
	return (err);
}

// aop_start links op in and sends its request, or, when the handle is
// closing, gives up (MPB_ECONNLOST, nothing sent).
static mpb_err
aop_start(aop *op, nng_msg *req)
{
	mpbi_async *a = mpbi_client_async(op->call.client);

	pthread_mutex_lock(&a->a_mtx);
	if (a->a_closing) {
		pthread_mutex_unlock(&a->a_mtx);
		return (MPB_ECONNLOST);
	}
	op->next = a->a_calls;
	if (op->next != NULL) {
		op->next->prev = op;
	}
	a->a_calls = op;
	nng_aio_set_msg(op->aio, req);
	nng_aio_set_timeout(op->aio, mpbi_send_timeout(op->call.client));
	nng_ctx_send(mpbi_ctx_nng(op->cx), op->aio);
	pthread_mutex_unlock(&a->a_mtx);
	return (MPB_OK);
}

mpb_err
mpbi_call_submit(mpbi_call *call, mpb_err err, int64_t wait_ms,
    size_t nresults, mpbi_result_fn rd, mpb_done_fn done, void *arg)
{
	mpb_client *c = call->client;
	aop        *op;
	int         rv;

	if (err == MPB_OK) {
		err = mpbi_call_ready(call);
	}
	if (err == MPB_OK && done == NULL) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK && !in_callback) {
		err = mpbi_reauth(c);
	}
	if (err == MPB_OK) {
		err = slot_take(mpbi_client_async(c));
	}
	if (err != MPB_OK) {
		mpbi_call_fini(call);
		return (err);
	}
	if ((op = calloc(1, sizeof(*op))) == NULL) {
		err = MPB_ENOMEM;
	} else if ((rv = nng_aio_alloc(&op->aio, aop_cb, op)) != 0) {
		err = rv == NNG_ENOMEM ? MPB_ENOMEM : MPB_EINTERNAL;
	} else {
		err = mpbi_ctx_get(c, &op->cx);
	}
	if (err == MPB_OK) {
		op->call.client = c;
		op->recv_ms     = mpbi_recv_timeout(c, wait_ms);
		op->nresults    = nresults;
		op->rd          = rd;
		op->done        = done;
		op->arg         = arg;
		err             = aop_start(op, call->req);
	}
	if (err == MPB_OK) {
		call->req = NULL; // nng has it
	} else if (op != NULL) {
		if (op->cx != NULL) {
			mpbi_ctx_put(c, op->cx); // unused
		}
		if (op->aio != NULL) {
			nng_aio_free(op->aio);
		}
		free(op);
	}
	if (err != MPB_OK) {
		mpbi_async *a = mpbi_client_async(c);

		pthread_mutex_lock(&a->a_mtx);
		slot_release(a);
		pthread_mutex_unlock(&a->a_mtx);
	}
	mpbi_call_fini(call);
	return (err);
}

mpb_err
mpbi_result_first(const mpbi_frame *f, mpbi_span *valuep)
{
	*valuep = f->elem[1];
	return (MPB_OK);
}

// result_get checks a queue.get reply's priority, as mpb_queue_get does;
// the item is result 1.
static mpb_err
result_get(const mpbi_frame *f, mpbi_span *valuep)
{
	int64_t priority;

	if (mpbi_span_int(f->elem[2], &priority) != MPB_OK) {
		return (MPB_EPROTO);
	}
	return (mpbi_result_first(f, valuep));
}

// result_int: result 1 is an integer, given as its msgpack encoding.
static mpb_err
result_int(const mpbi_frame *f, mpbi_span *valuep)
{
	int64_t v;

	if (mpbi_span_int(f->elem[1], &v) != MPB_OK) {
		return (MPB_EPROTO);
	}
	return (mpbi_result_first(f, valuep));
}

// ---------------------------------------------------------------------
// The public calls: each is its synchronous twin's encoder, submitted.

mpb_err
mpb_async_queue_put(mpb_client *c, const char *name, const void *value,
    size_t len, int64_t priority, uint32_t timeout_ms, mpb_done_fn done,
    void *arg)
{
	mpbi_call call;
	mpb_err   err = mpbi_call_open(&call, c);

	if (err == MPB_OK) {
		err = mpbi_enc_queue_put(
		    &call.w, name, value, len, priority, timeout_ms);
	}
	return (mpbi_call_submit(&call, err, timeout_ms, 0, NULL, done, arg));
}

mpb_err
mpb_async_queue_get(mpb_client *c, const char *name, uint32_t timeout_ms,
    mpb_done_fn done, void *arg)
{
	mpbi_call call;
	mpb_err   err = mpbi_call_open(&call, c);

	if (err == MPB_OK) {
		err = mpbi_enc_queue_get(&call.w, name, timeout_ms);
	}
	return (mpbi_call_submit(&call, err, timeout_ms, 2, result_get, done, arg));
}

mpb_err
mpb_async_dict_set(mpb_client *c, const char *name, const void *key,
    size_t klen, const void *value, size_t vlen, mpb_done_fn done, void *arg)
{
	mpbi_call call;
	mpb_err   err = mpbi_call_open(&call, c);

	// The encoder takes a NULL value for "no value argument" (a get).
	if (err == MPB_OK && value == NULL) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		err = mpbi_enc_dict_kv(
		    &call.w, MPBI_OP_D_SET, name, key, klen, value, vlen);
	}
	return (mpbi_call_submit(&call, err, MPBI_WAIT_NONE, 0, NULL, done, arg));
}

mpb_err
mpb_async_dict_get(mpb_client *c, const char *name, const void *key,
    size_t klen, mpb_done_fn done, void *arg)
{
	mpbi_call call;
	mpb_err   err = mpbi_call_open(&call, c);

	if (err == MPB_OK) {
		err = mpbi_enc_dict_kv(
		    &call.w, MPBI_OP_D_GET, name, key, klen, NULL, 0);
	}
	return (mpbi_call_submit(
	    &call, err, MPBI_WAIT_NONE, 1, mpbi_result_first, done, arg));
}

mpb_err
mpb_async_dict_incr(mpb_client *c, const char *name, const void *key,
    size_t klen, int64_t delta, mpb_done_fn done, void *arg)
{
	mpbi_call call;
	mpb_err   err = mpbi_call_open(&call, c);

	if (err == MPB_OK) {
		err = mpbi_enc_dict_incr(&call.w, name, key, klen, delta, NULL);
	}
	return (mpbi_call_submit(
	    &call, err, MPBI_WAIT_NONE, 1, result_int, done, arg));
}

// deadline_after is now + ms on the monotonic clock.
static struct timespec
deadline_after(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long) (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return (ts);
}

mpb_err
mpb_async_wait(mpb_client *c, int timeout_ms)
{
	struct timespec deadline;
	mpbi_async     *a;
	mpb_err         err;

	mpbi_error_clear();
	if ((err = mpbi_client_check(c)) != MPB_OK) {
		return (err);
	}
	// The calling callback is itself in flight: it would wait for
	// itself.
	if (in_callback) {
		return (MPB_ESTATE);
	}
	a        = mpbi_client_async(c);
	deadline = deadline_after(timeout_ms > 0 ? timeout_ms : 0);
	pthread_mutex_lock(&a->a_mtx);
	while (a->a_inflight > 0 && err == MPB_OK) {
		a->a_sleepers++;
		if (timeout_ms < 0) {
			pthread_cond_wait(&a->a_cv, &a->a_mtx);
		} else if (pthread_cond_timedwait(&a->a_cv, &a->a_mtx,
		               &deadline) == ETIMEDOUT) {
			err = a->a_inflight > 0 ? MPB_ETIMEDOUT : MPB_OK;
		}
		a->a_sleepers--;
	}
	pthread_mutex_unlock(&a->a_mtx);
	return (err);
}

mpb_err
mpb_async_set_limit(mpb_client *c, size_t max_inflight)
{
	mpbi_async *a;
	mpb_err     err;

	mpbi_error_clear();
	if ((err = mpbi_client_check(c)) != MPB_OK) {
		return (err);
	}
	if (max_inflight == 0) {
		return (MPB_EINVAL);
	}
	a = mpbi_client_async(c);
	pthread_mutex_lock(&a->a_mtx);
	a->a_limit = max_inflight;
	// A higher limit may let waiting submitters through.
	if (a->a_sleepers > 0) {
		pthread_cond_broadcast(&a->a_cv);
	}
	pthread_mutex_unlock(&a->a_mtx);
	return (MPB_OK);
}
