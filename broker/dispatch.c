// dispatch.c -- the command table and the checks shared by all handlers.

#include "dispatch.h"
#include "ops.h"
#include "reply.h"

#define CMD(op, h, min, max, flags, cls)                                      \
	[MPBI_OP_##op] = { MPBI_OP_##op, h, min, max, flags, cls }
#define NAMED MPBI_CMDF_NAME
#define EXISTING (MPBI_CMDF_NAME | MPBI_CMDF_OBJ)
#define ANY_USE (MPBI_CMDF_NAME | MPBI_CMDF_OBJ | MPBI_CMDF_CREATE)

// op, handler, min and max argument count, flags, class of the named
// object.  One row per op in MPBI_OP_MAP; a unit test checks that.
static const mpbi_cmd cmd_table[MPBI_OP_LIMIT] = {
	// Broker and objects of any kind
	CMD(PING, mpbi_h_ping, 0, 0, MPBI_CMDF_PREAUTH, NULL),
	CMD(OBJ_LIST, mpbi_h_objlist, 0, 0, 0, NULL),
	CMD(OBJ_DELETE, mpbi_h_objdelete, 1, 1, NAMED, NULL),
	CMD(AUTH_CHALLENGE, mpbi_h_auth_challenge, 0, 0, MPBI_CMDF_PREAUTH, NULL),
	CMD(AUTH_PROVE, mpbi_h_auth_prove, 2, 2, MPBI_CMDF_PREAUTH, NULL),
	// Queues
	CMD(Q_CREATE, mpbi_h_qcreate, 3, 3, NAMED, NULL),
	CMD(Q_PUT, mpbi_h_qput, 4, 4, EXISTING, &mpbi_queue_class),
	CMD(Q_GET, mpbi_h_qget, 2, 2, EXISTING, &mpbi_queue_class),
	CMD(Q_INFO, mpbi_h_qinfo, 1, 1, EXISTING, &mpbi_queue_class),
	CMD(Q_TASK_DONE, mpbi_h_qtask_done, 1, 1, EXISTING, &mpbi_queue_class),
	CMD(Q_JOIN, mpbi_h_qjoin, 2, 2, EXISTING, &mpbi_queue_class),
	CMD(Q_DELETE, mpbi_h_qdelete, 1, 1, EXISTING, &mpbi_queue_class),
	CMD(Q_LIST, mpbi_h_qlist, 0, 0, 0, NULL),
	// Dicts
	// Lists
	// Synchronisation objects
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
	if (r->r_nargs < cmd->cmd_min_args || r->r_nargs > cmd->cmd_max_args) {
		mpbi_req_error(r, MPB_EINVAL, "%s takes %u argument(s), not %zu",
		    mpbi_op_name(op), cmd->cmd_min_args, r->r_nargs);
		return;
	}
	if ((cmd->cmd_flags & MPBI_CMDF_NAME) != 0 && !dispatch_name(r, cmd)) {
		return;
	}
	cmd->cmd_handler(r);
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
	*msp = (uint32_t) v;
	return (true);
}
