"""A local SMTP sink: accepts every message and stores it as DIR/NNNNNN.eml.

The shop's notification service sends its confirmation emails here in tests
and in `make up`; nothing is relayed anywhere.
"""

import argparse
import asyncio
import itertools
import os
import signal

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, directory):
        self.directory = directory
        existing = [int(n[:-4]) for n in os.listdir(directory) if n.endswith(".eml")]
        self.counter = itertools.count(max(existing, default=0) + 1)

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        tmp = os.path.join(self.directory, f".{n:06d}.tmp")
        with open(tmp, "wb") as f:
            f.write(f"X-Envelope-From: {envelope.mail_from}\r\n".encode())
            f.write(f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode())
            f.write(envelope.original_content or envelope.content)
        # rename: a reader never sees a half-written message
        os.rename(tmp, os.path.join(self.directory, f"{n:06d}.eml"))
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(Store(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    loop = asyncio.new_event_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    loop.run_until_complete(stop)
    controller.stop()


if __name__ == "__main__":
    main()
