"""The agent against the shop (root: real BPF programs, real services, real clients).

What vigil-agent reports must equal what the clients counted themselves: loadgen's
own per-route, per-status counts against the gateway's server metrics, and the
internal calls the shop's design makes exact (product detail behind the gateway,
charges behind checkouts). Also: late attach, redaction, selection and staleness."""

import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402
import shoptest  # noqa: E402
from harness import expected_counts, loadgen  # noqa: E402
from agent import Agent, drops, select, total  # noqa: E402

# A rate the build sustains; the sanitizer pass is several times slower.
SANITIZE = os.environ.get("VIGIL_SANITIZE") == "1"
RATE = int(os.environ.get("VIGIL_E2E_RATE", "60" if SANITIZE else "200"))
REQUESTS = int(os.environ.get("VIGIL_E2E_REQUESTS", "600" if SANITIZE else "2000"))

SERVER = "http_server_request_duration_seconds_count"




def server_counts(samples, service, prefix=""):
    out = {}
    for labels, v in select(samples, SERVER, service_name=service):
        if labels["http_route"].startswith(prefix):
            key = (labels["http_request_method"], labels["http_route"],
                   labels["http_response_status_code"])
            out[key] = out.get(key, 0) + int(v)
    return out


class AgentCase(shoptest.ShopTestCase):
    """A shop plus an agent started after it (the agent must seed what already exists).

    The agent watches this shop's processes by pid, so that another stack on the machine
    (`make up`, another test pass) adds nothing to the counts; AGENT_ARGS with a --watch of
    its own replaces that (watch-all is the default when no --watch is given)."""

    AGENT_ARGS = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        args = list(cls.AGENT_ARGS)
        if "--watch" not in args and not getattr(cls, "WATCH_ALL", False):
            args += ["--watch", "pid:" + ",".join(str(p.pid) for p in cls.shop.procs.values())]
        try:
            cls.agent = Agent(cls.shop.log_dir, args=args).start()
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            programs = cls.agent.programs
            rc = cls.agent.stop()  # also waits for the agent's programs to leave the kernel
            if rc != 0:
                raise AssertionError(f"vigil-agent exited with {rc}" + harness.tail(cls.agent.log))
            if not programs:
                raise AssertionError("the agent loaded no BPF program")
        finally:
            super().tearDownClass()




class ExactnessTest(AgentCase):
    def test_gateway_and_internal_counts_equal_the_clients_own(self):
        # 503s from a fault flag among the statuses (product answers them; the gateway passes
        # them through unchanged).
        base = self.agent.metrics()
        self.shop.set_faults("product", {"error_rate": 0.05})
        try:
            report = loadgen(self.shop.url(), REQUESTS, RATE,
                             extra=["--errors", "--mix", "e404=6,e400=4,e401=4,e402=6,e409=4"])
        finally:
            self.shop.set_faults("product", {})
        self.assertEqual(report["transport_errors"], 0, f"loadgen transport errors: {report}")
        want = expected_counts(report)
        statuses = {k[2] for k in want}
        for st in ("200", "201", "400", "401", "402", "404", "409", "503"):
            self.assertIn(st, statuses, f"the run should include {st}s: {sorted(statuses)}")

        def delta(samples, service, prefix=""):
            """What this test's traffic added: other tests of the class ran before it."""
            now, old = server_counts(samples, service, prefix), server_counts(base, service, prefix)
            return {k: v - old.get(k, 0) for k, v in now.items() if v != old.get(k, 0)}

        m = self.agent.settle(lambda s: sum(delta(s, "gateway", "/api/").values())
                        >= sum(want.values()), "gateway counts to reach loadgen's")
        self.assertEqual(delta(m, "gateway", "/api/"), want)
        self.assertEqual(drops(m), {}, "the agent lost events")

        # Internal calls the shop's design makes exact.
        gw = {k[2]: v for k, v in delta(m, "gateway").items()
              if k[:2] == ("GET", "/api/products/{id}")}
        prod = {k[2]: v for k, v in delta(m, "product").items()
                if k[:2] == ("GET", "/products/{id}")}
        self.assertEqual(prod, gw, "product detail behind the gateway")
        checkouts = sum(n for (meth, route, st), n in want.items()
                        if (meth, route) == ("POST", "/api/orders") and st in ("201", "402"))
        unsettled = sum(n for (meth, route, st), n in want.items()
                        if (meth, route) == ("POST", "/api/orders") and st.startswith("5"))
        charges = sum(v for k, v in delta(m, "payment").items() if k[:2] == ("POST", "/charges"))
        self.assertGreater(checkouts, 0)
        # Exact when no checkout timed out: a 504 may come after its charge went through.
        self.assertGreaterEqual(charges, checkouts, "charges reaching payment")
        self.assertLessEqual(charges, checkouts + unsettled, "charges reaching payment")

        # The order service is the gateway's client: the client view matches too.
        client = sum(v for d, v in select(m, "http_client_request_duration_seconds_count",
                                          service_name="gateway", http_route="/cart/items/{id}"))
        server = sum(v for k, v in server_counts(m, "order").items() if k[1] == "/cart/items/{id}")
        self.assertEqual(client, server)

    def test_database_operations_are_reported(self):
        m = self.agent.metrics()
        before = total(m, "db_client_operation_duration_seconds_count", service_name="product",
                       db_system_name="postgresql", db_operation_name="SELECT")
        served = total(m, SERVER, service_name="gateway", http_route="/api/categories")
        for _ in range(25):
            st, _, _ = self.api("GET", "/api/categories")
            self.assertEqual(st, 200)
        # Both ends, so that no request of this test is still on its way into the next one's
        # baseline.
        self.agent.settle(lambda s: total(s, "db_client_operation_duration_seconds_count",
                                    service_name="product", db_system_name="postgresql",
                                    db_operation_name="SELECT") == before + 25 and
                    total(s, SERVER, service_name="gateway",
                          http_route="/api/categories") == served + 25,
                    "25 SELECTs from product, 25 requests at the gateway")

    def test_metrics_are_valid_exposition(self):
        ctype, text = self.agent.scrape()
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        ctype, text = self.agent.scrape("application/openmetrics-text; version=1.0.0")
        self.assertTrue(ctype.startswith("application/openmetrics-text"), ctype)
        self.assertTrue(text.endswith("# EOF\n"))
        for family in ("vigil_agent_events_total", "vigil_agent_events_dropped_total",
                       "vigil_agent_parse_resyncs_total", "vigil_unparsed_bytes_total",
                       "vigil_syscalls_total", "http_server_request_duration_seconds"):
            self.assertIn(f"# TYPE {family.removesuffix('_total')}", text)

    def test_syscalls_are_counted_per_service(self):
        m = self.agent.settle(lambda s: total(s, "vigil_syscalls_total", service_name="gateway") > 0,
                        "gateway syscalls")
        names = {d["syscall"] for d, _ in select(m, "vigil_syscalls_total",
                                                 service_name="gateway")}
        self.assertIn("accept4", names | {"accept"})
        self.assertTrue({"recvfrom", "sendto", "read", "write", "sendmsg"} & names, names)


class LatencyTest(AgentCase):
    # Fine buckets around 50 ms, so that a histogram quantile is exact to a millisecond.
    AGENT_ARGS = ("--config", os.path.join(HERE, "latency-buckets.yaml"))

    def test_p50_matches_the_clients_own(self):
        self.shop.set_faults("product", {"added_latency_ms": 50})
        try:
            report = loadgen(self.shop.url(), 200, 40, extra=["--mix", "view=1,browse=0,search=0,"
                                                              "add=0,cart=0,checkout=0"])
        finally:
            self.shop.set_faults("product", {})
        route = "GET /api/products/{id}"
        lg_p50 = report["by_route"][route]["latency_ms"]["p50"] / 1000.0
        n = report["by_route"][route]["count"]
        m = self.agent.settle(lambda s: total(s, SERVER, service_name="gateway",
                                        http_route="/api/products/{id}") >= n, "gateway views")
        buckets = sorted(
            (float(d["le"]), v) for d, v in
            select(m, "http_server_request_duration_seconds_bucket", service_name="gateway",
                   http_route="/api/products/{id}", http_response_status_code="200"))
        count = buckets[-1][1]
        prev_le, prev_c = 0.0, 0.0
        p50 = None
        for le, c in buckets:  # histogram_quantile's linear interpolation
            if c >= count / 2:
                p50 = prev_le + (le - prev_le) * ((count / 2 - prev_c) / max(c - prev_c, 1))
                break
            prev_le, prev_c = le, c
        self.assertIsNotNone(p50)
        self.assertLessEqual(abs(p50 - lg_p50), max(0.1 * lg_p50, 0.002),
                             f"agent p50 {p50:.4f}s vs loadgen {lg_p50:.4f}s")


class RedactionTest(AgentCase):
    WATCH_ALL = True  # the default mode, as `make up` runs it: every process but the agent

    def test_no_secret_leaves_the_agent(self):
        user, email, password = self.register(password="hunter2-secret-pass")
        token = self.login(email, password)
        self.api("PUT", "/api/cart/items/3", {"quantity": 1}, token=token)
        st, _, body = self.api("POST", "/api/orders", {"shipping_address": shoptest.ADDRESS,
                                                       "payment": shoptest.CARD_OK},
                               token=token)
        self.assertEqual(st, 201, body)
        self.api("GET", "/api/products?q=secret-search-term", token=token)
        m = self.agent.settle(lambda s: total(s, SERVER, service_name="gateway",
                                        http_route="/api/orders") >= 1, "the checkout")
        _, text = self.agent.scrape()
        for secret in (password, token, shoptest.CARD_OK["card_number"], "secret-search-term",
                       email):
            self.assertNotIn(secret, text)
            self.assertNotIn(secret, self.agent.logtext())
        self.assertTrue(m)


class SelectionTest(AgentCase):
    AGENT_ARGS = ("--watch", "exe:vg-gateway", "--stale-after", "3")

    def test_only_selected_processes_are_reported(self):
        for i in range(1, 6):
            self.api("GET", f"/api/products/{i}")
        m = self.agent.settle(lambda s: total(s, SERVER, service_name="gateway",
                                        http_route="/api/products/{id}") >= 5, "gateway views")
        services = {d["service_name"] for (name, labels), _ in m.items()
                    for d in [dict(labels)] if "service_name" in d and
                    name.startswith(("http_", "db_", "vigil_syscalls"))}
        # gateway-late is the second vg-gateway another test of this class may have started.
        self.assertEqual(services - {"gateway-late"}, {"gateway"})

    def test_new_process_is_picked_up_and_exited_one_goes_stale(self):
        # A second gateway started after the agent, under its own service name.
        env = {"OTEL_SERVICE_NAME": "gateway-late"}
        port = harness.free_port()
        self.shop.ports["late"] = port
        log = os.path.join(self.shop.log_dir, "late.log")
        full = self.shop.common_env()
        full.update(env)
        full["VIGIL_PORT"] = str(port)
        p = harness.spawn([harness.binary("vg-gateway")], log, env=full)
        try:
            harness.wait_until(lambda: harness.port_open(port), 30, "late gateway", p, log)
            for _ in range(3):
                st, _, _ = harness.http("GET", f"http://127.0.0.1:{port}/api/products/1")
                self.assertEqual(st, 200)
            self.agent.settle(lambda s: total(s, SERVER, service_name="gateway-late") >= 3,
                        "the late gateway's requests")
        finally:
            p.terminate()
            p.wait(timeout=15)
        t0 = time.monotonic()
        self.agent.settle(lambda s: not select(s, SERVER, service_name="gateway-late") and
                    not select(s, "vigil_syscalls_total", service_name="gateway-late"),
                    "the exited service's series to go stale", timeout=20)
        self.assertGreaterEqual(time.monotonic() - t0, 2.0, "stale too early")


if __name__ == "__main__":
    unittest.main()
