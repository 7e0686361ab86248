/*
 * reason.h - Sisimai's reason names and the categories that decide what
 * rebond does (DESIGN.md "The help page, as rules"; the mapping is
 * shared/corpus/categories.tsv).
 */
#ifndef REBOND_REASON_H
#define REBOND_REASON_H

enum category {
	CAT_HARD = 0,
	CAT_QUOTA,
	CAT_BLOCKED,
	CAT_SPF,
	CAT_SPAM,
	CAT_TRANSIENT,
	CAT_COMPLAINT,
	CAT_AUTOREPLY,
	CAT_DELIVERED,
	CAT_UNKNOWN,
	CAT_COUNT
};

/* Sisimai's reasons, by number (the order of reason.c's table). */
enum reason_id {
	RSN_USERUNKNOWN = 0, RSN_HOSTUNKNOWN, RSN_HASMOVED, RSN_NOTACCEPT,
	RSN_SUSPEND, RSN_MAILBOXFULL, RSN_BLOCKED, RSN_BADREPUTATION,
	RSN_TOOMANYCONN, RSN_SPEEDING, RSN_RATELIMITED, RSN_REQUIREPTR,
	RSN_NORELAYING, RSN_NOTCOMPLIANTRFC, RSN_SECURITYERROR,
	RSN_FAILEDSTARTTLS, RSN_AUTHFAILURE, RSN_SPAMDETECTED,
	RSN_POLICYVIOLATION, RSN_REJECTED, RSN_FILTERED, RSN_VIRUSDETECTED,
	RSN_CONTENTERROR, RSN_EXPIRED, RSN_NETWORKERROR, RSN_SYSTEMERROR,
	RSN_SYSTEMFULL, RSN_MAILERERROR, RSN_MESGTOOBIG, RSN_EXCEEDLIMIT,
	RSN_SYNTAXERROR, RSN_ONHOLD, RSN_FEEDBACK, RSN_VACATION, RSN_DELIVERED,
	RSN_UNDEFINED,
	RSN_COUNT
};

/* The name of a reason ("userunknown"); never NULL. */
const char *reason_name(enum reason_id id);
/* The number of a reason name, or -1 if it is not one of Sisimai's. */
int reason_number(const char *name);
/* The category of a reason number. */
enum category reason_id_category(enum reason_id id);

/* "hard", "quota", ... for a category; never NULL. */
const char *category_name(enum category c);
/* Category by name; returns 0 and sets *c_r, or -1 for an unknown name. */
int category_parse(const char *name, enum category *c_r);
/*
 * The static copy of a known reason name ("userunknown", ...), or NULL
 * if name is not one of Sisimai's reasons.
 */
const char *reason_lookup(const char *name);
/* The category of a reason; CAT_UNKNOWN for an unknown name. */
enum category reason_category(const char *reason);

#endif
