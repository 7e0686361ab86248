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

/* Sisimai's reasons and rebond's categories (shared/corpus/categories.tsv),
 * by enum reason_id. */
static const struct {
	const char *name;
	enum category category;
} reasons[RSN_COUNT] = {
	[RSN_USERUNKNOWN] = { "userunknown", CAT_HARD },
	[RSN_HOSTUNKNOWN] = { "hostunknown", CAT_HARD },
	[RSN_HASMOVED] = { "hasmoved", CAT_HARD },
	[RSN_NOTACCEPT] = { "notaccept", CAT_HARD },
	[RSN_SUSPEND] = { "suspend", CAT_HARD },
	[RSN_MAILBOXFULL] = { "mailboxfull", CAT_QUOTA },
	[RSN_BLOCKED] = { "blocked", CAT_BLOCKED },
	[RSN_BADREPUTATION] = { "badreputation", CAT_BLOCKED },
	[RSN_TOOMANYCONN] = { "toomanyconn", CAT_BLOCKED },
	[RSN_SPEEDING] = { "speeding", CAT_BLOCKED },
	[RSN_RATELIMITED] = { "ratelimited", CAT_BLOCKED },
	[RSN_REQUIREPTR] = { "requireptr", CAT_BLOCKED },
	[RSN_NORELAYING] = { "norelaying", CAT_BLOCKED },
	[RSN_NOTCOMPLIANTRFC] = { "notcompliantrfc", CAT_BLOCKED },
	[RSN_SECURITYERROR] = { "securityerror", CAT_BLOCKED },
	[RSN_FAILEDSTARTTLS] = { "failedstarttls", CAT_BLOCKED },
	[RSN_AUTHFAILURE] = { "authfailure", CAT_SPF },
	[RSN_SPAMDETECTED] = { "spamdetected", CAT_SPAM },
	[RSN_POLICYVIOLATION] = { "policyviolation", CAT_SPAM },
	[RSN_REJECTED] = { "rejected", CAT_SPAM },
	[RSN_FILTERED] = { "filtered", CAT_SPAM },
	[RSN_VIRUSDETECTED] = { "virusdetected", CAT_SPAM },
	[RSN_CONTENTERROR] = { "contenterror", CAT_SPAM },
	[RSN_EXPIRED] = { "expired", CAT_TRANSIENT },
	[RSN_NETWORKERROR] = { "networkerror", CAT_TRANSIENT },
	[RSN_SYSTEMERROR] = { "systemerror", CAT_TRANSIENT },
	[RSN_SYSTEMFULL] = { "systemfull", CAT_TRANSIENT },
	[RSN_MAILERERROR] = { "mailererror", CAT_TRANSIENT },
	[RSN_MESGTOOBIG] = { "mesgtoobig", CAT_TRANSIENT },
	[RSN_EXCEEDLIMIT] = { "exceedlimit", CAT_TRANSIENT },
	[RSN_SYNTAXERROR] = { "syntaxerror", CAT_TRANSIENT },
	[RSN_ONHOLD] = { "onhold", CAT_TRANSIENT },
	[RSN_FEEDBACK] = { "feedback", CAT_COMPLAINT },
	[RSN_VACATION] = { "vacation", CAT_AUTOREPLY },
	[RSN_DELIVERED] = { "delivered", CAT_DELIVERED },
	[RSN_UNDEFINED] = { "undefined", CAT_UNKNOWN },
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
reason_name(enum reason_id id)
{
	if ((unsigned)id >= RSN_COUNT)
		return reasons[RSN_UNDEFINED].name;
	return reasons[id].name;
}

int
reason_number(const char *name)
{
	int i;

	for (i = 0; i < RSN_COUNT; i++)
		if (reasons[i].name[0] == name[0] &&
		    strcmp(reasons[i].name, name) == 0)
			return i;
	return -1;
}

enum category
reason_id_category(enum reason_id id)
{
	if ((unsigned)id >= RSN_COUNT)
		return CAT_UNKNOWN;
	return reasons[id].category;
}

const char *
reason_lookup(const char *name)
{
	int i = reason_number(name);

	return i < 0 ? NULL : reasons[i].name;
}

enum category
reason_category(const char *reason)
{
	int i = reason_number(reason);

	return i < 0 ? CAT_UNKNOWN : reasons[i].category;
}
