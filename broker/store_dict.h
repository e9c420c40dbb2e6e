// store_dict.h -- storage of dicts, and the value rules dicts and lists
// share (key and value equality, numbers, reply pages).
//
// A dict maps canonical keys to stored values (mpbi_item, the client's
// msgpack bytes, byte-for-byte).  Keys are msgpack integers, strings or
// binaries compared by value: each is rewritten to one canonical encoding
// (the shortest msgpack header; non-negative integers as positive fixint
// / uint 8-64, negative ones as negative fixint / int 8-64), so 5 sent as
// 0x05, 0xcc05 or 0xd005 is one key.  str and bin stay distinct types, as
// Python's str and bytes; "5" and 5 are different keys.  Keys come back in
// their canonical encoding.
//
// Storage is an mpbi_htab (O(1) average per key, incremental rehash, a
// SCAN cursor for pages).  Each key's value is held through a small slot,
// so replacing a value swaps a pointer and can never fail half-way.
//
// API: mpbi_val_norm / _fini (canonical form), mpbi_val_equal, and the
// dict store: mpbi_dict_init / _fini, _get, _put, _insert_new, _remove,
// _clear, _len, _scan_page, _any, _each; mpbi_page_* bound what one reply
// may carry.

#ifndef MPBI_STORE_DICT_H
#define MPBI_STORE_DICT_H

#include "core.h"

// ---------------------------------------------------------------------
// Canonical values

// A value in canonical form.  v_ptr/v_len are the canonical bytes: the
// original span when it already was canonical (or is not a scalar that
// has one), else v_buf (integers) or v_own (a re-headed str/bin).
typedef struct mpbi_val {
	const uint8_t *v_ptr;
	size_t         v_len;
	uint8_t       *v_own; // malloc'ed copy, or NULL
	uint8_t        v_buf[9];
} mpbi_val;

// mpbi_val_norm: the canonical form of s (validated msgpack).  With
// key_only, anything but an integer, str or bin is MPB_EINVAL; otherwise
// other types are kept as they are.  MPB_ENOMEM.  Call mpbi_val_fini on
// MPB_OK.  v must not be copied (v_ptr may point into it).
mpb_err mpbi_val_norm(mpbi_span s, bool key_only, mpbi_val *v);
void    mpbi_val_fini(mpbi_val *v);

// mpbi_val_equal: whether two encoded values are equal under the rule of
// lists and compare-and-set: canonical bytes equal (integers and strings
// by value, anything else byte-for-byte).
bool mpbi_val_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

// A number read from a stored value or an argument.
typedef struct mpbi_num {
	bool    n_float; // a float 32/64 (n_dbl), else an integer (n_int)
	int64_t n_int;
	double  n_dbl;
} mpbi_num;

// mpbi_num_read: MPB_OK when s is an integer in int64 (MPB_EOVERFLOW for
// one above INT64_MAX), or, with floats, a float 32 or 64; else
// MPB_EVALUE.
mpb_err mpbi_num_read(mpbi_span s, bool floats, mpbi_num *np);
// The canonical encoding of v into buf (at least 9 bytes); its length.
size_t mpbi_int_encode(int64_t v, uint8_t *buf);
// A float 64 encoding of v into buf (9 bytes).
void mpbi_float_encode(double v, uint8_t buf[9]);

// ---------------------------------------------------------------------
// Pages: how much a reply of entries may carry so that it stays within
// the broker's frame limit.

typedef struct mpbi_page {
	size_t pg_room;  // bytes left for entries
	size_t pg_full;  // pg_room at the start
	size_t pg_count; // entries (or values) in the page so far
	size_t pg_max;   // entries wanted
} mpbi_page;

// Room for a reply to r: the frame limit less the envelope; max entries
// wanted (0: 1).
void mpbi_page_init(mpbi_page *pg, const mpbi_req *r, uint64_t max);
// Takes n entries of bytes in all if they fit, or if the page is empty
// (an entry too big for any page still goes, alone).  false: page full.
bool mpbi_page_take(mpbi_page *pg, size_t n, size_t bytes);
bool mpbi_page_full(const mpbi_page *pg);
// Starts r's success reply with n results, with room reserved for the
// page's bytes: nng 1.5.2 grows a message by exactly what each append
// needs, so a page of many small entries would otherwise copy O(n^2)
// bytes (seconds for 65536 entries).
void mpbi_page_reply(mpbi_req *r, const mpbi_page *pg, size_t nresults);

// ---------------------------------------------------------------------
// Dicts

// What a dict keeps per key.  The caller of mpbi_dict_get may swap
// ds_item (freeing the old one).
typedef struct mpbi_dslot {
	mpbi_item *ds_item;
} mpbi_dslot;

typedef struct mpbi_dict {
	mpbi_obj   d_obj; // first: a dict is an object
	mpbi_htab *d_tab; // canonical key -> mpbi_dslot *
	// Where popitem looks next: the cursor of a scan that walks the
	// table over many popitems, so draining a dict visits each bucket
	// about once rather than rescanning emptied ones each time.
	uint64_t d_popcursor;
} mpbi_dict;

// MPB_OK or MPB_ENOMEM.
mpb_err mpbi_dict_init(mpbi_dict *d);
// Frees every key and value.
void mpbi_dict_fini(mpbi_dict *d);
size_t mpbi_dict_len(const mpbi_dict *d);

// The slot of key k, or NULL.
mpbi_dslot *mpbi_dict_get(mpbi_dict *d, const mpbi_val *k);
// Sets k to it: the dict owns it on MPB_OK (an old value is freed);
// MPB_ENOMEM leaves the dict unchanged and it the caller's.
mpb_err mpbi_dict_put(mpbi_dict *d, const mpbi_val *k, mpbi_item *it);
// Inserts k, which must be absent, holding it.  As mpbi_dict_put.
mpb_err mpbi_dict_insert_new(mpbi_dict *d, const mpbi_val *k, mpbi_item *it);
// Removes k and returns its value (the caller's now), or NULL if absent.
mpbi_item *mpbi_dict_remove(mpbi_dict *d, const void *key, size_t klen);
void       mpbi_dict_clear(mpbi_dict *d);

// One entry of a page; key points into the dict and is valid until the
// dict is next changed.
typedef struct mpbi_dentry {
	const uint8_t *de_key;
	size_t         de_klen;
	mpbi_item     *de_item;
} mpbi_dentry;

// What a page carries of each entry.
typedef enum mpbi_dscan_what {
	MPBI_DSCAN_KEYS   = 0,
	MPBI_DSCAN_VALUES = 1,
	MPBI_DSCAN_ITEMS  = 2,
} mpbi_dscan_what;

// mpbi_dict_scan_page: one page of a scan (htab.h's guarantees) from
// cursor, as many whole buckets as fit pg.  On MPB_OK *entp is a new
// array of *np entries (NULL when 0; free it) and *nextp the cursor to
// pass next (0: the scan is complete).  MPB_ENOMEM.
mpb_err mpbi_dict_scan_page(mpbi_dict *d, uint64_t cursor,
    mpbi_dscan_what what, mpbi_page *pg, mpbi_dentry **entp, size_t *np,
    uint64_t *nextp);

// Some entry, or false when empty (popitem).  Advances d_popcursor.
bool mpbi_dict_any(mpbi_dict *d, mpbi_dentry *ep);

// Calls fn for every entry, exactly once each, in no particular order,
// until fn returns an error, which is returned (else MPB_OK).  fn must
// not change the dict.  For log rewrites (durable.h).
typedef mpb_err (*mpbi_dict_each_fn)(
    void *arg, const uint8_t *key, size_t klen, const mpbi_item *it);
mpb_err mpbi_dict_each(const mpbi_dict *d, mpbi_dict_each_fn fn, void *arg);

#endif // MPBI_STORE_DICT_H
