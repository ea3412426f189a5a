"""Backing-service outages without restarting any shop service: PostgreSQL
stopped under load (503 unavailable while it is down, never a hang or a 500;
full service once it is back, through the pools' own reconnection), and
RabbitMQ stopped during checkouts (orders still 201, order health "degraded";
once it returns the outbox relay publishes every confirmation, each email sent
exactly once), and Redis restarted (empty): 503 rather than 401 while
it is down, sessions and carts gone but everything working once it is back."""

import random
import threading
import time

from helpers import mails_to, poll, sql
from shoptest import ShopTestCase, backing
from test_cart_orders import checkout_body


class ResilienceTest(ShopTestCase):
    def assertSameProcesses(self, pids):
        for name, p in self.shop.procs.items():
            self.assertIsNone(p.poll(), f"{name} exited with {p.returncode}")
        self.assertEqual({n: p.pid for n, p in self.shop.procs.items()}, pids)

    def uncached_listing(self):
        """A listing the cache is unlikely to hold: it reaches PostgreSQL."""
        page, per_page = random.randint(1, 5000), random.randint(1, 100)
        return self.api("GET", f"/api/products?page={page}&per_page={per_page}")

    def test_postgres_restart(self):
        pids = {n: p.pid for n, p in self.shop.procs.items()}
        user, token = self.new_user()
        st, _, _ = self.api("PUT", "/api/cart/items/55", {"quantity": 1}, token=token)
        self.assertEqual(st, 200)
        seen = []
        stop = threading.Event()

        def load():
            while not stop.is_set() and len(seen) < 5000:
                t0 = time.monotonic()
                st, _, body = self.uncached_listing()
                code = body["error"]["code"] if st != 200 and isinstance(body, dict) else None
                seen.append((st, code, time.monotonic() - t0))

        t = threading.Thread(target=load)
        t.start()
        try:
            poll(lambda: len(seen) >= 5, 10, "load before the outage")
            backing().stop_pg()
            try:
                poll(lambda: self.uncached_listing()[0] == 503, 15, "503 while PostgreSQL is down")
                self.assertError(self.uncached_listing(), 503, "unavailable")
                self.assertError(self.api("POST", "/api/orders", checkout_body(), token=token),
                                 503, "unavailable")
                self.assertError(self.api("POST", "/api/users",
                                          {"email": "down@example.test", "name": "D",
                                           "password": "long enough pw"}), 503, "unavailable")
                for name in ("product", "order", "user", "payment"):
                    st, _, _ = self.api("GET", "/healthz", service=name)
                    self.assertEqual(st, 503, f"{name} /healthz with PostgreSQL down")
                st, _, body = self.api("GET", "/healthz")
                self.assertEqual((st, body), (200, {"status": "ok"}))
            finally:
                backing().start_pg()
            poll(lambda: self.uncached_listing()[0] == 200, 20, "listing after PostgreSQL is back")
        finally:
            stop.set()
            t.join(30)
        statuses = {(st, code) for st, code, _ in seen}
        self.assertIn((503, "unavailable"), statuses, "the load never saw the outage")
        self.assertLessEqual(statuses, {(200, None), (503, "unavailable")}, statuses)
        slowest = max(d for _, _, d in seen)
        self.assertLess(slowest, 5.0, "a request hung while PostgreSQL was down")
        # full service, same processes
        for name in ("product", "order", "user", "payment", "notification"):
            poll(lambda: self.api("GET", "/healthz", service=name)[0] == 200, 20,
                 f"{name} healthy again")
        st, _, order = self.api("POST", "/api/orders", checkout_body(), token=token)
        self.assertEqual(st, 201, order)
        _, token2 = self.new_user()
        st, _, body = self.api("GET", "/api/users/me", token=token2)
        self.assertEqual(st, 200, body)
        poll(lambda: self.api("GET", f"/api/orders/{order['id']}", token=token)[2]["status"]
             == "confirmed", 30, "order confirmed after the restart")
        self.assertSameProcesses(pids)

    def test_rabbitmq_outage(self):
        pids = {n: p.pid for n, p in self.shop.procs.items()}
        shoppers = []
        for i in range(3):
            user, token = self.new_user()
            st, _, _ = self.api("PUT", f"/api/cart/items/{60 + i}", {"quantity": 1}, token=token)
            self.assertEqual(st, 200)
            shoppers.append((user, token))
        backing().stop_rabbit()
        orders = []
        try:
            poll(lambda: self.api("GET", "/healthz", service="order")[2] == {"status": "degraded"},
                 15, "order health degraded")
            st, _, body = self.api("GET", "/healthz", service="order")
            self.assertEqual(st, 200, body)
            for user, token in shoppers:
                st, _, order = self.api("POST", "/api/orders", checkout_body(), token=token)
                self.assertEqual(st, 201, order)
                self.assertEqual(order["status"], "paid")
                orders.append(order)
            # the confirmations wait in the outbox
            ids = ",".join(str(o["id"]) for o in orders)
            rows = sql(backing(), self.shop.slice,
                       f"SELECT DISTINCT order_id FROM outbox WHERE order_id IN ({ids})")
            self.assertEqual(len(rows), len(orders), rows)
            for user, token in shoppers:
                self.assertEqual(mails_to(backing(), user["email"]), [])
            st, _, body = self.api("GET", "/healthz")
            self.assertEqual((st, body), (200, {"status": "ok"}))
        finally:
            backing().start_rabbit()
        poll(lambda: self.api("GET", "/healthz", service="order")[2] == {"status": "ok"}, 60,
             "order health ok again")
        for (user, token), order in zip(shoppers, orders):
            poll(lambda: self.api("GET", f"/api/orders/{order['id']}", token=token)[2]["status"]
                 == "confirmed", 60, f"order {order['id']} confirmed after RabbitMQ returned")
        poll(lambda: sql(backing(), self.shop.slice, "SELECT count(*) FROM outbox") == [["0"]],
             30, "outbox drained")
        # a new checkout goes straight through again
        user, token = self.new_user()
        st, _, _ = self.api("PUT", "/api/cart/items/70", {"quantity": 1}, token=token)
        st, _, order = self.api("POST", "/api/orders", checkout_body(), token=token)
        self.assertEqual(st, 201, order)
        poll(lambda: self.api("GET", f"/api/orders/{order['id']}", token=token)[2]["status"]
             == "confirmed", 30, "new order confirmed")
        for u, _ in shoppers + [(user, token)]:
            self.assertEqual(len(mails_to(backing(), u["email"])), 1, u["email"])
        self.assertSameProcesses(pids)

    def test_redis_restart(self):
        pids = {n: p.pid for n, p in self.shop.procs.items()}
        user, token = self.new_user()
        st, _, _ = self.api("PUT", "/api/cart/items/80", {"quantity": 1}, token=token)
        self.assertEqual(st, 200)
        backing().stop_redis()
        try:
            # a session store that is down is not a missing session: 503, never 401
            self.assertError(self.api("GET", "/api/users/me", token=token), 503, "unavailable")
            self.assertError(self.api("GET", "/api/cart", token=token), 503, "unavailable")
            st, _, _ = self.api("GET", "/healthz")
            self.assertEqual(st, 503)
            for name in ("user", "product", "order"):
                st, _, _ = self.api("GET", "/healthz", service=name)
                self.assertEqual(st, 503, f"{name} /healthz with Redis down")
        finally:
            backing().start_redis()
        for name in ("gateway", "user", "product", "order"):
            poll(lambda: self.api("GET", "/healthz", service=name)[0] == 200, 20,
                 f"{name} healthy again")
        # Redis kept nothing: the old session is gone, a new one works end to end
        self.assertError(self.api("GET", "/api/users/me", token=token), 401, "unauthenticated")
        st, _, session = self.api("POST", "/api/sessions",
                                  {"email": user["email"], "password": "correct horse battery"})
        self.assertEqual(st, 201, session)
        token = session["token"]
        self.assertEqual(self.api("GET", "/api/cart", token=token)[2]["items"], [])
        self.assertEqual(self.api("GET", "/api/products/80")[0], 200)
        st, _, _ = self.api("PUT", "/api/cart/items/80", {"quantity": 1}, token=token)
        self.assertEqual(st, 200)
        st, _, order = self.api("POST", "/api/orders", checkout_body(), token=token,
                                headers={"Idempotency-Key": "after-redis"})
        self.assertEqual(st, 201, order)
        self.assertSameProcesses(pids)
