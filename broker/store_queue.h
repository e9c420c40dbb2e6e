// store_queue.h -- the three queue kinds behind one ops table.
//
// fifo and lifo keep item pointers in a deque (O(1) at both ends);
// priority keeps {priority, sequence, item} in a binary heap, lowest
// priority first and, among equal priorities, lowest sequence (put order)
// first, as Python's PriorityQueue and beanstalkd do.  POSIX message
// queues and RabbitMQ serve the highest number first; mpbroker does not.

#ifndef MPBI_STORE_QUEUE_H
#define MPBI_STORE_QUEUE_H

#include "core.h"

typedef struct mpbi_queue mpbi_queue;

typedef struct mpbi_queue_ops {
	mpbi_qkind  qo_kind;
	const char *qo_name; // "fifo", "lifo", "priority"
	void (*qo_init)(mpbi_queue *q);
	void (*qo_fini)(mpbi_queue *q); // frees the items still held
	// Takes ownership of it on MPB_OK; MPB_ENOMEM leaves q unchanged.
	mpb_err (*qo_push)(mpbi_queue *q, mpbi_item *it, int64_t prio);
	// Removes the next item (NULL when empty); *priop gets its priority
	// (0 for fifo and lifo) and *seqp its put sequence (priority only).
	// The caller owns the item.
	mpbi_item *(*qo_pop)(mpbi_queue *q, int64_t *priop, uint64_t *seqp);
	// Puts back an item taken by qo_pop (a lease ended): at the head of
	// a fifo, the top of a lifo, its own place (priority, seq) in a
	// priority queue.  Takes it on MPB_OK; MPB_ENOMEM leaves q unchanged.
	mpb_err (*qo_requeue)(
	    mpbi_queue *q, mpbi_item *it, int64_t prio, uint64_t seq);
	size_t (*qo_len)(const mpbi_queue *q);
	// Calls fn for every item in an order that, pushed again into an
	// empty queue of the kind, rebuilds this one (log rewrites).  Stops
	// at fn's first error and returns it.
	mpb_err (*qo_each)(const mpbi_queue *q,
	    mpb_err (*fn)(void *arg, const mpbi_item *it, int64_t prio,
	        uint64_t seq),
	    void *arg);
} mpbi_queue_ops;

struct mpbi_queue {
	mpbi_obj              q_obj; // first: a queue is an object
	const mpbi_queue_ops *q_ops;
	uint64_t              q_maxsize;    // 0 = unbounded
	uint64_t              q_unfinished; // put and not yet task_done
	uint64_t              q_seq;        // next put's sequence number
	union {
		mpbi_deque q_deque; // fifo, lifo
		mpbi_heap  q_heap;  // priority
	};
	mpbi_waitlist q_getters; // parked gets: the queue is empty
	mpbi_waitlist q_putters; // parked puts: the queue is full
	mpbi_waitlist q_joiners; // parked joins: q_unfinished > 0
	mpbi_htab    *q_leases;  // delivery id -> lease (ops_queue.c)
	uint64_t      q_next_delivery;
};

// The ops of a kind, or NULL for an unknown kind number.
const mpbi_queue_ops *mpbi_queue_ops_for(uint64_t kind);

#endif // MPBI_STORE_QUEUE_H
