// core.h -- the broker's state and request handling, free of transport.
//
// API (what server.c calls, always under its one broker lock):
//   mpbi_broker_create / _destroy
//   mpbi_broker_session_open / _close      a client connection (nng pipe)
//   mpbi_broker_handle                     one request frame
//   mpbi_broker_expire                     answer parked requests whose
//                                          deadline has passed
//   mpbi_broker_shutdown                   answer every parked request
//
// A request is answered at once (the reply message is returned), parked
// (answered later through transport.send_reply with the same token), or
// dropped (it came from a session that has already ended).  Store code
// below this layer has no locks: the caller serialises every call.
//
// Invariants kept by the queue code: an item is either in its queue or in
// exactly one reply handed to the transport, never both, never neither;
// a queue with waiting getters is empty; a queue with waiting putters is
// full.

#ifndef MPBI_CORE_H
#define MPBI_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "deque.h"
#include "heap.h"
#include "htab.h"
#include "mpb_err.h"
#include "proto.h"

#define MPBI_NO_DEADLINE UINT64_MAX

// Limits, all changeable by broker flags (main.c).
typedef struct mpbi_config {
	uint32_t max_frame;   // bytes of one request frame
	uint32_t max_name;    // bytes of an object name
	uint32_t max_objects; // named objects of every kind together
	uint32_t max_parked;  // parked requests per session
	uint32_t max_depth;   // container nesting accepted in a frame
	uint64_t max_memory;  // bytes of stored values; 0: no limit
	// Shared secret sessions must prove they know (auth.challenge,
	// auth.prove) before any other op; NULL: no authentication.  Not
	// owned: it must outlive the broker.
	const uint8_t *auth_secret;
	size_t         auth_secret_len;
} mpbi_config;

void mpbi_config_defaults(mpbi_config *cfg);

// What the core needs from the transport.
typedef struct mpbi_transport {
	void *arg;
	// Sends msg as the reply to the parked request `token`.  Always takes
	// ownership of msg.  Called with the broker lock held; must not block.
	void (*send_reply)(void *arg, void *token, nng_msg *msg);
} mpbi_transport;

typedef struct mpbi_broker  mpbi_broker;
typedef struct mpbi_session mpbi_session;
typedef struct mpbi_waiter  mpbi_waiter;
typedef struct mpbi_obj     mpbi_obj;

mpb_err mpbi_broker_create(const mpbi_config *cfg, const mpbi_transport *tp,
    mpbi_broker **bp);
// Frees every object and item.  Call mpbi_broker_shutdown first so no
// request is left parked.
void mpbi_broker_destroy(mpbi_broker *b);

// A session is one client connection, named by its nng pipe id.
mpb_err mpbi_broker_session_open(mpbi_broker *b, uint32_t sid);
// Ends a session: its parked requests are cancelled first (their replies
// go to the transport, which drops them for a dead pipe), then what it
// holds is given back (locks, semaphore permits, pipe ends: mpbi_hold),
// so the next waiter proceeds at once.
void mpbi_broker_session_close(mpbi_broker *b, uint32_t sid);

typedef enum mpbi_outcome {
	MPBI_REPLY,  // *replyp is the reply; the caller sends it
	MPBI_PARKED, // answered later through send_reply(token)
	MPBI_DROP,   // nothing to send (dead session, or no memory for one)
} mpbi_outcome;

// Handles one request frame from session sid at monotonic time now_ms.
// The core never keeps pointers into body.
mpbi_outcome mpbi_broker_handle(mpbi_broker *b, uint32_t sid, void *token,
    const void *body, size_t len, uint64_t now_ms, nng_msg **replyp);

// Times out every parked request with deadline <= now_ms; returns the
// earliest remaining deadline, or MPBI_NO_DEADLINE.
uint64_t mpbi_broker_expire(mpbi_broker *b, uint64_t now_ms);
uint64_t mpbi_broker_next_deadline(const mpbi_broker *b);

// Answers every parked request with MPB_ECLOSED, and every request after
// this call too.
void mpbi_broker_shutdown(mpbi_broker *b);

// Durability (durable.h).  The broker logs its changes to aof from now on
// (the caller replays it first, and closes it after destroying b).
struct mpbi_aof;
void mpbi_broker_set_aof(mpbi_broker *b, struct mpbi_aof *aof);
// Once a second, under the lock: fsync (everysec), log rewrites.
void mpbi_broker_tick(mpbi_broker *b);
// Writes the records of the change in progress and sends the replies
// held back for it.  Every entry point above ends with it; handlers need
// not call it.
void mpbi_broker_commit(mpbi_broker *b);

// Monotonic clock in milliseconds.
uint64_t mpbi_now_ms(void);

// One line to stderr with a timestamp.
void mpbi_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// ---------------------------------------------------------------------
// Below: for the code inside the core (dispatch, handlers, stores).

// A stored value: the exact msgpack bytes a client sent.  One allocation.
typedef struct mpbi_item {
	uint32_t it_len;
	uint32_t it_deliveries; // leased gets that handed it out (queues)
	uint8_t  it_data[];
} mpbi_item;

// NULL on allocation failure.  Small items come from a bounded cache of
// freed ones when it has one of their size class (see core.c).
mpbi_item *mpbi_item_create(const void *data, size_t len);
// Bytes held in live items now (headers included), for --max-memory and
// stats; freed items kept in the cache are not counted.
size_t mpbi_item_bytes(void);
// Counts (add) or uncounts (sub) in mpbi_item_bytes a value of len bytes
// that a store keeps inline rather than in an item (fifo and lifo
// chunks): it counts as an item of it would.
void mpbi_item_bytes_add(size_t len);
void mpbi_item_bytes_sub(size_t len);
void       mpbi_item_destroy(mpbi_item *it);
// Gives the cached freed items back to malloc (mpbi_broker_destroy).
void mpbi_item_cache_free(void);

// Reply under construction: one nng message and a writer into it.
typedef struct mpbi_reply {
	nng_msg    *rp_msg;
	mpbi_writer rp_w;
} mpbi_reply;

// The kinds of named object.  Each class has one mpbi_class_ops.
typedef enum mpbi_class {
	MPBI_CLASS_QUEUE,
	MPBI_CLASS_DICT,
	MPBI_CLASS_LIST,
	MPBI_CLASS_LOCK,
	MPBI_CLASS_SEMAPHORE,
	MPBI_CLASS_EVENT,
	MPBI_CLASS_CONDITION,
	MPBI_CLASS_BARRIER,
	MPBI_CLASS_PIPE,
} mpbi_class;

struct mpbi_dump; // durable.h

typedef struct mpbi_class_ops {
	mpbi_class  class_id;
	const char *class_name; // "queue", "dict", ...
	// Wakes the object's waiters with MPB_EDELETED and frees it and all
	// it holds.  The object is already out of the name table.
	void (*destroy)(mpbi_broker *b, mpbi_obj *o);
	// For object.list: the object's kind within its class ("fifo",
	// "rlock"; the class name where there is only one) and its size
	// (items, keys, elements, holders: documented per class).
	const char *(*kind_name)(const mpbi_obj *o);
	uint64_t (*size)(const mpbi_obj *o);
	// Creates the object with default parameters when a command flagged
	// MPBI_CMDF_CREATE names a missing object.  MPB_OK with *op, or an
	// error (MPB_ELIMIT, MPB_ENOMEM).  NULL when the class has no
	// defaults.
	mpb_err (*create_default)(mpbi_broker *b, const char *name,
	    size_t namelen, mpbi_obj **op);
	// Writes the object as log records that rebuild it (durable.h), for
	// log rewrites.  Runs in a forked child: no nng.  NULL: the class
	// is not durable.
	mpb_err (*dump)(const mpbi_obj *o, struct mpbi_dump *d);
} mpbi_class_ops;

// Header of every named object; the class's struct embeds it first.
struct mpbi_obj {
	const mpbi_class_ops *o_ops;
	char                 *o_name; // NUL-terminated (for logs), in the same allocation
	size_t                o_namelen;
};

// A FIFO list of parked requests on one object (arrival order).
typedef struct mpbi_waitlist {
	mpbi_waiter *wl_head;
	mpbi_waiter *wl_tail;
	size_t       wl_len;
} mpbi_waitlist;

// A timer in the broker's one deadline heap: a parked request's timeout,
// or a lock's lease.  mpbi_broker_expire calls tm_fire once the deadline
// has passed, with the timer already disarmed (fire may re-arm it).
typedef struct mpbi_timer mpbi_timer;
struct mpbi_timer {
	uint64_t tm_deadline;
	uint64_t tm_seq;     // arming order, breaks deadline ties
	size_t   tm_heappos; // index in the deadline heap, when armed
	bool     tm_armed;
	void (*tm_fire)(mpbi_broker *b, mpbi_timer *t);
};

// A parked request.
struct mpbi_waiter {
	mpbi_session  *w_sess;
	void          *w_token;
	mpbi_waitlist *w_list; // the object's list it waits on
	mpbi_waiter   *w_prev; // in w_list
	mpbi_waiter   *w_next;
	mpbi_waiter   *w_sprev; // in its session's list
	mpbi_waiter   *w_snext;
	mpbi_timer     w_timer;   // its deadline (unarmed: none)
	uint32_t       w_timeout; // the timeout_ms it was parked with
	// A parked put carries its item until it is accepted.
	mpbi_item *w_item;
	int64_t    w_prio;
	// For synchronisation objects: the object, the caller's thread id,
	// a value kept while parked (lease, saved count) and a phase.
	mpbi_obj *w_obj;
	uint64_t  w_tid;
	uint64_t  w_val;
	int       w_phase;
	// When set, called instead of failing the waiter with `why` when
	// its deadline passes (MPB_ETIMEDOUT) or its session ends
	// (MPB_ECONNLOST).  It must answer w exactly once (finish or fail),
	// or, on MPB_ETIMEDOUT only, move it (mpbi_waiter_move).  Not
	// called by delete (the class's destroy ends its waiters) or by
	// shutdown (MPB_ECLOSED for everyone).
	void (*w_cancel)(mpbi_broker *b, mpbi_waiter *w, mpb_err why);
};

// The request being handled.
typedef struct mpbi_req {
	mpbi_broker      *r_broker;
	mpbi_session     *r_sess;
	void             *r_token;
	uint64_t          r_now;
	const mpbi_frame *r_frame; // elem[0] is the op, elem[1..] the args
	size_t            r_nargs;
	const char       *r_name; // arg 1 when the command takes a name
	size_t            r_namelen;
	mpbi_obj         *r_obj; // the named object, when the command needs it
	mpbi_reply        r_reply;
	bool              r_replied;
	bool              r_parked;
	// A request inside a batch: it must not park (the batch answers
	// once, for all), so its timeouts count as 0, and it cannot be a
	// batch itself.
	bool              r_batched;
	bool              r_created; // the dispatcher created r_obj for it
} mpbi_req;

// Argument i (1-based, after the op) of the request.
static inline mpbi_span
mpbi_arg(const mpbi_req *r, size_t i)
{
	return (r->r_frame->elem[i]);
}

const mpbi_config *mpbi_broker_config(const mpbi_broker *b);

// Authentication state of a session (see proto/auth.c).  A session is
// authenticated from the start when no secret is configured.
bool mpbi_session_authed(const mpbi_session *s);
void mpbi_session_set_authed(mpbi_session *s);
// Makes and keeps a fresh random nonce for the session's next proof.
mpb_err mpbi_session_challenge(mpbi_session *s, uint8_t nonce[MPBI_AUTH_NONCE_LEN]);
// Gives back the kept nonce and forgets it (one proof per challenge);
// false when there is none.
bool mpbi_session_take_nonce(mpbi_session *s, uint8_t nonce[MPBI_AUTH_NONCE_LEN]);

// Name table.  Lookup returns NULL when absent.
mpbi_obj *mpbi_obj_lookup(mpbi_broker *b, const char *name, size_t namelen);
// Allocates an object of `size` bytes (>= sizeof(mpbi_obj) + namelen
// room is added here) with its header filled in, and inserts it.
// MPB_ELIMIT (too many objects) or MPB_ENOMEM; nothing changes on error.
mpb_err mpbi_obj_create(mpbi_broker *b, const mpbi_class_ops *ops,
    size_t size, const char *name, size_t namelen, mpbi_obj **op);
// Removes from the name table and calls ops->destroy.
void mpbi_obj_delete(mpbi_broker *b, mpbi_obj *o);
// Frees the memory of an object removed from the table (for destroy).
void mpbi_obj_free(mpbi_obj *o);
// Calls fn for every object, in no particular order.
void mpbi_obj_foreach(
    mpbi_broker *b, void (*fn)(void *arg, mpbi_obj *o), void *arg);
size_t mpbi_obj_count(const mpbi_broker *b);
// All objects (of class `cls`, or of every class when cls is NULL) sorted
// by name, as a new array the caller frees.  MPB_ENOMEM or MPB_OK;
// *arrp is NULL when there are none.
mpb_err mpbi_obj_sorted(mpbi_broker *b, const mpbi_class_ops *cls,
    mpbi_obj ***arrp, size_t *np);

// Parks the current request on list wl until timeout_ms from now.  Returns
// MPB_OK (the request is parked; the handler must not reply), or
// MPB_ELIMIT / MPB_ENOMEM (the handler replies with that error).  On OK
// *wp is the waiter, so the caller can attach an item to it.
mpb_err mpbi_park(mpbi_req *r, mpbi_waitlist *wl, uint32_t timeout_ms,
    mpbi_waiter **wp);
// Takes the waiter off its list, its session and the deadline heap, sends
// rep as its reply and frees it (not its item: the caller owns w_item
// after this call).
void mpbi_waiter_finish(mpbi_broker *b, mpbi_waiter *w, mpbi_reply *rep);
// Finishes w with an error reply.  A waiter that ends in an error (this,
// a timeout, its session ending) still owns its w_item, which is freed
// with it: the put it carried was never acknowledged.
void mpbi_waiter_fail(mpbi_broker *b, mpbi_waiter *w, mpb_err code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static inline mpbi_waiter *
mpbi_waitlist_first(const mpbi_waitlist *wl)
{
	return (wl->wl_head);
}

// Fails every waiter of wl, oldest first (for destroy hooks).
void mpbi_waitlist_fail(
    mpbi_broker *b, mpbi_waitlist *wl, mpb_err code, const char *why);

// Moves w to the tail of wl with a new deadline (MPBI_NO_DEADLINE: none),
// as when a condition's notified waiter queues for its lock.
void mpbi_waiter_move(
    mpbi_broker *b, mpbi_waiter *w, mpbi_waitlist *wl, uint64_t deadline);

// Timers.  init once; arm (again) with an absolute deadline in the
// broker's clock: MPB_OK, or MPB_ENOMEM (only possible when the timer was
// not armed; it stays unarmed); cancel is a no-op on an unarmed timer.
void    mpbi_timer_init(mpbi_timer *t, void (*fire)(mpbi_broker *, mpbi_timer *));
mpb_err mpbi_timer_arm(mpbi_broker *b, mpbi_timer *t, uint64_t deadline);
void    mpbi_timer_cancel(mpbi_broker *b, mpbi_timer *t);
// The broker's clock: the time of the request or expiry being handled
// (or of the session end being processed).
uint64_t mpbi_broker_now(const mpbi_broker *b);

// Something a session holds (a lock, semaphore permits, a pipe end) and
// must give back when it ends.  A hold is embedded in the class's state.
// When the session ends (after its parked requests have been cancelled)
// each hold it still has is dropped and h_release is called on it, which
// gives the resource back and lets the next waiter proceed.
typedef struct mpbi_hold mpbi_hold;
struct mpbi_hold {
	mpbi_session *h_sess; // NULL: not held
	mpbi_hold    *h_prev; // on the session's list
	mpbi_hold    *h_next;
	void (*h_release)(mpbi_broker *b, mpbi_hold *h);
};
// Links h (not held) to session s.
void mpbi_hold_take(mpbi_session *s, mpbi_hold *h,
    void (*release)(mpbi_broker *, mpbi_hold *));
// Unlinks h from its session; a no-op when not held.
void mpbi_hold_drop(mpbi_hold *h);

// Counts a request of op that reached its handler, for the stats op.
void mpbi_broker_count(mpbi_broker *b, mpbi_op op);
typedef struct mpbi_broker_stats_t {
	uint64_t          uptime_ms;
	uint64_t          sessions;
	uint64_t          timers; // parked requests with a deadline, leases
	uint64_t          objects;
	uint64_t          errors;
	const uint64_t   *op_count; // MPBI_OP_LIMIT entries
	uint64_t          memory_used;
	struct mpbi_aof  *aof; // NULL: not durable
} mpbi_broker_stats_t;
void mpbi_broker_stats(const mpbi_broker *b, mpbi_broker_stats_t *st);

// The session's id (its nng pipe id), for messages.
uint32_t mpbi_session_id(const mpbi_session *s);

#endif // MPBI_CORE_H
