// async.c -- asynchronous calls: many requests in flight on one handle.
//
// A synchronous call costs a full round trip of nng hand-offs per request
// (bench/README.md); throughput comes from keeping many requests in
// flight, and from sending many in one frame.  An async call writes its
// request with the same encoder as its synchronous twin (enc.h) and joins
// a frame: an asynchronous exchange on the handle's link (transport.h),
// whose completion function, frame_done, runs on one of nng's task
// threads.
//
//	submit:  a call that may park in the broker (timeout > 0) gets a
//	         frame of its own; a call that cannot is coalesced: it goes
//	         at once while fewer than MPBI_ASYNC_WINDOW (1) such frames
//	         are in flight, else it waits in a_pending and the next frame to
//	         leave carries every waiting call as one batch request
//	send:    mpbi_xchg_start (the send bounded by the connect timeout,
//	         the reply by the calls' timeout + MPB_REPLY_MARGIN_MS; the
//	         exchange receives only once the send has completed)
//	replied: each call's reply is parsed and its done function called;
//	         calls the broker left unrun because the batch's reply grew
//	         past max_frame go back to the head of a_pending
//	then:    the frame carries the next waiting calls, or goes idle to
//	         a_spare with its exchange; a failed frame retires its
//	         exchange (its context, on which a late reply could still
//	         arrive, is never reused; its aio is reaped, as an aio cannot
//	         be freed from its own callback)
//
// Callbacks never block: the only lock frame_done takes is the handle's
// async mutex, held briefly by everyone (and, under it, the link's brief
// locks, transport.c).  Contexts retired by failed frames are closed
// later by a thread that may wait (a submission, a synchronous call,
// mpb_close).
//
// Lock order: a_mtx, then an exchange's lock, the context pool's lock and
// nng's own locks (transport.c).  Exchanges are started, and mpb_close
// cancels them, under a_mtx, so a close cannot miss a frame: a frame is
// on a_frames from its start until its completion function unlinks it,
// and a cancelled exchange never begins its receive.  This relies on the
// completion function never running inline in mpbi_xchg_start or
// mpbi_xchg_cancel (nng 1.5.2 dispatches every completion to a task
// thread, transport.h): run inline, it would take a_mtx again.  Done
// functions run with a_mtx released: they may submit.

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_internal.h"
#include "enc.h"
#include "transport.h"

// A synchronous call riding the pipeline (mpbi_call_pipelined): its
// thread waits here for a copy of its reply frame.
typedef struct sync_wait {
	pthread_mutex_t sw_mtx;
	pthread_cond_t  sw_cv;
	bool            sw_done;
	mpb_err         sw_err;
	nng_msg        *sw_reply; // a copy of the reply frame on MPB_OK
} sync_wait;

// One async call, from submission until its done function returns.
typedef struct mpbi_aop {
	nng_msg         *req; // its request frame; NULL once handed on
	int64_t          wait_ms;
	size_t           nresults;
	mpbi_result_fn   rd;
	mpb_done_fn      done;
	void            *arg;
	sync_wait       *sync; // a synchronous call's waiter, else NULL
	struct mpbi_aop *next; // in a_pending or in its frame
} aop;

// One request frame on the wire with the calls it carries.
typedef struct mpbi_afr {
	mpb_client      *client;
	mpbi_xchg       *x;   // its exchange on the link
	aop             *ops; // in request order
	size_t           nops;
	bool             batch;    // the calls travel as [batch, [...]]
	bool             counted;  // counted in a_nbatching
	struct mpbi_afr *prev;     // a_frames
	struct mpbi_afr *next;
} afr;

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
	a->a_limit    = MPB_ASYNC_MAX_INFLIGHT;
	a->a_coalesce = MPB_ASYNC_COALESCE;
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

// slots_release ends n calls' stay in the count; the caller holds a_mtx.
static void
slots_release(mpbi_async *a, size_t n)
{
	a->a_inflight -= n;
	if (a->a_sleepers > 0) {
		pthread_cond_broadcast(&a->a_cv);
	}
}

static bool
coalescable(const aop *op)
{
	return (op->wait_ms <= 0);
}

// sync_deliver hands a synchronous call its outcome: a copy of its reply
// frame, which its thread reads as any synchronous reply (the broker's
// error text then lands in that thread's mpb_last_error_text).  Once the
// waiter is signalled it may return and take sw with it: nothing here
// touches sw after unlocking.
static void
sync_deliver(aop *op, mpb_err err, const void *buf, size_t len)
{
	sync_wait *sw    = op->sync;
	nng_msg   *reply = NULL;

	if (err == MPB_OK && (nng_msg_alloc(&reply, len) != 0)) {
		err = MPB_ENOMEM;
	}
	if (err == MPB_OK) {
		memcpy(nng_msg_body(reply), buf, len);
	}
	if (op->req != NULL) {
		nng_msg_free(op->req);
		op->req = NULL;
	}
	pthread_mutex_lock(&sw->sw_mtx);
	sw->sw_err   = err;
	sw->sw_reply = reply;
	sw->sw_done  = true;
	pthread_cond_signal(&sw->sw_cv);
	pthread_mutex_unlock(&sw->sw_mtx);
}

// op_deliver calls op's done function with err, or with the result that
// rd reads from the reply frame buf[0..len) when err is MPB_OK, and frees
// op's request.  The caller releases op's slot afterwards.
static void
op_deliver(mpb_client *c, aop *op, mpb_err err, const void *buf, size_t len)
{
	mpbi_frame f;
	mpbi_span  v = { NULL, 0 };

	if (op->sync != NULL) {
		sync_deliver(op, err, buf, len);
		return;
	}
	mpbi_error_clear();
	if (err == MPB_OK) {
		err = mpbi_reply_read(buf, len, op->nresults, &f);
	}
	if (err == MPB_OK && op->rd != NULL) {
		err = op->rd(&f, &v);
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
	if (op->req != NULL) {
		nng_msg_free(op->req);
		op->req = NULL;
	}
}

// ops_fail delivers err to every call on the list and ends them.  The
// handle may be gone once it returns (mpb_close may be waiting for them).
static void
ops_fail(mpb_client *c, aop *list, mpb_err err)
{
	mpbi_async *a = mpbi_client_async(c);
	size_t      n = 0;
	aop        *next;

	for (aop *op = list; op != NULL; op = op->next) {
		op_deliver(c, op, err, NULL, 0);
		n++;
	}
	pthread_mutex_lock(&a->a_mtx);
	slots_release(a, n);
	pthread_mutex_unlock(&a->a_mtx);
	for (aop *op = list; op != NULL; op = next) {
		next = op->next;
		free(op);
	}
}

// pending_take_locked detaches the calls for the next coalesced frame --
// as many waiting calls as fit in one frame -- when one may leave now:
// the window has room, or a full frame is waiting.  NULL: none may.
static aop *
pending_take_locked(mpb_client *c, mpbi_async *a, size_t *np)
{
	uint64_t max_frame = mpbi_client_max_frame(c);
	size_t   bytes     = 16; // the batch's own envelope, generously
	size_t   n         = 0;
	aop     *head      = a->a_pending;
	aop     *last      = NULL;

	if (head == NULL || a->a_closing ||
	    (a->a_nbatching >= MPBI_ASYNC_WINDOW &&
	        a->a_npending < a->a_coalesce)) {
		return (NULL);
	}
	for (aop *op = head; op != NULL && n < a->a_coalesce; op = op->next) {
		size_t len = nng_msg_len(op->req);

		// The first always goes: alone, it is a plain request, which
		// mpbi_call_ready has checked against the limit.
		if (n > 0 && (max_frame == 0 || bytes + len > max_frame)) {
			break;
		}
		bytes += len;
		last = op;
		n++;
	}
	a->a_pending = last->next;
	if (a->a_pending == NULL) {
		a->a_pending_tail = NULL;
	}
	a->a_npending -= n;
	last->next = NULL;
	*np        = n;
	return (head);
}

// frame_message builds fr's request: the call's own request for a frame
// of one (handed over), else a batch carrying copies of them all (the
// calls keep theirs: one may have to go again).
static mpb_err
frame_message(afr *fr, nng_msg **msgp)
{
	mpbi_writer w;
	nng_msg    *msg;
	size_t      bytes = 0;

	if (!fr->batch) {
		*msgp       = fr->ops->req;
		fr->ops->req = NULL;
		return (MPB_OK);
	}
	for (aop *op = fr->ops; op != NULL; op = op->next) {
		bytes += nng_msg_len(op->req);
	}
	if (nng_msg_alloc(&msg, 0) != 0) {
		return (MPB_ENOMEM);
	}
	if (nng_msg_reserve(msg, bytes + 16) != 0) {
		nng_msg_free(msg);
		return (MPB_ENOMEM);
	}
	mpbi_writer_init(&w, msg);
	mpbi_request_begin(&w, MPBI_OP_BATCH, 1);
	mpbi_put_array(&w, fr->nops);
	for (aop *op = fr->ops; op != NULL; op = op->next) {
		mpbi_put_raw(&w, nng_msg_body(op->req), nng_msg_len(op->req));
	}
	if (mpbi_writer_err(&w) != MPB_OK) {
		nng_msg_free(msg);
		return (MPB_ENOMEM);
	}
	*msgp = msg;
	return (MPB_OK);
}

// frame_send_locked sends ops (n calls) on fr, which is idle.  The
// caller holds a_mtx, has checked the handle is not closing, and fails
// the calls itself, after unlocking, when this returns an error (nothing
// was sent; fr stays idle).
static mpb_err
frame_send_locked(mpbi_async *a, afr *fr, aop *ops, size_t n)
{
	nng_msg *msg;
	mpb_err  err;
	int32_t  recv_ms = 0; // how long its reply may take

	fr->ops     = ops;
	fr->nops    = n;
	fr->batch   = n > 1;
	fr->counted = coalescable(ops);
	for (aop *op = ops; op != NULL; op = op->next) {
		int32_t ms = mpbi_recv_timeout(fr->client, op->wait_ms);

		recv_ms = ms > recv_ms ? ms : recv_ms;
	}
	if ((err = frame_message(fr, &msg)) != MPB_OK) {
		fr->ops = NULL;
		return (err);
	}
	fr->prev = NULL;
	fr->next = a->a_frames;
	if (fr->next != NULL) {
		fr->next->prev = fr;
	}
	a->a_frames = fr;
	if (fr->counted) {
		a->a_nbatching++;
	}
	mpbi_xchg_start(fr->x, msg, mpbi_send_timeout(fr->client), recv_ms);
	return (MPB_OK);
}

static void frame_done(void *arg, mpb_err err, nng_msg *reply);

// frame_get_locked takes an idle frame, or makes one.  It never waits
// (making an exchange does not), so it may run under a_mtx and in
// callbacks.
static mpb_err
frame_get_locked(mpb_client *c, mpbi_async *a, afr **frp)
{
	afr    *fr;
	mpb_err err;

	if ((fr = a->a_spare) != NULL) {
		a->a_spare = fr->next;
		*frp       = fr;
		return (MPB_OK);
	}
	if ((fr = calloc(1, sizeof(*fr))) == NULL) {
		return (MPB_ENOMEM);
	}
	fr->client = c;
	err = mpbi_xchg_alloc(mpbi_client_link(c), frame_done, fr, &fr->x);
	if (err != MPB_OK) {
		free(fr);
		return (err);
	}
	*frp = fr;
	return (MPB_OK);
}

// frame_spare_locked files an idle frame for reuse.
static void
frame_spare_locked(mpbi_async *a, afr *fr)
{
	fr->next   = a->a_spare;
	a->a_spare = fr;
}

// dispatch_locked sends as many coalesced frames as may leave now.
// Calls it could not send are returned for the caller to fail after
// unlocking (with *errp).
static aop *
dispatch_locked(mpb_client *c, mpbi_async *a, mpb_err *errp)
{
	aop   *ops;
	aop   *failed = NULL;
	size_t n;

	while ((ops = pending_take_locked(c, a, &n)) != NULL) {
		afr    *fr;
		mpb_err err = frame_get_locked(c, a, &fr);

		if (err == MPB_OK &&
		    (err = frame_send_locked(a, fr, ops, n)) != MPB_OK) {
			frame_spare_locked(a, fr);
		}
		if (err != MPB_OK) {
			aop *last = ops;

			while (last->next != NULL) {
				last = last->next;
			}
			last->next = failed;
			failed     = ops;
			*errp      = err;
		}
	}
	return (failed);
}

// frame_unlink_locked takes fr off the in-flight list.
static void
frame_unlink_locked(mpbi_async *a, afr *fr)
{
	if (fr->prev != NULL) {
		fr->prev->next = fr->next;
	} else {
		a->a_frames = fr->next;
	}
	if (fr->next != NULL) {
		fr->next->prev = fr->prev;
	}
	if (fr->counted) {
		a->a_nbatching--;
	}
	fr->prev = fr->next = NULL;
}

// frame_deliver hands each call of fr its reply out of the reply frame
// buf[0..len), or err, and frees it; calls the broker did not run are
// returned, in order, to be sent again.  *endedp: how many calls ended.
static aop *
frame_deliver(afr *fr, mpb_err err, const uint8_t *buf, size_t len,
    size_t *endedp)
{
	mpb_client *c       = fr->client;
	uint64_t    max     = mpbi_client_max_frame(c);
	aop        *again   = NULL;
	aop       **againp  = &again;
	mpbi_span   replies = { NULL, 0 };
	mpbi_frame  f;
	size_t      n = 0;

	*endedp = 0;
	if (err == MPB_OK && fr->batch) {
		// [0, [reply, ...]]; a batch refused as a whole fails all.
		err = mpbi_reply_read(buf, len, 1, &f);
		if (err == MPB_OK &&
		    (mpbi_span_array(f.elem[1], &n, &replies) != MPB_OK ||
		        n != fr->nops)) {
			err = MPB_EPROTO;
		}
	}
	for (aop *op = fr->ops, *next; op != NULL; op = next) {
		mpbi_span r = { buf, len };

		next = op->next;
		if (err == MPB_OK && fr->batch) {
			(void) mpbi_span_next(&replies, &r);
			// The broker runs no request once the batch's reply so
			// far exceeds max_frame, and answers it EMSGSIZE
			// (PROTOCOL.md 4.13).
			if ((size_t) (r.ptr - buf) > max && r.len >= 2 &&
			    r.ptr[1] == MPB_EMSGSIZE) {
				op->next = NULL;
				*againp  = op;
				againp   = &op->next;
				continue;
			}
		}
		op_deliver(c, op, err, r.ptr, r.len);
		free(op);
		(*endedp)++;
	}
	fr->ops = NULL;
	return (again);
}

// pending_requeue_locked puts the calls of list back at the head of
// a_pending, in order.
static void
pending_requeue_locked(mpbi_async *a, aop *list)
{
	aop *last = list;
	size_t n = 1;

	while (last->next != NULL) {
		last = last->next;
		n++;
	}
	last->next = a->a_pending;
	if (a->a_pending == NULL) {
		a->a_pending_tail = last;
	}
	a->a_pending = list;
	a->a_npending += n;
}

// frame_done is the completion function of fr's exchange: it ends fr's
// trip, err for a failed one, else the reply.  Then fr goes idle (and
// carries the next waiting calls, if any may leave); a failed frame is
// freed, its exchange retired.
static void
frame_done(void *arg, mpb_err err, nng_msg *reply)
{
	afr        *fr = arg;
	mpb_client *c = fr->client;
	mpbi_async *a = mpbi_client_async(c);
	aop        *again;
	aop        *failed;
	mpb_err     ferr = MPB_OK;
	size_t      ended;

	again = frame_deliver(fr, err,
	    reply != NULL ? nng_msg_body(reply) : NULL,
	    reply != NULL ? nng_msg_len(reply) : 0, &ended);
	if (reply != NULL) {
		nng_msg_free(reply);
	}
	pthread_mutex_lock(&a->a_mtx);
	frame_unlink_locked(a, fr);
	if (err != MPB_OK) {
		// Unlinked, so mpb_close cannot cancel it any more; retired
		// before the slots are released, while the link surely
		// exists.
		mpbi_xchg_retire(fr->x);
		fr->x = NULL;
	} else {
		// Idle: the next waiting calls leave on it (dispatch_locked
		// takes spare frames first).
		frame_spare_locked(a, fr);
	}
	if (again != NULL && a->a_closing) {
		// mpb_close has taken a_pending already: requeued, these
		// would never leave and mpb_close would wait for them.
		failed = again;
		ferr   = MPB_ECONNLOST; // not run
	} else {
		if (again != NULL) {
			pending_requeue_locked(a, again);
		}
		failed = dispatch_locked(c, a, &ferr);
	}
	// Last: once the count drops to 0, mpb_close may free the handle.
	slots_release(a, ended);
	pthread_mutex_unlock(&a->a_mtx);
	if (err != MPB_OK) {
		free(fr);
	}
	if (failed != NULL) {
		ops_fail(c, failed, ferr); // these hold the handle open
	}
}

void
mpbi_async_close(mpb_client *c)
{
	mpbi_async *a = mpbi_client_async(c);
	aop        *pending;
	afr        *spare;
	afr        *next;

	pthread_mutex_lock(&a->a_mtx);
	a->a_closing = true;
	// Frames that may be parked in the broker are cancelled: each
	// completes through frame_done with MPB_ECONNLOST (one between its
	// send and its receive never begins the receive); its calls end now,
	// outcome unknown.  Frames of calls that cannot wait
	// are left to finish -- the broker answers them at once -- because
	// closing the socket while replies are still arriving can hang
	// nng 1.5.2 (a pipe's aio stopped between its begin and its
	// schedule, nng #1543/#1813, fixed in 1.8): this keeps the
	// connection quiet for nng_close.
	for (afr *fr = a->a_frames; fr != NULL; fr = fr->next) {
		if (!fr->counted) {
			mpbi_xchg_cancel(fr->x);
		}
	}
	pending           = a->a_pending;
	a->a_pending      = NULL;
	a->a_pending_tail = NULL;
	a->a_npending     = 0;
	pthread_mutex_unlock(&a->a_mtx);
	if (pending != NULL) {
		ops_fail(c, pending, MPB_ECONNLOST); // never sent
	}
	pthread_mutex_lock(&a->a_mtx);
	while (a->a_inflight > 0) {
		a->a_sleepers++;
		pthread_cond_wait(&a->a_cv, &a->a_mtx);
		a->a_sleepers--;
	}
	spare      = a->a_spare;
	a->a_spare = NULL;
	pthread_mutex_unlock(&a->a_mtx);
	for (afr *fr = spare; fr != NULL; fr = next) {
		next = fr->next;
		// Waits for the callback that filed it here to return.
		mpbi_xchg_free(fr->x);
		free(fr);
	}
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

// submit_locked sends op on a frame of its own, or queues it to be
// coalesced and sends what may leave now.  MPB_OK: op is accepted (its
// done function will run; *failedp lists calls to fail after unlocking,
// with *ferrp).  Else op was not taken.
static mpb_err
submit_locked(mpb_client *c, mpbi_async *a, aop *op, aop **failedp,
    mpb_err *ferrp)
{
	afr    *fr;
	mpb_err err;

	if (a->a_closing) {
		return (MPB_ECONNLOST);
	}
	if (coalescable(op) && a->a_coalesce > 1) {
		if (a->a_pending_tail != NULL) {
			a->a_pending_tail->next = op;
		} else {
			a->a_pending = op;
		}
		a->a_pending_tail = op;
		a->a_npending++;
		*failedp = dispatch_locked(c, a, ferrp);
		return (MPB_OK);
	}
	if ((err = frame_get_locked(c, a, &fr)) != MPB_OK) {
		return (err);
	}
	if ((err = frame_send_locked(a, fr, op, 1)) != MPB_OK) {
		// A frame of one gave its request away only on success.
		frame_spare_locked(a, fr);
	}
	return (err);
}

bool
mpbi_direct_enter(mpb_client *c)
{
	mpbi_async *a = mpbi_client_async(c);
	bool        idle;

	pthread_mutex_lock(&a->a_mtx);
	idle = a->a_inflight == 0 && a->a_direct == 0;
	if (idle) {
		a->a_direct++;
	}
	pthread_mutex_unlock(&a->a_mtx);
	return (idle);
}

void
mpbi_direct_leave(mpb_client *c)
{
	mpbi_async *a = mpbi_client_async(c);

	pthread_mutex_lock(&a->a_mtx);
	a->a_direct--;
	pthread_mutex_unlock(&a->a_mtx);
}

// op_submit submits op, which holds a slot (slot_take) and its request.
// MPB_OK: its outcome will be delivered.  Otherwise op, its request and
// its slot are given back (op may be NULL: there was no memory for it).
static mpb_err
op_submit(mpb_client *c, aop *op)
{
	mpbi_async *a      = mpbi_client_async(c);
	aop        *failed = NULL;
	mpb_err     ferr   = MPB_OK;
	mpb_err     err    = MPB_ENOMEM;

	pthread_mutex_lock(&a->a_mtx);
	if (op != NULL) {
		err = submit_locked(c, a, op, &failed, &ferr);
	}
	if (err != MPB_OK) {
		slots_release(a, 1);
	}
	pthread_mutex_unlock(&a->a_mtx);
	if (err != MPB_OK && op != NULL) {
		if (op->req != NULL) {
			nng_msg_free(op->req);
		}
		free(op);
	}
	if (failed != NULL) {
		ops_fail(c, failed, ferr);
	}
	return (err);
}

mpb_err
mpbi_call_pipelined(mpb_client *c, nng_msg *req, int64_t wait_ms,
    nng_msg **replyp)
{
	sync_wait sw;
	aop      *op;
	mpb_err   err;

	memset(&sw, 0, sizeof(sw));
	if (pthread_mutex_init(&sw.sw_mtx, NULL) != 0) {
		nng_msg_free(req);
		return (MPB_ENOMEM);
	}
	if (pthread_cond_init(&sw.sw_cv, NULL) != 0) {
		pthread_mutex_destroy(&sw.sw_mtx);
		nng_msg_free(req);
		return (MPB_ENOMEM);
	}
	mpbi_link_close_retired(mpbi_client_link(c));
	if ((err = slot_take(mpbi_client_async(c))) != MPB_OK) {
		nng_msg_free(req);
	} else {
		if ((op = calloc(1, sizeof(*op))) != NULL) {
			op->req     = req;
			op->wait_ms = wait_ms;
			op->sync    = &sw;
		} else {
			nng_msg_free(req);
		}
		err = op_submit(c, op);
	}
	if (err == MPB_OK) {
		// Every call completes within its own timeouts.
		pthread_mutex_lock(&sw.sw_mtx);
		while (!sw.sw_done) {
			pthread_cond_wait(&sw.sw_cv, &sw.sw_mtx);
		}
		pthread_mutex_unlock(&sw.sw_mtx);
		err     = sw.sw_err;
		*replyp = sw.sw_reply;
	}
	pthread_cond_destroy(&sw.sw_cv);
	pthread_mutex_destroy(&sw.sw_mtx);
	return (err);
}

mpb_err
mpbi_call_submit(mpbi_call *call, mpb_err err, int64_t wait_ms,
    size_t nresults, mpbi_result_fn rd, mpb_done_fn done, void *arg)
{
	mpb_client *c = call->client;
	aop        *op;

	if (err == MPB_OK) {
		err = mpbi_call_ready(call);
	}
	if (err == MPB_OK && done == NULL) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK && !in_callback) {
		err = mpbi_reauth(c);
		mpbi_link_close_retired(mpbi_client_link(c));
	}
	if (err == MPB_OK) {
		err = slot_take(mpbi_client_async(c));
	}
	if (err != MPB_OK) {
		mpbi_call_fini(call);
		return (err);
	}
	if ((op = calloc(1, sizeof(*op))) != NULL) {
		op->req      = call->req;
		call->req    = NULL;
		op->wait_ms  = wait_ms;
		op->nresults = nresults;
		op->rd       = rd;
		op->done     = done;
		op->arg      = arg;
	}
	err = op_submit(c, op);
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

// The handle's two bounds that users set.
typedef enum async_bound {
	BOUND_INFLIGHT, // a_limit
	BOUND_COALESCE, // a_coalesce
} async_bound;

// async_set_bound sets one of the handle's bounds to v, which must be
// 1..max.
static mpb_err
async_set_bound(mpb_client *c, async_bound which, size_t v, size_t max)
{
	mpbi_async *a;
	mpb_err     err;

	mpbi_error_clear();
	if ((err = mpbi_client_check(c)) != MPB_OK) {
		return (err);
	}
	if (v == 0 || v > max) {
		return (MPB_EINVAL);
	}
	a = mpbi_client_async(c);
	pthread_mutex_lock(&a->a_mtx);
	if (which == BOUND_INFLIGHT) {
		a->a_limit = v;
	} else {
		a->a_coalesce = v;
	}
	// A higher limit may let waiting submitters through.
	if (a->a_sleepers > 0) {
		pthread_cond_broadcast(&a->a_cv);
	}
	pthread_mutex_unlock(&a->a_mtx);
	return (MPB_OK);
}

mpb_err
mpb_async_set_limit(mpb_client *c, size_t max_inflight)
{
	return (async_set_bound(c, BOUND_INFLIGHT, max_inflight, SIZE_MAX));
}

mpb_err
mpb_async_set_coalesce(mpb_client *c, size_t max_per_frame)
{
	return (async_set_bound(
	    c, BOUND_COALESCE, max_per_frame, MPBI_BATCH_MAX_OPS));
}
