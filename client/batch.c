// batch.c -- batches: many operations in one request frame (op batch,
// PROTOCOL.md), their results read back by index.
//
// The requests are written back to back into a growing buffer by the same
// encoders the single calls use (enc.h), so each op's request exists
// once.  A run wraps them in [batch, [...]] and keeps the reply; each
// entry's result is a span into it.

#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "enc.h"

// The result of one operation in the last run.
typedef struct batch_entry {
	mpb_err   status;
	bool      has_result;
	mpbi_span result; // its first result, inside the batch's reply
} batch_entry;

struct mpb_batch {
	msgpack_sbuffer sb; // the requests, each a complete frame
	mpbi_writer     w;  // writes into sb
	size_t          n;  // requests in sb
	nng_msg        *reply;   // the last run's reply; results point into it
	batch_entry    *entries; // results of the last run
	size_t          nentries;
};

mpb_batch *
mpb_batch_new(void)
{
	mpb_batch *b;

	mpbi_error_clear();
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		return (NULL);
	}
	msgpack_sbuffer_init(&b->sb);
	mpbi_writer_init_buf(&b->w, &b->sb);
	return (b);
}

// Forgets the last run's results.
static void
batch_results_drop(mpb_batch *b)
{
	if (b->reply != NULL) {
		nng_msg_free(b->reply);
		b->reply = NULL;
	}
	free(b->entries);
	b->entries  = NULL;
	b->nentries = 0;
}

void
mpb_batch_clear(mpb_batch *b)
{
	if (b == NULL) {
		return;
	}
	batch_results_drop(b);
	b->sb.size = 0;
	b->n       = 0;
	mpbi_writer_init_buf(&b->w, &b->sb);
}

void
mpb_batch_free(mpb_batch *b)
{
	if (b == NULL) {
		return;
	}
	batch_results_drop(b);
	msgpack_sbuffer_destroy(&b->sb);
	free(b);
}

size_t
mpb_batch_len(const mpb_batch *b)
{
	return (b != NULL ? b->n : 0);
}

// ---------------------------------------------------------------------
// Adding operations

// batch_begin checks that b can take one more request, and sets *markp
// to where it will start.
static mpb_err
batch_begin(const mpb_batch *b, size_t *markp)
{
	mpbi_error_clear();
	if (b == NULL) {
		return (MPB_EINVAL);
	}
	*markp = b->sb.size;
	return (b->n < MPBI_BATCH_MAX_OPS ? MPB_OK : MPB_EMSGSIZE);
}

// batch_added counts the request an encoder has just written from offset
// mark on (err: what the encoder returned), or, when it failed, cuts it
// off again so that the batch holds only whole requests.
static mpb_err
batch_added(mpb_batch *b, size_t mark, mpb_err err)
{
	if (err == MPB_OK) {
		err = mpbi_writer_err(&b->w);
	}
	if (err != MPB_OK) {
		b->sb.size = mark;
		// The writer's failure is sticky; it must not outlive the
		// request it spoiled.
		mpbi_writer_init_buf(&b->w, &b->sb);
		return (err);
	}
	b->n++;
	return (MPB_OK);
}

mpb_err
mpb_batch_queue_put(mpb_batch *b, const char *name, const void *value,
    size_t len, int64_t priority)
{
	size_t  mark;
	mpb_err err = batch_begin(b, &mark);

	if (err == MPB_OK) {
		err = mpbi_enc_queue_put(&b->w, name, value, len, priority, 0);
		err = batch_added(b, mark, err);
	}
	return (err);
}

mpb_err
mpb_batch_queue_get(mpb_batch *b, const char *name)
{
	size_t  mark;
	mpb_err err = batch_begin(b, &mark);

	if (err == MPB_OK) {
		err = mpbi_enc_queue_get(&b->w, name, 0);
		err = batch_added(b, mark, err);
	}
	return (err);
}

// The dict ops taking a key and, unless value is NULL, a value.
static mpb_err
batch_dict_kv(mpb_batch *b, mpbi_op op, const char *name, const void *key,
    size_t klen, const void *value, size_t vlen)
{
	size_t  mark;
	mpb_err err = batch_begin(b, &mark);

	if (err == MPB_OK) {
		err = mpbi_enc_dict_kv(&b->w, op, name, key, klen, value, vlen);
		err = batch_added(b, mark, err);
	}
	return (err);
}

mpb_err
mpb_batch_dict_set(mpb_batch *b, const char *name, const void *key,
    size_t klen, const void *value, size_t vlen)
{
	// A NULL value would make the encoder leave the argument out.
	if (value == NULL) {
		mpbi_error_clear();
		return (MPB_EINVAL);
	}
	return (batch_dict_kv(b, MPBI_OP_D_SET, name, key, klen, value, vlen));
}

mpb_err
mpb_batch_dict_get(
    mpb_batch *b, const char *name, const void *key, size_t klen)
{
	return (batch_dict_kv(b, MPBI_OP_D_GET, name, key, klen, NULL, 0));
}

mpb_err
mpb_batch_dict_incr(mpb_batch *b, const char *name, const void *key,
    size_t klen, int64_t delta)
{
	size_t  mark;
	mpb_err err = batch_begin(b, &mark);

	if (err == MPB_OK) {
		err = mpbi_enc_dict_incr(&b->w, name, key, klen, delta, NULL);
		err = batch_added(b, mark, err);
	}
	return (err);
}

// The list ops taking an index or a value.
static mpb_err
batch_list(mpb_batch *b, mpbi_op op, const char *name, bool has_index,
    int64_t index, const void *value, size_t len)
{
	size_t  mark;
	mpb_err err = batch_begin(b, &mark);

	if (err == MPB_OK) {
		err = mpbi_enc_list(
		    &b->w, op, name, has_index, index, value, len);
		err = batch_added(b, mark, err);
	}
	return (err);
}

mpb_err
mpb_batch_list_append(
    mpb_batch *b, const char *name, const void *value, size_t len)
{
	// A NULL value would make the encoder leave the argument out.
	if (value == NULL) {
		mpbi_error_clear();
		return (MPB_EINVAL);
	}
	return (batch_list(b, MPBI_OP_L_APPEND, name, false, 0, value, len));
}

mpb_err
mpb_batch_list_pop(mpb_batch *b, const char *name, int64_t index)
{
	return (batch_list(b, MPBI_OP_L_POP, name, true, index, NULL, 0));
}

// ---------------------------------------------------------------------
// Running and reading results

// batch_read fills b->entries from the array of reply frames s.
static mpb_err
batch_read(mpb_batch *b, mpbi_span s)
{
	mpbi_span  body;
	mpbi_span  elem;
	mpbi_frame f;
	size_t     n;

	if (mpbi_span_array(s, &n, &body) != MPB_OK || n != b->n) {
		return (MPB_EPROTO);
	}
	for (size_t i = 0; i < n; i++) {
		batch_entry *e = &b->entries[i];

		if (mpbi_span_next(&body, &elem) != MPB_OK) {
			return (MPB_EPROTO);
		}
		// Each is a reply frame of its own; a malformed one is
		// MPB_EPROTO for that operation alone.
		e->status = mpbi_reply_parse(
		    elem.ptr, elem.len, MPBI_MAX_DEPTH_CAP, &f, NULL, NULL);
		e->has_result = e->status == MPB_OK && f.nelem > 1;
		if (e->has_result) {
			e->result = f.elem[1];
		}
	}
	return (MPB_OK);
}

// batch_fail_all gives every operation the run's own error.
static void
batch_fail_all(mpb_batch *b, mpb_err err)
{
	for (size_t i = 0; i < b->nentries; i++) {
		b->entries[i].status     = err;
		b->entries[i].has_result = false;
	}
}

mpb_err
mpb_batch_run(mpb_client *c, mpb_batch *b)
{
	mpbi_call call;
	mpb_err   err;

	if (b == NULL) {
		mpbi_error_clear();
		return (MPB_EINVAL);
	}
	batch_results_drop(b);
	// At least one entry, so that calloc's NULL means no memory.
	if ((b->entries = calloc(b->n + 1, sizeof(*b->entries))) == NULL) {
		mpbi_error_clear();
		return (MPB_ENOMEM);
	}
	b->nentries = b->n;
	err         = mpbi_call_begin(&call, c, MPBI_OP_BATCH, 1);
	if (err == MPB_OK) {
		mpbi_put_array(&call.w, b->n);
		if (b->sb.size > 0) {
			mpbi_put_raw(&call.w, b->sb.data, b->sb.size);
		}
		err = mpbi_call_run(&call, MPBI_WAIT_NONE, 1);
	}
	if (err == MPB_OK) {
		err = batch_read(b, call.f.elem[1]);
	}
	if (err == MPB_OK) {
		// The results point into the reply: the batch keeps it.
		b->reply   = call.reply;
		call.reply = NULL;
	} else {
		batch_fail_all(b, err);
	}
	mpbi_call_fini(&call);
	return (err);
}

// batch_result finds the first result of operation i: MPB_OK, the
// operation's error, or MPB_EINVAL (no such operation, or no result).
static mpb_err
batch_result(const mpb_batch *b, size_t i, mpbi_span *sp)
{
	mpb_err err = mpb_batch_status(b, i);

	if (err != MPB_OK) {
		return (err);
	}
	if (!b->entries[i].has_result) {
		return (MPB_EINVAL);
	}
	*sp = b->entries[i].result;
	return (MPB_OK);
}

mpb_err
mpb_batch_status(const mpb_batch *b, size_t i)
{
	if (b == NULL || i >= b->nentries) {
		return (MPB_EINVAL);
	}
	return (b->entries[i].status);
}

mpb_err
mpb_batch_value(
    const mpb_batch *b, size_t i, const void **valuep, size_t *lenp)
{
	mpbi_span s;
	mpb_err   err;

	if (valuep == NULL || lenp == NULL) {
		return (MPB_EINVAL);
	}
	if ((err = batch_result(b, i, &s)) == MPB_OK) {
		*valuep = s.ptr;
		*lenp   = s.len;
	}
	return (err);
}

mpb_err
mpb_batch_int(const mpb_batch *b, size_t i, int64_t *vp)
{
	mpbi_span s;
	mpb_err   err;

	if (vp == NULL) {
		return (MPB_EINVAL);
	}
	if ((err = batch_result(b, i, &s)) == MPB_OK &&
	    mpbi_span_int(s, vp) != MPB_OK) {
		err = MPB_EVALUE;
	}
	return (err);
}
