// ops_dict.c -- dict requests: Python's DictProxy surface plus atomic
// read-modify-write (incr, compare-and-set, get-and-set, get/set many).
//
// Every handler validates all of its input before it changes anything,
// so a request that fails leaves the dict as it was (update included:
// see mpbi_h_dupdate).  Keys are canonicalised once (store_dict.h) and
// values are stored and returned byte-for-byte.

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "durable.h"
#include "ops.h"
#include "reply.h"
#include "store_dict.h"

// The most entries one dict.scan page may ask for; the frame limit may
// cut a page shorter.
#define DICT_SCAN_MAX 65536

static void    dict_destroy(mpbi_broker *b, mpbi_obj *o);
static mpb_err dict_dump(const mpbi_obj *o, mpbi_dump *d);

static const char *
dict_kind_name(const mpbi_obj *o)
{
	(void) o;
	return ("dict");
}

static uint64_t
dict_size(const mpbi_obj *o)
{
	return (mpbi_dict_len((const mpbi_dict *) o));
}

static mpb_err
dict_create_default(
    mpbi_broker *b, const char *name, size_t namelen, mpbi_obj **op)
{
	mpbi_obj *o;
	mpb_err   rv;

	rv = mpbi_obj_create(b, &mpbi_dict_class, sizeof(mpbi_dict), name, namelen, &o);
	if (rv != MPB_OK) {
		return (rv);
	}
	if ((rv = mpbi_dict_init((mpbi_dict *) o)) != MPB_OK) {
		mpbi_obj_delete(b, o);
		return (rv);
	}
	// Every creation (dict.create, or the first write) comes here.
	mpbi_log_name(b, MPBI_REC_D_CREATE, o);
	*op = o;
	return (MPB_OK);
}

const mpbi_class_ops mpbi_dict_class = {
	.class_id       = MPBI_CLASS_DICT,
	.class_name     = "dict",
	.destroy        = dict_destroy,
	.kind_name      = dict_kind_name,
	.size           = dict_size,
	.create_default = dict_create_default,
	.dump           = dict_dump,
};

static void
dict_destroy(mpbi_broker *b, mpbi_obj *o)
{
	(void) b;
	// Nothing ever waits on a dict.
	mpbi_dict_fini((mpbi_dict *) o);
	mpbi_obj_free(o);
}

// CREATE name -> [created]: for every class with defaults (dict, list).
void
mpbi_h_open(mpbi_req *r, const mpbi_class_ops *cls)
{
	mpbi_obj *o = mpbi_obj_lookup(r->r_broker, r->r_name, r->r_namelen);
	mpb_err   rv;

	if (o != NULL) {
		if (o->o_ops != cls) {
			mpbi_req_error(r, MPB_EWRONGTYPE,
			    MPBI_NAME_FMT " is a %s, not a %s",
			    MPBI_NAME_ARG(r->r_name, r->r_namelen),
			    o->o_ops->class_name, cls->class_name);
			return;
		}
		mpbi_req_ok(r, 1);
		mpbi_reply_bool(&r->r_reply, false);
		return;
	}
	rv = cls->create_default(r->r_broker, r->r_name, r->r_namelen, &o);
	if (rv != MPB_OK) {
		mpbi_req_error(r, rv, "cannot create %s: %s", cls->class_name,
		    mpb_strerror(rv));
		return;
	}
	mpbi_req_ok(r, 1);
	mpbi_reply_bool(&r->r_reply, true);
}

// ---------------------------------------------------------------------
// The log (durable.h).  Every change is one of: create, set a key, delete
// a key, clear.  Computed and chosen results (incr, popitem) are logged
// as what they did, so replay needs no arithmetic and no table order.

// The arguments of a set record, shared by the live log and the dump.
static void
put_set_args(mpbi_writer *w, const mpbi_dict *d, const uint8_t *key,
    size_t klen, const void *value, size_t vlen)
{
	mpbi_put_str(w, d->d_obj.o_name, d->d_obj.o_namelen);
	mpbi_put_raw(w, key, klen);
	mpbi_put_raw(w, value, vlen);
}

// key: canonical bytes.
static void
log_set(mpbi_broker *b, const mpbi_dict *d, const uint8_t *key, size_t klen,
    mpbi_span value)
{
	mpbi_writer *w = mpbi_effect_begin(b, MPBI_REC_D_SET, 3);

	if (w != NULL) {
		put_set_args(w, d, key, klen, value.ptr, value.len);
		mpbi_effect_end(b);
	}
}

static void
log_del(mpbi_broker *b, const mpbi_dict *d, const uint8_t *key, size_t klen)
{
	mpbi_writer *w = mpbi_effect_begin(b, MPBI_REC_D_DEL, 2);

	if (w != NULL) {
		mpbi_put_str(w, d->d_obj.o_name, d->d_obj.o_namelen);
		mpbi_put_raw(w, key, klen);
		mpbi_effect_end(b);
	}
}

static mpbi_dict *
replay_dict(mpbi_broker *b, const mpbi_frame *f)
{
	return ((mpbi_dict *) mpbi_replay_obj(b, f, &mpbi_dict_class));
}

mpb_err
mpbi_replay_d_create(mpbi_broker *b, const mpbi_frame *f)
{
	return (mpbi_replay_create(b, f, &mpbi_dict_class));
}

mpb_err
mpbi_replay_d_set(mpbi_broker *b, const mpbi_frame *f)
{
	mpbi_dict *d = replay_dict(b, f);
	mpbi_val   k;
	mpbi_item *it;
	mpb_err    rv;

	// Keys are logged canonical; norm checks that one is a key at all.
	if (d == NULL || mpbi_val_norm(f->elem[2], true, &k) != MPB_OK) {
		return (MPB_EPROTO);
	}
	if ((it = mpbi_item_create(f->elem[3].ptr, f->elem[3].len)) == NULL) {
		rv = MPB_ENOMEM;
	} else if ((rv = mpbi_dict_put(d, &k, it)) != MPB_OK) {
		mpbi_item_destroy(it);
	}
	mpbi_val_fini(&k);
	return (rv);
}

mpb_err
mpbi_replay_d_del(mpbi_broker *b, const mpbi_frame *f)
{
	mpbi_dict *d = replay_dict(b, f);
	mpbi_val   k;
	mpbi_item *it = NULL;

	if (d != NULL && mpbi_val_norm(f->elem[2], true, &k) == MPB_OK) {
		it = mpbi_dict_remove(d, k.v_ptr, k.v_len);
		mpbi_val_fini(&k);
	}
	if (it == NULL) {
		return (MPB_EPROTO); // the log never deletes a missing key
	}
	mpbi_item_destroy(it);
	return (MPB_OK);
}

mpb_err
mpbi_replay_d_clear(mpbi_broker *b, const mpbi_frame *f)
{
	mpbi_dict *d = replay_dict(b, f);

	if (d == NULL) {
		return (MPB_EPROTO);
	}
	mpbi_dict_clear(d);
	return (MPB_OK);
}

typedef struct dict_dump_ctx {
	mpbi_dump       *dd_dump;
	const mpbi_dict *dd_dict;
} dict_dump_ctx;

static mpb_err
dump_entry(void *arg, const uint8_t *key, size_t klen, const mpbi_item *it)
{
	dict_dump_ctx *dc = arg;

	put_set_args(mpbi_dump_begin(dc->dd_dump, MPBI_REC_D_SET, 3),
	    dc->dd_dict, key, klen, it->it_data, it->it_len);
	return (mpbi_dump_end(dc->dd_dump));
}

static mpb_err
dict_dump(const mpbi_obj *o, mpbi_dump *d)
{
	dict_dump_ctx dc = { d, (const mpbi_dict *) o };
	mpb_err       rv;

	if ((rv = mpbi_dump_name(d, MPBI_REC_D_CREATE, o)) != MPB_OK) {
		return (rv);
	}
	return (mpbi_dict_each(dc.dd_dict, dump_entry, &dc));
}

// ---------------------------------------------------------------------
// Helpers shared by the handlers below (and list ones: mpbi_req_item).

static mpbi_dict *
req_dict(const mpbi_req *r)
{
	return ((mpbi_dict *) r->r_obj);
}

// The error reply for a key or a many-key request that failed with rv.
static void
reply_key_error(mpbi_req *r, mpb_err rv)
{
	mpbi_req_error(r, rv, "%s", rv == MPB_EINVAL
	        ? "a key must be an integer, a string or a binary"
	        : rv == MPB_EMSGSIZE ? "the values exceed the frame limit"
	                             : "out of memory");
}

// Argument i as a canonical key; false after replying the error.
static bool
req_key(mpbi_req *r, size_t i, mpbi_val *k)
{
	mpb_err rv = mpbi_val_norm(mpbi_arg(r, i), true, k);

	if (rv != MPB_OK) {
		reply_key_error(r, rv);
		return (false);
	}
	return (true);
}

mpbi_item *
mpbi_req_item(mpbi_req *r, mpbi_span v)
{
	mpbi_item *it = mpbi_item_create(v.ptr, v.len);

	if (it == NULL) {
		mpbi_req_error(r, MPB_ENOMEM, "out of memory");
	}
	return (it);
}

static void
reply_notfound(mpbi_req *r)
{
	mpbi_req_error(r, MPB_ENOTFOUND, "no such key in dict " MPBI_NAME_FMT,
	    MPBI_NAME_ARG(r->r_name, r->r_namelen));
}

// A one-result success reply holding a stored value.
static void
reply_value(mpbi_req *r, const mpbi_item *it)
{
	mpbi_req_ok(r, 1);
	mpbi_reply_raw(&r->r_reply, it->it_data, it->it_len);
}

// [found, value or nil]
static void
reply_maybe(mpbi_reply *rep, const mpbi_item *it)
{
	mpbi_reply_bool(rep, it != NULL);
	if (it != NULL) {
		mpbi_reply_raw(rep, it->it_data, it->it_len);
	} else {
		mpbi_reply_nil(rep);
	}
}

// Stores value under k (replacing), and logs it: every set but getset's
// replace and update goes through here.  false after replying the error.
static bool
dict_store(mpbi_req *r, const mpbi_val *k, mpbi_span value)
{
	mpbi_item *it = mpbi_req_item(r, value);

	if (it == NULL) {
		return (false);
	}
	if (mpbi_dict_put(req_dict(r), k, it) != MPB_OK) {
		mpbi_item_destroy(it);
		mpbi_req_error(r, MPB_ENOMEM, "out of memory");
		return (false);
	}
	log_set(r->r_broker, req_dict(r), k->v_ptr, k->v_len, value);
	return (true);
}

// ---------------------------------------------------------------------
// Handlers

// DICT.CREATE name -> [created]
void
mpbi_h_dcreate(mpbi_req *r)
{
	mpbi_h_open(r, &mpbi_dict_class);
}

// DICT.SET name key value -> []
void
mpbi_h_dset(mpbi_req *r)
{
	mpbi_val k;

	if (!req_key(r, 2, &k)) {
		return;
	}
	if (dict_store(r, &k, mpbi_arg(r, 3))) {
		mpbi_req_ok(r, 0);
	}
	mpbi_val_fini(&k);
}

// DICT.GET name key -> [value]; MPB_ENOTFOUND
void
mpbi_h_dget(mpbi_req *r)
{
	mpbi_val    k;
	mpbi_dslot *ds;

	if (!req_key(r, 2, &k)) {
		return;
	}
	if ((ds = mpbi_dict_get(req_dict(r), &k)) == NULL) {
		reply_notfound(r);
	} else {
		reply_value(r, ds->ds_item);
	}
	mpbi_val_fini(&k);
}

// Removes key arg 2; replies with it (pop) or nothing (del).
static void
dict_remove(mpbi_req *r, bool with_value)
{
	mpbi_val   k;
	mpbi_item *it;

	if (!req_key(r, 2, &k)) {
		return;
	}
	if ((it = mpbi_dict_remove(req_dict(r), k.v_ptr, k.v_len)) == NULL) {
		reply_notfound(r);
	} else {
		log_del(r->r_broker, req_dict(r), k.v_ptr, k.v_len);
		if (with_value) {
			reply_value(r, it);
		} else {
			mpbi_req_ok(r, 0);
		}
		mpbi_item_destroy(it);
	}
	mpbi_val_fini(&k);
}

// DICT.DEL name key -> []; MPB_ENOTFOUND
void
mpbi_h_ddel(mpbi_req *r)
{
	dict_remove(r, false);
}

// DICT.POP name key -> [value]; MPB_ENOTFOUND
void
mpbi_h_dpop(mpbi_req *r)
{
	dict_remove(r, true);
}

// DICT.CONTAINS name key -> [bool]
void
mpbi_h_dcontains(mpbi_req *r)
{
	mpbi_val k;

	if (!req_key(r, 2, &k)) {
		return;
	}
	mpbi_req_ok(r, 1);
	mpbi_reply_bool(&r->r_reply, mpbi_dict_get(req_dict(r), &k) != NULL);
	mpbi_val_fini(&k);
}

// DICT.LEN name -> [count]
void
mpbi_h_dlen(mpbi_req *r)
{
	mpbi_req_ok(r, 1);
	mpbi_reply_uint(&r->r_reply, mpbi_dict_len(req_dict(r)));
}

// DICT.SCAN name cursor count what -> [next_cursor, [entries]]
// what: 0 keys, 1 values, 2 items (key, value, key, value, ...).
void
mpbi_h_dscan(mpbi_req *r)
{
	uint64_t     cursor, count, what, next;
	mpbi_page    pg;
	mpbi_dentry *ents;
	size_t       n;
	mpb_err      rv;

	if (!mpbi_arg_uint(r, 2, "cursor", &cursor) ||
	    !mpbi_arg_uint(r, 3, "count", &count) ||
	    !mpbi_arg_uint(r, 4, "what", &what)) {
		return;
	}
	if (what > MPBI_DSCAN_ITEMS) {
		mpbi_req_error(r, MPB_EINVAL,
		    "what must be 0 (keys), 1 (values) or 2 (items)");
		return;
	}
	mpbi_page_init(&pg, r, count > DICT_SCAN_MAX ? DICT_SCAN_MAX : count);
	rv = mpbi_dict_scan_page(req_dict(r), cursor, (mpbi_dscan_what) what, &pg,
	    &ents, &n, &next);
	if (rv != MPB_OK) {
		mpbi_req_error(r, rv, "out of memory");
		return;
	}
	mpbi_page_reply(r, &pg, 2);
	mpbi_reply_uint(&r->r_reply, next);
	mpbi_reply_array(&r->r_reply, what == MPBI_DSCAN_ITEMS ? 2 * n : n);
	for (size_t i = 0; i < n; i++) {
		if (what != MPBI_DSCAN_VALUES) {
			mpbi_reply_raw(&r->r_reply, ents[i].de_key, ents[i].de_klen);
		}
		if (what != MPBI_DSCAN_KEYS) {
			mpbi_reply_raw(&r->r_reply, ents[i].de_item->it_data,
			    ents[i].de_item->it_len);
		}
	}
	free(ents);
}

// DICT.POPITEM name -> [key, value]; MPB_ENOTFOUND when empty
void
mpbi_h_dpopitem(mpbi_req *r)
{
	mpbi_dict  *d = req_dict(r);
	mpbi_dentry e;

	if (!mpbi_dict_any(d, &e)) {
		mpbi_req_error(r, MPB_ENOTFOUND, "dict " MPBI_NAME_FMT " is empty",
		    MPBI_NAME_ARG(r->r_name, r->r_namelen));
		return;
	}
	// The reply and the log copy the key before the entry (and key)
	// go.  The log names the key chosen: replay must not choose again.
	mpbi_req_ok(r, 2);
	mpbi_reply_raw(&r->r_reply, e.de_key, e.de_klen);
	mpbi_reply_raw(&r->r_reply, e.de_item->it_data, e.de_item->it_len);
	log_del(r->r_broker, d, e.de_key, e.de_klen);
	mpbi_item_destroy(mpbi_dict_remove(d, e.de_key, e.de_klen));
}

// DICT.SETDEFAULT name key value -> [value now stored, inserted]
void
mpbi_h_dsetdefault(mpbi_req *r)
{
	mpbi_val    k;
	mpbi_dslot *ds;
	mpbi_span   v = mpbi_arg(r, 3);

	if (!req_key(r, 2, &k)) {
		return;
	}
	if ((ds = mpbi_dict_get(req_dict(r), &k)) != NULL) {
		mpbi_req_ok(r, 2);
		mpbi_reply_raw(&r->r_reply, ds->ds_item->it_data, ds->ds_item->it_len);
		mpbi_reply_bool(&r->r_reply, false);
	} else if (dict_store(r, &k, v)) {
		mpbi_req_ok(r, 2);
		mpbi_reply_raw(&r->r_reply, v.ptr, v.len);
		mpbi_reply_bool(&r->r_reply, true);
	}
	mpbi_val_fini(&k);
}

// DICT.GETSET name key value -> [found, old value or nil]
void
mpbi_h_dgetset(mpbi_req *r)
{
	mpbi_val    k;
	mpbi_dslot *ds;
	mpbi_item  *it;

	if (!req_key(r, 2, &k)) {
		return;
	}
	if ((ds = mpbi_dict_get(req_dict(r), &k)) == NULL) {
		if (dict_store(r, &k, mpbi_arg(r, 3))) {
			mpbi_req_ok(r, 2);
			reply_maybe(&r->r_reply, NULL);
		}
	} else if ((it = mpbi_req_item(r, mpbi_arg(r, 3))) != NULL) {
		mpbi_req_ok(r, 2);
		reply_maybe(&r->r_reply, ds->ds_item);
		mpbi_item_destroy(ds->ds_item);
		ds->ds_item = it;
		log_set(r->r_broker, req_dict(r), k.v_ptr, k.v_len, mpbi_arg(r, 3));
	}
	mpbi_val_fini(&k);
}

// DICT.CAS name key expected new -> [swapped]
// expected: [] (the key must be absent) or [value] (the stored value must
// equal it: mpbi_val_equal).
void
mpbi_h_dcas(mpbi_req *r)
{
	mpbi_val    k;
	mpbi_dslot *ds;
	mpbi_span   body, want;
	size_t      n;
	bool        match;

	if (mpbi_span_array(mpbi_arg(r, 3), &n, &body) != MPB_OK || n > 1 ||
	    (n == 1 && mpbi_span_next(&body, &want) != MPB_OK)) {
		mpbi_req_error(r, MPB_EINVAL,
		    "expected must be [] (absent) or [value]");
		return;
	}
	if (!req_key(r, 2, &k)) {
		return;
	}
	ds    = mpbi_dict_get(req_dict(r), &k);
	match = n == 0 ? ds == NULL
	               : ds != NULL && mpbi_val_equal(ds->ds_item->it_data,
	                                   ds->ds_item->it_len, want.ptr, want.len);
	if (!match || dict_store(r, &k, mpbi_arg(r, 4))) {
		mpbi_req_ok(r, 1);
		mpbi_reply_bool(&r->r_reply, match);
	}
	mpbi_val_fini(&k);
}

// The new value of an incr: cur + delta, as an integer, or as a float
// when floats (an integer operand is converted).  MPB_EOVERFLOW when the
// result leaves int64, or is not finite.
static mpb_err
incr_apply(mpbi_num cur, mpbi_num delta, bool floats, uint8_t *buf, size_t *lenp)
{
	if (!floats) {
		int64_t v;
		if (__builtin_add_overflow(cur.n_int, delta.n_int, &v)) {
			return (MPB_EOVERFLOW);
		}
		*lenp = mpbi_int_encode(v, buf);
		return (MPB_OK);
	}
	double a = cur.n_float ? cur.n_dbl : (double) cur.n_int;
	double b = delta.n_float ? delta.n_dbl : (double) delta.n_int;
	if (!isfinite(a + b)) {
		return (MPB_EOVERFLOW);
	}
	mpbi_float_encode(a + b, buf);
	*lenp = 9;
	return (MPB_OK);
}

// DICT.INCR name key delta -> [new]; DICT.INCR_FLOAT likewise.
static void
dict_incr(mpbi_req *r, bool floats)
{
	mpbi_val    k;
	mpbi_dslot *ds;
	mpbi_num    cur = { false, 0, 0.0 }, delta;
	uint8_t     buf[9];
	size_t      len;
	mpb_err     rv;

	if (mpbi_num_read(mpbi_arg(r, 3), floats, &delta) != MPB_OK ||
	    (floats && delta.n_float && !isfinite(delta.n_dbl))) {
		mpbi_req_error(r, MPB_EINVAL, floats
		        ? "delta must be a finite number"
		        : "delta must be a signed 64-bit integer");
		return;
	}
	if (!req_key(r, 2, &k)) {
		return;
	}
	if ((ds = mpbi_dict_get(req_dict(r), &k)) != NULL) {
		mpbi_span v = { ds->ds_item->it_data, ds->ds_item->it_len };
		rv = mpbi_num_read(v, floats, &cur);
	} else {
		rv = MPB_OK; // a missing key counts as 0
	}
	if (rv == MPB_OK) {
		rv = incr_apply(cur, delta, floats, buf, &len);
	}
	if (rv != MPB_OK) {
		mpbi_req_error(r, rv, rv == MPB_EVALUE
		        ? "the value is not %s"
		        : "the result is out of range",
		    floats ? "a number" : "an integer");
	} else if (dict_store(r, &k, (mpbi_span) { buf, len })) {
		mpbi_req_ok(r, 1);
		mpbi_reply_raw(&r->r_reply, buf, len);
	}
	mpbi_val_fini(&k);
}

void
mpbi_h_dincr(mpbi_req *r)
{
	dict_incr(r, false);
}

void
mpbi_h_dincr_float(mpbi_req *r)
{
	dict_incr(r, true);
}

// DICT.CLEAR name -> []
void
mpbi_h_dclear(mpbi_req *r)
{
	mpbi_dict_clear(req_dict(r));
	mpbi_log_name(r->r_broker, MPBI_REC_D_CLEAR, r->r_obj);
	mpbi_req_ok(r, 0);
}

// Argument i as an array of n elements, each split into span[0..n).  On
// true *spanp is a new array (free it; NULL when n is 0).  false after
// replying the error.  n is at most the frame's length, so the array is
// bounded by the frame limit.
static bool
req_array(mpbi_req *r, size_t i, const char *what, mpbi_span **spanp, size_t *np)
{
	mpbi_span  body;
	mpbi_span *s = NULL;
	size_t     n;

	if (mpbi_span_array(mpbi_arg(r, i), &n, &body) != MPB_OK) {
		mpbi_req_error(r, MPB_EINVAL, "%s must be an array", what);
		return (false);
	}
	if (n > 0 && (s = calloc(n, sizeof(*s))) == NULL) {
		mpbi_req_error(r, MPB_ENOMEM, "out of memory");
		return (false);
	}
	for (size_t j = 0; j < n; j++) {
		(void) mpbi_span_next(&body, &s[j]); // validated by the frame check
	}
	*spanp = s;
	*np    = n;
	return (true);
}

bool
mpbi_req_values(mpbi_req *r, size_t i, mpbi_span **spanp, size_t *np)
{
	return (req_array(r, i, "the values", spanp, np));
}

// One pair of an update.
typedef struct upd {
	mpbi_val    u_key;
	mpbi_item  *u_item;   // until the dict owns it
	mpbi_dslot *u_slot;   // the key's slot when it was there: replace
	bool        u_normed; // u_key needs mpbi_val_fini
	bool        u_new;    // inserted by this update
} upd;

static void
upd_free(upd *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (u[i].u_normed) {
			mpbi_val_fini(&u[i].u_key);
		}
		mpbi_item_destroy(u[i].u_item);
	}
	free(u);
}

// Phase 1 of an update: every key canonical, every value copied.
static mpb_err
upd_prepare(const mpbi_span *s, upd *u, size_t npairs)
{
	mpb_err rv;

	for (size_t i = 0; i < npairs; i++) {
		if ((rv = mpbi_val_norm(s[2 * i], true, &u[i].u_key)) != MPB_OK) {
			return (rv);
		}
		u[i].u_normed = true;
		u[i].u_item   = mpbi_item_create(s[2 * i + 1].ptr, s[2 * i + 1].len);
		if (u[i].u_item == NULL) {
			return (MPB_ENOMEM);
		}
	}
	return (MPB_OK);
}

// Phase 2: insert the new keys; on failure take them out again.
static mpb_err
upd_insert(mpbi_dict *d, upd *u, size_t npairs)
{
	for (size_t i = 0; i < npairs; i++) {
		if ((u[i].u_slot = mpbi_dict_get(d, &u[i].u_key)) != NULL) {
			continue; // present (maybe inserted by an earlier pair)
		}
		if (mpbi_dict_insert_new(d, &u[i].u_key, u[i].u_item) != MPB_OK) {
			while (i-- > 0) {
				if (u[i].u_new) {
					(void) mpbi_dict_remove(
					    d, u[i].u_key.v_ptr, u[i].u_key.v_len);
				}
			}
			return (MPB_ENOMEM);
		}
		u[i].u_new = true;
	}
	// Phase 3 cannot fail: replace in order, so a later pair wins.
	for (size_t i = 0; i < npairs; i++) {
		if (u[i].u_slot != NULL) {
			mpbi_item_destroy(u[i].u_slot->ds_item);
			u[i].u_slot->ds_item = u[i].u_item;
		}
		u[i].u_item = NULL; // the dict's
	}
	return (MPB_OK);
}

// DICT.UPDATE name [key, value, key, value, ...] -> []
// All or nothing: keys are checked and values copied first, then new keys
// are inserted (and removed again if memory runs out), and only then are
// existing values replaced, which cannot fail.
void
mpbi_h_dupdate(mpbi_req *r)
{
	mpbi_span *s;
	size_t     n;
	upd       *u = NULL;
	mpb_err    rv;

	if (!req_array(r, 2, "the pairs", &s, &n)) {
		return;
	}
	if (n % 2 != 0) {
		free(s);
		mpbi_req_error(r, MPB_EINVAL, "pairs must be [key, value, ...]");
		return;
	}
	rv = n == 0 || (u = calloc(n / 2, sizeof(*u))) != NULL ? MPB_OK : MPB_ENOMEM;
	if (rv == MPB_OK) {
		rv = upd_prepare(s, u, n / 2);
	}
	if (rv == MPB_OK) {
		rv = upd_insert(req_dict(r), u, n / 2);
	}
	if (rv == MPB_OK) {
		// The sets it did, in order: a key given twice ends with
		// the later value on replay too.
		for (size_t i = 0; i < n / 2; i++) {
			log_set(r->r_broker, req_dict(r), u[i].u_key.v_ptr,
			    u[i].u_key.v_len, s[2 * i + 1]);
		}
		mpbi_req_ok(r, 0);
	} else {
		reply_key_error(r, rv);
	}
	upd_free(u, u == NULL ? 0 : n / 2);
	free(s);
}

// DICT.GET_MANY name [key, ...] -> [[found, value or nil, ...]]
// MPB_EMSGSIZE when the values would not fit in one reply.
void
mpbi_h_dget_many(mpbi_req *r)
{
	mpbi_span   *s;
	size_t       n;
	mpbi_item  **its = NULL;
	mpbi_page    pg;
	mpb_err      rv  = MPB_OK;

	if (!req_array(r, 2, "the keys", &s, &n)) {
		return;
	}
	mpbi_page_init(&pg, r, n);
	if (n > 0 && (its = calloc(n, sizeof(*its))) == NULL) {
		rv = MPB_ENOMEM;
	}
	for (size_t i = 0; i < n && rv == MPB_OK; i++) {
		mpbi_val    k;
		mpbi_dslot *ds;
		if ((rv = mpbi_val_norm(s[i], true, &k)) != MPB_OK) {
			break;
		}
		ds     = mpbi_dict_get(req_dict(r), &k);
		its[i] = ds == NULL ? NULL : ds->ds_item;
		mpbi_val_fini(&k);
		if (!mpbi_page_take(&pg, 1, 2 + (its[i] ? its[i]->it_len : 0)) ||
		    (i + 1 < n && pg.pg_room == 0)) {
			rv = MPB_EMSGSIZE;
		}
	}
	if (rv == MPB_OK) {
		mpbi_page_reply(r, &pg, 1);
		mpbi_reply_array(&r->r_reply, 2 * n);
		for (size_t i = 0; i < n; i++) {
			reply_maybe(&r->r_reply, its[i]);
		}
	} else {
		reply_key_error(r, rv);
	}
	free(its);
	free(s);
}
