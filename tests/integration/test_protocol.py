"""Framework rules and their precedence, seen from outside through the gateway
(API.md "Conventions"): JSON 404 for unknown /api paths, 405 with Allow, 413
body_too_large (before authentication), 415 for a body without a JSON content
type, 400 invalid_json, 401 before 415 on authenticated routes, X-Request-Id on
every answer (echoed when valid, replaced otherwise), and the per-address rate
limit (429 rate_limited with Retry-After; /healthz exempt; X-Forwarded-For not
trusted)."""

import time

from helpers import json_body, poll, raw_http
from shoptest import ShopTestCase

LIMIT = 1024 * 1024


def big_json(size):
    """A JSON object body of exactly size bytes."""
    head, tail = b'{"pad":"', b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


class ProtocolTest(ShopTestCase):
    def raw(self, method, path, headers=None, body=b"", **kw):
        st, hdrs, raw = raw_http(self.shop.ports["gateway"], method, path, headers, body, **kw)
        return st, hdrs, json_body(raw) if raw else None

    def assertRawError(self, resp, status, code, details=None):
        st, hdrs, body = resp
        self.assertEqual(st, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(body["error"]["code"], code, body)
        self.assertIsInstance(body["error"]["message"], str)
        if details is not None:
            self.assertEqual(body["error"].get("details"), details)
        self.assertTrue(hdrs.get("x-request-id"), hdrs)
        self.assertTrue(hdrs.get("content-type", "").startswith("application/json"), hdrs)

    # ---- 404 / 405 ----
    def test_unknown_api_path_is_json_404(self):
        for method, path in (("GET", "/api/nope"), ("GET", "/api/products/1/extra"),
                             ("POST", "/api/nope"), ("DELETE", "/api/nope/1"),
                             ("GET", "/api/"), ("GET", "/api"), ("GET", "/api/userz"),
                             ("GET", "/api/cart/items"), ("GET", "/api/orders/1/items")):
            with self.subTest(method=method, path=path):
                resp = self.api(method, path)
                self.assertError(resp, 404, "not_found")
                self.assertTrue(resp[1]["Content-Type"].startswith("application/json"))

    def test_wrong_method_is_405_with_allow(self):
        for method, path, allowed in (("DELETE", "/api/products", {"GET"}),
                                      ("POST", "/api/categories", {"GET"}),
                                      ("PUT", "/api/products/1", {"GET"}),
                                      ("GET", "/api/sessions", {"POST", "DELETE"}),
                                      ("PUT", "/api/orders", {"GET", "POST"}),
                                      ("POST", "/api/cart", {"GET"}),
                                      ("GET", "/api/cart/items/1", {"PUT", "DELETE"}),
                                      ("PATCH", "/api/users", {"POST"})):
            with self.subTest(method=method, path=path):
                st, hdrs, body = self.api(method, path)
                self.assertError((st, hdrs, body), 405, "method_not_allowed")
                allow = {m.strip() for m in (hdrs.get("Allow") or "").split(",") if m.strip()}
                self.assertTrue(allowed <= allow, f"Allow: {hdrs.get('Allow')!r}")
                self.assertNotIn(method, allow)

    def test_404_beats_405_and_405_beats_401(self):
        self.assertError(self.api("PATCH", "/api/nope"), 404, "not_found")
        # auth route, wrong method, no token: 405 comes first
        self.assertError(self.api("POST", "/api/users/me"), 405, "method_not_allowed")

    # ---- 413 ----
    def test_body_over_limit_is_413(self):
        self.assertRawError(self.raw("POST", "/api/users", {"Content-Type": "application/json"},
                                     big_json(LIMIT + 1)), 413, "body_too_large")

    def test_body_at_limit_is_accepted(self):
        # exactly 1 MiB is within the limit: the user service sees it and finds no email
        self.assertRawError(self.raw("POST", "/api/users", {"Content-Type": "application/json"},
                                     big_json(LIMIT)), 400, "invalid_field", {"field": "email"})

    def test_413_beats_401_and_415(self):
        for method, path in (("POST", "/api/orders"), ("PUT", "/api/cart/items/1")):
            with self.subTest(path=path):
                self.assertRawError(self.raw(method, path, {"Content-Type": "application/json"},
                                             big_json(LIMIT + 1)), 413, "body_too_large")
                self.assertRawError(self.raw(method, path, {"Content-Type": "text/plain"},
                                             b"x" * (LIMIT + 1)), 413, "body_too_large")

    def test_405_beats_413(self):
        st, hdrs, body = self.raw("PATCH", "/api/users", {"Content-Type": "application/json"},
                                  big_json(LIMIT + 1))
        self.assertRawError((st, hdrs, body), 405, "method_not_allowed")

    def test_chunked_body_over_limit_is_413(self):
        self.assertRawError(self.raw("POST", "/api/users", {"Content-Type": "application/json"},
                                     big_json(2 * LIMIT), chunked=True), 413, "body_too_large")

    def test_service_still_answers_after_413(self):
        self.raw("POST", "/api/users", {"Content-Type": "application/json"}, big_json(4 * LIMIT))
        st, _, body = self.api("GET", "/api/products/1")
        self.assertEqual(st, 200, body)

    # ---- 415 / 400 ----
    def test_body_without_json_content_type_is_415(self):
        body = b'{"email":"ct@example.test","name":"N","password":"long enough pw"}'
        for ct in (None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                   "text/json"):
            with self.subTest(content_type=ct):
                headers = {"Content-Type": ct} if ct else {}
                self.assertRawError(self.raw("POST", "/api/users", headers, body), 415,
                                    "unsupported_media_type")

    def test_json_content_type_with_charset_is_accepted(self):
        body = b'{"email":"charset-ok@example.test","name":"N","password":"long enough pw"}'
        st, _, resp = self.raw("POST", "/api/users",
                               {"Content-Type": "application/json; charset=utf-8"}, body)
        self.assertEqual(st, 201, resp)

    def test_media_type_is_case_insensitive(self):
        body = b'{"email":"case-ct@example.test","name":"N","password":"long enough pw"}'
        st, _, resp = self.raw("POST", "/api/users",
                               {"Content-Type": "Application/JSON; Charset=UTF-8"}, body)
        self.assertEqual(st, 201, resp)

    def test_malformed_json_is_400(self):
        for raw in (b'{"email": ', b"not json", b"", b"[1, 2]", b'"a string"', b"null",
                    b'{"a":1}{"b":2}'):
            with self.subTest(body=raw):
                self.assertRawError(self.raw("POST", "/api/users",
                                             {"Content-Type": "application/json"}, raw),
                                    400, "invalid_json")

    def test_401_beats_415_and_400(self):
        # PUT /api/cart/items/1 without a token and without a content type
        self.assertRawError(self.raw("PUT", "/api/cart/items/1", {}, b'{"quantity": 1}'),
                            401, "unauthenticated")
        self.assertRawError(self.raw("PUT", "/api/cart/items/1",
                                     {"Content-Type": "application/json"}, b"{bad"),
                            401, "unauthenticated")
        self.assertRawError(self.raw("POST", "/api/orders", {"Content-Type": "text/plain"},
                                     b"x"), 401, "unauthenticated")

    def test_415_beats_400_with_a_token(self):
        _, token = self.new_user()
        auth = {"Authorization": f"Bearer {token}"}
        self.assertRawError(self.raw("PUT", "/api/cart/items/1", auth, b"{bad"), 415,
                            "unsupported_media_type")
        self.assertRawError(self.raw("PUT", "/api/cart/items/1",
                                     dict(auth, **{"Content-Type": "application/json"}), b"{bad"),
                            400, "invalid_json")

    # ---- X-Request-Id ----
    def test_request_id_echoed_when_valid(self):
        for rid in ("abc", "A-Za-z0-9._-", "r" * 64, "7f9c2ba4-e88f-4e5d.0_1"):
            with self.subTest(rid=rid):
                st, hdrs, _ = self.api("GET", "/api/products/1", headers={"X-Request-Id": rid})
                self.assertEqual(st, 200)
                self.assertEqual(hdrs["X-Request-Id"], rid)

    def test_request_id_replaced_when_invalid(self):
        for rid in ("r" * 65, "has space", "a/b", "a\tb", "semi;colon", "a:b"):
            with self.subTest(rid=rid):
                st, hdrs, _ = self.raw("GET", "/api/products/1", {"X-Request-Id": rid})
                self.assertEqual(st, 200)
                new = hdrs.get("x-request-id")
                self.assertTrue(new)
                self.assertNotEqual(new, rid)
                self.assertRegex(new, r"^[A-Za-z0-9._-]{1,64}$")

    def test_request_id_on_every_answer(self):
        _, token = self.new_user()
        cases = [("GET", "/api/products/1", None, None), ("GET", "/api/nope", None, None),
                 ("GET", "/api/products/999999", None, None), ("GET", "/api/users/me", None, None),
                 ("DELETE", "/api/products", None, None), ("GET", "/healthz", None, None),
                 ("GET", "/api/products?per_page=0", None, None),
                 ("POST", "/api/users", b"{", "application/json"),
                 ("POST", "/api/users", b"{}", "text/plain"),
                 ("GET", "/api/cart", None, None), ("GET", "/no-such-static-file.txt", None, None),
                 ("GET", "/", None, None)]
        seen = set()
        for method, path, body, ct in cases:
            with self.subTest(method=method, path=path):
                headers = {"Content-Type": ct} if ct else {}
                if path == "/api/cart":
                    headers["Authorization"] = f"Bearer {token}"
                _, hdrs, _ = self.raw(method, path, headers, body or b"")
                self.assertRegex(hdrs.get("x-request-id", ""), r"^[A-Za-z0-9._-]{1,64}$")
                seen.add(hdrs["x-request-id"])
                _, hdrs, _ = self.raw(method, path, dict(headers, **{"X-Request-Id": "mine-1"}),
                                      body or b"")
                self.assertEqual(hdrs.get("x-request-id"), "mine-1")
        self.assertEqual(len(seen), len(cases), "generated request ids repeat")

    def test_413_carries_request_id(self):
        st, hdrs, _ = self.raw("POST", "/api/users", {"Content-Type": "application/json",
                                                      "X-Request-Id": "big-body-1"},
                               big_json(LIMIT + 1))
        self.assertEqual(st, 413)
        self.assertEqual(hdrs.get("x-request-id"), "big-body-1")

    def test_healthz(self):
        st, _, body = self.api("GET", "/healthz")
        self.assertEqual(st, 200, body)
        self.assertEqual(body, {"status": "ok"})
        for name in ("user", "product", "order", "payment", "notification"):
            with self.subTest(service=name):
                st, _, body = self.api("GET", "/healthz", service=name)
                self.assertEqual(st, 200, body)
                self.assertEqual(body, {"status": "ok"})


class RateLimitTest(ShopTestCase):
    """5 requests/s with a burst of 5. Each test uses its own loopback source
    address, so each starts with a full bucket of its own."""

    ENV = {"VIGIL_RATE_LIMIT_RPS": "5", "VIGIL_RATE_LIMIT_BURST": "5"}

    def get(self, path, source, headers=None):
        return raw_http(self.shop.ports["gateway"], "GET", path, headers, source=source)

    def burst(self, path, source, n=30, headers=None):
        t0 = time.monotonic()
        out = [self.get(path, source, headers) for _ in range(n)]
        return out, time.monotonic() - t0

    def test_burst_is_limited(self):
        src = "127.0.0.21"
        answers, elapsed = self.burst("/api/products/1", src)
        statuses = [a[0] for a in answers]
        self.assertEqual(statuses[:5], [200] * 5, statuses)
        ok = statuses.count(200)
        # the bucket refills 5 per second while the burst runs
        self.assertLessEqual(ok, 5 + int(elapsed * 5) + 1, (statuses, elapsed))
        self.assertIn(429, statuses)
        self.assertEqual(set(statuses), {200, 429}, statuses)
        st, hdrs, raw = next(a for a in answers if a[0] == 429)
        body = json_body(raw)
        self.assertEqual(body["error"]["code"], "rate_limited", body)
        self.assertIsInstance(body["error"]["message"], str)
        self.assertRegex(hdrs.get("retry-after", ""), r"^[1-9][0-9]*$")
        self.assertTrue(hdrs.get("x-request-id"))

    def test_bucket_refills(self):
        src = "127.0.0.22"
        answers, _ = self.burst("/api/categories", src)
        self.assertIn(429, [a[0] for a in answers])
        poll(lambda: self.get("/api/categories", src)[0] == 200, 5, "a request after refill")

    def test_healthz_is_exempt(self):
        src = "127.0.0.23"
        self.burst("/api/products", src)
        statuses = [self.get("/healthz", src)[0] for _ in range(30)]
        self.assertEqual(statuses, [200] * 30)

    def test_429_beats_404(self):
        src = "127.0.0.24"
        answers, _ = self.burst("/api/no-such-route", src)
        statuses = [a[0] for a in answers]
        self.assertEqual(statuses[:5], [404] * 5, statuses)
        self.assertIn(429, statuses)

    def test_forwarded_for_is_not_trusted(self):
        src = "127.0.0.25"
        answers = [self.get("/api/products/2", src, {"X-Forwarded-For": f"10.0.0.{i}"})
                   for i in range(20)]
        self.assertIn(429, [a[0] for a in answers])

    def test_addresses_have_their_own_buckets(self):
        answers, _ = self.burst("/api/products/3", "127.0.0.26")
        self.assertEqual(answers[-1][0], 429)
        st, _, raw = self.get("/api/products/3", "127.0.0.27")
        self.assertEqual(st, 200, raw)
