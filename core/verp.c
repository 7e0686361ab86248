/* verp.c - signed VERP return paths (see verp.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "digest.h"
#include "strutil.h"
#include "verp.h"

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* Lowercase base32 (RFC 4648 alphabet, no padding) of n bytes. */
static void
base32(const unsigned char *in, size_t n, char *out)
{
	unsigned long long acc = 0;
	size_t i, o = 0;
	int bits = 0;

	for (i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

/*
 * The tag of "<id>.<role>.<address>" into tag (VERP_TAG_CHARS + 1 bytes),
 * the address as its key (strutil.h: the way accounts are matched).
 * Returns 0, or -1 when the address is empty or too long.
 */
static int
make_tag(long long id, const char *role, const char *address,
    const void *key, size_t klen, char tag[VERP_TAG_CHARS + 1])
{
	unsigned char mac[32];
	char msg[64 + VERP_SIGNED_MAX];
	size_t al, i;
	int n;

	if (address == NULL)
		return -1;
	address = addr_span(address, &al);
	if (al == 0 || al > VERP_SIGNED_MAX)
		return -1;
	n = snprintf(msg, sizeof msg, "%lld.%s.", id, role);
	if (n < 0 || (size_t)n + al > sizeof msg)
		return -1;
	for (i = 0; i < al; i++) {
		unsigned char c = (unsigned char)address[i];

		msg[(size_t)n + i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	digest_hmac_sha256(key, klen, msg, (size_t)n + al, mac);
	base32(mac, VERP_TAG_BYTES, tag);
	return 0;
}

/* Split return_path at '@'; 0 and lengths, or -1. */
static int
split(const char *rp, size_t *local_len, const char **domain)
{
	const char *at = strchr(rp, '@');

	if (at == NULL || at == rp || at[1] == '\0' || strchr(at + 1, '@') ||
	    memchr(rp, '+', (size_t)(at - rp)) != NULL)
		return -1;
	*local_len = (size_t)(at - rp);
	*domain = at + 1;
	return 0;
}

int
verp_encode(const char *return_path, long long id, enum role role,
    const char *address, const void *key, size_t klen, char *out,
    size_t outlen)
{
	const char *rname = policy_role_name(role), *domain;
	char tag[VERP_TAG_CHARS + 1];
	size_t llen;
	int n;

	if (rname == NULL || id < 0 || split(return_path, &llen, &domain) == -1 ||
	    make_tag(id, rname, address, key, klen, tag) == -1)
		return -1;
	n = snprintf(out, outlen, "%.*s+%lld.%s.%s@%s", (int)llen, return_path,
	    id, rname, tag, domain);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Constant-time comparison of two equal-length strings. */
static int
same(const char *a, const char *b, size_t n)
{
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

int
verp_parse(const char *address, const char *return_path, struct verp_tag *t)
{
	static const enum role roles[] = { ROLE_PRIMARY, ROLE_SECONDARY,
		ROLE_PENDING, ROLE_INVITATION };
	const char *domain, *at, *p, *dot1, *dot2;
	char idbuf[24], rbuf[16];
	unsigned long long id;
	size_t llen, i, tlen;

	if (split(return_path, &llen, &domain) == -1)
		return 0;
	at = strrchr(address, '@');
	if (at == NULL || strcasecmp(at + 1, domain) != 0 ||
	    (size_t)(at - address) < llen + 1 ||
	    strncasecmp(address, return_path, llen) != 0 ||
	    address[llen] != '+')
		return 0;
	/* From here on it claims to be ours: anything wrong is a forgery. */
	p = address + llen + 1;
	dot1 = memchr(p, '.', (size_t)(at - p));
	if (dot1 == NULL)
		return -1;
	dot2 = memchr(dot1 + 1, '.', (size_t)(at - dot1 - 1));
	if (dot2 == NULL || (size_t)(dot1 - p) >= sizeof idbuf ||
	    (size_t)(dot2 - dot1 - 1) >= sizeof rbuf)
		return -1;
	memcpy(idbuf, p, (size_t)(dot1 - p));
	idbuf[dot1 - p] = '\0';
	memcpy(rbuf, dot1 + 1, (size_t)(dot2 - dot1 - 1));
	rbuf[dot2 - dot1 - 1] = '\0';
	str_lower(rbuf);
	tlen = (size_t)(at - dot2 - 1);
	if (parse_uint(idbuf, 0, 0x7fffffffffffffffULL, &id) == -1 ||
	    tlen != VERP_TAG_CHARS)
		return -1;
	for (i = 0; i < sizeof roles / sizeof roles[0]; i++) {
		if (strcmp(rbuf, policy_role_name(roles[i])) != 0)
			continue;
		t->id = (long long)id;
		t->role = roles[i];
		memcpy(t->mac, dot2 + 1, tlen);
		t->mac[tlen] = '\0';
		str_lower(t->mac);
		return 1;
	}
	return -1;
}

int
verp_verify(const struct verp_tag *t, const char *address, const void *key,
    size_t klen)
{
	const char *rname = policy_role_name(t->role);
	char want[VERP_TAG_CHARS + 1];

	if (rname == NULL || make_tag(t->id, rname, address, key, klen,
	    want) == -1)
		return 0;
	return same(want, t->mac, VERP_TAG_CHARS);
}
