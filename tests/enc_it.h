// enc_it.h -- small encoded msgpack values for the integration tests
// (dict_list_it.h, test_durable_it.c, test_queue_it.c, test_lease_it.c).  Include after cmocka.h.

#ifndef MPBT_ENC_IT_H
#define MPBT_ENC_IT_H

#include <stdint.h>
#include <string.h>

#include <msgpack.h>

// An encoded msgpack value in a small buffer.
typedef struct enc {
	uint8_t b[64];
	size_t  n;
} enc;

static inline enc
e_int(int64_t v)
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;
	enc             e;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_int64(&pk, v);
	memcpy(e.b, sb.data, sb.size);
	e.n = sb.size;
	msgpack_sbuffer_destroy(&sb);
	return (e);
}

// A short string (a fixstr: under 31 bytes).
static inline enc
e_str(const char *s)
{
	enc e;

	e.n = strlen(s);
	assert_true(e.n < 31);
	e.b[0] = (uint8_t) (0xa0 | e.n);
	memcpy(e.b + 1, s, e.n);
	e.n++;
	return (e);
}

// The integer a received value encodes (the test fails otherwise).
static inline int64_t
d_int(const void *val, size_t len)
{
	size_t           off = 0;
	msgpack_unpacked u;
	int64_t          v;

	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, val, len, &off),
	    MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, len);
	assert_true(u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    u.data.type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
	v = u.data.type == MSGPACK_OBJECT_NEGATIVE_INTEGER
	    ? u.data.via.i64
	    : (int64_t) u.data.via.u64;
	msgpack_unpacked_destroy(&u);
	return (v);
}

#endif // MPBT_ENC_IT_H
