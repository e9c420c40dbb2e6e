// sync_common.h -- what the synchronisation classes share (ops_sync.c,
// ops_lock.c, ops_barrier.c, ops_pipe.c).
//
// Owner identity.  Locks, rlocks and conditions are owned by a session
// (one client connection) plus a thread id the client sends with each
// request (libmpb sends gettid()).  Semaphore permits and pipe ends
// belong to a session.  Whatever a session holds is an mpbi_hold (core.h)
// and is given back when the session ends.
//
// Waiters of these classes use mpbi_waiter's w_obj / w_tid / w_val /
// w_phase, and w_cancel where a timeout is an answer rather than an error
// (an event's wait answers false) or must change the object (a barrier
// breaks).

#ifndef MPBI_SYNC_COMMON_H
#define MPBI_SYNC_COMMON_H

#include "core.h"

// Parameters of a create op, as the class's create/compare hooks see
// them.  Each class reads only the fields it has.
typedef struct mpbi_sync_params {
	uint64_t    sp_value;   // semaphore value, barrier parties
	bool        sp_flag;    // bounded semaphore, reentrant lock
	const char *sp_name;    // a condition's lock
	size_t      sp_namelen;
} mpbi_sync_params;

// How a class is created by mpbi_sync_open.
typedef struct mpbi_sync_kind {
	const mpbi_class_ops *sk_cls;
	// Bytes of the object, which may depend on the parameters.
	size_t (*sk_size)(const mpbi_sync_params *p);
	void (*sk_init)(mpbi_obj *o, const mpbi_sync_params *p);
	// false when an existing object has other parameters than p.
	bool (*sk_same)(const mpbi_obj *o, const mpbi_sync_params *p);
} mpbi_sync_kind;

// Creates an object of kind k called name with parameters p.  MPB_OK with
// *op, or MPB_ELIMIT / MPB_ENOMEM.  For class create_default hooks.
mpb_err mpbi_sync_create(mpbi_broker *b, const mpbi_sync_kind *k,
    const mpbi_sync_params *p, const char *name, size_t namelen,
    mpbi_obj **op);

// The body of a create op: opens the request's name as kind k with
// parameters p, replying [created] (true when this call created it), or
// an error: MPB_EWRONGTYPE (another class has the name), MPB_EEXIST
// (same class, other parameters), MPB_ELIMIT, MPB_ENOMEM.  On success
// *op (when not NULL) is the object.
void mpbi_sync_open(mpbi_req *r, const mpbi_sync_kind *k,
    const mpbi_sync_params *p, mpbi_obj **op);

// Argument readers (reply MPB_EINVAL and return false on a bad one).
bool mpbi_sync_arg_tid(mpbi_req *r, size_t i, uint64_t *tidp);
bool mpbi_sync_arg_bool(mpbi_req *r, size_t i, const char *what, bool *vp);

// Parks the request on wl for timeout_ms with the sync fields set; on
// failure replies with the error and returns NULL.
mpbi_waiter *mpbi_sync_park(mpbi_req *r, mpbi_waitlist *wl,
    uint32_t timeout_ms, uint64_t tid,
    void (*cancel)(mpbi_broker *, mpbi_waiter *, mpb_err));

// Replies: [] / [v] now, or to a parked request.
void mpbi_sync_ok(mpbi_req *r);
void mpbi_sync_ok_bool(mpbi_req *r, bool v);
void mpbi_sync_ok_uint(mpbi_req *r, uint64_t v);
void mpbi_sync_finish(mpbi_broker *b, mpbi_waiter *w);
void mpbi_sync_finish_bool(mpbi_broker *b, mpbi_waiter *w, bool v);
void mpbi_sync_finish_uint(mpbi_broker *b, mpbi_waiter *w, uint64_t v);

// Answers every waiter of wl with [v].
void mpbi_sync_wake_all_bool(mpbi_broker *b, mpbi_waitlist *wl, bool v);

// A w_cancel hook: a deadline answers [false]; a session end fails.
void mpbi_sync_cancel_false(mpbi_broker *b, mpbi_waiter *w, mpb_err why);

// The request's session holds h (with h's owner thread, when it has one).
static inline bool
mpbi_sync_holds(const mpbi_req *r, const mpbi_hold *h)
{
	return (h->h_sess == r->r_sess);
}

#endif // MPBI_SYNC_COMMON_H
