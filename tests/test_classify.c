/*
 * test_classify.c - the classifier, by rule family: status codes, texts in
 * English, French, German and Spanish, a specific text beating a generic
 * code, delayed never hard, and the message kinds (auto-reply, ARF,
 * success DSN). The case name is in every assertion.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "classify.h"
#include "reason.h"
#include "report.h"
#include "textnorm.h"

struct ccase {
	char name[48];
	char diag[320];
	char status[12];
	int reply;
	char action[12];
	char reason[20];
	char category[12];
};

/* Classify one synthetic DSN recipient. */
static void
run_case(const struct ccase *c, enum report_type type)
{
	struct report r;
	struct report_rcpt rc;
	struct verdict v;

	memset(&r, 0, sizeof r);
	memset(&rc, 0, sizeof rc);
	r.type = type;
	r.text = (char *)"";
	rc.address = (char *)"someone@example.com";
	rc.source = "dsn";
	rc.diagnostic = c->diag[0] ? (char *)c->diag : NULL;
	rc.status = c->status[0] ? (char *)c->status : NULL;
	rc.reply_code = c->reply;
	rc.action = c->action[0] ? (char *)c->action : NULL;
	r.rcpt = &rc;
	r.nrcpt = 1;
	classify_rcpt(&r, 0, &v);
	cr_expect_str_eq(v.reason, c->reason, "%s: reason %s (rule %s, "
	    "matched '%s'), want %s", c->name, v.reason, v.rule, v.matched,
	    c->reason);
	cr_expect_str_eq(category_name(v.category), c->category,
	    "%s: category %s, want %s", c->name, category_name(v.category),
	    c->category);
	cr_expect_not_null(v.rule, "%s: no rule id", c->name);
}

#define CASES(suite, name, ...) \
	ParameterizedTestParameters(suite, name) \
	{ \
		static struct ccase cases[] = { __VA_ARGS__ }; \
		return cr_make_param_array(struct ccase, cases, \
		    sizeof cases / sizeof cases[0]); \
	} \
	ParameterizedTest(struct ccase *c, suite, name) \
	{ \
		run_case(c, REPORT_DSN); \
	}

CASES(classify, status_codes,
    { "5.1.1 alone", "", "5.1.1", 0, "failed", "userunknown", "hard" },
    { "5.1.2 alone", "", "5.1.2", 0, "failed", "hostunknown", "hard" },
    { "5.2.2 alone", "", "5.2.2", 0, "failed", "mailboxfull", "quota" },
    { "4.2.2 alone", "", "4.2.2", 0, "failed", "mailboxfull", "quota" },
    { "5.1.6 alone", "", "5.1.6", 0, "failed", "hasmoved", "hard" },
    { "5.3.4 alone", "", "5.3.4", 0, "failed", "mesgtoobig", "transient" },
    { "5.7.23 spf", "", "5.7.23", 0, "failed", "authfailure", "spf" },
    { "5.7.25 ptr", "", "5.7.25", 0, "failed", "requireptr", "blocked" },
    { "5.7.1 generic", "", "5.7.1", 0, "failed", "securityerror",
      "blocked" },
    { "4.4.7 expired", "", "4.4.7", 0, "failed", "expired", "transient" },
    { "5.6.0 content", "", "5.6.0", 0, "failed", "contenterror", "spam" },
    { "status in text", "550 5.1.1 sorry", "", 0, "failed", "userunknown",
      "hard" },
    { "reply 552 only", "552 sorry", "", 552, "failed", "onhold",
      "transient" },
    { "nothing at all", "", "", 0, "failed", "undefined", "unknown" },
)

CASES(classify, english,
    { "en user unknown", "550 5.1.1 <a@example.com>: Recipient address "
      "rejected: User unknown in local recipient table", "5.1.1", 550,
      "failed", "userunknown", "hard" },
    { "en no such user", "550 No such user here", "5.0.0", 550, "failed",
      "userunknown", "hard" },
    { "en mailbox full", "552 5.2.2 Mailbox full", "", 552, "failed",
      "mailboxfull", "quota" },
    { "en over quota", "452 4.2.2 The email account that you tried to "
      "reach is over quota", "4.2.2", 452, "failed", "mailboxfull",
      "quota" },
    { "en domain", "Host or domain name not found. Name service error for "
      "name=example.invalid type=A: Host not found", "5.4.4", 0, "failed",
      "hostunknown", "hard" },
    { "en spf", "550 5.7.1 SPF check failed for 198.51.100.7", "5.7.1",
      550, "failed", "authfailure", "spf" },
    { "en blacklist", "554 5.7.1 Service unavailable; Client host "
      "[198.51.100.7] blocked using zen.spamhaus.org", "5.7.1", 554,
      "failed", "blocked", "blocked" },
    { "en spam", "550 5.7.1 Message rejected as spam by Content "
      "Filtering", "5.7.1", 550, "failed", "spamdetected", "spam" },
    { "en relay", "554 5.7.1 <x@example.net>: Relay access denied",
      "5.7.1", 554, "failed", "norelaying", "blocked" },
    { "en disabled", "550 5.2.1 The email account that you tried to reach "
      "is disabled", "5.2.1", 550, "failed", "suspend", "hard" },
    { "en too big", "552 5.3.4 Message size exceeds fixed limit",
      "5.3.4", 552, "failed", "mesgtoobig", "transient" },
    { "en timeout", "connect to mx.example.net[192.0.2.1]:25: Connection "
      "timed out", "4.4.1", 0, "failed", "expired", "transient" },
)

CASES(classify, french,
    { "fr boite pleine", "552 Boîte pleine", "", 552, "failed",
      "mailboxfull", "quota" },
    { "fr boite aux lettres pleine", "La boite aux lettres pleine du "
      "destinataire", "5.0.0", 0, "failed", "mailboxfull", "quota" },
    { "fr quota depasse", "452 Quota dépassé pour ce compte", "", 452,
      "failed", "mailboxfull", "quota" },
    { "fr utilisateur inconnu", "550 Utilisateur inconnu", "5.0.0", 550,
      "failed", "userunknown", "hard" },
    { "fr adresse inconnue", "Adresse inconnue sur ce serveur", "", 0,
      "failed", "userunknown", "hard" },
    { "fr destinataire inconnu", "550 5.1.1 Destinataire inconnu", "",
      550, "failed", "userunknown", "hard" },
    { "fr n'existe pas", "L'adresse bob@example.org n'existe pas", "", 0,
      "failed", "userunknown", "hard" },
    { "fr capitals", "BOÎTE PLEINE", "", 0, "failed", "mailboxfull",
      "quota" },
)

CASES(classify, german,
    { "de unbekannt", "550 Empfänger unbekannt", "", 550, "failed",
      "userunknown", "hard" },
    { "de postfach voll", "552 Das Postfach ist voll", "", 552, "failed",
      "mailboxfull", "quota" },
    { "de postfach voll 2", "Postfach voll", "5.0.0", 0, "failed",
      "mailboxfull", "quota" },
)

CASES(classify, spanish,
    { "es usuario desconocido", "550 Usuario desconocido", "", 550,
      "failed", "userunknown", "hard" },
    { "es buzon lleno", "552 El buzón lleno", "", 552, "failed",
      "mailboxfull", "quota" },
)

CASES(classify, specific_text_beats_code,
    { "5.1.1 but rate limited", "550 5.1.1 Rate limited, try later",
      "5.1.1", 550, "failed", "speeding", "blocked" },
    { "5.1.1 but mailbox full", "550 5.1.1 mailbox is full", "5.1.1",
      550, "failed", "mailboxfull", "quota" },
    { "5.7.1 but spf", "550 5.7.1 SPF validation failed", "5.7.1", 550,
      "failed", "authfailure", "spf" },
    { "5.0.0 but user unknown", "550 5.0.0 user unknown", "5.0.0", 550,
      "failed", "userunknown", "hard" },
    { "5.7.1 but blacklisted ip", "550 5.7.1 Your IP is listed in a "
      "blacklist", "5.7.1", 550, "failed", "blocked", "blocked" },
)

CASES(classify, delayed_never_hard,
    { "delayed user unknown", "450 4.1.1 user unknown", "4.1.1", 450,
      "delayed", "expired", "transient" },
    { "delayed 5.1.1 status", "", "5.1.1", 0, "delayed", "expired",
      "transient" },
    { "delayed mailbox full", "452 4.2.2 mailbox full", "4.2.2", 452,
      "delayed", "mailboxfull", "quota" },
    { "delayed nothing", "", "", 0, "delayed", "expired", "transient" },
    { "delayed domain", "Host not found", "", 0, "delayed", "expired",
      "transient" },
)

CASES(classify, delivered,
    { "relayed", "250 2.0.0 Ok: queued", "2.0.0", 250, "relayed",
      "delivered", "delivered" },
    { "delivered", "", "2.1.5", 0, "delivered", "delivered",
      "delivered" },
    { "expanded", "", "2.0.0", 0, "expanded", "delivered", "delivered" },
)

Test(classify, autoreply_and_arf)
{
	struct report r;
	struct report_rcpt rc;
	struct verdict v;

	memset(&r, 0, sizeof r);
	memset(&rc, 0, sizeof rc);
	r.text = (char *)"";
	rc.address = (char *)"frank@example.com";
	r.rcpt = &rc;
	r.nrcpt = 1;
	r.subject = (char *)"Out of office";
	r.type = REPORT_AUTOREPLY;
	classify_rcpt(&r, 0, &v);
	cr_expect_str_eq(v.reason, "vacation", "autoreply rcpt");
	cr_expect_eq(v.category, CAT_AUTOREPLY, "autoreply rcpt");
	classify_message(&r, &v);
	cr_expect_eq(v.category, CAT_AUTOREPLY, "autoreply message");

	r.type = REPORT_ARF;
	rc.feedback_type = (char *)"abuse";
	classify_rcpt(&r, 0, &v);
	cr_expect_str_eq(v.reason, "feedback", "arf rcpt");
	cr_expect_eq(v.category, CAT_COMPLAINT, "arf rcpt");
	cr_expect_str_eq(v.matched, "abuse", "arf matched");

	r.type = REPORT_UNKNOWN;
	r.nrcpt = 0;
	classify_message(&r, &v);
	cr_expect_eq(v.category, CAT_UNKNOWN, "unknown message");
}

Test(classify, verdict_names_rule_and_match)
{
	struct report r;
	struct report_rcpt rc;
	struct verdict v;

	memset(&r, 0, sizeof r);
	memset(&rc, 0, sizeof rc);
	r.type = REPORT_DSN;
	r.text = (char *)"";
	rc.diagnostic = (char *)"552 5.2.2 Sorry,   the MAILBOX is FULL.";
	rc.status = (char *)"5.2.2";
	r.rcpt = &rc;
	r.nrcpt = 1;
	classify_rcpt(&r, 0, &v);
	cr_expect_str_eq(v.rule, "text.en.mailbox-full");
	cr_expect_not_null(strstr(v.matched, "full"), "matched '%s'",
	    v.matched);
	cr_expect_leq(strlen(v.matched), CAP_MATCH_BYTES);
}

Test(classify, textnorm_folds)
{
	char out[128];
	static const char in[] =
	    "  Boîte\tPLEINE\r\n  Über  Straße ÉTÉ — l’adresse ";

	textnorm(in, sizeof in - 1, out, sizeof out);
	cr_expect_str_eq(out, "boite pleine uber strasse ete - l'adresse");
	textnorm("\xff\xfe abc", 6, out, sizeof out);
	cr_expect_str_eq(out, "abc");
	textnorm("abcdef", 6, out, 4);
	cr_expect_str_eq(out, "abc");
}
