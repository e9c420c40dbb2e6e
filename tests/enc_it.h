// enc_it.h -- small encoded msgpack values for the integration tests
// (dict_list_it.h, test_durable_it.c).  Include after cmocka.h.

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

#endif // MPBT_ENC_IT_H
