/*
 * digest.h - SHA-256 and HMAC-SHA256 (GnuTLS), as lowercase hex.
 */
#ifndef REBOND_DIGEST_H
#define REBOND_DIGEST_H

#include <stddef.h>

#define DIGEST_HEX_LEN 64

/* Hex SHA-256 of (data, len) into out (DIGEST_HEX_LEN + 1 bytes). */
void digest_sha256_hex(const void *data, size_t len,
    char out[DIGEST_HEX_LEN + 1]);
/* Raw HMAC-SHA256 of (data, len) with (key, klen) into out (32 bytes). */
void digest_hmac_sha256(const void *key, size_t klen, const void *data,
    size_t len, unsigned char out[32]);

#endif
