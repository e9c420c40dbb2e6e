// auth.c -- the shared-secret challenge-response of the protocol.
//
// Each side proves it knows the secret without sending it, as Python's
// multiprocessing authkey handshake does, but in both directions and with
// HMAC-SHA256 (mbed TLS, which nng already links):
//
//   client_mac = HMAC(secret, "mpb-auth-v1 client" || server_nonce || client_nonce)
//   server_mac = HMAC(secret, "mpb-auth-v1 server" || server_nonce || client_nonce)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>

#include "proto.h"

mpb_err
mpbi_auth_mac(const void *secret, size_t secretlen, bool server_side,
    const uint8_t server_nonce[MPBI_AUTH_NONCE_LEN],
    const uint8_t client_nonce[MPBI_AUTH_NONCE_LEN],
    uint8_t out[MPBI_AUTH_MAC_LEN])
{
	static const char client_label[] = "mpb-auth-v1 client";
	static const char server_label[] = "mpb-auth-v1 server";
	const char       *label = server_side ? server_label : client_label;
	uint8_t           msg[sizeof(client_label) - 1 + 2 * MPBI_AUTH_NONCE_LEN];
	size_t            n = sizeof(client_label) - 1;

	memcpy(msg, label, n);
	memcpy(msg + n, server_nonce, MPBI_AUTH_NONCE_LEN);
	memcpy(msg + n + MPBI_AUTH_NONCE_LEN, client_nonce, MPBI_AUTH_NONCE_LEN);
	if (mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	        secret, secretlen, msg, sizeof(msg), out) != 0) {
		return (MPB_EINTERNAL);
	}
	return (MPB_OK);
}

bool
mpbi_auth_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t diff = 0;

	// Constant time: how much of a guess matched must not show.
	for (size_t i = 0; i < n; i++) {
		diff |= (uint8_t) (a[i] ^ b[i]);
	}
	return (diff == 0);
}

mpb_err
mpbi_auth_read_secret(const char *path, uint8_t **secretp, size_t *lenp)
{
	enum { SECRET_MAX = 4096 };
	FILE    *f;
	uint8_t *buf;
	size_t   n;

	if (path == NULL || (f = fopen(path, "rb")) == NULL) {
		return (MPB_EINVAL);
	}
	if ((buf = malloc(SECRET_MAX + 1)) == NULL) {
		fclose(f);
		return (MPB_ENOMEM);
	}
	n = fread(buf, 1, SECRET_MAX + 1, f);
	fclose(f);
	if (n > 0 && buf[n - 1] == '\n') {
		n--;
	}
	if (n == 0 || n > SECRET_MAX) {
		free(buf);
		return (MPB_EINVAL);
	}
	*secretp = buf;
	*lenp    = n;
	return (MPB_OK);
}
