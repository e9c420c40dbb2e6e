// htab.h -- a hash table from byte-string keys to pointers.
//
// Keys are copied into the table; values are pointers the table never
// frees.  Lookup, insert and delete are O(1) on average.  The table grows
// by doubling and rehashes incrementally (a few buckets per operation, as
// Redis's dict does), so growing a large table never stalls the broker.
// Hashing is SipHash-1-3 with a random key per table (from getrandom()),
// so clients cannot force collisions.
//
// The table grows (doubling) when an insert finds as many keys as buckets,
// and shrinks (to a quarter full or less, by at most 8 times, never below
// 8 buckets) when a remove leaves fewer keys than an eighth of the
// buckets.  A resize is
// incremental: it runs on over many later operations, and a new one does
// not start until it has finished.
//
// Iteration uses a cursor (mpbi_htab_scan, after Redis SCAN).  A scan is
// the calls from one with cursor 0 to the one that returns 0, each passing
// the cursor the previous call returned.  Between calls the table may be
// changed in any way (insert, get, remove, hence grow, shrink, rehash);
// during a call fn must not change it.  For one scan:
//
//   - Every key present for the whole scan (in the table before the first
//     call and not removed before the last call returns) is passed to fn
//     at least once, however the table is resized between calls.
//   - Each such key is passed exactly once unless a shrink started between
//     two calls of the scan.  Only mpbi_htab_remove starts a shrink, so a
//     scan with no removes between its calls returns every key exactly
//     once; growth, and a resize already under way when the scan began,
//     never cause repeats.  After a shrink a key may come twice, never more
//     often than the number of shrinks plus one.
//   - A key inserted or removed during the scan may or may not be passed.
//   - Every scan ends: each call strictly advances the cursor in reversed
//     bit order, so a scan takes at most as many calls as the largest
//     bucket array it sees has buckets.  Any cursor value is safe to pass
//     (e.g. one echoed back by a client); an unknown one just starts the
//     walk at some bucket, without the guarantees above.
//   - The order is unspecified and differs between tables (per-table seed).

#ifndef MPBI_HTAB_H
#define MPBI_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpb_err.h"

typedef struct mpbi_htab mpbi_htab;

// Called by mpbi_htab_scan for each entry; key points into the table.
typedef void (*mpbi_htab_scan_fn)(
    void *arg, const void *key, size_t klen, void *val);

// mpbi_htab_create: MPB_OK and *hp, or MPB_ENOMEM.
mpb_err mpbi_htab_create(mpbi_htab **hp);
// Frees the table and its keys, not the values.  NULL is accepted.
void mpbi_htab_destroy(mpbi_htab *h);

// The value stored for key, or NULL.
void *mpbi_htab_get(mpbi_htab *h, const void *key, size_t klen);
// Inserts key -> val.  MPB_EEXIST if key is present (table unchanged),
// MPB_ENOMEM (table unchanged).
mpb_err mpbi_htab_insert(mpbi_htab *h, const void *key, size_t klen, void *val);
// Removes key and returns its value, or NULL if absent.
void *mpbi_htab_remove(mpbi_htab *h, const void *key, size_t klen);
size_t mpbi_htab_len(const mpbi_htab *h);

// A new array (free() it) of every value, in no particular order, for
// callers that must change the table while they walk it.  MPB_OK with
// *valsp NULL when the table is empty; MPB_ENOMEM.
mpb_err mpbi_htab_values(mpbi_htab *h, void ***valsp, size_t *np);

// Visits some entries starting at cursor and returns the cursor to pass
// next; 0 when the scan is complete (start with 0).  Guarantees: see the
// top of this file.  A call stops once it has passed `count` or more
// entries (count 0 counts as 1), but it finishes the bucket it is in (or,
// while a resize is under way, the bucket and its images in the other
// array), so it may pass a few more; it also stops after looking at about
// 10 * count buckets, so it may pass fewer, even none, and still return a
// non-zero cursor: a pager must go on until the cursor is 0, not until a
// page comes back short.  An empty table returns 0 at once.  fn must not
// change the table.
uint64_t mpbi_htab_scan(mpbi_htab *h, uint64_t cursor, size_t count,
    mpbi_htab_scan_fn fn, void *arg);

#endif // MPBI_HTAB_H
