/* digest.c - SHA-256 and HMAC-SHA256 with GnuTLS (see digest.h). */
#include <stdio.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "digest.h"

void
digest_sha256_hex(const void *data, size_t len, char out[DIGEST_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	size_t i;

	gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, md);
	for (i = 0; i < sizeof md; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[DIGEST_HEX_LEN] = '\0';
}

void
digest_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
    unsigned char out[32])
{
	gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, klen, data, len, out);
}
