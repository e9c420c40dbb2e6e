// ops_queue.c -- queue requests, with Python's queue.Queue semantics.
//
// Hand-offs keep the invariants of core.h: a put meets a waiting getter
// only when the queue is empty, and goes straight into that getter's
// reply; a get that frees a slot in a full queue admits the oldest
// waiting putter's item at once.  Either way the item is in exactly one
// place at every moment.

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "durable.h"
#include "ops.h"
#include "reply.h"
#include "store_queue.h"

static void    queue_destroy(mpbi_broker *b, mpbi_obj *o);
static mpb_err queue_dump(const mpbi_obj *o, mpbi_dump *d);
static void    leases_free_all(mpbi_broker *b, mpbi_queue *q);
static void    leases_return_all(mpbi_broker *b, mpbi_queue *q);
static mpb_err leases_dump(const mpbi_queue *q, mpbi_dump *d);

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
	.dump       = queue_dump,
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

// ---------------------------------------------------------------------
// The log (durable.h): what each change writes, and how it is replayed.

// The arguments of the two records that rebuild a queue, shared by the
// live log and the dump of a rewrite.
static void
put_create_args(mpbi_writer *w, const mpbi_queue *q)
{
	mpbi_put_str(w, q->q_obj.o_name, q->q_obj.o_namelen);
	mpbi_put_uint(w, q->q_ops->qo_kind);
	mpbi_put_uint(w, q->q_maxsize);
}

static void
put_push_args(mpbi_writer *w, const mpbi_queue *q, const void *value,
    size_t len, int64_t prio)
{
	mpbi_put_str(w, q->q_obj.o_name, q->q_obj.o_namelen);
	mpbi_put_raw(w, value, len);
	mpbi_put_int(w, prio);
}

static void
log_create(mpbi_broker *b, const mpbi_queue *q)
{
	mpbi_writer *w = mpbi_effect_begin(b, MPBI_REC_Q_CREATE, 3);

	if (w != NULL) {
		put_create_args(w, q);
		mpbi_effect_end(b);
	}
}

static void
log_push(mpbi_broker *b, const mpbi_queue *q, const void *value, size_t len,
    int64_t prio)
{
	mpbi_writer *w = mpbi_effect_begin(b, MPBI_REC_Q_PUSH, 3);

	if (w != NULL) {
		put_push_args(w, q, value, len, prio);
		mpbi_effect_end(b);
	}
}

static void
log_pop(mpbi_broker *b, const mpbi_queue *q)
{
	mpbi_log_name(b, MPBI_REC_Q_POP, &q->q_obj);
}

// Creates queue name (which must not exist).
static mpb_err
queue_make(mpbi_broker *b, const char *name, size_t namelen,
    const mpbi_queue_ops *ops, uint64_t maxsize, mpbi_queue **qp)
{
	mpbi_obj   *o;
	mpbi_queue *q;
	mpb_err     rv;

	rv = mpbi_obj_create(b, &mpbi_queue_class, sizeof(*q), name, namelen, &o);
	if (rv != MPB_OK) {
		return (rv);
	}
	q            = (mpbi_queue *) o;
	q->q_ops     = ops;
	q->q_maxsize = maxsize;
	ops->qo_init(q);
	*qp = q;
	return (MPB_OK);
}

// Copies value in at the end the kind puts it.
static mpb_err
queue_push_copy(mpbi_queue *q, const void *value, size_t len, int64_t prio)
{
	if (q->q_ops->qo_put(q, value, len, prio) != MPB_OK) {
		return (MPB_ENOMEM);
	}
	q->q_unfinished++;
	return (MPB_OK);
}

// The queue a replayed record names; records only ever name queues the
// log created before.
static mpbi_queue *
replay_queue(mpbi_broker *b, const mpbi_frame *f)
{
	return ((mpbi_queue *) mpbi_replay_obj(b, f, &mpbi_queue_class));
}

mpb_err
mpbi_replay_q_create(mpbi_broker *b, const mpbi_frame *f)
{
	const char           *name;
	size_t                namelen;
	uint64_t              kind;
	uint64_t              maxsize;
	const mpbi_queue_ops *ops;
	mpbi_queue           *q;

	if (mpbi_span_str(f->elem[1], &name, &namelen) != MPB_OK ||
	    mpbi_span_uint(f->elem[2], &kind) != MPB_OK ||
	    mpbi_span_uint(f->elem[3], &maxsize) != MPB_OK ||
	    (ops = mpbi_queue_ops_for(kind)) == NULL) {
		return (MPB_EPROTO);
	}
	return (queue_make(b, name, namelen, ops, maxsize, &q));
}

mpb_err
mpbi_replay_q_push(mpbi_broker *b, const mpbi_frame *f)
{
	mpbi_queue *q = replay_queue(b, f);
	int64_t     prio;
	uint64_t    seq;
	mpbi_item  *it;

	if (q == NULL || mpbi_span_int(f->elem[3], &prio) != MPB_OK) {
		return (MPB_EPROTO);
	}
	if (f->nelem == 4) {
		// A bounded queue may hold more than maxsize here only if
		// the log says so, which it cannot: every push logged was
		// admitted.
		return (queue_push_copy(q, f->elem[2].ptr, f->elem[2].len, prio));
	}
	// From a rewrite: the item's own place, so leased items (which keep
	// theirs) go back where they were.
	if (mpbi_span_uint(f->elem[4], &seq) != MPB_OK ||
	    (it = mpbi_item_create(f->elem[2].ptr, f->elem[2].len)) == NULL) {
		return (MPB_EPROTO);
	}
	if (q->q_ops->qo_requeue(q, it, prio, seq) != MPB_OK) {
		mpbi_item_destroy(it);
		return (MPB_ENOMEM);
	}
	if (seq >= q->q_seq) {
		q->q_seq = seq + 1;
	}
	q->q_unfinished++;
	return (MPB_OK);
}

mpb_err
mpbi_replay_q_pop(mpbi_broker *b, const mpbi_frame *f)
{
	mpbi_queue *q = replay_queue(b, f);

	if (q == NULL || queue_len(q) == 0) {
		return (MPB_EPROTO);
	}
	q->q_ops->qo_drop(q);
	return (MPB_OK);
}

static void
replay_done_one(void *arg, mpbi_obj *o)
{
	mpbi_broker *b = arg;

	if (o->o_ops == &mpbi_queue_class) {
		mpbi_queue *q = (mpbi_queue *) o;
		// Leases do not outlive the broker: their items go back.
		leases_return_all(b, q);
		// task_done calls are not logged: after a restart every item
		// still queued is unfinished, and nothing else is.
		q->q_unfinished = queue_len(q);
	}
}

void
mpbi_replay_q_done(mpbi_broker *b)
{
	mpbi_obj_foreach(b, replay_done_one, b);
}

typedef struct dump_ctx {
	mpbi_dump        *d;
	const mpbi_queue *q;
} dump_ctx;

static mpb_err
dump_item(void *arg, const mpbi_qview *v)
{
	dump_ctx    *dc  = arg;
	bool         pq  = dc->q->q_ops->qo_kind == MPBI_QKIND_PRIORITY;
	mpbi_writer *w   = mpbi_dump_begin(dc->d, MPBI_REC_Q_PUSH, pq ? 4 : 3);

	put_push_args(w, dc->q, v->qv_data, v->qv_len, v->qv_prio);
	if (pq) {
		mpbi_put_uint(w, v->qv_seq);
	}
	return (mpbi_dump_end(dc->d));
}

static mpb_err
queue_dump(const mpbi_obj *o, mpbi_dump *d)
{
	dump_ctx dc = { d, (const mpbi_queue *) o };
	mpb_err  rv;

	put_create_args(mpbi_dump_begin(d, MPBI_REC_Q_CREATE, 3), dc.q);
	if ((rv = mpbi_dump_end(d)) != MPB_OK) {
		return (rv);
	}
	if ((rv = dc.q->q_ops->qo_each(dc.q, dump_item, &dc)) != MPB_OK) {
		return (rv);
	}
	return (leases_dump(dc.q, d));
}

static void
queue_destroy(mpbi_broker *b, mpbi_obj *o)
{
	mpbi_queue *q = (mpbi_queue *) o;

	mpbi_waitlist_fail(b, &q->q_getters, MPB_EDELETED, "queue deleted");
	mpbi_waitlist_fail(b, &q->q_putters, MPB_EDELETED, "queue deleted");
	mpbi_waitlist_fail(b, &q->q_joiners, MPB_EDELETED, "queue deleted");
	leases_free_all(b, q);
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
	if (queue_push_copy(q, w->w_item->it_data, w->w_item->it_len,
	        w->w_prio) != MPB_OK) {
		mpbi_waiter_fail(b, w, MPB_ENOMEM, "out of memory");
		return;
	}
	log_push(b, q, w->w_item->it_data, w->w_item->it_len, w->w_prio);
	mpbi_item_destroy(w->w_item); // copied into the queue
	w->w_item = NULL;
	mpbi_reply_begin(&rep, 0);
	mpbi_waiter_finish(b, w, &rep);
}

// ---------------------------------------------------------------------
// Gets and leases.
//
// A plain get copies the item into its reply and drops it.  A leased get (an
// acknowledged delivery) pops it into a lease held by the getter's
// session: ack frees it, nack, the lease's end or the session's end put
// it back (qo_requeue), where the next getter takes it, its delivery
// count one higher.

enum { GETTER_PLAIN = 0, GETTER_LEASED = 1 }; // waiter w_phase

typedef struct q_lease {
	mpbi_hold   l_hold;  // held by the session that got it
	mpbi_timer  l_timer; // the lease's end
	mpbi_queue *l_queue;
	mpbi_item  *l_item;
	int64_t     l_prio;
	uint64_t    l_seq;
	uint64_t    l_id;
} q_lease;

#define LEASE_OF(p, field)                                                    \
	((q_lease *) (void *) ((char *) (p) -offsetof(q_lease, field)))

static void lease_return(mpbi_broker *b, q_lease *l);

static void
lease_expired(mpbi_broker *b, mpbi_timer *t)
{
	lease_return(b, LEASE_OF(t, l_timer));
}

static void
lease_released(mpbi_broker *b, mpbi_hold *h)
{
	lease_return(b, LEASE_OF(h, l_hold));
}

static void
log_delivery(mpbi_broker *b, const mpbi_queue *q, mpbi_rec rec, uint64_t id)
{
	mpbi_writer *w = mpbi_effect_begin(b, rec, 2);

	if (w != NULL) {
		mpbi_put_str(w, q->q_obj.o_name, q->q_obj.o_namelen);
		mpbi_put_uint(w, id);
		mpbi_effect_end(b);
	}
}

// Makes lease `id` on q for session s, for lease_ms, with no item yet
// (lease_attach gives it one); with a NULL session (replay) nothing is
// armed and nobody holds it.  MPB_ENOMEM changes nothing.
static mpb_err
lease_new(mpbi_broker *b, mpbi_queue *q, mpbi_session *s, uint64_t id,
    uint32_t lease_ms, q_lease **lp)
{
	q_lease *l;

	if (q->q_leases == NULL && mpbi_htab_create(&q->q_leases) != MPB_OK) {
		return (MPB_ENOMEM);
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		return (MPB_ENOMEM);
	}
	l->l_queue = q;
	l->l_id    = id;
	mpbi_timer_init(&l->l_timer, lease_expired);
	if (mpbi_htab_insert(q->q_leases, &l->l_id, sizeof(l->l_id), l) != MPB_OK ||
	    (s != NULL && mpbi_timer_arm(b, &l->l_timer,
	                      mpbi_broker_now(b) + lease_ms) != MPB_OK)) {
		(void) mpbi_htab_remove(q->q_leases, &l->l_id, sizeof(l->l_id));
		free(l);
		return (MPB_ENOMEM);
	}
	if (s != NULL) {
		mpbi_hold_take(s, &l->l_hold, lease_released);
	}
	*lp = l;
	return (MPB_OK);
}

// Gives lease l the item it delivers, taken from its queue: one more
// delivery.
static void
lease_attach(q_lease *l, mpbi_item *it, int64_t prio, uint64_t seq)
{
	mpbi_queue *q = l->l_queue;

	l->l_item = it;
	l->l_prio = prio;
	l->l_seq  = seq;
	it->it_deliveries++;
	if (l->l_id >= q->q_next_delivery) {
		q->q_next_delivery = l->l_id + 1;
	}
}

static void
lease_free(mpbi_broker *b, q_lease *l, bool with_item)
{
	(void) mpbi_htab_remove(l->l_queue->q_leases, &l->l_id, sizeof(l->l_id));
	mpbi_timer_cancel(b, &l->l_timer);
	mpbi_hold_drop(&l->l_hold);
	if (with_item) {
		mpbi_item_destroy(l->l_item);
	}
	free(l);
}

// Takes the next item of q (not empty) into a new lease `id`; the lease
// is made first, so a failure leaves the item where it was.
static mpb_err
lease_take(mpbi_broker *b, mpbi_queue *q, mpbi_session *s, uint64_t id,
    uint32_t lease_ms, q_lease **lp)
{
	q_lease   *l;
	mpbi_item *it;
	int64_t    prio;
	uint64_t   seq;
	mpb_err    rv;

	if ((rv = lease_new(b, q, s, id, lease_ms, &l)) != MPB_OK) {
		return (rv);
	}
	if ((rv = q->q_ops->qo_take(q, &it, &prio, &seq)) != MPB_OK) {
		lease_free(b, l, false);
		return (rv);
	}
	lease_attach(l, it, prio, seq);
	*lp = l;
	return (MPB_OK);
}

// Builds the get's reply in rep from the next item of q (not empty) for
// session sess: leased when lease_ms is not 0.  A plain get copies the
// item into the reply where it is stored and only then drops it.
static void
take_next(mpbi_broker *b, mpbi_queue *q, mpbi_session *sess,
    uint32_t lease_ms, mpbi_reply *rep)
{
	mpbi_qview v;
	q_lease   *l;

	if (lease_ms == 0) {
		(void) q->q_ops->qo_peek(q, &v);
		reply_got(rep, v.qv_data, v.qv_len, v.qv_prio);
		if (mpbi_writer_err(&rep->rp_w) != MPB_OK) {
			// No memory for the reply (it becomes ENOMEM): the
			// item stays.
			return;
		}
		log_pop(b, q);
		q->q_ops->qo_drop(q);
	} else if (lease_take(b, q, sess, q->q_next_delivery, lease_ms, &l) !=
	    MPB_OK) {
		mpbi_reply_errorf(rep, MPB_ENOMEM, "out of memory");
		return;
	} else {
		log_delivery(b, q, MPBI_REC_Q_LEASE, l->l_id);
		mpbi_reply_begin(rep, 4);
		mpbi_reply_raw(rep, l->l_item->it_data, l->l_item->it_len);
		mpbi_reply_int(rep, l->l_prio);
		mpbi_reply_uint(rep, l->l_id);
		mpbi_reply_uint(rep, l->l_item->it_deliveries);
	}
	// A get made room for a waiting put.
	admit_putter(b, q);
}

// Gives waiting getters, oldest first, what the queue holds.
static void
serve_getters(mpbi_broker *b, mpbi_queue *q)
{
	mpbi_waiter *w;
	mpbi_reply   rep;

	while (queue_len(q) > 0 &&
	    (w = mpbi_waitlist_first(&q->q_getters)) != NULL) {
		take_next(b, q, w->w_sess,
		    w->w_phase == GETTER_LEASED ? (uint32_t) w->w_val : 0, &rep);
		mpbi_waiter_finish(b, w, &rep);
	}
}

// The lease ends without an ack: the item goes back to the queue.
static void
lease_return(mpbi_broker *b, q_lease *l)
{
	mpbi_queue *q  = l->l_queue;
	uint64_t    id = l->l_id;

	if (q->q_ops->qo_requeue(q, l->l_item, l->l_prio, l->l_seq) != MPB_OK) {
		// Try again in a second rather than lose it.
		mpbi_hold_drop(&l->l_hold);
		(void) mpbi_timer_arm(b, &l->l_timer, mpbi_broker_now(b) + 1000);
		return;
	}
	lease_free(b, l, false);
	log_delivery(b, q, MPBI_REC_Q_RETURN, id);
	serve_getters(b, q);
}

// Collects a queue's leases, sorted by delivery id (descending when
// `newest_first`).
static q_lease **
leases_sorted(const mpbi_queue *q, size_t *np, bool newest_first);

static void
leases_free_all(mpbi_broker *b, mpbi_queue *q)
{
	size_t    n;
	q_lease **all = leases_sorted(q, &n, false);

	for (size_t i = 0; i < n; i++) {
		lease_free(b, all[i], true);
	}
	free(all);
	mpbi_htab_destroy(q->q_leases);
	q->q_leases = NULL;
}

static void
leases_return_all(mpbi_broker *b, mpbi_queue *q)
{
	size_t    n;
	q_lease **all = leases_sorted(q, &n, true);

	// Newest first, each to the head (or its place): the oldest ends
	// up first, as it was.
	for (size_t i = 0; i < n; i++) {
		lease_return(b, all[i]);
	}
	free(all);
}

static int
lease_cmp(const void *a, const void *b)
{
	const q_lease *x = *(q_lease *const *) a;
	const q_lease *y = *(q_lease *const *) b;

	return (x->l_id < y->l_id ? -1 : x->l_id > y->l_id);
}

static int
lease_cmp_newest(const void *a, const void *b)
{
	return (lease_cmp(b, a));
}

static q_lease **
leases_sorted(const mpbi_queue *q, size_t *np, bool newest_first)
{
	void **all = NULL;

	*np = 0;
	if (q->q_leases == NULL ||
	    mpbi_htab_values(q->q_leases, &all, np) != MPB_OK) {
		return (NULL);
	}
	if (*np > 1) {
		qsort(all, *np, sizeof(*all),
		    newest_first ? lease_cmp_newest : lease_cmp);
	}
	return ((q_lease **) all);
}

static mpb_err
leases_dump(const mpbi_queue *q, mpbi_dump *d)
{
	size_t    n;
	q_lease **all = leases_sorted(q, &n, false);
	mpb_err   rv  = MPB_OK;

	if (n == 0 && q->q_leases != NULL && mpbi_htab_len(q->q_leases) != 0) {
		return (MPB_ENOMEM);
	}
	for (size_t i = 0; i < n && rv == MPB_OK; i++) {
		mpbi_writer *w = mpbi_dump_begin(d, MPBI_REC_Q_LEASED, 6);
		mpbi_put_str(w, q->q_obj.o_name, q->q_obj.o_namelen);
		mpbi_put_uint(w, all[i]->l_id);
		mpbi_put_raw(w, all[i]->l_item->it_data, all[i]->l_item->it_len);
		mpbi_put_int(w, all[i]->l_prio);
		mpbi_put_uint(w, all[i]->l_seq);
		mpbi_put_uint(w, all[i]->l_item->it_deliveries);
		rv = mpbi_dump_end(d);
	}
	free(all);
	return (rv);
}

// A lease time in ms: 1 .. UINT32_MAX.
static bool
lease_arg(mpbi_req *r, size_t i, uint32_t *msp)
{
	uint64_t v;

	if (mpbi_span_uint(mpbi_arg(r, i), &v) != MPB_OK || v == 0 ||
	    v > UINT32_MAX) {
		mpbi_req_error(r, MPB_EINVAL,
		    "the lease must be an integer from 1 to %u ms",
		    (unsigned) UINT32_MAX);
		return (false);
	}
	*msp = (uint32_t) v;
	return (true);
}

// The lease named by argument i, if this session holds it; else replies.
static q_lease *
lease_of_request(mpbi_req *r, size_t i)
{
	mpbi_queue *q = req_queue(r);
	uint64_t    id;
	q_lease    *l = NULL;

	if (!mpbi_arg_uint(r, i, "the delivery id", &id)) {
		return (NULL);
	}
	if (q->q_leases != NULL) {
		l = mpbi_htab_get(q->q_leases, &id, sizeof(id));
	}
	if (l == NULL) {
		mpbi_req_error(r, MPB_ENOTFOUND,
		    "no delivery %llu out on this queue (acked, returned or "
		    "expired)",
		    (unsigned long long) id);
		return (NULL);
	}
	if (l->l_hold.h_sess != r->r_sess) {
		mpbi_req_error(r, MPB_ENOTOWNER,
		    "delivery %llu was made to another session",
		    (unsigned long long) id);
		return (NULL);
	}
	return (l);
}

// QUEUE.ACK name delivery_id -> []: the item is gone for good
void
mpbi_h_qack(mpbi_req *r)
{
	q_lease *l = lease_of_request(r, 2);

	if (l != NULL) {
		log_delivery(r->r_broker, l->l_queue, MPBI_REC_Q_ACK, l->l_id);
		lease_free(r->r_broker, l, true);
		mpbi_req_ok(r, 0);
	}
}

// QUEUE.NACK name delivery_id -> []: the item goes back now
void
mpbi_h_qnack(mpbi_req *r)
{
	q_lease *l = lease_of_request(r, 2);

	if (l != NULL) {
		mpbi_req_ok(r, 0);
		lease_return(r->r_broker, l);
	}
}

// QUEUE.EXTEND name delivery_id lease_ms -> []: lease_ms from now
void
mpbi_h_qextend(mpbi_req *r)
{
	q_lease *l = lease_of_request(r, 2);
	uint32_t lease_ms;

	if (l == NULL || !lease_arg(r, 3, &lease_ms)) {
		return;
	}
	if (mpbi_timer_arm(r->r_broker, &l->l_timer,
	        mpbi_broker_now(r->r_broker) + lease_ms) != MPB_OK) {
		mpbi_req_error(r, MPB_ENOMEM, "out of memory");
		return;
	}
	mpbi_req_ok(r, 0);
}

// Replays of the lease records (durable.h).
static q_lease *
replay_lease(mpbi_broker *b, const mpbi_frame *f, mpbi_queue **qp)
{
	mpbi_queue *q = replay_queue(b, f);
	uint64_t    id;

	*qp = q;
	if (q == NULL || q->q_leases == NULL ||
	    mpbi_span_uint(f->elem[2], &id) != MPB_OK) {
		return (NULL);
	}
	return (mpbi_htab_get(q->q_leases, &id, sizeof(id)));
}

mpb_err
mpbi_replay_q_lease(mpbi_broker *b, const mpbi_frame *f)
{
	mpbi_queue *q = replay_queue(b, f);
	uint64_t    id;
	q_lease    *l;

	if (q == NULL || mpbi_span_uint(f->elem[2], &id) != MPB_OK ||
	    queue_len(q) == 0) {
		return (MPB_EPROTO);
	}
	return (lease_take(b, q, NULL, id, 0, &l));
}

mpb_err
mpbi_replay_q_ack(mpbi_broker *b, const mpbi_frame *f)
{
	mpbi_queue *q;
	q_lease    *l = replay_lease(b, f, &q);

	if (l == NULL) {
		return (MPB_EPROTO);
	}
	lease_free(b, l, true);
	return (MPB_OK);
}

mpb_err
mpbi_replay_q_return(mpbi_broker *b, const mpbi_frame *f)
{
	mpbi_queue *q;
	q_lease    *l = replay_lease(b, f, &q);

	if (l == NULL ||
	    q->q_ops->qo_requeue(q, l->l_item, l->l_prio, l->l_seq) != MPB_OK) {
		return (MPB_EPROTO);
	}
	lease_free(b, l, false);
	return (MPB_OK);
}

mpb_err
mpbi_replay_q_leased(mpbi_broker *b, const mpbi_frame *f)
{
	mpbi_queue *q = replay_queue(b, f);
	uint64_t    id;
	int64_t     prio;
	uint64_t    seq;
	uint64_t    deliveries;
	mpbi_item  *it;
	q_lease    *l;

	if (q == NULL || mpbi_span_uint(f->elem[2], &id) != MPB_OK ||
	    mpbi_span_int(f->elem[4], &prio) != MPB_OK ||
	    mpbi_span_uint(f->elem[5], &seq) != MPB_OK ||
	    mpbi_span_uint(f->elem[6], &deliveries) != MPB_OK ||
	    deliveries == 0 || deliveries > UINT32_MAX ||
	    (it = mpbi_item_create(f->elem[3].ptr, f->elem[3].len)) == NULL) {
		return (MPB_EPROTO);
	}
	if (lease_new(b, q, NULL, id, 0, &l) != MPB_OK) {
		mpbi_item_destroy(it);
		return (MPB_ENOMEM);
	}
	lease_attach(l, it, prio, seq);
	it->it_deliveries = (uint32_t) deliveries;
	if (seq >= q->q_seq) {
		q->q_seq = seq + 1;
	}
	q->q_unfinished++;
	return (MPB_OK);
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
	rv = queue_make(r->r_broker, r->r_name, r->r_namelen, ops, maxsize, &q);
	if (rv != MPB_OK) {
		mpbi_req_error(r, rv, "cannot create queue: %s", mpb_strerror(rv));
		return;
	}
	log_create(r->r_broker, q);
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
	w = mpbi_waitlist_first(&q->q_getters);
	if (w != NULL && w->w_phase != GETTER_LEASED) {
		// The queue is empty and a plain get waits: hand over
		// directly, reporting the priority as a pop would.  Nothing
		// changes in the queue, so nothing is logged.
		reply_got(&rep, value.ptr, value.len,
		    q->q_ops->qo_kind == MPBI_QKIND_PRIORITY ? prio : 0);
		if (mpbi_writer_err(&rep.rp_w) == MPB_OK) {
			mpbi_waiter_finish(r->r_broker, w, &rep);
			q->q_unfinished++;
			mpbi_req_ok(r, 0);
			return;
		}
		// No memory for the getter's reply: the getter goes on
		// waiting and the item is stored instead, so it is not lost.
		{
			nng_msg *m = mpbi_reply_take(&rep);
			if (m != NULL) {
				nng_msg_free(m);
			}
		}
	}
	if (!queue_is_full(q)) {
		if ((rv = queue_push_copy(q, value.ptr, value.len, prio)) != MPB_OK) {
			mpbi_req_error(r, rv, "out of memory");
			return;
		}
		log_push(r->r_broker, q, value.ptr, value.len, prio);
		// A leased get that waits takes it through the queue: its
		// lease needs the item.
		serve_getters(r->r_broker, q);
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

// The body of both gets: take the next item for session `sess` (leased
// for lease_ms when not 0), or park.
static void
get_generic(mpbi_req *r, uint32_t timeout, uint32_t lease_ms)
{
	mpbi_queue  *q = req_queue(r);
	mpbi_waiter *w;
	mpb_err      rv;

	if (queue_len(q) > 0) {
		r->r_replied = true;
		take_next(r->r_broker, q, r->r_sess, lease_ms, &r->r_reply);
		return;
	}
	if (timeout == 0) {
		mpbi_req_error(r, MPB_EEMPTY, "queue " MPBI_NAME_FMT " is empty",
		    MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return;
	}
	if ((rv = mpbi_park(r, &q->q_getters, timeout, &w)) != MPB_OK) {
		mpbi_req_error(r, rv, "cannot wait: %s", mpb_strerror(rv));
		return;
	}
	w->w_phase = lease_ms != 0 ? GETTER_LEASED : GETTER_PLAIN;
	w->w_val   = lease_ms;
}

// QUEUE.GET name timeout_ms -> [value, priority]
void
mpbi_h_qget(mpbi_req *r)
{
	uint32_t timeout;

	if (mpbi_arg_timeout(r, 2, &timeout)) {
		get_generic(r, timeout, 0);
	}
}

// QUEUE.GET_LEASED name timeout_ms lease_ms
//   -> [value, priority, delivery id, deliveries]
void
mpbi_h_qget_leased(mpbi_req *r)
{
	uint32_t timeout;
	uint32_t lease_ms;

	if (!mpbi_arg_timeout(r, 2, &timeout) ||
	    !lease_arg(r, 3, &lease_ms)) {
		return;
	}
	get_generic(r, timeout, lease_ms);
}

// QUEUE.INFO name -> [kind, size, maxsize, unfinished, leased]
void
mpbi_h_qinfo(mpbi_req *r)
{
	mpbi_queue *q = req_queue(r);

	mpbi_req_ok(r, 5);
	mpbi_reply_uint(&r->r_reply, q->q_ops->qo_kind);
	mpbi_reply_uint(&r->r_reply, queue_len(q));
	mpbi_reply_uint(&r->r_reply, q->q_maxsize);
	mpbi_reply_uint(&r->r_reply, q->q_unfinished);
	mpbi_reply_uint(
	    &r->r_reply, q->q_leases != NULL ? mpbi_htab_len(q->q_leases) : 0);
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
	mpbi_log_obj_delete(r->r_broker, r->r_obj);
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
