#!/usr/bin/python3
"""genbounces.py - N realistic bounces straight into a Maildir, for the bench.

usage: genbounces.py MAILDIR N ACCOUNTS_TSV [SEED]

Writes N messages into MAILDIR/new (via tmp/, as an MTA would, LF line
endings, Dovecot-style ",S=size,W=vsize" names) and, in ACCOUNTS_TSV, the
platform accounts for a COPY into public.accounts (id, primary_email,
secondary_email, phone, status): one per bounced recipient except ~10%
(unknown accounts), plus as many accounts that did not bounce.

The mix follows a mass mailing's bounce mailbox: hard bounces first, then
quota, blocked, spam, transient (delayed), SPF, out-of-office replies,
feedback-loop complaints, success DSNs and some mail nobody can read.
Several MTA styles (Postfix, Sendmail, Exim, Exchange, Gmail), sizes from
~1 KB to ~50 KB: ~half return the whole original (newsletter text + HTML,
sometimes a base64 attachment), the rest only its headers.
Deterministic for a given SEED. Prints one summary line.
"""
import base64
import os
import random
import sys
import time

DOMAINS = ["example.com", "example.net", "example.org", "mail.example",
           "univ-example.fr", "corp.example", "free.example", "orange.example",
           "laposte.example", "yahoo.example", "gmail.example", "outlook.example"]
FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
         "ivan", "judy", "mallory", "nina", "oscar", "peggy", "rupert", "sybil",
         "trent", "victor", "walter", "zoe", "jean", "marie", "luc", "chloe"]
LAST = ["martin", "bernard", "dubois", "thomas", "robert", "richard", "petit",
        "durand", "leroy", "moreau", "simon", "laurent", "lefebvre", "michel"]

# (weight, kind)
MIX = [(34, "hard"), (9, "quota"), (7, "blocked"), (7, "spam"),
       (10, "transient"), (2, "spf"), (11, "autoreply"), (3, "complaint"),
       (2, "delivered"), (5, "unknown"), (10, "hard_exim")]

WORDS = ("la plateforme vous informe que votre compte est actif nouvelles "
         "fonctionnalites disponibles ce mois ci pensez a verifier vos "
         "informations personnelles et professionnelles merci de votre "
         "confiance cordialement l equipe support aide documentation "
         "evenement inscription webinaire rapport mensuel").split()


def date(rng, base):
    t = base - rng.randint(0, 86400 * 3)
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t)), t


def qid(rng):
    return "%010X" % rng.getrandbits(40)


def prose(rng, nbytes):
    out, n = [], 0
    line = []
    while n < nbytes:
        w = rng.choice(WORDS)
        line.append(w)
        n += len(w) + 1
        if len(line) >= 12:
            out.append(" ".join(line))
            line = []
    if line:
        out.append(" ".join(line))
    return "\n".join(out) + "\n"


def original(rng, rcpt, full, size):
    """The returned original: headers only, or the whole newsletter."""
    mid = "<news-%d@platform.example.com>" % rng.getrandbits(32)
    hdr = ("Return-Path: <bounces@platform.example.com>\n"
           "Received: from platform.example.com (platform.example.com "
           "[198.51.100.7])\n\tby mx.%s with ESMTPS id %s\n\tfor <%s>\n"
           "From: Plateforme <noreply@platform.example.com>\n"
           "To: %s\nSubject: Votre lettre d'information de novembre\n"
           "Message-ID: %s\nDate: Mon, 23 Nov 2026 07:30:00 +0000\n"
           "List-Unsubscribe: <https://platform.example.com/u/%d>\n"
           "MIME-Version: 1.0\n" % (rcpt.split("@")[1], qid(rng), rcpt,
                                     rcpt, mid, rng.getrandbits(24)))
    if not full:
        return hdr
    b = "alt-%d" % rng.getrandbits(32)
    text = prose(rng, max(200, size // 3))
    html = "<html><body>\n" + "".join(
        "<p>%s</p>\n" % l for l in prose(rng, max(300, size // 3)).split("\n")
        if l) + "</body></html>\n"
    body = ("Content-Type: multipart/mixed; boundary=\"%s\"\n\n--%s\n"
            "Content-Type: multipart/alternative; boundary=\"%s-a\"\n\n"
            "--%s-a\nContent-Type: text/plain; charset=utf-8\n\n%s\n"
            "--%s-a\nContent-Type: text/html; charset=utf-8\n\n%s\n--%s-a--\n"
            % (b, b, b, b, text, b, html, b))
    rest = size - len(body)
    if rest > 2000:
        raw = rng.randbytes(rest * 3 // 4) if hasattr(rng, "randbytes") \
            else bytes(rng.getrandbits(8) for _ in range(rest * 3 // 4))
        enc = base64.encodebytes(raw).decode()
        body += ("--%s\nContent-Type: application/pdf; name=\"rapport.pdf\"\n"
                 "Content-Transfer-Encoding: base64\nContent-Disposition: "
                 "attachment; filename=\"rapport.pdf\"\n\n%s" % (b, enc))
    body += "--%s--\n" % b
    return hdr + body


def dsn(rng, base, rcpt, status, action, diag, style, full, size):
    d, _ = date(rng, base)
    q = qid(rng)
    dom = rcpt.split("@")[1]
    b = "%s.%d/mx%d.platform.example.com" % (q, rng.getrandbits(30),
                                             rng.randint(1, 4))
    if style == "postfix":
        head = ("Return-Path: <>\nReceived: by mx1.platform.example.com "
                "(Postfix)\n\tid %s; %s\nDate: %s\nFrom: MAILER-DAEMON@"
                "mx1.platform.example.com (Mail Delivery System)\n"
                "Subject: %s\n" % (q, d, d, "Delayed Mail (still being "
                                   "retried)" if action == "delayed" else
                                   "Undelivered Mail Returned to Sender"))
        note = ("This is the mail system at host mx1.platform.example.com."
                "\n\nI'm sorry to have to inform you that your message could"
                " not\nbe delivered to one or more recipients. It's attached "
                "below.\n\n                   The mail system\n\n<%s>: host "
                "mx.%s[192.0.2.%d] said: %s (in reply to RCPT TO command)\n"
                % (rcpt, dom, rng.randint(1, 254), diag))
    elif style == "sendmail":
        head = ("Return-Path: <MAILER-DAEMON@relay.platform.example.com>\n"
                "Date: %s\nFrom: Mail Delivery Subsystem <MAILER-DAEMON@"
                "relay.platform.example.com>\nSubject: Returned mail: see "
                "transcript for details\n" % d)
        note = ("The original message was received at %s\nfrom "
                "platform.example.com [198.51.100.7]\n\n   ----- The "
                "following addresses had permanent fatal errors -----\n<%s>\n"
                "    (reason: %s)\n\n   ----- Transcript of session follows "
                "-----\n... while talking to mx.%s.:\n>>> RCPT To:<%s>\n<<< "
                "%s\n" % (d, rcpt, diag, dom, rcpt, diag))
    else:  # exchange
        head = ("Return-Path: <>\nDate: %s\nFrom: postmaster@%s\n"
                "Subject: Undeliverable: Votre lettre d'information\n"
                % (d, dom))
        note = ("Delivery has failed to these recipients or groups:\n\n%s\n"
                "The e-mail address you entered couldn't be found or the "
                "mailbox is unavailable.\n\nDiagnostic information for "
                "administrators:\n\nGenerating server: mx.%s\n\n%s\nRemote "
                "Server returned '%s'\n" % (rcpt, dom, rcpt, diag))
    return (head +
            "To: bounces@platform.example.com\nAuto-Submitted: auto-replied\n"
            "Message-Id: <%s.%s@mx1.platform.example.com>\nMIME-Version: 1.0\n"
            "Content-Type: multipart/report; report-type=delivery-status;\n"
            "\tboundary=\"%s\"\n\nThis is a MIME-encapsulated message.\n\n"
            "--%s\nContent-Description: Notification\nContent-Type: "
            "text/plain; charset=us-ascii\n\n%s\n--%s\nContent-Description: "
            "Delivery report\nContent-Type: message/delivery-status\n\n"
            "Reporting-MTA: dns; mx1.platform.example.com\nX-Postfix-Queue-ID:"
            " %s\nArrival-Date: %s\n\nFinal-Recipient: rfc822; %s\n"
            "Original-Recipient: rfc822;%s\nAction: %s\nStatus: %s\n"
            "Remote-MTA: dns; mx.%s\nDiagnostic-Code: smtp; %s\n\n--%s\n"
            "Content-Description: %s\nContent-Type: %s\n\n%s\n--%s--\n"
            % (q, rng.getrandbits(20), b, b, note, b, q, d, rcpt, rcpt,
               action, status, dom, diag, b,
               "Undelivered Message" if full else "Undelivered Message "
               "Headers", "message/rfc822" if full else "text/rfc822-headers",
               original(rng, rcpt, full, size), b))


def exim(rng, base, rcpt, diag, full, size):
    d, _ = date(rng, base)
    dom = rcpt.split("@")[1]
    return ("Return-path: <>\nReceived: from mail by smtp.%s with local "
            "(Exim 4.96)\n\tid 1t%s-000%d\n\tfor bounces@platform.example.com;"
            " %s\nX-Failed-Recipients: %s\nAuto-Submitted: auto-replied\n"
            "From: Mail Delivery System <Mailer-Daemon@smtp.%s>\n"
            "To: bounces@platform.example.com\nSubject: Mail delivery failed:"
            " returning message to sender\nMessage-Id: <E1t%s@smtp.%s>\n"
            "Date: %s\n\nThis message was created automatically by mail "
            "delivery software.\n\nA message that you sent could not be "
            "delivered to one or more of its\nrecipients. This is a permanent"
            " error. The following address(es) failed:\n\n  %s\n    host "
            "mx.%s [192.0.2.%d]\n    SMTP error from remote mail server after"
            " RCPT TO:<%s>:\n    %s\n\n------ This is a copy of the message, "
            "including all the headers. ------\n%s"
            % (dom, qid(rng), rng.randint(1, 9), d, rcpt, dom, qid(rng), dom,
               d, rcpt, dom, rng.randint(1, 254), rcpt, diag,
               original(rng, rcpt, full, size)))


def autoreply(rng, base, rcpt):
    d, _ = date(rng, base)
    return ("Return-Path: <%s>\nDate: %s\nFrom: %s\nTo: "
            "noreply@platform.example.com\nSubject: =?UTF-8?Q?R=C3=A9ponse_"
            "automatique=C2=A0:_Votre_lettre?=\nMessage-ID: <auto-%d@%s>\n"
            "Auto-Submitted: auto-replied\nX-Autoreply: yes\nPrecedence: bulk"
            "\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: quoted-printable\n\nBonjour,\n\nJe "
            "suis absent du bureau jusqu'au 7 d=C3=A9cembre, avec un acc=C3="
            "A8s\nlimit=C3=A9 =C3=A0 ma messagerie. Pour toute urgence, "
            "contactez le\nsecr=C3=A9tariat.\n\n%s\n"
            % (rcpt, d, rcpt, rng.getrandbits(32), rcpt.split("@")[1],
               rcpt.split("@")[0]))


def complaint(rng, base, rcpt, full, size):
    d, _ = date(rng, base)
    b = "----=_Part_%d" % rng.getrandbits(32)
    return ("Return-Path: <fbl@feedback.example.net>\nDate: %s\nFrom: "
            "Feedback Loop <fbl@feedback.example.net>\nTo: "
            "abuse@platform.example.com\nSubject: Abuse report\nMessage-ID: "
            "<fbl-%d@feedback.example.net>\nMIME-Version: 1.0\nContent-Type: "
            "multipart/report; report-type=feedback-report;\n\tboundary=\"%s\""
            "\n\n--%s\nContent-Type: text/plain; charset=us-ascii\n\nThis is "
            "an email abuse report for an email message received from IP\n"
            "198.51.100.7. The recipient marked it as spam.\n\n--%s\n"
            "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\n"
            "User-Agent: ExampleFBL/2.1\nVersion: 1\nOriginal-Mail-From: "
            "<bounces@platform.example.com>\nOriginal-Rcpt-To: <%s>\n"
            "Reported-Domain: platform.example.com\nSource-IP: 198.51.100.7\n"
            "\n--%s\nContent-Type: message/rfc822\nContent-Disposition: "
            "inline\n\n%s\n--%s--\n"
            % (d, rng.getrandbits(32), b, b, b, rcpt, b,
               original(rng, rcpt, full, size), b))


def junk(rng, base, size):
    d, _ = date(rng, base)
    return ("Return-Path: <news@shop.example.org>\nDate: %s\nFrom: Example "
            "Shop <news@shop.example.org>\nTo: bounces@platform.example.com\n"
            "Subject: Black Friday: up to 50%% off everything\nMessage-ID: "
            "<bf-%d@shop.example.org>\nMIME-Version: 1.0\nContent-Type: "
            "text/plain; charset=utf-8\n\n%s" % (d, rng.getrandbits(32),
                                                 prose(rng, size)))


def message(rng, base, kind, rcpt):
    # Sizes: headers-only DSNs ~2-3 KB; whole originals log-normal around
    # 6 KB, capped near 50 KB.
    full = rng.random() < 0.5
    size = int(min(48000, max(800, rng.lognormvariate(8.7, 0.9))))
    style = rng.choice(["postfix", "postfix", "sendmail", "exchange"])
    if kind == "hard":
        diag = rng.choice([
            "550 5.1.1 <%s>: Recipient address rejected: User unknown in "
            "virtual mailbox table" % rcpt,
            "550 5.1.1 The email account that you tried to reach does not "
            "exist.",
            "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
            "550 5.2.1 This mailbox has been disabled (account expired)"])
        st = diag.split()[1]
        return dsn(rng, base, rcpt, st, "failed", diag, style, full, size)
    if kind == "hard_exim":
        return exim(rng, base, rcpt, "550 5.1.1 <%s>: No such user here" %
                    rcpt, full, size)
    if kind == "quota":
        diag = rng.choice(["552 5.2.2 Mailbox full",
                           "452 4.2.2 The email account that you tried to "
                           "reach is over quota",
                           "552 5.2.2 <%s>... Mailbox quota exceeded" % rcpt])
        return dsn(rng, base, rcpt, diag.split()[1], "failed", diag,
                   "sendmail" if style == "exchange" else style, full, size)
    if kind == "blocked":
        diag = rng.choice([
            "554 5.7.1 Service unavailable; Client host [198.51.100.7] "
            "blocked using zen.spamhaus.org",
            "421 4.7.0 [198.51.100.7] Our system has detected an unusual "
            "rate of unsolicited mail originating from your IP address. "
            "rate limited",
            "550 5.7.1 Client host rejected: bad IP reputation"])
        return dsn(rng, base, rcpt, diag.split()[1], "failed", diag, style,
                   full, size)
    if kind == "spam":
        diag = rng.choice([
            "550 5.7.1 Message rejected as spam by Content Filtering.",
            "554 5.7.1 This message has been blocked because it was "
            "identified as SPAM (policy issue or sender blocked)"])
        return dsn(rng, base, rcpt, "5.7.1", "failed", diag, style, full,
                   size)
    if kind == "spf":
        return dsn(rng, base, rcpt, "5.7.23", "failed",
                   "550 5.7.23 SPF check failed: forwarding address does not"
                   " permit our host", style, full, size)
    if kind == "transient":
        return dsn(rng, base, rcpt, "4.4.1", "delayed",
                   "connect to mx.%s[203.0.113.9]:25: Connection timed out"
                   % rcpt.split("@")[1], "postfix", False, size)
    if kind == "delivered":
        return dsn(rng, base, rcpt, "2.0.0", "delivered",
                   "250 2.0.0 OK: queued", "postfix", False, size)
    if kind == "autoreply":
        return autoreply(rng, base, rcpt)
    if kind == "complaint":
        return complaint(rng, base, rcpt, full, size)
    return junk(rng, base, min(size, 20000))


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: genbounces.py MAILDIR N ACCOUNTS_TSV [SEED]")
    md, n, tsv = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 7)
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
    kinds = [k for w, k in MIX for _ in range(w)]
    base = 1795680000
    deliver = int(time.time()) - n
    total = 0
    nacc = 0
    counts = {}
    with open(tsv, "w") as acc:
        for i in range(n):
            rcpt = "%s.%s%d@%s" % (rng.choice(FIRST), rng.choice(LAST), i,
                                   rng.choice(DOMAINS))
            kind = rng.choice(kinds)
            counts[kind] = counts.get(kind, 0) + 1
            data = message(rng, base, kind, rcpt).encode()
            # ~10% of recipients have no account; of the others ~15% bounced
            # on their secondary address and ~5% are invitations.
            r = rng.random()
            if r >= 0.10:
                nacc += 1
                if r < 0.25:
                    acc.write("%d\tuser%d@platform-users.example\t%s\t"
                              "+3360%07d\tactive\n" % (nacc, i, rcpt, i))
                elif r < 0.30:
                    acc.write("%d\t%s\t\\N\t\\N\tinvited\n" % (nacc, rcpt))
                else:
                    acc.write("%d\t%s\t\\N\t+3361%07d\tactive\n"
                              % (nacc, rcpt, i))
            vsize = len(data) + data.count(b"\n")
            # Names as Dovecot's LMTP gives them, deliveries spread over
            # the hours after the mailing (Dovecot hashes these names).
            deliver += rng.randint(0, 1)
            name = "%d.M%dP%d.mx%d.platform.example,S=%d,W=%d" % (
                deliver, rng.randint(0, 999999), rng.randint(1000, 4000000),
                rng.randint(1, 4), len(data), vsize)
            tmp = os.path.join(md, "tmp", name)
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, os.path.join(md, "new", name))
            total += len(data)
        # Accounts that did not bounce (a platform has many more users).
        for j in range(n):
            nacc += 1
            acc.write("%d\tquiet%d@%s\t\\N\t\\N\tactive\n"
                      % (nacc, j, rng.choice(DOMAINS)))
    print("generated=%d bytes=%d accounts=%d mix=%s" % (
        n, total, nacc, ",".join("%s:%d" % kv for kv in sorted(
            counts.items()))))


if __name__ == "__main__":
    main()
