// enc.h -- request encoders: the one place the request of each op that
// batches offer is written, for the single calls (queue.c, dict.c,
// list.c) and for batch.c alike.
//
// Each writes the whole request [op, name, args...] with w, after
// checking what the broker cannot check for us: MPB_EINVAL for a NULL or
// empty name or a value that is not one msgpack object.  On an error part
// of the request may have been written; the caller discards it.

#ifndef MPB_ENC_H
#define MPB_ENC_H

#include <stdbool.h>
#include <stdint.h>

#include "client_internal.h"

// queue.put name value priority timeout_ms
mpb_err mpbi_enc_queue_put(mpbi_writer *w, const char *name, const void *value,
    size_t len, int64_t priority, uint32_t timeout_ms);
// queue.get name timeout_ms
mpb_err mpbi_enc_queue_get(mpbi_writer *w, const char *name, uint32_t timeout_ms);

// op name key [value]: dict.set, dict.get, dict.del, dict.pop.  No value
// argument when value is NULL and vlen is 0.
mpb_err mpbi_enc_dict_kv(mpbi_writer *w, mpbi_op op, const char *name,
    const void *key, size_t klen, const void *value, size_t vlen);
// dict.incr name key di, or dict.incr_float name key *fdelta when fdelta
// is not NULL.
mpb_err mpbi_enc_dict_incr(mpbi_writer *w, const char *name, const void *key,
    size_t klen, int64_t di, const double *fdelta);

// op name [index] [value]: has_index adds the index, a non-NULL value a
// value after it (list.append, list.pop, list.get, ...).
mpb_err mpbi_enc_list(mpbi_writer *w, mpbi_op op, const char *name,
    bool has_index, int64_t index, const void *value, size_t len);

#endif // MPB_ENC_H
