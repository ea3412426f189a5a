"""The catalogue through the gateway (API.md: GET /api/categories,
GET /api/products?q=&category=&page=&per_page=, GET /api/products/{id}):
listing defaults and paging, parameter validation (invalid_field, empty means
absent), category filter, full-text search (every non-stop word of a name finds
its product; SQL-looking text is ordinary text), product detail and its 404s,
and HEAD wherever GET works."""

import os
from urllib.parse import urlencode

from helpers import sql
from shoptest import ShopTestCase, backing

PRODUCT_KEYS = {"id", "sku", "name", "description", "price_cents", "currency", "category",
                "stock", "image_url"}
STOP_FILE = "/usr/share/postgresql/15/tsearch_data/english.stop"
# A fallback when PostgreSQL's list is not installed: a few of the commonest.
FALLBACK_STOP = {"a", "an", "and", "the", "of", "for", "with", "in", "on", "to", "by", "at"}


def stop_words():
    if os.path.exists(STOP_FILE):
        with open(STOP_FILE) as f:
            return {w.strip() for w in f if w.strip()}
    return FALLBACK_STOP


class CatalogTest(ShopTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stop = stop_words()

    def listing(self, query=""):
        st, hdrs, body = self.api("GET", "/api/products" + query)
        self.assertEqual(st, 200, body)
        self.assertTrue({"items", "page", "per_page", "total"} <= set(body), body)
        return body

    def assertProduct(self, p):
        self.assertTrue(PRODUCT_KEYS <= set(p), p)
        self.assertIsInstance(p["id"], int)
        self.assertIsInstance(p["price_cents"], int)
        self.assertGreater(p["price_cents"], 0)
        self.assertEqual(p["currency"], "USD")
        self.assertIsInstance(p["stock"], int)
        self.assertGreaterEqual(p["stock"], 0)
        self.assertEqual(set(p["category"]), {"id", "slug", "name"}, p)
        for k in ("sku", "name", "description", "image_url"):
            self.assertIsInstance(p[k], str)
            self.assertTrue(p[k], k)

    def find_in_search(self, q, product_id):
        """Pages through the results of q (bounded) looking for product_id."""
        page = 1
        while page <= 20:
            body = self.listing("?" + _qs(q=q, per_page=100, page=page))
            if any(p["id"] == product_id for p in body["items"]):
                return True
            if page * 100 >= body["total"]:
                return False
            page += 1
        return False

    # ---- categories ----
    def test_categories(self):
        st, _, body = self.api("GET", "/api/categories")
        self.assertEqual(st, 200, body)
        items = body["items"]
        self.assertGreaterEqual(len(items), 10)
        for c in items:
            self.assertEqual(set(c), {"id", "slug", "name"}, c)
            self.assertIsInstance(c["id"], int)
            self.assertRegex(c["slug"], r"^[a-z0-9-]+$")
        self.assertEqual(len({c["slug"] for c in items}), len(items))
        self.assertEqual(len({c["id"] for c in items}), len(items))

    # ---- listing ----
    def test_listing_defaults(self):
        body = self.listing()
        self.assertEqual(body["page"], 1)
        self.assertEqual(body["per_page"], 20)
        self.assertGreaterEqual(body["total"], 500)
        self.assertEqual([p["id"] for p in body["items"]], list(range(1, 21)))
        for p in body["items"]:
            self.assertProduct(p)

    def test_listing_total_matches_database(self):
        body = self.listing()
        (count,), = sql(backing(), self.shop.slice, "SELECT count(*) FROM products")
        self.assertEqual(body["total"], int(count))

    def test_paging(self):
        body = self.listing("?page=2&per_page=10")
        self.assertEqual((body["page"], body["per_page"]), (2, 10))
        self.assertEqual([p["id"] for p in body["items"]], list(range(11, 21)))
        total = body["total"]
        body = self.listing("?per_page=100")
        self.assertEqual([p["id"] for p in body["items"]], list(range(1, 101)))
        last = (total + 99) // 100
        body = self.listing(f"?per_page=100&page={last}")
        self.assertEqual(len(body["items"]), total - (last - 1) * 100)
        self.assertEqual(body["items"][-1]["id"], total)
        body = self.listing("?per_page=1&page=1")
        self.assertEqual([p["id"] for p in body["items"]], [1])

    def test_page_past_the_end_is_empty(self):
        total = self.listing()["total"]
        for page in (total // 20 + 2, 1000000):
            with self.subTest(page=page):
                body = self.listing(f"?page={page}")
                self.assertEqual(body["items"], [])
                self.assertEqual(body["page"], page)
                self.assertEqual(body["total"], total)

    def test_invalid_paging_parameters(self):
        for qs, field in (("per_page=0", "per_page"), ("per_page=101", "per_page"),
                          ("per_page=abc", "per_page"), ("per_page=-1", "per_page"),
                          ("per_page=1.5", "per_page"), ("per_page=20x", "per_page"),
                          ("page=0", "page"), ("page=-1", "page"), ("page=abc", "page"),
                          ("page=99999999999999999999999", "page")):
            with self.subTest(qs=qs):
                self.assertError(self.api("GET", "/api/products?" + qs), 400, "invalid_field",
                                 {"field": field})

    def test_empty_parameters_count_as_absent(self):
        default = self.listing()
        body = self.listing("?q=&category=&page=&per_page=")
        self.assertEqual(body, default)

    # ---- category filter ----
    def test_category_filter(self):
        _, _, cats = self.api("GET", "/api/categories")
        total = self.listing()["total"]
        seen = 0
        for c in cats["items"][:3]:
            with self.subTest(slug=c["slug"]):
                body = self.listing("?" + _qs(category=c["slug"], per_page=100))
                self.assertGreater(body["total"], 0)
                self.assertLess(body["total"], total)
                ids = [p["id"] for p in body["items"]]
                self.assertEqual(ids, sorted(ids))
                self.assertEqual(len(ids), min(100, body["total"]))
                for p in body["items"]:
                    self.assertEqual(p["category"], c)
                seen += body["total"]
        self.assertLessEqual(seen, total)

    def test_unknown_category_is_empty(self):
        for slug in ("no-such-category", "' OR '1'='1", "LIGHTING%"):
            with self.subTest(slug=slug):
                body = self.listing("?" + _qs(category=slug))
                self.assertEqual(body["items"], [])
                self.assertEqual(body["total"], 0)

    # ---- search ----
    def test_every_name_word_finds_its_product(self):
        for pid in (1, 2, 13, 250, 499, 500):
            _, _, p = self.api("GET", f"/api/products/{pid}")
            words = [w.strip(".,;:!?()'\"") for w in p["name"].split()]
            words = [w for w in words if w and w.lower() not in self.stop]
            self.assertTrue(words, p["name"])
            for w in words:
                with self.subTest(product=pid, word=w):
                    self.assertTrue(self.find_in_search(w, pid), f"q={w!r} misses {p['name']!r}")
            with self.subTest(product=pid, q=p["name"]):
                self.assertTrue(self.find_in_search(p["name"], pid))
                self.assertTrue(self.find_in_search(p["name"].lower(), pid))

    def test_search_is_relevant(self):
        _, _, p = self.api("GET", "/api/products/7")
        body = self.listing("?" + _qs(q=p["name"], per_page=5))
        self.assertIn(7, [x["id"] for x in body["items"]])
        self.assertLessEqual(body["total"], self.listing()["total"])
        body = self.listing("?" + _qs(q="zzyzxqwv"))
        self.assertEqual((body["items"], body["total"]), ([], 0))

    def test_search_combines_with_category(self):
        _, _, p = self.api("GET", "/api/products/3")
        word = p["name"].split()[-1]
        body = self.listing("?" + _qs(q=word, category=p["category"]["slug"], per_page=100))
        self.assertIn(3, [x["id"] for x in body["items"]])
        for x in body["items"]:
            self.assertEqual(x["category"]["slug"], p["category"]["slug"])

    def test_sql_looking_text_is_ordinary_text(self):
        total = self.listing()["total"]
        for q in ("'; DROP TABLE products; --", "1' OR '1'='1", "\" OR 1=1 --",
                  "a & | ! ( ) :* <->", "%", "\\", "'", "products; SELECT pg_sleep(5)",
                  "lamp' UNION SELECT * FROM users --"):
            with self.subTest(q=q):
                body = self.listing("?" + _qs(q=q))
                self.assertIsInstance(body["items"], list)
                self.assertLessEqual(body["total"], total)
        self.assertEqual(self.listing()["total"], total)
        (count,), = sql(backing(), self.shop.slice, "SELECT count(*) FROM products")
        self.assertEqual(int(count), total)

    def test_odd_search_text(self):
        for q in ("café", "😀", "lamp\u00a0desk", "x" * 200, "   ", "-", "!!!", "the and of"):
            with self.subTest(q=q[:20]):
                st, _, body = self.api("GET", "/api/products?" + _qs(q=q))
                self.assertEqual(st, 200, body)
                self.assertIsInstance(body["items"], list)
        # API.md sets no bound on q; the product service refuses very long text as a field error
        st, _, body = self.api("GET", "/api/products?" + _qs(q="x" * 5000))
        if st != 200:
            self.assertError((st, None, body), 400, "invalid_field", {"field": "q"})

    # ---- detail ----
    def test_detail(self):
        listed = self.listing()["items"][4]
        st, _, body = self.api("GET", "/api/products/5")
        self.assertEqual(st, 200, body)
        self.assertProduct(body)
        self.assertEqual(body["id"], 5)
        self.assertEqual(body, listed)
        row, = sql(backing(), self.shop.slice,
                   "SELECT sku, name, price_cents, stock FROM products WHERE id = 5")
        self.assertEqual([body["sku"], body["name"], str(body["price_cents"]),
                          str(body["stock"])], row)

    def test_detail_not_found(self):
        total = self.listing()["total"]
        for pid in ("999999", str(total + 1), "abc", "0", "-1", "1.5", "01x", "1e3",
                    "99999999999999999999999", "%20", "1%2F2"):
            with self.subTest(id=pid):
                self.assertError(self.api("GET", f"/api/products/{pid}"), 404, "not_found")

    # ---- HEAD ----
    def test_head_works_where_get_does(self):
        for path in ("/api/products/1", "/api/products?page=2", "/api/categories",
                     "/api/products/999999", "/healthz"):
            with self.subTest(path=path):
                gst, ghdrs, gbody = self.api("GET", path)
                hst, hhdrs, hbody = self.api("HEAD", path)
                self.assertEqual(hst, gst)
                self.assertIsNone(hbody)
                self.assertEqual(hhdrs.get("Content-Type"), ghdrs.get("Content-Type"))
                if ghdrs.get("Content-Length") is not None and hhdrs.get("Content-Length"):
                    self.assertEqual(hhdrs["Content-Length"], ghdrs["Content-Length"])
                self.assertTrue(hhdrs.get("X-Request-Id"))


def _qs(**params):
    return urlencode(params)

