/*
 * test_classify.c - the classifier, by rule family: status codes, texts in
 * English, French, German and Spanish, a specific text beating a generic
 * code, delayed never hard, and the message kinds (auto-reply, ARF,
 * success DSN). The case name is in every assertion.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "reason.h"
#include "report.h"
#include "rulescan.h"
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
    /* Wordings of PHP-Bounce-Handler's table, code-less here. */
    { "en user is suspended", "550 User is suspended", "5.0.0", 550,
      "failed", "suspend", "hard" },
    { "en mailbox temporarily disabled", "550 mailbox temporarily "
      "disabled", "5.0.0", 550, "failed", "suspend", "hard" },
    { "en inactive user", "550 inactive user", "5.0.0", 550, "failed",
      "suspend", "hard" },
    { "en account not found", "550 Account not found", "5.0.0", 550,
      "failed", "userunknown", "hard" },
    { "en not known to this system", "550 This email address is not "
      "known to this system", "5.0.0", 550, "failed", "userunknown",
      "hard" },
    { "it indirizzo inesistente", "550 Indirizzo inesistente", "5.0.0",
      550, "failed", "userunknown", "hard" },
    { "pl nie ma takiego konta", "550 Nie ma takiego konta", "5.0.0",
      550, "failed", "userunknown", "hard" },
    { "en blocked due to inactivity", "550 5.2.1 mailbox has been "
      "blocked due to inactivity", "5.2.1", 550, "failed", "suspend",
      "hard" },
    { "en exhausted storage", "552 User has exhausted allowed storage "
      "space", "5.0.0", 552, "failed", "mailboxfull", "quota" },
    { "en dynamic ip", "550 dial-up or dynamic-ip denied", "5.0.0", 550,
      "failed", "blocked", "blocked" },
    { "en domainkeys", "550 Message does not pass DomainKeys", "5.0.0",
      550, "failed", "authfailure", "spf" },
    { "pl antyspam", "550 Wiadomosc zostala odrzucona przez system "
      "antyspamowy", "5.0.0", 550, "failed", "spamdetected", "spam" },
    /* A delivery suspended is not an account suspended. */
    { "en delivery temporarily suspended", "451 delivery temporarily "
      "suspended", "4.0.0", 451, "delayed", "expired", "transient" },
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
    { "en mailbox unavailable", "550 5.5.0 Requested action not taken: "
      "mailbox unavailable (in reply to RCPT TO command)", "5.5.0", 550,
      "failed", "userunknown", "hard" },
    { "en mail file size", "552 Mail file size exceeds the maximum size "
      "allowed for mail delivery", "5.2.2", 552, "failed", "mailboxfull",
      "quota" },
    { "en sending quota", "554 Throttling failure: Daily message quota "
      "exceeded.", "5.0.0", 554, "failed", "toomanyconn", "blocked" },
    { "en no valid recipients from", "550 Error: no valid recipients from "
      "192.0.2.1 (in reply to RCPT TO command)", "5.0.0", 550, "failed",
      "blocked", "blocked" },
    { "en message filtered", "550 Message filtered. Please see the FAQs "
      "section on spam (in reply to end of DATA command)", "5.0.0", 550,
      "failed", "spamdetected", "spam" },
    { "en no valid recipients bye", "554 No valid recipients, bye "
      "(in reply to RCPT TO command)", "5.0.0", 554, "failed",
      "userunknown", "hard" },
    { "en rcpt doesn't exist", "550 RCPT (u@example.org) doesn't exist "
      "here (in reply to RCPT TO command)", "5.0.0", 550, "failed",
      "userunknown", "hard" },
    { "en not authorized", "550 5.7.1 RESOLVER.RST.NotAuthorized; not "
      "authorized", "5.7.1", 550, "failed", "filtered", "spam" },
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
    { "fr boite saturee", "552 Boîte aux lettres saturée", "", 552,
      "failed", "mailboxfull", "quota" },
    { "fr compte desactive", "550 Le compte a été désactivé", "5.0.0",
      550, "failed", "suspend", "hard" },
    { "fr utilisateur inexistant", "550 5.1.1 Utilisateur inexistant",
      "5.1.1", 550, "failed", "userunknown", "hard" },
    { "fr adresse email inconnue", "550 Adresse email inconnue", "5.0.0",
      550, "failed", "userunknown", "hard" },
    { "fr liste noire", "550 5.7.1 Votre adresse IP est sur liste noire",
      "5.7.1", 550, "failed", "blocked", "blocked" },
    { "fr suspicion de spam", "554 5.7.1 Message refusé, suspicion de "
      "spam", "5.7.1", 554, "failed", "spamdetected", "spam" },
)

CASES(classify, german,
    { "de unbekannt", "550 Empfänger unbekannt", "", 550, "failed",
      "userunknown", "hard" },
    { "de postfach voll", "552 Das Postfach ist voll", "", 552, "failed",
      "mailboxfull", "quota" },
    { "de postfach voll 2", "Postfach voll", "5.0.0", 0, "failed",
      "mailboxfull", "quota" },
    { "de ascii umlaut", "550 5.1.1 Empfaenger unbekannt", "5.1.1", 550,
      "failed", "userunknown", "hard" },
    { "de existiert nicht", "550 Benutzer existiert nicht", "5.0.0", 550,
      "failed", "userunknown", "hard" },
    { "de kontingent", "452 Speicherkontingent des Empfängers "
      "überschritten", "", 452, "failed", "mailboxfull", "quota" },
    { "de deaktiviert", "550 Postfach wurde deaktiviert", "5.0.0", 550,
      "failed", "suspend", "hard" },
    { "de adresse existiert nicht", "550 Die E-Mail-Adresse existiert "
      "nicht", "5.0.0", 550, "failed", "userunknown", "hard" },
    { "de nicht vorhanden", "550 Mailbox nicht vorhanden", "5.0.0", 550,
      "failed", "userunknown", "hard" },
    { "de speicherplatz", "452 Speicherplatz des Postfachs "
      "ueberschritten", "4.0.0", 452, "failed", "mailboxfull", "quota" },
    { "de sperrliste", "554 Ihre IP-Adresse steht auf einer Sperrliste",
      "5.0.0", 554, "failed", "blocked", "blocked" },
    { "de als spam", "554 5.7.1 Nachricht als Spam erkannt", "5.7.1", 554,
      "failed", "spamdetected", "spam" },
)

CASES(classify, spanish,
    { "es usuario desconocido", "550 Usuario desconocido", "", 550,
      "failed", "userunknown", "hard" },
    { "es buzon lleno", "552 El buzón lleno", "", 552, "failed",
      "mailboxfull", "quota" },
    { "es no existe", "550 El usuario no existe", "5.0.0", 550, "failed",
      "userunknown", "hard" },
    { "es deshabilitada", "550 La cuenta está deshabilitada", "5.0.0",
      550, "failed", "suspend", "hard" },
    { "es lista negra", "554 5.7.1 IP en lista negra", "5.7.1", 554,
      "failed", "blocked", "blocked" },
)

CASES(classify, italian_polish,
    { "it destinatario errato", "550 5.0.0 Destinatario errato", "5.0.0",
      550, "failed", "userunknown", "hard" },
    { "it destin. sconosciuto", "550 destin. Sconosciuto", "5.0.0", 550,
      "failed", "userunknown", "hard" },
    { "pl nie istnieje", "550 Konto nie istnieje", "5.0.0", 550, "failed",
      "userunknown", "hard" },
    { "pl adresat nieznany", "550 Adresat nieznany", "5.0.0", 550,
      "failed", "userunknown", "hard" },
    { "pl skrzynka pelna", "552 Skrzynka odbiorcy jest pelna", "5.0.0",
      552, "failed", "mailboxfull", "quota" },
    { "it utente non esiste", "550 L'utente non esiste", "5.0.0", 550,
      "failed", "userunknown", "hard" },
    { "it casella disabilitata", "550 Casella disabilitata", "5.0.0", 550,
      "failed", "suspend", "hard" },
)

CASES(classify, portuguese_dutch,
    { "pt endereco nao existe", "550 O endereço não existe", "5.0.0", 550,
      "failed", "userunknown", "hard" },
    { "pt conta desativada", "550 Conta desativada", "5.0.0", 550,
      "failed", "suspend", "hard" },
    { "pt cota excedida", "452 Cota excedida", "4.0.0", 452, "failed",
      "mailboxfull", "quota" },
    { "nl onbekende ontvanger", "550 Onbekende ontvanger", "5.0.0", 550,
      "failed", "userunknown", "hard" },
    { "nl adres bestaat niet", "550 Dit adres bestaat niet", "5.0.0", 550,
      "failed", "userunknown", "hard" },
    { "nl mailbox vol", "552 Mailbox is vol", "5.0.0", 552, "failed",
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
    { "5.7.1 but reverse hostname", "450 4.7.1 Client host rejected: "
      "cannot find your reverse hostname, [192.0.2.1]", "5.7.1", 550,
      "failed", "requireptr", "blocked" },
    { "5.2.1 but suspended", "550 5.2.1 The email account u@example.org "
      "is suspended and cannot receive mail", "5.2.1", 550, "failed",
      "suspend", "hard" },
    { "5.7.1 but spam", "550 5.7.1 Message rejected under suspicion of "
      "SPAM", "5.7.1", 550, "failed", "spamdetected", "spam" },
    { "5.1.1 but rate limit", "550 5.1.1 Rate limit exceeded for this "
      "sender", "5.1.1", 550, "failed", "toomanyconn", "blocked" },
    { "5.7.0 amavis virus", "554 5.7.0 Reject, id=28712-07 - INFECTED: "
      "Eicar-Signature", "5.7.0", 554, "failed", "virusdetected", "spam" },
    { "5.7.0 amavis spam", "554 5.7.0 Reject, id=20025-09 - SPAM",
      "5.7.0", 554, "failed", "spamdetected", "spam" },
    { "5.7.1 helo not found", "504 5.7.1 <mail.example.com>: Helo command "
      "rejected: Host not found", "5.7.1", 504, "failed", "blocked",
      "blocked" },
    { "5.7.511 banned sender", "550 5.7.511 Access denied, banned sender"
      "[192.0.2.1]", "5.7.511", 550, "failed", "blocked", "blocked" },
    { "4.7.4 tls not offered", "TLS is required, but was not offered by "
      "host mx.example.org[192.0.2.1]", "4.7.4", 0, "failed",
      "failedstarttls", "blocked" },
    { "5.7.1 badmailfrom", "553 sorry, your envelope sender is in my "
      "badmailfrom list (#5.7.1)", "5.7.1", 553, "failed", "rejected",
      "spam" },
    /* Wordings of providers, with a status that says nothing. */
    { "comcast not our customer", "550 5.0.0 Not our Customer", "5.0.0",
      550, "failed", "userunknown", "hard" },
    { "address no longer valid", "550 Old address no longer valid",
      "5.0.0", 550, "failed", "userunknown", "hard" },
    { "account is unavailable", "550 Account is unavailable", "5.0.0",
      550, "failed", "userunknown", "hard" },
    { "yahoo permanently deferred", "553 5.7.2 [TSS09] All messages from "
      "192.0.2.1 will be permanently deferred; Retrying will NOT "
      "succeed.", "5.7.2", 553, "failed", "blocked", "blocked" },
    { "t-online tosa", "554 IP=192.0.2.1 - A problem occurred. (Ask your "
      "postmaster for help or to contact tosa@rx.t-online.de to "
      "clarify.)", "5.0.0", 554, "failed", "blocked", "blocked" },
    { "hotmail dy-001", "550 DY-001 (SNT004-MC1F43) Unfortunately, "
      "messages from 192.0.2.1 weren't sent.", "5.0.0", 550, "failed",
      "blocked", "blocked" },
    { "hotmail sc-002", "550 SC-002 (BAY004-MC1F5) Mail rejected by "
      "Windows Live Hotmail for policy reasons.", "5.0.0", 550, "failed",
      "blocked", "blocked" },
    /* 5.7.1 alone is a security refusal; these words say which. */
    { "5.7.1 but rejected by dnsbl", "554 5.7.1 Rejected by DNSBL",
      "5.7.1", 554, "failed", "blocked", "blocked" },
    { "5.7.1 but contains spam", "554 5.7.1 This message has been "
      "blocked because it contains spam content", "5.7.1", 554, "failed",
      "spamdetected", "spam" },
    { "5.7.1 but virus found", "554 5.7.1 Virus found in message",
      "5.7.1", 554, "failed", "virusdetected", "spam" },
    { "virus found: name", "550 Virus found: Eicar-Test-Signature",
      "5.0.0", 550, "failed", "virusdetected", "spam" },
    { "5.7.1 virus infected", "550 5.7.1 Virus infected message rejected",
      "5.7.1", 550, "failed", "virusdetected", "spam" },
    /* an antivirus signature quoted in the notice is no virus */
    { "no virus found signature", "554 5.7.1 Delivery not authorized. "
      "No virus found in this message. Checked by AVG.", "5.7.1", 554,
      "failed", "securityerror", "blocked" },
    { "5.7.1 but reverse dns lookup", "550 5.7.1 Reverse DNS lookup "
      "failed for 192.0.2.1", "5.7.1", 550, "failed", "requireptr",
      "blocked" },
    /* ... and so do weak words of such a kind (a block list, SPF,
     * spam, a virus, a reputation), but not "access denied". */
    { "5.7.1 but because of spf", "550 5.7.1 rejected because of SPF",
      "5.7.1", 550, "failed", "authfailure", "spf" },
    { "5.7.1 but rbl named", "550 5.7.1 Mail from 192.0.2.1 refused, "
      "see the RBL of example.net", "5.7.1", 550, "failed", "blocked",
      "blocked" },
    { "5.7.1 but ip reputation", "550 5.7.1 Poor IP reputation", "5.7.1",
      550, "failed", "badreputation", "blocked" },
    { "5.7.1 access denied stays", "550 5.7.1 <u@example.org>... Access "
      "denied", "5.7.1", 550, "failed", "securityerror", "blocked" },
    /* a listing or a rate that names the sending IP: a block of the
     * server, not a verdict on the message */
    { "4.7.0 listed on a block list", "421 4.7.0 192.0.2.1 is listed on "
      "the Spamhaus Block List (SBL)", "4.7.0", 421, "failed", "blocked",
      "blocked" },
    { "unsolicited mail from your ip", "550-5.7.1 Our system has "
      "detected an unusual rate of unsolicited mail originating from "
      "your IP address.", "5.7.1", 550, "failed", "blocked", "blocked" },
    /* the sender's domain or address, not the recipient's */
    { "sender domain does not exist", "553 sender domain example.jp does "
      "not exist", "5.0.0", 553, "failed", "rejected", "spam" },
    { "sender address blacklisted", "550 5.7.1 Sender address is "
      "blacklisted", "5.7.1", 550, "failed", "rejected", "spam" },
    { "sender domain in spamhaus", "550 5.7.1 Service unavailable, "
      "MailFrom domain is listed in Spamhaus. To request removal from this "
      "list see https://www.spamhaus.org/query/lookup/ (S8002)", "5.7.1",
      550, "failed", "rejected", "spam" },
    { "external senders refused", "550 5.7.193 UnAuthenticated mail "
      "from external sender not allowed: the sender isn't a group member "
      "or external senders aren't permitted", "5.7.193", 550, "failed",
      "rejected", "spam" },
    { "5.1.7 is the sender's", "550 5.1.7 Invalid address", "5.1.7", 550,
      "failed", "rejected", "spam" },
    { "does not accept mail from", "550 Our mail server does not accept "
      "mail from <a@platform.example>", "5.0.0", 550, "failed",
      "rejected", "spam" },
    /* a loop */
    { "exceeded hops", "554 5.0.0 Message exceeded 50 hops", "5.0.0", 554,
      "failed", "networkerror", "transient" },
    /* rates: the platform's server is limited */
    { "receiving mail too quickly", "421 4.7.0 [TS01] User is receiving "
      "mail too quickly", "4.7.0", 421, "failed", "speeding", "blocked" },
    { "sending limit exceeded", "550 5.4.5 Daily user sending limit "
      "exceeded.", "5.4.5", 550, "failed", "speeding", "blocked" },
    { "messages per session", "550 This message has exceeded the max "
      "number of messages per session.", "5.0.0", 550, "failed",
      "toomanyconn", "blocked" },
    { "ip has been blocked", "554 This IP has been temporarily blocked "
      "for attempting to send too many messages containing content "
      "judged to be spam", "5.0.0", 554, "failed", "blocked", "blocked" },
    /* authentication, TLS: what the code alone (x.7.x) does not say */
    { "fails authentication checks", "550 5.7.1 This message fails to "
      "pass authentication checks", "5.7.1", 550, "failed", "authfailure",
      "spf" },
    { "gmail 5.7.30 dkim", "550 5.7.30 Gmail requires all senders to "
      "authenticate with DKIM.", "5.7.30", 550, "failed", "authfailure",
      "spf" },
    { "mta-sts", "550 5.7.5 Remote certificate failed MTA-STS "
      "validation", "5.7.5", 550, "failed", "failedstarttls", "blocked" },
    /* a disabled account, worded otherwise */
    { "address no longer accepts mail", "550 5.1.1 <u@example.org>: "
      "Address no longer accepts mail", "5.1.1", 550, "failed", "suspend",
      "hard" },
    { "recipient not active", "550 5.2.1 Recipient not active",
      "5.2.1", 550, "failed", "suspend", "hard" },
    { "gmail 5.7.28 from your ip", "550-5.7.28 [192.0.2.1] Our system "
      "has detected an unusual rate of unsolicited mail originating from "
      "your IP address.", "5.7.28", 550, "failed", "blocked", "blocked" },
    { "5.7.28 alone", "550 5.7.28 Mail flood detected", "5.7.28", 550,
      "failed", "spamdetected", "spam" },
    { "gmail domain policy", "550-5.7.1 The user or domain that you are "
      "sending to (or from) has a policy that prohibited the mail that you "
      "sent.", "5.7.1", 550, "failed", "policyviolation", "spam" },
    /* the message is malformed, whatever the words after */
    { "missing message-id", "550 5.7.1 Messages missing a valid "
      "Message-ID header are not accepted.", "5.7.1", 550, "failed",
      "notcompliantrfc", "blocked" },
    { "4.7.0 our blocklist", "421 4.7.0 Try again later, closing "
      "connection. (EHLO) Your IP is on our blocklist", "4.7.0", 421,
      "failed", "blocked", "blocked" },
    /* x.1.0 does not say whose address: the sender's, refused at RCPT
     * by Postfix's sender restrictions, is not the recipient's. */
    { "5.1.0 sender address rejected", "host mx.example.org said: 550 "
      "5.1.0 <a@platform.example>: Sender address rejected: User unknown "
      "in local recipient table (in reply to RCPT TO command)", "5.1.0",
      550, "failed", "rejected", "spam" },
    { "5.1.0 recipient alone", "host mx.example.org said: 550 5.1.0 "
      "<u@example.org>: Recipient address rejected: User unknown (in "
      "reply to RCPT TO command)", "5.1.0", 550, "failed", "userunknown",
      "hard" },
    /* GMX, web.de: not a system error, a policy */
    { "transaction failed, policy", "554-Transaction failed 554-Reject "
      "due to policy restrictions.", "5.0.0", 554, "failed",
      "policyviolation", "spam" },
    { "4.3.0 temporary system error", "451 4.3.0 Temporary system error",
      "4.3.0", 451, "failed", "systemerror", "transient" },
    /* 525: a disabled account, unless the status names another cause */
    { "525 5.7.13 disabled", "525 5.7.13 Disabled recipient address",
      "5.7.13", 525, "failed", "suspend", "hard" },
    { "525 alone", "525 Recipient address rejected", "", 525, "failed",
      "suspend", "hard" },
    { "525 but 5.7.10", "525 5.7.10 SMTP protocol violation", "5.7.10",
      525, "failed", "policyviolation", "spam" },
    { "525 but 5.7.10 alone", "525 5.7.10 Encryption needed", "5.7.10",
      525, "failed", "securityerror", "blocked" },
)

/*
 * A code of the recipient's address (hard: the account flagged) with
 * words that name another cause and none of the address's: the words
 * decide. With words of the address too, or only weak ones, the code
 * stays.
 */
CASES(classify, hard_code_outweighed,
    { "5.1.1 but spam", "550 5.1.1 Message rejected as spam", "5.1.1",
      550, "failed", "spamdetected", "spam" },
    { "5.1.2 but too many connections", "550 5.1.2 Too many connections "
      "from your IP", "5.1.2", 550, "failed", "toomanyconn", "blocked" },
    { "5.1.6 but blocklisted", "550 5.1.6 Your IP 192.0.2.1 is listed on "
      "Spamhaus SBL", "5.1.6", 550, "failed", "blocked", "blocked" },
    { "5.7.13 but spf", "550 5.7.13 SPF check failed for sender domain",
      "5.7.13", 550, "failed", "authfailure", "spf" },
    { "5.1.10 but virus", "550 5.1.10 Message contains a virus", "5.1.10",
      550, "failed", "virusdetected", "spam" },
    { "525 5.7.13 but spam", "525 5.7.13 Message rejected as spam",
      "5.7.13", 525, "failed", "spamdetected", "spam" },
    { "5.1.1 user unknown and spam", "550 5.1.1 User unknown; message "
      "rejected as spam", "5.1.1", 550, "failed", "userunknown", "hard" },
    { "5.1.1 and weak words", "550 5.1.1 Service temporarily unavailable",
      "5.1.1", 550, "failed", "userunknown", "hard" },
)

/* The fixed wordings of mail servers (Exim, qmail, OpenSMTPD, Domino,
 * amavis, Exchange Online, Cox...), whatever the status code says. */
CASES(classify, server_wordings,
    { "exim lookups failed", "all host address lookups failed "
      "permanently", "5.0.0", 0, "failed", "hostunknown", "hard" },
    { "exim mx non-existent", "all relevant MX records point to "
      "non-existent hosts", "5.0.0", 0, "failed", "hostunknown", "hard" },
    { "gmail dns error", "DNS Error: Domain name not found", "5.0.0", 0,
      "failed", "hostunknown", "hard" },
    { "qmail disabled", "553 Mailaddress is administratively disabled. "
      "(#5.2.1)", "5.2.1", 553, "failed", "suspend", "hard" },
    { "qmail-ldap size", "552 The message exeeded the maximum size the "
      "user accepts", "5.0.0", 552, "failed", "exceedlimit", "transient" },
    { "opensmtpd no route", "No valid route to remote MX", "5.0.0", 0,
      "failed", "networkerror", "transient" },
    { "opensmtpd routes blocked", "All routes to destination blocked",
      "5.0.0", 0, "failed", "networkerror", "transient" },
    { "domino fr", "Utilisateur u@example.org non répertorié dans "
      "l'annuaire Domino", "5.0.0", 0, "failed", "userunknown", "hard" },
    { "amavis bad header", "554 5.6.0 Reject, id=12345-01 - BAD HEADER: "
      "Duplicate header field", "5.6.0", 554, "failed", "contenterror",
      "spam" },
    { "amavis reinject", "451 4.5.0 id=12345-01 - Unable to relay message "
      "back to MTA", "4.5.0", 451, "failed", "systemerror", "transient" },
    { "exo per hour", "550 5.2.121 Recipient's per hour message receive "
      "limit exceeded", "5.2.121", 550, "failed", "toomanyconn",
      "blocked" },
    { "exo submission quota", "554 5.2.2 submission quota exceeded",
      "5.2.2", 554, "failed", "toomanyconn", "blocked" },
    { "exo sender not authenticated", "550 5.7.133 RESOLVER.RST."
      "SenderNotAuthenticatedForGroup; sender not authenticated for group",
      "5.7.133", 550, "failed", "rejected", "spam" },
    { "cox too many invalid", "550 Too many invalid recipients "
      "(in reply to RCPT TO command)", "5.0.0", 550, "failed", "blocked",
      "blocked" },
    { "exim no smtp service", "an MX or SRV record indicated no SMTP "
      "service", "5.0.0", 0, "failed", "notaccept", "hard" },
    { "cox no rdns", "554 rejected - no rDNS", "5.0.0", 554, "failed",
      "requireptr", "blocked" },
    { "exo sender denied", "550 5.7.1 Sender denied", "5.7.1", 550,
      "failed", "rejected", "spam" },
    { "mimecast thread limit", "550 Exceeding outbound thread limit",
      "5.0.0", 550, "failed", "toomanyconn", "blocked" },
    { "godaddy storage", "552 Account storage limit", "5.0.0", 552,
      "failed", "mailboxfull", "quota" },
    { "mimecast tls route", "553 This route requires encryption (TLS)",
      "5.0.0", 553, "failed", "failedstarttls", "blocked" },
    { "exim pipe forbidden", "delivery to pipe forbidden", "5.0.0", 0,
      "failed", "systemerror", "transient" },
    { "qmail-ldap lookup", "Temporary failure in LDAP lookup. (#4.4.3)",
      "4.4.3", 0, "failed", "systemerror", "transient" },
    { "google rcpt first", "503 5.5.1 RCPT first.", "5.5.1", 503, "failed",
      "syntaxerror", "transient" },
    { "starttls first", "530 5.7.0 Must issue a STARTTLS command first "
      "(in reply to MAIL FROM command)", "5.7.0", 530, "failed",
      "securityerror", "blocked" },
    { "exo reverse dns", "550 5.7.25 Sending IP must have a reverse DNS "
      "record", "5.7.25", 550, "failed", "requireptr", "blocked" },
    /* Block lists named: blocked, though "spamhaus" starts with
     * "spam" (ZoneMTA's bounces.txt holds these replies). */
    { "listed at spamhaus", "550 192.0.2.1 listed at spamhaus, see "
      "http://www.spamhaus.org", "5.0.0", 550, "failed", "blocked",
      "blocked" },
    { "spamhaus query link", "553 https://www.spamhaus.org/query/ip/"
      "192.0.2.1", "5.0.0", 553, "failed", "blocked", "blocked" },
    { "black listed at", "550 Black listed at hostkarma "
      "http://ipadmin.example.com/remove.php?ip=192.0.2.1", "5.0.0", 550,
      "failed", "blocked", "blocked" },
    { "dnsbls", "554 mx.example.org 192.0.2.1 found on one or more "
      "DNSBLs, see http://postmaster.example.org", "5.0.0", 554,
      "failed", "blocked", "blocked" },
    { "is listed at", "550 Rejected: 192.0.2.1 is listed at "
      "drbl.example.net", "5.0.0", 550, "failed", "blocked", "blocked" },
    /* Our IP on a list beats the code and "mailbox unavailable". */
    { "ip blacklisted, mailbox unavailable", "550 5.2.1 Mailbox "
      "unavailable. Your IP address 192.0.2.1 is blacklisted using "
      "SPAMHAUS-XBL.", "5.2.1", 550, "failed", "blocked", "blocked" },
    /* ... at RCPT too, where the phrase alone would do */
    { "ip blacklisted, mailbox unav. rcpt", "host mx.example.org said: "
      "550 5.2.1 Mailbox unavailable. Your IP address 192.0.2.1 is "
      "blacklisted (in reply to RCPT TO command)", "5.2.1", 550,
      "failed", "blocked", "blocked" },
    /* A status of no cause (x.3.0, x.0.0) gives way to weak words;
     * x.7.0 does not. */
    { "5.3.0 see spamhaus", "553 5.3.0 192.0.2.1 Rejected - see "
      "http://www.spamhaus.org", "5.3.0", 553, "failed", "blocked",
      "blocked" },
    { "5.3.0 alone", "553 5.3.0 Rejected", "5.3.0", 553, "failed",
      "systemerror", "transient" },
    { "5.7.0 policy violation", "550 5.7.0 <a@example.org>: Recipient "
      "address rejected: Policy violation", "5.7.0", 550, "failed",
      "securityerror", "blocked" },
    { "ip listed by", "550 5.5.4 ETP208 Your IP 192.0.2.1 is listed by "
      "a list. Please see http://lists.example.com/", "5.5.4", 550,
      "failed", "blocked", "blocked" },
    { "dns blacklist, policy reasons", "554 Connection from 192.0.2.1 "
      "rejected for policy reasons. Host found in DNS blacklist at "
      "dnsbl.example.net", "5.0.0", 554, "failed", "blocked", "blocked" },
    { "bad reputation, odd code", "554 5.5.4 Your IP 192.0.2.1 address "
      "has a bad reputation.", "5.5.4", 554, "failed", "badreputation",
      "blocked" },
    { "spam still spam", "550 Message rejected: spam content", "5.0.0",
      550, "failed", "spamdetected", "spam" },
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

/* ASCII normalized one byte at a time: the reference for textnorm's
 * eight-bytes-at-a-time path. */
static size_t
textnorm_ascii_ref(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0;
	int space = 1;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f) {
			if (!space && o + 1 < outsz) {
				out[o++] = ' ';
				space = 1;
			}
			continue;
		}
		if (o + 1 >= outsz)
			break;
		out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		space = 0;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return o;
}

/* Random ASCII (letters of both cases, punctuation, single and double
 * spaces, tabs, line ends, controls): the fast path agrees with the
 * reference, whatever the output size. */
Test(classify, textnorm_ascii_runs)
{
	static const char alphabet[] = "aZmQ@[`{~ !  \t\r\n\x01\x7f.-AZaz";
	char in[200], want[256], got[256];
	unsigned long long x = 88172645463325252ULL;
	int it;

	for (it = 0; it < 20000; it++) {
		size_t n, i, outsz, lw, lg;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		n = x % sizeof in;
		for (i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			in[i] = alphabet[x % (sizeof alphabet - 1)];
		}
		outsz = it % 3 == 0 ? 1 + x % 40 : sizeof got;
		lw = textnorm_ascii_ref(in, n, want, outsz);
		lg = textnorm(in, n, got, outsz);
		cr_assert_eq(lg, lw, "case %d", it);
		cr_assert_str_eq(got, want, "case %d", it);
	}
}

/*
 * Whole messages (parsed, then classified): the provider families, known
 * by the host that answered or wrote the bounce, and the transcript
 * structures. Each case is a DSN when status is set (one recipient,
 * rcpt), else a plain-text notice whose body is `notice`.
 */
struct mcase {
	char name[48];
	char from[96];		/* the bounce's From: address (and any
				 * header lines after it) */
	char agent[32];		/* X-Mailer, or "" */
	char reporting[64];	/* Reporting-MTA, or "" */
	char remote[64];	/* Remote-MTA, or "" */
	char rcpt[64];
	char status[12];
	char diag[200];		/* Diagnostic-Code (DSN) */
	char notice[400];	/* the text/plain notice */
	char reason[20];
};

static char *
build_message(const struct mcase *c)
{
	static char m[4096];
	int n;

	n = snprintf(m, sizeof m,
	    "From: %s\nTo: bounces@platform.example.com\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "Date: Tue, 24 Nov 2026 09:14:03 +0100\n%s%s%s",
	    c->from, c->agent[0] ? "X-Mailer: " : "", c->agent,
	    c->agent[0] ? "\n" : "");
	if (c->status[0] == '\0') {
		snprintf(m + n, sizeof m - (size_t)n, "\n%s\n", c->notice);
		return m;
	}
	n += snprintf(m + n, sizeof m - (size_t)n,
	    "MIME-Version: 1.0\nContent-Type: multipart/report; "
	    "report-type=delivery-status; boundary=\"BB\"\n\n"
	    "--BB\nContent-Type: text/plain\n\n%s\n\n"
	    "--BB\nContent-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; %s\n\n"
	    "Final-Recipient: rfc822; %s\nAction: failed\nStatus: %s\n",
	    c->notice, c->reporting[0] ? c->reporting : "mx.example.net",
	    c->rcpt, c->status);
	if (c->remote[0])
		n += snprintf(m + n, sizeof m - (size_t)n,
		    "Remote-MTA: dns; %s\n", c->remote);
	snprintf(m + n, sizeof m - (size_t)n,
	    "Diagnostic-Code: smtp; %s\n\n--BB--\n", c->diag);
	return m;
}

static void
run_message(const struct mcase *c)
{
	const char *m = build_message(c);
	struct report *r = report_parse(m, strlen(m), 0);
	struct verdict v;

	if (r->nrcpt == 0)
		classify_message(r, &v);
	else
		classify_rcpt(r, 0, &v);
	cr_expect_str_eq(v.reason, c->reason, "%s: reason %s (rule %s, "
	    "matched '%s'), want %s", c->name, v.reason, v.rule, v.matched,
	    c->reason);
	report_free(&r);
}

#define MCASES(suite, name, ...) \
	ParameterizedTestParameters(suite, name) \
	{ \
		static struct mcase cases[] = { __VA_ARGS__ }; \
		return cr_make_param_array(struct mcase, cases, \
		    sizeof cases / sizeof cases[0]); \
	} \
	ParameterizedTest(struct mcase *c, suite, name) \
	{ \
		run_message(c); \
	}

#define MD "MAILER-DAEMON@mx.example.net"

MCASES(classify, providers,
    /* Spectrum's AUP codes, for a Spectrum recipient only. */
    { "spectrum 1310", MD, "", "", "", "u@charter.net", "5.1.0",
      "550 5.1.0 <b@example.com> sender rejected. AUP#In-1310", "",
      "toomanyconn" },
    { "spectrum 1000", MD, "", "", "", "u@charter.net", "5.7.1",
      "554 5.7.1 Connection refused. AUP#O-1000", "", "blocked" },
    { "spectrum 1530", MD, "", "", "mx.charter.net", "u@example.com",
      "5.3.4", "552 5.3.4 Message rejected. AUP#I-1530", "",
      "mesgtoobig" },
    { "aup elsewhere", MD, "", "", "", "u@example.com", "5.7.1",
      "550 5.7.1 Refused. AUP#In-1310", "", "securityerror" },
    { "spectrum same words", MD, "", "", "", "u@charter.net", "5.7.1",
      "550 5.7.1 Refused. AUP#In-1310", "", "toomanyconn" },
    /* Yahoo's MX: TSS04 is its refusal of the sender. */
    { "yahoo tss04", MD, "", "", "mta7.am0.yahoodns.net",
      "u@yahoo.example.net", "4.7.0", "421 4.7.0 [TSS04] Messages from "
      "192.0.2.1 temporarily deferred due to unexpected volume or user "
      "complaints", "", "rejected" },
    { "tss04 elsewhere", MD, "", "", "mx.example.org", "u@example.org",
      "4.7.0", "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily "
      "deferred due to unexpected volume or user complaints", "",
      "badreputation" },
    /* NTT docomo: the same words at RCPT and at DATA. */
    { "docomo data", MD, "", "", "mfsmax.docomo.ne.jp", "u@example.jp",
      "5.0.0", "550 Unknown user u@example.jp", "<u@example.jp>: host "
      "mfsmax.docomo.ne.jp[192.0.2.7] said: 550 Unknown user "
      "u@example.jp (in reply to end of DATA command)", "rejected" },
    { "docomo rcpt", MD, "", "", "mfsmax.docomo.ne.jp", "u@example.jp",
      "5.0.0", "550 Unknown user u@example.jp", "<u@example.jp>: host "
      "mfsmax.docomo.ne.jp[192.0.2.7] said: 550 Unknown user "
      "u@example.jp (in reply to RCPT TO command)", "userunknown" },
    { "docomo 5.2.0", MD, "", "", "mfsmax.docomo.ne.jp", "u@example.jp",
      "5.2.0", "550 Unknown user u@example.jp", "", "filtered" },
    /* KDDI: its MX's answer when the recipient's filter refused. */
    { "kddi filter", MD, "", "", "lsean.ezweb.ne.jp", "u@ezweb.ne.jp",
      "5.0.0", "550 : User unknown", "<u@ezweb.ne.jp>: host "
      "lsean.ezweb.ne.jp[192.0.2.8] said: 550 : User unknown (in reply "
      "to end of DATA command)", "filtered" },
    { "kddi words elsewhere", MD, "", "", "mx.example.org",
      "u@example.org", "5.0.0", "550 : User unknown", "<u@example.org>: "
      "host mx.example.org[192.0.2.8] said: 550 : User unknown (in reply "
      "to RCPT TO command)", "userunknown" },
    /* Google Groups, in Gmail's notice. */
    { "google group", "mailer-daemon@googlemail.com\nX-Failed-Recipients: "
      "list@googlegroups.com", "", "", "", "", "", "", "Hello a@example.com,"
      "\n\nThe group you tried to contact (list) may not exist, or you "
      "may not have permission to post messages to the group.\n\nIf you "
      "have questions, visit https://groups.google.com/support/.\n\n"
      "Google Groups\n", "rejected" },
    { "groups link elsewhere", MD, "", "", "", "list@example.org",
      "5.1.1", "550 5.1.1 <list@example.org>: Recipient address "
      "rejected: User unknown", "Archives: https://groups.google.com/g/"
      "list", "userunknown" },
    /* Mimecast: its code page, reply code and words together. */
    { "mimecast virus", MD, "", "", "eu-smtp-1.mimecast.com",
      "u@example.co.uk", "5.0.0", "554 email rejected due to security "
      "policies - MCSpamSignature.x.1", "", "virusdetected" },
    { "mimecast other code", MD, "", "", "eu-smtp-1.mimecast.com",
      "u@example.co.uk", "5.0.0", "550 email rejected due to security "
      "policies", "", "policyviolation" },
    /* Gmail's MX: its words where the code says something else. */
    { "gmail hops", MD, "", "", "gmail-smtp-in.l.google.com",
      "u@gmail.example", "5.6.0", "554 5.6.0 Message exceeded 50 hops, "
      "this may indicate a mail loop.", "", "networkerror" },
    { "hops elsewhere", MD, "", "", "mx.example.org", "u@example.org",
      "5.6.0", "554 5.6.0 Message exceeded 50 hops, this may indicate a "
      "mail loop.", "", "contenterror" },
    { "gmail attachment", MD, "", "", "aspmx.l.google.com",
      "u@example.org", "5.7.0", "552 5.7.0 Our system detected an "
      "illegal attachment on your message.", "", "policyviolation" },
    /* Exchange Online: 4.3.2 is its service being down, not the domain
     * refusing mail (a hard bounce by RFC 3463's reading). */
    { "exo 4.3.2", MD, "", "", "example-org.mail.protection.outlook.com",
      "u@example.org", "4.3.2", "451 4.3.2 Service not available", "",
      "systemerror" },
    { "4.3.2 elsewhere", MD, "", "", "mx.example.org", "u@example.org",
      "4.3.2", "451 4.3.2 Service not available", "", "notaccept" },
    { "exo 5.7.13", MD, "", "", "example-org.mail.protection.outlook.com",
      "u@example.org", "5.7.13", "550 5.7.13 Sender was not "
      "authenticated for public folder", "", "rejected" },
    /* Tencent's MX. */
    { "qq bounce attacks", MD, "", "", "mx3.qq.com", "u@qq.example",
      "5.0.0", "550 Suspected bounce attacks", "", "blocked" },
    /* MessageLabs refuses unknown recipients with 542. */
    { "messagelabs 542", MD, "", "server-4.bemta-2.messagelabs.com", "",
      "u@example.com", "5.0.0", "542 u@example.com Rejected", "",
      "userunknown" },
    /* SES receipt rules: a filter's bounce, whatever it says. */
    { "ses receipt rule", MD, "", "inbound-smtp.eu-west-1.amazonaws.com",
      "", "u@example.com", "5.1.1", "550 5.1.1 Mailbox does not exist",
      "This message could not be delivered.", "filtered" },
    { "ses elsewhere", MD, "", "smtp.eu-west-1.amazonaws.com", "",
      "u@example.com", "5.1.1", "550 5.1.1 Mailbox does not exist", "",
      "userunknown" },
    /* The notices of Verizon's SMS gateway, IMail, Yahoo and AOL. */
    { "verizon gateway", "post_master@vtext.com", "", "", "", "", "", "",
      "Error: Invalid user address\n\nError message below:\n550 - "
      "Requested action not taken: no such user here\n\nMessage details:"
      "\n  RCPT TO: 5551234@vtext.com\n", "userunknown" },
    { "same words elsewhere", "post_master@gw.example.com", "", "", "",
      "", "", "", "Error: Invalid user address\n\nError message below:\n"
      "550 - Requested action not taken: no such user here\n\nMessage "
      "details:\n  RCPT TO: 5551234@gw.example.com\n", "filtered" },
    { "imail unknown user", "postmaster@example.org", "<SMTP32 v8.22>",
      "", "", "", "", "", "Unknown user: u@example.org\n", "userunknown" },
    { "yahoo notice", "MAILER-DAEMON@yahoo.com", "", "", "", "", "", "",
      "Sorry, we were unable to deliver your message to the following "
      "address.\n\n<u@example.jp>:\n550: <u@example.jp>: User unknown\n",
      "userunknown" },
    { "aol broken mx", "MAILER-DAEMON@aol.com", "", "", "",
      "u@example.org", "5.4.4", "Name service error for "
      "name=example.org type=MX: Malformed or unexpected name server "
      "reply", "", "notaccept" },
    { "broken mx elsewhere", MD, "", "", "", "u@example.org", "5.4.4",
      "Name service error for name=example.org type=MX: Malformed or "
      "unexpected name server reply", "", "networkerror" },
    /* Gmail's "(state N)": the step that failed. */
    { "gmail state 18", "mailer-daemon@googlemail.com", "", "", "", "",
      "", "", "Delivery to the following recipient failed permanently:"
      "\n\n     u@example.jp\n\nTechnical details of permanent failure:\n"
      "Google tried to deliver your message, but it was rejected by the "
      "recipient domain. The error that the other server returned was: "
      "554 554 5.7.0 Header error (state 18).\n", "filtered" },
    { "gmail state 6", "mailer-daemon@googlemail.com", "", "", "", "",
      "", "", "Delivery to the following recipient failed permanently:"
      "\n\n     u@example.jp\n\nTechnical details of permanent failure:\n"
      "Google tried to deliver your message, but it was rejected by the "
      "recipient domain. The error that the other server returned was: "
      "500 Remote server does not support TLS (state 6).\n",
      "systemerror" },
    { "gmail state 14 full", "mailer-daemon@googlemail.com", "", "", "",
      "", "", "", "Delivery to the following recipient failed permanently:"
      "\n\n     u@example.jp\n\nTechnical details of permanent failure:\n"
      "Google tried to deliver your message, but it was rejected by the "
      "recipient domain. The error that the other server returned was: "
      "550 550 5.2.2 <u@example.jp>... Mailbox Full (state 14).\n",
      "mailboxfull" },
)

MCASES(classify, transcripts,
    /* A reply to the greeting, no command sent: the connection. */
    { "greeting refused", MD, "", "", "", "u@example.org", "5.5.0",
      "554 IP=192.0.2.9 - A problem occurred. (BL)",
      "   ----- Transcript of session follows -----\n"
      "... while talking to mx.example.org.:\n"
      "<<< 554 IP=192.0.2.9 - A problem occurred. (BL)\n"
      "554 5.0.0 Service unavailable", "blocked" },
    { "reply after data", MD, "", "", "", "u@example.org", "5.5.0",
      "554 IP=192.0.2.9 - A problem occurred. (BL)",
      "   ----- Transcript of session follows -----\n"
      "... while talking to mx.example.org.:\n>>> DATA\n"
      "<<< 554 IP=192.0.2.9 - A problem occurred. (BL)\n"
      "554 5.0.0 Service unavailable", "onhold" },
    /* "Remote host said: ... not found" is not a host not found. */
    { "qmail host said", MD, "", "", "", "", "", "", "Hi. This is the "
      "qmail-send program at mx.example.net.\nI'm afraid I wasn't able "
      "to deliver your message to the following addresses.\nThis is a "
      "permanent error; I've given up. Sorry it didn't work out.\n\n"
      "<u@example.org>:\n192.0.2.1 does not like recipient.\nRemote host "
      "said: 554 5.7.1 Client certificate not found\n"
      "Giving up on 192.0.2.1.\n", "securityerror" },
    /* qmail ends every failure with "Giving up on <ip>.": it names
     * no cause. */
    { "qmail giving up", MD, "", "", "", "", "", "", "Hi. This is the "
      "qmail-send program at mx.example.net.\nI'm afraid I wasn't able "
      "to deliver your message to the following addresses.\nThis is a "
      "permanent error; I've given up. Sorry it didn't work out.\n\n"
      "<u@example.org>:\n192.0.2.1 does not like recipient.\nRemote host "
      "said: 530 5.7.0 Authentication required\nGiving up on 192.0.2.1.\n",
      "securityerror" },
    /* "SMTP:RCPT host x: 553 ..." names the command: the directory
     * refused the address, no filter did. */
    { "smtp:rcpt unknown user", MD, "", "", "", "", "", "",
      "Delivery to the following recipients failed permanently:\n\n"
      "   * u@example.org\n\n"
      "==========================================================\n"
      "                    Technical details:\n\n"
      "SMTP:RCPT host 192.0.2.1: 553 5.3.0 <u@example.org>... No such "
      "user here\n", "userunknown" },
    { "smtp:data unknown user", MD, "", "", "", "", "", "",
      "Delivery to the following recipients failed permanently:\n\n"
      "   * u@example.org\n\n"
      "SMTP:DATA host 192.0.2.1: 550 5.7.1 No such user here\n",
      "filtered" },
    /* An X.400 gateway's DSN field says only "Unknown"; its notice
     * gives the cause: read before a generic word. */
    { "x400 diag, notice decides", "postmaster@example.net", "",
      "", "", "u@example.org", "5.0.0",
      "Reason 1 (Unable-To-Transfer); Diagnostic -1 (Unknown)",
      "Your message was not delivered to:\n        u@example.org\n"
      "for the following reason:\nDiagnostic was Unable to transfer, -1\n"
      "Information MTA '192.0.2.1' gives error message 5.7.1 Unable to "
      "relay for u@example.org\n", "norelaying" },
    /* A list manager's loop alert names no recipient. */
    { "list loop", "list-admin@example.org", "", "", "", "", "", "",
      "Duplicated Message-ID in <list@example.org>.\n\n\n"
      "Original mail as follows:\n", "systemerror" },
)

/* Each rule of the table written out ("*" as " x ", without the "|"
 * that ends or starts a piece), one after the other. */
static size_t
rules_text(char *t, size_t tsz)
{
	size_t k, n = 0;
	const char *p, *pat;

	for (k = 0; k < classify_ntext_rules; k++) {
		pat = classify_text_rules[k].pattern;
		for (p = pat; *p != '\0' && n + 4 < tsz; p++)
			if (*p == '*') {
				memcpy(t + n, " x ", 3);
				n += 3;
			} else if (*p != '|' || !(p == pat || p[1] == '\0' ||
			    p[1] == '*' || p[-1] == '*' || (p[-1] == ' ' &&
			    p - 1 > pat && p[-2] == '*')))
				t[n++] = *p;
		if (n + 3 < tsz) {
			memcpy(t + n, " . ", 3);
			n += 3;
		}
	}
	return n;
}

/*
 * The index finds what each pattern alone finds (rulescan_find, a piece
 * at a time): every rule of the table, where it first matches, over all
 * of them written out, and over the text cut at many places (pieces
 * that share their first bytes are one entry of the index).
 */
Test(classify, rule_scan_agrees_with_find)
{
	static char t[60000];
	struct scan *s = malloc(sizeof *s);
	size_t n = rules_text(t, sizeof t), cut, k, a, e;

	cr_assert_not_null(s);
	cr_assert_lt(n, 0xffff);
	for (cut = n; cut > 0; cut = cut > 997 ? cut - 997 : 0) {
		rulescan(t + (n - cut), cut, s);
		for (k = 0; k < classify_ntext_rules; k++) {
			int found = rulescan_find(t + (n - cut), cut,
			    classify_text_rules[k].pattern, &a, &e);

			cr_assert_eq(scan_on(s, k), found,
			    "rule %zu (%s), cut %zu", k,
			    classify_text_rules[k].pattern, cut);
			if (found)
				cr_assert(s->start[k] == a && s->end[k] == e,
				    "rule %zu (%s): [%u, %u), want [%zu, %zu)",
				    k, classify_text_rules[k].pattern,
				    s->start[k], s->end[k], a, e);
		}
	}
	/* (every rule was found in the whole text) */
	rulescan(t, n, s);
	for (k = 0; k < classify_ntext_rules; k++)
		cr_expect(scan_on(s, k), "rule %zu (%s) not in its own text", k,
		    classify_text_rules[k].pattern);
	free(s);
}

/*
 * The one-pass scan: rules found wherever they are, with their word
 * boundaries and gaps; the command named last; the markers-only scan
 * agrees with the full one.
 */
Test(classify, rule_scan)
{
	static const struct {
		const char *text;
		enum smtp_cmd cmd;
	} cmds[] = {
		{ "host x said: 550 no (in reply to rcpt to command)",
		  CMD_RCPT },
		{ ">>> rcpt to:<a@b> <<< 250 ok >>> data <<< 554 no",
		  CMD_DATA },
		{ "... while talking to mx.example.org.: <<< 554 go away",
		  CMD_CONN },
		{ "... while talking to mx.example.org.: >>> mail from:<> "
		  "<<< 550 no", CMD_MAIL },
		{ "after end of data: 550 spam", CMD_DATA },
		{ "nothing at all", CMD_NONE },
		{ "", CMD_NONE },
	};
	struct scan *s = malloc(sizeof *s);
	char norm[512];
	size_t k, n;

	cr_assert_not_null(s);
	for (k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
		n = textnorm(cmds[k].text, strlen(cmds[k].text), norm,
		    sizeof norm);
		rulescan(norm, n, s);
		cr_expect_eq(s->cmd, cmds[k].cmd, "'%s': cmd %d, want %d",
		    cmds[k].text, s->cmd, cmds[k].cmd);
		cr_expect_eq(rulescan_cmd(norm, n), cmds[k].cmd,
		    "'%s': markers only", cmds[k].text);
	}
	/* "mailbox * full": a gap of at most CLASSIFY_GAP bytes */
	n = textnorm("the mailbox of this user is now full", 36, norm,
	    sizeof norm);
	rulescan(norm, n, s);
	cr_expect(s->any);
	cr_expect_geq(s->first[TIER_STRONG][RSN_MAILBOXFULL], 0);
	memset(norm, 'x', sizeof norm);
	memcpy(norm, "mailbox ", 8);
	memcpy(norm + 300, " full", 5);
	rulescan(norm, 400, s);
	cr_expect_lt(s->first[TIER_STRONG][RSN_MAILBOXFULL], 0,
	    "a gap beyond CLASSIFY_GAP");
	/* "|quota|" needs word boundaries */
	n = textnorm("quotation", 9, norm, sizeof norm);
	rulescan(norm, n, s);
	cr_expect_lt(s->first[TIER_WEAK][RSN_MAILBOXFULL], 0, "quotation");
	n = textnorm("over the quota.", 15, norm, sizeof norm);
	rulescan(norm, n, s);
	cr_expect_geq(s->first[TIER_WEAK][RSN_MAILBOXFULL], 0, "quota.");
	free(s);
}
