// reply.c -- building reply frames.  Handlers call these; none of them
// touches msgpack or the envelope layout (proto.h) directly.

#include <stdio.h>
#include <string.h>

#include "reply.h"

// The longest error message sent; longer ones are cut.
#define REPLY_MAX_TEXT 200

// Reply messages kept for reuse.  The server sends most replies in the
// request's own message (mpbi_reply_move), so the message a reply was
// built in comes back here and the next reply is built in it: in steady
// state no reply allocates.  Process-wide like the item cache, and
// touched only under the broker lock.  Bounded in count and in each
// message's capacity, so a rare huge reply does not stay pinned.
#define REPLY_CACHE_MAX 4
#define REPLY_CACHE_MAX_CAP (64u * 1024u)

static nng_msg *reply_cache[REPLY_CACHE_MAX];
static size_t   reply_ncached;

void
mpbi_reply_recycle(nng_msg *msg)
{
	if (msg == NULL) {
		return;
	}
	if (reply_ncached == REPLY_CACHE_MAX ||
	    nng_msg_capacity(msg) > REPLY_CACHE_MAX_CAP) {
		nng_msg_free(msg);
		return;
	}
	nng_msg_clear(msg);
	nng_msg_header_clear(msg);
	reply_cache[reply_ncached++] = msg;
}

void
mpbi_reply_cache_free(void)
{
	while (reply_ncached > 0) {
		nng_msg_free(reply_cache[--reply_ncached]);
	}
}

nng_msg *
mpbi_reply_move(nng_msg *reply, nng_msg *req)
{
	size_t len = nng_msg_len(reply);

	// nng_msg_capacity counts from the body's start, so after the clear
	// it is the room an append fills without reallocating.
	nng_msg_clear(req);
	if (len <= nng_msg_capacity(req) &&
	    nng_msg_append(req, nng_msg_body(reply), len) == 0) {
		mpbi_reply_recycle(reply);
		return (req);
	}
	nng_msg_free(req);
	return (reply);
}

static void
reply_alloc(mpbi_reply *rep)
{
	rep->rp_msg = NULL;
	if (reply_ncached > 0) {
		rep->rp_msg = reply_cache[--reply_ncached];
	} else if (nng_msg_alloc(&rep->rp_msg, 0) != 0) {
		rep->rp_msg = NULL;
	}
	// A writer over a NULL message fails at its first put, which makes
	// mpbi_reply_take return NULL.
	mpbi_writer_init(&rep->rp_w, rep->rp_msg);
	if (rep->rp_msg == NULL) {
		rep->rp_w.failed = true;
	}
}

void
mpbi_reply_begin(mpbi_reply *rep, size_t nresults)
{
	reply_alloc(rep);
	mpbi_reply_ok_begin(&rep->rp_w, nresults);
}

// utf8_seq_len: how many bytes the UTF-8 sequence at s[0..n) spans, or 0
// if it is not a valid one (bad lead or continuation byte, overlong form,
// surrogate, above U+10FFFF, or cut short).
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char b = s[0];
	size_t        len;
	unsigned char lo = 0x80, hi = 0xbf; // the second byte's range

	if (b < 0x80) {
		return (1);
	}
	if (b >= 0xc2 && b <= 0xdf) {
		len = 2;
	} else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		lo  = b == 0xe0 ? 0xa0 : 0x80; // no overlong forms
		hi  = b == 0xed ? 0x9f : 0xbf; // no surrogates
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		lo  = b == 0xf0 ? 0x90 : 0x80;
		hi  = b == 0xf4 ? 0x8f : 0xbf; // at most U+10FFFF
	} else {
		return (0);
	}
	if (n < len || s[1] < lo || s[1] > hi) {
		return (0);
	}
	for (size_t i = 2; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return (0);
		}
	}
	return (len);
}

// utf8_clean makes s valid UTF-8 in place: an error text quotes names and
// keys as the client sent them, cut at MPBI_NAME_IN_MSG bytes or at the
// text's limit, either of which can split a character, and a msgpack str
// must be UTF-8.  Each byte that starts no valid sequence becomes '?'.
static void
utf8_clean(char *s)
{
	unsigned char *p = (unsigned char *) s;
	size_t         n = strlen(s);

	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq_len(p + i, n - i);

		if (len == 0) {
			p[i] = '?';
			len  = 1;
		}
		i += len;
	}
}

void
mpbi_reply_errorv(mpbi_reply *rep, mpb_err code, const char *fmt, va_list ap)
{
	char text[REPLY_MAX_TEXT + 1];

	(void) vsnprintf(text, sizeof(text), fmt, ap);
	utf8_clean(text);
	reply_alloc(rep);
	mpbi_reply_err(&rep->rp_w, code, text);
}

void
mpbi_reply_errorf(mpbi_reply *rep, mpb_err code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mpbi_reply_errorv(rep, code, fmt, ap);
	va_end(ap);
}

void
mpbi_reply_uint(mpbi_reply *rep, uint64_t v)
{
	mpbi_put_uint(&rep->rp_w, v);
}

void
mpbi_reply_int(mpbi_reply *rep, int64_t v)
{
	mpbi_put_int(&rep->rp_w, v);
}

void
mpbi_reply_bool(mpbi_reply *rep, bool v)
{
	mpbi_put_bool(&rep->rp_w, v);
}

void
mpbi_reply_nil(mpbi_reply *rep)
{
	mpbi_put_nil(&rep->rp_w);
}

void
mpbi_reply_str(mpbi_reply *rep, const char *p, size_t n)
{
	mpbi_put_str(&rep->rp_w, p, n);
}

void
mpbi_reply_bin(mpbi_reply *rep, const void *p, size_t n)
{
	mpbi_put_bin(&rep->rp_w, p, n);
}

void
mpbi_reply_map(mpbi_reply *rep, size_t npairs)
{
	mpbi_put_map(&rep->rp_w, npairs);
}

void
mpbi_reply_array(mpbi_reply *rep, size_t n)
{
	mpbi_put_array(&rep->rp_w, n);
}

void
mpbi_reply_raw(mpbi_reply *rep, const void *p, size_t n)
{
	mpbi_put_raw(&rep->rp_w, p, n);
}

bool
mpbi_reply_is_error(const mpbi_reply *rep)
{
	const uint8_t *body;

	// Every reply is an array whose first element is the status: an
	// error's is a positive fixint or uint.
	if (rep->rp_msg == NULL || nng_msg_len(rep->rp_msg) < 2) {
		return (false);
	}
	body = nng_msg_body(rep->rp_msg);
	return (body[1] != 0x00);
}

nng_msg *
mpbi_reply_take(mpbi_reply *rep)
{
	nng_msg *msg = rep->rp_msg;

	rep->rp_msg = NULL;
	if (msg == NULL) {
		return (NULL);
	}
	if (mpbi_writer_err(&rep->rp_w) != MPB_OK) {
		// Out of memory half-way: answer with a short error instead,
		// reusing the message.
		nng_msg_clear(msg);
		mpbi_writer_init(&rep->rp_w, msg);
		mpbi_reply_err(&rep->rp_w, MPB_ENOMEM, "out of memory");
		if (mpbi_writer_err(&rep->rp_w) != MPB_OK) {
			nng_msg_free(msg);
			return (NULL);
		}
	}
	return (msg);
}

void
mpbi_req_ok(mpbi_req *r, size_t nresults)
{
	r->r_replied = true;
	mpbi_reply_begin(&r->r_reply, nresults);
}

void
mpbi_req_error(mpbi_req *r, mpb_err code, const char *fmt, ...)
{
	va_list ap;

	r->r_replied = true;
	va_start(ap, fmt);
	mpbi_reply_errorv(&r->r_reply, code, fmt, ap);
	va_end(ap);
}
