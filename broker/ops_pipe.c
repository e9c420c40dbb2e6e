// ops_pipe.c -- pipes: named duplex channels with two ends, as Python's
// multiprocessing.Pipe().
//
// Each end (0 and 1) is claimed by one session with pipe.open; only that
// session may send, recv, poll or close on it.  What one end sends is
// queued at the other end (pe_inbox, unbounded: only the broker's memory
// limits it) and received in order, byte-for-byte.  An end is closed by
// pipe.close or by its session ending, and never reopens: its inbox is
// dropped, and the other end, once it has received everything sent
// before, gets MPB_EEOF from recv (poll then reports ready); sending to
// a closed end fails with MPB_EEOF.
//
// Invariants: an end with parked receivers has an empty inbox and an
// open peer; parked polls likewise.

#include "dispatch.h"
#include "ops.h"
#include "reply.h"
#include "sync_common.h"

enum { END_FREE, END_OPEN, END_CLOSED };

typedef struct sync_pipe sync_pipe;

typedef struct pipe_end {
	mpbi_hold     pe_hold; // first: the session that opened it
	sync_pipe    *pe_pipe;
	int           pe_state;
	mpbi_deque    pe_inbox; // mpbi_item *, sent by the other end
	mpbi_waitlist pe_recv;
	mpbi_waitlist pe_poll;
} pipe_end;

struct sync_pipe {
	mpbi_obj p_obj;
	pipe_end p_end[2];
};

static void
inbox_clear(pipe_end *pe)
{
	mpbi_item *it;

	while ((it = mpbi_deque_pop_front(&pe->pe_inbox)) != NULL) {
		mpbi_item_destroy(it);
	}
	mpbi_deque_fini(&pe->pe_inbox);
}

static void
pipe_destroy(mpbi_broker *b, mpbi_obj *o)
{
	sync_pipe *p = (sync_pipe *) o;

	for (int e = 0; e < 2; e++) {
		pipe_end *pe = &p->p_end[e];

		mpbi_waitlist_fail(b, &pe->pe_recv, MPB_EDELETED, "pipe deleted");
		mpbi_waitlist_fail(b, &pe->pe_poll, MPB_EDELETED, "pipe deleted");
		mpbi_hold_drop(&pe->pe_hold);
		inbox_clear(pe);
	}
	mpbi_obj_free(o);
}

static const char *
pipe_kind_name(const mpbi_obj *o)
{
	(void) o;
	return ("pipe");
}

// The size of a pipe is the number of messages sent and not yet received,
// both ways.
static uint64_t
pipe_size(const mpbi_obj *o)
{
	const sync_pipe *p = (const sync_pipe *) o;

	return (mpbi_deque_len(&p->p_end[0].pe_inbox) +
	    mpbi_deque_len(&p->p_end[1].pe_inbox));
}

static size_t
pipe_objsize(const mpbi_sync_params *pp)
{
	(void) pp;
	return (sizeof(sync_pipe));
}

static void
pipe_init(mpbi_obj *o, const mpbi_sync_params *pp)
{
	sync_pipe *p = (sync_pipe *) o;

	(void) pp;
	for (int e = 0; e < 2; e++) {
		p->p_end[e].pe_pipe = p;
		mpbi_deque_init(&p->p_end[e].pe_inbox);
	}
}

static bool
pipe_same(const mpbi_obj *o, const mpbi_sync_params *pp)
{
	(void) o;
	(void) pp;
	return (true);
}

static const mpbi_sync_kind pipe_kind = {
	&mpbi_pipe_class, pipe_objsize, pipe_init, pipe_same
};

// Pipes have no parameters: pipe.open creates one on first use.
static mpb_err
pipe_create_default(
    mpbi_broker *b, const char *name, size_t namelen, mpbi_obj **op)
{
	mpbi_sync_params p = { 0 };

	return (mpbi_sync_create(b, &pipe_kind, &p, name, namelen, op));
}

const mpbi_class_ops mpbi_pipe_class = {
	.class_id       = MPBI_CLASS_PIPE,
	.class_name     = "pipe",
	.destroy        = pipe_destroy,
	.kind_name      = pipe_kind_name,
	.size           = pipe_size,
	.create_default = pipe_create_default,
};

static pipe_end *
pipe_peer(pipe_end *pe)
{
	sync_pipe *p = pe->pe_pipe;

	return (pe == &p->p_end[0] ? &p->p_end[1] : &p->p_end[0]);
}

// Closes pe: its inbox is dropped, its own waiters fail, and the peer's
// waiters (whose inbox is empty) learn of the end of file.
static void
end_close(mpbi_broker *b, pipe_end *pe)
{
	pipe_end *peer = pipe_peer(pe);

	pe->pe_state = END_CLOSED;
	mpbi_hold_drop(&pe->pe_hold);
	inbox_clear(pe);
	mpbi_waitlist_fail(b, &pe->pe_recv, MPB_EEOF, "this end was closed");
	mpbi_waitlist_fail(b, &pe->pe_poll, MPB_EEOF, "this end was closed");
	mpbi_waitlist_fail(b, &peer->pe_recv, MPB_EEOF, "the other end is closed");
	mpbi_sync_wake_all_bool(b, &peer->pe_poll, true);
}

static void
end_session_ended(mpbi_broker *b, mpbi_hold *h)
{
	end_close(b, (pipe_end *) h);
}

// Reads the end argument and checks that the caller's session has it
// open; replies the error and returns NULL otherwise.
static pipe_end *
req_end(mpbi_req *r)
{
	sync_pipe *p = (sync_pipe *) r->r_obj;
	uint64_t   e;
	pipe_end  *pe;

	if (!mpbi_arg_uint(r, 2, "end", &e)) {
		return (NULL);
	}
	if (e > 1) {
		mpbi_req_error(r, MPB_EINVAL, "end must be 0 or 1");
		return (NULL);
	}
	pe = &p->p_end[e];
	if (pe->pe_state != END_OPEN || !mpbi_sync_holds(r, &pe->pe_hold)) {
		mpbi_req_error(r, MPB_ENOTOWNER,
		    "end %u of pipe " MPBI_NAME_FMT " is not open in this session",
		    (unsigned) e, MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return (NULL);
	}
	return (pe);
}

// PIPE.OPEN name end -> []: claims the end for the caller's session
void
mpbi_h_pipe_open(mpbi_req *r)
{
	sync_pipe *p = (sync_pipe *) r->r_obj;
	uint64_t   e;
	pipe_end  *pe;

	if (!mpbi_arg_uint(r, 2, "end", &e)) {
		return;
	}
	if (e > 1) {
		mpbi_req_error(r, MPB_EINVAL, "end must be 0 or 1");
		return;
	}
	pe = &p->p_end[e];
	if (pe->pe_state == END_CLOSED) {
		mpbi_req_error(r, MPB_ESTATE, "end %u of pipe " MPBI_NAME_FMT
		    " was closed; delete the pipe to reuse its name",
		    (unsigned) e, MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return;
	}
	if (pe->pe_state == END_OPEN && !mpbi_sync_holds(r, &pe->pe_hold)) {
		mpbi_req_error(r, MPB_EBUSY, "end %u of pipe " MPBI_NAME_FMT
		    " is open in another session",
		    (unsigned) e, MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return;
	}
	if (pe->pe_state == END_FREE) {
		pe->pe_state = END_OPEN;
		mpbi_hold_take(r->r_sess, &pe->pe_hold, end_session_ended);
	}
	mpbi_sync_ok(r);
}

// PIPE.SEND name end value -> []
void
mpbi_h_pipe_send(mpbi_req *r)
{
	pipe_end    *pe = req_end(r);
	pipe_end    *peer;
	mpbi_span    value = mpbi_arg(r, 3);
	mpbi_waiter *w;
	mpbi_item   *it;
	mpbi_reply   rep;

	if (pe == NULL) {
		return;
	}
	peer = pipe_peer(pe);
	if (peer->pe_state == END_CLOSED) {
		mpbi_req_error(r, MPB_EEOF, "the other end is closed");
		return;
	}
	if ((w = mpbi_waitlist_first(&peer->pe_recv)) != NULL) {
		mpbi_reply_begin(&rep, 1);
		mpbi_reply_raw(&rep, value.ptr, value.len);
		mpbi_waiter_finish(r->r_broker, w, &rep);
		mpbi_sync_ok(r);
		return;
	}
	if ((it = mpbi_item_create(value.ptr, value.len)) == NULL ||
	    mpbi_deque_push_back(&peer->pe_inbox, it) != MPB_OK) {
		mpbi_item_destroy(it);
		mpbi_req_error(r, MPB_ENOMEM, "out of memory");
		return;
	}
	mpbi_sync_wake_all_bool(r->r_broker, &peer->pe_poll, true);
	mpbi_sync_ok(r);
}

// PIPE.RECV name end timeout_ms -> [value]
void
mpbi_h_pipe_recv(mpbi_req *r)
{
	pipe_end  *pe = req_end(r);
	uint32_t   timeout;
	mpbi_item *it;

	if (pe == NULL || !mpbi_arg_timeout(r, 3, &timeout)) {
		return;
	}
	if ((it = mpbi_deque_pop_front(&pe->pe_inbox)) != NULL) {
		mpbi_req_ok(r, 1);
		mpbi_reply_raw(&r->r_reply, it->it_data, it->it_len);
		mpbi_item_destroy(it);
		return;
	}
	if (pipe_peer(pe)->pe_state == END_CLOSED) {
		mpbi_req_error(r, MPB_EEOF, "the other end is closed");
		return;
	}
	if (timeout == 0) {
		mpbi_req_error(r, MPB_EEMPTY, "nothing to receive");
		return;
	}
	(void) mpbi_sync_park(r, &pe->pe_recv, timeout, 0, NULL);
}

// PIPE.POLL name end timeout_ms -> [ready]: a recv would not wait
void
mpbi_h_pipe_poll(mpbi_req *r)
{
	pipe_end *pe = req_end(r);
	uint32_t  timeout;
	bool      ready;

	if (pe == NULL || !mpbi_arg_timeout(r, 3, &timeout)) {
		return;
	}
	ready = mpbi_deque_len(&pe->pe_inbox) > 0 ||
	    pipe_peer(pe)->pe_state == END_CLOSED;
	if (ready || timeout == 0) {
		mpbi_sync_ok_bool(r, ready);
		return;
	}
	(void) mpbi_sync_park(r, &pe->pe_poll, timeout, 0, mpbi_sync_cancel_false);
}

// PIPE.CLOSE name end -> []
void
mpbi_h_pipe_close(mpbi_req *r)
{
	pipe_end *pe = req_end(r);

	if (pe != NULL) {
		end_close(r->r_broker, pe);
		mpbi_sync_ok(r);
	}
}
