// sync.c -- the synchronisation object calls of libmpb: locks, rlocks,
// semaphores, events, conditions, barriers and pipes.
//
// Every call here is one request with a few scalar arguments and at most
// one scalar result, so they all go through sync_call.  Lock, rlock and
// condition calls send the caller's thread id (gettid()): the broker's
// owner of a lock is this handle's session plus that thread.

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_internal.h"

typedef enum { A_UINT, A_BOOL, A_STR, A_RAW } arg_type;

typedef struct sync_arg {
	arg_type    type;
	uint64_t    u;
	const void *p;
	size_t      len;
} sync_arg;

#define AU(v) ((sync_arg) { A_UINT, (uint64_t) (v), NULL, 0 })
#define AB(v) ((sync_arg) { A_BOOL, (v) ? 1u : 0u, NULL, 0 })
#define ATID() AU(sync_tid())

// What a call returns: nothing, a bool or an unsigned integer.
typedef enum { R_NONE, R_BOOL, R_UINT } res_type;

static uint64_t
sync_tid(void)
{
	return ((uint64_t) gettid());
}

// sync_call runs op on name with args; wait_ms as for mpbi_call_run.  On
// MPB_OK the result (if any) is stored in *outp (bool or uint64_t), when
// outp is not NULL.
static mpb_err
sync_call(mpb_client *c, mpbi_op op, const char *name, int64_t wait_ms,
    const sync_arg *args, size_t nargs, res_type rt, void *outp)
{
	mpbi_call call;
	bool      b;
	uint64_t  u;
	mpb_err   err;

	err = mpbi_call_named(&call, c, op, name, nargs + 1);
	for (size_t i = 0; i < nargs && err == MPB_OK; i++) {
		switch (args[i].type) {
		case A_UINT:
			mpbi_put_uint(&call.w, args[i].u);
			break;
		case A_BOOL:
			mpbi_put_bool(&call.w, args[i].u != 0);
			break;
		case A_STR:
			if (args[i].p == NULL || args[i].len == 0) {
				err = MPB_EINVAL;
				break;
			}
			mpbi_put_str(&call.w, args[i].p, args[i].len);
			break;
		case A_RAW:
			err = mpbi_value_check(args[i].p, args[i].len);
			if (err == MPB_OK) {
				mpbi_put_raw(&call.w, args[i].p, args[i].len);
			}
			break;
		}
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, wait_ms, rt == R_NONE ? 0 : 1);
	}
	if (err == MPB_OK && rt == R_BOOL) {
		if (mpbi_span_bool(call.f.elem[1], &b) != MPB_OK) {
			err = MPB_EPROTO;
		} else if (outp != NULL) {
			*(bool *) outp = b;
		}
	}
	if (err == MPB_OK && rt == R_UINT) {
		if (mpbi_span_uint(call.f.elem[1], &u) != MPB_OK) {
			err = MPB_EPROTO;
		} else if (outp != NULL) {
			*(uint64_t *) outp = u;
		}
	}
	mpbi_call_fini(&call);
	return (err);
}

// The common shapes.
static mpb_err
sync_plain(mpb_client *c, mpbi_op op, const char *name)
{
	return (sync_call(c, op, name, MPBI_WAIT_NONE, NULL, 0, R_NONE, NULL));
}

static mpb_err
sync_query(mpb_client *c, mpbi_op op, const char *name, res_type rt, void *outp)
{
	if (outp == NULL) {
		mpbi_error_clear();
		return (MPB_EINVAL);
	}
	return (sync_call(c, op, name, MPBI_WAIT_NONE, NULL, 0, rt, outp));
}

static mpb_err
sync_create(mpb_client *c, mpbi_op op, const char *name,
    const sync_arg *args, size_t nargs, bool *createdp)
{
	return (sync_call(
	    c, op, name, MPBI_WAIT_NONE, args, nargs, R_BOOL, createdp));
}

// ---------------------------------------------------------------------
// Locks and rlocks

mpb_err
mpb_lock_create(mpb_client *c, const char *name, bool *createdp)
{
	sync_arg a[] = { AB(false) };

	return (sync_create(c, MPBI_OP_LOCK_CREATE, name, a, 1, createdp));
}

mpb_err
mpb_rlock_create(mpb_client *c, const char *name, bool *createdp)
{
	sync_arg a[] = { AB(true) };

	return (sync_create(c, MPBI_OP_LOCK_CREATE, name, a, 1, createdp));
}

static mpb_err
lock_acquire(mpb_client *c, mpbi_op op, const char *name,
    uint32_t timeout_ms, uint32_t lease_ms)
{
	sync_arg a[] = { ATID(), AU(timeout_ms), AU(lease_ms) };

	return (sync_call(c, op, name, timeout_ms, a, 3, R_NONE, NULL));
}

static mpb_err
lock_release(mpb_client *c, mpbi_op op, const char *name)
{
	sync_arg a[] = { ATID() };

	return (sync_call(c, op, name, MPBI_WAIT_NONE, a, 1, R_NONE, NULL));
}

mpb_err
mpb_lock_acquire(mpb_client *c, const char *name, uint32_t timeout_ms)
{
	return (lock_acquire(c, MPBI_OP_LOCK_ACQUIRE, name, timeout_ms, 0));
}

mpb_err
mpb_lock_acquire_lease(mpb_client *c, const char *name, uint32_t timeout_ms,
    uint32_t lease_ms)
{
	return (lock_acquire(c, MPBI_OP_LOCK_ACQUIRE, name, timeout_ms, lease_ms));
}

mpb_err
mpb_lock_release(mpb_client *c, const char *name)
{
	return (lock_release(c, MPBI_OP_LOCK_RELEASE, name));
}

mpb_err
mpb_lock_locked(mpb_client *c, const char *name, bool *lockedp)
{
	return (sync_query(c, MPBI_OP_LOCK_LOCKED, name, R_BOOL, lockedp));
}

mpb_err
mpb_rlock_acquire(mpb_client *c, const char *name, uint32_t timeout_ms)
{
	return (lock_acquire(c, MPBI_OP_RLOCK_ACQUIRE, name, timeout_ms, 0));
}

mpb_err
mpb_rlock_release(mpb_client *c, const char *name)
{
	return (lock_release(c, MPBI_OP_RLOCK_RELEASE, name));
}

mpb_err
mpb_rlock_locked(mpb_client *c, const char *name, bool *lockedp)
{
	return (sync_query(c, MPBI_OP_RLOCK_LOCKED, name, R_BOOL, lockedp));
}

// ---------------------------------------------------------------------
// Semaphores

mpb_err
mpb_sem_create(mpb_client *c, const char *name, uint64_t value, bool bounded,
    bool *createdp)
{
	sync_arg a[] = { AU(value), AB(bounded) };

	return (sync_create(c, MPBI_OP_SEM_CREATE, name, a, 2, createdp));
}

static mpb_err
sem_acquire(mpb_client *c, const char *name, uint32_t timeout_ms, bool owned)
{
	sync_arg a[] = { AU(timeout_ms), AB(owned) };

	return (sync_call(
	    c, MPBI_OP_SEM_ACQUIRE, name, timeout_ms, a, 2, R_NONE, NULL));
}

mpb_err
mpb_sem_acquire(mpb_client *c, const char *name, uint32_t timeout_ms)
{
	return (sem_acquire(c, name, timeout_ms, true));
}

mpb_err
mpb_sem_acquire_detached(mpb_client *c, const char *name, uint32_t timeout_ms)
{
	return (sem_acquire(c, name, timeout_ms, false));
}

mpb_err
mpb_sem_release(mpb_client *c, const char *name, uint64_t n)
{
	sync_arg a[] = { AU(n) };

	return (sync_call(
	    c, MPBI_OP_SEM_RELEASE, name, MPBI_WAIT_NONE, a, 1, R_NONE, NULL));
}

mpb_err
mpb_sem_value(mpb_client *c, const char *name, uint64_t *valuep)
{
	return (sync_query(c, MPBI_OP_SEM_VALUE, name, R_UINT, valuep));
}

// ---------------------------------------------------------------------
// Events

mpb_err
mpb_event_create(mpb_client *c, const char *name, bool *createdp)
{
	return (sync_create(c, MPBI_OP_EVENT_CREATE, name, NULL, 0, createdp));
}

mpb_err
mpb_event_set(mpb_client *c, const char *name)
{
	return (sync_plain(c, MPBI_OP_EVENT_SET, name));
}

mpb_err
mpb_event_clear(mpb_client *c, const char *name)
{
	return (sync_plain(c, MPBI_OP_EVENT_CLEAR, name));
}

mpb_err
mpb_event_is_set(mpb_client *c, const char *name, bool *setp)
{
	return (sync_query(c, MPBI_OP_EVENT_IS_SET, name, R_BOOL, setp));
}

mpb_err
mpb_event_wait(mpb_client *c, const char *name, uint32_t timeout_ms, bool *setp)
{
	sync_arg a[] = { AU(timeout_ms) };

	return (sync_call(
	    c, MPBI_OP_EVENT_WAIT, name, timeout_ms, a, 1, R_BOOL, setp));
}

// ---------------------------------------------------------------------
// Conditions

mpb_err
mpb_cond_create(
    mpb_client *c, const char *name, const char *lock, bool *createdp)
{
	sync_arg a[] = { { A_STR, 0, lock, lock != NULL ? strlen(lock) : 0 } };

	return (sync_create(c, MPBI_OP_COND_CREATE, name, a, 1, createdp));
}

mpb_err
mpb_cond_wait(
    mpb_client *c, const char *name, uint32_t timeout_ms, bool *notifiedp)
{
	sync_arg a[] = { ATID(), AU(timeout_ms) };

	// The broker may take timeout_ms to notify and as long again to
	// give the lock back.
	return (sync_call(c, MPBI_OP_COND_WAIT, name, 2 * (int64_t) timeout_ms,
	    a, 2, R_BOOL, notifiedp));
}

mpb_err
mpb_cond_notify(mpb_client *c, const char *name, uint64_t n, uint64_t *wokenp)
{
	sync_arg a[] = { ATID(), AU(n) };

	return (sync_call(c, MPBI_OP_COND_NOTIFY, name, MPBI_WAIT_NONE, a, 2,
	    R_UINT, wokenp));
}

mpb_err
mpb_cond_notify_all(mpb_client *c, const char *name, uint64_t *wokenp)
{
	sync_arg a[] = { ATID() };

	return (sync_call(c, MPBI_OP_COND_NOTIFY_ALL, name, MPBI_WAIT_NONE, a,
	    1, R_UINT, wokenp));
}

// ---------------------------------------------------------------------
// Barriers

mpb_err
mpb_barrier_create(
    mpb_client *c, const char *name, uint64_t parties, bool *createdp)
{
	sync_arg a[] = { AU(parties) };

	return (sync_create(c, MPBI_OP_BARRIER_CREATE, name, a, 1, createdp));
}

mpb_err
mpb_barrier_wait(
    mpb_client *c, const char *name, uint32_t timeout_ms, uint64_t *indexp)
{
	sync_arg a[] = { AU(timeout_ms) };

	return (sync_call(
	    c, MPBI_OP_BARRIER_WAIT, name, timeout_ms, a, 1, R_UINT, indexp));
}

mpb_err
mpb_barrier_abort(mpb_client *c, const char *name)
{
	return (sync_plain(c, MPBI_OP_BARRIER_ABORT, name));
}

mpb_err
mpb_barrier_reset(mpb_client *c, const char *name)
{
	return (sync_plain(c, MPBI_OP_BARRIER_RESET, name));
}

// ---------------------------------------------------------------------
// Pipes

static mpb_err
pipe_call(mpb_client *c, mpbi_op op, const char *name, unsigned end,
    int64_t wait_ms, const sync_arg *more, size_t nmore, res_type rt,
    void *outp)
{
	sync_arg a[2] = { AU(end) };

	if (nmore > 0) {
		a[1] = more[0];
	}
	return (sync_call(c, op, name, wait_ms, a, 1 + nmore, rt, outp));
}

mpb_err
mpb_pipe_open(mpb_client *c, const char *name, unsigned end)
{
	return (pipe_call(
	    c, MPBI_OP_PIPE_OPEN, name, end, MPBI_WAIT_NONE, NULL, 0, R_NONE, NULL));
}

mpb_err
mpb_pipe_send(mpb_client *c, const char *name, unsigned end,
    const void *value, size_t len)
{
	sync_arg v = { A_RAW, 0, value, len };

	return (pipe_call(
	    c, MPBI_OP_PIPE_SEND, name, end, MPBI_WAIT_NONE, &v, 1, R_NONE, NULL));
}

mpb_err
mpb_pipe_poll(mpb_client *c, const char *name, unsigned end,
    uint32_t timeout_ms, bool *readyp)
{
	sync_arg t = AU(timeout_ms);

	return (pipe_call(
	    c, MPBI_OP_PIPE_POLL, name, end, timeout_ms, &t, 1, R_BOOL, readyp));
}

mpb_err
mpb_pipe_close(mpb_client *c, const char *name, unsigned end)
{
	return (pipe_call(c, MPBI_OP_PIPE_CLOSE, name, end, MPBI_WAIT_NONE,
	    NULL, 0, R_NONE, NULL));
}

// recv returns a value, which sync_call does not carry.
mpb_err
mpb_pipe_recv(mpb_client *c, const char *name, unsigned end,
    uint32_t timeout_ms, void **valuep, size_t *lenp)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_named(&call, c, MPBI_OP_PIPE_RECV, name, 3);
	if (err == MPB_OK && (valuep == NULL || lenp == NULL)) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		mpbi_put_uint(&call.w, end);
		mpbi_put_uint(&call.w, timeout_ms);
		err = mpbi_call_run(&call, timeout_ms, 1);
	}
	if (err == MPB_OK) {
		err = mpbi_value_dup(call.f.elem[1], valuep, lenp);
	}
	mpbi_call_fini(&call);
	return (err);
}
