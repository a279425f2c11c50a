#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A real SMTP server on 127.0.0.1 for the tests (Debian's python3-aiosmtpd).

    smtp_sink.py OUTDIR [--port-file F] [--auth USER:PASSWORD] [--fail-first N]

Every message it accepts is written to OUTDIR/<n>.eml, its envelope (MAIL FROM,
RCPT TO) to OUTDIR/<n>.env as "from\\nto1\\nto2...". --fail-first N answers the
first N DATA commands with 451 (a transient failure), to exercise retries.
The chosen port goes to the port file once the server listens.
"""
import argparse
import asyncio
import os
import signal
import sys
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, outdir, fail_first):
        self.outdir = outdir
        self.fail_left = fail_first
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.fail_left > 0:
                self.fail_left -= 1
                return "451 4.3.0 try again later"
            self.n += 1
            n = self.n
        base = os.path.join(self.outdir, str(n))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".env", "w") as f:
            f.write("\n".join([envelope.mail_from] + list(envelope.rcpt_tos)) + "\n")
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 OK"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("--port-file")
    p.add_argument("--auth")
    p.add_argument("--fail-first", type=int, default=0)
    a = p.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    kwargs = {}
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            return AuthResult(success=ok)

        kwargs = dict(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    handler = Sink(a.outdir, a.fail_first)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", **kwargs), "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(a.port_file + ".tmp", a.port_file)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    loop.run_forever()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
