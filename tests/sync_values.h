// sync_values.h -- integers as msgpack values, for syncclient.c and
// test_sync_it.c (header-only: both are single-file programs).

#ifndef MPBT_SYNC_VALUES_H
#define MPBT_SYNC_VALUES_H

#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "mpb.h"

// Packs v as one msgpack integer into buf (9 bytes at most); returns its
// length.
static inline size_t
mpbt_pack_int(int64_t v, char buf[16])
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;
	size_t          n;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_int64(&pk, v);
	n = sb.size;
	memcpy(buf, sb.data, n);
	msgpack_sbuffer_destroy(&sb);
	return (n);
}

// Reads data[0..len) as exactly one msgpack integer: MPB_OK with *vp, or
// MPB_EPROTO.
static inline mpb_err
mpbt_unpack_int(const void *data, size_t len, int64_t *vp)
{
	msgpack_unpacked u;
	size_t           off = 0;
	mpb_err          rv  = MPB_OK;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len) {
		rv = MPB_EPROTO;
	} else if (u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*vp = (int64_t) u.data.via.u64;
	} else if (u.data.type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*vp = u.data.via.i64;
	} else {
		rv = MPB_EPROTO;
	}
	msgpack_unpacked_destroy(&u);
	return (rv);
}

#endif // MPBT_SYNC_VALUES_H
