"""The agent against the shop's AMQP traffic (root: real BPF, real RabbitMQ, librabbitmq clients).

After N paid checkouts the agent reports exactly N publishes by the order service to the
exchange "vigil.events", and exactly N deliveries ("receive") and N acks by the notification
service, which acks each message after sending its email. Both services opened their
connections before the agent started (seeded from /proc, met mid-stream: the idle consumer's
first frames are heartbeats); after a restart of both they are opened while it watches. The
broker (beam.smp, watched too) is never reported as a messaging client, publisher confirms are
not the publisher's acks, and AMQP bytes are never counted as unparsed.

The agent watches only this class's processes: the shop's services (children of this test
process, moved into a cgroup of its own) and the broker's pid, so that shops of other test runs
on the machine cannot add to the counts."""

import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402
import shoptest  # noqa: E402
from agent import Agent, loaded_prog_ids, prog_ids, select, total  # noqa: E402
from helpers import mails_to, poll  # noqa: E402
from shoptest import ADDRESS, CARD_OK  # noqa: E402

SANITIZE = os.environ.get("VIGIL_SANITIZE") == "1"
CHECKOUTS = int(os.environ.get("VIGIL_E2E_CHECKOUTS", "6" if SANITIZE else "12"))
AFTER_RESTART = 4
MSG = "messaging_client_operation_duration_seconds_count"
EXCHANGE = "vigil.events"  # services/common: VG_AMQP_EXCHANGE


def cgroup2_root():
    """Mount point of the cgroup v2 hierarchy, or None."""
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return mnt
    return None


def own_cgroup2(pid="self"):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


def move(root, cgroup, pid):
    with open(os.path.join(root, cgroup.lstrip("/"), "cgroup.procs"), "w") as f:
        f.write(str(pid))


def broker_pid(backing):
    """beam.smp's pid, from the pid file RabbitMQ writes."""
    path = backing.rabbit_env()["RABBITMQ_PID_FILE"]
    pid = int(open(path).read().strip())
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == "beam.smp", f"pid {pid} from {path} is not beam.smp"
    return pid


def bytes_received(pid, port):
    """tcp_info bytes_received of pid's connections to 127.0.0.1:port (ss -ti)."""
    r = subprocess.run(["ss", "-tinpH", "state", "established", "dst", f"127.0.0.1:{port}"],
                       capture_output=True, text=True, timeout=10, check=True)
    out, mine = 0, False
    for line in r.stdout.splitlines():
        if not line[:1].isspace():
            mine = f"pid={pid}," in line
        m = re.search(r"bytes_received:(\d+)", line)
        if mine and m:
            out += int(m.group(1))
    return out


class MessagingTest(shoptest.ShopTestCase):
    @classmethod
    def setUpClass(cls):
        root = cgroup2_root()
        if root is None or os.geteuid() != 0:
            raise unittest.SkipTest("needs root and a cgroup v2 hierarchy")
        b = shoptest.backing()  # before the move: the pass's backing stays outside the cgroup
        cls.cg_root, cls.cg_home = root, own_cgroup2()
        cls.cg = f"/vigil-e2e-messaging-{os.getpid()}"
        os.mkdir(os.path.join(root, cls.cg.lstrip("/")))
        cls.agent = None
        try:
            move(root, cls.cg, os.getpid())  # the services started from here inherit it
            super().setUpClass()
            cls.broker = broker_pid(b)
            # The publisher connects on its first publish, the consumer at start: one
            # checkout before the agent, so that both connections predate it.
            cls.user, cls.token = cls._new_user()
            cls._checkout_paid()
            poll(lambda: len(mails_to(b, cls.email)) == 1, 30, "the warm-up email")
            cls.agent = Agent(cls.shop.log_dir, args=["--watch", f"cgroup:{cls.cg}",
                                                      "--watch", f"pid:{cls.broker}"]).start()
        except BaseException:
            cls._cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()

    @classmethod
    def _cleanup(cls):
        try:
            if cls.agent is not None:
                ours = prog_ids(cls.agent.proc.pid)
                rc = cls.agent.stop()
                cls.agent = None
                if rc != 0:
                    raise AssertionError(f"vigil-agent exited with {rc}"
                                         + harness.tail(os.path.join(cls.shop.log_dir,
                                                                     "vigil-agent.log")))
                assert ours, "the agent held no BPF program"
                poll(lambda: not (ours & loaded_prog_ids()), 30, "the agent's BPF programs to go",
                     interval=0.2)
        finally:
            try:
                if "shop" in cls.__dict__:
                    super().tearDownClass()
            finally:
                cls._release_cgroup()

    @classmethod
    def _release_cgroup(cls):
        path = os.path.join(cls.cg_root, cls.cg.lstrip("/"))
        with open(os.path.join(path, "cgroup.procs")) as f:
            left = [int(p) for p in f.read().split()]
        for pid in left:  # this process, and anything it started that outlived the shop
            try:
                move(cls.cg_root, cls.cg_home or "/", pid)
            except (ProcessLookupError, FileNotFoundError):
                pass
        poll(lambda: not open(os.path.join(path, "cgroup.procs")).read().strip(), 10,
             "the test cgroup to empty")
        os.rmdir(path)

    # ---- shop helpers (classmethods: the warm-up runs in setUpClass) ----
    @classmethod
    def _api(cls, method, path, body=None):
        return cls.api(cls, method, path, body, token=getattr(cls, "token", None))

    @classmethod
    def _new_user(cls):
        import uuid
        cls.email = f"msg-{uuid.uuid4().hex[:12]}@example.test"
        st, _, user = cls.api(cls, "POST", "/api/users", {"email": cls.email, "name": "M Q",
                                                          "password": "correct horse battery"})
        assert st == 201, user
        st, _, s = cls.api(cls, "POST", "/api/sessions", {"email": cls.email,
                                                          "password": "correct horse battery"})
        assert st == 201, s
        return user, s["token"]

    @classmethod
    def _checkout_paid(cls):
        st, _, body = cls._api("PUT", "/api/cart/items/101", {"quantity": 1})
        assert st == 200, body
        st, _, order = cls._api("POST", "/api/orders",
                                {"shipping_address": dict(ADDRESS), "payment": dict(CARD_OK)})
        assert st == 201, (st, order)
        return order["id"]

    def confirmed(self, ids):
        st, _, body = self.api("GET", "/api/orders", token=self.token)
        self.assertEqual(st, 200, body)
        status = {o["id"]: o["status"] for o in body["items"]}
        return all(status.get(i) == "confirmed" for i in ids)

    def ops(self, samples):
        """{(service, operation, destination): count} of the messaging histogram."""
        out = {}
        for labels, v in select(samples, MSG):
            self.assertEqual(labels.get("messaging_system"), "rabbitmq", labels)
            self.assertEqual(set(labels), {"service_name", "messaging_system",
                                           "messaging_operation_name",
                                           "messaging_destination_name"}, labels)
            key = (labels["service_name"], labels["messaging_operation_name"],
                   labels["messaging_destination_name"])
            out[key] = out.get(key, 0) + int(v)
        return out

    def run_checkouts(self, n, mails_before):
        ids = [self._checkout_paid() for _ in range(n)]
        poll(lambda: len(mails_to(shoptest.backing(), self.email)) >= mails_before + n, 60,
             f"{n} confirmation emails")
        poll(lambda: self.confirmed(ids), 60, "the orders confirmed")
        self.assertEqual(len(mails_to(shoptest.backing(), self.email)), mails_before + n)
        return ids

    def expect(self, n, what):
        want = {("order", "publish", EXCHANGE): n, ("notification", "receive", EXCHANGE): n,
                ("notification", "ack", ""): n}
        box = {}

        def check():
            box["m"] = self.agent.metrics()
            return all(self.ops(box["m"]).get(k, 0) >= v for k, v in want.items())
        try:
            poll(check, 10, f"the agent's messaging counts {what}", interval=0.2)
        except AssertionError:
            pass  # the exact comparison below says what differs
        m = box["m"]
        # Exactly these: no confirm counted as the order's ack, nothing from the broker.
        self.assertEqual(self.ops(m), want, what)
        drops = total(m, "vigil_agent_events_dropped_total")
        self.assertEqual(drops, 0, "the agent lost events")
        return m

    # ---- the test ----
    def test_publish_receive_ack_counts_are_exact(self):
        b = shoptest.backing()
        # The consumer has been idle since before the agent started: let a heartbeat reach it
        # (the broker sends one every 15 s), then the agent must have claimed it as AMQP.
        port = b.ports["amqp"]
        notify = self.shop.procs["notification"].pid
        seen = bytes_received(notify, port)
        poll(lambda: bytes_received(notify, port) >= seen + 8, 40, "a heartbeat to the consumer")
        time.sleep(1)
        m = self.agent.metrics()
        self.assertEqual(total(m, "vigil_unparsed_bytes_total", service_name="notification"), 0,
                         "AMQP heartbeats counted as unparsed bytes")
        self.assertGreater(total(m, "vigil_syscalls_total", service_name="beam.smp"), 0,
                           "the broker should be watched")

        mails = len(mails_to(b, self.email))
        self.run_checkouts(CHECKOUTS, mails)
        m = self.expect(CHECKOUTS, "on connections that predate the agent")
        self.assertEqual(total(m, "vigil_unparsed_bytes_total", service_name="order"), 0)

        # New connections, opened while the agent watches.
        for name in ("notification", "order"):
            self.assertEqual(self.shop.stop_service(name), 0, f"{name} exit status")
            self.shop.start_service(name)
        self.run_checkouts(AFTER_RESTART, mails + CHECKOUTS)
        self.expect(CHECKOUTS + AFTER_RESTART, "after both services reconnected")


if __name__ == "__main__":
    unittest.main()
