// ops_barrier.c -- barriers (Python's threading.Barrier).
//
// A barrier of `parties` releases its waiters together when the last
// party arrives.  Each wait returns its arrival index in the round:
// 0 for the first to arrive, parties-1 for the one that completes it
// (Python's index, which is unique per round).  A barrier breaks when it
// is aborted, when a waiter's timeout passes (as in Python), or when a
// waiting party's session ends (it will never come back); every waiter
// then fails with MPB_EBROKEN, and so does every wait until a reset.
// reset fails the current waiters with MPB_EBROKEN and makes the barrier
// usable again.  Invariant: a broken barrier has no waiters.

#include "dispatch.h"
#include "ops.h"
#include "reply.h"
#include "sync_common.h"

typedef struct sync_barrier {
	mpbi_obj      br_obj;
	uint64_t      br_parties;
	bool          br_broken;
	mpbi_waitlist br_waiters; // w_val is the arrival index
} sync_barrier;

static void
barrier_fail_all(mpbi_broker *b, sync_barrier *br)
{
	mpbi_waitlist_fail(b, &br->br_waiters, MPB_EBROKEN, "barrier is broken");
}

static void
barrier_destroy(mpbi_broker *b, mpbi_obj *o)
{
	sync_barrier *br = (sync_barrier *) o;

	mpbi_waitlist_fail(b, &br->br_waiters, MPB_EDELETED, "barrier deleted");
	mpbi_obj_free(o);
}

static const char *
barrier_kind_name(const mpbi_obj *o)
{
	(void) o;
	return ("barrier");
}

// The size of a barrier is the number of parties waiting now.
static uint64_t
barrier_size(const mpbi_obj *o)
{
	return (((const sync_barrier *) o)->br_waiters.wl_len);
}

const mpbi_class_ops mpbi_barrier_class = {
	.class_id   = MPBI_CLASS_BARRIER,
	.class_name = "barrier",
	.destroy    = barrier_destroy,
	.kind_name  = barrier_kind_name,
	.size       = barrier_size,
};

static size_t
barrier_objsize(const mpbi_sync_params *p)
{
	(void) p;
	return (sizeof(sync_barrier));
}

static void
barrier_init(mpbi_obj *o, const mpbi_sync_params *p)
{
	((sync_barrier *) o)->br_parties = p->sp_value;
}

static bool
barrier_same(const mpbi_obj *o, const mpbi_sync_params *p)
{
	return (((const sync_barrier *) o)->br_parties == p->sp_value);
}

static const mpbi_sync_kind barrier_kind = {
	&mpbi_barrier_class, barrier_objsize, barrier_init, barrier_same
};

static void
barrier_break(mpbi_broker *b, sync_barrier *br)
{
	br->br_broken = true;
	barrier_fail_all(b, br);
}

// A waiter's deadline passed or its session ended: the round can no
// longer complete as the others expect.
static void
barrier_cancel(mpbi_broker *b, mpbi_waiter *w, mpb_err why)
{
	(void) why;
	barrier_break(b, (sync_barrier *) w->w_obj);
}

// BARRIER.CREATE name parties -> [created]
void
mpbi_h_barrier_create(mpbi_req *r)
{
	mpbi_sync_params p = { 0 };

	if (!mpbi_arg_uint(r, 2, "parties", &p.sp_value)) {
		return;
	}
	if (p.sp_value == 0) {
		mpbi_req_error(r, MPB_EINVAL, "parties must be at least 1");
		return;
	}
	mpbi_sync_open(r, &barrier_kind, &p, NULL);
}

// BARRIER.WAIT name timeout_ms -> [index]
void
mpbi_h_barrier_wait(mpbi_req *r)
{
	sync_barrier *br = (sync_barrier *) r->r_obj;
	uint64_t      index;
	uint32_t      timeout;
	mpbi_waiter  *w;

	if (!mpbi_arg_timeout(r, 2, &timeout)) {
		return;
	}
	if (br->br_broken) {
		mpbi_req_error(r, MPB_EBROKEN, "barrier " MPBI_NAME_FMT " is broken",
		    MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return;
	}
	index = br->br_waiters.wl_len;
	if (index + 1 == br->br_parties) {
		while ((w = mpbi_waitlist_first(&br->br_waiters)) != NULL) {
			mpbi_sync_finish_uint(r->r_broker, w, w->w_val);
		}
		mpbi_sync_ok_uint(r, index);
		return;
	}
	if (timeout == 0) {
		// Python: a wait that times out breaks the barrier.
		barrier_break(r->r_broker, br);
		mpbi_req_error(r, MPB_EBROKEN, "timed out; barrier broken");
		return;
	}
	w = mpbi_sync_park(r, &br->br_waiters, timeout, 0, barrier_cancel);
	if (w != NULL) {
		w->w_val = index;
	}
}

// BARRIER.ABORT name -> []
void
mpbi_h_barrier_abort(mpbi_req *r)
{
	barrier_break(r->r_broker, (sync_barrier *) r->r_obj);
	mpbi_sync_ok(r);
}

// BARRIER.RESET name -> []
void
mpbi_h_barrier_reset(mpbi_req *r)
{
	sync_barrier *br = (sync_barrier *) r->r_obj;

	barrier_fail_all(r->r_broker, br);
	br->br_broken = false;
	mpbi_sync_ok(r);
}
