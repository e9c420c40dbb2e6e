// proto.h -- the only code that knows mpbroker's wire format.
//
// Every request and every reply is one msgpack array in one nng message
// (see PROTOCOL.md):
//
//   request:  [op, arg1, ..., argN]       op: positive integer (mpbi_op)
//   success:  [0, result1, ..., resultN]
//   error:    [code, message]              code: mpb_err > 0, message: str
//
// Untrusted bytes are first walked by an allocation-free structural check
// (mpbi_frame_parse) that bounds depth and rejects truncation, 0xc1, counts
// larger than the bytes left and trailing bytes; msgpack-c only ever sees
// bytes that passed it, because msgpack-c allocates from declared counts
// before it reads anything (TECH-NOTES 2.3).  The check also yields the raw
// span of every top-level element, which is how values are stored and
// returned byte-for-byte without re-encoding.

#ifndef MPB_PROTO_H
#define MPB_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <nng/nng.h>

#include "mpb_err.h"

// Version of the wire protocol, returned by ping.  Bumped only for changes
// an existing client could misread.
#define MPBI_PROTOCOL_VERSION 1

// Defaults of the limits; each can be changed by a broker flag.
#define MPBI_DEFAULT_MAX_FRAME (4u * 1024u * 1024u)
#define MPBI_DEFAULT_MAX_NAME 255u
#define MPBI_DEFAULT_MAX_OBJECTS 100000u
#define MPBI_DEFAULT_MAX_PARKED 10000u
#define MPBI_DEFAULT_MAX_DEPTH 16u
// msgpack-c 4.0 refuses nesting deeper than its compiled-in stack (32);
// a deeper limit could not be honoured, so flags are clamped to this.
#define MPBI_MAX_DEPTH_CAP 32u

// The most top-level elements a request or reply frame may have (op or
// status included).  Ops take few arguments; this keeps frames on the stack.
#define MPBI_MAX_ELEMS 16u

// Opcodes.  Numbers are on the wire: never renumber, only append.  Each
// area of the protocol owns a range: 1-9 the broker and objects of any
// kind, 10-19 queues, 20-39 dicts, 40-59 lists, 60-99 synchronisation
// objects, 100-109 queues again, 110-119 batches.
#define MPBI_OP_MAP(X)                                                        \
	MPBI_OP_MAP_SERVER(X)                                                 \
	MPBI_OP_MAP_QUEUE(X)                                                  \
	MPBI_OP_MAP_DICT(X)                                                   \
	MPBI_OP_MAP_LIST(X)                                                   \
	MPBI_OP_MAP_SYNC(X)                                                   \
	MPBI_OP_MAP_QUEUE_MORE(X)                                             \
	MPBI_OP_MAP_BATCH(X)

#define MPBI_OP_MAP_SERVER(X)                                                 \
	X(PING, 1, "ping")                                                    \
	X(OBJ_LIST, 2, "object.list")                                         \
	X(OBJ_DELETE, 3, "object.delete")                                     \
	X(AUTH_CHALLENGE, 4, "auth.challenge")                                \
	X(AUTH_PROVE, 5, "auth.prove")                                        \
	X(STATS, 6, "stats")

#define MPBI_OP_MAP_QUEUE(X)                                                  \
	X(Q_CREATE, 10, "queue.create")                                       \
	X(Q_PUT, 11, "queue.put")                                             \
	X(Q_GET, 12, "queue.get")                                             \
	X(Q_INFO, 13, "queue.info")                                           \
	X(Q_TASK_DONE, 14, "queue.task_done")                                 \
	X(Q_JOIN, 15, "queue.join")                                           \
	X(Q_DELETE, 16, "queue.delete")                                       \
	X(Q_LIST, 17, "queue.list")                                           \
	X(Q_GET_LEASED, 18, "queue.get_leased")                               \
	X(Q_ACK, 19, "queue.ack")

// Queues, continued (100-109).
#define MPBI_OP_MAP_QUEUE_MORE(X)                                             \
	X(Q_NACK, 100, "queue.nack")                                          \
	X(Q_EXTEND, 101, "queue.extend")

// Batches (110-119): many requests in one frame, one reply (PROTOCOL.md).
#define MPBI_OP_MAP_BATCH(X) X(BATCH, 110, "batch")

// The most requests one batch may carry.  Bounds the work one frame can
// ask for under the broker lock, and the entries a client keeps.
#define MPBI_BATCH_MAX_OPS 4096u

// Dicts (20-39).
#define MPBI_OP_MAP_DICT(X)                                                   \
	X(D_CREATE, 20, "dict.create")                                        \
	X(D_SET, 21, "dict.set")                                              \
	X(D_GET, 22, "dict.get")                                              \
	X(D_DEL, 23, "dict.del")                                              \
	X(D_CONTAINS, 24, "dict.contains")                                    \
	X(D_LEN, 25, "dict.len")                                              \
	X(D_SCAN, 26, "dict.scan")                                            \
	X(D_POP, 27, "dict.pop")                                              \
	X(D_POPITEM, 28, "dict.popitem")                                      \
	X(D_SETDEFAULT, 29, "dict.setdefault")                                \
	X(D_UPDATE, 30, "dict.update")                                        \
	X(D_CLEAR, 31, "dict.clear")                                          \
	X(D_INCR, 32, "dict.incr")                                            \
	X(D_INCR_FLOAT, 33, "dict.incr_float")                                \
	X(D_CAS, 34, "dict.cas")                                              \
	X(D_GETSET, 35, "dict.getset")                                        \
	X(D_GET_MANY, 36, "dict.get_many")

// Lists (40-59).
#define MPBI_OP_MAP_LIST(X)                                                   \
	X(L_CREATE, 40, "list.create")                                        \
	X(L_APPEND, 41, "list.append")                                        \
	X(L_EXTEND, 42, "list.extend")                                        \
	X(L_INSERT, 43, "list.insert")                                        \
	X(L_GET, 44, "list.get")                                              \
	X(L_SET, 45, "list.set")                                              \
	X(L_DEL, 46, "list.del")                                              \
	X(L_POP, 47, "list.pop")                                              \
	X(L_REMOVE, 48, "list.remove")                                        \
	X(L_INDEX, 49, "list.index")                                          \
	X(L_COUNT, 50, "list.count")                                          \
	X(L_LEN, 51, "list.len")                                              \
	X(L_SLICE, 52, "list.slice")                                          \
	X(L_REVERSE, 53, "list.reverse")                                      \
	X(L_CLEAR, 54, "list.clear")

// Synchronisation objects (60-99).
#define MPBI_OP_MAP_SYNC(X)                                                   \
	X(LOCK_CREATE, 60, "lock.create")                                     \
	X(LOCK_ACQUIRE, 61, "lock.acquire")                                   \
	X(LOCK_RELEASE, 62, "lock.release")                                   \
	X(LOCK_LOCKED, 63, "lock.locked")                                     \
	X(RLOCK_ACQUIRE, 64, "rlock.acquire")                                 \
	X(RLOCK_RELEASE, 65, "rlock.release")                                 \
	X(RLOCK_LOCKED, 66, "rlock.locked")                                   \
	X(SEM_CREATE, 67, "sem.create")                                       \
	X(SEM_ACQUIRE, 68, "sem.acquire")                                     \
	X(SEM_RELEASE, 69, "sem.release")                                     \
	X(SEM_VALUE, 70, "sem.value")                                         \
	X(EVENT_CREATE, 71, "event.create")                                   \
	X(EVENT_SET, 72, "event.set")                                         \
	X(EVENT_CLEAR, 73, "event.clear")                                     \
	X(EVENT_IS_SET, 74, "event.is_set")                                   \
	X(EVENT_WAIT, 75, "event.wait")                                       \
	X(COND_CREATE, 76, "cond.create")                                     \
	X(COND_WAIT, 77, "cond.wait")                                         \
	X(COND_NOTIFY, 78, "cond.notify")                                     \
	X(COND_NOTIFY_ALL, 79, "cond.notify_all")                             \
	X(BARRIER_CREATE, 80, "barrier.create")                               \
	X(BARRIER_WAIT, 81, "barrier.wait")                                   \
	X(BARRIER_ABORT, 82, "barrier.abort")                                 \
	X(BARRIER_RESET, 83, "barrier.reset")                                 \
	X(PIPE_OPEN, 84, "pipe.open")                                         \
	X(PIPE_SEND, 85, "pipe.send")                                         \
	X(PIPE_RECV, 86, "pipe.recv")                                         \
	X(PIPE_POLL, 87, "pipe.poll")                                         \
	X(PIPE_CLOSE, 88, "pipe.close")

typedef enum mpbi_op {
#define MPBI_OP_ENUM_(name, num, text) MPBI_OP_##name = num,
	MPBI_OP_MAP(MPBI_OP_ENUM_)
#undef MPBI_OP_ENUM_
	MPBI_OP_LIMIT // one past the highest opcode
} mpbi_op;

// Queue kinds, as sent in queue.create and returned by queue.info/list.
typedef enum mpbi_qkind {
	MPBI_QKIND_FIFO     = 0,
	MPBI_QKIND_LIFO     = 1,
	MPBI_QKIND_PRIORITY = 2,
} mpbi_qkind;

// mpbi_op_name returns the dotted name of op ("queue.put") or NULL.
const char *mpbi_op_name(uint64_t op);

// ---------------------------------------------------------------------
// Authentication (auth.c): see PROTOCOL.md, "Authentication".

#define MPBI_AUTH_NONCE_LEN 32
#define MPBI_AUTH_MAC_LEN 32
// Before a session has authenticated, frames larger than this are refused.
#define MPBI_PREAUTH_MAX_FRAME 256

// The MAC one side sends: HMAC-SHA256 over a label naming the side and
// both nonces.  MPB_OK, or MPB_EINTERNAL if mbed TLS fails.
mpb_err mpbi_auth_mac(const void *secret, size_t secretlen, bool server_side,
    const uint8_t server_nonce[MPBI_AUTH_NONCE_LEN],
    const uint8_t client_nonce[MPBI_AUTH_NONCE_LEN],
    uint8_t out[MPBI_AUTH_MAC_LEN]);
// Compares in time independent of where a and b differ.
bool mpbi_auth_equal(const uint8_t *a, const uint8_t *b, size_t n);
// Reads a secret file: its bytes, less one trailing newline.  On MPB_OK
// *secretp is malloc'ed (free it) and *lenp > 0.  MPB_EINVAL when the file
// cannot be read, is empty or over 4 KiB.
mpb_err mpbi_auth_read_secret(const char *path, uint8_t **secretp, size_t *lenp);

// ---------------------------------------------------------------------
// Decoding

// A span of bytes inside a frame: the exact encoding of one element.
typedef struct mpbi_span {
	const uint8_t *ptr;
	size_t         len;
} mpbi_span;

// A parsed frame.  Spans point into the buffer given to mpbi_frame_parse,
// which must outlive the frame.
typedef struct mpbi_frame {
	size_t    nelem;                // elements of the top-level array
	mpbi_span elem[MPBI_MAX_ELEMS]; // raw encoding of each element
} mpbi_frame;

// mpbi_check walks buf[0..len) as exactly one msgpack object, nested at
// most max_depth containers deep.  Allocates nothing.  Returns MPB_OK, or
// MPB_EPROTO for anything else (truncation, 0xc1, impossible counts,
// trailing bytes, too deep).
mpb_err mpbi_check(const void *buf, size_t len, unsigned max_depth);

// mpbi_frame_parse checks buf as one msgpack array of 1..MPBI_MAX_ELEMS
// elements (max_depth counts the array itself as 1) and fills f with the
// span of each element.  Returns MPB_OK or MPB_EPROTO; f is undefined on
// error.
mpb_err mpbi_frame_parse(
    const void *buf, size_t len, unsigned max_depth, mpbi_frame *f);

// Scalar readers for one element of a parsed frame.  Each returns MPB_OK
// and sets its out-parameter only on success, or MPB_EINVAL when the
// element is not of the wanted type (or out of range).
mpb_err mpbi_span_uint(mpbi_span s, uint64_t *vp); // non-negative integer
mpb_err mpbi_span_int(mpbi_span s, int64_t *vp);   // any integer in int64
mpb_err mpbi_span_bool(mpbi_span s, bool *vp);
// A str; *pp points into the frame, not NUL-terminated.
mpb_err mpbi_span_str(mpbi_span s, const char **pp, size_t *lenp);
// A str or a bin; *pp points into the frame.
mpb_err mpbi_span_bytes(mpbi_span s, const uint8_t **pp, size_t *lenp);
// An array header: *np = element count, *body = the span after the header
// (the concatenated elements).
mpb_err mpbi_span_array(mpbi_span s, size_t *np, mpbi_span *body);
// Splits the next element off the front of *rest (which must hold
// validated msgpack): *elem gets its span, *rest what follows.
mpb_err mpbi_span_next(mpbi_span *rest, mpbi_span *elem);
bool    mpbi_span_is_nil(mpbi_span s);

// ---------------------------------------------------------------------
// Encoding.  A writer packs msgpack straight into an nng message body.
// Errors are sticky: after the first failure every call is a no-op and
// mpbi_writer_err returns MPB_ENOMEM.

typedef struct mpbi_writer {
	msgpack_packer   pk;
	nng_msg         *msg; // the target: an nng message ...
	msgpack_sbuffer *sb;  // ... or a plain buffer (no nng: usable in a
	                      // forked child)
	bool failed;
} mpbi_writer;

void    mpbi_writer_init(mpbi_writer *w, nng_msg *msg);
void    mpbi_writer_init_buf(mpbi_writer *w, msgpack_sbuffer *sb);
mpb_err mpbi_writer_err(const mpbi_writer *w);
void    mpbi_put_array(mpbi_writer *w, size_t n);
void    mpbi_put_map(mpbi_writer *w, size_t npairs);
void    mpbi_put_uint(mpbi_writer *w, uint64_t v);
void    mpbi_put_int(mpbi_writer *w, int64_t v);
void    mpbi_put_bool(mpbi_writer *w, bool v);
void    mpbi_put_nil(mpbi_writer *w);
void    mpbi_put_str(mpbi_writer *w, const char *p, size_t n);
void    mpbi_put_bin(mpbi_writer *w, const void *p, size_t n);
// Appends bytes that are already one encoded msgpack object (a stored
// value) verbatim.
void mpbi_put_raw(mpbi_writer *w, const void *p, size_t n);

// Request and reply envelopes.  A request with nargs arguments, a success
// reply with nresults results; the caller then puts exactly that many
// elements.  An error reply is complete after mpbi_reply_err.
void mpbi_request_begin(mpbi_writer *w, mpbi_op op, size_t nargs);
void mpbi_reply_ok_begin(mpbi_writer *w, size_t nresults);
void mpbi_reply_err(mpbi_writer *w, mpb_err code, const char *text);

// mpbi_reply_parse checks a reply frame.  On MPB_OK the broker reported
// success and f->elem[1..] are the results.  When the broker reported an
// error, returns that code and, if textp is not NULL, points *textp and
// *textlenp at its message (inside buf).  A frame that is not a
// well-formed reply gives MPB_EPROTO.
mpb_err mpbi_reply_parse(const void *buf, size_t len, unsigned max_depth,
    mpbi_frame *f, const char **textp, size_t *textlenp);

#endif // MPB_PROTO_H
