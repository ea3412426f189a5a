"""unittest glue: one Backing per test pass, a Shop (own database, Redis db,
vhost and service processes) per test class, and small API helpers."""

import json
import os
import unittest
import uuid

import harness

_backing = None


def backing():
    """The pass's backing services, started on first use and stopped by the runner."""
    global _backing
    if _backing is None:
        base = os.environ.get("VIGIL_TEST_DIR") or os.path.join(harness.ROOT, "build", "test-run")
        _backing = harness.Backing(base).start()
    return _backing


def stop_backing():
    global _backing
    if _backing is not None:
        _backing.stop()
        _backing = None


class ShopTestCase(unittest.TestCase):
    """Starts the services named in SERVICES (all by default) for the class."""

    SERVICES = None
    ENV = {}

    @classmethod
    def setUpClass(cls):
        cls.shop = harness.Shop(backing(), cls.__name__, env=cls.ENV, services=cls.SERVICES)
        cls.shop.start()

    @classmethod
    def tearDownClass(cls):
        cls.shop.stop()

    # ---- API helpers ----
    def api(self, method, path, body=None, token=None, headers=None, raw=None, service="gateway"):
        """Returns (status, headers, parsed JSON or None)."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else body
        st, hdrs, payload = harness.http(method, self.shop.url(service) + path, data, headers=h)
        parsed = None
        if payload:
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = payload
        return st, hdrs, parsed

    def assertError(self, resp, status, code, details=None):
        st, hdrs, body = resp
        self.assertEqual(st, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(body["error"]["code"], code, body)
        self.assertIsInstance(body["error"]["message"], str)
        if details is not None:
            self.assertEqual(body["error"].get("details"), details, body)

    def register(self, email=None, password="correct horse battery", name="Test Shopper"):
        email = email or f"u-{uuid.uuid4().hex[:12]}@example.test"
        st, _, body = self.api("POST", "/api/users",
                               {"email": email, "name": name, "password": password})
        self.assertEqual(st, 201, body)
        return body, email, password

    def login(self, email, password):
        st, _, body = self.api("POST", "/api/sessions", {"email": email, "password": password})
        self.assertEqual(st, 201, body)
        return body["token"]

    def new_user(self):
        user, email, password = self.register()
        return user, self.login(email, password)


ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "London",
           "postal_code": "N1 9GU", "country": "GB"}
CARD_OK = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}
CARD_DECLINED = dict(CARD_OK, card_number="4000000000000002")
CARD_NO_FUNDS = dict(CARD_OK, card_number="4000000000009995")
