// object.c -- calls on named objects of any kind: list and delete.

#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

mpb_err
mpb_object_delete(mpb_client *c, const char *name)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_named(&call, c, MPBI_OP_OBJ_DELETE, name, 1);
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 0);
	}
	mpbi_call_fini(&call);
	return (err);
}

// Reads one [name, class, kind, size] entry (more fields are allowed).
static mpb_err
object_decode(mpbi_span entry, mpb_object_info *info)
{
	mpbi_span   fields;
	mpbi_span   f[4];
	size_t      nf;
	const char *s[3];
	size_t      slen[3];
	mpb_err     err = MPB_OK;

	if (mpbi_span_array(entry, &nf, &fields) != MPB_OK || nf < 4) {
		return (MPB_EPROTO);
	}
	for (size_t j = 0; j < 4; j++) {
		if (mpbi_span_next(&fields, &f[j]) != MPB_OK) {
			return (MPB_EPROTO);
		}
	}
	for (size_t j = 0; j < 3; j++) {
		if (mpbi_span_str(f[j], &s[j], &slen[j]) != MPB_OK) {
			return (MPB_EPROTO);
		}
	}
	if (mpbi_span_uint(f[3], &info->size) != MPB_OK) {
		return (MPB_EPROTO);
	}
	if ((err = mpbi_str_dup(s[0], slen[0], &info->name)) != MPB_OK ||
	    (err = mpbi_str_dup(s[1], slen[1], &info->class_name)) != MPB_OK ||
	    (err = mpbi_str_dup(s[2], slen[2], &info->kind)) != MPB_OK) {
		return (err);
	}
	return (MPB_OK);
}

mpb_err
mpb_object_list(mpb_client *c, mpb_object_info **listp, size_t *countp)
{
	mpbi_call        call;
	mpbi_span        body;
	mpbi_span        entry;
	mpb_object_info *list = NULL;
	size_t           n    = 0;
	mpb_err          err;

	err = mpbi_call_begin(&call, c, MPBI_OP_OBJ_LIST, 0);
	if (err == MPB_OK && (listp == NULL || countp == NULL)) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 1);
	}
	if (err == MPB_OK && mpbi_span_array(call.f.elem[1], &n, &body) != MPB_OK) {
		err = MPB_EPROTO;
	}
	// n is bounded by the frame's length: every entry takes a byte.
	if (err == MPB_OK && n > 0 && (list = calloc(n, sizeof(*list))) == NULL) {
		err = MPB_ENOMEM;
	}
	for (size_t i = 0; i < n && err == MPB_OK; i++) {
		err = mpbi_span_next(&body, &entry) == MPB_OK
		    ? object_decode(entry, &list[i])
		    : MPB_EPROTO;
	}
	mpbi_call_fini(&call);
	if (err != MPB_OK) {
		mpb_object_list_free(list, n);
		return (err);
	}
	*listp  = list;
	*countp = n;
	return (MPB_OK);
}

void
mpb_object_list_free(mpb_object_info *list, size_t count)
{
	if (list == NULL) {
		return;
	}
	for (size_t i = 0; i < count; i++) {
		free(list[i].name);
		free(list[i].class_name);
		free(list[i].kind);
	}
	free(list);
}

mpb_err
mpb_stats(mpb_client *c, void **statsp, size_t *lenp)
{
	mpbi_call call;
	mpb_err   err;

	err = mpbi_call_begin(&call, c, MPBI_OP_STATS, 0);
	if (err == MPB_OK && (statsp == NULL || lenp == NULL)) {
		err = MPB_EINVAL;
	}
	if (err == MPB_OK) {
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 1);
	}
	if (err == MPB_OK) {
		err = mpbi_value_dup(call.f.elem[1], statsp, lenp);
	}
	mpbi_call_fini(&call);
	return (err);
}
