// store_dict.c -- dict storage over mpbi_htab, and the value rules shared
// with lists (see store_dict.h).

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "store_dict.h"

// Bytes of a page reply that are not entries: [0, cursor, [...]] with the
// widest headers, and some slack.
#define PAGE_ENVELOPE 64

// ---------------------------------------------------------------------
// Canonical values

typedef enum vkind { VK_OTHER, VK_INT, VK_STR, VK_BIN } vkind;

// What a value is, as far as equality cares.
typedef struct vview {
	vkind          vw_kind;
	bool           vw_neg;  // VK_INT: negative (vw_u holds the int64)
	uint64_t       vw_u;    // VK_INT
	const uint8_t *vw_body; // VK_STR, VK_BIN: the bytes after the header
	size_t         vw_blen;
} vview;

static uint64_t
be_read(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		v = (v << 8) | p[i];
	}
	return (v);
}

static void
be_write(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = n; i > 0; i--) {
		p[i - 1] = (uint8_t) v;
		v >>= 8;
	}
}

// Sign-extends the n-byte big-endian two's complement at p.
static uint64_t
be_read_signed(const uint8_t *p, size_t n)
{
	uint64_t v     = be_read(p, n);
	unsigned shift = (unsigned) (64 - 8 * n);

	return (shift == 0 ? v : (uint64_t) ((int64_t) (v << shift) >> shift));
}

static void
view_bytes(vview *vw, vkind k, const uint8_t *p, size_t hlen, size_t blen)
{
	vw->vw_kind = k;
	vw->vw_body = p + hlen;
	vw->vw_blen = blen;
}

// p[0..len) is one validated msgpack object.
static void
val_view(const uint8_t *p, size_t len, vview *vw)
{
	uint8_t b = p[0];

	memset(vw, 0, sizeof(*vw));
	if (b <= 0x7f) {
		vw->vw_kind = VK_INT;
		vw->vw_u    = b;
	} else if (b >= 0xe0) {
		vw->vw_kind = VK_INT;
		vw->vw_neg  = true;
		vw->vw_u    = (uint64_t) (int64_t) (int8_t) b;
	} else if (b >= 0xcc && b <= 0xcf) {
		vw->vw_kind = VK_INT;
		vw->vw_u    = be_read(p + 1, len - 1);
	} else if (b >= 0xd0 && b <= 0xd3) {
		vw->vw_kind = VK_INT;
		vw->vw_u    = be_read_signed(p + 1, len - 1);
		vw->vw_neg  = (int64_t) vw->vw_u < 0;
	} else if (b >= 0xa0 && b <= 0xbf) {
		view_bytes(vw, VK_STR, p, 1, b & 0x1fu);
	} else if (b >= 0xd9 && b <= 0xdb) {
		size_t h = (size_t) 1 << (b - 0xd9); // 1, 2, 4 length bytes
		view_bytes(vw, VK_STR, p, 1 + h, be_read(p + 1, h));
	} else if (b >= 0xc4 && b <= 0xc6) {
		size_t h = (size_t) 1 << (b - 0xc4);
		view_bytes(vw, VK_BIN, p, 1 + h, be_read(p + 1, h));
	}
}

size_t
mpbi_int_encode(int64_t v, uint8_t *buf)
{
	uint64_t u = (uint64_t) v;

	if (v >= -32 && v <= 127) {
		buf[0] = (uint8_t) v;
		return (1);
	}
	if (v >= 0) {
		// Non-negative: the unsigned formats, as msgpack-c packs.
		size_t n = u <= UINT8_MAX ? 1 : u <= UINT16_MAX ? 2 : u <= UINT32_MAX ? 4 : 8;
		buf[0] = (uint8_t) (n == 1 ? 0xcc : n == 2 ? 0xcd : n == 4 ? 0xce : 0xcf);
		be_write(buf + 1, u, n);
		return (1 + n);
	}
	size_t n = v >= INT8_MIN ? 1 : v >= INT16_MIN ? 2 : v >= INT32_MIN ? 4 : 8;
	buf[0]   = (uint8_t) (n == 1 ? 0xd0 : n == 2 ? 0xd1 : n == 4 ? 0xd2 : 0xd3);
	be_write(buf + 1, u, n);
	return (1 + n);
}

void
mpbi_float_encode(double v, uint8_t buf[9])
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	buf[0] = 0xcb;
	be_write(buf + 1, u, 8);
}

// The shortest header for a str or bin of blen bytes.
static size_t
bytes_header(vkind k, size_t blen, uint8_t *hdr)
{
	size_t h;

	if (k == VK_STR && blen < 32) {
		hdr[0] = (uint8_t) (0xa0 | blen);
		return (1);
	}
	h      = blen <= UINT8_MAX ? 1 : blen <= UINT16_MAX ? 2 : 4;
	hdr[0] = (uint8_t) ((k == VK_STR ? 0xd9 : 0xc4) + (h == 1 ? 0 : h == 2 ? 1 : 2));
	be_write(hdr + 1, blen, h);
	return (1 + h);
}

mpb_err
mpbi_val_norm(mpbi_span s, bool key_only, mpbi_val *v)
{
	vview   vw;
	uint8_t hdr[5];
	size_t  hlen;

	val_view(s.ptr, s.len, &vw);
	v->v_ptr = s.ptr;
	v->v_len = s.len;
	v->v_own = NULL;
	switch (vw.vw_kind) {
	case VK_INT:
		if (!vw.vw_neg && vw.vw_u > INT64_MAX) {
			return (MPB_OK); // only uint 64 holds it: canonical
		}
		v->v_len = mpbi_int_encode((int64_t) vw.vw_u, v->v_buf);
		v->v_ptr = v->v_buf;
		return (MPB_OK);
	case VK_STR:
	case VK_BIN:
		hlen = bytes_header(vw.vw_kind, vw.vw_blen, hdr);
		if (hlen == (size_t) (vw.vw_body - s.ptr)) {
			return (MPB_OK);
		}
		if ((v->v_own = malloc(hlen + vw.vw_blen)) == NULL) {
			return (MPB_ENOMEM);
		}
		memcpy(v->v_own, hdr, hlen);
		memcpy(v->v_own + hlen, vw.vw_body, vw.vw_blen);
		v->v_ptr = v->v_own;
		v->v_len = hlen + vw.vw_blen;
		return (MPB_OK);
	default:
		return (key_only ? MPB_EINVAL : MPB_OK);
	}
}

void
mpbi_val_fini(mpbi_val *v)
{
	free(v->v_own);
	v->v_own = NULL;
}

bool
mpbi_val_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	vview va;
	vview vb;

	val_view(a, alen, &va);
	val_view(b, blen, &vb);
	if (va.vw_kind != vb.vw_kind || va.vw_kind == VK_OTHER) {
		return (alen == blen && memcmp(a, b, alen) == 0);
	}
	if (va.vw_kind == VK_INT) {
		return (va.vw_neg == vb.vw_neg && va.vw_u == vb.vw_u);
	}
	return (va.vw_blen == vb.vw_blen &&
	    memcmp(va.vw_body, vb.vw_body, va.vw_blen) == 0);
}

mpb_err
mpbi_num_read(mpbi_span s, bool floats, mpbi_num *np)
{
	vview    vw;
	uint64_t u;
	float    f;

	val_view(s.ptr, s.len, &vw);
	if (vw.vw_kind == VK_INT) {
		if (!vw.vw_neg && vw.vw_u > INT64_MAX) {
			return (MPB_EOVERFLOW);
		}
		np->n_float = false;
		np->n_int   = (int64_t) vw.vw_u;
		return (MPB_OK);
	}
	if (!floats || (s.ptr[0] != 0xca && s.ptr[0] != 0xcb)) {
		return (MPB_EVALUE);
	}
	np->n_float = true;
	if (s.ptr[0] == 0xcb) {
		u = be_read(s.ptr + 1, 8);
		memcpy(&np->n_dbl, &u, sizeof(u));
	} else {
		uint32_t u32 = (uint32_t) be_read(s.ptr + 1, 4);
		memcpy(&f, &u32, sizeof(f));
		np->n_dbl = f;
	}
	return (MPB_OK);
}

// ---------------------------------------------------------------------
// Pages

void
mpbi_page_init(mpbi_page *pg, const mpbi_req *r, uint64_t max)
{
	const mpbi_config *cfg = mpbi_broker_config(r->r_broker);

	pg->pg_room  = cfg->max_frame > PAGE_ENVELOPE ? cfg->max_frame - PAGE_ENVELOPE : 0;
	pg->pg_full  = pg->pg_room;
	pg->pg_count = 0;
	pg->pg_max   = max == 0 ? 1 : max > SIZE_MAX ? SIZE_MAX : (size_t) max;
}

bool
mpbi_page_take(mpbi_page *pg, size_t n, size_t bytes)
{
	// bytes counts each entry's encoding, headers included.
	if (pg->pg_count > 0 && bytes > pg->pg_room) {
		return (false);
	}
	pg->pg_room = bytes > pg->pg_room ? 0 : pg->pg_room - bytes;
	pg->pg_count += n;
	return (true);
}

bool
mpbi_page_full(const mpbi_page *pg)
{
	return (pg->pg_count >= pg->pg_max || pg->pg_room == 0);
}

void
mpbi_page_reply(mpbi_req *r, const mpbi_page *pg, size_t nresults)
{
	size_t bytes = pg->pg_full - pg->pg_room;

	mpbi_req_ok(r, nresults);
	// A failed reserve only loses the speed-up: appends still grow it.
	if (r->r_reply.rp_msg != NULL) {
		(void) nng_msg_reserve(r->r_reply.rp_msg,
		    nng_msg_len(r->r_reply.rp_msg) + bytes + PAGE_ENVELOPE);
	}
}

// ---------------------------------------------------------------------
// Dicts

mpb_err
mpbi_dict_init(mpbi_dict *d)
{
	d->d_popcursor = 0;
	return (mpbi_htab_create(&d->d_tab));
}

static void
free_slot(void *arg, const void *key, size_t klen, void *val)
{
	mpbi_dslot *ds = val;

	(void) arg;
	(void) key;
	(void) klen;
	mpbi_item_destroy(ds->ds_item);
	free(ds);
}

// Frees every value of tab (not the table).  The table is not changed
// during the walk, so each entry comes exactly once.
static void
free_values(mpbi_htab *tab)
{
	uint64_t cursor = 0;

	do {
		cursor = mpbi_htab_scan(tab, cursor, 1024, free_slot, NULL);
	} while (cursor != 0);
}

void
mpbi_dict_fini(mpbi_dict *d)
{
	if (d->d_tab != NULL) {
		free_values(d->d_tab);
		mpbi_htab_destroy(d->d_tab);
		d->d_tab = NULL;
	}
}

size_t
mpbi_dict_len(const mpbi_dict *d)
{
	return (mpbi_htab_len(d->d_tab));
}

mpbi_dslot *
mpbi_dict_get(mpbi_dict *d, const mpbi_val *k)
{
	return (mpbi_htab_get(d->d_tab, k->v_ptr, k->v_len));
}

mpb_err
mpbi_dict_insert_new(mpbi_dict *d, const mpbi_val *k, mpbi_item *it)
{
	mpbi_dslot *ds;
	mpb_err     rv;

	if ((ds = malloc(sizeof(*ds))) == NULL) {
		return (MPB_ENOMEM);
	}
	ds->ds_item = it;
	if ((rv = mpbi_htab_insert(d->d_tab, k->v_ptr, k->v_len, ds)) != MPB_OK) {
		free(ds);
	}
	return (rv);
}

mpb_err
mpbi_dict_put(mpbi_dict *d, const mpbi_val *k, mpbi_item *it)
{
	mpbi_dslot *ds = mpbi_dict_get(d, k);

	if (ds == NULL) {
		return (mpbi_dict_insert_new(d, k, it));
	}
	mpbi_item_destroy(ds->ds_item);
	ds->ds_item = it;
	return (MPB_OK);
}

mpbi_item *
mpbi_dict_remove(mpbi_dict *d, const void *key, size_t klen)
{
	mpbi_dslot *ds = mpbi_htab_remove(d->d_tab, key, klen);
	mpbi_item  *it;

	if (ds == NULL) {
		return (NULL);
	}
	it = ds->ds_item;
	free(ds);
	return (it);
}

void
mpbi_dict_clear(mpbi_dict *d)
{
	mpbi_htab *fresh;

	// A fresh table gives the memory of a big one back at once; without
	// memory for one, empty the old table key by key instead.
	if (mpbi_htab_create(&fresh) == MPB_OK) {
		mpbi_dict_fini(d);
		d->d_tab = fresh;
	} else {
		mpbi_dentry e;
		while (mpbi_dict_any(d, &e)) {
			mpbi_item_destroy(mpbi_dict_remove(d, e.de_key, e.de_klen));
		}
	}
	d->d_popcursor = 0;
}

// Entries collected by a scan.
typedef struct collect {
	mpbi_dentry    *c_ents;
	size_t          c_n;
	size_t          c_cap;
	size_t          c_bytes;
	mpbi_dscan_what c_what;
	bool            c_nomem;
} collect;

static void
collect_fn(void *arg, const void *key, size_t klen, void *val)
{
	collect           *c  = arg;
	const mpbi_dslot  *ds = val;

	if (c->c_n == c->c_cap) {
		size_t       cap  = c->c_cap == 0 ? 16 : 2 * c->c_cap;
		mpbi_dentry *ents = realloc(c->c_ents, cap * sizeof(*ents));
		if (ents == NULL) {
			c->c_nomem = true;
			return;
		}
		c->c_ents = ents;
		c->c_cap  = cap;
	}
	c->c_ents[c->c_n++] = (mpbi_dentry) { key, klen, ds->ds_item };
	c->c_bytes += (c->c_what != MPBI_DSCAN_VALUES ? klen : 0) +
	    (c->c_what != MPBI_DSCAN_KEYS ? ds->ds_item->it_len : 0);
}

mpb_err
mpbi_dict_scan_page(mpbi_dict *d, uint64_t cursor, mpbi_dscan_what what,
    mpbi_page *pg, mpbi_dentry **entp, size_t *np, uint64_t *nextp)
{
	collect c     = { .c_what = what };
	size_t  calls = 0;

	// One bucket per htab call, so a bucket that does not fit can be left
	// whole for the next page (its cursor is passed back unchanged).
	// Each call visits at most a few empty buckets; the call bound keeps
	// a sparse table from making one page slow.
	do {
		size_t   n0   = c.c_n;
		size_t   b0   = c.c_bytes;
		uint64_t next = mpbi_htab_scan(d->d_tab, cursor, 1, collect_fn, &c);

		if (c.c_nomem) {
			free(c.c_ents);
			return (MPB_ENOMEM);
		}
		if (c.c_n > n0 && !mpbi_page_take(pg, c.c_n - n0, c.c_bytes - b0)) {
			c.c_n = n0;
			break;
		}
		cursor = next;
	} while (cursor != 0 && !mpbi_page_full(pg) && ++calls <= pg->pg_max + 16);
	if (c.c_n == 0) {
		free(c.c_ents);
		c.c_ents = NULL;
	}
	*entp  = c.c_ents;
	*np    = c.c_n;
	*nextp = cursor;
	return (MPB_OK);
}

// Keeps the first entry a scan call passes.
static void
first_fn(void *arg, const void *key, size_t klen, void *val)
{
	mpbi_dentry *e = arg;

	if (e->de_key == NULL) {
		*e = (mpbi_dentry) { key, klen, ((mpbi_dslot *) val)->ds_item };
	}
}

bool
mpbi_dict_any(mpbi_dict *d, mpbi_dentry *ep)
{
	mpbi_dentry e = { NULL, 0, NULL };
	uint64_t    cursor;

	if (mpbi_dict_len(d) == 0) {
		return (false);
	}
	// Not empty, so one pass round the table finds an entry.  The cursor
	// stays on the bucket that gave it: it may hold more.
	for (cursor = d->d_popcursor; e.de_key == NULL;) {
		uint64_t next = mpbi_htab_scan(d->d_tab, cursor, 1, first_fn, &e);
		if (e.de_key == NULL) {
			cursor = next;
		}
	}
	d->d_popcursor = cursor;
	*ep            = e;
	return (true);
}

// The state of one mpbi_dict_each walk.
typedef struct each {
	mpbi_dict_each_fn e_fn;
	void             *e_arg;
	mpb_err           e_rv;
} each;

static void
each_fn(void *arg, const void *key, size_t klen, void *val)
{
	each *e = arg;

	// The scan cannot be stopped from here: skip the rest instead.
	if (e->e_rv == MPB_OK) {
		e->e_rv = e->e_fn(e->e_arg, key, klen, ((mpbi_dslot *) val)->ds_item);
	}
}

mpb_err
mpbi_dict_each(const mpbi_dict *d, mpbi_dict_each_fn fn, void *arg)
{
	each     e      = { fn, arg, MPB_OK };
	uint64_t cursor = 0;

	// Nothing changes the table during the walk: each key comes once.
	do {
		cursor = mpbi_htab_scan(d->d_tab, cursor, 1024, each_fn, &e);
	} while (cursor != 0 && e.e_rv == MPB_OK);
	return (e.e_rv);
}
