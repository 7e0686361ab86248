/* test_verp.c - signed VERP return paths: round trip, forgeries. */
#include <criterion/criterion.h>
#include <string.h>

#include "verp.h"

static const char key[] = "0123456789abcdef-secret";

Test(verp, round_trip_every_role)
{
	static const enum role roles[] = { ROLE_PRIMARY, ROLE_SECONDARY,
		ROLE_PENDING, ROLE_INVITATION };
	char a[VERP_ADDRESS_MAX];
	long long id;
	enum role r;
	size_t i;

	for (i = 0; i < 4; i++) {
		cr_assert_eq(verp_encode("bounces@platform.example", 4242,
		    roles[i], key, sizeof key - 1, a, sizeof a), 0);
		cr_assert_eq(strncmp(a, "bounces+4242.", 13), 0, "%s", a);
		cr_assert_eq(verp_decode(a, "bounces@platform.example", key,
		    sizeof key - 1, &id, &r), 1, "%s", a);
		cr_assert_eq(id, 4242);
		cr_assert_eq(r, roles[i]);
	}
}

Test(verp, case_of_the_address_does_not_matter)
{
	char a[VERP_ADDRESS_MAX];
	long long id;
	enum role r;
	size_t i;

	verp_encode("bounces@platform.example", 7, ROLE_SECONDARY, key,
	    sizeof key - 1, a, sizeof a);
	for (i = 0; a[i]; i++)
		if (a[i] >= 'a' && a[i] <= 'z')
			a[i] = (char)(a[i] - 32);
	cr_assert_eq(verp_decode(a, "bounces@platform.example", key,
	    sizeof key - 1, &id, &r), 1, "%s", a);
	cr_assert_eq(id, 7);
}

struct forged {
	char addr[96];
	int want;
};

Test(verp, forgeries_and_strangers)
{
	char good[VERP_ADDRESS_MAX], other[VERP_ADDRESS_MAX];
	long long id = -1;
	enum role r = ROLE_NONE;
	const struct forged cases[] = {
		{ "alice@example.com", 0 },
		{ "bounces@platform.example", 0 },
		{ "bounces+1.primary.aaaaaaaaaaaaaaaa@other.example", 0 },
		{ "bouncesx+1.primary.aaaaaaaaaaaaaaaa@platform.example", 0 },
		{ "bounces+1.primary.aaaaaaaaaaaaaaaa@platform.example", -1 },
		{ "bounces+1.primary@platform.example", -1 },
		{ "bounces+x.primary.aaaa@platform.example", -1 },
		{ "bounces+1.owner.aaaaaaaaaaaaaaaa@platform.example", -1 },
		{ "bounces+010.primary.aaaaaaaaaaaaaaaa@platform.example", -1 },
		{ "bounces+@platform.example", -1 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_assert_eq(verp_decode(cases[i].addr,
		    "bounces@platform.example", key, sizeof key - 1, &id, &r),
		    cases[i].want, "%s", cases[i].addr);
	cr_assert_eq(id, -1, "a rejected tag set the id");
	/* A valid tag for account 1 does not verify for account 2. */
	verp_encode("bounces@platform.example", 1, ROLE_PRIMARY, key,
	    sizeof key - 1, good, sizeof good);
	strcpy(other, good);
	other[8] = '2';
	cr_assert_eq(verp_decode(other, "bounces@platform.example", key,
	    sizeof key - 1, &id, &r), -1, "%s", other);
	/* Nor with another secret. */
	cr_assert_eq(verp_decode(good, "bounces@platform.example", "other", 5,
	    &id, &r), -1);
	/* Nor for another role. */
	strcpy(other, good);
	memcpy(strstr(other, "primary"), "pending", 7);
	cr_assert_eq(verp_decode(other, "bounces@platform.example", key,
	    sizeof key - 1, &id, &r), -1, "%s", other);
}

Test(verp, encode_refuses_bad_input)
{
	char a[VERP_ADDRESS_MAX], tiny[10];

	cr_assert_eq(verp_encode("no-at-sign", 1, ROLE_PRIMARY, key, 3, a,
	    sizeof a), -1);
	cr_assert_eq(verp_encode("b+x@d.example", 1, ROLE_PRIMARY, key, 3, a,
	    sizeof a), -1);
	cr_assert_eq(verp_encode("b@d.example", 1, ROLE_NONE, key, 3, a,
	    sizeof a), -1);
	cr_assert_eq(verp_encode("b@d.example", 1, ROLE_PRIMARY, key, 3, tiny,
	    sizeof tiny), -1);
}
