// dispatch.h -- the one command table, and the argument checks every
// handler shares.
//
// mpbi_dispatch checks, once and in this order: frame size, frame shape
// (proto), opcode, argument count, the name argument (type and length),
// and for commands bound to a class, that the named object exists and is
// of that class.  Handlers then only read their own arguments.

#ifndef MPBI_DISPATCH_H
#define MPBI_DISPATCH_H

#include "core.h"

enum {
	MPBI_CMDF_NAME   = 1u << 0, // argument 1 is an object name
	MPBI_CMDF_OBJ    = 1u << 1, // ... which must exist, of cmd_cls
	MPBI_CMDF_CREATE = 1u << 2, // ... or is created by cmd_cls's defaults
	MPBI_CMDF_PREAUTH = 1u << 3, // allowed before the session authenticated
	MPBI_CMDF_GROWS   = 1u << 4, // stores values: refused at --max-memory
};

typedef struct mpbi_cmd {
	mpbi_op               cmd_op;
	void                (*cmd_handler)(mpbi_req *r);
	uint8_t               cmd_min_args; // not counting the op
	uint8_t               cmd_max_args;
	uint8_t               cmd_flags;
	const mpbi_class_ops *cmd_cls; // with MPBI_CMDF_OBJ
} mpbi_cmd;

// The row for op, or NULL for an unknown op.
const mpbi_cmd *mpbi_cmd_find(uint64_t op);

// Handles one request: the handler replies or parks; on a failed check
// the dispatcher replies with the error.
void mpbi_dispatch(mpbi_req *r, const void *body, size_t len);

// Argument readers that answer the request with MPB_EINVAL (naming the
// argument) and return false when argument i is not of the wanted type.
bool mpbi_arg_uint(mpbi_req *r, size_t i, const char *what, uint64_t *vp);
bool mpbi_arg_int(mpbi_req *r, size_t i, const char *what, int64_t *vp);
// A timeout in milliseconds: an integer 0..UINT32_MAX; 0 for a request
// inside a batch, which must not park.
bool mpbi_arg_timeout(mpbi_req *r, size_t i, uint32_t *msp);

// How names appear in error messages: at most this many bytes.
#define MPBI_NAME_IN_MSG 64
#define MPBI_NAME_FMT "'%.*s'"
#define MPBI_NAME_ARG(p, n) (int) ((n) < MPBI_NAME_IN_MSG ? (n) : MPBI_NAME_IN_MSG), (p)

#endif // MPBI_DISPATCH_H
