#!/usr/bin/python3
"""smtp_auth_sink.py - an SMTP sink that requires AUTH, for live tests.

usage: smtp_auth_sink.py PORT MAILDIR USER PASSWORD PIDFILE [REFUSE_FILE]

Listens on 127.0.0.1:PORT (plain SMTP; AUTH PLAIN and LOGIN allowed
without TLS, loopback only), refuses MAIL before a successful AUTH, keeps
each message in MAILDIR with an X-Auth-User header, writes its PID to
PIDFILE once listening (tests/servers.sh stop kills it by that PID).
While REFUSE_FILE exists, MAIL FROM gets "553 5.7.1 Sender address
rejected: not owned by user" (Postfix's reject_sender_login_mismatch).
"""
import asyncio
import mailbox
import os
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, user, password, pidfile = sys.argv[1:6]
refuse = sys.argv[6] if len(sys.argv) > 6 else None


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == user
          and auth_data.password.decode() == password)
    # handled=False: aiosmtpd answers 535 itself on failure.
    return AuthResult(success=ok, handled=False,
                      auth_data=auth_data if ok else None)


class Handler(Mailbox):
    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        if refuse is not None and os.path.exists(refuse):
            return ("553 5.7.1 <%s>: Sender address rejected: not owned "
                    "by user %s" % (address, user))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login if session.auth_data else b"-"
        envelope.content = (b"X-Auth-User: " + login + b"\r\n" +
                            envelope.content)
        return await super().handle_DATA(server, session, envelope)


c = Controller(Handler(maildir), hostname="127.0.0.1", port=int(port),
               authenticator=authenticator, auth_required=True,
               auth_require_tls=False, ready_timeout=30)
c.start()   # listening (waits for its own trial connection) before the pid
with open(pidfile + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.rename(pidfile + ".tmp", pidfile)
try:
    asyncio.get_event_loop().run_forever()
except KeyboardInterrupt:
    pass
finally:
    c.stop()
