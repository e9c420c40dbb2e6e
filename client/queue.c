// queue.c -- the queue calls of libmpb.
//
// Each call is one request and one reply through client.c's call path:
// check the arguments the broker cannot check for us, write the request
// with proto/, run it, and read the results into the out-parameters only
// once all of them have decoded.  A result of the wrong type means the
// broker broke the protocol: MPB_EPROTO.

#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "enc.h"

// queue_plain runs a call on name whose only other argument, if any, is a
// timeout, and whose success carries no result.
static mpb_err
queue_plain(mpb_client *c, mpbi_op op, const char *name, bool waits,
    uint32_t timeout_ms)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_named(&call, c, op, name, waits ? 2 : 1);
	if (err == MPB_OK) {
		if (waits) {
			mpbi_put_uint(&call.w, timeout_ms);
		}
		err = mpbi_call_run(
		    &call, waits ? (int64_t) timeout_ms : MPBI_WAIT_NONE, 0);
	}
	mpbi_call_fini(&call);
	return (err);
}

// info_decode reads kind, size, maxsize, unfinished from s[0..3].
static mpb_err
info_decode(const mpbi_span *s, mpb_queue_info *ip)
{
	uint64_t kind;
	uint64_t size;
	uint64_t maxsize;
	uint64_t unfinished;

	if (mpbi_span_uint(s[0], &kind) != MPB_OK ||
	    mpbi_span_uint(s[1], &size) != MPB_OK ||
	    mpbi_span_uint(s[2], &maxsize) != MPB_OK ||
	    mpbi_span_uint(s[3], &unfinished) != MPB_OK) {
		return (MPB_EPROTO);
	}
	// A kind this library does not know cannot be given to the caller
	// as an mpb_queue_kind.
	if (kind > MPB_QUEUE_PRIORITY) {
		return (MPB_EPROTO);
	}
	ip->name       = NULL;
	ip->kind       = (mpb_queue_kind) kind;
	ip->size       = size;
	ip->maxsize    = maxsize;
	ip->unfinished = unfinished;
	ip->leased     = 0;
	return (MPB_OK);
}

mpb_err
mpb_queue_create(mpb_client *c, const char *name, mpb_queue_kind kind,
    uint64_t maxsize, bool *createdp)
{
	mpbi_call call;
	bool      created;
	mpb_err   err;

	err = mpbi_call_named(&call, c, MPBI_OP_Q_CREATE, name, 3);
	if (err == MPB_OK && (unsigned) kind > MPB_QUEUE_PRIORITY) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		mpbi_put_uint(&call.w, (uint64_t) kind);
		mpbi_put_uint(&call.w, maxsize);
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 1);
	}
	if (err == MPB_OK &&
	    mpbi_span_bool(call.f.elem[1], &created) != MPB_OK) {
		err = MPB_EPROTO;
	}
	if (err == MPB_OK && createdp != NULL) {
		*createdp = created;
	}
	mpbi_call_fini(&call);
	return (err);
}

mpb_err
mpbi_enc_queue_put(mpbi_writer *w, const char *name, const void *value,
    size_t len, int64_t priority, uint32_t timeout_ms)
{
	mpb_err err = mpbi_request_named(w, MPBI_OP_Q_PUT, name, 4);

	// Exactly one msgpack object, shallow enough that the request
	// around it (one array deeper) stays within what any frame may be.
	if (err == MPB_OK) {
		err = mpbi_value_check(value, len);
	}
	if (err == MPB_OK) {
		mpbi_put_raw(w, value, len);
		mpbi_put_int(w, priority);
		mpbi_put_uint(w, timeout_ms);
	}
	return (err);
}

mpb_err
mpbi_enc_queue_get(mpbi_writer *w, const char *name, uint32_t timeout_ms)
{
	mpb_err err = mpbi_request_named(w, MPBI_OP_Q_GET, name, 2);

	if (err == MPB_OK) {
		mpbi_put_uint(w, timeout_ms);
	}
	return (err);
}

mpb_err
mpb_queue_put(mpb_client *c, const char *name, const void *value,
    size_t len, int64_t priority, uint32_t timeout_ms)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_open(&call, c);
	if (err == MPB_OK) {
		err = mpbi_enc_queue_put(
		    &call.w, name, value, len, priority, timeout_ms);
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, timeout_ms, 0);
	}
	mpbi_call_fini(&call);
	return (err);
}

mpb_err
mpb_queue_get(mpb_client *c, const char *name, uint32_t timeout_ms,
    void **valuep, size_t *lenp, int64_t *priorityp)
{
	mpbi_call call;
	int64_t   priority;
	mpb_err   err;

	err = mpbi_call_open(&call, c);
	if (err == MPB_OK) {
		err = mpbi_enc_queue_get(&call.w, name, timeout_ms);
	}
	if (err == MPB_OK && (valuep == NULL || lenp == NULL)) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, timeout_ms, 2);
	}
	if (err == MPB_OK &&
	    mpbi_span_int(call.f.elem[2], &priority) != MPB_OK) {
		err = MPB_EPROTO;
	}
	if (err == MPB_OK) {
		err = mpbi_value_dup(call.f.elem[1], valuep, lenp);
	}
	if (err == MPB_OK && priorityp != NULL) {
		*priorityp = priority;
	}
	mpbi_call_fini(&call);
	return (err);
}

mpb_err
mpb_queue_info_get(mpb_client *c, const char *name, mpb_queue_info *infop)
{
	mpbi_call      call;
	mpb_queue_info info;
	mpb_err        err;

	err = mpbi_call_named(&call, c, MPBI_OP_Q_INFO, name, 1);
	if (err == MPB_OK && infop == NULL) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 4);
	}
	if (err == MPB_OK) {
		err = info_decode(&call.f.elem[1], &info);
	}
	// Brokers before leases send four results.
	if (err == MPB_OK && call.f.nelem > 5 &&
	    mpbi_span_uint(call.f.elem[5], &info.leased) != MPB_OK) {
		err = MPB_EPROTO;
	}
	if (err == MPB_OK) {
		*infop = info;
	}
	mpbi_call_fini(&call);
	return (err);
}

// queue_info is mpb_queue_info_get for qsize/empty/full, which check
// their own out-parameter first so that a NULL one sends nothing.
static mpb_err
queue_info(mpb_client *c, const char *name, const void *outp,
    mpb_queue_info *infop)
{
	if (outp == NULL) {
		mpbi_error_clear();
		return (MPB_EINVAL);
	}
	return (mpb_queue_info_get(c, name, infop));
}

mpb_err
mpb_queue_qsize(mpb_client *c, const char *name, uint64_t *sizep)
{
	mpb_queue_info info;
	mpb_err        err;

	err = queue_info(c, name, sizep, &info);
	if (err == MPB_OK) {
		*sizep = info.size;
	}
	return (err);
}

mpb_err
mpb_queue_empty(mpb_client *c, const char *name, bool *emptyp)
{
	mpb_queue_info info;
	mpb_err        err;

	err = queue_info(c, name, emptyp, &info);
	if (err == MPB_OK) {
		*emptyp = info.size == 0;
	}
	return (err);
}

mpb_err
mpb_queue_full(mpb_client *c, const char *name, bool *fullp)
{
	mpb_queue_info info;
	mpb_err        err;

	err = queue_info(c, name, fullp, &info);
	if (err == MPB_OK) {
		// As Python's Queue.full(): an unbounded queue is never full.
		*fullp = info.maxsize > 0 && info.size >= info.maxsize;
	}
	return (err);
}

mpb_err
mpb_queue_task_done(mpb_client *c, const char *name)
{
	return (queue_plain(c, MPBI_OP_Q_TASK_DONE, name, false, 0));
}

mpb_err
mpb_queue_join(mpb_client *c, const char *name, uint32_t timeout_ms)
{
	return (queue_plain(c, MPBI_OP_Q_JOIN, name, true, timeout_ms));
}

mpb_err
mpb_queue_delete(mpb_client *c, const char *name)
{
	return (queue_plain(c, MPBI_OP_Q_DELETE, name, false, 0));
}

static int
info_cmp(const void *a, const void *b)
{
	const mpb_queue_info *x = a;
	const mpb_queue_info *y = b;

	return (strcmp(x->name, y->name));
}

// list_decode reads [[name, kind, size, maxsize, unfinished], ...] into a
// new array.  Entries may carry more fields (a newer broker); the
// spans were checked as a whole by the reply parse already, but each step
// is still checked so a mistake here cannot read past the frame.
static mpb_err
list_decode(mpbi_span s, mpb_queue_info **listp, size_t *countp)
{
	mpb_queue_info *list;
	mpbi_span       body;
	mpbi_span       entry;
	mpbi_span       fields;
	mpbi_span       f[5];
	const char     *name;
	size_t          namelen;
	size_t          n;
	size_t          nf;
	mpb_err         err = MPB_OK;

	if (mpbi_span_array(s, &n, &body) != MPB_OK) {
		return (MPB_EPROTO);
	}
	if (n == 0) {
		*listp  = NULL;
		*countp = 0;
		return (MPB_OK);
	}
	// n is at most the frame's length: every entry takes a byte.
	if ((list = calloc(n, sizeof(*list))) == NULL) {
		return (MPB_ENOMEM);
	}
	for (size_t i = 0; i < n && err == MPB_OK; i++) {
		if (mpbi_span_next(&body, &entry) != MPB_OK ||
		    mpbi_span_array(entry, &nf, &fields) != MPB_OK || nf < 5) {
			err = MPB_EPROTO;
		}
		for (size_t j = 0; j < 5 && err == MPB_OK; j++) {
			if (mpbi_span_next(&fields, &f[j]) != MPB_OK) {
				err = MPB_EPROTO;
			}
		}
		if (err == MPB_OK &&
		    mpbi_span_str(f[0], &name, &namelen) != MPB_OK) {
			err = MPB_EPROTO;
		}
		if (err == MPB_OK) {
			err = info_decode(&f[1], &list[i]);
		}
		if (err == MPB_OK) {
			err = mpbi_str_dup(name, namelen, &list[i].name);
		}
	}
	if (err != MPB_OK) {
		mpb_queue_list_free(list, n); // names not yet set are NULL
		return (err);
	}
	// The broker need not sort; the contract says sorted by name.
	qsort(list, n, sizeof(*list), info_cmp);
	*listp  = list;
	*countp = n;
	return (MPB_OK);
}

mpb_err
mpb_queue_list(mpb_client *c, mpb_queue_info **listp, size_t *countp)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_begin(&call, c, MPBI_OP_Q_LIST, 0);
	if (err == MPB_OK && (listp == NULL || countp == NULL)) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 1);
	}
	if (err == MPB_OK) {
		err = list_decode(call.f.elem[1], listp, countp);
	}
	mpbi_call_fini(&call);
	return (err);
}

void
mpb_queue_list_free(mpb_queue_info *list, size_t count)
{
	if (list == NULL) {
		return;
	}
	for (size_t i = 0; i < count; i++) {
		free(list[i].name);
	}
	free(list);
}

mpb_err
mpb_queue_get_leased(mpb_client *c, const char *name, uint32_t timeout_ms,
    uint32_t lease_ms, void **valuep, size_t *lenp, mpb_delivery *deliveryp)
{
	mpbi_call    call;
	mpb_delivery d;
	uint64_t     deliveries;
	mpb_err      err;

	err = mpbi_call_named(&call, c, MPBI_OP_Q_GET_LEASED, name, 3);
	if (err == MPB_OK && (valuep == NULL || lenp == NULL ||
	                         deliveryp == NULL || lease_ms == 0)) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		mpbi_put_uint(&call.w, timeout_ms);
		mpbi_put_uint(&call.w, lease_ms);
		err = mpbi_call_run(&call, timeout_ms, 4);
	}
	if (err == MPB_OK &&
	    (mpbi_span_int(call.f.elem[2], &d.priority) != MPB_OK ||
	        mpbi_span_uint(call.f.elem[3], &d.id) != MPB_OK ||
	        mpbi_span_uint(call.f.elem[4], &deliveries) != MPB_OK ||
	        deliveries > UINT32_MAX)) {
		err = MPB_EPROTO;
	}
	if (err == MPB_OK) {
		err = mpbi_value_dup(call.f.elem[1], valuep, lenp);
	}
	if (err == MPB_OK) {
		d.deliveries = (uint32_t) deliveries;
		*deliveryp   = d;
	}
	mpbi_call_fini(&call);
	return (err);
}

// The three calls on a delivery: [name, id(, lease_ms)] -> [].
static mpb_err
delivery_call(mpb_client *c, mpbi_op op, const char *name, uint64_t id,
    uint32_t lease_ms)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_named(&call, c, op, name, op == MPBI_OP_Q_EXTEND ? 3 : 2);
	if (err == MPB_OK && op == MPBI_OP_Q_EXTEND && lease_ms == 0) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		mpbi_put_uint(&call.w, id);
		if (op == MPBI_OP_Q_EXTEND) {
			mpbi_put_uint(&call.w, lease_ms);
		}
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 0);
	}
	mpbi_call_fini(&call);
	return (err);
}

mpb_err
mpb_queue_ack(mpb_client *c, const char *name, uint64_t id)
{
	return (delivery_call(c, MPBI_OP_Q_ACK, name, id, 0));
}

mpb_err
mpb_queue_nack(mpb_client *c, const char *name, uint64_t id)
{
	return (delivery_call(c, MPBI_OP_Q_NACK, name, id, 0));
}

mpb_err
mpb_queue_extend(mpb_client *c, const char *name, uint64_t id, uint32_t lease_ms)
{
	return (delivery_call(c, MPBI_OP_Q_EXTEND, name, id, lease_ms));
}
