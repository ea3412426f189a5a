"""The product service on its own port, for what the gateway cannot show:
the read-through detail cache (key product:<id>, the exact body, TTL 60 s,
invalidated by key) and the process's own copy in front of it (kept coherent
by Redis's invalidation messages, also across a Redis restart), the
slow_query_ms fault (the delay happens inside the database query, also for
products the cache holds), and /healthz treating Redis as a hard dependency."""

import concurrent.futures
import json
import os
import re
import time

import harness
from helpers import drop_product_cache, poll, sql
from shoptest import ShopTestCase, backing


class ProductServiceTest(ShopTestCase):
    SERVICES = ["product"]

    def get(self, path):
        return self.api("GET", path, service="product")

    def cache_key(self, pid):
        return backing().redis("GET", f"product:{pid}", db=self.shop.slice["redis_db"])

    def redis_gets(self):
        """GET commands Redis has run since it started (every database, every client)."""
        m = re.search(r"^cmdstat_get:calls=(\d+)", backing().redis("INFO", "commandstats"), re.M)
        return int(m.group(1)) if m else 0

    def wait_local_hits(self, pid):
        """Polls until reading pid costs no Redis GET: the service's own copy answers
        (it serves only once subscribed to invalidations, and fills on a Redis hit)."""
        def served_in_process():
            self.assertEqual(self.get(f"/products/{pid}")[0], 200)
            before = self.redis_gets()
            for _ in range(3):
                self.assertEqual(self.get(f"/products/{pid}")[0], 200)
            return self.redis_gets() == before

        poll(served_in_process, 15, f"product {pid} served without a Redis GET")

    def change_stock(self, pid, delta):
        """What the order service does at checkout: change the row, then drop the key."""
        sql(backing(), self.shop.slice,
            f"UPDATE products SET stock = stock + {delta} WHERE id = {pid}")
        backing().redis("DEL", f"product:{pid}", db=self.shop.slice["redis_db"])

    def test_detail_is_cached_as_the_exact_body(self):
        drop_product_cache(backing(), self.shop.slice, 9)
        st, _, raw = harness.http("GET", self.shop.url("product") + "/products/9")
        self.assertEqual(st, 200)
        self.assertEqual(self.cache_key(9), raw.decode())
        ttl = int(backing().redis("TTL", "product:9", db=self.shop.slice["redis_db"]))
        self.assertTrue(0 < ttl <= 60, ttl)
        st, _, again = harness.http("GET", self.shop.url("product") + "/products/9")
        self.assertEqual((st, again), (200, raw))

    def test_missing_product_is_not_cached(self):
        st, _, body = self.get("/products/987654")
        self.assertEqual(st, 404, body)
        self.assertEqual(body["error"]["code"], "not_found")
        self.assertEqual(self.cache_key(987654), "")

    def test_deleting_the_key_shows_new_stock(self):
        st, _, before = self.get("/products/11")
        self.assertEqual(st, 200)
        sql(backing(), self.shop.slice, "UPDATE products SET stock = stock - 1 WHERE id = 11")
        _, _, cached = self.get("/products/11")
        self.assertEqual(cached["stock"], before["stock"])  # served from the cache
        backing().redis("DEL", "product:11", db=self.shop.slice["redis_db"])
        _, _, fresh = self.get("/products/11")
        self.assertEqual(fresh["stock"], before["stock"] - 1)

    def test_hits_are_served_in_process(self):
        self.wait_local_hits(10)
        before = self.redis_gets()
        for _ in range(20):
            st, _, body = self.get("/products/10")
            self.assertEqual((st, body["id"]), (200, 10))
        self.assertEqual(self.redis_gets(), before)

    def test_stock_change_is_seen_on_the_very_next_read(self):
        for i in range(10):
            self.wait_local_hits(13)
            _, _, before = self.get("/products/13")
            self.change_stock(13, 1)
            st, _, after = self.get("/products/13")
            self.assertEqual(st, 200)
            self.assertEqual(after["stock"], before["stock"] + 1, f"round {i}")

    def test_flushdb_drops_local_copies(self):
        self.wait_local_hits(15)
        _, _, before = self.get("/products/15")
        sql(backing(), self.shop.slice, "UPDATE products SET stock = stock + 3 WHERE id = 15")
        backing().redis("FLUSHDB", db=self.shop.slice["redis_db"])
        _, _, after = self.get("/products/15")
        self.assertEqual(after["stock"], before["stock"] + 3)

    def test_reads_stay_correct_across_a_redis_restart(self):
        self.wait_local_hits(16)
        _, _, before = self.get("/products/16")
        backing().stop_redis()
        try:
            # No invalidation can arrive now: the local copy must not answer.
            sql(backing(), self.shop.slice, "UPDATE products SET stock = stock + 2 WHERE id = 16")
            st, _, down = self.get("/products/16")
            self.assertEqual(st, 200, down)
            self.assertEqual(down["stock"], before["stock"] + 2)
        finally:
            backing().start_redis()
        poll(lambda: self.shop.healthy("product"), 15, "product healthy after the restart")
        _, _, up = self.get("/products/16")
        self.assertEqual(up["stock"], before["stock"] + 2)
        # Tracking is back: a local copy is served again, and invalidated again.
        self.wait_local_hits(16)
        self.change_stock(16, 1)
        _, _, after = self.get("/products/16")
        self.assertEqual(after["stock"], before["stock"] + 3)

    def test_slow_query_fault_delays_inside_the_database(self):
        self.get("/products/12")  # now cached
        self.shop.set_faults("product", {"slow_query_ms": 1000})
        try:
            for path in ("/products/12", "/products?per_page=5", "/products?q=lamp",
                         "/products?category=no-such", "/products/987654"):
                with self.subTest(path=path):
                    t0 = time.monotonic()
                    st, _, _ = self.get(path)
                    self.assertIn(st, (200, 404))
                    self.assertGreaterEqual(time.monotonic() - t0, 0.95, path)
            # While a cached product is read, the database runs the sleeping statement.
            with concurrent.futures.ThreadPoolExecutor(1) as ex:
                pending = ex.submit(self.get, "/products/12")
                poll(lambda: sql(backing(), self.shop.slice,
                                 "SELECT 1 FROM pg_stat_activity WHERE state = 'active' "
                                 "AND query LIKE '%pg_sleep%' AND query LIKE '%p.id = $1%' "
                                 "AND pid <> pg_backend_pid()"),
                     3, "the detail statement sleeping in PostgreSQL", interval=0.02)
                self.assertEqual(pending.result()[0], 200)
        finally:
            self.shop.set_faults("product", {})
        t0 = time.monotonic()
        st, _, _ = self.get("/products/12")
        self.assertEqual(st, 200)
        self.assertLess(time.monotonic() - t0, 0.3)

    def test_healthz_needs_redis(self):
        st, _, body = self.get("/healthz")
        self.assertEqual((st, body), (200, {"status": "ok"}))
        port = harness.free_port()
        env = self.shop.common_env()
        env.update({"VIGIL_PORT": str(port), "VIGIL_REDIS_PORT": str(harness.free_port())})
        log = os.path.join(self.shop.log_dir, "product-no-redis.log")
        p = harness.spawn([harness.binary("vg-product")], log, env=env)
        try:
            url = f"http://127.0.0.1:{port}"

            def answer():
                try:
                    return harness.http("GET", url + "/healthz", timeout=3)
                except OSError:
                    return None

            st, _, raw = poll(answer, 20, "vg-product without Redis answers /healthz")
            self.assertEqual(st, 503, raw)
            # The catalogue itself is in PostgreSQL: detail falls back to it.
            st, _, raw = harness.http("GET", url + "/products/1", timeout=5)
            self.assertEqual(st, 200, raw)
            self.assertEqual(json.loads(raw)["id"], 1)
        finally:
            p.terminate()
            self.assertEqual(p.wait(timeout=15), 0)
