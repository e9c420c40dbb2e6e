// ops_queue.c -- queue requests, with Python's queue.Queue semantics.
//
// Hand-offs keep the invariants of core.h: a put meets a waiting getter
// only when the queue is empty, and goes straight into that getter's
// reply; a get that frees a slot in a full queue admits the oldest
// waiting putter's item at once.  Either way the item is in exactly one
// place at every moment.

#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "ops.h"
#include "reply.h"
#include "store_queue.h"

static void queue_destroy(mpbi_broker *b, mpbi_obj *o);

static const char *
queue_kind_name(const mpbi_obj *o)
{
	return (((const mpbi_queue *) o)->q_ops->qo_name);
}

static uint64_t
queue_size(const mpbi_obj *o)
{
	const mpbi_queue *q = (const mpbi_queue *) o;

	return (q->q_ops->qo_len(q));
}

const mpbi_class_ops mpbi_queue_class = {
	.class_id   = MPBI_CLASS_QUEUE,
	.class_name = "queue",
	.destroy    = queue_destroy,
	.kind_name  = queue_kind_name,
	.size       = queue_size,
};

static mpbi_queue *
req_queue(const mpbi_req *r)
{
	return ((mpbi_queue *) r->r_obj);
}

static size_t
queue_len(const mpbi_queue *q)
{
	return (q->q_ops->qo_len(q));
}

static bool
queue_is_full(const mpbi_queue *q)
{
	return (q->q_maxsize != 0 && queue_len(q) >= q->q_maxsize);
}

static void
fail_all(mpbi_broker *b, mpbi_waitlist *wl, mpb_err code, const char *why)
{
	mpbi_waiter *w;

	while ((w = mpbi_waitlist_first(wl)) != NULL) {
		mpbi_waiter_fail(b, w, code, "%s", why);
	}
}

static void
queue_destroy(mpbi_broker *b, mpbi_obj *o)
{
	mpbi_queue *q = (mpbi_queue *) o;

	fail_all(b, &q->q_getters, MPB_EDELETED, "queue deleted");
	fail_all(b, &q->q_putters, MPB_EDELETED, "queue deleted");
	fail_all(b, &q->q_joiners, MPB_EDELETED, "queue deleted");
	q->q_ops->qo_fini(q);
	mpbi_obj_free(o);
}

// The success reply of a get: [value, priority].
static void
reply_got(mpbi_reply *rep, const void *value, size_t len, int64_t prio)
{
	mpbi_reply_begin(rep, 2);
	mpbi_reply_raw(rep, value, len);
	mpbi_reply_int(rep, prio);
}

static void
wake_joiners(mpbi_broker *b, mpbi_queue *q)
{
	mpbi_waiter *w;
	mpbi_reply   rep;

	while ((w = mpbi_waitlist_first(&q->q_joiners)) != NULL) {
		mpbi_reply_begin(&rep, 0);
		mpbi_waiter_finish(b, w, &rep);
	}
}

// After a get made room: move the oldest parked put into the queue.
static void
admit_putter(mpbi_broker *b, mpbi_queue *q)
{
	mpbi_waiter *w = mpbi_waitlist_first(&q->q_putters);
	mpbi_reply   rep;

	if (w == NULL || queue_is_full(q)) {
		return;
	}
	if (q->q_ops->qo_push(q, w->w_item, w->w_prio) != MPB_OK) {
		mpbi_waiter_fail(b, w, MPB_ENOMEM, "out of memory");
		return;
	}
	w->w_item = NULL; // now the queue's
	q->q_unfinished++;
	mpbi_reply_begin(&rep, 0);
	mpbi_waiter_finish(b, w, &rep);
}

// QUEUE.CREATE name kind maxsize -> [created]
void
mpbi_h_qcreate(mpbi_req *r)
{
	uint64_t              kind;
	uint64_t              maxsize;
	const mpbi_queue_ops *ops;
	mpbi_obj             *o;
	mpbi_queue           *q;
	mpb_err               rv;

	if (!mpbi_arg_uint(r, 2, "kind", &kind) ||
	    !mpbi_arg_uint(r, 3, "maxsize", &maxsize)) {
		return;
	}
	if ((ops = mpbi_queue_ops_for(kind)) == NULL) {
		mpbi_req_error(r, MPB_EINVAL,
		    "kind must be 0 (fifo), 1 (lifo) or 2 (priority)");
		return;
	}
	o = mpbi_obj_lookup(r->r_broker, r->r_name, r->r_namelen);
	if (o != NULL) {
		if (o->o_ops != &mpbi_queue_class) {
			mpbi_req_error(r, MPB_EWRONGTYPE,
			    MPBI_NAME_FMT " is a %s, not a queue",
			    MPBI_NAME_ARG(r->r_name, r->r_namelen),
			    o->o_ops->class_name);
			return;
		}
		q = (mpbi_queue *) o;
		if (q->q_ops != ops || q->q_maxsize != maxsize) {
			mpbi_req_error(r, MPB_EEXIST,
			    "queue " MPBI_NAME_FMT
			    " exists as %s with maxsize %llu",
			    MPBI_NAME_ARG(r->r_name, r->r_namelen),
			    q->q_ops->qo_name,
			    (unsigned long long) q->q_maxsize);
			return;
		}
		mpbi_req_ok(r, 1);
		mpbi_reply_bool(&r->r_reply, false);
		return;
	}
	rv = mpbi_obj_create(r->r_broker, &mpbi_queue_class, sizeof(*q),
	    r->r_name, r->r_namelen, &o);
	if (rv != MPB_OK) {
		mpbi_req_error(r, rv, "cannot create queue: %s", mpb_strerror(rv));
		return;
	}
	q            = (mpbi_queue *) o;
	q->q_ops     = ops;
	q->q_maxsize = maxsize;
	ops->qo_init(q);
	mpbi_req_ok(r, 1);
	mpbi_reply_bool(&r->r_reply, true);
}

// QUEUE.PUT name value priority timeout_ms -> []
void
mpbi_h_qput(mpbi_req *r)
{
	mpbi_queue  *q     = req_queue(r);
	mpbi_span    value = mpbi_arg(r, 2);
	int64_t      prio;
	uint32_t     timeout;
	mpbi_waiter *w;
	mpbi_item   *it;
	mpbi_reply   rep;
	mpb_err      rv;

	if (!mpbi_arg_int(r, 3, "priority", &prio) ||
	    !mpbi_arg_timeout(r, 4, &timeout)) {
		return;
	}
	if ((w = mpbi_waitlist_first(&q->q_getters)) != NULL) {
		// The queue is empty and someone waits: hand over directly,
		// reporting the priority as a pop from this kind would.
		reply_got(&rep, value.ptr, value.len,
		    q->q_ops->qo_kind == MPBI_QKIND_PRIORITY ? prio : 0);
		mpbi_waiter_finish(r->r_broker, w, &rep);
		q->q_unfinished++;
		mpbi_req_ok(r, 0);
		return;
	}
	if (!queue_is_full(q)) {
		if ((it = mpbi_item_create(value.ptr, value.len)) == NULL) {
			mpbi_req_error(r, MPB_ENOMEM, "out of memory");
			return;
		}
		if (q->q_ops->qo_push(q, it, prio) != MPB_OK) {
			mpbi_item_destroy(it);
			mpbi_req_error(r, MPB_ENOMEM, "out of memory");
			return;
		}
		q->q_unfinished++;
		mpbi_req_ok(r, 0);
		return;
	}
	if (timeout == 0) {
		mpbi_req_error(r, MPB_EFULL, "queue " MPBI_NAME_FMT " is full",
		    MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return;
	}
	if ((it = mpbi_item_create(value.ptr, value.len)) == NULL) {
		mpbi_req_error(r, MPB_ENOMEM, "out of memory");
		return;
	}
	if ((rv = mpbi_park(r, &q->q_putters, timeout, &w)) != MPB_OK) {
		mpbi_item_destroy(it);
		mpbi_req_error(r, rv, "cannot wait: %s", mpb_strerror(rv));
		return;
	}
	w->w_item = it;
	w->w_prio = prio;
}

// QUEUE.GET name timeout_ms -> [value, priority]
void
mpbi_h_qget(mpbi_req *r)
{
	mpbi_queue  *q = req_queue(r);
	uint32_t     timeout;
	mpbi_item   *it;
	mpbi_waiter *w;
	int64_t      prio;
	mpb_err      rv;

	if (!mpbi_arg_timeout(r, 2, &timeout)) {
		return;
	}
	if ((it = q->q_ops->qo_pop(q, &prio)) != NULL) {
		r->r_replied = true;
		reply_got(&r->r_reply, it->it_data, it->it_len, prio);
		mpbi_item_destroy(it);
		admit_putter(r->r_broker, q);
		return;
	}
	if (timeout == 0) {
		mpbi_req_error(r, MPB_EEMPTY, "queue " MPBI_NAME_FMT " is empty",
		    MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return;
	}
	if ((rv = mpbi_park(r, &q->q_getters, timeout, &w)) != MPB_OK) {
		mpbi_req_error(r, rv, "cannot wait: %s", mpb_strerror(rv));
	}
}

// QUEUE.INFO name -> [kind, size, maxsize, unfinished]
void
mpbi_h_qinfo(mpbi_req *r)
{
	mpbi_queue *q = req_queue(r);

	mpbi_req_ok(r, 4);
	mpbi_reply_uint(&r->r_reply, q->q_ops->qo_kind);
	mpbi_reply_uint(&r->r_reply, queue_len(q));
	mpbi_reply_uint(&r->r_reply, q->q_maxsize);
	mpbi_reply_uint(&r->r_reply, q->q_unfinished);
}

// QUEUE.TASK_DONE name -> []
void
mpbi_h_qtask_done(mpbi_req *r)
{
	mpbi_queue *q = req_queue(r);

	if (q->q_unfinished == 0) {
		mpbi_req_error(r, MPB_ESTATE,
		    "task_done called more times than items were put");
		return;
	}
	if (--q->q_unfinished == 0) {
		wake_joiners(r->r_broker, q);
	}
	mpbi_req_ok(r, 0);
}

// QUEUE.JOIN name timeout_ms -> []
void
mpbi_h_qjoin(mpbi_req *r)
{
	mpbi_queue  *q = req_queue(r);
	uint32_t     timeout;
	mpbi_waiter *w;
	mpb_err      rv;

	if (!mpbi_arg_timeout(r, 2, &timeout)) {
		return;
	}
	if (q->q_unfinished == 0) {
		mpbi_req_ok(r, 0);
		return;
	}
	if (timeout == 0) {
		mpbi_req_error(r, MPB_ETIMEDOUT, "%llu task(s) unfinished",
		    (unsigned long long) q->q_unfinished);
		return;
	}
	if ((rv = mpbi_park(r, &q->q_joiners, timeout, &w)) != MPB_OK) {
		mpbi_req_error(r, rv, "cannot wait: %s", mpb_strerror(rv));
	}
}

// QUEUE.DELETE name -> []
void
mpbi_h_qdelete(mpbi_req *r)
{
	mpbi_obj_delete(r->r_broker, r->r_obj);
	r->r_obj = NULL;
	mpbi_req_ok(r, 0);
}

// QUEUE.LIST -> [[name, kind, size, maxsize, unfinished], ...] by name
void
mpbi_h_qlist(mpbi_req *r)
{
	mpbi_obj **all;
	size_t     n;
	mpb_err    rv;

	if ((rv = mpbi_obj_sorted(r->r_broker, &mpbi_queue_class, &all, &n)) !=
	    MPB_OK) {
		mpbi_req_error(r, rv, "out of memory");
		return;
	}
	mpbi_req_ok(r, 1);
	mpbi_reply_array(&r->r_reply, n);
	for (size_t i = 0; i < n; i++) {
		mpbi_queue *q = (mpbi_queue *) all[i];
		mpbi_reply_array(&r->r_reply, 5);
		mpbi_reply_str(&r->r_reply, q->q_obj.o_name, q->q_obj.o_namelen);
		mpbi_reply_uint(&r->r_reply, q->q_ops->qo_kind);
		mpbi_reply_uint(&r->r_reply, queue_len(q));
		mpbi_reply_uint(&r->r_reply, q->q_maxsize);
		mpbi_reply_uint(&r->r_reply, q->q_unfinished);
	}
	free(all);
}
