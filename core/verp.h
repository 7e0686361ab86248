/*
 * verp.h - signed VERP return paths: bounces+<id>.<role>.<tag>@domain.
 *
 * The platform sends each mail with a return path that names the account
 * and the role of the address it was sent to, signed with a secret:
 * tag = the first VERP_TAG_BYTES of HMAC-SHA256(secret, "<id>.<role>"),
 * in lowercase base32. A bounce that comes back to such an address names
 * its account for certain; a forged DSN cannot name one (DESIGN.md
 * "Identifying the account").
 */
#ifndef REBOND_VERP_H
#define REBOND_VERP_H

#include <stddef.h>

#include "policy.h"

#define VERP_TAG_BYTES 10	/* 80 bits of HMAC, 16 base32 characters */
#define VERP_ADDRESS_MAX 320

/*
 * Write the tagged return path for account id and role into out.
 * return_path is the plain address ("bounces@platform.example").
 * Returns 0, or -1 if return_path is not local@domain, the local part
 * already holds '+', or out is too small.
 */
int verp_encode(const char *return_path, long long id, enum role role,
    const void *key, size_t klen, char *out, size_t outlen);

/*
 * Check address (any case) against return_path's tagged form.
 * Returns 1 and sets *id_r, *role_r for a valid tag; 0 when address is
 * not a tagged form of return_path at all; -1 when it is, but the tag,
 * id or role does not verify (a forgery or another secret).
 */
int verp_decode(const char *address, const char *return_path,
    const void *key, size_t klen, long long *id_r, enum role *role_r);

#endif
