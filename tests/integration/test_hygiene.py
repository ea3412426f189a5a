"""Secrets never leak and the services carry no telemetry code. After a full
shopper journey (register, login, browse, cart, checkout with a card, logout),
no password, session token or full card number appears in any service's log,
in the database (a pg_dump of the test's database), in Redis or in the
confirmation email. A static check: no file under services/ mentions
prometheus, opentelemetry, otlp or jaeger, or sets a traceparent header --
everything an SRE sees of the shop comes from the agent."""

import os
import re
import secrets
import subprocess
import unittest

import harness
from helpers import mails_to, poll
from shoptest import ShopTestCase, backing
from test_cart_orders import checkout_body

CARD = "4242424242424242"
SKIP_DIRS = {"node_modules", "dist", ".vite", "build"}


def service_files():
    root = os.path.join(harness.ROOT, "services")
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
        for f in files:
            yield os.path.join(d, f)


class HygieneTest(ShopTestCase):
    # the most talkative level: debug lines must not leak secrets either
    ENV = {"VIGIL_LOG_LEVEL": "debug"}

    def journey(self):
        password = "pw-" + secrets.token_hex(12)
        st, _, user = self.api("POST", "/api/users", {"email": f"h-{secrets.token_hex(6)}"
                                                      "@example.test", "name": "Hy Giene",
                                                      "password": password})
        self.assertEqual(st, 201, user)
        st, _, session = self.api("POST", "/api/sessions",
                                  {"email": user["email"], "password": password})
        self.assertEqual(st, 201, session)
        token = session["token"]
        # a failed login with a near-miss password must not be logged either
        wrong = password + "-wrong"
        st, _, _ = self.api("POST", "/api/sessions", {"email": user["email"], "password": wrong})
        self.assertEqual(st, 401)
        self.assertEqual(self.api("GET", "/api/categories")[0], 200)
        self.assertEqual(self.api("GET", "/api/products?q=lamp")[0], 200)
        self.assertEqual(self.api("GET", "/api/products/9")[0], 200)
        self.assertEqual(self.api("GET", "/api/users/me", token=token)[0], 200)
        self.assertEqual(self.api("PUT", "/api/cart/items/9", {"quantity": 1}, token=token)[0],
                         200)
        # a declined attempt and an invalid one carry card numbers too
        declined = dict(checkout_body()["payment"], card_number="4000000000000002")
        st, _, _ = self.api("POST", "/api/orders",
                            dict(checkout_body(), payment=declined), token=token)
        self.assertEqual(st, 402)
        bad = dict(checkout_body()["payment"], card_number="4242424242424241")
        st, _, _ = self.api("POST", "/api/orders", dict(checkout_body(), payment=bad), token=token)
        self.assertEqual(st, 400)
        st, _, order = self.api("POST", "/api/orders", checkout_body(), token=token,
                                headers={"Idempotency-Key": "hygiene-1"})
        self.assertEqual(st, 201, order)
        self.assertEqual(self.api("GET", "/api/orders", token=token)[0], 200)
        poll(lambda: self.api("GET", f"/api/orders/{order['id']}", token=token)[2]["status"]
             == "confirmed", 30, "order confirmed")
        self.assertEqual(self.api("DELETE", "/api/sessions", token=token)[0], 204)
        return user, password, token

    def test_no_secrets_anywhere(self):
        user, password, token = self.journey()
        secrets_ = {"password": password, "wrong password": password + "-wrong",
                    "session token": token, "card number": CARD,
                    "declined card number": "4000000000000002",
                    "invalid card number": "4242424242424241"}
        logs = self.shop.logs()
        self.assertTrue(any(logs.values()), "the services logged nothing: the check is vacuous")
        for service, text in logs.items():
            for what, value in secrets_.items():
                with self.subTest(service=service, secret=what):
                    self.assertNotIn(value, text, f"{what} in {service}'s log")
        # the database: a dump of the test's database
        b = backing()
        dump = subprocess.run(["pg_dump", "-h", b.pg_sock, "-p", str(b.ports["pg"]), "-U",
                               "postgres", "--data-only", self.shop.slice["name"]],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(dump.returncode, 0, dump.stderr)
        self.assertIn(user["email"], dump.stdout)
        for what, value in secrets_.items():
            with self.subTest(store="postgresql", secret=what):
                self.assertNotIn(value, dump.stdout)
        self.assertIn("$argon2id$", dump.stdout)
        # Redis: every key and every string value of the test's database
        db = self.shop.slice["redis_db"]
        keys = b.redis("--scan", db=db).split()
        blob = "\n".join(keys)
        for k in keys:
            if b.redis("TYPE", k, db=db) == "string":
                blob += "\n" + b.redis("GET", k, db=db)
        for what, value in secrets_.items():
            with self.subTest(store="redis", secret=what):
                self.assertNotIn(value, blob)
        # the confirmation email
        mails = mails_to(b, user["email"])
        self.assertEqual(len(mails), 1)
        for what, value in secrets_.items():
            with self.subTest(store="mail", secret=what):
                self.assertNotIn(value, mails[0])



class StaticTest(unittest.TestCase):
    """Needs no running shop."""

    def test_no_telemetry_code_in_services(self):
        banned = re.compile(r"prometheus|opentelemetry|otlp|jaeger", re.I)
        sets_traceparent = re.compile(r"[\"']traceparent\s*:|header[^;\n]*[\"']traceparent[\"']",
                                      re.I)
        offenders = []
        n = 0
        for path in service_files():
            with open(path, errors="replace") as f:
                text = f.read()
            n += 1
            for i, line in enumerate(text.splitlines(), 1):
                if banned.search(line) or sets_traceparent.search(line):
                    offenders.append(f"{os.path.relpath(path, harness.ROOT)}:{i}: "
                                     f"{line.strip()[:120]}")
        self.assertGreater(n, 10, "no service sources found")
        self.assertEqual(offenders, [], "\n".join(offenders))
