"""Fault flags and failures between services (API.md "Fault flags" and "Errors
between services"): /admin/faults needs the admin token; error_rate 1.0 makes a
service answer 503 unavailable (passed through by the gateway) while /healthz
stays 200; {} clears; added latency past the 2 s timeout is 504
upstream_timeout at the gateway without stalling other clients; a checkout
whose payment call times out leaves a pending order that the reconciler settles
consistently with the payment service's record; a stopped service is 502
upstream_error."""

import threading
import time

from helpers import drop_product_cache, mails_to, poll, sql
from shoptest import ShopTestCase, backing
from test_cart_orders import checkout_body

CLEAR = {"error_rate": 0.0, "added_latency_ms": 0, "slow_query_ms": 0}


class FaultsTest(ShopTestCase):
    def admin(self, service, method, body=None, token="default"):
        headers = {}
        if token == "default":
            token = self.shop.admin_token
        if token is not None:
            headers["X-Admin-Token"] = token
        return self.api(method, "/admin/faults", body, headers=headers, service=service)

    def clear_all(self):
        for name in ("gateway", "product", "payment", "order"):
            st, _, body = self.admin(name, "POST", {})
            self.assertEqual(st, 200, body)

    def setUp(self):
        self.clear_all()

    def tearDown(self):
        self.clear_all()

    def test_admin_token_required(self):
        for service in ("gateway", "user", "product", "order", "payment", "notification"):
            with self.subTest(service=service):
                for token in (None, "wrong", self.shop.admin_token + "x", ""):
                    self.assertError(self.admin(service, "GET", token=token), 401,
                                     "unauthenticated")
                    self.assertError(self.admin(service, "POST", {"error_rate": 1.0},
                                                token=token), 401, "unauthenticated")
                st, _, body = self.admin(service, "GET")
                self.assertEqual(st, 200, body)
                self.assertEqual(body["error_rate"], 0)
                self.assertEqual(body["added_latency_ms"], 0)

    def test_admin_is_not_public(self):
        # the gateway does not route /admin of other services, and its own needs the token
        self.assertError(self.api("GET", "/api/admin/faults"), 404, "not_found")
        st, _, _ = self.api("POST", "/admin/faults", {"error_rate": 1.0})
        self.assertEqual(st, 401)
        st, _, body = self.api("GET", "/api/products/1")
        self.assertEqual(st, 200, body)

    def test_set_show_clear(self):
        st, _, body = self.admin("product", "POST", {"error_rate": 1.0})
        self.assertEqual(st, 200, body)
        st, _, body = self.admin("product", "GET")
        self.assertEqual(st, 200, body)
        self.assertEqual(body, dict(CLEAR, error_rate=1.0))
        # a POST replaces the whole set
        st, _, body = self.admin("product", "POST", {"added_latency_ms": 5})
        self.assertEqual(st, 200, body)
        self.assertEqual(self.admin("product", "GET")[2], dict(CLEAR, added_latency_ms=5))
        st, _, body = self.admin("product", "POST", {})
        self.assertEqual(st, 200, body)
        self.assertEqual(self.admin("product", "GET")[2], CLEAR)

    def test_invalid_fault_bodies(self):
        for body, field in (({"error_rate": 1.5}, "error_rate"), ({"error_rate": -0.1},
                                                                   "error_rate"),
                            ({"error_rate": "1"}, "error_rate"),
                            ({"added_latency_ms": -1}, "added_latency_ms"),
                            ({"added_latency_ms": "10"}, "added_latency_ms"),
                            ({"surprise": 1}, "surprise")):
            with self.subTest(body=body):
                self.assertError(self.admin("product", "POST", body), 400, "invalid_field",
                                 {"field": field})
        self.assertEqual(self.admin("product", "GET")[2], CLEAR)

    def test_error_rate_one_gives_503(self):
        self.shop.set_faults("product", {"error_rate": 1.0})
        for path in ("/api/products/1", "/api/products", "/api/categories"):
            with self.subTest(path=path):
                self.assertError(self.api("GET", path), 503, "unavailable")
        # the gateway forwards the request id: the product service's log line carries it
        resp = self.api("GET", "/api/products/3", headers={"X-Request-Id": "fault-trace-77"})
        self.assertError(resp, 503, "unavailable")
        self.assertEqual(resp[1]["X-Request-Id"], "fault-trace-77")
        poll(lambda: "fault-trace-77" in self.shop.logs().get("product", ""), 5,
             "the request id in the product service's log")
        st, _, body = self.api("GET", "/healthz")
        self.assertEqual((st, body), (200, {"status": "ok"}))
        st, _, body = self.api("GET", "/healthz", service="product")
        self.assertEqual(st, 200, body)
        # other services are unaffected
        _, token = self.new_user()
        st, _, body = self.api("GET", "/api/users/me", token=token)
        self.assertEqual(st, 200, body)
        self.shop.set_faults("product", {})
        st, _, body = self.api("GET", "/api/products/1")
        self.assertEqual(st, 200, body)

    def test_gateway_error_rate(self):
        self.shop.set_faults("gateway", {"error_rate": 1.0})
        self.assertError(self.api("GET", "/api/products/1"), 503, "unavailable")
        st, _, body = self.api("GET", "/healthz")
        self.assertEqual(st, 200, body)

    def test_latency_past_timeout_is_504(self):
        self.shop.set_faults("product", {"added_latency_ms": 3000})
        t0 = time.monotonic()
        resp = self.api("GET", "/api/products/2")
        elapsed = time.monotonic() - t0
        self.assertError(resp, 504, "upstream_timeout")
        self.assertLess(elapsed, 2.8)
        self.assertGreater(elapsed, 1.5)
        self.shop.set_faults("product", {"added_latency_ms": 200})
        st, _, body = self.api("GET", "/api/products/2")
        self.assertEqual(st, 200, body)

    def test_slow_query_is_504(self):
        self.shop.set_faults("product", {"slow_query_ms": 3000})
        drop_product_cache(backing(), self.shop.slice)
        t0 = time.monotonic()
        resp = self.api("GET", "/api/products?page=7&per_page=13")
        self.assertError(resp, 504, "upstream_timeout")
        self.assertLess(time.monotonic() - t0, 2.8)
        st, _, body = self.api("GET", "/healthz")
        self.assertEqual(st, 200, body)
        self.shop.set_faults("product", {})
        poll(lambda: self.api("GET", "/api/products?page=7&per_page=13")[0] == 200, 10,
             "listing after the slow query is cleared")

    def test_payment_timeout_then_reconciled(self):
        user, token = self.new_user()
        pid = 401
        stock = self.api("GET", f"/api/products/{pid}")[2]["stock"]
        st, _, _ = self.api("PUT", f"/api/cart/items/{pid}", {"quantity": 2}, token=token)
        self.assertEqual(st, 200)
        self.shop.set_faults("payment", {"added_latency_ms": 3000})
        result = {}

        def buy():
            t0 = time.monotonic()
            result["resp"] = self.api("POST", "/api/orders", checkout_body(), token=token)
            result["elapsed"] = time.monotonic() - t0

        t = threading.Thread(target=buy)
        t.start()
        # meanwhile the gateway serves other clients promptly
        try:
            for _ in range(5):
                t0 = time.monotonic()
                st, _, body = self.api("GET", "/api/products")
                self.assertEqual(st, 200, body)
                self.assertLess(time.monotonic() - t0, 1.0)
        finally:
            t.join(30)
        self.assertFalse(t.is_alive())
        self.assertError(result["resp"], 504, "upstream_timeout")
        self.assertLess(result["elapsed"], 2.5 + 0.5)
        self.shop.set_faults("payment", {})
        # the order exists, pending until the reconciler settles it
        orders = sql(backing(), self.shop.slice,
                     f"SELECT id, status FROM orders WHERE user_id = {user['id']}")
        self.assertEqual(len(orders), 1, orders)
        oid = int(orders[0][0])

        def settled():
            (status,), = sql(backing(), self.shop.slice,
                             f"SELECT status FROM orders WHERE id = {oid}")
            return status if status != "pending" else None

        status = poll(settled, 30, f"order {oid} settled by the reconciler")
        self.assertIn(status, ("paid", "confirmed", "payment_failed"))
        charge = sql(backing(), self.shop.slice,
                     f"SELECT status FROM payments WHERE idempotency_key = '{oid}'")
        self.assertEqual(len(charge), 1, charge)
        if charge[0][0] == "approved":
            self.assertIn(status, ("paid", "confirmed"))
            self.assertEqual(self.api("GET", f"/api/products/{pid}")[2]["stock"], stock - 2)
            poll(lambda: self.api("GET", f"/api/orders/{oid}", token=token)[2]["status"]
                 == "confirmed", 30, "confirmed after reconciliation")
        else:
            self.assertEqual(status, "payment_failed")
            (db_stock,), = sql(backing(), self.shop.slice,
                               f"SELECT stock FROM products WHERE id = {pid}")
            self.assertEqual(int(db_stock), stock)
            self.assertEqual(self.api("GET", "/api/orders", token=token)[2]["items"], [])

    def test_retry_after_timeout_charges_once(self):
        user, token = self.new_user()
        st, _, _ = self.api("PUT", "/api/cart/items/402", {"quantity": 1}, token=token)
        self.assertEqual(st, 200)
        key = "retry-" + str(user["id"])
        self.shop.set_faults("payment", {"added_latency_ms": 3000})
        try:
            self.assertError(self.api("POST", "/api/orders", checkout_body(), token=token,
                                      headers={"Idempotency-Key": key}), 504, "upstream_timeout")
        finally:
            self.shop.set_faults("payment", {})
        # 5xx answers are not stored: a retry tries again (409 only while the first still runs)
        def retry():
            resp = self.api("POST", "/api/orders", checkout_body(), token=token,
                            headers={"Idempotency-Key": key})
            return None if resp[0] == 409 else resp

        st, _, body = poll(retry, 20, "a retry that is not refused as still running")
        self.assertIn(st, (201, 402), body)
        orders = sql(backing(), self.shop.slice,
                     f"SELECT id, status FROM orders WHERE user_id = {user['id']}")
        self.assertEqual(len(orders), 1, orders)
        charges = sql(backing(), self.shop.slice,
                      f"SELECT status FROM payments WHERE idempotency_key = '{orders[0][0]}'")
        self.assertEqual(len(charges), 1, charges)
        if st == 201:
            self.assertEqual(body["id"], int(orders[0][0]))
            self.assertEqual(charges[0][0], "approved")
        else:
            self.assertEqual(charges[0][0], "declined")
        # and the answer is now stored
        again = self.api("POST", "/api/orders", checkout_body(), token=token,
                         headers={"Idempotency-Key": key})
        self.assertEqual((again[0], again[2]), (st, body))

    def test_stopped_service_is_502(self):
        self.shop.stop_service("product")
        try:
            self.assertError(self.api("GET", "/api/products/1"), 502, "upstream_error")
            self.assertError(self.api("GET", "/api/categories"), 502, "upstream_error")
        finally:
            self.shop.start_service("product")
        st, _, body = self.api("GET", "/api/products/1")
        self.assertEqual(st, 200, body)

    def test_payment_down_is_502_then_released(self):
        user, token = self.new_user()
        pid = 403
        stock = self.api("GET", f"/api/products/{pid}")[2]["stock"]
        st, _, _ = self.api("PUT", f"/api/cart/items/{pid}", {"quantity": 3}, token=token)
        self.assertEqual(st, 200)
        self.shop.stop_service("payment")
        try:
            self.assertError(self.api("POST", "/api/orders", checkout_body(), token=token), 502,
                             "upstream_error")
        finally:
            self.shop.start_service("payment")
        # no charge was ever made: the reconciler declines the pending order and frees the stock
        orders = sql(backing(), self.shop.slice,
                     f"SELECT id FROM orders WHERE user_id = {user['id']}")
        self.assertLessEqual(len(orders), 1, orders)
        if orders:
            oid = orders[0][0]
            poll(lambda: sql(backing(), self.shop.slice,
                             f"SELECT status FROM orders WHERE id = {oid}") == [["payment_failed"]],
                 30, f"order {oid} settled as payment_failed")
        (db_stock,), = sql(backing(), self.shop.slice, f"SELECT stock FROM products WHERE id = {pid}")
        self.assertEqual(int(db_stock), stock)
        self.assertEqual(self.api("GET", "/api/orders", token=token)[2]["items"], [])
        # the cart is still there and goes through now
        st, _, order = self.api("POST", "/api/orders", checkout_body(), token=token)
        self.assertEqual(st, 201, order)

    def test_notification_down_then_back(self):
        user, token = self.new_user()
        st, _, _ = self.api("PUT", "/api/cart/items/404", {"quantity": 1}, token=token)
        self.assertEqual(st, 200)
        self.shop.stop_service("notification")
        try:
            st, _, order = self.api("POST", "/api/orders", checkout_body(), token=token)
            self.assertEqual(st, 201, order)
            self.assertEqual(order["status"], "paid")
            self.assertEqual(mails_to(backing(), user["email"]), [])
            self.assertEqual(
                self.api("GET", f"/api/orders/{order['id']}", token=token)[2]["status"], "paid")
        finally:
            self.shop.start_service("notification")
        poll(lambda: self.api("GET", f"/api/orders/{order['id']}", token=token)[2]["status"]
             == "confirmed", 30, "confirmed once notification is back")
        self.assertEqual(len(mails_to(backing(), user["email"])), 1)
