/* test_verp.c - signed VERP return paths: round trip, forgeries, and the
 * address the tag signs. */
#include <criterion/criterion.h>
#include <string.h>

#include "verp.h"

static const char key[] = "0123456789abcdef-secret";
#define RP "bounces@platform.example"

/* Encode for (id, role, address), then parse; the parsed tag. */
static struct verp_tag
tagged(long long id, enum role role, const char *address)
{
	char a[VERP_ADDRESS_MAX];
	struct verp_tag t;

	cr_assert_eq(verp_encode(RP, id, role, address, key, sizeof key - 1,
	    a, sizeof a), 0);
	cr_assert_eq(verp_parse(a, RP, &t), 1, "%s", a);
	return t;
}

Test(verp, round_trip_every_role)
{
	static const enum role roles[] = { ROLE_PRIMARY, ROLE_SECONDARY,
		ROLE_PENDING, ROLE_INVITATION };
	char a[VERP_ADDRESS_MAX];
	struct verp_tag t;
	size_t i;

	for (i = 0; i < 4; i++) {
		cr_assert_eq(verp_encode(RP, 4242, roles[i], "bob@example.com",
		    key, sizeof key - 1, a, sizeof a), 0);
		cr_assert_eq(strncmp(a, "bounces+4242.", 13), 0, "%s", a);
		cr_assert_eq(verp_parse(a, RP, &t), 1, "%s", a);
		cr_assert_eq(t.id, 4242);
		cr_assert_eq(t.role, roles[i]);
		cr_assert(verp_verify(&t, "bob@example.com", key,
		    sizeof key - 1), "%s", a);
	}
}

Test(verp, case_of_the_return_path_does_not_matter)
{
	char a[VERP_ADDRESS_MAX];
	struct verp_tag t;
	size_t i;

	verp_encode(RP, 7, ROLE_SECONDARY, "zoe@example.com", key,
	    sizeof key - 1, a, sizeof a);
	for (i = 0; a[i]; i++)
		if (a[i] >= 'a' && a[i] <= 'z')
			a[i] = (char)(a[i] - 32);
	cr_assert_eq(verp_parse(a, RP, &t), 1, "%s", a);
	cr_assert_eq(t.id, 7);
	cr_assert(verp_verify(&t, "zoe@example.com", key, sizeof key - 1));
}

/* The address is matched the way accounts are: trimmed, any case. */
Test(verp, stored_address_in_another_case_or_with_blanks_verifies)
{
	struct verp_tag t = tagged(7, ROLE_PRIMARY, "Zoe@Example.com");

	cr_assert(verp_verify(&t, "zoe@example.com", key, sizeof key - 1));
	cr_assert(verp_verify(&t, " ZOE@EXAMPLE.COM\t", key, sizeof key - 1));
}

/* The late bounce of an address the account no longer has: its tag is
 * genuine, but names the old address, not the new one. */
Test(verp, tag_of_a_replaced_address_does_not_verify)
{
	struct verp_tag t = tagged(7, ROLE_PRIMARY, "old@example.com");

	cr_assert(verp_verify(&t, "old@example.com", key, sizeof key - 1));
	cr_assert_not(verp_verify(&t, "new@example.com", key,
	    sizeof key - 1));
	cr_assert_not(verp_verify(&t, NULL, key, sizeof key - 1));
	cr_assert_not(verp_verify(&t, "  ", key, sizeof key - 1));
	/* nor another account's, nor another role's */
	t.id = 8;
	cr_assert_not(verp_verify(&t, "old@example.com", key,
	    sizeof key - 1));
	t.id = 7;
	t.role = ROLE_SECONDARY;
	cr_assert_not(verp_verify(&t, "old@example.com", key,
	    sizeof key - 1));
}

struct forged {
	char addr[96];
	int want;
};

Test(verp, forgeries_and_strangers)
{
	char good[VERP_ADDRESS_MAX], other[VERP_ADDRESS_MAX];
	struct verp_tag t = { .id = -1, .role = ROLE_NONE };
	const struct forged cases[] = {
		{ "alice@example.com", 0 },
		{ RP, 0 },
		{ "bounces+1.primary.aaaaaaaaaaaaaaaa@other.example", 0 },
		{ "bouncesx+1.primary.aaaaaaaaaaaaaaaa@platform.example", 0 },
		{ "bounces+1.primary@platform.example", -1 },
		{ "bounces+x.primary.aaaaaaaaaaaaaaaa@platform.example", -1 },
		{ "bounces+1.primary.aaaa@platform.example", -1 },
		{ "bounces+1.primary.aaaaaaaaaaaaaaaaa@platform.example", -1 },
		{ "bounces+1.owner.aaaaaaaaaaaaaaaa@platform.example", -1 },
		{ "bounces+010.primary.aaaaaaaaaaaaaaaa@platform.example", -1 },
		{ "bounces+@platform.example", -1 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_assert_eq(verp_parse(cases[i].addr, RP, &t), cases[i].want,
		    "%s", cases[i].addr);
	cr_assert_eq(t.id, -1, "a rejected tag set the id");
	/* Well formed, but made up: it parses and does not verify. */
	cr_assert_eq(verp_parse("bounces+1.primary.aaaaaaaaaaaaaaaa@"
	    "platform.example", RP, &t), 1);
	cr_assert_not(verp_verify(&t, "alice@example.com", key,
	    sizeof key - 1));
	/* A valid tag for account 1 does not verify for account 2. */
	verp_encode(RP, 1, ROLE_PRIMARY, "alice@example.com", key,
	    sizeof key - 1, good, sizeof good);
	strcpy(other, good);
	other[8] = '2';
	cr_assert_eq(verp_parse(other, RP, &t), 1, "%s", other);
	cr_assert_not(verp_verify(&t, "alice@example.com", key,
	    sizeof key - 1), "%s", other);
	/* Nor with another secret. */
	cr_assert_eq(verp_parse(good, RP, &t), 1);
	cr_assert(verp_verify(&t, "alice@example.com", key, sizeof key - 1));
	cr_assert_not(verp_verify(&t, "alice@example.com", "other", 5));
	/* Nor for another role. */
	strcpy(other, good);
	memcpy(strstr(other, "primary"), "pending", 7);
	cr_assert_eq(verp_parse(other, RP, &t), 1, "%s", other);
	cr_assert_not(verp_verify(&t, "alice@example.com", key,
	    sizeof key - 1), "%s", other);
}

Test(verp, encode_refuses_bad_input)
{
	char a[VERP_ADDRESS_MAX], tiny[10], huge[VERP_SIGNED_MAX + 8];

	cr_assert_eq(verp_encode("no-at-sign", 1, ROLE_PRIMARY, "a@b", key, 3,
	    a, sizeof a), -1);
	cr_assert_eq(verp_encode("b+x@d.example", 1, ROLE_PRIMARY, "a@b", key,
	    3, a, sizeof a), -1);
	cr_assert_eq(verp_encode("b@d.example", 1, ROLE_NONE, "a@b", key, 3, a,
	    sizeof a), -1);
	cr_assert_eq(verp_encode("b@d.example", 1, ROLE_PRIMARY, "a@b", key, 3,
	    tiny, sizeof tiny), -1);
	cr_assert_eq(verp_encode("b@d.example", 1, ROLE_PRIMARY, NULL, key, 3,
	    a, sizeof a), -1);
	cr_assert_eq(verp_encode("b@d.example", 1, ROLE_PRIMARY, " \t", key, 3,
	    a, sizeof a), -1);
	memset(huge, 'x', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	huge[3] = '@';
	cr_assert_eq(verp_encode("b@d.example", 1, ROLE_PRIMARY, huge, key, 3,
	    a, sizeof a), -1);
}
