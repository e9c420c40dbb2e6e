// frame.c -- structural check, frame splitting and scalar decoding.
//
// The check is written by hand because msgpack-c must not see unchecked
// bytes (it allocates from declared counts, TECH-NOTES 2.3); once a span
// has passed it, scalars are decoded by msgpack-c itself.

#include <string.h>

#include "proto.h"

static const char *const op_names[MPBI_OP_LIMIT] = {
#define OP_NAME_(name, num, text) [num] = text,
	MPBI_OP_MAP(OP_NAME_)
#undef OP_NAME_
};

const char *
mpbi_op_name(uint64_t op)
{
	if (op >= MPBI_OP_LIMIT) {
		return (NULL);
	}
	return (op_names[op]);
}

// Reads an n-byte big-endian unsigned length at b[*off], if it fits.
static bool
read_be(const uint8_t *b, size_t len, size_t *off, unsigned n, uint64_t *vp)
{
	uint64_t v = 0;

	if (len - *off < n) {
		return (false);
	}
	for (unsigned i = 0; i < n; i++) {
		v = (v << 8) | b[*off + i];
	}
	*off += n;
	*vp = v;
	return (true);
}

// How a type byte continues: fixed payload bytes, or a length field of
// lenbytes bytes followed by that many payload bytes (plus extra bytes for
// an ext type), or a container count field.
typedef struct typeinfo {
	uint8_t lenbytes;  // width of the length/count field after the byte
	uint8_t fixed;     // payload bytes when lenbytes == 0
	uint8_t extra;     // ext type byte after the length field
	uint8_t container; // 0 scalar, 1 array, 2 map
} typeinfo;

static bool
type_info(uint8_t t, typeinfo *ti, uint64_t *inline_count)
{
	memset(ti, 0, sizeof(*ti));
	*inline_count = 0;
	if (t <= 0x7f || t >= 0xe0) {
		return (true); // fixint
	}
	if (t <= 0x8f) {
		ti->container = 2;
		*inline_count = t & 0x0fu;
		return (true);
	}
	if (t <= 0x9f) {
		ti->container = 1;
		*inline_count = t & 0x0fu;
		return (true);
	}
	if (t <= 0xbf) {
		ti->fixed = t & 0x1fu; // fixstr
		return (true);
	}
	switch (t) {
	case 0xc0: // nil
	case 0xc2: // false
	case 0xc3: // true
		return (true);
	case 0xc4: // bin8
	case 0xd9: // str8
		ti->lenbytes = 1;
		return (true);
	case 0xc5: // bin16
	case 0xda: // str16
		ti->lenbytes = 2;
		return (true);
	case 0xc6: // bin32
	case 0xdb: // str32
		ti->lenbytes = 4;
		return (true);
	case 0xc7: // ext8
		ti->lenbytes = 1;
		ti->extra    = 1;
		return (true);
	case 0xc8: // ext16
		ti->lenbytes = 2;
		ti->extra    = 1;
		return (true);
	case 0xc9: // ext32
		ti->lenbytes = 4;
		ti->extra    = 1;
		return (true);
	case 0xca: // float32
		ti->fixed = 4;
		return (true);
	case 0xcb: // float64
		ti->fixed = 8;
		return (true);
	case 0xcc: // uint8
	case 0xd0: // int8
		ti->fixed = 1;
		return (true);
	case 0xcd:
	case 0xd1:
		ti->fixed = 2;
		return (true);
	case 0xce:
	case 0xd2:
		ti->fixed = 4;
		return (true);
	case 0xcf:
	case 0xd3:
		ti->fixed = 8;
		return (true);
	case 0xd4: // fixext1..16: type byte + data
		ti->fixed = 2;
		return (true);
	case 0xd5:
		ti->fixed = 3;
		return (true);
	case 0xd6:
		ti->fixed = 5;
		return (true);
	case 0xd7:
		ti->fixed = 9;
		return (true);
	case 0xd8:
		ti->fixed = 17;
		return (true);
	case 0xdc: // array16
		ti->container = 1;
		ti->lenbytes  = 2;
		return (true);
	case 0xdd: // array32
		ti->container = 1;
		ti->lenbytes  = 4;
		return (true);
	case 0xde: // map16
		ti->container = 2;
		ti->lenbytes  = 2;
		return (true);
	case 0xdf: // map32
		ti->container = 2;
		ti->lenbytes  = 4;
		return (true);
	default: // 0xc1: never used
		return (false);
	}
}

// Reads a type byte and its length or count field.  For containers *countp
// is the number of elements (pairs doubled); for scalars *payloadp the
// bytes that follow.
static bool
read_head(const uint8_t *b, size_t len, size_t *off, typeinfo *ti,
    uint64_t *countp, uint64_t *payloadp)
{
	uint64_t n;

	if (*off >= len) {
		return (false);
	}
	if (!type_info(b[*off], ti, &n)) {
		return (false);
	}
	(*off)++;
	if (ti->lenbytes != 0 && !read_be(b, len, off, ti->lenbytes, &n)) {
		return (false);
	}
	if (ti->container != 0) {
		*countp   = ti->container == 2 ? 2 * n : n;
		*payloadp = 0;
	} else {
		*countp   = 0;
		*payloadp = ti->lenbytes != 0 ? n + ti->extra : ti->fixed;
	}
	return (true);
}

static bool
skip(const uint8_t *b, size_t len, size_t *off, unsigned depth_left)
{
	typeinfo ti;
	uint64_t count;
	uint64_t payload;

	if (!read_head(b, len, off, &ti, &count, &payload)) {
		return (false);
	}
	if (payload > len - *off) {
		return (false);
	}
	*off += (size_t) payload;
	if (ti.container == 0) {
		return (true);
	}
	// Every element takes at least one byte: a count larger than the
	// bytes left is a lie, refused before anyone allocates for it.
	if (depth_left == 0 || count > len - *off) {
		return (false);
	}
	for (uint64_t i = 0; i < count; i++) {
		if (!skip(b, len, off, depth_left - 1)) {
			return (false);
		}
	}
	return (true);
}

mpb_err
mpbi_check(const void *buf, size_t len, unsigned max_depth)
{
	size_t off = 0;

	if (max_depth > MPBI_MAX_DEPTH_CAP) {
		max_depth = MPBI_MAX_DEPTH_CAP;
	}
	if (!skip(buf, len, &off, max_depth) || off != len) {
		return (MPB_EPROTO);
	}
	return (MPB_OK);
}

mpb_err
mpbi_frame_parse(const void *buf, size_t len, unsigned max_depth, mpbi_frame *f)
{
	const uint8_t *b = buf;
	size_t         off = 0;
	typeinfo       ti;
	uint64_t       count;
	uint64_t       payload;

	if (max_depth > MPBI_MAX_DEPTH_CAP) {
		max_depth = MPBI_MAX_DEPTH_CAP;
	}
	if (max_depth == 0 || !read_head(b, len, &off, &ti, &count, &payload)) {
		return (MPB_EPROTO);
	}
	if (ti.container != 1 || count == 0 || count > MPBI_MAX_ELEMS) {
		return (MPB_EPROTO);
	}
	f->nelem = (size_t) count;
	for (size_t i = 0; i < f->nelem; i++) {
		size_t start = off;
		if (!skip(b, len, &off, max_depth - 1)) {
			return (MPB_EPROTO);
		}
		f->elem[i].ptr = b + start;
		f->elem[i].len = off - start;
	}
	if (off != len) {
		return (MPB_EPROTO);
	}
	return (MPB_OK);
}

mpb_err
mpbi_span_next(mpbi_span *rest, mpbi_span *elem)
{
	size_t off = 0;

	if (!skip(rest->ptr, rest->len, &off, MPBI_MAX_DEPTH_CAP)) {
		return (MPB_EPROTO);
	}
	elem->ptr = rest->ptr;
	elem->len = off;
	rest->ptr += off;
	rest->len -= off;
	return (MPB_OK);
}

mpb_err
mpbi_span_array(mpbi_span s, size_t *np, mpbi_span *body)
{
	size_t   off = 0;
	typeinfo ti;
	uint64_t count;
	uint64_t payload;

	if (!read_head(s.ptr, s.len, &off, &ti, &count, &payload) ||
	    ti.container != 1) {
		return (MPB_EINVAL);
	}
	*np       = (size_t) count;
	body->ptr = s.ptr + off;
	body->len = s.len - off;
	return (MPB_OK);
}

// Decodes one number or boolean with msgpack-c.  Containers, strings and
// bins are refused before msgpack-c sees them, so it needs no zone: these
// types never allocate.
static bool
decode_scalar(mpbi_span s, msgpack_object *o)
{
	size_t   off = 0;
	typeinfo ti;
	uint64_t n;

	if (s.len == 0 || !type_info(s.ptr[0], &ti, &n) || ti.container != 0 ||
	    ti.lenbytes != 0 || (s.ptr[0] >= 0xa0 && s.ptr[0] <= 0xbf) ||
	    (s.ptr[0] >= 0xd4 && s.ptr[0] <= 0xd8)) {
		return (false);
	}
	if (msgpack_unpack((const char *) s.ptr, s.len, &off, NULL, o) !=
	        MSGPACK_UNPACK_SUCCESS ||
	    off != s.len) {
		return (false);
	}
	return (true);
}

mpb_err
mpbi_span_uint(mpbi_span s, uint64_t *vp)
{
	msgpack_object o;

	if (!decode_scalar(s, &o) || o.type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		return (MPB_EINVAL);
	}
	*vp = o.via.u64;
	return (MPB_OK);
}

mpb_err
mpbi_span_int(mpbi_span s, int64_t *vp)
{
	msgpack_object o;

	if (!decode_scalar(s, &o)) {
		return (MPB_EINVAL);
	}
	if (o.type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*vp = o.via.i64;
		return (MPB_OK);
	}
	if (o.type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    o.via.u64 <= (uint64_t) INT64_MAX) {
		*vp = (int64_t) o.via.u64;
		return (MPB_OK);
	}
	return (MPB_EINVAL);
}

mpb_err
mpbi_span_bool(mpbi_span s, bool *vp)
{
	msgpack_object o;

	if (!decode_scalar(s, &o) || o.type != MSGPACK_OBJECT_BOOLEAN) {
		return (MPB_EINVAL);
	}
	*vp = o.via.boolean;
	return (MPB_OK);
}

// Strings and bins are read from their header here rather than through
// msgpack_unpack: msgpack-c 4.0 creates (and, without a caller's zone,
// leaks) an 8 KiB zone for every str or bin it decodes, though the result
// points into the input anyway.
static mpb_err
span_strbin(mpbi_span s, bool want_str, bool want_bin, const uint8_t **pp,
    size_t *lenp)
{
	size_t   off = 0;
	typeinfo ti;
	uint64_t count;
	uint64_t payload;
	uint8_t  t;
	bool     is_str;
	bool     is_bin;

	if (s.len == 0) {
		return (MPB_EINVAL);
	}
	t      = s.ptr[0];
	is_str = (t >= 0xa0 && t <= 0xbf) || t == 0xd9 || t == 0xda || t == 0xdb;
	is_bin = t == 0xc4 || t == 0xc5 || t == 0xc6;
	if (!((want_str && is_str) || (want_bin && is_bin))) {
		return (MPB_EINVAL);
	}
	if (!read_head(s.ptr, s.len, &off, &ti, &count, &payload) ||
	    payload != s.len - off) {
		return (MPB_EINVAL);
	}
	*pp   = s.ptr + off;
	*lenp = (size_t) payload;
	return (MPB_OK);
}

mpb_err
mpbi_span_str(mpbi_span s, const char **pp, size_t *lenp)
{
	const uint8_t *p;
	size_t         len;

	if (span_strbin(s, true, false, &p, &len) != MPB_OK) {
		return (MPB_EINVAL);
	}
	*pp   = (const char *) p;
	*lenp = len;
	return (MPB_OK);
}

mpb_err
mpbi_span_bytes(mpbi_span s, const uint8_t **pp, size_t *lenp)
{
	return (span_strbin(s, true, true, pp, lenp));
}

bool
mpbi_span_is_nil(mpbi_span s)
{
	return (s.len == 1 && s.ptr[0] == 0xc0);
}

mpb_err
mpbi_reply_parse(const void *buf, size_t len, unsigned max_depth,
    mpbi_frame *f, const char **textp, size_t *textlenp)
{
	uint64_t    code;
	const char *text = "";
	size_t      textlen = 0;

	if (mpbi_frame_parse(buf, len, max_depth, f) != MPB_OK ||
	    mpbi_span_uint(f->elem[0], &code) != MPB_OK) {
		return (MPB_EPROTO);
	}
	if (code == 0) {
		return (MPB_OK);
	}
	if (code > INT32_MAX || f->nelem != 2 ||
	    mpbi_span_str(f->elem[1], &text, &textlen) != MPB_OK) {
		return (MPB_EPROTO);
	}
	if (textp != NULL) {
		*textp    = text;
		*textlenp = textlen;
	}
	return ((mpb_err) code);
}
