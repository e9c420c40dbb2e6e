// store_queue.c -- fifo, lifo and priority storage for queues.
//
// fifo and lifo share one chunkq: both put at the back; fifo serves and
// requeues at the front, lifo at the back.  Each value stored there is
// counted in mpbi_item_bytes as len + sizeof(mpbi_item) (store_queue.h).

#include <stdlib.h>

#include "store_queue.h"

typedef struct prio_entry {
	int64_t    pe_prio;
	uint64_t   pe_seq;
	mpbi_item *pe_item;
} prio_entry;

static void
chunk_init(mpbi_queue *q)
{
	mpbi_chunkq_init(&q->q_chunks);
}

static void
chunk_fini(mpbi_queue *q)
{
	mpbi_chunkq_iter it;
	mpbi_chunkq_view v;

	mpbi_chunkq_iter_init(&q->q_chunks, &it);
	while (mpbi_chunkq_iter_next(&it, &v)) {
		mpbi_item_bytes_sub(v.cv_len);
	}
	mpbi_chunkq_fini(&q->q_chunks);
}

// Copies a value in at end e, counting it.
static mpb_err
chunk_add(mpbi_queue *q, mpbi_chunkq_end e, const void *value, size_t len,
    uint32_t deliveries)
{
	mpb_err rv = mpbi_chunkq_push(&q->q_chunks, e, value, len, deliveries);

	if (rv == MPB_OK) {
		mpbi_item_bytes_add(len);
	}
	return (rv);
}

static mpb_err
chunk_put(mpbi_queue *q, const void *value, size_t len, int64_t prio)
{
	(void) prio;
	return (chunk_add(q, MPBI_CHUNKQ_BACK, value, len, 0));
}

static bool
chunk_peek(const mpbi_queue *q, mpbi_chunkq_end e, mpbi_qview *v)
{
	mpbi_chunkq_view cv;

	if (!mpbi_chunkq_peek(&q->q_chunks, e, &cv)) {
		return (false);
	}
	v->qv_data       = cv.cv_data;
	v->qv_len        = cv.cv_len;
	v->qv_deliveries = cv.cv_deliveries;
	v->qv_prio       = 0;
	v->qv_seq        = 0;
	return (true);
}

static void
chunk_drop(mpbi_queue *q, mpbi_chunkq_end e)
{
	mpbi_item_bytes_sub(mpbi_chunkq_drop(&q->q_chunks, e));
}

// A fifo serves (and requeues) at the front, a lifo at the back.
static bool
fifo_peek(const mpbi_queue *q, mpbi_qview *v)
{
	return (chunk_peek(q, MPBI_CHUNKQ_FRONT, v));
}

static bool
lifo_peek(const mpbi_queue *q, mpbi_qview *v)
{
	return (chunk_peek(q, MPBI_CHUNKQ_BACK, v));
}

static void
fifo_drop(mpbi_queue *q)
{
	chunk_drop(q, MPBI_CHUNKQ_FRONT);
}

static void
lifo_drop(mpbi_queue *q)
{
	chunk_drop(q, MPBI_CHUNKQ_BACK);
}

// The next value, copied out into an item, then dropped: the item's
// bytes are counted as the inline value's stop being, so the total does
// not move.
static mpb_err
chunk_take(mpbi_queue *q, mpbi_item **itp, int64_t *priop, uint64_t *seqp)
{
	mpbi_qview v;
	mpbi_item *it;

	(void) q->q_ops->qo_peek(q, &v);
	if ((it = mpbi_item_create(v.qv_data, v.qv_len)) == NULL) {
		return (MPB_ENOMEM);
	}
	it->it_deliveries = v.qv_deliveries;
	q->q_ops->qo_drop(q);
	*itp   = it;
	*priop = 0;
	*seqp  = 0;
	return (MPB_OK);
}

// Copies it back in at end e and frees it.
static mpb_err
chunk_requeue(mpbi_queue *q, mpbi_chunkq_end e, mpbi_item *it)
{
	mpb_err rv = chunk_add(q, e, it->it_data, it->it_len, it->it_deliveries);

	if (rv == MPB_OK) {
		mpbi_item_destroy(it);
	}
	return (rv);
}

static mpb_err
fifo_requeue(mpbi_queue *q, mpbi_item *it, int64_t prio, uint64_t seq)
{
	(void) prio;
	(void) seq;
	return (chunk_requeue(q, MPBI_CHUNKQ_FRONT, it));
}

static mpb_err
lifo_requeue(mpbi_queue *q, mpbi_item *it, int64_t prio, uint64_t seq)
{
	(void) prio;
	(void) seq;
	return (chunk_requeue(q, MPBI_CHUNKQ_BACK, it));
}

static size_t
chunk_len(const mpbi_queue *q)
{
	return (mpbi_chunkq_len(&q->q_chunks));
}

static mpb_err
chunk_each(const mpbi_queue *q, mpb_err (*fn)(void *arg, const mpbi_qview *v),
    void *arg)
{
	mpbi_chunkq_iter it;
	mpbi_chunkq_view cv;
	mpbi_qview       v = { NULL, 0, 0, 0, 0 };
	mpb_err          rv = MPB_OK;

	// Front to back is put order for both fifo and lifo.
	mpbi_chunkq_iter_init(&q->q_chunks, &it);
	while (rv == MPB_OK && mpbi_chunkq_iter_next(&it, &cv)) {
		v.qv_data       = cv.cv_data;
		v.qv_len        = cv.cv_len;
		v.qv_deliveries = cv.cv_deliveries;
		rv = fn(arg, &v);
	}
	return (rv);
}

static bool
prio_less(const void *a, const void *b)
{
	const prio_entry *pa = a;
	const prio_entry *pb = b;

	if (pa->pe_prio != pb->pe_prio) {
		return (pa->pe_prio < pb->pe_prio);
	}
	return (pa->pe_seq < pb->pe_seq);
}

static void
prio_init(mpbi_queue *q)
{
	mpbi_heap_init(&q->q_heap, sizeof(prio_entry), prio_less, NULL);
}

static void
prio_fini(mpbi_queue *q)
{
	prio_entry e;

	while (mpbi_heap_pop(&q->q_heap, &e)) {
		mpbi_item_destroy(e.pe_item);
	}
	mpbi_heap_fini(&q->q_heap);
}

static mpb_err
prio_put(mpbi_queue *q, const void *value, size_t len, int64_t prio)
{
	prio_entry e = { prio, q->q_seq, NULL };

	if ((e.pe_item = mpbi_item_create(value, len)) == NULL) {
		return (MPB_ENOMEM);
	}
	if (mpbi_heap_push(&q->q_heap, &e) != MPB_OK) {
		mpbi_item_destroy(e.pe_item);
		return (MPB_ENOMEM);
	}
	q->q_seq++;
	return (MPB_OK);
}

static void
view_from_prio(mpbi_qview *v, const prio_entry *e)
{
	v->qv_data       = e->pe_item->it_data;
	v->qv_len        = e->pe_item->it_len;
	v->qv_deliveries = e->pe_item->it_deliveries;
	v->qv_prio       = e->pe_prio;
	v->qv_seq        = e->pe_seq;
}

static bool
prio_peek(const mpbi_queue *q, mpbi_qview *v)
{
	const prio_entry *e = mpbi_heap_peek(&q->q_heap);

	if (e == NULL) {
		return (false);
	}
	view_from_prio(v, e);
	return (true);
}

static void
prio_drop(mpbi_queue *q)
{
	prio_entry e;

	if (mpbi_heap_pop(&q->q_heap, &e)) {
		mpbi_item_destroy(e.pe_item);
	}
}

static mpb_err
prio_take(mpbi_queue *q, mpbi_item **itp, int64_t *priop, uint64_t *seqp)
{
	prio_entry e;

	if (!mpbi_heap_pop(&q->q_heap, &e)) {
		return (MPB_ENOMEM); // not reached: q is not empty
	}
	*itp   = e.pe_item;
	*priop = e.pe_prio;
	*seqp  = e.pe_seq;
	return (MPB_OK);
}

static mpb_err
prio_requeue(mpbi_queue *q, mpbi_item *it, int64_t prio, uint64_t seq)
{
	prio_entry e = { prio, seq, it };

	return (mpbi_heap_push(&q->q_heap, &e));
}

static size_t
prio_len(const mpbi_queue *q)
{
	return (mpbi_heap_len(&q->q_heap));
}

static int
prio_cmp(const void *a, const void *b)
{
	return (prio_less(a, b) ? -1 : prio_less(b, a) ? 1 : 0);
}

static mpb_err
prio_each(const mpbi_queue *q, mpb_err (*fn)(void *arg, const mpbi_qview *v),
    void *arg)
{
	mpbi_qview  v;
	size_t      n = mpbi_heap_len(&q->q_heap);
	prio_entry *all;
	mpb_err     rv = MPB_OK;

	if (n == 0) {
		return (MPB_OK);
	}
	if ((all = malloc(n * sizeof(*all))) == NULL) {
		return (MPB_ENOMEM);
	}
	// In (priority, sequence) order, so equal priorities keep their
	// order when pushed again.
	for (size_t i = 0; i < n; i++) {
		all[i] = *(prio_entry *) mpbi_heap_at(&q->q_heap, i);
	}
	qsort(all, n, sizeof(*all), prio_cmp);
	for (size_t i = 0; i < n && rv == MPB_OK; i++) {
		view_from_prio(&v, &all[i]);
		rv = fn(arg, &v);
	}
	free(all);
	return (rv);
}

static const mpbi_queue_ops queue_kinds[] = {
	[MPBI_QKIND_FIFO] = { MPBI_QKIND_FIFO, "fifo", chunk_init, chunk_fini,
	    chunk_put, fifo_peek, fifo_drop, chunk_take, fifo_requeue,
	    chunk_len, chunk_each },
	[MPBI_QKIND_LIFO] = { MPBI_QKIND_LIFO, "lifo", chunk_init, chunk_fini,
	    chunk_put, lifo_peek, lifo_drop, chunk_take, lifo_requeue,
	    chunk_len, chunk_each },
	[MPBI_QKIND_PRIORITY] = { MPBI_QKIND_PRIORITY, "priority", prio_init,
	    prio_fini, prio_put, prio_peek, prio_drop, prio_take, prio_requeue,
	    prio_len, prio_each },
};

const mpbi_queue_ops *
mpbi_queue_ops_for(uint64_t kind)
{
	if (kind >= sizeof(queue_kinds) / sizeof(queue_kinds[0])) {
		return (NULL);
	}
	return (&queue_kinds[kind]);
}
