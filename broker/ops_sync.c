// ops_sync.c -- the helpers every synchronisation class shares
// (sync_common.h), and the two smallest classes: semaphores (Python's
// Semaphore and BoundedSemaphore) and events (threading.Event).
//
// Semaphore permits are counted per session for cleanup: an owned acquire
// credits the session, a release by a session debits its own count first.
// When a session ends, the permits it still counts are released for it.
// A release from a session that counts none (one process signalling
// another) debits nobody, and a detached acquire (owned = false: a
// permit meant to outlive the process, as `mpb sem acquire` takes)
// credits nobody.  A bounded semaphore never goes above its initial
// value, not even by such a cleanup.
//
// Invariants: a semaphore with waiters has value 0; an event with
// waiters is clear.  Waiters are answered in arrival order.

#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "ops.h"
#include "reply.h"
#include "sync_common.h"

// ---------------------------------------------------------------------
// Shared helpers

mpb_err
mpbi_sync_create(mpbi_broker *b, const mpbi_sync_kind *k,
    const mpbi_sync_params *p, const char *name, size_t namelen,
    mpbi_obj **op)
{
	mpbi_obj *o;
	mpb_err   rv;

	rv = mpbi_obj_create(b, k->sk_cls, k->sk_size(p), name, namelen, &o);
	if (rv != MPB_OK) {
		return (rv);
	}
	k->sk_init(o, p);
	*op = o;
	return (MPB_OK);
}

void
mpbi_sync_open(mpbi_req *r, const mpbi_sync_kind *k,
    const mpbi_sync_params *p, mpbi_obj **op)
{
	const char *cls = k->sk_cls->class_name;
	mpbi_obj   *o   = mpbi_obj_lookup(r->r_broker, r->r_name, r->r_namelen);
	bool        created = false;
	mpb_err     rv;

	if (o != NULL && o->o_ops != k->sk_cls) {
		mpbi_req_error(r, MPB_EWRONGTYPE, MPBI_NAME_FMT " is a %s, not a %s",
		    MPBI_NAME_ARG(r->r_name, r->r_namelen), o->o_ops->class_name,
		    cls);
		return;
	}
	if (o != NULL && !k->sk_same(o, p)) {
		mpbi_req_error(r, MPB_EEXIST,
		    "%s " MPBI_NAME_FMT " exists with other parameters", cls,
		    MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return;
	}
	if (o == NULL) {
		rv = mpbi_sync_create(
		    r->r_broker, k, p, r->r_name, r->r_namelen, &o);
		if (rv != MPB_OK) {
			mpbi_req_error(r, rv, "cannot create %s: %s", cls,
			    mpb_strerror(rv));
			return;
		}
		created = true;
	}
	mpbi_sync_ok_bool(r, created);
	if (op != NULL) {
		*op = o;
	}
}

bool
mpbi_sync_arg_tid(mpbi_req *r, size_t i, uint64_t *tidp)
{
	return (mpbi_arg_uint(r, i, "the thread id", tidp));
}

bool
mpbi_sync_arg_bool(mpbi_req *r, size_t i, const char *what, bool *vp)
{
	if (mpbi_span_bool(mpbi_arg(r, i), vp) != MPB_OK) {
		mpbi_req_error(r, MPB_EINVAL, "%s must be a boolean", what);
		return (false);
	}
	return (true);
}

mpbi_waiter *
mpbi_sync_park(mpbi_req *r, mpbi_waitlist *wl, uint32_t timeout_ms,
    uint64_t tid, void (*cancel)(mpbi_broker *, mpbi_waiter *, mpb_err))
{
	mpbi_waiter *w;
	mpb_err      rv;

	if ((rv = mpbi_park(r, wl, timeout_ms, &w)) != MPB_OK) {
		mpbi_req_error(r, rv, "cannot wait: %s", mpb_strerror(rv));
		return (NULL);
	}
	w->w_obj    = r->r_obj;
	w->w_tid    = tid;
	w->w_cancel = cancel;
	return (w);
}

void
mpbi_sync_ok(mpbi_req *r)
{
	mpbi_req_ok(r, 0);
}

void
mpbi_sync_ok_bool(mpbi_req *r, bool v)
{
	mpbi_req_ok(r, 1);
	mpbi_reply_bool(&r->r_reply, v);
}

void
mpbi_sync_ok_uint(mpbi_req *r, uint64_t v)
{
	mpbi_req_ok(r, 1);
	mpbi_reply_uint(&r->r_reply, v);
}

void
mpbi_sync_finish(mpbi_broker *b, mpbi_waiter *w)
{
	mpbi_reply rep;

	mpbi_reply_begin(&rep, 0);
	mpbi_waiter_finish(b, w, &rep);
}

void
mpbi_sync_finish_bool(mpbi_broker *b, mpbi_waiter *w, bool v)
{
	mpbi_reply rep;

	mpbi_reply_begin(&rep, 1);
	mpbi_reply_bool(&rep, v);
	mpbi_waiter_finish(b, w, &rep);
}

void
mpbi_sync_finish_uint(mpbi_broker *b, mpbi_waiter *w, uint64_t v)
{
	mpbi_reply rep;

	mpbi_reply_begin(&rep, 1);
	mpbi_reply_uint(&rep, v);
	mpbi_waiter_finish(b, w, &rep);
}

void
mpbi_sync_wake_all_bool(mpbi_broker *b, mpbi_waitlist *wl, bool v)
{
	mpbi_waiter *w;

	while ((w = mpbi_waitlist_first(wl)) != NULL) {
		mpbi_sync_finish_bool(b, w, v);
	}
}

void
mpbi_sync_cancel_false(mpbi_broker *b, mpbi_waiter *w, mpb_err why)
{
	if (why == MPB_ETIMEDOUT) {
		mpbi_sync_finish_bool(b, w, false);
		return;
	}
	mpbi_waiter_fail(b, w, why, "%s", mpb_strerror(why));
}

// ---------------------------------------------------------------------
// Semaphores

typedef struct sync_sem  sync_sem;
typedef struct sem_share sem_share;

// The permits one session counts as its own on one semaphore.
struct sem_share {
	mpbi_hold  sh_hold; // first: the hold is the share
	sync_sem  *sh_sem;
	uint64_t   sh_count;
	sem_share *sh_prev; // on the semaphore's list
	sem_share *sh_next;
};

struct sync_sem {
	mpbi_obj      sm_obj;
	uint64_t      sm_value;
	uint64_t      sm_initial;
	bool          sm_bounded;
	sem_share    *sm_shares;
	mpbi_waitlist sm_waiters; // acquires; sm_value is 0
};

static void sem_destroy(mpbi_broker *b, mpbi_obj *o);
static mpb_err sem_create_default(
    mpbi_broker *b, const char *name, size_t namelen, mpbi_obj **op);

static const char *
sem_kind_name(const mpbi_obj *o)
{
	return (((const sync_sem *) o)->sm_bounded ? "bounded" : "semaphore");
}

static uint64_t
sem_size(const mpbi_obj *o)
{
	return (((const sync_sem *) o)->sm_value);
}

const mpbi_class_ops mpbi_sem_class = {
	.class_id       = MPBI_CLASS_SEMAPHORE,
	.class_name     = "semaphore",
	.destroy        = sem_destroy,
	.kind_name      = sem_kind_name,
	.size           = sem_size,
	.create_default = sem_create_default,
};

static size_t
sem_objsize(const mpbi_sync_params *p)
{
	(void) p;
	return (sizeof(sync_sem));
}

static void
sem_init(mpbi_obj *o, const mpbi_sync_params *p)
{
	sync_sem *sm = (sync_sem *) o;

	sm->sm_value   = p->sp_value;
	sm->sm_initial = p->sp_value;
	sm->sm_bounded = p->sp_flag;
}

static bool
sem_same(const mpbi_obj *o, const mpbi_sync_params *p)
{
	const sync_sem *sm = (const sync_sem *) o;

	return (sm->sm_initial == p->sp_value && sm->sm_bounded == p->sp_flag);
}

static const mpbi_sync_kind sem_kind = {
	&mpbi_sem_class, sem_objsize, sem_init, sem_same
};

static mpb_err
sem_create_default(
    mpbi_broker *b, const char *name, size_t namelen, mpbi_obj **op)
{
	mpbi_sync_params p = { .sp_value = 1 };

	return (mpbi_sync_create(b, &sem_kind, &p, name, namelen, op));
}

static void
share_free(sem_share *sh)
{
	sync_sem *sm = sh->sh_sem;

	mpbi_hold_drop(&sh->sh_hold);
	if (sh->sh_prev != NULL) {
		sh->sh_prev->sh_next = sh->sh_next;
	} else {
		sm->sm_shares = sh->sh_next;
	}
	if (sh->sh_next != NULL) {
		sh->sh_next->sh_prev = sh->sh_prev;
	}
	free(sh);
}

static sem_share *
share_find(sync_sem *sm, const mpbi_session *s)
{
	for (sem_share *sh = sm->sm_shares; sh != NULL; sh = sh->sh_next) {
		if (sh->sh_hold.h_sess == s) {
			return (sh);
		}
	}
	return (NULL);
}

static void sem_post(mpbi_broker *b, sync_sem *sm, uint64_t n);

// The session ended: release the permits it still counted.
static void
share_release(mpbi_broker *b, mpbi_hold *h)
{
	sem_share *sh = (sem_share *) h;
	sync_sem  *sm = sh->sh_sem;
	uint64_t   n  = sh->sh_count;

	share_free(sh);
	if (sm->sm_bounded && n > sm->sm_initial - sm->sm_value) {
		n = sm->sm_initial - sm->sm_value;
	}
	sem_post(b, sm, n);
}

// Counts one permit as session s's.  MPB_ENOMEM: nothing changed.
static mpb_err
share_credit(sync_sem *sm, mpbi_session *s)
{
	sem_share *sh = share_find(sm, s);

	if (sh == NULL) {
		if ((sh = calloc(1, sizeof(*sh))) == NULL) {
			return (MPB_ENOMEM);
		}
		sh->sh_sem  = sm;
		sh->sh_next = sm->sm_shares;
		if (sm->sm_shares != NULL) {
			sm->sm_shares->sh_prev = sh;
		}
		sm->sm_shares = sh;
		mpbi_hold_take(s, &sh->sh_hold, share_release);
	}
	sh->sh_count++;
	return (MPB_OK);
}

static void
share_debit(sync_sem *sm, const mpbi_session *s, uint64_t n)
{
	sem_share *sh = share_find(sm, s);

	if (sh == NULL) {
		return;
	}
	if (n >= sh->sh_count) {
		share_free(sh);
		return;
	}
	sh->sh_count -= n;
}

// Adds n permits, handing them to the oldest waiters first.
static void
sem_post(mpbi_broker *b, sync_sem *sm, uint64_t n)
{
	mpbi_waiter *w;

	sm->sm_value += n;
	while (sm->sm_value > 0 &&
	    (w = mpbi_waitlist_first(&sm->sm_waiters)) != NULL) {
		if (w->w_val != 0 && share_credit(sm, w->w_sess) != MPB_OK) {
			mpbi_waiter_fail(b, w, MPB_ENOMEM, "out of memory");
			continue;
		}
		sm->sm_value--;
		mpbi_sync_finish(b, w);
	}
}

static void
sem_destroy(mpbi_broker *b, mpbi_obj *o)
{
	sync_sem *sm = (sync_sem *) o;

	mpbi_waitlist_fail(b, &sm->sm_waiters, MPB_EDELETED, "semaphore deleted");
	while (sm->sm_shares != NULL) {
		share_free(sm->sm_shares);
	}
	mpbi_obj_free(o);
}

// SEM.CREATE name value bounded -> [created]
void
mpbi_h_sem_create(mpbi_req *r)
{
	mpbi_sync_params p = { 0 };

	if (!mpbi_arg_uint(r, 2, "value", &p.sp_value) ||
	    !mpbi_sync_arg_bool(r, 3, "bounded", &p.sp_flag)) {
		return;
	}
	mpbi_sync_open(r, &sem_kind, &p, NULL);
}

// SEM.ACQUIRE name timeout_ms owned -> []
void
mpbi_h_sem_acquire(mpbi_req *r)
{
	sync_sem    *sm = (sync_sem *) r->r_obj;
	uint32_t     timeout;
	bool         owned;
	mpbi_waiter *w;

	if (!mpbi_arg_timeout(r, 2, &timeout) ||
	    !mpbi_sync_arg_bool(r, 3, "owned", &owned)) {
		return;
	}
	if (sm->sm_value > 0) {
		if (owned && share_credit(sm, r->r_sess) != MPB_OK) {
			mpbi_req_error(r, MPB_ENOMEM, "out of memory");
			return;
		}
		sm->sm_value--;
		mpbi_sync_ok(r);
		return;
	}
	if (timeout == 0) {
		mpbi_req_error(r, MPB_EBUSY, "semaphore " MPBI_NAME_FMT " is at 0",
		    MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return;
	}
	if ((w = mpbi_sync_park(r, &sm->sm_waiters, timeout, 0, NULL)) != NULL) {
		w->w_val = owned;
	}
}

// SEM.RELEASE name n -> []
void
mpbi_h_sem_release(mpbi_req *r)
{
	sync_sem *sm = (sync_sem *) r->r_obj;
	uint64_t  n;

	if (!mpbi_arg_uint(r, 2, "n", &n)) {
		return;
	}
	if (n == 0 || n > UINT64_MAX - sm->sm_value) {
		mpbi_req_error(r, MPB_EINVAL, "n must be from 1 to %llu",
		    (unsigned long long) (UINT64_MAX - sm->sm_value));
		return;
	}
	if (sm->sm_bounded && sm->sm_value + n > sm->sm_initial) {
		mpbi_req_error(r, MPB_ESTATE,
		    "bounded semaphore " MPBI_NAME_FMT
		    " would exceed its initial value %llu",
		    MPBI_NAME_ARG(r->r_name, r->r_namelen),
		    (unsigned long long) sm->sm_initial);
		return;
	}
	share_debit(sm, r->r_sess, n);
	sem_post(r->r_broker, sm, n);
	mpbi_sync_ok(r);
}

// SEM.VALUE name -> [value]
void
mpbi_h_sem_value(mpbi_req *r)
{
	mpbi_sync_ok_uint(r, ((sync_sem *) r->r_obj)->sm_value);
}

// ---------------------------------------------------------------------
// Events

typedef struct sync_event {
	mpbi_obj      ev_obj;
	bool          ev_set;
	mpbi_waitlist ev_waiters; // waits; the event is clear
} sync_event;

static void
event_destroy(mpbi_broker *b, mpbi_obj *o)
{
	sync_event *ev = (sync_event *) o;

	mpbi_waitlist_fail(b, &ev->ev_waiters, MPB_EDELETED, "event deleted");
	mpbi_obj_free(o);
}

static const char *
event_kind_name(const mpbi_obj *o)
{
	(void) o;
	return ("event");
}

static uint64_t
event_size(const mpbi_obj *o)
{
	return (((const sync_event *) o)->ev_set ? 1 : 0);
}

static mpb_err event_create_default(
    mpbi_broker *b, const char *name, size_t namelen, mpbi_obj **op);

const mpbi_class_ops mpbi_event_class = {
	.class_id       = MPBI_CLASS_EVENT,
	.class_name     = "event",
	.destroy        = event_destroy,
	.kind_name      = event_kind_name,
	.size           = event_size,
	.create_default = event_create_default,
};

static size_t
event_objsize(const mpbi_sync_params *p)
{
	(void) p;
	return (sizeof(sync_event));
}

// Events have no parameters: created clear, and every open matches.
static void
event_init(mpbi_obj *o, const mpbi_sync_params *p)
{
	(void) o;
	(void) p;
}

static bool
event_same(const mpbi_obj *o, const mpbi_sync_params *p)
{
	(void) o;
	(void) p;
	return (true);
}

static const mpbi_sync_kind event_kind = {
	&mpbi_event_class, event_objsize, event_init, event_same
};

static mpb_err
event_create_default(
    mpbi_broker *b, const char *name, size_t namelen, mpbi_obj **op)
{
	mpbi_sync_params p = { 0 };

	return (mpbi_sync_create(b, &event_kind, &p, name, namelen, op));
}

// EVENT.CREATE name -> [created]
void
mpbi_h_event_create(mpbi_req *r)
{
	mpbi_sync_params p = { 0 };

	mpbi_sync_open(r, &event_kind, &p, NULL);
}

// EVENT.SET name -> []: wakes every waiter
void
mpbi_h_event_set(mpbi_req *r)
{
	sync_event *ev = (sync_event *) r->r_obj;

	ev->ev_set = true;
	mpbi_sync_wake_all_bool(r->r_broker, &ev->ev_waiters, true);
	mpbi_sync_ok(r);
}

// EVENT.CLEAR name -> []
void
mpbi_h_event_clear(mpbi_req *r)
{
	((sync_event *) r->r_obj)->ev_set = false;
	mpbi_sync_ok(r);
}

// EVENT.IS_SET name -> [set]
void
mpbi_h_event_is_set(mpbi_req *r)
{
	mpbi_sync_ok_bool(r, ((sync_event *) r->r_obj)->ev_set);
}

// EVENT.WAIT name timeout_ms -> [set]: false when the timeout passed
void
mpbi_h_event_wait(mpbi_req *r)
{
	sync_event *ev = (sync_event *) r->r_obj;
	uint32_t    timeout;

	if (!mpbi_arg_timeout(r, 2, &timeout)) {
		return;
	}
	if (ev->ev_set || timeout == 0) {
		mpbi_sync_ok_bool(r, ev->ev_set);
		return;
	}
	(void) mpbi_sync_park(
	    r, &ev->ev_waiters, timeout, 0, mpbi_sync_cancel_false);
}
