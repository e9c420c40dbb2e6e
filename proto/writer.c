// writer.c -- msgpack encoding straight into nng message bodies, and the
// request/reply envelopes of the protocol.

#include <string.h>

#include "proto.h"

// msgpack-c's write callback: append to the nng message.  A failed append
// leaves the message as it was, and makes the writer fail for good.
static int
writer_append(void *data, const char *buf, size_t len)
{
	mpbi_writer *w = data;

	// nng 1.5.2 grows a message by exactly what each append needs, so a
	// reply of many small appends would copy O(n^2) bytes: reserve
	// geometrically instead.
	if (!w->failed && w->msg != NULL &&
	    nng_msg_capacity(w->msg) - nng_msg_len(w->msg) < len) {
		size_t want = nng_msg_len(w->msg) + len;
		size_t cap  = nng_msg_capacity(w->msg) * 2;
		if (nng_msg_reserve(w->msg, cap > want ? cap : want) != 0) {
			w->failed = true;
		}
	}
	if (w->failed ||
	    (w->msg != NULL ? nng_msg_append(w->msg, buf, len)
	                    : msgpack_sbuffer_write(w->sb, buf, len)) != 0) {
		w->failed = true;
		return (-1);
	}
	return (0);
}

void
mpbi_writer_init(mpbi_writer *w, nng_msg *msg)
{
	w->msg    = msg;
	w->sb     = NULL;
	w->failed = false;
	msgpack_packer_init(&w->pk, w, writer_append);
}

void
mpbi_writer_init_buf(mpbi_writer *w, msgpack_sbuffer *sb)
{
	w->msg    = NULL;
	w->sb     = sb;
	w->failed = false;
	msgpack_packer_init(&w->pk, w, writer_append);
}

mpb_err
mpbi_writer_err(const mpbi_writer *w)
{
	return (w->failed ? MPB_ENOMEM : MPB_OK);
}

void
mpbi_put_array(mpbi_writer *w, size_t n)
{
	(void) msgpack_pack_array(&w->pk, n);
}

void
mpbi_put_map(mpbi_writer *w, size_t npairs)
{
	(void) msgpack_pack_map(&w->pk, npairs);
}

void
mpbi_put_uint(mpbi_writer *w, uint64_t v)
{
	(void) msgpack_pack_uint64(&w->pk, v);
}

void
mpbi_put_int(mpbi_writer *w, int64_t v)
{
	(void) msgpack_pack_int64(&w->pk, v);
}

void
mpbi_put_bool(mpbi_writer *w, bool v)
{
	(void) (v ? msgpack_pack_true(&w->pk) : msgpack_pack_false(&w->pk));
}

void
mpbi_put_nil(mpbi_writer *w)
{
	(void) msgpack_pack_nil(&w->pk);
}

void
mpbi_put_str(mpbi_writer *w, const char *p, size_t n)
{
	(void) msgpack_pack_str_with_body(&w->pk, p, n);
}

void
mpbi_put_bin(mpbi_writer *w, const void *p, size_t n)
{
	(void) msgpack_pack_bin_with_body(&w->pk, p, n);
}

void
mpbi_put_raw(mpbi_writer *w, const void *p, size_t n)
{
	(void) writer_append(w, p, n);
}

void
mpbi_request_begin(mpbi_writer *w, mpbi_op op, size_t nargs)
{
	mpbi_put_array(w, nargs + 1);
	mpbi_put_uint(w, (uint64_t) op);
}

void
mpbi_reply_ok_begin(mpbi_writer *w, size_t nresults)
{
	mpbi_put_array(w, nresults + 1);
	mpbi_put_uint(w, 0);
}

void
mpbi_reply_err(mpbi_writer *w, mpb_err code, const char *text)
{
	mpbi_put_array(w, 2);
	mpbi_put_uint(w, (uint64_t) code);
	mpbi_put_str(w, text, strlen(text));
}
