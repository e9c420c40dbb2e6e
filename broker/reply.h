// reply.h -- the one place the broker builds reply frames.
//
// A handler answers exactly once: mpbi_reply_error(), or mpbi_reply_ok()
// with the number of results followed by that many mpbi_reply_<type>()
// calls.  An allocation failure on the way is sticky and turns the whole
// reply into MPB_ENOMEM when it is finished (mpbi_reply_take).

#ifndef MPBI_REPLY_H
#define MPBI_REPLY_H

#include "core.h"

// Starts a success reply with n results into rep (rp_msg is allocated).
void mpbi_reply_begin(mpbi_reply *rep, size_t nresults);
// A complete error reply; text is printf-formatted and cut at 200 bytes.
void mpbi_reply_errorv(mpbi_reply *rep, mpb_err code, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));
void mpbi_reply_errorf(mpbi_reply *rep, mpb_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void mpbi_reply_uint(mpbi_reply *rep, uint64_t v);
void mpbi_reply_int(mpbi_reply *rep, int64_t v);
void mpbi_reply_bool(mpbi_reply *rep, bool v);
void mpbi_reply_nil(mpbi_reply *rep);
void mpbi_reply_str(mpbi_reply *rep, const char *p, size_t n);
void mpbi_reply_bin(mpbi_reply *rep, const void *p, size_t n);
void mpbi_reply_array(mpbi_reply *rep, size_t n);
void mpbi_reply_map(mpbi_reply *rep, size_t npairs);
// Bytes that are already one encoded msgpack object (a value), verbatim.
void mpbi_reply_raw(mpbi_reply *rep, const void *p, size_t n);

// true when rep holds an error reply.
bool mpbi_reply_is_error(const mpbi_reply *rep);

// Finishes rep and returns its message (NULL if none could be
// allocated).  Ownership passes to the caller.
nng_msg *mpbi_reply_take(mpbi_reply *rep);

// Reuse of reply messages (replies need no allocation in steady state).
// mpbi_reply_move turns reply into the reply to req: when req's message
// has the room, reply's bytes are copied into it (no allocation: nng
// keeps a received message's capacity) and reply's message is kept for
// the next reply; otherwise req is freed and reply is returned.  Both
// are consumed; the result is what to send.  The request's bytes are
// gone afterwards, so call it only once the request has been handled.
nng_msg *mpbi_reply_move(nng_msg *reply, nng_msg *req);
// Keeps msg (consumed) for a later reply, or frees it when the cache is
// full or msg is large.
void mpbi_reply_recycle(nng_msg *msg);
// Frees the kept messages (mpbi_broker_destroy).
void mpbi_reply_cache_free(void);

// Shorthands on the request being handled.
void mpbi_req_ok(mpbi_req *r, size_t nresults);
void mpbi_req_error(mpbi_req *r, mpb_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif // MPBI_REPLY_H
