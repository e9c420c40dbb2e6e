// list.c -- the list calls of libmpb (helpers shared with dict.c are in
// dict_list.h).

#include <stdlib.h>
#include <string.h>

#include "dict_list.h"

// How many values a list.slice page may carry (the broker caps it too).
#define LIST_SLICE_MAX 65536

mpb_err
mpbi_enc_list(mpbi_writer *w, mpbi_op op, const char *name, bool has_index,
    int64_t index, const void *value, size_t len)
{
	size_t  nargs = 1 + (has_index ? 1 : 0) + (value != NULL ? 1 : 0);
	mpb_err err   = mpbi_request_named(w, op, name, nargs);

	if (err == MPB_OK && has_index) {
		mpbi_put_int(w, index);
	}
	if (err == MPB_OK && value != NULL) {
		err = mpbi_value_put(w, value, len, false);
	}
	return (err);
}

// list_call runs op(name, [index], [value]) (as mpbi_enc_list) with nres
// results.  When valuep is not NULL result 1 is copied to *valuep/*lenp.
static mpb_err
list_call(mpb_client *c, mpbi_op op, const char *name, bool has_index,
    int64_t index, const void *value, size_t len, size_t nres, void **valuep,
    size_t *lenp)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_open(&call, c);
	if (err == MPB_OK) {
		err = mpbi_enc_list(&call.w, op, name, has_index, index, value, len);
	}
	if (err == MPB_OK && nres > 0 && (valuep == NULL || lenp == NULL)) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, nres);
	}
	if (err == MPB_OK && nres > 0) {
		err = mpbi_value_dup(call.f.elem[1], valuep, lenp);
	}
	mpbi_call_fini(&call);
	return (err);
}

// A value argument that must be given: NULL is MPB_EINVAL (list_call
// would take it for "no value").
static bool
bad_value(const void *value)
{
	if (value == NULL) {
		mpbi_error_clear();
		return (true);
	}
	return (false);
}

mpb_err
mpb_list_create(mpb_client *c, const char *name, bool *createdp)
{
	return (mpbi_named_bool(c, MPBI_OP_L_CREATE, name, createdp));
}

mpb_err
mpb_list_append(mpb_client *c, const char *name, const void *value, size_t len)
{
	if (bad_value(value)) {
		return (MPB_EINVAL);
	}
	return (list_call(c, MPBI_OP_L_APPEND, name, false, 0, value, len, 0, NULL, NULL));
}

mpb_err
mpb_list_extend(mpb_client *c, const char *name, const mpb_buf *values, size_t count)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_named(&call, c, MPBI_OP_L_EXTEND, name, 2);
	if (err == MPB_OK) {
		err = mpbi_bufs_put(&call.w, values, count);
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 0);
	}
	mpbi_call_fini(&call);
	return (err);
}

mpb_err
mpb_list_insert(mpb_client *c, const char *name, int64_t index,
    const void *value, size_t len)
{
	if (bad_value(value)) {
		return (MPB_EINVAL);
	}
	return (list_call(c, MPBI_OP_L_INSERT, name, true, index, value, len, 0, NULL, NULL));
}

mpb_err
mpb_list_get(mpb_client *c, const char *name, int64_t index, void **valuep,
    size_t *lenp)
{
	return (list_call(c, MPBI_OP_L_GET, name, true, index, NULL, 0, 1, valuep, lenp));
}

mpb_err
mpb_list_set(mpb_client *c, const char *name, int64_t index,
    const void *value, size_t len)
{
	if (bad_value(value)) {
		return (MPB_EINVAL);
	}
	return (list_call(c, MPBI_OP_L_SET, name, true, index, value, len, 0, NULL, NULL));
}

mpb_err
mpb_list_del(mpb_client *c, const char *name, int64_t index)
{
	return (list_call(c, MPBI_OP_L_DEL, name, true, index, NULL, 0, 0, NULL, NULL));
}

mpb_err
mpb_list_pop(mpb_client *c, const char *name, int64_t index, void **valuep,
    size_t *lenp)
{
	return (list_call(c, MPBI_OP_L_POP, name, true, index, NULL, 0, 1, valuep, lenp));
}

mpb_err
mpb_list_remove(mpb_client *c, const char *name, const void *value, size_t len)
{
	if (bad_value(value)) {
		return (MPB_EINVAL);
	}
	return (list_call(c, MPBI_OP_L_REMOVE, name, false, 0, value, len, 0, NULL, NULL));
}

// Runs op(name, value[, start, stop]) whose one result is a count or an
// index, into *outp.
static mpb_err
value_uint(mpb_client *c, mpbi_op op, const char *name, const void *value,
    size_t len, const int64_t *bounds, uint64_t *outp)
{
	mpbi_call call;
	uint64_t  v;
	mpb_err   err;

	err = mpbi_call_named(&call, c, op, name, bounds != NULL ? 4 : 2);
	if (err == MPB_OK && outp == NULL) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		err = mpbi_value_put(&call.w, value, len, false);
	}
	if (err == MPB_OK && bounds != NULL) {
		mpbi_put_int(&call.w, bounds[0]);
		mpbi_put_int(&call.w, bounds[1]);
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 1);
	}
	if (err == MPB_OK && mpbi_span_uint(call.f.elem[1], &v) != MPB_OK) {
		err = MPB_EPROTO;
	}
	if (err == MPB_OK) {
		*outp = v;
	}
	mpbi_call_fini(&call);
	return (err);
}

mpb_err
mpb_list_index(mpb_client *c, const char *name, const void *value,
    size_t len, int64_t start, int64_t stop, uint64_t *indexp)
{
	const int64_t bounds[2] = { start, stop };

	return (value_uint(c, MPBI_OP_L_INDEX, name, value, len, bounds, indexp));
}

mpb_err
mpb_list_count(mpb_client *c, const char *name, const void *value,
    size_t len, uint64_t *countp)
{
	return (value_uint(c, MPBI_OP_L_COUNT, name, value, len, NULL, countp));
}

mpb_err
mpb_list_len(mpb_client *c, const char *name, uint64_t *lenp)
{
	return (mpbi_named_uint(c, MPBI_OP_L_LEN, name, lenp));
}

// The next start of a slice page: an index, or nil (-1: complete).
static mpb_err
read_next(mpbi_span s, void *out)
{
	uint64_t v;

	if (mpbi_span_is_nil(s)) {
		*(int64_t *) out = -1;
		return (MPB_OK);
	}
	if (mpbi_span_uint(s, &v) != MPB_OK || v > INT64_MAX) {
		return (MPB_EPROTO);
	}
	*(int64_t *) out = (int64_t) v;
	return (MPB_OK);
}

mpb_err
mpb_list_slice(mpb_client *c, const char *name, int64_t start, int64_t stop,
    size_t max, mpb_value **valuesp, size_t *countp, int64_t *nextp)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_named(&call, c, MPBI_OP_L_SLICE, name, 4);
	if (err == MPB_OK && (valuesp == NULL || countp == NULL || nextp == NULL)) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		mpbi_put_int(&call.w, start);
		mpbi_put_int(&call.w, stop);
		mpbi_put_uint(&call.w, max > LIST_SLICE_MAX ? LIST_SLICE_MAX : max);
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 2);
	}
	if (err == MPB_OK) {
		err = mpbi_page_read(&call, read_next, nextp, valuesp, countp);
	}
	mpbi_call_fini(&call);
	return (err);
}

mpb_err
mpb_list_reverse(mpb_client *c, const char *name)
{
	return (mpbi_named_plain(c, MPBI_OP_L_REVERSE, name));
}

mpb_err
mpb_list_clear(mpb_client *c, const char *name)
{
	return (mpbi_named_plain(c, MPBI_OP_L_CLEAR, name));
}
