/* reason.c - reason names and their categories (see reason.h). */
#include <string.h>

#include "reason.h"

static const char *const category_names[CAT_COUNT] = {
	[CAT_HARD] = "hard",
	[CAT_QUOTA] = "quota",
	[CAT_BLOCKED] = "blocked",
	[CAT_SPF] = "spf",
	[CAT_SPAM] = "spam",
	[CAT_TRANSIENT] = "transient",
	[CAT_COMPLAINT] = "complaint",
	[CAT_AUTOREPLY] = "autoreply",
	[CAT_DELIVERED] = "delivered",
	[CAT_UNKNOWN] = "unknown",
};

/* Sisimai's reasons and rebond's categories (shared/corpus/categories.tsv). */
static const struct {
	const char *name;
	enum category category;
} reasons[] = {
	{ "userunknown", CAT_HARD },
	{ "hostunknown", CAT_HARD },
	{ "hasmoved", CAT_HARD },
	{ "notaccept", CAT_HARD },
	{ "suspend", CAT_HARD },
	{ "mailboxfull", CAT_QUOTA },
	{ "blocked", CAT_BLOCKED },
	{ "badreputation", CAT_BLOCKED },
	{ "toomanyconn", CAT_BLOCKED },
	{ "speeding", CAT_BLOCKED },
	{ "ratelimited", CAT_BLOCKED },
	{ "requireptr", CAT_BLOCKED },
	{ "norelaying", CAT_BLOCKED },
	{ "notcompliantrfc", CAT_BLOCKED },
	{ "securityerror", CAT_BLOCKED },
	{ "failedstarttls", CAT_BLOCKED },
	{ "authfailure", CAT_SPF },
	{ "spamdetected", CAT_SPAM },
	{ "policyviolation", CAT_SPAM },
	{ "rejected", CAT_SPAM },
	{ "filtered", CAT_SPAM },
	{ "virusdetected", CAT_SPAM },
	{ "contenterror", CAT_SPAM },
	{ "expired", CAT_TRANSIENT },
	{ "networkerror", CAT_TRANSIENT },
	{ "systemerror", CAT_TRANSIENT },
	{ "systemfull", CAT_TRANSIENT },
	{ "mailererror", CAT_TRANSIENT },
	{ "mesgtoobig", CAT_TRANSIENT },
	{ "exceedlimit", CAT_TRANSIENT },
	{ "syntaxerror", CAT_TRANSIENT },
	{ "onhold", CAT_TRANSIENT },
	{ "feedback", CAT_COMPLAINT },
	{ "vacation", CAT_AUTOREPLY },
	{ "delivered", CAT_DELIVERED },
	{ "undefined", CAT_UNKNOWN },
};

const char *
category_name(enum category c)
{
	if ((unsigned)c >= CAT_COUNT)
		return "unknown";
	return category_names[c];
}

int
category_parse(const char *name, enum category *c_r)
{
	int c;

	for (c = 0; c < CAT_COUNT; c++)
		if (strcmp(category_names[c], name) == 0) {
			*c_r = (enum category)c;
			return 0;
		}
	return -1;
}

const char *
reason_lookup(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (strcmp(reasons[i].name, name) == 0)
			return reasons[i].name;
	return NULL;
}

enum category
reason_category(const char *reason)
{
	size_t i;

	for (i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (strcmp(reasons[i].name, reason) == 0)
			return reasons[i].category;
	return CAT_UNKNOWN;
}
