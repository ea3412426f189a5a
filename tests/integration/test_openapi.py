"""docs/openapi.yaml against the code and API.md, statically (no services needed).

- The (method, path) pairs of the OpenAPI file equal the gateway's route table: the /api routes
  of services/gateway/routes.c plus the routes every vg_http server carries
  (services/common/vg_http_builtin.c: /healthz, /admin/faults). Path parameter names may
  differ ({id} in the C table, {product_id} in the document).
- Every error code API.md names is in the error schema's code enum, and the decline reasons
  are the payment_declined reasons.
- Every response documents X-Request-Id; every 429 documents Retry-After.
- Every object marked x-vigil-extension says what the extension is ("Extension:").

Needs Debian's python3-yaml (scripts/deps.sh installs it)."""

import os
import re
import unittest

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The shop's contract lives beside the checkout (../shared/API.md), as DESIGN.md does.
API_MD = os.environ.get("VIGIL_API_MD", os.path.join(os.path.dirname(ROOT), "shared", "API.md"))
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
ROUTE = re.compile(r'\{\s*"([A-Z]+)"\s*,\s*"(/[^"]*)"')


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def generic(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def c_routes(*parts):
    return {(m, generic(p)) for m, p in ROUTE.findall(read(*parts))}


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def walk(node, where=""):
    """Yields (where, dict) for every mapping in the document."""
    if isinstance(node, dict):
        yield where, node
        for k, v in node.items():
            yield from walk(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{where}/{i}")


class OpenApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = yaml.safe_load(read("docs", "openapi.yaml"))

    def operations(self):
        for path, item in self.doc["paths"].items():
            for method in METHODS:
                if method in item:
                    yield path, method, item[method]

    def test_version(self):
        self.assertEqual(self.doc["openapi"], "3.0.3")

    def test_paths_equal_the_gateway_route_table(self):
        public = c_routes("services", "gateway", "routes.c")
        builtin = c_routes("services", "common", "vg_http_builtin.c")
        self.assertGreaterEqual(len(public), 13, "routes.c: route table not found")
        self.assertIn(("GET", "/healthz"), builtin)
        documented = {(m.upper(), generic(p)) for p, m, _ in self.operations()}
        # HEAD is served wherever GET is and documented once, in info.
        self.assertNotIn("HEAD", {m for m, _ in documented})
        self.assertEqual(documented, public | builtin)

    def test_path_parameters_are_declared(self):
        for path, method, op in self.operations():
            item = self.doc["paths"][path]
            declared = {resolve(self.doc, p)["name"] for p in
                        item.get("parameters", []) + op.get("parameters", [])
                        if resolve(self.doc, p)["in"] == "path"}
            self.assertEqual(declared, set(re.findall(r"\{([^}]*)\}", path)),
                             f"{method.upper()} {path}")

    def test_every_api_md_error_code_is_in_the_enum(self):
        if not os.path.exists(API_MD):
            self.skipTest(f"{API_MD} not found (set VIGIL_API_MD)")
        with open(API_MD, encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"^- Codes:(.*?)^- ", text, re.S | re.M)
        self.assertIsNotNone(m, "API.md: no '- Codes:' paragraph")
        codes = set(re.findall(r"`([a-z][a-z0-9_]*)`", m.group(1)))
        reasons = set(re.findall(r'"([a-z][a-z0-9_]*)"', m.group(1))) - {"reason"}
        self.assertGreaterEqual(len(codes), 19, codes)
        schemas = self.doc["components"]["schemas"]
        enum = set(schemas["ErrorCode"]["enum"])
        self.assertEqual(codes - enum, set())
        self.assertEqual(enum - codes, {"internal_error"})  # the one extension
        self.assertEqual(set(schemas["ReasonDetails"]["properties"]["reason"]["enum"]), reasons)

    def test_error_details_have_three_shapes(self):
        shapes = self.doc["components"]["schemas"]["ErrorDetails"]["oneOf"]
        keys = [tuple(resolve(self.doc, s)["required"]) for s in shapes]
        self.assertEqual(sorted(keys), [("field",), ("product_ids",), ("reason",)])

    def test_every_response_has_request_id(self):
        for path, method, op in self.operations():
            for status, resp in op["responses"].items():
                resp = resolve(self.doc, resp)
                where = f"{method.upper()} {path} {status}"
                self.assertIn("X-Request-Id", resp.get("headers", {}), where)
                if status == "429":
                    self.assertIn("Retry-After", resp["headers"], where)
                if str(status)[0] in "45":
                    schema = resp["content"]["application/json"]["schema"]
                    self.assertEqual(schema, {"$ref": "#/components/schemas/Error"}, where)

    def test_idempotency_key_on_checkout(self):
        op = self.doc["paths"]["/api/orders"]["post"]
        names = {resolve(self.doc, p)["name"] for p in op["parameters"]}
        self.assertIn("Idempotency-Key", names)

    def test_extensions_say_what_they_extend(self):
        marked = [(w, n) for w, n in walk(self.doc) if n.get("x-vigil-extension") is True]
        self.assertGreater(len(marked), 5)
        for where, node in marked:
            self.assertIn("Extension:", node.get("description", ""), where)


if __name__ == "__main__":
    unittest.main()
