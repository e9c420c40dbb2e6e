// dict_list.h -- what dict.c and list.c share inside libmpb: writing
// arrays of caller values and reading arrays of values out of replies.

#ifndef MPB_DICT_LIST_H
#define MPB_DICT_LIST_H

#include "client_internal.h"
#include "enc.h"

// mpbi_value_put checks value (as mpbi_value_check; nested one level
// deeper when in_array, as inside an array argument) and writes it.
// MPB_EINVAL when it is not one msgpack object.
mpb_err mpbi_value_put(mpbi_writer *w, const void *value, size_t len, bool in_array);

// mpbi_bufs_put writes an array of n values (each checked).
mpb_err mpbi_bufs_put(mpbi_writer *w, const mpb_buf *vals, size_t n);

// mpbi_values_read copies every element of the array s into a new array
// of mpb_value.  On MPB_OK *outp (NULL when empty) and *np; else
// MPB_EPROTO (s is not an array) or MPB_ENOMEM, and nothing is set.
mpb_err mpbi_values_read(mpbi_span s, mpb_value **outp, size_t *np);

// Calls on a name alone: mpbi_named_plain (no result), mpbi_named_bool
// (one bool result to *outp, if outp is not NULL), mpbi_named_uint (one
// non-negative integer to *outp, which must not be NULL).
mpb_err mpbi_named_plain(mpb_client *c, mpbi_op op, const char *name);
mpb_err mpbi_named_bool(mpb_client *c, mpbi_op op, const char *name, bool *outp);
mpb_err mpbi_named_uint(mpb_client *c, mpbi_op op, const char *name, uint64_t *outp);

// mpbi_page_read reads a page reply [next, [value, ...]]: next by rdnext
// into nextp, the values into a new array.  Out-parameters are set only
// on MPB_OK; MPB_EPROTO, MPB_ENOMEM.
mpb_err mpbi_page_read(const mpbi_call *call,
    mpb_err (*rdnext)(mpbi_span, void *), void *nextp, mpb_value **valuesp,
    size_t *countp);

#endif // MPB_DICT_LIST_H
