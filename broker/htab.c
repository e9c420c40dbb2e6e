// htab.c -- chained hash table with incremental rehash (see htab.h).
//
// Two bucket arrays, as in Redis's dict: h_t[0] holds everything while the
// table is stable.  A resize allocates h_t[1]; then every insert, get and
// remove moves a few buckets of h_t[0] to h_t[1].  h_rehash is the next
// bucket of h_t[0] to move.  When all are moved, h_t[1] takes the place
// of h_t[0].  A new resize never starts while one is under way, so there
// are at most two arrays.
//
// Sizes are powers of two and bucket = hash & (size - 1), so bucket i of
// h_t[0] goes only to buckets of h_t[1] that agree with i on the bits of
// the smaller mask.  Hence, while rehashing, with r = h_rehash:
//
//   - a key lives in h_t[1] if its h_t[0] bucket is below r, else in
//     h_t[0] (inserts follow the same rule), so a lookup reads one chain;
//   - buckets of h_t[0] below r are empty;
//   - bucket b of h_t[1] is initialised only once b & (smaller mask) < r.
//     h_t[1] is malloc'd, not calloc'd, and each bucket is zeroed when the
//     rehash first reaches it: calloc must zero reused memory in one go
//     (about 1 ms per 32 MiB here, so tens of ms for a table of a hundred
//     million keys), the kind of stall the incremental rehash avoids.
//
// mpbi_htab_scan reads buckets through htab_bucket, which honours the
// last point; its cursor relies on the bucket mapping (see above it).
//
// Each entry is one allocation holding the key bytes, and caches the full
// hash, so a rehash never rehashes a key and most mismatches are decided
// without a memcmp.  The hash is SipHash-1-3 (Aumasson and Bernstein; the
// variant Rust's HashMap and CPython use) keyed per table from getrandom().

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "htab.h"

#define HTAB_MIN_SIZE 8 // buckets, once the table has any
// Non-empty buckets moved per operation while rehashing.  Growth starts at
// load 1, so an array of S buckets is drained within S / HTAB_STEP
// operations, long before the new array (2S buckets) is full in turn.
#define HTAB_STEP 4
// Empty buckets skipped per bucket we wanted to move, so one operation on
// a sparse array does bounded work.
#define HTAB_EMPTY_VISITS 10
// Shrink when fewer keys than buckets / HTAB_SHRINK_RATIO.
#define HTAB_SHRINK_RATIO 8

#define HTAB_SIP_CROUNDS 1
#define HTAB_SIP_DROUNDS 3

typedef struct htab_entry {
	struct htab_entry *e_next;
	uint64_t           e_hash;
	void              *e_val;
	size_t             e_klen;
	unsigned char      e_key[];
} htab_entry;

typedef struct htab_table {
	htab_entry **t_buckets; // t_size heads, or NULL when t_size is 0
	size_t       t_size;    // 0 or a power of two
	size_t       t_used;    // entries in this array
} htab_table;

struct mpbi_htab {
	htab_table h_t[2];
	size_t     h_rehash; // next bucket of h_t[0] to move, or HTAB_IDLE
	uint64_t   h_k0;     // SipHash key
	uint64_t   h_k1;
};

#define HTAB_IDLE SIZE_MAX

// ---- SipHash-1-3 ----------------------------------------------------

static inline uint64_t
htab_rotl(uint64_t x, unsigned b)
{
	return ((x << b) | (x >> (64 - b)));
}

static inline void
htab_sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = htab_rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = htab_rotl(v[0], 32);
	v[2] += v[3];
	v[3] = htab_rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = htab_rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = htab_rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = htab_rotl(v[2], 32);
}

// Little-endian whatever the host is, so hashes (and thus scan order for
// a given seed) do not depend on the machine.
static inline uint64_t
htab_load64(const unsigned char *p)
{
	return ((uint64_t) p[0] | (uint64_t) p[1] << 8 |
	    (uint64_t) p[2] << 16 | (uint64_t) p[3] << 24 |
	    (uint64_t) p[4] << 32 | (uint64_t) p[5] << 40 |
	    (uint64_t) p[6] << 48 | (uint64_t) p[7] << 56);
}

// Indexes rather than advances pointers: key may be NULL when len is 0,
// and even NULL + 0 is undefined.
static uint64_t
htab_siphash(uint64_t k0, uint64_t k1, const unsigned char *in, size_t len)
{
	uint64_t v[4];
	uint64_t b    = (uint64_t) len << 56;
	size_t   full = len - (len % 8);
	size_t   i;
	int      r;

	v[0] = k0 ^ 0x736f6d6570736575ULL;
	v[1] = k1 ^ 0x646f72616e646f6dULL;
	v[2] = k0 ^ 0x6c7967656e657261ULL;
	v[3] = k1 ^ 0x7465646279746573ULL;

	for (i = 0; i < full; i += 8) {
		uint64_t m = htab_load64(&in[i]);
		v[3] ^= m;
		for (r = 0; r < HTAB_SIP_CROUNDS; r++) {
			htab_sipround(v);
		}
		v[0] ^= m;
	}
	for (i = 0; i < len % 8; i++) {
		b |= (uint64_t) in[full + i] << (8 * i);
	}
	v[3] ^= b;
	for (r = 0; r < HTAB_SIP_CROUNDS; r++) {
		htab_sipround(v);
	}
	v[0] ^= b;
	v[2] ^= 0xff;
	for (r = 0; r < HTAB_SIP_DROUNDS; r++) {
		htab_sipround(v);
	}
	return (v[0] ^ v[1] ^ v[2] ^ v[3]);
}

static uint64_t
htab_hash(const mpbi_htab *h, const void *key, size_t klen)
{
	return (htab_siphash(h->h_k0, h->h_k1, key, klen));
}

static uint64_t
htab_mix64(uint64_t x)
{
	// splitmix64's finaliser: spreads every input bit over the output.
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (x);
}

static void
htab_seed(mpbi_htab *h)
{
	unsigned char   k[16];
	size_t          got = 0;
	struct timespec ts;

	while (got < sizeof(k)) {
		ssize_t n = getrandom(k + got, sizeof(k) - got, 0);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			break;
		}
		got += (size_t) n;
	}
	if (got == sizeof(k)) {
		h->h_k0 = htab_load64(k);
		h->h_k1 = htab_load64(k + 8);
		return;
	}
	// No getrandom (ENOSYS under an old kernel or a seccomp filter).
	// Still differ per table and per process; weaker, but better than
	// a fixed key, and create cannot report this.
	(void) clock_gettime(CLOCK_REALTIME, &ts);
	h->h_k0 = htab_mix64((uint64_t) ts.tv_sec * 1000000000ULL +
	    (uint64_t) ts.tv_nsec);
	h->h_k1 = htab_mix64(h->h_k0 ^ (uint64_t) (uintptr_t) h ^
	    ((uint64_t) getpid() << 32));
}

// ---- table ----------------------------------------------------------

static inline bool
htab_rehashing(const mpbi_htab *h)
{
	return (h->h_rehash != HTAB_IDLE);
}

static inline bool
htab_match(const htab_entry *e, uint64_t hv, const void *key, size_t klen)
{
	return (e->e_hash == hv && e->e_klen == klen &&
	    (klen == 0 || memcmp(e->e_key, key, klen) == 0));
}

// The smaller of the two masks while rehashing.
static inline size_t
htab_small_mask(const mpbi_htab *h)
{
	size_t s0 = h->h_t[0].t_size, s1 = h->h_t[1].t_size;

	return ((s0 < s1 ? s0 : s1) - 1);
}

// Head of bucket b of h_t[t], reading a bucket of h_t[1] that the rehash
// has not reached (not yet initialised) as empty.
static inline htab_entry *
htab_bucket(const mpbi_htab *h, int t, size_t b)
{
	if (t == 1 && (b & htab_small_mask(h)) >= h->h_rehash) {
		return (NULL);
	}
	return (h->h_t[t].t_buckets[b]);
}

// The chain where a key with hash hv is, or goes; and its array.  The
// table must have buckets.
static htab_entry **
htab_chain(mpbi_htab *h, uint64_t hv, htab_table **tp)
{
	htab_table *t = &h->h_t[0];

	if (htab_rehashing(h) &&
	    ((size_t) hv & (t->t_size - 1)) < h->h_rehash) {
		t = &h->h_t[1];
	}
	*tp = t;
	return (&t->t_buckets[(size_t) hv & (t->t_size - 1)]);
}

mpb_err
mpbi_htab_create(mpbi_htab **hp)
{
	mpbi_htab *h;

	// Buckets come with the first insert: many tables stay empty.
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		return (MPB_ENOMEM);
	}
	h->h_rehash = HTAB_IDLE;
	htab_seed(h);
	*hp = h;
	return (MPB_OK);
}

void
mpbi_htab_destroy(mpbi_htab *h)
{
	if (h == NULL) {
		return;
	}
	for (int t = 0; t < 2; t++) {
		for (size_t b = 0; b < h->h_t[t].t_size; b++) {
			htab_entry *e = htab_bucket(h, t, b);
			while (e != NULL) {
				htab_entry *next = e->e_next;
				free(e);
				e = next;
			}
		}
		free(h->h_t[t].t_buckets);
	}
	free(h);
}

// Moves up to n non-empty buckets of h_t[0] to h_t[1], looking at no more
// than n * HTAB_EMPTY_VISITS buckets; finishes the resize when all are
// moved.
static void
htab_rehash(mpbi_htab *h, size_t n)
{
	htab_table *t0     = &h->h_t[0];
	htab_table *t1     = &h->h_t[1];
	size_t      m1     = t1->t_size - 1;
	size_t      visits = n * HTAB_EMPTY_VISITS;

	while (n > 0 && visits > 0 && h->h_rehash < t0->t_size) {
		size_t      i = h->h_rehash;
		htab_entry *e = t0->t_buckets[i];

		// Initialise the buckets of h_t[1] whose first source is
		// bucket i: its images when growing, bucket i itself when
		// shrinking (the others of h_t[0] that fold onto it come
		// later).
		if (t1->t_size > t0->t_size) {
			for (size_t b = i; b < t1->t_size; b += t0->t_size) {
				t1->t_buckets[b] = NULL;
			}
		} else if (i < t1->t_size) {
			t1->t_buckets[i] = NULL;
		}
		visits--;
		if (e != NULL) {
			n--;
		}
		while (e != NULL) {
			htab_entry *next = e->e_next;
			size_t      b    = (size_t) e->e_hash & m1;
			e->e_next        = t1->t_buckets[b];
			t1->t_buckets[b] = e;
			t0->t_used--;
			t1->t_used++;
			e = next;
		}
		t0->t_buckets[i] = NULL;
		h->h_rehash++;
	}
	if (h->h_rehash == t0->t_size) {
		free(t0->t_buckets);
		*t0           = *t1;
		t1->t_buckets = NULL;
		t1->t_size    = 0;
		t1->t_used    = 0;
		h->h_rehash   = HTAB_IDLE;
	}
}

static void
htab_step(mpbi_htab *h)
{
	if (htab_rehashing(h)) {
		htab_rehash(h, HTAB_STEP);
	}
}

// Starts moving everything to an array of size buckets.  On ENOMEM the
// table just stays as it is: a chained table works at any load.
static mpb_err
htab_resize(mpbi_htab *h, size_t size)
{
	htab_entry **b;

	if (size > SIZE_MAX / sizeof(*b)) {
		return (MPB_ENOMEM);
	}
	// No calloc: htab_rehash initialises the buckets as it goes.
	if ((b = malloc(size * sizeof(*b))) == NULL) {
		return (MPB_ENOMEM);
	}
	h->h_t[1].t_buckets = b;
	h->h_t[1].t_size    = size;
	h->h_t[1].t_used    = 0;
	h->h_rehash         = 0;
	return (MPB_OK);
}

// Finds key; returns the link that points at its entry (so remove can
// unlink it) and the array it is in, or NULL.
static htab_entry **
htab_find(mpbi_htab *h, uint64_t hv, const void *key, size_t klen,
    htab_table **tp)
{
	htab_entry **lp;

	if (h->h_t[0].t_size == 0) {
		return (NULL);
	}
	for (lp = htab_chain(h, hv, tp); *lp != NULL; lp = &(*lp)->e_next) {
		if (htab_match(*lp, hv, key, klen)) {
			return (lp);
		}
	}
	return (NULL);
}

void *
mpbi_htab_get(mpbi_htab *h, const void *key, size_t klen)
{
	htab_entry **lp;
	htab_table  *t;

	htab_step(h);
	lp = htab_find(h, htab_hash(h, key, klen), key, klen, &t);
	return (lp == NULL ? NULL : (*lp)->e_val);
}

mpb_err
mpbi_htab_insert(mpbi_htab *h, const void *key, size_t klen, void *val)
{
	htab_table  *tab;
	htab_entry  *e;
	htab_entry **lp;
	uint64_t     hv;

	htab_step(h);
	hv = htab_hash(h, key, klen);
	if (htab_find(h, hv, key, klen, &tab) != NULL) {
		return (MPB_EEXIST);
	}
	if (klen > SIZE_MAX - sizeof(*e)) {
		return (MPB_ENOMEM);
	}
	if ((e = malloc(sizeof(*e) + klen)) == NULL) {
		return (MPB_ENOMEM);
	}
	tab = &h->h_t[0];
	if (tab->t_size == 0) {
		htab_entry **bk;
		if ((bk = calloc(HTAB_MIN_SIZE, sizeof(*bk))) == NULL) {
			free(e);
			return (MPB_ENOMEM);
		}
		tab->t_buckets = bk;
		tab->t_size    = HTAB_MIN_SIZE;
	} else if (!htab_rehashing(h) && tab->t_used >= tab->t_size &&
	    tab->t_size <= SIZE_MAX / 2) {
		// Failure leaves longer chains, not a failed insert.
		(void) htab_resize(h, tab->t_size * 2);
	}
	e->e_hash = hv;
	e->e_val  = val;
	e->e_klen = klen;
	if (klen > 0) {
		memcpy(e->e_key, key, klen);
	}
	lp        = htab_chain(h, hv, &tab);
	e->e_next = *lp;
	*lp       = e;
	tab->t_used++;
	return (MPB_OK);
}

void *
mpbi_htab_remove(mpbi_htab *h, const void *key, size_t klen)
{
	htab_entry **lp;
	htab_entry  *e;
	htab_table  *t, *t0;
	void        *val;
	size_t       len, size;

	htab_step(h);
	lp = htab_find(h, htab_hash(h, key, klen), key, klen, &t);
	if (lp == NULL) {
		return (NULL);
	}
	e   = *lp;
	*lp = e->e_next;
	t->t_used--;
	val = e->e_val;
	free(e);

	// Shrink to a quarter full at most (so growth is far away), never
	// below HTAB_MIN_SIZE, and by 8 at most per resize: the rehash of a
	// sparse array takes about size / 40 operations, and inserts during
	// it must not overload the new array.
	t0  = &h->h_t[0];
	len = t0->t_used;
	if (!htab_rehashing(h) && t0->t_size > HTAB_MIN_SIZE &&
	    len < t0->t_size / HTAB_SHRINK_RATIO) {
		size = t0->t_size / 8;
		if (size < HTAB_MIN_SIZE) {
			size = HTAB_MIN_SIZE;
		}
		while (size < len * 4) {
			size *= 2;
		}
		(void) htab_resize(h, size);
	}
	return (val);
}

size_t
mpbi_htab_len(const mpbi_htab *h)
{
	return (h->h_t[0].t_used + h->h_t[1].t_used);
}

// ---- scan -----------------------------------------------------------

static inline uint64_t
htab_rev(uint64_t v)
{
	v = ((v >> 1) & 0x5555555555555555ULL) |
	    ((v & 0x5555555555555555ULL) << 1);
	v = ((v >> 2) & 0x3333333333333333ULL) |
	    ((v & 0x3333333333333333ULL) << 2);
	v = ((v >> 4) & 0x0f0f0f0f0f0f0f0fULL) |
	    ((v & 0x0f0f0f0f0f0f0f0fULL) << 4);
	v = ((v >> 8) & 0x00ff00ff00ff00ffULL) |
	    ((v & 0x00ff00ff00ff00ffULL) << 8);
	v = ((v >> 16) & 0x0000ffff0000ffffULL) |
	    ((v & 0x0000ffff0000ffffULL) << 16);
	return ((v >> 32) | (v << 32));
}

// Adds one to the bits of v under mask, counting from the top bit down,
// and clears the bits outside mask.
static inline uint64_t
htab_next(uint64_t v, uint64_t mask)
{
	v |= ~mask;
	v = htab_rev(v);
	v++;
	return (htab_rev(v));
}

static size_t
htab_scan_bucket(const htab_entry *e, mpbi_htab_scan_fn fn, void *arg)
{
	size_t n = 0;

	for (; e != NULL; e = e->e_next) {
		fn(arg, e->e_key, e->e_klen, e->e_val);
		n++;
	}
	return (n);
}

// Redis's dictScan cursor.  The cursor is a bucket index whose bits are
// counted from the top of the mask down, so the buckets already visited
// are always "every bucket whose low bits are a prefix below the cursor",
// whatever the array size: when the array doubles, bucket b splits into b
// and b + size, and both sit before or after the cursor together; when it
// halves, buckets merge and only the merged one the cursor is in may be
// visited again (the duplicates the header allows).  While rehashing, one
// step visits bucket c of the smaller array and all of its expansions in
// the larger one, so an entry moving between the two between calls can
// neither be missed nor be seen twice.  The scan never moves buckets
// itself.
uint64_t
mpbi_htab_scan(mpbi_htab *h, uint64_t cursor, size_t count,
    mpbi_htab_scan_fn fn, void *arg)
{
	uint64_t v = cursor;
	uint64_t ms, mg;
	size_t   seen = 0, visits = 0, budget;
	int      ts, tg; // the smaller and the greater array

	// No key can be present for the whole scan if none is present now.
	if (mpbi_htab_len(h) == 0) {
		return (0);
	}
	if (count == 0) {
		count = 1;
	}
	// Caps the empty buckets walked in one call on a sparse array.
	budget = count > SIZE_MAX / HTAB_EMPTY_VISITS
	    ? SIZE_MAX
	    : count * HTAB_EMPTY_VISITS;
	do {
		if (!htab_rehashing(h)) {
			ms = h->h_t[0].t_size - 1;
			seen += htab_scan_bucket(
			    htab_bucket(h, 0, (size_t) (v & ms)), fn, arg);
			visits++;
			v = htab_next(v, ms);
			continue;
		}
		ts = h->h_t[0].t_size < h->h_t[1].t_size ? 0 : 1;
		tg = 1 - ts;
		ms = h->h_t[ts].t_size - 1;
		mg = h->h_t[tg].t_size - 1;
		seen += htab_scan_bucket(
		    htab_bucket(h, ts, (size_t) (v & ms)), fn, arg);
		visits++;
		do {
			seen += htab_scan_bucket(
			    htab_bucket(h, tg, (size_t) (v & mg)), fn, arg);
			visits++;
			v = htab_next(v, mg);
		} while ((v & (ms ^ mg)) != 0);
	} while (v != 0 && seen < count && visits < budget);
	return (v);
}

typedef struct values_ctx {
	void **all;
	size_t len;
	size_t cap;
} values_ctx;

static void
values_one(void *arg, const void *key, size_t klen, void *val)
{
	values_ctx *vc = arg;

	(void) key;
	(void) klen;
	if (vc->len < vc->cap) {
		vc->all[vc->len++] = val;
	}
}

mpb_err
mpbi_htab_values(mpbi_htab *h, void ***valsp, size_t *np)
{
	values_ctx vc = { NULL, 0, mpbi_htab_len(h) };
	uint64_t   c  = 0;

	*valsp = NULL;
	*np    = 0;
	if (vc.cap == 0) {
		return (MPB_OK);
	}
	if ((vc.all = calloc(vc.cap, sizeof(void *))) == NULL) {
		return (MPB_ENOMEM);
	}
	// The table does not change during the scan: each value once.
	do {
		c = mpbi_htab_scan(h, c, 256, values_one, &vc);
	} while (c != 0);
	*valsp = vc.all;
	*np    = vc.len;
	return (MPB_OK);
}
