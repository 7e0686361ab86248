/*
 * verp.h - signed VERP return paths: bounces+<id>.<role>.<tag>@domain.
 *
 * The platform sends each mail with a return path that names the account
 * and the role of the address it was sent to, signed with a secret:
 * tag = the first VERP_TAG_BYTES of
 * HMAC-SHA256(secret, "<id>.<role>.<address>"), in lowercase base32, where
 * address is the one the mail went to (trimmed, ASCII letters in
 * lowercase). A bounce that comes back to such an address names its
 * account for certain, and only while that account still has that
 * address in that role: the late bounce of an address replaced since
 * does not verify against the new one. A forged DSN cannot name an
 * account (DESIGN.md "Identifying the account").
 */
#ifndef REBOND_VERP_H
#define REBOND_VERP_H

#include <stddef.h>

#include "policy.h"

#define VERP_TAG_BYTES 10	/* 80 bits of HMAC, 16 base32 characters */
#define VERP_TAG_CHARS 16	/* base32 characters of a tag */
#define VERP_ADDRESS_MAX 320
/* Bytes of a signed address at most (longer: not signed, not verified). */
#define VERP_SIGNED_MAX 512

/* A tag read from a return path, not verified yet. */
struct verp_tag {
	long long id;
	enum role role;
	char mac[VERP_TAG_CHARS + 1];	/* lowercase */
};

/*
 * Write the return path for account id, role and the address the mail
 * goes to into out. return_path is the plain address
 * ("bounces@platform.example"). Returns 0, or -1 if return_path is not
 * local@domain, the local part already holds '+', address is empty or
 * longer than VERP_SIGNED_MAX, or out is too small.
 */
int verp_encode(const char *return_path, long long id, enum role role,
    const char *address, const void *key, size_t klen, char *out,
    size_t outlen);

/*
 * Read address (any case) as return_path's tagged form. Returns 1 and
 * fills *t when it has that form; 0 when address is not a tagged form of
 * return_path at all; -1 when it claims to be one but its id, role or
 * tag is malformed (a forgery).
 */
int verp_parse(const char *address, const char *return_path,
    struct verp_tag *t);

/*
 * Was t signed with key for the address (the account's current one in
 * t->role; NULL or empty: none)? Compared in constant time. Returns 1 or
 * 0 (forged, another secret, or the account's address changed since).
 */
int verp_verify(const struct verp_tag *t, const char *address,
    const void *key, size_t klen);

#endif
