// store_queue.c -- fifo, lifo and priority storage for queues.

#include <stdlib.h>

#include "store_queue.h"

typedef struct prio_entry {
	int64_t    pe_prio;
	uint64_t   pe_seq;
	mpbi_item *pe_item;
} prio_entry;

static void
deque_init(mpbi_queue *q)
{
	mpbi_deque_init(&q->q_deque);
}

static void
deque_fini(mpbi_queue *q)
{
	mpbi_item *it;

	while ((it = mpbi_deque_pop_front(&q->q_deque)) != NULL) {
		mpbi_item_destroy(it);
	}
	mpbi_deque_fini(&q->q_deque);
}

static mpb_err
deque_push(mpbi_queue *q, mpbi_item *it, int64_t prio)
{
	(void) prio;
	return (mpbi_deque_push_back(&q->q_deque, it));
}

static mpbi_item *
fifo_pop(mpbi_queue *q, int64_t *priop, uint64_t *seqp)
{
	*priop = 0;
	*seqp  = 0;
	return (mpbi_deque_pop_front(&q->q_deque));
}

static mpbi_item *
lifo_pop(mpbi_queue *q, int64_t *priop, uint64_t *seqp)
{
	*priop = 0;
	*seqp  = 0;
	return (mpbi_deque_pop_back(&q->q_deque));
}

static mpb_err
fifo_requeue(mpbi_queue *q, mpbi_item *it, int64_t prio, uint64_t seq)
{
	(void) prio;
	(void) seq;
	return (mpbi_deque_push_front(&q->q_deque, it));
}

static mpb_err
lifo_requeue(mpbi_queue *q, mpbi_item *it, int64_t prio, uint64_t seq)
{
	(void) prio;
	(void) seq;
	return (mpbi_deque_push_back(&q->q_deque, it));
}

static size_t
deque_len(const mpbi_queue *q)
{
	return (mpbi_deque_len(&q->q_deque));
}

static mpb_err
deque_each(const mpbi_queue *q,
    mpb_err (*fn)(void *arg, const mpbi_item *it, int64_t prio, uint64_t seq),
    void *arg)
{
	mpb_err rv = MPB_OK;

	// Front to back is put order for both fifo and lifo.
	for (size_t i = 0; i < mpbi_deque_len(&q->q_deque) && rv == MPB_OK; i++) {
		rv = fn(arg, mpbi_deque_at(&q->q_deque, i), 0, 0);
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
prio_push(mpbi_queue *q, mpbi_item *it, int64_t prio)
{
	prio_entry e = { prio, q->q_seq, it };
	mpb_err    rv;

	rv = mpbi_heap_push(&q->q_heap, &e);
	if (rv == MPB_OK) {
		q->q_seq++;
	}
	return (rv);
}

static mpbi_item *
prio_pop(mpbi_queue *q, int64_t *priop, uint64_t *seqp)
{
	prio_entry e;

	if (!mpbi_heap_pop(&q->q_heap, &e)) {
		return (NULL);
	}
	*priop = e.pe_prio;
	*seqp  = e.pe_seq;
	return (e.pe_item);
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
prio_each(const mpbi_queue *q,
    mpb_err (*fn)(void *arg, const mpbi_item *it, int64_t prio, uint64_t seq),
    void *arg)
{
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
		rv = fn(arg, all[i].pe_item, all[i].pe_prio, all[i].pe_seq);
	}
	free(all);
	return (rv);
}

static const mpbi_queue_ops queue_kinds[] = {
	[MPBI_QKIND_FIFO] = { MPBI_QKIND_FIFO, "fifo", deque_init, deque_fini,
	    deque_push, fifo_pop, fifo_requeue, deque_len, deque_each },
	[MPBI_QKIND_LIFO] = { MPBI_QKIND_LIFO, "lifo", deque_init, deque_fini,
	    deque_push, lifo_pop, lifo_requeue, deque_len, deque_each },
	[MPBI_QKIND_PRIORITY] = { MPBI_QKIND_PRIORITY, "priority", prio_init,
	    prio_fini, prio_push, prio_pop, prio_requeue, prio_len, prio_each },
};

const mpbi_queue_ops *
mpbi_queue_ops_for(uint64_t kind)
{
	if (kind >= sizeof(queue_kinds) / sizeof(queue_kinds[0])) {
		return (NULL);
	}
	return (&queue_kinds[kind]);
}
