// mpb.h -- the client library of mpbroker (libmpb).
//
// A program connects to a running mpbroker with mpb_connect() and gets an
// mpb_client handle: one connection, one broker session.  Every call
// returns an mpb_err (0 = MPB_OK); results go to out-parameters, which are
// written only on success.  A NULL handle, name or required out-parameter
// gives MPB_EINVAL.  Any call that talks to the broker may also fail with
// MPB_EPROTO when the reply cannot be read (a broker that does not speak
// this library's protocol).
//
// Threads.  One handle may be used by several threads at once: each call
// runs on its own nng context, so a thread blocked in mpb_queue_get()
// does not hold up the others.
//
// Timeouts.  Every call that can wait takes timeout_ms: 0 means "do not
// wait" (the call fails with MPB_EEMPTY / MPB_EFULL at once), a positive
// value is the longest the broker may park the request before it answers
// MPB_ETIMEDOUT.  The broker's clock decides; the library also stops
// waiting timeout_ms + MPB_REPLY_MARGIN_MS after sending (at most 2^31-1
// ms, about 24 days), and then fails with MPB_ENOREPLY, so a hung or dead
// broker never hangs the caller.  Calls that never wait (ping, create,
// info, task_done, delete, list) wait for their answer as long as the
// connect timeout given to mpb_connect(), and so does every call for the
// connection to be up before it sends (else MPB_ECONNLOST).
//
// Outcome unknown.  MPB_ECONNLOST and MPB_ENOREPLY mean the request may or
// may not have been applied (a put may have been stored).  The library
// never resends a request on its own; the next call reconnects.
//
// fork.  nng, underneath, aborts the process when it is used in a child
// forked after the parent used it.  libmpb detects this and every call
// from such a child returns MPB_EFORK instead.  Start workers either by
// forking before the parent first calls mpb_connect(), or by exec'ing
// worker programs (posix_spawn), each of which connects on its own.
//
// Values.  Queue items are msgpack values: the bytes of exactly one
// encoded msgpack object (pack them with msgpack-c or any other msgpack
// library).  The broker stores and returns them byte-for-byte.
//
// Memory.  Buffers that the library returns (values, lists) are allocated
// by it; free them with mpb_free() / mpb_queue_list_free().  The library
// never keeps pointers to caller memory after a call returns.

#ifndef MPB_H
#define MPB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpb_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MPB_VERSION_MAJOR 0
#define MPB_VERSION_MINOR 1
#define MPB_VERSION_PATCH 0
#define MPB_VERSION_STRING "0.1.0"

// The address used when neither the caller nor MPB_URL names one.
#define MPB_DEFAULT_URL "ipc:///tmp/mpbroker.ipc"

// How long past an operation's own timeout the library waits for the
// broker's answer before giving up with MPB_ENOREPLY.
#define MPB_REPLY_MARGIN_MS 5000

// The connect timeout used when 0 is passed to mpb_connect().
#define MPB_DEFAULT_CONNECT_TIMEOUT_MS 5000

typedef struct mpb_client mpb_client;

// ---------------------------------------------------------------------
// Connection

// mpb_connect connects to the broker at url (NULL: the environment
// variable MPB_URL if set and not empty, else MPB_DEFAULT_URL) and checks
// that it answers a ping within connect_timeout_ms (0:
// MPB_DEFAULT_CONNECT_TIMEOUT_MS).  URLs are nng URLs: ipc:///path,
// tcp://host:port.  The connection itself is opened synchronously, so an
// address nobody listens on fails at once; over tcp:// to a host that
// does not answer at all, that first attempt can take as long as the
// system's TCP connect timeout.  If the connection drops later, it is
// re-established in the background; calls made while it is down fail
// (MPB_ECONNLOST / MPB_ENOREPLY) rather than hang.
//
// Errors: MPB_EINVAL (url is not a valid URL, or names a host that does
// not resolve; connect_timeout_ms negative), MPB_ENOBROKER (nobody
// listens there, or no ping answer in time), MPB_ENOTSUP (the broker
// speaks another protocol version), MPB_EFORK (this process is a fork of
// one that already used libmpb), MPB_ENOMEM.
// On MPB_OK *clientp is a new handle the caller must mpb_close().
mpb_err mpb_connect(const char *url, int connect_timeout_ms, mpb_client **clientp);

// Everything mpb_connect_ex can be told; zero-initialise it and set what
// you need.  Strings are only read during the call.
typedef struct mpb_connect_opts {
	const char *url;                // NULL: $MPB_URL, else MPB_DEFAULT_URL
	int         connect_timeout_ms; // 0: MPB_DEFAULT_CONNECT_TIMEOUT_MS
	// A file holding the broker's shared secret (its bytes, less one
	// trailing newline).  NULL: $MPB_AUTH_FILE if set, else none.  With
	// a secret the handle authenticates at connect, and again by itself
	// whenever the connection is re-established.
	const char *auth_file;
	// For tls+tcp:// URLs: the CA certificate file (PEM) that must have
	// signed the broker's certificate (NULL: $MPB_TLS_CA; required --
	// there is no unverified TLS), and the name the certificate must
	// carry (NULL: the URL's host).
	const char *tls_ca_file;
	const char *tls_server_name;
} mpb_connect_opts;

// mpb_connect_ex is mpb_connect with every option.  Errors as
// mpb_connect, and: MPB_EINVAL (the auth file cannot be read or is empty;
// a tls+tcp:// URL without a CA file), MPB_EAUTH (the broker refused the
// secret, or could not prove it knows it), MPB_ENOBROKER (also: the TLS
// handshake failed, e.g. a certificate not signed by the CA).
mpb_err mpb_connect_ex(const mpb_connect_opts *opts, mpb_client **clientp);

// mpb_close closes the connection and frees the handle.  No other thread
// may be using the handle.  The broker ends the session: its parked
// requests are dropped.  NULL is accepted.  In a forked child (see fork
// above) it only frees the handle's own memory: the nng objects under it
// cannot be touched there and are leaked, which is harmless in a child
// that goes on to exec or exit; the parent's connection is not affected.
void mpb_close(mpb_client *client);

// mpb_ping asks the broker to answer.  On MPB_OK, if versionp is not NULL,
// *versionp is the broker's wire protocol version.
mpb_err mpb_ping(mpb_client *client, uint32_t *versionp);

// mpb_last_error_text returns the message that came with the last error
// reply the broker sent to this thread ("no object 'jobs'"), or "" when
// the last error did not come from the broker.  The text lives in
// thread-local storage until this thread's next call; do not free it.
// Texts longer than 511 bytes are cut (at a UTF-8 character boundary).
const char *mpb_last_error_text(void);

// mpb_free frees a buffer returned by libmpb.  NULL is accepted.
void mpb_free(void *ptr);

// ---------------------------------------------------------------------
// Objects of every kind.  One namespace holds all named objects (queues,
// dicts, lists, locks, ...); a name holds one kind of object at a time.

// What mpb_object_list reports of one object.  Strings are owned by the
// list.
typedef struct mpb_object_info {
	char    *name;
	char    *class_name; // "queue", "dict", "list", "lock", ...
	char    *kind;       // within the class: "fifo", "rlock", ...; else
	                     // the class name again
	uint64_t size;       // items (queue), keys (dict), elements (list);
	                     // for sync objects see each kind's section
} mpb_object_info;

// mpb_object_list returns every named object sorted by name.  On MPB_OK
// *listp is a new array of *countp entries (NULL when 0); free it with
// mpb_object_list_free().  Errors: MPB_ENOMEM, connection errors.
mpb_err mpb_object_list(mpb_client *client, mpb_object_info **listp, size_t *countp);
void    mpb_object_list_free(mpb_object_info *list, size_t count);

// mpb_object_delete deletes the object called name, whatever its kind,
// and what it holds; requests parked on it fail with MPB_EDELETED.
// Errors: MPB_ENOENT, connection errors.
mpb_err mpb_object_delete(mpb_client *client, const char *name);

// ---------------------------------------------------------------------
// Queues: named FIFO, LIFO and priority queues, as Python's queue.Queue,
// queue.LifoQueue and queue.PriorityQueue.

typedef enum mpb_queue_kind {
	MPB_QUEUE_FIFO     = 0, // first in, first out
	MPB_QUEUE_LIFO     = 1, // last in, first out
	MPB_QUEUE_PRIORITY = 2, // lowest priority number first; FIFO on ties
} mpb_queue_kind;

// Longest queue name, in bytes, that a broker accepts with default limits.
#define MPB_MAX_NAME_LEN 255

// mpb_queue_create opens the queue name, creating it if it does not exist.
// maxsize 0 means unbounded.  On MPB_OK, if createdp is not NULL, *createdp
// tells whether this call created it.
// Errors: MPB_EEXIST (a queue of that name exists with another kind or
// maxsize), MPB_EWRONGTYPE (the name holds an object that is not a
// queue), MPB_ENAMETOOLONG, MPB_EINVAL (empty name, bad kind),
// MPB_ELIMIT (the broker holds its maximum number of objects).
mpb_err mpb_queue_create(mpb_client *client, const char *name,
    mpb_queue_kind kind, uint64_t maxsize, bool *createdp);

// mpb_queue_put appends one item: value[0..len) must be exactly one
// encoded msgpack object, nested at most 31 containers deep (the broker
// may allow less, 15 by default), of at most the broker's frame limit
// less a few dozen bytes of envelope.  priority orders a priority queue (lowest
// first, equal ones in put order; any int64) and is ignored by the other
// kinds.  If a bounded queue is full, the call waits up to timeout_ms for
// room.  The library does not keep value.
// Errors: MPB_ENOENT (no such queue), MPB_EWRONGTYPE, MPB_EFULL (full and
// timeout_ms is 0), MPB_ETIMEDOUT, MPB_EDELETED (the queue was deleted
// while the call waited), MPB_EINVAL (value is not one msgpack object),
// MPB_EMSGSIZE, MPB_ECLOSED, and the connection errors above.
mpb_err mpb_queue_put(mpb_client *client, const char *name,
    const void *value, size_t len, int64_t priority, uint32_t timeout_ms);

// mpb_queue_get removes and returns the next item, waiting up to
// timeout_ms for one.  Waiting getters are served in arrival order, and a
// get that times out never takes an item.  On MPB_OK *valuep is a new
// buffer holding the item's msgpack bytes (free it with mpb_free), *lenp
// its length, and, if priorityp is not NULL, *priorityp its priority (0
// for fifo and lifo).
// Errors: MPB_ENOENT, MPB_EWRONGTYPE, MPB_EEMPTY (empty and timeout_ms is
// 0), MPB_ETIMEDOUT, MPB_EDELETED, MPB_ECLOSED, connection errors.
mpb_err mpb_queue_get(mpb_client *client, const char *name,
    uint32_t timeout_ms, void **valuep, size_t *lenp, int64_t *priorityp);

// What mpb_queue_info and mpb_queue_list report of one queue.
typedef struct mpb_queue_info {
	char          *name;       // owned by the list (NULL from info)
	mpb_queue_kind kind;
	uint64_t       size;       // items in the queue now (qsize)
	uint64_t       maxsize;    // 0 = unbounded
	uint64_t       unfinished; // items put and not yet task_done
} mpb_queue_info;

// mpb_queue_info fills *infop (name left NULL).  Errors: MPB_ENOENT,
// MPB_EWRONGTYPE, connection errors.
mpb_err mpb_queue_info_get(
    mpb_client *client, const char *name, mpb_queue_info *infop);

// qsize, empty and full, as in Python.  Each is one round trip; the answer
// may be stale by the time the caller reads it.  Errors as
// mpb_queue_info_get.
mpb_err mpb_queue_qsize(mpb_client *client, const char *name, uint64_t *sizep);
mpb_err mpb_queue_empty(mpb_client *client, const char *name, bool *emptyp);
mpb_err mpb_queue_full(mpb_client *client, const char *name, bool *fullp);

// mpb_queue_task_done marks one item got earlier as processed (Python's
// Queue.task_done).  Errors: MPB_ESTATE (called more times than items
// were put), MPB_ENOENT, MPB_EWRONGTYPE, connection errors.
mpb_err mpb_queue_task_done(mpb_client *client, const char *name);

// mpb_queue_join waits up to timeout_ms until every item ever put has
// been marked done (Python's Queue.join).  Errors: MPB_ETIMEDOUT
// (timeout_ms 0 and work outstanding gives MPB_ETIMEDOUT at once),
// MPB_EDELETED, MPB_ENOENT, MPB_EWRONGTYPE, connection errors.
mpb_err mpb_queue_join(mpb_client *client, const char *name, uint32_t timeout_ms);

// mpb_queue_delete deletes the queue and its items.  Requests parked on it
// (gets, puts, joins) fail with MPB_EDELETED.  Errors: MPB_ENOENT,
// MPB_EWRONGTYPE, connection errors.
mpb_err mpb_queue_delete(mpb_client *client, const char *name);

// mpb_queue_list returns every queue, sorted by name.  On MPB_OK *listp is
// a new array of *countp entries (NULL when 0); free it, names included,
// with mpb_queue_list_free().
mpb_err mpb_queue_list(mpb_client *client, mpb_queue_info **listp, size_t *countp);
void    mpb_queue_list_free(mpb_queue_info *list, size_t count);

#ifdef __cplusplus
}
#endif

#endif // MPB_H
