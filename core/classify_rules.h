/*
 * classify_rules.h - the classifier's rules, as data (classify_rules.c).
 * Internal to core/: classify.c reads these tables.
 */
#ifndef REBOND_CLASSIFY_RULES_H
#define REBOND_CLASSIFY_RULES_H

#include <stddef.h>

#include "reason.h"

/*
 * A text rule: when pattern occurs in the normalized text (textnorm.h),
 * the reason is `reason`. Rules are tried in table order; the first that
 * matches wins, so specific wordings come before generic ones.
 *
 * Pattern syntax: plain normalized text, where '*' stands for a gap of
 * at most CLASSIFY_GAP bytes (pieces in this order, the shortest match
 * of each piece first; spaces around '*' are not part of the pieces),
 * and a '|' at either end requires a word boundary there.
 */
enum text_tier {
	TIER_STRONG = 0,	/* a specific phrase, weighed in reason order */
	TIER_DECISIVE,		/* names the cause beyond doubt: wins */
	TIER_WEAK,		/* a generic word: used only when nothing else
				 * (phrase or code) decided */
};

struct text_rule {
	const char *id;		/* "text.en.mailbox-full" */
	const char *reason;	/* Sisimai reason name */
	const char *pattern;
	enum text_tier tier;
};

/* Largest gap a '*' in a pattern stands for, in bytes. */
#define CLASSIFY_GAP	160

/* RFC 3463 status codes and the reason each names. */
struct status_rule {
	const char *code;
	const char *reason;
	const char *id;		/* "status.5.1.1" */
};

/* SMTP reply codes, used when neither text nor status decide. */
struct reply_rule {
	int code;
	const char *reason;
};

/*
 * The order in which reasons are weighed. A reason of the first list
 * wins when its text matches or the status code names it; the reasons
 * of the second list are decided by their text only, and their status
 * codes count only when no text rule matched at all.
 */
extern const enum reason_id classify_order_primary[];
extern const size_t classify_norder_primary;
extern const enum reason_id classify_order_secondary[];
extern const size_t classify_norder_secondary;

/* A provider's own error code and the reason it names. */
struct provider_code {
	const char *code;
	const char *reason;
};

/* Orange / La Poste error labels ("OFR006_102", "LPN007_416"). */
extern const struct provider_code classify_fr_codes[];
extern const size_t classify_nfr_codes;

/* The SMTP command a failure answered, as far as the text says. */
enum smtp_cmd {
	CMD_NONE = 0, CMD_CONN, CMD_EHLO, CMD_AUTH, CMD_MAIL, CMD_RCPT,
	CMD_DATA,
};

/* Words that name the SMTP command a reply answered (normalized). */
struct cmd_marker {
	const char *pattern;
	enum smtp_cmd cmd;
};
extern const struct cmd_marker classify_cmd_markers[];
extern const size_t classify_ncmd_markers;

/*
 * Providers whose own codes and wordings are published (postmaster
 * pages) or fixed by their software, recognised by a host they answer
 * from or write their bounces from, never by the text alone.
 */
enum provider {
	PROV_AOL_NOTICE = 0,	/* AOL's outbound relay wrote the bounce */
	PROV_DOCOMO,		/* NTT docomo's MX answered */
	PROV_GMAIL_NOTICE,	/* Gmail's notice ("(state N)") */
	PROV_GOOGLE_MX,		/* Gmail's or Google Workspace's MX answered */
	PROV_IMAIL,		/* Ipswitch IMail wrote the bounce */
	PROV_KDDI,		/* KDDI (au, ezweb) answered or hosts the
				 * recipient */
	PROV_MESSAGELABS,	/* Symantec MessageLabs wrote the bounce */
	PROV_MICROSOFT_MX,	/* Exchange Online's (or Outlook.com's) MX
				 * answered */
	PROV_MIMECAST,		/* Mimecast's MX answered */
	PROV_SES_INBOUND,	/* an Amazon SES receipt rule bounced it */
	PROV_SPECTRUM,		/* Spectrum (Charter) answered */
	PROV_TENCENT,		/* Tencent's (QQ Mail) MX answered */
	PROV_VERIZON,		/* Verizon Wireless's SMS gateway */
	PROV_YAHOO_MX,		/* Yahoo's MX answered */
	PROV_YAHOO_NOTICE,	/* Yahoo's outbound wrote the bounce */
	PROV_COUNT
};

/* Where a provider's host is looked for (struct provider_host.where). */
#define PH_RCPT		0x01	/* the recipient's domain */
#define PH_REMOTE	0x02	/* the Remote-MTA */
#define PH_REPORTING	0x04	/* the Reporting-MTA */
#define PH_FROM		0x08	/* the domain of the bounce's From: */
#define PH_AGENT	0x10	/* the bounce's X-Mailer, a prefix */

struct provider_host {
	enum provider prov;
	unsigned where;		/* PH_* */
	const char *prefix;	/* the host must start with this, or NULL */
	const char *domain;	/* ... and be this domain or under it; for
				 * PH_AGENT, a prefix of the X-Mailer */
};

/* A provider's wording (a text rule's pattern) and the reason it names;
 * reply, when not 0, is the SMTP reply code it comes with. */
struct provider_rule {
	enum provider prov;
	int reply;
	const char *pattern;
	const char *reason;
};

extern const struct provider_host classify_provider_hosts[];
extern const size_t classify_nprovider_hosts;
extern const struct provider_rule classify_provider_rules[];
extern const size_t classify_nprovider_rules;

/* Spectrum's "AUP#" codes: [lo, hi] and the reason the range names. */
struct code_range {
	int lo, hi;
	const char *reason;
};
extern const struct code_range classify_spectrum_codes[];
extern const size_t classify_nspectrum_codes;

/* Gmail's "(state N)": the SMTP command it failed at, and the reason
 * Gmail's notice means when no specific status code says more. */
struct gmail_state {
	int state;
	enum smtp_cmd cmd;
	const char *reason;
};
extern const struct gmail_state classify_gmail_states[];
extern const size_t classify_ngmail_states;

extern const struct text_rule classify_text_rules[];
extern const size_t classify_ntext_rules;
extern const struct status_rule classify_status_rules[];
extern const size_t classify_nstatus_rules;
extern const struct reply_rule classify_reply_rules[];
extern const size_t classify_nreply_rules;

#endif
