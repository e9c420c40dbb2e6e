// client_internal.h -- what queue.c (and later kinds' files) share with
// client.c: the generic call path of libmpb.
//
// A call is built and run in three steps:
//
//	mpbi_call call;
//	rv = mpbi_call_begin(&call, client, MPBI_OP_Q_INFO, 1);
//	if (rv != MPB_OK) { return (rv); }
//	mpbi_put_str(&call.w, name, len);          // exactly nargs arguments
//	rv = mpbi_call_run(&call, MPBI_WAIT_NONE, 4);
//	if (rv == MPB_OK) { ... read call.f.elem[1..4] ... }
//	mpbi_call_fini(&call);                      // always
//
// mpbi_call_run maps every nng and wire failure to an mpb_err, stores the
// broker's error text for mpb_last_error_text(), and checks that a success
// reply carries at least the results the caller will read.

#ifndef MPB_CLIENT_INTERNAL_H
#define MPB_CLIENT_INTERNAL_H

#include <stdint.h>

#include "mpb.h"
#include "proto.h"

// A call in progress.  Owns the request until it is sent and the reply
// after it arrives; mpbi_call_fini releases whichever it still holds.
typedef struct mpbi_call {
	mpb_client *client;
	mpbi_op     op;
	nng_msg    *req;   // request being written; NULL once handed to nng
	nng_msg    *reply; // reply body; f's spans point into it
	mpbi_writer w;     // writes the request's arguments
	mpbi_frame  f;     // the parsed reply: elem[1..] are the results
} mpbi_call;

// For mpbi_call_run: the operation never parks in the broker, so the
// library waits for its answer as long as the connect timeout.
#define MPBI_WAIT_NONE (-1)

// mpbi_error_clear forgets this thread's broker error text.  Every public
// call runs it first, so mpb_last_error_text() speaks of the last call.
void mpbi_error_clear(void);

// mpbi_call_begin checks the handle (NULL: MPB_EINVAL; used in a forked
// child: MPB_EFORK), allocates the request and writes its envelope for op
// with nargs arguments, which the caller then puts with call->w.
// mpbi_call_fini must be called whatever it returns.
mpb_err mpbi_call_begin(
    mpbi_call *call, mpb_client *client, mpbi_op op, size_t nargs);

// mpbi_call_run sends the request and waits for the reply: wait_ms is how
// long the broker may park the request (the op's timeout_ms), or
// MPBI_WAIT_NONE.  On MPB_OK the broker reported success with at least
// nresults results, in call->f.elem[1..nresults].  Otherwise returns the
// broker's error code, or a connection error (MPB_ECONNLOST,
// MPB_ENOREPLY, MPB_ENOMEM), or MPB_EPROTO for a reply that is not a
// well-formed reply.
mpb_err mpbi_call_run(mpbi_call *call, int64_t wait_ms, size_t nresults);

// mpbi_call_fini frees what the call still holds.
void mpbi_call_fini(mpbi_call *call);

// mpbi_call_named is mpbi_call_begin for an op whose first argument is an
// object name, which it writes.  Names are checked here only for what can
// never be valid (NULL, empty: MPB_EINVAL); the length limit is the
// broker's, and a broker flag can change it.  nargs counts the name.
mpb_err mpbi_call_named(mpbi_call *call, mpb_client *client, mpbi_op op,
    const char *name, size_t nargs);

// mpbi_value_check: MPB_OK if value[0..len) is exactly one msgpack object
// shallow enough that a request around it (one array deeper) stays within
// what any frame may be; else MPB_EINVAL.
mpb_err mpbi_value_check(const void *value, size_t len);

// mpbi_value_dup copies a value out of a reply into a new buffer for the
// caller (freed with mpb_free).  MPB_OK or MPB_ENOMEM; the out-parameters
// are set only on MPB_OK, and must not be NULL.
mpb_err mpbi_value_dup(mpbi_span value, void **valuep, size_t *lenp);

// mpbi_str_dup copies p[0..len) into a new NUL-terminated string.
mpb_err mpbi_str_dup(const char *p, size_t len, char **strp);

#endif // MPB_CLIENT_INTERNAL_H
