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
// Ends a session: its parked requests are cancelled (their replies go to
// the transport, which drops them for a dead pipe).
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

// Monotonic clock in milliseconds.
uint64_t mpbi_now_ms(void);

// One line to stderr with a timestamp.
void mpbi_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// ---------------------------------------------------------------------
// Below: for the code inside the core (dispatch, handlers, stores).

// A stored value: the exact msgpack bytes a client sent.  One allocation.
typedef struct mpbi_item {
	uint32_t it_len;
	uint8_t  it_data[];
} mpbi_item;

// NULL on allocation failure.
mpbi_item *mpbi_item_create(const void *data, size_t len);
void       mpbi_item_destroy(mpbi_item *it);

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

// A parked request.
struct mpbi_waiter {
	mpbi_session  *w_sess;
	void          *w_token;
	mpbi_waitlist *w_list; // the object's list it waits on
	mpbi_waiter   *w_prev; // in w_list
	mpbi_waiter   *w_next;
	mpbi_waiter   *w_sprev; // in its session's list
	mpbi_waiter   *w_snext;
	uint64_t       w_deadline;
	uint64_t       w_seq;     // arrival order, breaks deadline ties
	size_t         w_heappos; // index in the deadline heap
	// A parked put carries its item until it is accepted.
	mpbi_item *w_item;
	int64_t    w_prio;
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

#endif // MPBI_CORE_H
