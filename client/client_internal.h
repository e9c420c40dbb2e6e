// client_internal.h -- what queue.c (and later kinds' files) share with
// client.c: the generic call path of libmpb.
//
// A call is built and run in three steps:
//
//	mpbi_call call;
//	rv = mpbi_call_begin(&call, client, MPBI_OP_Q_INFO, 1);
//	if (rv != MPB_OK) { return (rv); }
//	mpbi_put_str(&call.w, name, len);          // exactly nargs arguments
//	rv = mpbi_call_run(&call, MPBI_WAIT_NONE, 4);
//	if (rv == MPB_OK) { ... read call.f.elem[1..4] ... }
//	mpbi_call_fini(&call);                      // always
//
// mpbi_call_run maps every transport and wire failure to an mpb_err,
// stores the broker's error text for mpb_last_error_text(), and checks
// that a success reply carries at least the results the caller will read.

#ifndef MPB_CLIENT_INTERNAL_H
#define MPB_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

#include "mpb.h"
#include "proto.h"
#include "transport.h"

// A call in progress.  Owns the request until it is sent and the reply
// after it arrives; mpbi_call_fini releases whichever it still holds.
typedef struct mpbi_call {
	mpb_client *client;
	mpbi_op     op;
	nng_msg    *req;   // request being written; NULL once handed on
	nng_msg    *reply; // reply body; f's spans point into it
	mpbi_writer w;     // writes the request's arguments
	mpbi_frame  f;     // the parsed reply: elem[1..] are the results
} mpbi_call;

// For mpbi_call_run: the operation never parks in the broker, so the
// library waits for its answer as long as the connect timeout.
#define MPBI_WAIT_NONE (-1)

// mpbi_error_clear forgets this thread's broker error text.  Every public
// call runs it first, so mpb_last_error_text() speaks of the last call.
void mpbi_error_clear(void);

// mpbi_call_begin checks the handle (NULL: MPB_EINVAL; used in a forked
// child: MPB_EFORK), allocates the request and writes its envelope for op
// with nargs arguments, which the caller then puts with call->w.
// mpbi_call_fini must be called whatever it returns.
mpb_err mpbi_call_begin(
    mpbi_call *call, mpb_client *client, mpbi_op op, size_t nargs);

// mpbi_call_open is mpbi_call_begin without the envelope: an encoder
// (enc.h) then writes the whole request with call->w.  Not for the
// authentication ops (call->op stays 0).
mpb_err mpbi_call_open(mpbi_call *call, mpb_client *client);

// mpbi_call_run sends the request and waits for the reply: wait_ms is how
// long the broker may park the request (the op's timeout_ms), or
// MPBI_WAIT_NONE.  On MPB_OK the broker reported success with at least
// nresults results, in call->f.elem[1..nresults].  Otherwise returns the
// broker's error code, or a connection error (MPB_ECONNLOST,
// MPB_ENOREPLY, MPB_ENOMEM), or MPB_EPROTO for a reply that is not a
// well-formed reply.
mpb_err mpbi_call_run(mpbi_call *call, int64_t wait_ms, size_t nresults);

// mpbi_call_ready: MPB_OK when call's request is complete and within the
// broker's frame limit (learnt from ping at connect); else the error to
// return without sending (MPB_ENOMEM, MPB_EMSGSIZE with a message).
mpb_err mpbi_call_ready(mpbi_call *call);

// mpbi_call_fini frees what the call still holds.
void mpbi_call_fini(mpbi_call *call);

// mpbi_call_named is mpbi_call_begin for an op whose first argument is an
// object name, which it writes.  Names are checked here only for what can
// never be valid (NULL, empty: MPB_EINVAL); the length limit is the
// broker's, and a broker flag can change it.  nargs counts the name.
mpb_err mpbi_call_named(mpbi_call *call, mpb_client *client, mpbi_op op,
    const char *name, size_t nargs);

// mpbi_request_named writes the envelope of op with nargs arguments
// (counting the name) and the name, which must not be NULL or empty
// (MPB_EINVAL, nothing written).
mpb_err mpbi_request_named(mpbi_writer *w, mpbi_op op, const char *name,
    size_t nargs);

// mpbi_value_check: MPB_OK if value[0..len) is exactly one msgpack object
// shallow enough that a request around it (one array deeper) stays within
// what any frame may be; else MPB_EINVAL.
mpb_err mpbi_value_check(const void *value, size_t len);

// mpbi_value_dup copies a value out of a reply into a new buffer for the
// caller (freed with mpb_free).  MPB_OK or MPB_ENOMEM; the out-parameters
// are set only on MPB_OK, and must not be NULL.
mpb_err mpbi_value_dup(mpbi_span value, void **valuep, size_t *lenp);

// mpbi_str_dup copies p[0..len) into a new NUL-terminated string.
mpb_err mpbi_str_dup(const char *p, size_t len, char **strp);

// ---------------------------------------------------------------------
// Asynchronous calls (async.c)
//
// An async call is built exactly as its synchronous twin, by the op's
// own helper that writes the request into an mpbi_call; then, instead of
// mpbi_call_run, mpbi_call_submit hands the request to an exchange of the
// handle's link (transport.h) and returns.  The reply is read in the
// exchange's completion function, on one of nng's task threads, which
// calls the user's done function with the op's main result.

struct mpbi_aop;
struct mpbi_afr;

// Per-handle state of async calls, embedded in the handle (so a forked
// child's mpb_close, which may only free memory, frees it too).
//
// Calls that can never park in the broker (timeout 0, or ops that do not
// wait) are coalesced: while MPBI_ASYNC_WINDOW frames of such calls are in
// flight, later ones wait in a_pending, and the next frame carries them
// all as one batch request (PROTOCOL.md 4.13) -- the pipelining that
// amortises nng's round trip over many calls.
typedef struct mpbi_async {
	pthread_mutex_t  a_mtx;
	pthread_cond_t   a_cv;       // a call completed (CLOCK_MONOTONIC)
	struct mpbi_afr *a_frames;   // in flight, for mpb_close to cancel
	struct mpbi_afr *a_spare;    // idle frames, their exchanges kept
	struct mpbi_aop *a_pending;  // coalescable calls not yet sent, FIFO
	struct mpbi_aop *a_pending_tail;
	size_t           a_npending;
	unsigned         a_nbatching; // frames of coalescable calls in flight
	size_t           a_inflight;  // submitted, callback not yet returned
	size_t           a_limit;     // the bound on a_inflight
	size_t           a_coalesce;  // most calls in one frame (1: never)
	unsigned         a_direct;    // synchronous calls sent directly
	unsigned         a_sleepers;  // threads waiting on a_cv
	bool             a_closing;   // mpb_close has begun
} mpbi_async;

// Frames of coalescable calls in flight at once before further calls wait
// to be sent together.  One: the fewer frames, the fewer of nng's
// hand-offs per call; two (one frame written and read while the other is
// at the broker) measured no faster on 2 vCPUs (mpb-bench -A -P 64).
#define MPBI_ASYNC_WINDOW 1

// mpbi_result_fn picks an op's main result out of its parsed success
// reply (f->elem[1..nresults] are present), checking its type; NULL
// means the op has none (the callback gets NULL, 0).
typedef mpb_err (*mpbi_result_fn)(const mpbi_frame *f, mpbi_span *valuep);

// mpbi_result_first: result 1 is a value, given as it is.
mpb_err mpbi_result_first(const mpbi_frame *f, mpbi_span *valuep);

// mpbi_call_submit takes a call built by an op's helper, which returned
// err, and, when err is MPB_OK, submits it: wait_ms and nresults as for
// mpbi_call_run; rd reads the result for done.  It always frees what the
// call holds (mpbi_call_fini).  MPB_OK means done will be called exactly
// once; any other return means it will not be.
mpb_err mpbi_call_submit(mpbi_call *call, mpb_err err, int64_t wait_ms,
    size_t nresults, mpbi_result_fn rd, mpb_done_fn done, void *arg);

// mpbi_call_pipelined runs one synchronous call that cannot wait in the
// broker through the async pipeline, so that calls from several threads
// on one handle share frames; it waits for the outcome.  Takes req; on
// MPB_OK *replyp is a copy of the reply frame.  Errors as a round trip's
// (connection errors, MPB_ENOMEM), MPB_EAUTH when the broker refused the
// whole frame unrun for want of authentication, MPB_ECONNLOST when the
// handle is closing.
mpb_err mpbi_call_pipelined(
    mpb_client *c, nng_msg *req, int64_t wait_ms, nng_msg **replyp);

// mpbi_direct_enter: whether a synchronous call that could ride the
// pipeline should rather go straight to the link, because nothing else is
// in flight on the handle (the pipeline's callback hops would only slow a
// lone call down; there is nothing to share a frame with).  When it says
// so, the call counts as in flight until mpbi_direct_leave, and calls
// from other threads meanwhile ride the pipeline.
bool mpbi_direct_enter(mpb_client *c);
void mpbi_direct_leave(mpb_client *c);

// mpbi_in_callback tells whether this thread is running a done function
// (where nothing may block: synchronous calls fail with MPB_ESTATE).
bool mpbi_in_callback(void);

mpb_err mpbi_async_init(mpbi_async *a);
// mpbi_async_close fails every call in flight (their callbacks get
// MPB_ECONNLOST) and waits until every callback has returned.
void mpbi_async_close(mpb_client *c);
void mpbi_async_fini(mpbi_async *a);

// ---------------------------------------------------------------------
// What async.c uses of client.c

mpbi_async *mpbi_client_async(mpb_client *c);
// mpbi_client_link is the handle's connection (transport.h).
mpbi_link *mpbi_client_link(mpb_client *c);
// mpbi_client_check: MPB_EINVAL for NULL, MPB_EFORK in a forked child.
mpb_err mpbi_client_check(const mpb_client *c);

// How long a send may wait for a connection, and how long the reply to a
// call that the broker may park wait_ms (or MPBI_WAIT_NONE) may take, in
// milliseconds as transport.h takes them.
int32_t mpbi_send_timeout(const mpb_client *c);
int32_t mpbi_recv_timeout(const mpb_client *c, int64_t wait_ms);

// mpbi_reply_read reads the reply frame buf[0..len) into *f as
// mpbi_call_reply does (the broker's error text kept for this thread).
mpb_err mpbi_reply_read(
    const void *buf, size_t len, size_t nresults, mpbi_frame *f);

// The broker's frame limit learnt from ping at connect (0: unknown).
uint64_t mpbi_client_max_frame(const mpb_client *c);

// mpbi_call_reply reads call->reply: the broker's error (its text kept
// for mpb_last_error_text() on this thread), MPB_EPROTO, or MPB_OK with
// at least nresults results in call->f.
mpb_err mpbi_call_reply(mpbi_call *call, size_t nresults);

// mpbi_reauth_later notes that the broker refused a request for want of
// authentication (a reconnect made a new session); mpbi_reauth, outside
// callbacks, then authenticates before the next async submission.
void    mpbi_reauth_later(mpb_client *c);
mpb_err mpbi_reauth(mpb_client *c);

#endif // MPB_CLIENT_INTERNAL_H
