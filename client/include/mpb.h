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
// does not hold up the others.  Calls that cannot wait in the broker (a
// timeout of 0, and the calls that never wait), made by several threads
// at once, are pipelined as asynchronous calls are (see "Pipelining"
// below): while one is on its way the others travel together in the next
// frame, each thread still getting its own reply.  They count towards
// mpb_async_set_limit's bound.  A call made while nothing else is in
// flight on the handle goes at once, on its own.
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
// Sessions.  One handle is one broker session: the broker knows which
// session made each request.  The session ends when the handle is closed,
// the process exits or dies (even by SIGKILL), or the connection drops
// (a later call reconnects as a new session).  Then the broker drops the
// session's parked requests and gives back what it held: locks, rlocks,
// semaphore permits, pipe ends (see "Synchronisation objects" below).
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

// mpb_stats asks the broker what it is doing.  On MPB_OK *statsp is a new
// buffer (free with mpb_free) of *lenp bytes holding one msgpack map from
// str keys to values: version (str), protocol, uptime_ms, sessions
// (connected clients), waiting (parked requests and leases with a
// deadline), objects, memory_used and memory_limit (bytes of stored values;
// limit 0 = none), durable (bool), fsync (str, or nil when not durable),
// log_bytes, errors (error replies sent), and ops (a map from op name to
// how many requests of it ran).  Other keys may be added.  Per-object
// kinds and sizes: mpb_object_list.  Errors: MPB_ENOMEM, connection
// errors.
mpb_err mpb_stats(mpb_client *client, void **statsp, size_t *lenp);

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
	uint64_t       leased;     // items out on lease (not in size);
	                           // 0 from queue.list
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

// ---- Acknowledged gets (leases) ----
//
// A leased get hands the item out with a delivery id and a lease of
// lease_ms: the item leaves the queue (qsize no longer counts it;
// mpb_queue_info's `leased` does) but is not gone.  The consumer then
// acks it (gone for good), nacks it (back now), or extends the lease.
// If the lease runs out, or the consumer's session ends (exit, kill -9,
// lost connection) first, the item goes back: to the head of a fifo
// queue, the top of a lifo queue, its own place in a priority queue; and
// the next get receives it with its delivery count one higher.  A
// returned item is admitted even if it briefly makes a bounded queue
// exceed maxsize.  join/task_done are unaffected: an item counts as
// unfinished from its put until task_done, leased or not.  With a durable
// broker, acks and returns are logged like gets, and every item out on
// lease when the broker stops is back in its queue after a restart.

typedef struct mpb_delivery {
	uint64_t id;         // names the lease in ack/nack/extend
	uint32_t deliveries; // 1 the first time the item is handed out
	int64_t  priority;   // as mpb_queue_get's
} mpb_delivery;

// mpb_queue_get_leased is mpb_queue_get with a lease of lease_ms (1 ..
// UINT32_MAX).  On MPB_OK, *deliveryp describes the lease; the value as
// mpb_queue_get (free it with mpb_free).  Errors as mpb_queue_get, and
// MPB_EINVAL for a lease of 0.
mpb_err mpb_queue_get_leased(mpb_client *client, const char *name,
    uint32_t timeout_ms, uint32_t lease_ms, void **valuep, size_t *lenp,
    mpb_delivery *deliveryp);

// mpb_queue_ack: the delivered item is done with and gone for good.
// mpb_queue_nack: it goes back to the queue now.
// mpb_queue_extend: its lease now ends lease_ms from now.
// Only the session (handle) that got the delivery may do these.
// Errors: MPB_ENOTFOUND (no such delivery out: already acked, returned
// or expired -- then another consumer may have it), MPB_ENOTOWNER (made
// to another handle), MPB_ENOENT, MPB_EWRONGTYPE, MPB_EINVAL (lease 0),
// connection errors.
mpb_err mpb_queue_ack(mpb_client *client, const char *name, uint64_t id);
mpb_err mpb_queue_nack(mpb_client *client, const char *name, uint64_t id);
mpb_err mpb_queue_extend(
    mpb_client *client, const char *name, uint64_t id, uint32_t lease_ms);

// mpb_queue_list returns every queue, sorted by name.  On MPB_OK *listp is
// a new array of *countp entries (NULL when 0); free it, names included,
// with mpb_queue_list_free().
mpb_err mpb_queue_list(mpb_client *client, mpb_queue_info **listp, size_t *countp);
void    mpb_queue_list_free(mpb_queue_info *list, size_t count);

// ---------------------------------------------------------------------
// Values in and out of dicts and lists (as of queues): the bytes of
// exactly one encoded msgpack object.  Inputs are read during the call
// only; outputs are new buffers the caller frees (mpb_free, or the
// array's own free function).

// A caller's value, read only during the call.
typedef struct mpb_buf {
	const void *data;
	size_t      len;
} mpb_buf;

// A value returned by the library: data is a new buffer of len bytes, or
// NULL where the entry's doc says so (a key that was not found).
typedef struct mpb_value {
	void  *data;
	size_t len;
} mpb_value;

// mpb_values_free frees an array returned by the library and every
// buffer in it.  NULL is accepted.
void mpb_values_free(mpb_value *values, size_t count);

// ---------------------------------------------------------------------
// Dicts: named maps, as Python's Manager().dict(), with atomic
// read-modify-write done by the broker (incr, compare-and-set, get-and-
// set, get/set many), so the common cases need no lock.
//
// Keys are msgpack integers, strings (str) or binaries (bin); any other
// type is MPB_EINVAL.  Keys compare by value: an integer is the same key
// whatever width it was encoded in (5 as 0x05, 0xcc05 or 0xd005), a str
// whatever its header.  str and bin are distinct (as Python's str and
// bytes), and so are "5" and 5.  Keys come back in one canonical
// encoding: the shortest header, non-negative integers in the unsigned
// formats (as msgpack-c packs them).  Values are any msgpack value,
// stored and returned byte-for-byte.
//
// A dict is created by the first call that writes to it (set, update,
// setdefault, incr, incr_float, cas, getset) or by mpb_dict_create;
// calls that only read or remove need it to exist (MPB_ENOENT).  Delete
// a dict with mpb_object_delete.  Every call may fail with MPB_ENOENT,
// MPB_EWRONGTYPE (the name holds another kind of object),
// MPB_ENAMETOOLONG, MPB_EINVAL (a NULL or empty name, a key or value that
// is not one msgpack object, a key of another type), MPB_ENOMEM,
// MPB_ELIMIT (creating it would exceed the broker's object limit) and
// the connection errors above.  Only the others are listed below.  A
// call that fails changes nothing.  Each key operation is O(1) on
// average, whatever the dict's size.

// mpb_dict_create creates the dict name if it does not exist; *createdp
// (if not NULL) tells whether this call created it.
mpb_err mpb_dict_create(mpb_client *client, const char *name, bool *createdp);

// mpb_dict_set sets key to value (d[key] = value).
mpb_err mpb_dict_set(mpb_client *client, const char *name, const void *key,
    size_t klen, const void *value, size_t vlen);

// mpb_dict_get returns d[key] in *valuep (free with mpb_free) and *lenp.
// Errors: MPB_ENOTFOUND (no such key).
mpb_err mpb_dict_get(mpb_client *client, const char *name, const void *key,
    size_t klen, void **valuep, size_t *lenp);

// mpb_dict_get_default is mpb_dict_get that answers a copy of def (which
// must be one msgpack object) instead of MPB_ENOTFOUND; d.get(key, def).
mpb_err mpb_dict_get_default(mpb_client *client, const char *name,
    const void *key, size_t klen, const void *def, size_t deflen,
    void **valuep, size_t *lenp);

// mpb_dict_del removes key (del d[key]).  Errors: MPB_ENOTFOUND.
mpb_err mpb_dict_del(mpb_client *client, const char *name, const void *key,
    size_t klen);

// mpb_dict_contains sets *foundp to whether key is in the dict.
mpb_err mpb_dict_contains(mpb_client *client, const char *name,
    const void *key, size_t klen, bool *foundp);

// mpb_dict_len sets *lenp to the number of keys.
mpb_err mpb_dict_len(mpb_client *client, const char *name, uint64_t *lenp);

// mpb_dict_pop removes key and returns its value (d.pop(key)).  Errors:
// MPB_ENOTFOUND.  For d.pop(key, default) map MPB_ENOTFOUND yourself.
mpb_err mpb_dict_pop(mpb_client *client, const char *name, const void *key,
    size_t klen, void **valuep, size_t *lenp);

// mpb_dict_popitem removes some entry and returns its key (canonical) and
// value, both to free with mpb_free.  Which entry is unspecified (unlike
// Python's LIFO order): the broker walks its table, so popping every
// entry costs O(1) amortised each.  Errors: MPB_ENOTFOUND (empty dict).
mpb_err mpb_dict_popitem(mpb_client *client, const char *name, void **keyp,
    size_t *klenp, void **valuep, size_t *vlenp);

// mpb_dict_setdefault sets key to value unless present, and returns the
// value the key now holds in *valuep/*lenp (if valuep is not NULL; free
// it) and whether this call inserted it in *insertedp (if not NULL).
mpb_err mpb_dict_setdefault(mpb_client *client, const char *name,
    const void *key, size_t klen, const void *value, size_t vlen,
    void **valuep, size_t *lenp, bool *insertedp);

// mpb_dict_update sets keys[i] to values[i] for i < count, atomically:
// other clients see none or all of them, and a bad key or value (or the
// broker running out of memory) applies none.  A key given twice gets
// the later value, as dict.update.  The request must fit one frame.
mpb_err mpb_dict_update(mpb_client *client, const char *name,
    const mpb_buf *keys, const mpb_buf *values, size_t count);

// mpb_dict_get_many returns the values of keys[0..count) in one round
// trip, as one consistent snapshot: (*valuesp)[i].data is NULL when
// keys[i] is absent.  Free the array with mpb_values_free.  Errors:
// MPB_EMSGSIZE (the values would not fit in one reply frame).
mpb_err mpb_dict_get_many(mpb_client *client, const char *name,
    const mpb_buf *keys, size_t count, mpb_value **valuesp);

// mpb_dict_clear removes every key.
mpb_err mpb_dict_clear(mpb_client *client, const char *name);

// mpb_dict_incr adds delta to the integer at key, atomically, and sets
// *newp (if not NULL) to the result; a missing key counts as 0.  The
// result is stored as a msgpack integer in its canonical encoding.
// Errors: MPB_EVALUE (the value is not an integer), MPB_EOVERFLOW (the
// value or the result is outside int64; the value is left unchanged).
mpb_err mpb_dict_incr(mpb_client *client, const char *name, const void *key,
    size_t klen, int64_t delta, int64_t *newp);

// mpb_dict_incr_str is mpb_dict_incr with a NUL-terminated string key.
mpb_err mpb_dict_incr_str(mpb_client *client, const char *name,
    const char *key, int64_t delta, int64_t *newp);

// mpb_dict_incr_float adds delta (finite) to the number at key and sets
// *newp (if not NULL) to the result; a missing key counts as 0.0.  The
// value may be an integer or a float; the result is always stored as a
// float 64 (so incr_float on an integer turns it into a float).  Errors:
// MPB_EVALUE (not a number), MPB_EOVERFLOW (the result is not finite),
// MPB_EINVAL (delta not finite).
mpb_err mpb_dict_incr_float(mpb_client *client, const char *name,
    const void *key, size_t klen, double delta, double *newp);

// mpb_dict_cas sets key to value only if it currently holds expected
// (expected NULL: only if the key is absent), atomically, and sets
// *swappedp to whether it did.  "Holds" compares like list values:
// integers and strings by value (5 == 0xcc05), anything else by its
// exact bytes (so a float 32 never equals a float 64, and maps compare
// in their encoded key order).  Of many clients racing with the same
// expected value exactly one swaps.
mpb_err mpb_dict_cas(mpb_client *client, const char *name, const void *key,
    size_t klen, const void *expected, size_t elen, const void *value,
    size_t vlen, bool *swappedp);

// mpb_dict_getset sets key to value and returns the value it held: on
// MPB_OK *foundp tells whether there was one, and if so *oldp (free it)
// and *oldlenp hold it (left unchanged otherwise).
mpb_err mpb_dict_getset(mpb_client *client, const char *name,
    const void *key, size_t klen, const void *value, size_t vlen,
    void **oldp, size_t *oldlenp, bool *foundp);

// What a page of mpb_dict_scan carries.
typedef enum mpb_dict_what {
	MPB_DICT_KEYS   = 0,
	MPB_DICT_VALUES = 1,
	MPB_DICT_ITEMS  = 2, // key, value, key, value, ...
} mpb_dict_what;

// mpb_dict_scan reads a dict in pages (keys(), values(), items()).  Start
// with cursor 0 and pass each returned *nextp as the next cursor until it
// is 0.  Each page holds at most about count entries (0 counts as 1;
// the broker caps it at 65536) and always fits the broker's frame limit
// (a single entry larger than a frame comes alone).  A page may be short
// or even empty before the end: stop on *nextp == 0, not on a short page.
// On MPB_OK *valuesp is a new array of *countp values (NULL when 0; free
// with mpb_values_free); for MPB_DICT_ITEMS it alternates key, value.
//
// Guarantee: every key present for the whole scan is returned at least
// once, however the dict grows or shrinks in between; if the dict is not
// changed between the calls of a scan, every key comes exactly once.
// Removing keys between calls may make a key come twice (the table
// shrank); keys added or removed during the scan may or may not come.
// The order is unspecified.  Each page costs the broker O(count).
mpb_err mpb_dict_scan(mpb_client *client, const char *name, uint64_t cursor,
    size_t count, mpb_dict_what what, mpb_value **valuesp, size_t *countp,
    uint64_t *nextp);

// ---------------------------------------------------------------------
// Lists: named lists, as Python's Manager().list().
//
// Values are any msgpack value, stored and returned byte-for-byte.
// Indexes follow Python: negative ones count from the end (-1 is the
// last).  get, set, del and pop on an index outside the list fail with
// MPB_EINDEX (Python's IndexError); insert and slice bounds clamp to the
// list, as in Python.  remove, index and count compare values as
// mpb_dict_cas does (integers and strings by value, else exact bytes).
//
// A list is created by the first append, extend or insert, or by
// mpb_list_create; other calls need it to exist (MPB_ENOENT).  Delete it
// with mpb_object_delete.  The common errors are those of dicts above.
// append and pop at the end are O(1), get and set O(1), insert and
// del/pop in the middle O(min(i, n - i)); remove, index, count, reverse
// O(n), as in Python.

// Pass as stop to mean "to the end" (Python's None).
#define MPB_LIST_END INT64_MAX

// mpb_list_create creates the list name if it does not exist; *createdp
// (if not NULL) tells whether this call created it.
mpb_err mpb_list_create(mpb_client *client, const char *name, bool *createdp);

// mpb_list_append adds value at the end.
mpb_err mpb_list_append(mpb_client *client, const char *name,
    const void *value, size_t len);

// mpb_list_extend appends values[0..count) atomically (all or none).
mpb_err mpb_list_extend(mpb_client *client, const char *name,
    const mpb_buf *values, size_t count);

// mpb_list_insert inserts value before index (clamped, as list.insert).
mpb_err mpb_list_insert(mpb_client *client, const char *name,
    int64_t index, const void *value, size_t len);

// mpb_list_get returns l[index] in *valuep (free it) and *lenp.  Errors:
// MPB_EINDEX.
mpb_err mpb_list_get(mpb_client *client, const char *name, int64_t index,
    void **valuep, size_t *lenp);

// mpb_list_set sets l[index] = value.  Errors: MPB_EINDEX.
mpb_err mpb_list_set(mpb_client *client, const char *name, int64_t index,
    const void *value, size_t len);

// mpb_list_del removes l[index].  Errors: MPB_EINDEX.
mpb_err mpb_list_del(mpb_client *client, const char *name, int64_t index);

// mpb_list_pop removes l[index] and returns it (index -1: the last, as
// l.pop()).  Errors: MPB_EINDEX (also for an empty list).
mpb_err mpb_list_pop(mpb_client *client, const char *name, int64_t index,
    void **valuep, size_t *lenp);

// mpb_list_remove removes the first element equal to value.  Errors:
// MPB_ENOTFOUND (no such element; Python's ValueError).
mpb_err mpb_list_remove(mpb_client *client, const char *name,
    const void *value, size_t len);

// mpb_list_index sets *indexp to the first position in l[start:stop]
// (slice bounds: negative from the end, clamped; MPB_LIST_END for no
// stop) holding value, counted from the start of the list.  Errors:
// MPB_ENOTFOUND.
mpb_err mpb_list_index(mpb_client *client, const char *name,
    const void *value, size_t len, int64_t start, int64_t stop,
    uint64_t *indexp);

// mpb_list_count sets *countp to the number of elements equal to value.
mpb_err mpb_list_count(mpb_client *client, const char *name,
    const void *value, size_t len, uint64_t *countp);

// mpb_list_len sets *lenp to the number of elements.
mpb_err mpb_list_len(mpb_client *client, const char *name, uint64_t *lenp);

// mpb_list_slice reads l[start:stop] (Python's bounds; MPB_LIST_END for
// no stop) in pages: at most max values (0 counts as 1; the broker caps
// it at 65536) and what fits the broker's frame limit.  On MPB_OK
// *valuesp is a new array of *countp values (NULL when 0; free with
// mpb_values_free) and *nextp is the start of the rest, to pass as start
// with the same stop, or -1 when the slice is complete.  A list changed
// between pages shifts what the next page sees, as indexes do.
mpb_err mpb_list_slice(mpb_client *client, const char *name, int64_t start,
    int64_t stop, size_t max, mpb_value **valuesp, size_t *countp,
    int64_t *nextp);

// mpb_list_reverse reverses the list in place.
mpb_err mpb_list_reverse(mpb_client *client, const char *name);

// mpb_list_clear removes every element.
mpb_err mpb_list_clear(mpb_client *client, const char *name);

// ---------------------------------------------------------------------
// Synchronisation objects: locks, rlocks, semaphores, events, conditions,
// barriers and pipes, served by name as Python's SyncManager serves
// Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier and
// multiprocessing.Pipe.  They share the one namespace of named objects.
//
// Creation.  Each kind has a create call taking its parameters (*createdp,
// when not NULL, tells whether this call created it).  Locks, rlocks,
// semaphores (at 1, unbounded), events (clear) and pipes are also created
// on first use by any other call; conditions and barriers must be
// created.  Opening an existing name with other parameters fails with
// MPB_EEXIST, and as another kind with MPB_EWRONGTYPE (a lock is not an
// rlock).  mpb_object_delete deletes any of them; parked calls on it fail
// with MPB_EDELETED.
//
// Owners.  A lock or rlock is held by a thread of a session: this handle
// plus the calling thread's id (gettid()), which the library sends with
// every lock, rlock and condition call.  Another thread, or the same
// thread through another handle, is another owner.  Semaphore permits and
// pipe ends belong to the handle (its session).
//
// Cleanup.  When the session ends -- mpb_close, the process exiting or
// being killed (SIGKILL included), or the connection dropping -- the
// broker drops its parked calls, releases every lock and rlock it holds
// (whatever an rlock's count), returns the semaphore permits it acquired
// and did not release itself, closes its pipe ends, and breaks barriers
// it was waiting on; the next waiter proceeds at once.  A process that
// hangs instead of dying is not detected: use a lease
// (mpb_lock_acquire_lease).
//
// Waiting.  Blocking calls take timeout_ms as queue calls do (0: do not
// wait).  Waiters are served in arrival order.  Unless said otherwise a
// call that waits in vain fails with MPB_ETIMEDOUT.
//
// Every call may also fail with MPB_EINVAL (NULL handle or name, empty
// name), MPB_ENAMETOOLONG, MPB_ELIMIT (objects or parked calls),
// MPB_ENOMEM, MPB_ECLOSED and the connection errors; they are not
// repeated below.  Errors specific to a call are listed with it.

// mpb_lock_create / mpb_rlock_create open the lock or rlock name,
// creating it unlocked.  Errors: MPB_EWRONGTYPE (the name holds another
// kind, an rlock for mpb_lock_create, a lock for mpb_rlock_create).
mpb_err mpb_lock_create(mpb_client *client, const char *name, bool *createdp);
mpb_err mpb_rlock_create(mpb_client *client, const char *name, bool *createdp);

// mpb_lock_acquire takes the lock, waiting up to timeout_ms while another
// owner holds it (0: do not wait).  Errors: MPB_EBUSY (held and
// timeout_ms is 0), MPB_ETIMEDOUT, MPB_ESTATE (the calling thread already
// holds it: a plain lock is not re-entrant, and waiting would only time
// out), MPB_EWRONGTYPE, MPB_EDELETED.
mpb_err mpb_lock_acquire(mpb_client *client, const char *name, uint32_t timeout_ms);

// mpb_lock_acquire_lease is mpb_lock_acquire with a lease: if the caller
// has not released the lock lease_ms after it got it, the broker releases
// it and the next waiter gets it; the caller's release then fails with
// MPB_ENOTOWNER.  lease_ms 0 means no lease.  For holders that may hang
// rather than die.
mpb_err mpb_lock_acquire_lease(mpb_client *client, const char *name,
    uint32_t timeout_ms, uint32_t lease_ms);

// mpb_lock_release releases the lock held by the calling thread through
// this handle.  Errors: MPB_ENOTOWNER (the caller does not hold it: never
// took it, released it already, another thread or handle holds it, or its
// lease expired), MPB_ENOENT, MPB_EWRONGTYPE.
mpb_err mpb_lock_release(mpb_client *client, const char *name);

// mpb_lock_locked sets *lockedp to whether any owner holds the lock.
// Errors: MPB_EWRONGTYPE.
mpb_err mpb_lock_locked(mpb_client *client, const char *name, bool *lockedp);

// mpb_rlock_acquire takes the rlock, or, when the calling thread of this
// handle holds it already, adds one to its count at once.  Errors as
// mpb_lock_acquire, without MPB_ESTATE.
mpb_err mpb_rlock_acquire(mpb_client *client, const char *name, uint32_t timeout_ms);

// mpb_rlock_release takes one from the count; at 0 the rlock is free and
// the next waiter gets it.  Errors: MPB_ENOTOWNER (not held by the
// calling thread of this handle), MPB_ENOENT, MPB_EWRONGTYPE.
mpb_err mpb_rlock_release(mpb_client *client, const char *name);

// mpb_rlock_locked sets *lockedp to whether any owner holds the rlock.
mpb_err mpb_rlock_locked(mpb_client *client, const char *name, bool *lockedp);

// mpb_sem_create opens the semaphore name with initial value `value`;
// a bounded one (BoundedSemaphore) refuses releases above that value.
// Errors: MPB_EEXIST (exists with another value or boundedness),
// MPB_EWRONGTYPE.
mpb_err mpb_sem_create(mpb_client *client, const char *name, uint64_t value,
    bool bounded, bool *createdp);

// mpb_sem_acquire takes one permit, waiting up to timeout_ms while the
// value is 0.  Errors: MPB_EBUSY (0 and timeout_ms is 0), MPB_ETIMEDOUT,
// MPB_EWRONGTYPE, MPB_EDELETED.
mpb_err mpb_sem_acquire(mpb_client *client, const char *name, uint32_t timeout_ms);

// mpb_sem_acquire_detached is mpb_sem_acquire for a permit that does not
// belong to this handle: it is not returned when the session ends (it is
// given back only by a release).  For permits meant to outlive the
// process, as `mpb sem acquire` takes.  Errors as mpb_sem_acquire.
mpb_err mpb_sem_acquire_detached(mpb_client *client, const char *name,
    uint32_t timeout_ms);

// mpb_sem_release adds n permits (n >= 1), waking up to n waiters.  Any
// handle may release.  For cleanup, permits this handle acquired count as
// its own until it releases them; a release from a handle with none of
// its own (signalling) counts against nobody.  Errors: MPB_ESTATE (a
// bounded semaphore would go above its initial value; nothing changes),
// MPB_EINVAL (n is 0, or the value would overflow), MPB_EWRONGTYPE.
mpb_err mpb_sem_release(mpb_client *client, const char *name, uint64_t n);

// mpb_sem_value sets *valuep to the current value.  mpb_object_list
// reports it as the size; kind "semaphore" or "bounded".
mpb_err mpb_sem_value(mpb_client *client, const char *name, uint64_t *valuep);

// mpb_event_create opens the event name, creating it clear.
mpb_err mpb_event_create(mpb_client *client, const char *name, bool *createdp);
// mpb_event_set sets the event and wakes every waiter; mpb_event_clear
// clears it; mpb_event_is_set reads it (size 1 or 0 in mpb_object_list).
// Errors: MPB_EWRONGTYPE.
mpb_err mpb_event_set(mpb_client *client, const char *name);
mpb_err mpb_event_clear(mpb_client *client, const char *name);
mpb_err mpb_event_is_set(mpb_client *client, const char *name, bool *setp);

// mpb_event_wait waits up to timeout_ms for the event to be set.  On
// MPB_OK *setp (when not NULL) is true if it was set, false if the timeout
// passed first (not an error, as in Python).  Errors: MPB_EWRONGTYPE,
// MPB_EDELETED.
mpb_err mpb_event_wait(mpb_client *client, const char *name,
    uint32_t timeout_ms, bool *setp);

// mpb_cond_create opens the condition name bound to the lock or rlock
// called lock, which is created (a plain lock) if it does not exist.
// Errors: MPB_EEXIST (bound to another lock), MPB_EWRONGTYPE (name, or
// lock, holds another kind), MPB_EINVAL (lock NULL or empty).
mpb_err mpb_cond_create(mpb_client *client, const char *name,
    const char *lock, bool *createdp);

// mpb_cond_wait releases the condition's lock, which the calling thread
// must hold (an rlock entirely, whatever its count), waits up to
// timeout_ms for a notify, then re-acquires the lock (with the rlock's
// count) before it returns.  On MPB_OK the caller holds the lock again
// and *notifiedp (when not NULL) is true if it was notified, false if the
// timeout passed.  Re-acquiring may itself take up to timeout_ms more; if
// the lock is not free by then the call fails with MPB_ETIMEDOUT and the
// caller does NOT hold the lock.  timeout_ms 0 returns false at once
// without releasing the lock.  Errors: MPB_ENOTOWNER (the caller does not
// hold the lock), MPB_ENOENT (no such condition, or its lock was
// deleted), MPB_ETIMEDOUT (see above), MPB_EDELETED.
mpb_err mpb_cond_wait(mpb_client *client, const char *name,
    uint32_t timeout_ms, bool *notifiedp);

// mpb_cond_notify wakes up to n of the condition's waiters, oldest first
// (they return once they get the lock, which the caller holds);
// mpb_cond_notify_all wakes them all.  *wokenp (when not NULL) is how many
// were woken.  Errors: MPB_ENOTOWNER (the caller does not hold the lock),
// MPB_ENOENT.
mpb_err mpb_cond_notify(mpb_client *client, const char *name, uint64_t n,
    uint64_t *wokenp);
mpb_err mpb_cond_notify_all(mpb_client *client, const char *name, uint64_t *wokenp);

// mpb_barrier_create opens the barrier name for `parties` parties (>= 1).
// Errors: MPB_EEXIST (another number of parties), MPB_EINVAL (0).
mpb_err mpb_barrier_create(mpb_client *client, const char *name,
    uint64_t parties, bool *createdp);

// mpb_barrier_wait waits until `parties` calls are waiting, then all
// return together.  *indexp (when not NULL) is the arrival index in the
// round: 0 for the first, parties-1 for the last (unique per round, as in
// Python).  The barrier then starts a new round.  Errors: MPB_EBROKEN
// (the barrier is broken: aborted, reset while waiting, a waiter's
// timeout passed -- which breaks it for every waiter, this one included,
// as in Python -- or a waiting party's session ended; it stays broken
// until mpb_barrier_reset), MPB_ENOENT, MPB_EDELETED.  mpb_object_list
// reports the number waiting as the size.
mpb_err mpb_barrier_wait(mpb_client *client, const char *name,
    uint32_t timeout_ms, uint64_t *indexp);

// mpb_barrier_abort breaks the barrier: waiters fail with MPB_EBROKEN, and
// so does every wait until a reset.  mpb_barrier_reset fails the current
// waiters with MPB_EBROKEN and makes the barrier usable again.
mpb_err mpb_barrier_abort(mpb_client *client, const char *name);
mpb_err mpb_barrier_reset(mpb_client *client, const char *name);

// Pipes: a named duplex channel with two ends, 0 and 1, as
// multiprocessing.Pipe().  Each end is opened by one handle; what one end
// sends, the other receives, in order, as msgpack values byte-for-byte.
// Messages wait at the receiving end without a bound (the broker's memory
// is the limit).  When an end is closed (mpb_pipe_close, or its handle's
// session ends), what was sent to it is dropped, and the other end
// receives what was sent to it before and then gets MPB_EEOF.  A closed
// end never reopens: delete the pipe to reuse its name.
// mpb_object_list reports the messages waiting, both ways, as the size.

// mpb_pipe_open claims end (0 or 1) for this handle, creating the pipe if
// needed; opening an end this handle has open is a no-op.  Errors:
// MPB_EBUSY (another handle has it), MPB_ESTATE (it was closed),
// MPB_EINVAL (end > 1), MPB_EWRONGTYPE.
mpb_err mpb_pipe_open(mpb_client *client, const char *name, unsigned end);

// mpb_pipe_send sends one msgpack value (as mpb_queue_put) from end to
// the other end.  The library does not keep value.  Errors: MPB_EEOF (the
// other end is closed), MPB_ENOTOWNER (end is not open in this handle),
// MPB_EINVAL (not one msgpack object), MPB_EMSGSIZE, MPB_ENOENT.
mpb_err mpb_pipe_send(mpb_client *client, const char *name, unsigned end,
    const void *value, size_t len);

// mpb_pipe_recv receives the next message sent to end, waiting up to
// timeout_ms.  On MPB_OK *valuep is a new buffer (free with mpb_free) of
// *lenp bytes.  Errors: MPB_EEOF (nothing left and the other end is
// closed), MPB_EEMPTY (nothing and timeout_ms is 0), MPB_ETIMEDOUT,
// MPB_ENOTOWNER, MPB_ENOENT, MPB_EDELETED.
mpb_err mpb_pipe_recv(mpb_client *client, const char *name, unsigned end,
    uint32_t timeout_ms, void **valuep, size_t *lenp);

// mpb_pipe_poll waits up to timeout_ms until a recv on end would not wait
// (a message, or the end of file).  *readyp (when not NULL) tells which
// happened; a timeout is not an error.  Errors: MPB_ENOTOWNER,
// MPB_ENOENT, MPB_EDELETED.
mpb_err mpb_pipe_poll(mpb_client *client, const char *name, unsigned end,
    uint32_t timeout_ms, bool *readyp);

// mpb_pipe_close closes end; parked calls on it fail with MPB_EEOF.
// Errors: MPB_ENOTOWNER, MPB_ENOENT.
mpb_err mpb_pipe_close(mpb_client *client, const char *name, unsigned end);

// ---------------------------------------------------------------------
// Batches: many operations in one request and one reply.  Every request
// costs a round trip through nng that dwarfs the broker's own work, so
// a batch of N operations is close to N times cheaper than N calls.
//
// Build a batch with the mpb_batch_<op> calls (each adds one operation;
// nothing is sent), send it with mpb_batch_run, then read each
// operation's result by its index (0 for the first added).
//
// What a batch guarantees:
//   - Operations run in the order added, each exactly as the single call
//     would, with its own checks and its own status: one that fails
//     (MPB_ENOENT, MPB_EEMPTY, ...) does not stop the others.
//   - Isolated: no other client's request runs between them.
//   - Not atomic: a failing operation undoes nothing before it.
//   - Nothing waits: a get of an empty queue is MPB_EEMPTY at once (a
//     batch has no timeouts; each operation runs as with timeout 0).
//   - With a durable broker, the batch's changes are on disk (as its
//     --fsync policy says) before mpb_batch_run returns.
//   - At most 4096 operations (adding more is MPB_EMSGSIZE), in a
//     request of at most the broker's --max-frame (4 MiB by default;
//     MPB_EMSGSIZE from mpb_batch_run, nothing run).  Once the reply
//     being built exceeds --max-frame (large gets), the operations left
//     are not run and have the status MPB_EMSGSIZE: run them again in
//     another batch.
//
// Operations offered: queue put and get, dict set, get and incr, list
// append and pop.  An mpb_batch is used by one thread at a time; it is
// independent of any client handle and can be run on several.

typedef struct mpb_batch mpb_batch;

// mpb_batch_new returns an empty batch, or NULL when out of memory.
mpb_batch *mpb_batch_new(void);
// mpb_batch_free frees batch and its results.  NULL is accepted.
void mpb_batch_free(mpb_batch *batch);
// mpb_batch_clear removes every operation and result, to build anew.
void mpb_batch_clear(mpb_batch *batch);
// mpb_batch_len is the number of operations added.
size_t mpb_batch_len(const mpb_batch *batch);

// Adding an operation checks what the single call checks before sending
// (a NULL or empty name, a value or key that is not one msgpack object:
// MPB_EINVAL); an operation that fails to be added is not in the batch.
// Errors besides: MPB_EMSGSIZE (4096 operations already), MPB_ENOMEM.
//
// queue.put of value with priority (as mpb_queue_put with timeout 0).
mpb_err mpb_batch_queue_put(mpb_batch *batch, const char *name,
    const void *value, size_t len, int64_t priority);
// queue.get (as mpb_queue_get with timeout 0): mpb_batch_value.
mpb_err mpb_batch_queue_get(mpb_batch *batch, const char *name);
// dict.set key to value.
mpb_err mpb_batch_dict_set(mpb_batch *batch, const char *name,
    const void *key, size_t klen, const void *value, size_t vlen);
// dict.get of key: mpb_batch_value.
mpb_err mpb_batch_dict_get(mpb_batch *batch, const char *name,
    const void *key, size_t klen);
// dict.incr of key by delta: the new value by mpb_batch_int.
mpb_err mpb_batch_dict_incr(mpb_batch *batch, const char *name,
    const void *key, size_t klen, int64_t delta);
// list.append of value.
mpb_err mpb_batch_list_append(mpb_batch *batch, const char *name,
    const void *value, size_t len);
// list.pop at index (-1: the last): mpb_batch_value.
mpb_err mpb_batch_list_pop(mpb_batch *batch, const char *name, int64_t index);

// mpb_batch_run sends every operation of batch in one request and waits
// for the reply.  MPB_OK when the broker ran the batch: each operation
// then has its own status.  Otherwise the batch's error, which is also
// every operation's status: MPB_EMSGSIZE (nothing ran), the connection
// errors (MPB_ECONNLOST, MPB_ENOREPLY: outcome unknown, any prefix of
// the batch may have run), MPB_ENOMEM, MPB_EINVAL.  The operations stay
// in the batch, so it can be run again; the results of a run last until
// the next run, mpb_batch_clear or mpb_batch_free.
mpb_err mpb_batch_run(mpb_client *client, mpb_batch *batch);

// mpb_batch_status is the status of operation i in the last run (what
// the single call would have returned); MPB_EINVAL when there is no
// operation i or the batch has not run.
mpb_err mpb_batch_status(const mpb_batch *batch, size_t i);
// mpb_batch_value points *valuep/*lenp at the value operation i got (a
// get or a pop), inside the batch: valid until the next run, clear or
// free; copy it to keep it.  Returns the operation's status when that is
// an error, and MPB_EINVAL when the operation has no value (a put).
mpb_err mpb_batch_value(const mpb_batch *batch, size_t i,
    const void **valuep, size_t *lenp);
// mpb_batch_int reads the integer result of operation i (an incr, or a
// get whose value is an integer) into *vp.  Errors as mpb_batch_value;
// MPB_EVALUE when the result is not an integer.
mpb_err mpb_batch_int(const mpb_batch *batch, size_t i, int64_t *vp);

// ---------------------------------------------------------------------
// Asynchronous calls: submit now, get the outcome in a callback, with
// many requests in flight on one handle (as Pool.apply_async with
// callback=).  A synchronous call spends a whole round trip of thread
// hand-offs waiting; async calls overlap them, so one thread can keep
// hundreds of requests going.
//
// Each mpb_async_<op> checks and writes its request exactly as its
// synchronous twin does, sends it and returns.  MPB_OK means it was
// accepted: its done function will then be called exactly once, with the
// outcome -- the error the synchronous call would have returned
// (MPB_ENOENT, MPB_ETIMEDOUT, ...; MPB_ECONNLOST or MPB_ENOREPLY when the
// outcome is unknown; MPB_EPROTO).  Any other return means it was not
// sent and done will not be called: the argument checks (MPB_EINVAL, also
// for a NULL done), MPB_EFORK, MPB_ENOMEM, MPB_ELIMIT (see the limit
// below), MPB_ECONNLOST (the handle is being closed).  Arguments are read
// during the call only.  The broker's timeouts are the synchronous
// twin's: a get waits up to timeout_ms in the broker, and the library
// gives up timeout_ms + MPB_REPLY_MARGIN_MS after the send.
//
// Order.  Calls in flight together are independent requests: the broker
// may run them, and callbacks may arrive, in any order.  Submit a call
// from the previous one's callback when order matters.
//
// The done function is called on one of nng's threads, a few of which
// carry every handle's traffic, so:
//   - it must not block (no sleeping, no waiting on locks held long);
//   - it must not make synchronous libmpb calls (they fail with
//     MPB_ESTATE), mpb_connect (MPB_ESTATE), mpb_async_wait (MPB_ESTATE)
//     or mpb_close;
//   - it may submit async calls (at the limit these fail with
//     MPB_ELIMIT there instead of waiting), and read
//     mpb_last_error_text(), which in the callback is the broker's text
//     for err (or "" when err is not from the broker);
//   - value/len are the op's main result (below), valid only until the
//     callback returns: copy what you keep.  NULL, 0 when err is not
//     MPB_OK or the op has no result.
// Callbacks of different calls may run at the same time on different
// threads: protect what they share.
typedef void (*mpb_done_fn)(void *arg, mpb_err err, const void *value, size_t len);

// The default bound on a handle's async calls in flight (submitted, done
// not yet returned): each holds an nng context, its request and, in the
// broker, possibly a parked request.
#define MPB_ASYNC_MAX_INFLIGHT 1024

// mpb_async_set_limit sets that bound (>= 1; else MPB_EINVAL).  A
// submission at the bound waits until a call completes; from a callback
// it fails with MPB_ELIMIT instead.  The wait is bounded by the calls in
// flight: each completes within its own timeouts.
mpb_err mpb_async_set_limit(mpb_client *client, size_t max_inflight);

// Pipelining.  Calls that can never wait in the broker -- a queue get or
// put with timeout_ms 0, and the dict calls -- are coalesced: while a
// frame of such calls is on its way, further ones wait in the handle
// and the next frame carries all of them (up to the bound below, and up
// to the broker's frame limit) as one batch request (PROTOCOL.md 4.13).
// One round trip then serves many calls, as Redis pipelining does; each
// call still gets its own outcome in its own callback, and a handle that
// is idle sends a call at once.  The calls of one frame run in the order
// they were submitted, as one isolated run in the broker.  A call with a
// timeout above 0 always travels alone (it may wait in the broker).
#define MPB_ASYNC_COALESCE 256

// mpb_async_set_coalesce bounds the calls one frame may carry (1 to 4096,
// the broker's most requests in a batch; else MPB_EINVAL).  1 sends every
// call in a frame of its own.  Default MPB_ASYNC_COALESCE.
mpb_err mpb_async_set_coalesce(mpb_client *client, size_t max_per_frame);

// queue.put: no result.  As mpb_queue_put.
mpb_err mpb_async_queue_put(mpb_client *client, const char *name,
    const void *value, size_t len, int64_t priority, uint32_t timeout_ms,
    mpb_done_fn done, void *arg);
// queue.get: the item's msgpack bytes (its priority is not reported).
// As mpb_queue_get.
mpb_err mpb_async_queue_get(mpb_client *client, const char *name,
    uint32_t timeout_ms, mpb_done_fn done, void *arg);
// dict.set: no result.  As mpb_dict_set.
mpb_err mpb_async_dict_set(mpb_client *client, const char *name,
    const void *key, size_t klen, const void *value, size_t vlen,
    mpb_done_fn done, void *arg);
// dict.get: the value.  As mpb_dict_get (MPB_ENOTFOUND: no such key).
mpb_err mpb_async_dict_get(mpb_client *client, const char *name,
    const void *key, size_t klen, mpb_done_fn done, void *arg);
// dict.incr: the new value as its msgpack encoding (an integer; decode
// it with any msgpack library).  As mpb_dict_incr.
mpb_err mpb_async_dict_incr(mpb_client *client, const char *name,
    const void *key, size_t klen, int64_t delta, mpb_done_fn done,
    void *arg);

// mpb_async_wait waits until every async call on client has completed
// (its done function has returned), at most timeout_ms (negative: no
// bound -- every call completes within its own timeouts; 0: just look).
// Calls submitted meanwhile, by other threads or callbacks, are waited
// for too.  Errors: MPB_ETIMEDOUT (calls still in flight), MPB_ESTATE
// (called from a callback), MPB_EINVAL, MPB_EFORK.
mpb_err mpb_async_wait(mpb_client *client, int timeout_ms);

// mpb_close with async calls in flight: calls not yet sent, and calls
// that may be waiting in the broker (a timeout above 0), fail at once --
// their callbacks get MPB_ECONNLOST (outcome unknown, as for a lost
// connection); calls that cannot wait are answered by the broker at once,
// and mpb_close lets them finish with their real outcome (bounded by the
// connect timeout if the connection is lost) so that the connection is
// quiet when it is closed.  mpb_close returns once every callback has
// returned.  fork: a forked child's calls fail with MPB_EFORK, as
// synchronous ones; the parent's calls in flight are not the child's and
// never call back in it.

#ifdef __cplusplus
}
#endif

#endif // MPB_H
