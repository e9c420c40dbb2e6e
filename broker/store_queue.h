// store_queue.h -- the three queue kinds behind one ops table.
//
// fifo and lifo keep their values inline in a chunked deque (chunkq.h:
// about 2 bytes beyond the value each, no malloc per item); priority
// keeps {priority, sequence, item} in a binary heap, lowest priority
// first and, among equal priorities, lowest sequence (put order) first,
// as Python's PriorityQueue and beanstalkd do.  POSIX message queues and
// RabbitMQ serve the highest number first; mpbroker does not.
//
// A plain get looks at the next item where it is stored (qo_peek), copies
// it into the reply and then drops it (qo_drop): no item is made.  A
// leased get takes an mpbi_item out (qo_take), which the lease holds until
// it is acked or comes back (qo_requeue).
//
// Memory accounting (--max-memory, stats memory_used): a stored value
// counts its length plus sizeof(mpbi_item), wherever it is kept -- in an
// item (priority queues, leases, parked puts) or inline in a chunk -- so
// moving a value between the two changes nothing.  Chunk headers, the
// unused end of chunks and the spare chunk are not counted, as malloc's
// own overhead of items never was.

#ifndef MPBI_STORE_QUEUE_H
#define MPBI_STORE_QUEUE_H

#include "chunkq.h"
#include "core.h"

typedef struct mpbi_queue mpbi_queue;

// One stored item as the store shows it, not copied: valid until the
// queue next changes.
typedef struct mpbi_qview {
	const uint8_t *qv_data;
	size_t         qv_len;
	uint32_t       qv_deliveries; // leased gets that handed it out
	int64_t        qv_prio;       // 0 for fifo and lifo
	uint64_t       qv_seq;        // put sequence (priority only, else 0)
} mpbi_qview;

typedef struct mpbi_queue_ops {
	mpbi_qkind  qo_kind;
	const char *qo_name; // "fifo", "lifo", "priority"
	void (*qo_init)(mpbi_queue *q);
	void (*qo_fini)(mpbi_queue *q); // frees the items still held
	// Copies len bytes of value in at the end the kind puts to.  MPB_OK,
	// or MPB_ENOMEM with q unchanged.
	mpb_err (*qo_put)(
	    mpbi_queue *q, const void *value, size_t len, int64_t prio);
	// Shows the next item in *v without removing it; false when empty.
	bool (*qo_peek)(const mpbi_queue *q, mpbi_qview *v);
	// Removes and frees the next item (the one qo_peek shows); q must
	// not be empty.
	void (*qo_drop)(mpbi_queue *q);
	// Removes the next item as an mpbi_item the caller then owns; *priop
	// gets its priority (0 for fifo and lifo) and *seqp its put sequence
	// (priority only).  q must not be empty.  MPB_ENOMEM (no memory to
	// make the item) leaves q unchanged.
	mpb_err (*qo_take)(
	    mpbi_queue *q, mpbi_item **itp, int64_t *priop, uint64_t *seqp);
	// Puts back an item taken by qo_take (a lease ended), delivery count
	// and all: at the head of a fifo, the top of a lifo, its own place
	// (priority, seq) in a priority queue.  Takes it on MPB_OK (it may
	// be freed at once: fifo and lifo copy it in); MPB_ENOMEM leaves q
	// unchanged and the caller still owns it.
	mpb_err (*qo_requeue)(
	    mpbi_queue *q, mpbi_item *it, int64_t prio, uint64_t seq);
	size_t (*qo_len)(const mpbi_queue *q);
	// Calls fn for every item in an order that, put again into an empty
	// queue of the kind, rebuilds this one (log rewrites).  Stops at
	// fn's first error and returns it.
	mpb_err (*qo_each)(const mpbi_queue *q,
	    mpb_err (*fn)(void *arg, const mpbi_qview *v), void *arg);
} mpbi_queue_ops;

struct mpbi_queue {
	mpbi_obj              q_obj; // first: a queue is an object
	const mpbi_queue_ops *q_ops;
	uint64_t              q_maxsize;    // 0 = unbounded
	uint64_t              q_unfinished; // put and not yet task_done
	uint64_t              q_seq;        // next put's sequence number
	union {
		mpbi_chunkq q_chunks; // fifo, lifo
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
