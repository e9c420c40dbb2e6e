// dispatch.c -- the command table and the checks shared by all handlers.

#include "dispatch.h"
#include "ops.h"
#include "reply.h"

#define CMD(op, h, min, max, flags, cls)                                      \
	[MPBI_OP_##op] = { MPBI_OP_##op, h, min, max, flags, cls }
#define NAMED MPBI_CMDF_NAME
#define EXISTING (MPBI_CMDF_NAME | MPBI_CMDF_OBJ)
#define ANY_USE (MPBI_CMDF_NAME | MPBI_CMDF_OBJ | MPBI_CMDF_CREATE)
// Stores values: refused past --max-memory.
#define STORES(flags) ((flags) | MPBI_CMDF_GROWS)

// op, handler, min and max argument count, flags, class of the named
// object.  One row per op in MPBI_OP_MAP; a unit test checks that.
static const mpbi_cmd cmd_table[MPBI_OP_LIMIT] = {
	// Broker and objects of any kind
	CMD(PING, mpbi_h_ping, 0, 0, MPBI_CMDF_PREAUTH, NULL),
	CMD(OBJ_LIST, mpbi_h_objlist, 0, 0, 0, NULL),
	CMD(OBJ_DELETE, mpbi_h_objdelete, 1, 1, NAMED, NULL),
	CMD(AUTH_CHALLENGE, mpbi_h_auth_challenge, 0, 0, MPBI_CMDF_PREAUTH, NULL),
	CMD(AUTH_PROVE, mpbi_h_auth_prove, 2, 2, MPBI_CMDF_PREAUTH, NULL),
	CMD(STATS, mpbi_h_stats, 0, 0, 0, NULL),
	// Queues
	CMD(Q_CREATE, mpbi_h_qcreate, 3, 3, NAMED, NULL),
	CMD(Q_PUT, mpbi_h_qput, 4, 4, STORES(EXISTING), &mpbi_queue_class),
	CMD(Q_GET, mpbi_h_qget, 2, 2, EXISTING, &mpbi_queue_class),
	CMD(Q_INFO, mpbi_h_qinfo, 1, 1, EXISTING, &mpbi_queue_class),
	CMD(Q_TASK_DONE, mpbi_h_qtask_done, 1, 1, EXISTING, &mpbi_queue_class),
	CMD(Q_JOIN, mpbi_h_qjoin, 2, 2, EXISTING, &mpbi_queue_class),
	CMD(Q_DELETE, mpbi_h_qdelete, 1, 1, EXISTING, &mpbi_queue_class),
	CMD(Q_LIST, mpbi_h_qlist, 0, 0, 0, NULL),
	CMD(Q_GET_LEASED, mpbi_h_qget_leased, 3, 3, EXISTING, &mpbi_queue_class),
	CMD(Q_ACK, mpbi_h_qack, 2, 2, EXISTING, &mpbi_queue_class),
	CMD(Q_NACK, mpbi_h_qnack, 2, 2, EXISTING, &mpbi_queue_class),
	CMD(Q_EXTEND, mpbi_h_qextend, 3, 3, EXISTING, &mpbi_queue_class),
	// Dicts: writes create the dict on first use; reads need it
	CMD(D_CREATE, mpbi_h_dcreate, 1, 1, NAMED, NULL),
	CMD(D_SET, mpbi_h_dset, 3, 3, STORES(ANY_USE), &mpbi_dict_class),
	CMD(D_GET, mpbi_h_dget, 2, 2, EXISTING, &mpbi_dict_class),
	CMD(D_DEL, mpbi_h_ddel, 2, 2, EXISTING, &mpbi_dict_class),
	CMD(D_CONTAINS, mpbi_h_dcontains, 2, 2, EXISTING, &mpbi_dict_class),
	CMD(D_LEN, mpbi_h_dlen, 1, 1, EXISTING, &mpbi_dict_class),
	CMD(D_SCAN, mpbi_h_dscan, 4, 4, EXISTING, &mpbi_dict_class),
	CMD(D_POP, mpbi_h_dpop, 2, 2, EXISTING, &mpbi_dict_class),
	CMD(D_POPITEM, mpbi_h_dpopitem, 1, 1, EXISTING, &mpbi_dict_class),
	CMD(D_SETDEFAULT, mpbi_h_dsetdefault, 3, 3, STORES(ANY_USE), &mpbi_dict_class),
	CMD(D_UPDATE, mpbi_h_dupdate, 2, 2, STORES(ANY_USE), &mpbi_dict_class),
	CMD(D_CLEAR, mpbi_h_dclear, 1, 1, EXISTING, &mpbi_dict_class),
	CMD(D_INCR, mpbi_h_dincr, 3, 3, ANY_USE, &mpbi_dict_class),
	CMD(D_INCR_FLOAT, mpbi_h_dincr_float, 3, 3, ANY_USE, &mpbi_dict_class),
	CMD(D_CAS, mpbi_h_dcas, 4, 4, STORES(ANY_USE), &mpbi_dict_class),
	CMD(D_GETSET, mpbi_h_dgetset, 3, 3, STORES(ANY_USE), &mpbi_dict_class),
	CMD(D_GET_MANY, mpbi_h_dget_many, 2, 2, EXISTING, &mpbi_dict_class),
	// Lists: writes that add create the list on first use
	CMD(L_CREATE, mpbi_h_lcreate, 1, 1, NAMED, NULL),
	CMD(L_APPEND, mpbi_h_lappend, 2, 2, STORES(ANY_USE), &mpbi_list_class),
	CMD(L_EXTEND, mpbi_h_lextend, 2, 2, STORES(ANY_USE), &mpbi_list_class),
	CMD(L_INSERT, mpbi_h_linsert, 3, 3, STORES(ANY_USE), &mpbi_list_class),
	CMD(L_GET, mpbi_h_lget, 2, 2, EXISTING, &mpbi_list_class),
	CMD(L_SET, mpbi_h_lset, 3, 3, STORES(EXISTING), &mpbi_list_class),
	CMD(L_DEL, mpbi_h_ldel, 2, 2, EXISTING, &mpbi_list_class),
	CMD(L_POP, mpbi_h_lpop, 2, 2, EXISTING, &mpbi_list_class),
	CMD(L_REMOVE, mpbi_h_lremove, 2, 2, EXISTING, &mpbi_list_class),
	CMD(L_INDEX, mpbi_h_lindex, 4, 4, EXISTING, &mpbi_list_class),
	CMD(L_COUNT, mpbi_h_lcount, 2, 2, EXISTING, &mpbi_list_class),
	CMD(L_LEN, mpbi_h_llen, 1, 1, EXISTING, &mpbi_list_class),
	CMD(L_SLICE, mpbi_h_lslice, 4, 4, EXISTING, &mpbi_list_class),
	CMD(L_REVERSE, mpbi_h_lreverse, 1, 1, EXISTING, &mpbi_list_class),
	CMD(L_CLEAR, mpbi_h_lclear, 1, 1, EXISTING, &mpbi_list_class),
	// Synchronisation objects: locks, semaphores, events and pipes are
	// created on first use with defaults; conditions and barriers have
	// no defaults and must be created
	CMD(LOCK_CREATE, mpbi_h_lock_create, 2, 2, NAMED, NULL),
	CMD(LOCK_ACQUIRE, mpbi_h_lock_acquire, 4, 4, ANY_USE, &mpbi_lock_class),
	CMD(LOCK_RELEASE, mpbi_h_lock_release, 2, 2, EXISTING, &mpbi_lock_class),
	CMD(LOCK_LOCKED, mpbi_h_lock_locked, 1, 1, ANY_USE, &mpbi_lock_class),
	CMD(RLOCK_ACQUIRE, mpbi_h_lock_acquire, 4, 4, ANY_USE, &mpbi_rlock_class),
	CMD(RLOCK_RELEASE, mpbi_h_lock_release, 2, 2, EXISTING, &mpbi_rlock_class),
	CMD(RLOCK_LOCKED, mpbi_h_lock_locked, 1, 1, ANY_USE, &mpbi_rlock_class),
	CMD(SEM_CREATE, mpbi_h_sem_create, 3, 3, NAMED, NULL),
	CMD(SEM_ACQUIRE, mpbi_h_sem_acquire, 3, 3, ANY_USE, &mpbi_sem_class),
	CMD(SEM_RELEASE, mpbi_h_sem_release, 2, 2, ANY_USE, &mpbi_sem_class),
	CMD(SEM_VALUE, mpbi_h_sem_value, 1, 1, ANY_USE, &mpbi_sem_class),
	CMD(EVENT_CREATE, mpbi_h_event_create, 1, 1, NAMED, NULL),
	CMD(EVENT_SET, mpbi_h_event_set, 1, 1, ANY_USE, &mpbi_event_class),
	CMD(EVENT_CLEAR, mpbi_h_event_clear, 1, 1, ANY_USE, &mpbi_event_class),
	CMD(EVENT_IS_SET, mpbi_h_event_is_set, 1, 1, ANY_USE, &mpbi_event_class),
	CMD(EVENT_WAIT, mpbi_h_event_wait, 2, 2, ANY_USE, &mpbi_event_class),
	CMD(COND_CREATE, mpbi_h_cond_create, 2, 2, NAMED, NULL),
	CMD(COND_WAIT, mpbi_h_cond_wait, 3, 3, EXISTING, &mpbi_cond_class),
	CMD(COND_NOTIFY, mpbi_h_cond_notify, 3, 3, EXISTING, &mpbi_cond_class),
	CMD(COND_NOTIFY_ALL, mpbi_h_cond_notify_all, 2, 2, EXISTING, &mpbi_cond_class),
	CMD(BARRIER_CREATE, mpbi_h_barrier_create, 2, 2, NAMED, NULL),
	CMD(BARRIER_WAIT, mpbi_h_barrier_wait, 2, 2, EXISTING, &mpbi_barrier_class),
	CMD(BARRIER_ABORT, mpbi_h_barrier_abort, 1, 1, EXISTING, &mpbi_barrier_class),
	CMD(BARRIER_RESET, mpbi_h_barrier_reset, 1, 1, EXISTING, &mpbi_barrier_class),
	CMD(PIPE_OPEN, mpbi_h_pipe_open, 2, 2, ANY_USE, &mpbi_pipe_class),
	CMD(PIPE_SEND, mpbi_h_pipe_send, 3, 3, STORES(EXISTING), &mpbi_pipe_class),
	CMD(PIPE_RECV, mpbi_h_pipe_recv, 3, 3, EXISTING, &mpbi_pipe_class),
	CMD(PIPE_POLL, mpbi_h_pipe_poll, 3, 3, EXISTING, &mpbi_pipe_class),
	CMD(PIPE_CLOSE, mpbi_h_pipe_close, 2, 2, EXISTING, &mpbi_pipe_class),
	// Batches: each request inside gets these checks itself
	CMD(BATCH, mpbi_h_batch, 1, 1, 0, NULL),
};

const mpbi_cmd *
mpbi_cmd_find(uint64_t op)
{
	if (op >= MPBI_OP_LIMIT || cmd_table[op].cmd_handler == NULL) {
		return (NULL);
	}
	return (&cmd_table[op]);
}

// Checks the name argument and, for MPBI_CMDF_OBJ, finds the object.
static bool
dispatch_name(mpbi_req *r, const mpbi_cmd *cmd)
{
	const mpbi_config *cfg = mpbi_broker_config(r->r_broker);
	mpbi_obj          *o;

	if (mpbi_span_str(mpbi_arg(r, 1), &r->r_name, &r->r_namelen) != MPB_OK) {
		mpbi_req_error(r, MPB_EINVAL, "the name must be a string");
		return (false);
	}
	if (r->r_namelen == 0) {
		mpbi_req_error(r, MPB_EINVAL, "the name must not be empty");
		return (false);
	}
	if (r->r_namelen > cfg->max_name) {
		mpbi_req_error(r, MPB_ENAMETOOLONG,
		    "name of %zu bytes exceeds the limit of %u", r->r_namelen,
		    (unsigned) cfg->max_name);
		return (false);
	}
	if ((cmd->cmd_flags & MPBI_CMDF_OBJ) == 0) {
		return (true);
	}
	o = mpbi_obj_lookup(r->r_broker, r->r_name, r->r_namelen);
	if (o == NULL && (cmd->cmd_flags & MPBI_CMDF_CREATE) != 0) {
		mpb_err rv = cmd->cmd_cls->create_default(
		    r->r_broker, r->r_name, r->r_namelen, &o);
		if (rv != MPB_OK) {
			mpbi_req_error(r, rv, "cannot create %s " MPBI_NAME_FMT ": %s",
			    cmd->cmd_cls->class_name,
			    MPBI_NAME_ARG(r->r_name, r->r_namelen), mpb_strerror(rv));
			return (false);
		}
		r->r_created = true;
	}
	if (o == NULL) {
		mpbi_req_error(r, MPB_ENOENT, "no %s " MPBI_NAME_FMT,
		    cmd->cmd_cls->class_name, MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return (false);
	}
	if (o->o_ops != cmd->cmd_cls) {
		mpbi_req_error(r, MPB_EWRONGTYPE,
		    MPBI_NAME_FMT " is a %s, not a %s",
		    MPBI_NAME_ARG(r->r_name, r->r_namelen),
		    o->o_ops->class_name, cmd->cmd_cls->class_name);
		return (false);
	}
	r->r_obj = o;
	return (true);
}

void
mpbi_dispatch(mpbi_req *r, const void *body, size_t len)
{
	const mpbi_config *cfg = mpbi_broker_config(r->r_broker);
	mpbi_frame         f;
	uint64_t           op;
	const mpbi_cmd    *cmd;

	if (!mpbi_session_authed(r->r_sess) && len > MPBI_PREAUTH_MAX_FRAME) {
		mpbi_req_error(r, MPB_EMSGSIZE,
		    "frames before authentication are limited to %u bytes",
		    MPBI_PREAUTH_MAX_FRAME);
		return;
	}
	if (len > cfg->max_frame) {
		mpbi_req_error(r, MPB_EMSGSIZE,
		    "frame of %zu bytes exceeds the limit of %u", len,
		    (unsigned) cfg->max_frame);
		return;
	}
	if (mpbi_frame_parse(body, len, cfg->max_depth, &f) != MPB_OK) {
		mpbi_req_error(r, MPB_EPROTO,
		    "not a msgpack array of 1 to %u elements nested at most "
		    "%u deep",
		    MPBI_MAX_ELEMS, (unsigned) cfg->max_depth);
		return;
	}
	r->r_frame = &f;
	r->r_nargs = f.nelem - 1;
	if (mpbi_span_uint(f.elem[0], &op) != MPB_OK) {
		mpbi_req_error(r, MPB_EPROTO, "the op must be a non-negative integer");
		return;
	}
	if ((cmd = mpbi_cmd_find(op)) == NULL) {
		mpbi_req_error(r, MPB_ENOTSUP, "unknown op %llu",
		    (unsigned long long) op);
		return;
	}
	if ((cmd->cmd_flags & MPBI_CMDF_PREAUTH) == 0 &&
	    !mpbi_session_authed(r->r_sess)) {
		mpbi_req_error(r, MPB_EAUTH, "authenticate first (auth.challenge)");
		return;
	}
	// The frame's size bounds what the request can add.
	if ((cmd->cmd_flags & MPBI_CMDF_GROWS) != 0 && cfg->max_memory != 0 &&
	    mpbi_item_bytes() + len > cfg->max_memory) {
		mpbi_req_error(r, MPB_ENOMEM,
		    "the broker holds %zu bytes of values; --max-memory is %llu",
		    mpbi_item_bytes(), (unsigned long long) cfg->max_memory);
		return;
	}
	if (r->r_nargs < cmd->cmd_min_args || r->r_nargs > cmd->cmd_max_args) {
		mpbi_req_error(r, MPB_EINVAL, "%s takes %u argument(s), not %zu",
		    mpbi_op_name(op), cmd->cmd_min_args, r->r_nargs);
		return;
	}
	if ((cmd->cmd_flags & MPBI_CMDF_NAME) != 0 && !dispatch_name(r, cmd)) {
		return;
	}
	cmd->cmd_handler(r);
	mpbi_broker_count(r->r_broker, cmd->cmd_op);
	// A request that fails changes nothing: not even the object its
	// first use would have created.
	if (r->r_created && !r->r_parked && mpbi_reply_is_error(&r->r_reply)) {
		mpbi_log_obj_delete(r->r_broker, r->r_obj);
		mpbi_obj_delete(r->r_broker, r->r_obj);
		r->r_obj = NULL;
	}
	// The frame lives on this stack frame; handlers have copied what they
	// keep.
	r->r_frame = NULL;
}

bool
mpbi_arg_uint(mpbi_req *r, size_t i, const char *what, uint64_t *vp)
{
	if (mpbi_span_uint(mpbi_arg(r, i), vp) != MPB_OK) {
		mpbi_req_error(r, MPB_EINVAL, "%s must be a non-negative integer",
		    what);
		return (false);
	}
	return (true);
}

bool
mpbi_arg_int(mpbi_req *r, size_t i, const char *what, int64_t *vp)
{
	if (mpbi_span_int(mpbi_arg(r, i), vp) != MPB_OK) {
		mpbi_req_error(r, MPB_EINVAL, "%s must be a signed 64-bit integer",
		    what);
		return (false);
	}
	return (true);
}

bool
mpbi_arg_timeout(mpbi_req *r, size_t i, uint32_t *msp)
{
	uint64_t v;

	if (mpbi_span_uint(mpbi_arg(r, i), &v) != MPB_OK || v > UINT32_MAX) {
		mpbi_req_error(r, MPB_EINVAL,
		    "the timeout must be an integer from 0 to %u ms",
		    (unsigned) UINT32_MAX);
		return (false);
	}
	// In a batch nothing waits: the request is answered as with
	// timeout 0 (EEMPTY, EFULL, EBUSY, ...).
	*msp = r->r_batched ? 0 : (uint32_t) v;
	return (true);
}
