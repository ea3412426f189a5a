"""Checkout under contention: 200 shoppers race for a product with 10 in stock
(exactly 10 orders of 201, 190 answers of 409 out_of_stock naming the product,
stock 0, never negative, nothing else -- a 503 means a pool gave up under a
load of 50 concurrent clients and is reported as such), and one shopper sending
the same Idempotency-Key many times at once (one order, one charge; the others
replay it or get 409 idempotency_conflict)."""

import collections
import threading
import uuid

from helpers import drop_product_cache, parallel, sql
from shoptest import ShopTestCase, backing
from test_cart_orders import checkout_body

SHOPPERS = 200
STOCK = 10
WORKERS = 50


def outcome(resp):
    st, _, body = resp
    code = body["error"]["code"] if isinstance(body, dict) and "error" in body else None
    return st, code


class ConcurrencyTest(ShopTestCase):
    # Registration is a burst of argon2 hashes (cheap in tests): let 16 run at once.
    ENV = {"VIGIL_HASH_CONCURRENCY": "16"}

    def shopper(self, _):
        email = f"race-{uuid.uuid4().hex[:12]}@example.test"
        for step in ("register", "login"):
            if step == "register":
                st, _, body = self.api("POST", "/api/users", {"email": email, "name": "Racer",
                                                               "password": "race password"})
            else:
                st, _, body = self.api("POST", "/api/sessions",
                                       {"email": email, "password": "race password"})
            if st != 201:
                return ("error", step, st, body)
        return ("ok", body["user"]["id"], body["token"])

    def make_shoppers(self, n):
        made = parallel(self.shopper, range(n), workers=8)
        bad = [m for m in made if m[0] != "ok"]
        self.assertEqual(bad, [], f"{len(bad)} of {n} shoppers could not sign up or in")
        return [(m[1], m[2]) for m in made]

    def test_no_overselling(self):
        pid = 321
        shoppers = self.make_shoppers(SHOPPERS)
        sql(backing(), self.shop.slice, f"UPDATE products SET stock = {STOCK} WHERE id = {pid}")
        drop_product_cache(backing(), self.shop.slice, pid)

        def fill(s):
            return self.api("PUT", f"/api/cart/items/{pid}", {"quantity": 1}, token=s[1])[0]

        self.assertEqual(collections.Counter(parallel(fill, shoppers, workers=16)),
                         {200: SHOPPERS})

        go = threading.Barrier(WORKERS, timeout=60)

        def buy(i_s):
            i, (_, token) = i_s
            if i < WORKERS:
                go.wait()  # the first wave starts together
            return self.api("POST", "/api/orders", checkout_body(), token=token)

        answers = parallel(buy, list(enumerate(shoppers)), workers=WORKERS)
        counts = collections.Counter(outcome(a) for a in answers)
        unavailable = counts.get((503, "unavailable"), 0)
        self.assertEqual(unavailable, 0,
                         f"{unavailable} checkouts answered 503 unavailable under {WORKERS} "
                         f"concurrent clients (pool exhaustion?): {dict(counts)}")
        self.assertEqual(counts, {(201, None): STOCK, (409, "out_of_stock"): SHOPPERS - STOCK},
                         dict(counts))
        for st, _, body in answers:
            if st == 409:
                self.assertEqual(body["error"].get("details"), {"product_ids": [pid]})
            else:
                self.assertIn(body["status"], ("paid", "confirmed"))
        (stock,), = sql(backing(), self.shop.slice, f"SELECT stock FROM products WHERE id = {pid}")
        self.assertEqual(int(stock), 0)
        st, _, product = self.api("GET", f"/api/products/{pid}")
        self.assertEqual((st, product["stock"]), (200, 0))
        (sold,), = sql(backing(), self.shop.slice,
                       "SELECT coalesce(sum(i.quantity), 0) FROM order_items i JOIN orders o "
                       f"ON o.id = i.order_id WHERE i.product_id = {pid} "
                       "AND o.status IN ('paid', 'confirmed', 'pending')")
        self.assertEqual(int(sold), STOCK)
        (charges,), = sql(backing(), self.shop.slice,
                          "SELECT count(*) FROM payments WHERE status = 'approved'")
        self.assertEqual(int(charges), STOCK)
        # the losers keep their carts
        winners = {body["id"] for st, _, body in answers if st == 201}
        self.assertEqual(len(winners), STOCK)
        loser = next(s for s, a in zip(shoppers, answers) if a[0] == 409)
        st, _, cart = self.api("GET", "/api/cart", token=loser[1])
        self.assertEqual([i["product_id"] for i in cart["items"]], [pid])

    def test_same_key_at_once(self):
        (user_id, token), = self.make_shoppers(1)
        st, _, _ = self.api("PUT", "/api/cart/items/322", {"quantity": 1}, token=token)
        self.assertEqual(st, 200)
        key = "burst-" + uuid.uuid4().hex
        n = 12
        go = threading.Barrier(n, timeout=30)

        def buy(_):
            go.wait()
            return self.api("POST", "/api/orders", checkout_body(), token=token,
                            headers={"Idempotency-Key": key})

        answers = parallel(buy, range(n), workers=n)
        counts = collections.Counter(outcome(a) for a in answers)
        created = [a[2] for a in answers if a[0] == 201]
        self.assertGreaterEqual(len(created), 1, dict(counts))
        self.assertTrue(all(c == created[0] for c in created), "replays differ")
        self.assertEqual(set(counts) - {(201, None), (409, "idempotency_conflict")}, set(),
                         dict(counts))
        orders = sql(backing(), self.shop.slice,
                     f"SELECT id FROM orders WHERE user_id = {user_id}")
        self.assertEqual(len(orders), 1, orders)
        (charges,), = sql(backing(), self.shop.slice,
                          f"SELECT count(*) FROM payments WHERE idempotency_key = '{orders[0][0]}'")
        self.assertEqual(charges, "1")
        # once the first answer is stored, a retry replays it
        st, _, body = self.api("POST", "/api/orders", checkout_body(), token=token,
                               headers={"Idempotency-Key": key})
        self.assertEqual((st, body), (201, created[0]))

    def test_same_email_at_once(self):
        email = f"twin-{uuid.uuid4().hex[:10]}@example.test"
        n = 8
        go = threading.Barrier(n, timeout=30)

        def register(i):
            go.wait()
            variant = email.upper() if i % 2 else email
            return self.api("POST", "/api/users", {"email": variant, "name": f"Twin {i}",
                                                   "password": "twin password"})

        counts = collections.Counter(outcome(a) for a in parallel(register, range(n), n))
        self.assertEqual(counts, {(201, None): 1, (409, "email_taken"): n - 1}, dict(counts))

    def test_parallel_cart_updates_are_all_kept(self):
        (_, token), = self.make_shoppers(1)
        pids = list(range(330, 346))

        def put(pid):
            return self.api("PUT", f"/api/cart/items/{pid}", {"quantity": 2}, token=token)[0]

        self.assertEqual(parallel(put, pids, workers=len(pids)), [200] * len(pids))
        st, _, cart = self.api("GET", "/api/cart", token=token)
        self.assertEqual(st, 200, cart)
        self.assertEqual(sorted(i["product_id"] for i in cart["items"]), pids)
        self.assertEqual({i["quantity"] for i in cart["items"]}, {2})
