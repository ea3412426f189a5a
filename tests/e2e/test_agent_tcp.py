"""The agent's TCP and health metrics against processes of this test (root: real BPF programs).

- vigil_tcp_retransmits_total: a watched sender in one network namespace streams to a watched
  receiver in another over a veth pair; the receiver's ACKs are blackholed for 1.5 s, so the
  sender's retransmit timer (softirq, whatever pid is current) resends its segments.
  The agent must attribute them to the sender's service through the socket, and never count
  more than the kernel's own RetransSegs of that namespace (where only the sender sends data).
  Namespaces and links are this test's own, so nothing else on the host loses a packet.
- metrics.route_patterns: a watched HTTP server; configured patterns name the routes, paths no
  pattern matches fall back to the built-in folding.
- vigil_agent_parse_resyncs_total{protocol="http"}: a request whose header section ends in the
  part of a transfer the kernel side does not capture loses framing; the parser resynchronises
  at the next request.
- vigil_agent_events_total{source="syscall"} moves; vigil_agent_ringbuf_fill_ratio is in [0, 1].
"""

import http.client
import os
import select as selectmod
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402
from agent import Agent, select, total  # noqa: E402
from helpers import poll  # noqa: E402

TAG = f"vgt{os.getpid() % 100000}"
NS_SEND, NS_RECV = f"{TAG}s", f"{TAG}r"
VETH_SEND, VETH_RECV = f"{TAG}a", f"{TAG}b"
ADDR_SEND, ADDR_RECV = "192.0.2.1", "192.0.2.2"  # TEST-NET-1, only inside the namespaces
DATA_PORT = 7000  # in the receiver's own namespace: no clash with the host

RECEIVER = f"""
import os, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("{ADDR_RECV}", {DATA_PORT}))
s.listen(1)
print(os.getpid(), flush=True)
c, _ = s.accept()
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
c.sendall(str(n).encode())
c.close()
"""

# Streams 16 KiB every 10 ms from "go" to "stop" (stdin), then reports what the receiver got.
SENDER = f"""
import os, select, socket, sys
print(os.getpid(), flush=True)
sys.stdin.readline()
s = socket.create_connection(("{ADDR_RECV}", {DATA_PORT}), timeout=60)
s.setblocking(False)
chunk, sent = b"x" * 16384, 0
while not select.select([sys.stdin], [], [], 0.01)[0]:
    try:
        sent += s.send(chunk)
    except BlockingIOError:
        pass
s.setblocking(True)
s.shutdown(socket.SHUT_WR)
got = s.recv(100).decode()
print(sent, got, flush=True)
"""

HTTP_SERVER = """
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass

srv = HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print(os.getpid(), flush=True)
srv.serve_forever()
"""

ROUTE_PATTERNS = ["/items/{name}", "/items/{name}/parts/{part}"]


def ip(*args, ns=None):
    argv = (["ip", "netns", "exec", ns] if ns else []) + ["ip", *args]
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def retrans_segs(ns):
    """The namespace's own Tcp RetransSegs (/proc/net/snmp as seen from inside it)."""
    out = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    head, vals = [ln.split() for ln in out.splitlines() if ln.startswith("Tcp:")][:2]
    return int(vals[head.index("RetransSegs")])


def python(argv, env=None):
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def read_line(proc, timeout):
    if not selectmod.select([proc.stdout], [], [], timeout)[0]:
        raise AssertionError(f"no output from {proc.args!r} within {timeout}s")
    line = proc.stdout.readline()
    if not line:
        raise AssertionError(f"{proc.args!r} exited: {proc.stderr.read()[-2000:]}")
    return line.strip()


@unittest.skipUnless(os.geteuid() == 0, "needs root: BPF programs and network namespaces")
@unittest.skipUnless(shutil.which("ip"), "needs iproute2")
class TcpAndHealthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        base = os.environ.get("VIGIL_TEST_DIR") or os.path.join(harness.ROOT, "build", "test-run")
        os.makedirs(base, exist_ok=True)
        cls.log_dir = tempfile.mkdtemp(prefix="agent-tcp-", dir=base)
        cls.procs, cls.agent = [], None
        try:
            cls._setup()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _setup(cls):
        ip("netns", "add", NS_SEND)
        ip("netns", "add", NS_RECV)
        ip("link", "add", VETH_SEND, "netns", NS_SEND, "type", "veth", "peer", "name", VETH_RECV,
           "netns", NS_RECV)
        for ns, dev, addr in ((NS_SEND, VETH_SEND, ADDR_SEND), (NS_RECV, VETH_RECV, ADDR_RECV)):
            ip("addr", "add", f"{addr}/24", "dev", dev, ns=ns)
            ip("link", "set", dev, "up", ns=ns)
            ip("link", "set", "lo", "up", ns=ns)
        env = dict(os.environ)
        py = sys.executable
        cls.receiver = python(["ip", "netns", "exec", NS_RECV, py, "-c", RECEIVER],
                              env=dict(env, OTEL_SERVICE_NAME=f"{TAG}-receiver"))
        cls.sender = python(["ip", "netns", "exec", NS_SEND, py, "-c", SENDER],
                            env=dict(env, OTEL_SERVICE_NAME=f"{TAG}-sender"))
        cls.http_port = harness.free_port()
        cls.http = python([py, "-c", HTTP_SERVER, str(cls.http_port)],
                          env=dict(env, OTEL_SERVICE_NAME=f"{TAG}-http"))
        cls.procs = [cls.receiver, cls.sender, cls.http]
        pids = [read_line(p, 30) for p in cls.procs]
        args = ["--watch", "pid:" + ",".join(pids)]
        for p in ROUTE_PATTERNS:
            args += ["--route-pattern", p]
        cls.agent = Agent(cls.log_dir, args=args).start()

    @classmethod
    def tearDownClass(cls):
        try:
            for p in cls.procs:
                if p.poll() is None:
                    p.kill()
                p.wait(timeout=10)
                for f in (p.stdin, p.stdout, p.stderr):
                    f.close()
            if cls.agent is not None:
                rc = cls.agent.stop()
                if rc != 0:
                    raise AssertionError(f"vigil-agent exited with {rc}"
                                         + harness.tail(cls.agent.log))
        finally:
            for ns in (NS_SEND, NS_RECV):  # deleting a namespace deletes its end of the veth
                subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


    def test_retransmits_are_counted_for_the_socket_owner(self):
        service = f"{TAG}-sender"
        before = retrans_segs(NS_SEND)
        self.sender.stdin.write("go\n")
        self.sender.stdin.flush()
        time.sleep(0.5)
        # The receiver's ACKs go nowhere for a while: the sender's segments stay unacknowledged
        # and its retransmit timer resends them. The drop is the receiver's, so the sender's
        # resends leave without a local error (which the kernel would not count).
        ip("route", "add", "blackhole", f"{ADDR_SEND}/32", ns=NS_RECV)
        time.sleep(1.5)
        ip("route", "del", "blackhole", f"{ADDR_SEND}/32", ns=NS_RECV)
        time.sleep(1.0)
        self.sender.stdin.write("stop\n")
        self.sender.stdin.flush()
        sent, got = read_line(self.sender, 60).split()
        self.assertEqual(sent, got, "the receiver got every byte (TCP recovered)")
        kernel = retrans_segs(NS_SEND) - before
        self.assertGreater(kernel, 0, "the link outage should have made the kernel retransmit")
        m = self.agent.settle(lambda s: total(s, "vigil_tcp_retransmits_total", service_name=service)
                        > 0, f"retransmits attributed to {service}")
        agent = total(m, "vigil_tcp_retransmits_total", service_name=service)
        # The tracepoint fires once per retransmitted skb, RetransSegs counts segments (one skb
        # may carry several): never more than the kernel, never none.
        self.assertLessEqual(agent, kernel, f"agent {agent} vs kernel RetransSegs {kernel}")
        others = {d["service_name"]: v for d, v in select(m, "vigil_tcp_retransmits_total")
                  if d["service_name"] != service and v}
        self.assertEqual(others, {}, "only the sender's socket lost segments")

    def test_route_patterns_name_routes_and_folding_is_the_fallback(self):
        service = f"{TAG}-http"

        def routes(s):
            """This test's requests only: other tests of the class use the server too."""
            now = {d["http_route"]: v for d, v in
                   select(s, "http_server_request_duration_seconds_count", service_name=service)}
            return {r: now.get(r, 0) - base.get(r, 0) for r in want
                    if now.get(r, 0) != base.get(r, 0)}
        want = {"/items/{name}": 2, "/items/{name}/parts/{part}": 1, "/items/a/b": 1,
                "/other/{id}": 1, "/items/": 1}
        base = {}
        base = routes(self.agent.metrics())
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        paths = ["/items/abc", "/items/12?x=1", "/items/abc/parts/7", "/items/a/b",
                 "/other/42", "/items/"]
        for p in paths:
            conn.request("GET", p)
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
        conn.close()
        m = self.agent.settle(lambda s: sum(routes(s).values()) >= sum(want.values()),
                        "the HTTP server's requests")
        self.assertEqual(routes(m), want)

    def test_lost_framing_is_a_counted_resync(self):
        before = total(self.agent.metrics(), "vigil_agent_parse_resyncs_total", protocol="http")
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        # Headers ending past the 512-byte head, then a body longer than the 64-byte tail, in
        # one write: the end of the header section is never seen.
        conn.request("POST", "/items/padded", body=b"b" * 200,
                     headers={"X-Pad": "p" * 1500, "Content-Type": "text/plain"})
        r = conn.getresponse()
        r.read()
        conn.request("GET", "/items/after")  # where the parser finds its footing again
        r = conn.getresponse()
        r.read()
        conn.close()
        self.agent.settle(lambda s: total(s, "vigil_agent_parse_resyncs_total", protocol="http")
                    > before, "an http resync")

    def test_health_families(self):
        m = self.agent.settle(lambda s: total(s, "vigil_agent_events_total", source="syscall") > 0,
                        "syscall events counted")
        fill = select(m, "vigil_agent_ringbuf_fill_ratio")
        self.assertEqual(len(fill), 1, "one ring-buffer fill gauge")
        self.assertGreaterEqual(fill[0][1], 0.0)
        self.assertLessEqual(fill[0][1], 1.0)


if __name__ == "__main__":
    unittest.main()
