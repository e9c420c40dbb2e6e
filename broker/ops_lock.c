// ops_lock.c -- locks, re-entrant locks and conditions (Python's Lock,
// RLock and Condition).
//
// A lock is held by one owner: a session plus the thread id the client
// sent.  Its waiters queue in arrival order on lk_waiters, which also
// holds the waiters of conditions bound to it once they are notified (or
// their wait timed out) and must re-acquire it before their wait returns.
// Invariant: a free lock has no waiters; every release hands the lock to
// the oldest waiter at once (lock_pass).
//
// Leases: an acquire with lease_ms > 0 arms lk_lease; if the holder has
// not released by then the broker releases for it and the next waiter
// proceeds.  A holder's later release then fails with MPB_ENOTOWNER.
//
// A session that ends gives back the lock it holds (lk_hold), whatever
// the count of an rlock.
//
// Conditions name their lock (a lock or an rlock, looked up on each use,
// so deleting the lock does not leave a dangling pointer).  cond.wait
// releases the lock entirely (an rlock's count is saved in w_val), parks
// on the condition, and, once notified or timed out, moves to the lock's
// waiters: the reply ([notified]) goes out only when the lock is held
// again with the saved count.  Re-acquiring has its own deadline of the
// wait's timeout again, counted from the notify (or the first deadline);
// past it the wait fails with MPB_ETIMEDOUT and the caller does NOT hold
// the lock.  A timeout of 0 returns [false] at once, lock kept.

#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "ops.h"
#include "reply.h"
#include "sync_common.h"

// w_phase of the waiters on a lock's list.
enum {
	PH_ACQUIRE,      // lock.acquire; w_val is its lease in ms
	PH_COND_WAIT,    // on a condition's list; w_val is the saved count
	PH_COND_WOKEN,   // notified, re-acquiring; w_val as above
	PH_COND_TIMEOUT, // timed out, re-acquiring; w_val as above
};

typedef struct sync_lock {
	mpbi_obj      lk_obj;
	bool          lk_reentrant;
	mpbi_hold     lk_hold;  // h_sess is the holder's session; NULL: free
	uint64_t      lk_tid;   // the holder's thread
	uint64_t      lk_count; // acquisitions not yet released
	mpbi_timer    lk_lease; // armed while a lease runs
	mpbi_waitlist lk_waiters;
} sync_lock;

typedef struct sync_cond {
	mpbi_obj      cd_obj;
	size_t        cd_locklen;
	mpbi_waitlist cd_waiters; // PH_COND_WAIT
	char          cd_lock[];  // the lock's name, NUL-terminated
} sync_cond;

static void lock_destroy(mpbi_broker *b, mpbi_obj *o);
static mpb_err lock_create_default(
    mpbi_broker *b, const char *name, size_t namelen, mpbi_obj **op);
static mpb_err rlock_create_default(
    mpbi_broker *b, const char *name, size_t namelen, mpbi_obj **op);

static const char *
lock_kind_name(const mpbi_obj *o)
{
	return (((const sync_lock *) o)->lk_reentrant ? "rlock" : "lock");
}

// The size of a lock is its count: 0 free, 1 held, more for a nested
// rlock.
static uint64_t
lock_size(const mpbi_obj *o)
{
	return (((const sync_lock *) o)->lk_count);
}

const mpbi_class_ops mpbi_lock_class = {
	.class_id       = MPBI_CLASS_LOCK,
	.class_name     = "lock",
	.destroy        = lock_destroy,
	.kind_name      = lock_kind_name,
	.size           = lock_size,
	.create_default = lock_create_default,
};

const mpbi_class_ops mpbi_rlock_class = {
	.class_id       = MPBI_CLASS_LOCK,
	.class_name     = "rlock",
	.destroy        = lock_destroy,
	.kind_name      = lock_kind_name,
	.size           = lock_size,
	.create_default = rlock_create_default,
};

static void lock_lease_expired(mpbi_broker *b, mpbi_timer *t);

static size_t
lock_objsize(const mpbi_sync_params *p)
{
	(void) p;
	return (sizeof(sync_lock));
}

static void
lock_init(mpbi_obj *o, const mpbi_sync_params *p)
{
	sync_lock *lk = (sync_lock *) o;

	lk->lk_reentrant = p->sp_flag;
	mpbi_timer_init(&lk->lk_lease, lock_lease_expired);
}

// The class already tells lock from rlock.
static bool
lock_same(const mpbi_obj *o, const mpbi_sync_params *p)
{
	(void) o;
	(void) p;
	return (true);
}

static const mpbi_sync_kind lock_kinds[2] = {
	{ &mpbi_lock_class, lock_objsize, lock_init, lock_same },
	{ &mpbi_rlock_class, lock_objsize, lock_init, lock_same },
};

static mpb_err
lock_create_default(
    mpbi_broker *b, const char *name, size_t namelen, mpbi_obj **op)
{
	mpbi_sync_params p = { .sp_flag = false };

	return (mpbi_sync_create(b, &lock_kinds[0], &p, name, namelen, op));
}

static mpb_err
rlock_create_default(
    mpbi_broker *b, const char *name, size_t namelen, mpbi_obj **op)
{
	mpbi_sync_params p = { .sp_flag = true };

	return (mpbi_sync_create(b, &lock_kinds[1], &p, name, namelen, op));
}

static bool
lock_held_by(const sync_lock *lk, const mpbi_session *s, uint64_t tid)
{
	return (lk->lk_hold.h_sess == s && lk->lk_tid == tid);
}

static void lock_session_ended(mpbi_broker *b, mpbi_hold *h);

// Makes (s, tid) the holder with count, and starts a lease.
static mpb_err
lock_grant(mpbi_broker *b, sync_lock *lk, mpbi_session *s, uint64_t tid,
    uint64_t count, uint64_t lease_ms)
{
	if (lease_ms > 0 &&
	    mpbi_timer_arm(b, &lk->lk_lease, mpbi_broker_now(b) + lease_ms) !=
	        MPB_OK) {
		return (MPB_ENOMEM);
	}
	mpbi_hold_take(s, &lk->lk_hold, lock_session_ended);
	lk->lk_tid   = tid;
	lk->lk_count = count;
	return (MPB_OK);
}

// Hands a free lock to its oldest waiter, which gets its reply now.
static void
lock_pass(mpbi_broker *b, sync_lock *lk)
{
	mpbi_waiter *w;

	while (lk->lk_hold.h_sess == NULL &&
	    (w = mpbi_waitlist_first(&lk->lk_waiters)) != NULL) {
		bool     acquire = w->w_phase == PH_ACQUIRE;
		uint64_t count   = acquire ? 1 : w->w_val;
		uint64_t lease   = acquire ? w->w_val : 0;

		if (lock_grant(b, lk, w->w_sess, w->w_tid, count, lease) !=
		    MPB_OK) {
			mpbi_waiter_fail(b, w, MPB_ENOMEM, "out of memory");
			continue;
		}
		if (acquire) {
			mpbi_sync_finish(b, w);
		} else {
			mpbi_sync_finish_bool(b, w, w->w_phase == PH_COND_WOKEN);
		}
	}
}

// Frees the lock whatever its count and passes it on.
static void
lock_free(mpbi_broker *b, sync_lock *lk)
{
	mpbi_hold_drop(&lk->lk_hold);
	mpbi_timer_cancel(b, &lk->lk_lease);
	lk->lk_count = 0;
	lk->lk_tid   = 0;
	lock_pass(b, lk);
}

static void
lock_session_ended(mpbi_broker *b, mpbi_hold *h)
{
	lock_free(b, (sync_lock *) ((char *) h - offsetof(sync_lock, lk_hold)));
}

static void
lock_lease_expired(mpbi_broker *b, mpbi_timer *t)
{
	sync_lock *lk = (sync_lock *) ((char *) t - offsetof(sync_lock, lk_lease));

	mpbi_log("lease on %s '%s' expired; released from session %u",
	    lk->lk_obj.o_ops->class_name, lk->lk_obj.o_name,
	    mpbi_session_id(lk->lk_hold.h_sess));
	lock_free(b, lk);
}

static void
lock_destroy(mpbi_broker *b, mpbi_obj *o)
{
	sync_lock *lk = (sync_lock *) o;

	mpbi_waitlist_fail(b, &lk->lk_waiters, MPB_EDELETED, "lock deleted");
	mpbi_hold_drop(&lk->lk_hold);
	mpbi_timer_cancel(b, &lk->lk_lease);
	mpbi_obj_free(o);
}

// LOCK.CREATE name reentrant -> [created]
void
mpbi_h_lock_create(mpbi_req *r)
{
	mpbi_sync_params p = { 0 };

	if (!mpbi_sync_arg_bool(r, 2, "reentrant", &p.sp_flag)) {
		return;
	}
	mpbi_sync_open(r, &lock_kinds[p.sp_flag ? 1 : 0], &p, NULL);
}

// LOCK.ACQUIRE / RLOCK.ACQUIRE name tid timeout_ms lease_ms -> []
void
mpbi_h_lock_acquire(mpbi_req *r)
{
	sync_lock   *lk = (sync_lock *) r->r_obj;
	uint64_t     tid;
	uint32_t     timeout;
	uint64_t     lease;
	mpbi_waiter *w;
	mpb_err      rv;

	if (!mpbi_sync_arg_tid(r, 2, &tid) || !mpbi_arg_timeout(r, 3, &timeout) ||
	    !mpbi_arg_uint(r, 4, "lease_ms", &lease)) {
		return;
	}
	if (lease > UINT32_MAX) {
		mpbi_req_error(r, MPB_EINVAL, "lease_ms must be at most %u",
		    (unsigned) UINT32_MAX);
		return;
	}
	if (lock_held_by(lk, r->r_sess, tid)) {
		if (!lk->lk_reentrant) {
			// Waiting for ourselves would only ever time out.
			mpbi_req_error(r, MPB_ESTATE,
			    "lock " MPBI_NAME_FMT " is already held by the caller",
			    MPBI_NAME_ARG(r->r_name, r->r_namelen));
			return;
		}
		lk->lk_count++;
		mpbi_sync_ok(r);
		return;
	}
	if (lk->lk_hold.h_sess == NULL) {
		rv = lock_grant(r->r_broker, lk, r->r_sess, tid, 1, lease);
		if (rv != MPB_OK) {
			mpbi_req_error(r, rv, "out of memory");
			return;
		}
		mpbi_sync_ok(r);
		return;
	}
	if (timeout == 0) {
		mpbi_req_error(r, MPB_EBUSY, "%s " MPBI_NAME_FMT " is held",
		    lk->lk_obj.o_ops->class_name,
		    MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return;
	}
	if ((w = mpbi_sync_park(r, &lk->lk_waiters, timeout, tid, NULL)) !=
	    NULL) {
		w->w_phase = PH_ACQUIRE;
		w->w_val   = lease;
	}
}

// Replies MPB_ENOTOWNER unless the request's (session, tid) holds lk.
static bool
lock_check_owner(mpbi_req *r, const sync_lock *lk, uint64_t tid)
{
	if (!lock_held_by(lk, r->r_sess, tid)) {
		mpbi_req_error(r, MPB_ENOTOWNER,
		    "%s '%s' is not held by the caller%s",
		    lk->lk_obj.o_ops->class_name, lk->lk_obj.o_name,
		    lk->lk_hold.h_sess == NULL ? " (it is free: released, or "
		                                 "its lease expired)"
		                               : "");
		return (false);
	}
	return (true);
}

// LOCK.RELEASE / RLOCK.RELEASE name tid -> []
void
mpbi_h_lock_release(mpbi_req *r)
{
	sync_lock *lk = (sync_lock *) r->r_obj;
	uint64_t   tid;

	if (!mpbi_sync_arg_tid(r, 2, &tid) || !lock_check_owner(r, lk, tid)) {
		return;
	}
	if (--lk->lk_count == 0) {
		lock_free(r->r_broker, lk);
	}
	mpbi_sync_ok(r);
}

// LOCK.LOCKED / RLOCK.LOCKED name -> [locked]
void
mpbi_h_lock_locked(mpbi_req *r)
{
	mpbi_sync_ok_bool(r, ((sync_lock *) r->r_obj)->lk_hold.h_sess != NULL);
}

// ---------------------------------------------------------------------
// Conditions

static void cond_destroy(mpbi_broker *b, mpbi_obj *o);

static const char *
cond_kind_name(const mpbi_obj *o)
{
	(void) o;
	return ("condition");
}

// The size of a condition is the number of its waiters not yet notified.
static uint64_t
cond_size(const mpbi_obj *o)
{
	return (((const sync_cond *) o)->cd_waiters.wl_len);
}

const mpbi_class_ops mpbi_cond_class = {
	.class_id   = MPBI_CLASS_CONDITION,
	.class_name = "condition",
	.destroy    = cond_destroy,
	.kind_name  = cond_kind_name,
	.size       = cond_size,
};

static size_t
cond_objsize(const mpbi_sync_params *p)
{
	return (sizeof(sync_cond) + p->sp_namelen + 1);
}

static void
cond_init(mpbi_obj *o, const mpbi_sync_params *p)
{
	sync_cond *cd = (sync_cond *) o;

	cd->cd_locklen = p->sp_namelen;
	memcpy(cd->cd_lock, p->sp_name, p->sp_namelen);
	cd->cd_lock[p->sp_namelen] = '\0';
}

static bool
cond_same(const mpbi_obj *o, const mpbi_sync_params *p)
{
	const sync_cond *cd = (const sync_cond *) o;

	return (cd->cd_locklen == p->sp_namelen &&
	    memcmp(cd->cd_lock, p->sp_name, p->sp_namelen) == 0);
}

static const mpbi_sync_kind cond_kind = {
	&mpbi_cond_class, cond_objsize, cond_init, cond_same
};

static void
cond_destroy(mpbi_broker *b, mpbi_obj *o)
{
	sync_cond *cd = (sync_cond *) o;

	mpbi_waitlist_fail(b, &cd->cd_waiters, MPB_EDELETED, "condition deleted");
	mpbi_obj_free(o);
}

// The condition's lock, or NULL when it no longer exists as a lock.
static sync_lock *
cond_lock(mpbi_broker *b, const sync_cond *cd)
{
	mpbi_obj *o = mpbi_obj_lookup(b, cd->cd_lock, cd->cd_locklen);

	if (o == NULL ||
	    (o->o_ops != &mpbi_lock_class && o->o_ops != &mpbi_rlock_class)) {
		return (NULL);
	}
	return ((sync_lock *) o);
}

// COND.CREATE name lock -> [created]: the lock is created (a plain lock)
// if it does not exist
void
mpbi_h_cond_create(mpbi_req *r)
{
	const mpbi_config *cfg = mpbi_broker_config(r->r_broker);
	mpbi_sync_params   p   = { 0 };
	mpbi_obj          *o;
	mpb_err            rv;

	if (mpbi_span_str(mpbi_arg(r, 2), &p.sp_name, &p.sp_namelen) != MPB_OK ||
	    p.sp_namelen == 0 || p.sp_namelen > cfg->max_name) {
		mpbi_req_error(r, MPB_EINVAL,
		    "the lock's name must be a string of 1 to %u bytes",
		    (unsigned) cfg->max_name);
		return;
	}
	o = mpbi_obj_lookup(r->r_broker, p.sp_name, p.sp_namelen);
	if (o != NULL && o->o_ops != &mpbi_lock_class &&
	    o->o_ops != &mpbi_rlock_class) {
		mpbi_req_error(r, MPB_EWRONGTYPE, MPBI_NAME_FMT " is a %s, not a lock",
		    MPBI_NAME_ARG(p.sp_name, p.sp_namelen), o->o_ops->class_name);
		return;
	}
	if (o == NULL) {
		rv = lock_create_default(r->r_broker, p.sp_name, p.sp_namelen, &o);
		if (rv != MPB_OK) {
			mpbi_req_error(r, rv, "cannot create the lock: %s",
			    mpb_strerror(rv));
			return;
		}
	}
	mpbi_sync_open(r, &cond_kind, &p, NULL);
}

// Finds the condition's lock and checks that the caller holds it; replies
// the error and returns NULL otherwise.
static sync_lock *
cond_held_lock(mpbi_req *r, uint64_t tid)
{
	sync_cond *cd = (sync_cond *) r->r_obj;
	sync_lock *lk = cond_lock(r->r_broker, cd);

	if (lk == NULL) {
		mpbi_req_error(r, MPB_ENOENT, "the lock '%s' of condition "
		    MPBI_NAME_FMT " no longer exists", cd->cd_lock,
		    MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return (NULL);
	}
	return (lock_check_owner(r, lk, tid) ? lk : NULL);
}

// A deadline passed or the session ended.  A waiter still on the
// condition re-acquires the lock and answers [false]; one already
// re-acquiring fails (it does not hold the lock).
static void
cond_cancel(mpbi_broker *b, mpbi_waiter *w, mpb_err why)
{
	sync_lock *lk;

	if (why != MPB_ETIMEDOUT || w->w_phase != PH_COND_WAIT) {
		mpbi_waiter_fail(b, w, why, "%s",
		    why == MPB_ETIMEDOUT ? "timed out re-acquiring the lock"
		                         : mpb_strerror(why));
		return;
	}
	if ((lk = cond_lock(b, (sync_cond *) w->w_obj)) == NULL) {
		mpbi_waiter_fail(b, w, MPB_EDELETED, "the lock was deleted");
		return;
	}
	w->w_phase = PH_COND_TIMEOUT;
	w->w_obj   = &lk->lk_obj;
	mpbi_waiter_move(b, w, &lk->lk_waiters,
	    mpbi_broker_now(b) + w->w_timeout);
	lock_pass(b, lk);
}

// COND.WAIT name tid timeout_ms -> [notified]
void
mpbi_h_cond_wait(mpbi_req *r)
{
	sync_cond   *cd = (sync_cond *) r->r_obj;
	sync_lock   *lk;
	uint64_t     tid;
	uint32_t     timeout;
	mpbi_waiter *w;

	if (!mpbi_sync_arg_tid(r, 2, &tid) || !mpbi_arg_timeout(r, 3, &timeout) ||
	    (lk = cond_held_lock(r, tid)) == NULL) {
		return;
	}
	if (timeout == 0) {
		mpbi_sync_ok_bool(r, false);
		return;
	}
	// Park first: if that fails, the caller keeps the lock.
	w = mpbi_sync_park(r, &cd->cd_waiters, timeout, tid, cond_cancel);
	if (w == NULL) {
		return;
	}
	w->w_phase = PH_COND_WAIT;
	w->w_val   = lk->lk_count;
	lock_free(r->r_broker, lk);
}

// Moves up to n waiters, oldest first, to re-acquire the lock; replies
// with the number moved.
static void
cond_notify(mpbi_req *r, uint64_t tid, uint64_t n)
{
	sync_cond   *cd = (sync_cond *) r->r_obj;
	sync_lock   *lk = cond_held_lock(r, tid);
	mpbi_waiter *w;
	uint64_t     moved = 0;

	if (lk == NULL) {
		return;
	}
	while (moved < n && (w = mpbi_waitlist_first(&cd->cd_waiters)) != NULL) {
		w->w_phase = PH_COND_WOKEN;
		w->w_obj   = &lk->lk_obj;
		mpbi_waiter_move(r->r_broker, w, &lk->lk_waiters,
		    r->r_now + w->w_timeout);
		moved++;
	}
	mpbi_sync_ok_uint(r, moved);
}

// COND.NOTIFY name tid n -> [woken]
void
mpbi_h_cond_notify(mpbi_req *r)
{
	uint64_t tid;
	uint64_t n;

	if (!mpbi_sync_arg_tid(r, 2, &tid) || !mpbi_arg_uint(r, 3, "n", &n)) {
		return;
	}
	cond_notify(r, tid, n);
}

// COND.NOTIFY_ALL name tid -> [woken]
void
mpbi_h_cond_notify_all(mpbi_req *r)
{
	uint64_t tid;

	if (mpbi_sync_arg_tid(r, 2, &tid)) {
		cond_notify(r, tid, UINT64_MAX);
	}
}
