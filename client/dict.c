// dict.c -- the dict calls of libmpb, and the helpers list.c shares
// (dict_list.h).
//
// As queue.c: check what the broker cannot check for us, write the
// request, run it, and set out-parameters only once every result has
// decoded.  A result of the wrong type is MPB_EPROTO.

#include <stdlib.h>
#include <string.h>

#include "dict_list.h"

// How many values a dict.scan page may carry (the broker caps it too).
#define DICT_SCAN_MAX 65536

// ---------------------------------------------------------------------
// Shared with list.c

mpb_err
mpbi_value_put(mpbi_writer *w, const void *value, size_t len, bool in_array)
{
	// The request wraps a value in one array, or two inside an array
	// argument; any frame may be nested MPBI_MAX_DEPTH_CAP deep.
	unsigned depth = MPBI_MAX_DEPTH_CAP - (in_array ? 2 : 1);

	if (value == NULL || mpbi_check(value, len, depth) != MPB_OK) {
		return (MPB_EINVAL);
	}
	mpbi_put_raw(w, value, len);
	return (MPB_OK);
}

mpb_err
mpbi_bufs_put(mpbi_writer *w, const mpb_buf *vals, size_t n)
{
	mpb_err err = MPB_OK;

	if (vals == NULL && n > 0) {
		return (MPB_EINVAL);
	}
	mpbi_put_array(w, n);
	for (size_t i = 0; i < n && err == MPB_OK; i++) {
		err = mpbi_value_put(w, vals[i].data, vals[i].len, true);
	}
	return (err);
}

void
mpb_values_free(mpb_value *values, size_t count)
{
	if (values == NULL) {
		return;
	}
	for (size_t i = 0; i < count; i++) {
		free(values[i].data);
	}
	free(values);
}

mpb_err
mpbi_values_read(mpbi_span s, mpb_value **outp, size_t *np)
{
	mpbi_span  body, elem;
	mpb_value *out = NULL;
	size_t     n;
	mpb_err    err = MPB_OK;

	if (mpbi_span_array(s, &n, &body) != MPB_OK) {
		return (MPB_EPROTO);
	}
	// n is bounded by the frame's length: every element takes a byte.
	if (n > 0 && (out = calloc(n, sizeof(*out))) == NULL) {
		return (MPB_ENOMEM);
	}
	for (size_t i = 0; i < n && err == MPB_OK; i++) {
		err = mpbi_span_next(&body, &elem) == MPB_OK
		    ? mpbi_value_dup(elem, &out[i].data, &out[i].len)
		    : MPB_EPROTO;
	}
	if (err != MPB_OK) {
		mpb_values_free(out, n);
		return (err);
	}
	*outp = out;
	*np   = n;
	return (MPB_OK);
}

// A call on name alone with nres results, the first read by rd (if not
// NULL) into out.
static mpb_err
named_call(mpb_client *c, mpbi_op op, const char *name, size_t nres,
    mpb_err (*rd)(mpbi_span, void *), void *out)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_named(&call, c, op, name, 1);
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, nres);
	}
	if (err == MPB_OK && rd != NULL) {
		err = rd(call.f.elem[1], out);
	}
	mpbi_call_fini(&call);
	return (err);
}

static mpb_err
read_bool(mpbi_span s, void *out)
{
	bool v;

	if (mpbi_span_bool(s, &v) != MPB_OK) {
		return (MPB_EPROTO);
	}
	if (out != NULL) {
		*(bool *) out = v;
	}
	return (MPB_OK);
}

static mpb_err
read_uint(mpbi_span s, void *out)
{
	return (mpbi_span_uint(s, out) == MPB_OK ? MPB_OK : MPB_EPROTO);
}

mpb_err
mpbi_named_plain(mpb_client *c, mpbi_op op, const char *name)
{
	return (named_call(c, op, name, 0, NULL, NULL));
}

mpb_err
mpbi_named_bool(mpb_client *c, mpbi_op op, const char *name, bool *outp)
{
	return (named_call(c, op, name, 1, read_bool, outp));
}

mpb_err
mpbi_named_uint(mpb_client *c, mpbi_op op, const char *name, uint64_t *outp)
{
	uint64_t v;
	mpb_err  err;

	if (outp == NULL) {
		mpbi_error_clear();
		return (MPB_EINVAL);
	}
	if ((err = named_call(c, op, name, 1, read_uint, &v)) == MPB_OK) {
		*outp = v;
	}
	return (err);
}

// ---------------------------------------------------------------------
// Dicts

// enc_key writes op on name with key as its second argument; nargs
// counts the name and the key.
static mpb_err
enc_key(mpbi_writer *w, mpbi_op op, const char *name, const void *key,
    size_t klen, size_t nargs)
{
	mpb_err err = mpbi_request_named(w, op, name, nargs);

	if (err == MPB_OK) {
		err = mpbi_value_put(w, key, klen, false);
	}
	return (err);
}

// key_begin starts a call of op on name with key as its second argument.
static mpb_err
key_begin(mpbi_call *call, mpb_client *c, mpbi_op op, const char *name,
    const void *key, size_t klen, size_t nargs)
{
	mpb_err err = mpbi_call_open(call, c);

	if (err == MPB_OK) {
		err = enc_key(&call->w, op, name, key, klen, nargs);
	}
	return (err);
}

mpb_err
mpbi_enc_dict_kv(mpbi_writer *w, mpbi_op op, const char *name,
    const void *key, size_t klen, const void *value, size_t vlen)
{
	bool    has_value = value != NULL || vlen != 0;
	mpb_err err = enc_key(w, op, name, key, klen, has_value ? 3 : 2);

	if (err == MPB_OK && has_value) {
		err = mpbi_value_put(w, value, vlen, false);
	}
	return (err);
}

// kv_call runs op(name, key[, value]) (no value argument when value is
// NULL and vlen is 0) with nres results; when valuep is not NULL, result
// 1 is copied to *valuep/*lenp.
static mpb_err
kv_call(mpb_client *c, mpbi_op op, const char *name, const void *key,
    size_t klen, const void *value, size_t vlen, size_t nres, void **valuep,
    size_t *lenp)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_open(&call, c);
	if (err == MPB_OK) {
		err = mpbi_enc_dict_kv(&call.w, op, name, key, klen, value, vlen);
	}
	if (err == MPB_OK && valuep != NULL && lenp == NULL) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, nres);
	}
	if (err == MPB_OK && valuep != NULL) {
		err = mpbi_value_dup(call.f.elem[1], valuep, lenp);
	}
	mpbi_call_fini(&call);
	return (err);
}

mpb_err
mpb_dict_create(mpb_client *c, const char *name, bool *createdp)
{
	return (mpbi_named_bool(c, MPBI_OP_D_CREATE, name, createdp));
}

mpb_err
mpb_dict_set(mpb_client *c, const char *name, const void *key, size_t klen,
    const void *value, size_t vlen)
{
	if (value == NULL) {
		mpbi_error_clear();
		return (MPB_EINVAL);
	}
	return (kv_call(c, MPBI_OP_D_SET, name, key, klen, value, vlen, 0, NULL, NULL));
}

mpb_err
mpb_dict_get(mpb_client *c, const char *name, const void *key, size_t klen,
    void **valuep, size_t *lenp)
{
	if (valuep == NULL) {
		mpbi_error_clear();
		return (MPB_EINVAL);
	}
	return (kv_call(c, MPBI_OP_D_GET, name, key, klen, NULL, 0, 1, valuep, lenp));
}

mpb_err
mpb_dict_get_default(mpb_client *c, const char *name, const void *key,
    size_t klen, const void *def, size_t deflen, void **valuep, size_t *lenp)
{
	mpb_err err;

	if (mpbi_value_check(def, deflen) != MPB_OK) {
		mpbi_error_clear();
		return (MPB_EINVAL);
	}
	err = mpb_dict_get(c, name, key, klen, valuep, lenp);
	if (err == MPB_ENOTFOUND) {
		err = mpbi_value_dup((mpbi_span) { def, deflen }, valuep, lenp);
	}
	return (err);
}

mpb_err
mpb_dict_del(mpb_client *c, const char *name, const void *key, size_t klen)
{
	return (kv_call(c, MPBI_OP_D_DEL, name, key, klen, NULL, 0, 0, NULL, NULL));
}

mpb_err
mpb_dict_pop(mpb_client *c, const char *name, const void *key, size_t klen,
    void **valuep, size_t *lenp)
{
	if (valuep == NULL) {
		mpbi_error_clear();
		return (MPB_EINVAL);
	}
	return (kv_call(c, MPBI_OP_D_POP, name, key, klen, NULL, 0, 1, valuep, lenp));
}

mpb_err
mpb_dict_contains(mpb_client *c, const char *name, const void *key,
    size_t klen, bool *foundp)
{
	mpbi_call call;
	mpb_err   err;

	err = key_begin(&call, c, MPBI_OP_D_CONTAINS, name, key, klen, 2);
	if (err == MPB_OK && foundp == NULL) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 1);
	}
	if (err == MPB_OK) {
		err = read_bool(call.f.elem[1], foundp);
	}
	mpbi_call_fini(&call);
	return (err);
}

mpb_err
mpb_dict_len(mpb_client *c, const char *name, uint64_t *lenp)
{
	return (mpbi_named_uint(c, MPBI_OP_D_LEN, name, lenp));
}

mpb_err
mpb_dict_clear(mpb_client *c, const char *name)
{
	return (mpbi_named_plain(c, MPBI_OP_D_CLEAR, name));
}

// Copies results 1 and 2 (two values) to *ap/*alenp and *bp/*blenp.
static mpb_err
two_values(const mpbi_call *call, void **ap, size_t *alenp, void **bp,
    size_t *blenp)
{
	void   *a;
	size_t  alen;
	mpb_err err = mpbi_value_dup(call->f.elem[1], &a, &alen);

	if (err == MPB_OK && (err = mpbi_value_dup(call->f.elem[2], bp, blenp)) != MPB_OK) {
		free(a);
	}
	if (err == MPB_OK) {
		*ap    = a;
		*alenp = alen;
	}
	return (err);
}

mpb_err
mpb_dict_popitem(mpb_client *c, const char *name, void **keyp, size_t *klenp,
    void **valuep, size_t *vlenp)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_named(&call, c, MPBI_OP_D_POPITEM, name, 1);
	if (err == MPB_OK && (keyp == NULL || klenp == NULL || valuep == NULL || vlenp == NULL)) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 2);
	}
	if (err == MPB_OK) {
		err = two_values(&call, keyp, klenp, valuep, vlenp);
	}
	mpbi_call_fini(&call);
	return (err);
}

// Runs op(name, key, value) with two results: a value and a bool, in
// the order given by value_first (setdefault: [value, inserted]; getset:
// [found, old or nil]).  The value is copied only when valuep is not
// NULL and, for getset, found.
static mpb_err
kv_value_bool(mpb_client *c, mpbi_op op, const char *name, const void *key,
    size_t klen, const void *value, size_t vlen, bool value_first,
    void **valuep, size_t *lenp, bool *flagp)
{
	mpbi_call call;
	bool      flag;
	mpb_err   err;

	err = key_begin(&call, c, op, name, key, klen, 3);
	if (err == MPB_OK && valuep != NULL && lenp == NULL) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		err = mpbi_value_put(&call.w, value, vlen, false);
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 2);
	}
	if (err == MPB_OK) {
		err = read_bool(call.f.elem[value_first ? 2 : 1], &flag);
	}
	if (err == MPB_OK && valuep != NULL && (value_first || flag)) {
		err = mpbi_value_dup(call.f.elem[value_first ? 1 : 2], valuep, lenp);
	}
	if (err == MPB_OK && flagp != NULL) {
		*flagp = flag;
	}
	mpbi_call_fini(&call);
	return (err);
}

mpb_err
mpb_dict_setdefault(mpb_client *c, const char *name, const void *key,
    size_t klen, const void *value, size_t vlen, void **valuep, size_t *lenp,
    bool *insertedp)
{
	return (kv_value_bool(c, MPBI_OP_D_SETDEFAULT, name, key, klen, value,
	    vlen, true, valuep, lenp, insertedp));
}

mpb_err
mpb_dict_getset(mpb_client *c, const char *name, const void *key,
    size_t klen, const void *value, size_t vlen, void **oldp,
    size_t *oldlenp, bool *foundp)
{
	if (foundp == NULL) {
		mpbi_error_clear();
		return (MPB_EINVAL);
	}
	return (kv_value_bool(c, MPBI_OP_D_GETSET, name, key, klen, value,
	    vlen, false, oldp, oldlenp, foundp));
}

mpb_err
mpb_dict_update(mpb_client *c, const char *name, const mpb_buf *keys,
    const mpb_buf *values, size_t count)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_named(&call, c, MPBI_OP_D_UPDATE, name, 2);
	if (err == MPB_OK && count > 0 && (keys == NULL || values == NULL)) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		mpbi_put_array(&call.w, 2 * count);
	}
	for (size_t i = 0; i < count && err == MPB_OK; i++) {
		err = mpbi_value_put(&call.w, keys[i].data, keys[i].len, true);
		if (err == MPB_OK) {
			err = mpbi_value_put(&call.w, values[i].data, values[i].len, true);
		}
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 0);
	}
	mpbi_call_fini(&call);
	return (err);
}

// Reads [found, value or nil, ...] into n values, NULL where not found.
static mpb_err
found_values(mpbi_span s, size_t want, mpb_value **outp)
{
	mpb_value *all;
	size_t     n;
	bool       found;
	mpb_err    err = mpbi_values_read(s, &all, &n);

	if (err == MPB_OK && n != 2 * want) {
		err = MPB_EPROTO;
	}
	// Compact in place: entry i takes the value of pair i (i <= 2i, so
	// nothing is overwritten before it is read; slots read are cleared).
	for (size_t i = 0; i < want && err == MPB_OK; i++) {
		mpb_value flag = all[2 * i];
		mpb_value v    = all[2 * i + 1];

		all[2 * i]     = (mpb_value) { NULL, 0 };
		all[2 * i + 1] = (mpb_value) { NULL, 0 };
		err = read_bool((mpbi_span) { flag.data, flag.len }, &found);
		free(flag.data);
		if (err != MPB_OK || !found) {
			free(v.data);
			v = (mpb_value) { NULL, 0 };
		}
		all[i] = v;
	}
	if (err != MPB_OK) {
		mpb_values_free(all, n);
		return (err);
	}
	*outp = all;
	return (MPB_OK);
}

mpb_err
mpb_dict_get_many(mpb_client *c, const char *name, const mpb_buf *keys,
    size_t count, mpb_value **valuesp)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_named(&call, c, MPBI_OP_D_GET_MANY, name, 2);
	if (err == MPB_OK && valuesp == NULL) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		err = mpbi_bufs_put(&call.w, keys, count);
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 1);
	}
	if (err == MPB_OK) {
		err = found_values(call.f.elem[1], count, valuesp);
	}
	mpbi_call_fini(&call);
	return (err);
}

mpb_err
mpbi_enc_dict_incr(mpbi_writer *w, const char *name, const void *key,
    size_t klen, int64_t di, const double *fdelta)
{
	mpbi_op op  = fdelta != NULL ? MPBI_OP_D_INCR_FLOAT : MPBI_OP_D_INCR;
	mpb_err err = enc_key(w, op, name, key, klen, 3);

	if (err == MPB_OK && fdelta != NULL) {
		// proto/ has no float writer; the packer is msgpack-c's.
		(void) msgpack_pack_double(&w->pk, *fdelta);
	} else if (err == MPB_OK) {
		mpbi_put_int(w, di);
	}
	return (err);
}

// Runs dict.incr (delta di) or, when fdelta is not NULL, dict.incr_float
// (delta *fdelta); result 1 is the new value, given to rd.
static mpb_err
incr_call(mpb_client *c, const char *name, const void *key, size_t klen,
    int64_t di, const double *fdelta, mpb_err (*rd)(mpbi_span, void *),
    void *out)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_open(&call, c);
	if (err == MPB_OK) {
		err = mpbi_enc_dict_incr(&call.w, name, key, klen, di, fdelta);
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 1);
	}
	if (err == MPB_OK) {
		err = rd(call.f.elem[1], out);
	}
	mpbi_call_fini(&call);
	return (err);
}

static mpb_err
read_int(mpbi_span s, void *out)
{
	int64_t v;

	if (mpbi_span_int(s, &v) != MPB_OK) {
		return (MPB_EPROTO);
	}
	if (out != NULL) {
		*(int64_t *) out = v;
	}
	return (MPB_OK);
}

static mpb_err
read_double(mpbi_span s, void *out)
{
	msgpack_unpacked u;
	size_t           off = 0;
	mpb_err          err = MPB_EPROTO;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *) s.ptr, s.len, &off) ==
	        MSGPACK_UNPACK_SUCCESS &&
	    (u.data.type == MSGPACK_OBJECT_FLOAT64 ||
	        u.data.type == MSGPACK_OBJECT_FLOAT32)) {
		if (out != NULL) {
			*(double *) out = u.data.via.f64;
		}
		err = MPB_OK;
	}
	msgpack_unpacked_destroy(&u);
	return (err);
}

mpb_err
mpb_dict_incr(mpb_client *c, const char *name, const void *key, size_t klen,
    int64_t delta, int64_t *newp)
{
	return (incr_call(c, name, key, klen, delta, NULL, read_int, newp));
}

mpb_err
mpb_dict_incr_str(mpb_client *c, const char *name, const char *key,
    int64_t delta, int64_t *newp)
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;
	mpb_err         err;

	if (key == NULL) {
		mpbi_error_clear();
		return (MPB_EINVAL);
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (msgpack_pack_str_with_body(&pk, key, strlen(key)) != 0) {
		msgpack_sbuffer_destroy(&sb);
		mpbi_error_clear();
		return (MPB_ENOMEM);
	}
	err = mpb_dict_incr(c, name, sb.data, sb.size, delta, newp);
	msgpack_sbuffer_destroy(&sb);
	return (err);
}

mpb_err
mpb_dict_incr_float(mpb_client *c, const char *name, const void *key,
    size_t klen, double delta, double *newp)
{
	return (incr_call(c, name, key, klen, 0, &delta, read_double, newp));
}

mpb_err
mpb_dict_cas(mpb_client *c, const char *name, const void *key, size_t klen,
    const void *expected, size_t elen, const void *value, size_t vlen,
    bool *swappedp)
{
	mpbi_call call;
	mpb_err   err;

	err = key_begin(&call, c, MPBI_OP_D_CAS, name, key, klen, 4);
	if (err == MPB_OK && swappedp == NULL) {
		err = MPB_EINVAL;
	}
	// expected travels as [] (absent) or [expected].
	if (err == MPB_OK) {
		mpbi_put_array(&call.w, expected != NULL ? 1 : 0);
		if (expected != NULL) {
			err = mpbi_value_put(&call.w, expected, elen, true);
		}
	}
	if (err == MPB_OK) {
		err = mpbi_value_put(&call.w, value, vlen, false);
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 1);
	}
	if (err == MPB_OK) {
		err = read_bool(call.f.elem[1], swappedp);
	}
	mpbi_call_fini(&call);
	return (err);
}

// Reads a page reply [next, [values]]: rdnext reads next into nextp.
mpb_err
mpbi_page_read(const mpbi_call *call, mpb_err (*rdnext)(mpbi_span, void *),
    void *nextp, mpb_value **valuesp, size_t *countp)
{
	mpb_value *vals;
	size_t     n;
	mpb_err    err;

	if ((err = mpbi_values_read(call->f.elem[2], &vals, &n)) != MPB_OK) {
		return (err);
	}
	if ((err = rdnext(call->f.elem[1], nextp)) != MPB_OK) {
		mpb_values_free(vals, n);
		return (err);
	}
	*valuesp = vals;
	*countp  = n;
	return (MPB_OK);
}

mpb_err
mpb_dict_scan(mpb_client *c, const char *name, uint64_t cursor, size_t count,
    mpb_dict_what what, mpb_value **valuesp, size_t *countp, uint64_t *nextp)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_named(&call, c, MPBI_OP_D_SCAN, name, 4);
	if (err == MPB_OK && (valuesp == NULL || countp == NULL || nextp == NULL ||
	                         (unsigned) what > MPB_DICT_ITEMS)) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		mpbi_put_uint(&call.w, cursor);
		mpbi_put_uint(&call.w, count > DICT_SCAN_MAX ? DICT_SCAN_MAX : count);
		mpbi_put_uint(&call.w, (uint64_t) what);
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 2);
	}
	if (err == MPB_OK) {
		err = mpbi_page_read(&call, read_uint, nextp, valuesp, countp);
	}
	mpbi_call_fini(&call);
	return (err);
}
