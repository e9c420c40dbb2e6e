// ops_batch.c -- batch: many requests in one frame, one reply.
//
// BATCH [[op, args...], ...] -> [[reply], ...]: each request runs in
// order through mpbi_dispatch, with every check a frame of its own gets,
// and its reply frame is copied verbatim into the batch's reply.  A batch
// is isolated (it runs under the one broker lock, so no other request
// runs between its requests) but not atomic: a failing request undoes
// nothing before it, and the rest still run.  Durability needs nothing
// here: each request logs its own effects, and mpbi_broker_handle
// commits them all once, before the batch's reply leaves.

#include <string.h>

#include "dispatch.h"
#include "ops.h"
#include "reply.h"

// Runs one request of the batch and appends its reply to r's.
static void
batch_run_one(mpbi_req *r, mpbi_span frame)
{
	mpbi_req sub;
	nng_msg *msg;

	memset(&sub, 0, sizeof(sub));
	sub.r_broker  = r->r_broker;
	sub.r_sess    = r->r_sess;
	sub.r_now     = r->r_now;
	sub.r_batched = true; // never parks, so it needs no token of its own
	mpbi_dispatch(&sub, frame.ptr, frame.len);
	if (!sub.r_replied) {
		mpbi_req_error(&sub, MPB_EINTERNAL, "handler sent no reply");
	}
	if ((msg = mpbi_reply_take(&sub.r_reply)) == NULL) {
		mpbi_reply_err(&r->r_reply.rp_w, MPB_ENOMEM, "out of memory");
		return;
	}
	mpbi_reply_raw(&r->r_reply, nng_msg_body(msg), nng_msg_len(msg));
	// The next request's reply is built in the same message.
	mpbi_reply_recycle(msg);
}

// The bytes of r's reply so far.
static size_t
batch_reply_len(const mpbi_req *r)
{
	return (r->r_reply.rp_msg != NULL ? nng_msg_len(r->r_reply.rp_msg) : 0);
}

// BATCH requests -> [replies]
void
mpbi_h_batch(mpbi_req *r)
{
	size_t    max_reply = mpbi_broker_config(r->r_broker)->max_frame;
	mpbi_span rest;
	mpbi_span frame;
	size_t    n;

	if (r->r_batched) {
		mpbi_req_error(r, MPB_EINVAL, "a batch cannot hold a batch");
		return;
	}
	if (mpbi_span_array(mpbi_arg(r, 1), &n, &rest) != MPB_OK) {
		mpbi_req_error(r, MPB_EINVAL, "the batch must be an array of requests");
		return;
	}
	if (n > MPBI_BATCH_MAX_OPS) {
		mpbi_req_error(r, MPB_EMSGSIZE,
		    "a batch of %zu requests exceeds the limit of %u", n,
		    MPBI_BATCH_MAX_OPS);
		return;
	}
	mpbi_req_ok(r, 1);
	mpbi_reply_array(&r->r_reply, n);
	for (size_t i = 0; i < n; i++) {
		// The frame check passed, so every element splits off.
		(void) mpbi_span_next(&rest, &frame);
		// Replies can be far larger than requests (gets): once this
		// one outgrows a frame, the rest are left for another batch
		// rather than run with their results thrown away.
		if (batch_reply_len(r) > max_reply) {
			mpbi_reply_err(&r->r_reply.rp_w, MPB_EMSGSIZE,
			    "not run: the batch's reply exceeds max_frame");
			continue;
		}
		batch_run_one(r, frame);
	}
}
