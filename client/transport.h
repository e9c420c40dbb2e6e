// transport.h -- libmpb's one seam to the wire: the only place that uses
// nng's sockets, dialers, contexts and aios (transport.c).
//
// Two objects:
//
//	mpbi_link  the connection: a req0 socket with one dialer and a pool
//	           of contexts.  mpbi_link_call runs one request to its reply
//	           synchronously.
//	mpbi_xchg  one asynchronous exchange on a link: start(request) ->
//	           send -> receive -> one completion call (error, reply);
//	           restartable after a success, retired after a failure.
//
// Everything above the seam (client.c's call path, async.c's pipelining)
// speaks mpb_err and milliseconds; no NNG_E* status crosses it.  Messages
// do: requests and replies are nng_msg on both sides, because the encoder
// writes each request straight into the message that travels and replies
// are parsed in place, so no frame is copied between the call path and
// the wire.  nng_msg is a plain buffer that needs no socket, so a faster
// local path behind this seam can carry the same messages.
//
// Timeouts are milliseconds as nng counts them (int32; negative:
// forever).  A send waits at most send_ms for a connection to take the
// request (broker down, reconnecting); the receive, started only once the
// send has completed, waits at most recv_ms for the reply.

#ifndef MPB_TRANSPORT_H
#define MPB_TRANSPORT_H

#include <stdint.h>

#include <nng/nng.h>

#include "mpb.h"

typedef struct mpbi_link mpbi_link;
typedef struct mpbi_xchg mpbi_xchg;

// mpbi_link_open opens a link and dials url (tcp://, ipc://, tls+tcp://
// with opts->tls_ca_file / tls_server_name; opts->url is not read)
// synchronously, so that nobody listening fails at once: MPB_ENOBROKER,
// or MPB_EINVAL for a bad URL or TLS setup, MPB_ENOMEM.  A full listen
// backlog is waited out for up to conn_ms.  Once connected, the link
// reconnects by itself; conn_ms also backs up each send's own send_ms.
// Request resends are off: a resent put or get would run twice.  *linkp
// is set only on MPB_OK.
mpb_err mpbi_link_open(const char *url, const mpb_connect_opts *opts,
    int32_t conn_ms, mpbi_link **linkp);

// mpbi_link_close closes the link and every context of it.  No call or
// exchange may be running on it; idle exchanges must be freed first.
void mpbi_link_close(mpbi_link *l);

// mpbi_link_call sends req and waits up to recv_ms for its reply.  Takes
// ownership of req; on MPB_OK *replyp is the reply (the caller's).
// Errors: MPB_ECONNLOST (the send failed: not run; or the connection was
// lost while waiting: outcome unknown), MPB_ENOREPLY (no reply within
// recv_ms: outcome unknown), MPB_ENOMEM.  Threads calling at once wait
// for each other only on the context pool's lock, never behind another
// thread's call.  Blocks: never from a completion function.
mpb_err mpbi_link_call(mpbi_link *l, nng_msg *req, int32_t send_ms,
    int32_t recv_ms, nng_msg **replyp);

// mpbi_link_close_retired closes the contexts that failed exchanges
// retired (mpbi_xchg_retire).  It waits on nng: never from a completion
// function, nor under a lock that one takes.  mpbi_link_call runs it
// first; async submissions run it too.
void mpbi_link_close_retired(mpbi_link *l);

// mpbi_xchg_fn is an exchange's completion function, called exactly once
// per start, on one of nng's task threads -- never inline in
// mpbi_xchg_start or mpbi_xchg_cancel, so their caller may hold a lock
// the function takes.  err is MPB_OK with the reply (the function's to
// free), or, with reply NULL: MPB_ECONNLOST (send failed: not run; lost,
// or cancelled, after the send: outcome unknown), MPB_ENOREPLY,
// MPB_ENOMEM.  The function is the transport's last use of the exchange,
// so it may restart it (after MPB_OK) or retire it (after a failure).
typedef void (*mpbi_xchg_fn)(void *arg, mpb_err err, nng_msg *reply);

// mpbi_xchg_alloc makes an idle exchange on l that completes through
// fn(arg, ...).  It never waits (a context is borrowed from the pool, or
// opened), so it may run under locks and in completion functions.
mpb_err mpbi_xchg_alloc(
    mpbi_link *l, mpbi_xchg_fn fn, void *arg, mpbi_xchg **xp);

// mpbi_xchg_start sends req (taken over) on the idle exchange x.  It
// never waits.  Start and cancel of one exchange must not run at once.
void mpbi_xchg_start(
    mpbi_xchg *x, nng_msg *req, int32_t send_ms, int32_t recv_ms);

// mpbi_xchg_cancel ends a started exchange early: it completes with
// MPB_ECONNLOST, and one whose send has completed never begins its
// receive.  It never waits.
void mpbi_xchg_cancel(mpbi_xchg *x);

// mpbi_xchg_retire frees x after a failed exchange, from its completion
// function or later: its context, on which a late reply could still
// arrive, goes to the link's retired list (never reused; closed by
// mpbi_link_close_retired), and its aio is reaped -- nng frees it once
// the completion function has returned, since an aio cannot be freed
// from its own callback.  It never blocks: at most it waits out another
// callback's brief hold of the exchange's lock.
void mpbi_xchg_retire(mpbi_xchg *x);

// mpbi_xchg_free frees an idle exchange (never started, or completed with
// MPB_OK) and gives its context back to the pool.  It waits for x's
// completion function to return: not from that function.
void mpbi_xchg_free(mpbi_xchg *x);

#endif // MPB_TRANSPORT_H
