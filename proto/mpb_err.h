// mpb_err.h -- the one error enum of mpbroker, shared by the wire protocol,
// the broker and the client library.
//
// The numbers travel on the wire (an error reply is [code, message]) and are
// never renumbered; new codes are only ever appended.  Codes marked "client"
// are produced by libmpb itself and never appear in a broker reply.
//
// The list is written once, as an X-macro, and expanded both into the enum
// and into the tables behind mpb_strerror() and mpb_errname(), so the two
// cannot drift apart.

#ifndef MPB_ERR_H
#define MPB_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

#define MPB_ERR_MAP(X)                                                        \
	X(OK, 0, "success")                                                   \
	X(EINVAL, 1, "invalid argument")                                      \
	X(EPROTO, 2, "malformed frame")                                       \
	X(ENOTSUP, 3, "unknown or unsupported operation")                     \
	X(ENOMEM, 4, "out of memory")                                         \
	X(ENOENT, 5, "no such object")                                        \
	X(EWRONGTYPE, 6, "object is of another kind")                         \
	X(EEXIST, 7, "object exists with other parameters")                   \
	X(EEMPTY, 8, "queue is empty")                                        \
	X(EFULL, 9, "queue is full")                                          \
	X(ETIMEDOUT, 10, "timed out")                                         \
	X(EDELETED, 11, "object was deleted")                                 \
	X(ENAMETOOLONG, 12, "name too long")                                  \
	X(EMSGSIZE, 13, "frame or value too large")                           \
	X(ESTATE, 14, "operation not valid in the object's current state")    \
	X(ELIMIT, 15, "broker limit reached")                                 \
	X(ECLOSED, 16, "broker is shutting down")                             \
	X(ENOBROKER, 17, "no broker answered")                 /* client */   \
	X(ECONNLOST, 18, "connection lost; outcome unknown")   /* client */   \
	X(EFORK, 19, "client handle used in a forked child")   /* client */   \
	X(ENOREPLY, 20, "no reply in time; outcome unknown")   /* client */   \
	X(EINTERNAL, 21, "internal error")                                    \
	X(ENOTFOUND, 22, "no such key or value")                              \
	X(EINDEX, 23, "index out of range")                                   \
	X(EOVERFLOW, 24, "integer overflow")                                  \
	X(EVALUE, 25, "value is not of the type the operation needs")         \
	X(EBUSY, 26, "held by another owner")                                 \
	X(ENOTOWNER, 27, "not held by the caller")                            \
	X(EBROKEN, 28, "barrier is broken")                                   \
	X(EEOF, 29, "the other end is closed")                                \
	X(EAUTH, 30, "authentication required or failed")

// mpb_err: 0 is success, every other value an error from the map above.
typedef enum mpb_err {
#define MPB_ERR_ENUM_(name, num, text) MPB_##name = num,
	MPB_ERR_MAP(MPB_ERR_ENUM_)
#undef MPB_ERR_ENUM_
} mpb_err;

// mpb_strerror returns a static, human-readable sentence for err ("queue is
// empty"), or "unknown error" for a number outside the map.  Never NULL;
// the caller must not free it.
const char *mpb_strerror(mpb_err err);

// mpb_errname returns the static symbolic name of err without the MPB_
// prefix ("EEMPTY"), or "EUNKNOWN".  Never NULL; not to be freed.
const char *mpb_errname(mpb_err err);

#ifdef __cplusplus
}
#endif

#endif // MPB_ERR_H
