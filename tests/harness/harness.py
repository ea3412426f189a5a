"""Vigil test harness: real backing services on free loopback ports.

One `Backing` per test pass starts PostgreSQL, Redis, RabbitMQ and an SMTP
sink as private processes (never the system instances), and hands every test
its own database, Redis database and RabbitMQ vhost. A `Shop` starts the six
services against one such slice. Everything is stopped by pid, SIGTERM first
and SIGKILL after a deadline, also when a test fails.

`scripts/stack.sh` uses the same code (`harness.py up|down`) for `make up`, so
there is one way to start the stack.

Python standard library only (Debian's /usr/bin/python3); the SMTP sink uses
Debian's python3-aiosmtpd.
"""

import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_BIN = "/usr/lib/postgresql/15/bin"
RABBIT_BIN = "/usr/lib/rabbitmq/bin"
PYTHON = "/usr/bin/python3"

SERVICES = [
    # name, executable, default port, OTEL-style service name set by the stack
    ("gateway", "vg-gateway", 8080),
    ("user", "vg-user", 8081),
    ("product", "vg-product", 8082),
    ("order", "vg-order", 8083),
    ("payment", "vg-payment", 8084),
    ("notification", "vg-notify", 8085),
]


class HarnessError(Exception):
    pass


def build_dir():
    return os.environ.get("VIGIL_BUILD", os.path.join(ROOT, "build"))


def binary(name):
    path = os.path.join(build_dir(), "bin", name)
    if not os.access(path, os.X_OK):
        raise HarnessError(f"{path} is missing: run make first")
    return path


_HANDED_OUT = set()


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A free loopback port for a service to bind later, chosen below the kernel's ephemeral
    range: a port from bind(0) is an ephemeral one, and any outgoing connection (a service's
    pool, a client) could take it before the service binds (seen: "order: cannot listen ...
    Address already in use"). Ports are not handed out twice by one harness."""
    low = _ephemeral_low()
    first = max(1024, low - 12000)
    for _ in range(500):
        port = random.randint(first, low - 1)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(pred, timeout, what, proc=None, log=None):
    """Polls pred until it is true; raises with what (and the log's tail) at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        if proc is not None and proc.poll() is not None:
            raise HarnessError(f"{what}: process exited with {proc.returncode}{tail(log)}")
        time.sleep(0.05)
    raise HarnessError(f"{what}: not ready after {timeout}s{tail(log)}")


def tail(log, n=30):
    if not log or not os.path.exists(log):
        return ""
    with open(log, errors="replace") as f:
        lines = f.readlines()[-n:]
    return "\n--- " + log + " ---\n" + "".join(lines)


# Every daemon spawn() started in this process, for reap_leftovers().
_spawned = []


def spawn(argv, log, env=None, user=None, cwd=None):
    """Starts a daemon-like child: own session, no inherited descriptors, output to log."""
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    out = open(log, "ab")
    try:
        p = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
        _spawned.append(p)
        return p
    finally:
        out.close()


def reap_leftovers():
    """Stops (SIGTERM, then SIGKILL) every daemon spawn() started here that still runs, and
    returns their command names: after a test run there should be none. A teardown that broke
    once left twelve agents attached to every syscall of the machine."""
    left = []
    for p in _spawned:
        if p.poll() is None:
            argv = list(p.args)
            cmd = argv[argv.index("--") + 1] if "--" in argv[:-1] else argv[0]
            left.append(os.path.basename(cmd))
            stop_pid(p.pid)
            p.poll()
    _spawned.clear()
    return left


def stop_pid(pid, deadline=10.0):
    """SIGTERM, then SIGKILL after deadline. Returns once the process is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while pid_alive(pid):
        time.sleep(0.05)


def pid_alive(pid):
    try:
        # A zombie child of ours still answers kill(0): reap it first.
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def http(method, url, body=None, headers=None, timeout=10):
    """Returns (status, headers, body bytes); never raises for an HTTP status."""
    data = body
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, bytearray)):
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Backing:
    """PostgreSQL, Redis, RabbitMQ and the SMTP sink for one test pass (or `make up`)."""

    def __init__(self, base, ports=None, pg_dir=None):
        self.base = base
        os.makedirs(base, exist_ok=True)
        # PostgreSQL's data directory must be reachable by the postgres user:
        # a checkout under a 0700 home is not, so it lives under /tmp unless told.
        self.pg_dir = pg_dir or tempfile.mkdtemp(prefix="vigil-pg-")
        ports = ports or {}
        self.ports = {
            "pg": ports.get("pg") or free_port(),
            "redis": ports.get("redis") or free_port(),
            "amqp": ports.get("amqp") or free_port(),
            "amqp_dist": ports.get("amqp_dist") or free_port(),
            "epmd": ports.get("epmd") or free_port(),
            "smtp": ports.get("smtp") or free_port(),
        }
        self.pids = {}
        self.pg_password = secrets.token_hex(16)
        self.amqp_password = secrets.token_hex(16)
        self.node = f"vigil{self.ports['amqp']}@localhost"
        self.mail_dir = os.path.join(base, "mail")
        self._redis_db = 0
        self._serial = 0

    # ---- lifecycle ----
    def start(self, need=("pg", "redis", "amqp", "smtp")):
        try:
            if "pg" in need:
                self._start_pg()
            if "redis" in need:
                self._start_redis()
            if "smtp" in need:
                self._start_smtp()
            if "amqp" in need:
                self._start_rabbit()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for name in ("smtp", "redis", "amqp", "pg"):
            pid = self.pids.pop(name, None)
            if pid:
                stop_pid(pid, deadline=20.0)
        if "amqp_started" in self.__dict__:
            subprocess.run(
                ["epmd", "-port", str(self.ports["epmd"]), "-kill"],
                capture_output=True,
                timeout=10,
            )
        shutil.rmtree(self.pg_dir, ignore_errors=True)

    def _start_pg(self):
        data = os.path.join(self.pg_dir, "data")
        sock = os.path.join(self.pg_dir, "sock")
        os.makedirs(sock, exist_ok=True)
        shutil.chown(self.pg_dir, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
        os.chmod(self.pg_dir, 0o755)
        pwfile = os.path.join(self.pg_dir, "pw")
        with open(pwfile, "w") as f:
            f.write(self.pg_password + "\n")
        shutil.chown(pwfile, "postgres", "postgres")
        os.chmod(pwfile, 0o600)
        if not os.path.exists(os.path.join(data, "PG_VERSION")):
            r = subprocess.run(
                ["runuser", "-u", "postgres", "--", f"{PG_BIN}/initdb", "-D", data,
                 "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
                 "--pwfile", pwfile, "-E", "UTF8", "--locale=C.UTF-8"],
                capture_output=True, text=True)
            if r.returncode != 0:
                raise HarnessError("initdb failed: " + r.stderr)
        os.unlink(pwfile)
        log = os.path.join(self.base, "postgres.log")
        p = spawn([f"{PG_BIN}/postgres", "-D", data, "-p", str(self.ports["pg"]),
                   "-k", sock, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                   "-c", "max_connections=300", "-c", "shared_buffers=128MB",
                   "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                  log, user="postgres")
        self.pids["pg"] = p.pid
        self.pg_sock = sock
        wait_until(lambda: self.psql("SELECT 1", check=False).returncode == 0, 30,
                   "postgres", p, log)
        self.psql(f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='vigil') "
                  f"THEN CREATE ROLE vigil LOGIN; END IF; END$$; "
                  f"ALTER ROLE vigil PASSWORD '{self.pg_password}'")

    def stop_pg(self):
        """Stops PostgreSQL (fast shutdown: clients are disconnected), keeping its data."""
        pid = self.pids.pop("pg", None)
        if pid is None:
            return
        subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", "stop", "-D",
                        os.path.join(self.pg_dir, "data"), "-m", "fast", "-w", "-t", "30"],
                       capture_output=True, text=True, timeout=60)
        stop_pid(pid, deadline=20.0)
        wait_until(lambda: not port_open(self.ports["pg"]), 20, "postgres to stop")

    def start_pg(self):
        """Starts PostgreSQL again on the same port and data (after stop_pg)."""
        if "pg" not in self.pids:
            self._start_pg()

    def psql(self, sql, db="postgres", check=True):
        r = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.pg_sock, "-p",
             str(self.ports["pg"]), "-U", "postgres", "-d", db, "-At", "-c", sql],
            capture_output=True, text=True)
        if check and r.returncode != 0:
            raise HarnessError(f"psql {sql!r}: {r.stderr.strip()}")
        return r

    def _start_redis(self):
        log = os.path.join(self.base, "redis.log")
        p = spawn(["redis-server", "--port", str(self.ports["redis"]), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--databases", "1024",
                   "--daemonize", "no", "--dir", self.base, "--maxclients", "2000"], log)
        self.pids["redis"] = p.pid
        wait_until(lambda: port_open(self.ports["redis"]), 20, "redis", p, log)

    def stop_redis(self):
        """Stops Redis. It keeps nothing on disk: every key is gone when it starts again."""
        pid = self.pids.pop("redis", None)
        if pid is None:
            return
        stop_pid(pid, deadline=20.0)
        wait_until(lambda: not port_open(self.ports["redis"]), 20, "redis to stop")

    def start_redis(self):
        """Starts Redis again on the same port (after stop_redis), empty."""
        if "redis" not in self.pids:
            self._start_redis()

    def _start_smtp(self):
        os.makedirs(self.mail_dir, exist_ok=True)
        log = os.path.join(self.base, "smtp.log")
        p = spawn([PYTHON, os.path.join(ROOT, "tests", "harness", "smtp_sink.py"),
                   "--port", str(self.ports["smtp"]), "--dir", self.mail_dir], log)
        self.pids["smtp"] = p.pid
        wait_until(lambda: port_open(self.ports["smtp"]), 20, "smtp sink", p, log)

    def rabbit_env(self):
        home = os.path.join(self.base, "rabbitmq")
        env = dict(os.environ)
        env.update({
            "HOME": home,
            "RABBITMQ_MNESIA_BASE": os.path.join(home, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(home, "log"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.ports["amqp"]),
            "RABBITMQ_DIST_PORT": str(self.ports["amqp_dist"]),
            "ERL_EPMD_PORT": str(self.ports["epmd"]),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_PID_FILE": os.path.join(home, "rabbitmq.pid"),
            "RABBITMQ_CONFIG_FILE": os.path.join(home, "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(home, "enabled_plugins"),
        })
        return env

    def _start_rabbit(self):
        env = self.rabbit_env()
        home = env["HOME"]
        os.makedirs(home, exist_ok=True)
        with open(os.path.join(home, "rabbitmq.conf"), "w") as f:
            # The management plugin is off: nothing listens but AMQP on loopback.
            f.write("loopback_users = none\nlisteners.tcp.1 = 127.0.0.1:%d\n"
                    "log.console = false\n" % self.ports["amqp"])
        with open(os.path.join(home, "enabled_plugins"), "w") as f:
            f.write("[].\n")
        log = os.path.join(self.base, "rabbitmq.log")
        p = spawn([f"{RABBIT_BIN}/rabbitmq-server"], log, env=env, cwd=home)
        self.pids["amqp"] = p.pid
        self.amqp_started = True
        wait_until(lambda: port_open(self.ports["amqp"]), 90, "rabbitmq", p, log)
        self.rabbitmqctl("add_user", "vigil", self.amqp_password, check=False)
        self.rabbitmqctl("change_password", "vigil", self.amqp_password)

    def stop_rabbit(self):
        """Stops RabbitMQ, keeping its state (users, vhosts, durable queues) and epmd."""
        pid = self.pids.pop("amqp", None)
        if pid is None:
            return
        stop_pid(pid, deadline=30.0)
        wait_until(lambda: not port_open(self.ports["amqp"]), 20, "rabbitmq to stop")

    def start_rabbit(self):
        """Starts RabbitMQ again on the same port and node (after stop_rabbit)."""
        if "amqp" not in self.pids:
            self._start_rabbit()

    def redis(self, *args, db=0, check=True):
        """Runs one redis-cli command against database db; returns its stdout, stripped."""
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.ports["redis"]),
                            "-n", str(db), *args], capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise HarnessError(f"redis-cli {args[0]}: {r.stderr.strip()}")
        return r.stdout.strip()

    def rabbitmqctl(self, *args, check=True):
        r = subprocess.run([f"{RABBIT_BIN}/rabbitmqctl", "-n", self.node, "-q", *args],
                           env=self.rabbit_env(), capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise HarnessError(f"rabbitmqctl {args[0]}: {r.stderr.strip() or r.stdout.strip()}")
        return r

    # ---- per-test slices ----
    def new_slice(self, name):
        """A fresh, migrated database, Redis database and vhost for one test."""
        self._serial += 1
        tag = f"{name}_{self._serial}".lower()
        s = {"name": tag}
        if "pg" in self.pids:
            self.psql(f"CREATE DATABASE {tag} OWNER vigil")
            s["pg_dsn"] = (f"host=127.0.0.1 port={self.ports['pg']} dbname={tag} user=vigil "
                           f"connect_timeout=2")
            migrate(self.pg_env(s["pg_dsn"]))
        if "redis" in self.pids:
            self._redis_db += 1
            s["redis_db"] = self._redis_db
        if "amqp" in self.pids:
            self.rabbitmqctl("add_vhost", tag)
            self.rabbitmqctl("set_permissions", "-p", tag, "vigil", ".*", ".*", ".*")
            s["amqp_url"] = f"amqp://vigil:{self.amqp_password}@127.0.0.1:{self.ports['amqp']}/{tag}"
        return s

    def pg_env(self, dsn):
        return {"VIGIL_PG_DSN": dsn, "PGPASSWORD": self.pg_password}

    def service_env(self, s):
        env = {}
        if "pg_dsn" in s:
            env.update(self.pg_env(s["pg_dsn"]))
        if "redis_db" in s:
            env.update({"VIGIL_REDIS_HOST": "127.0.0.1",
                        "VIGIL_REDIS_PORT": str(self.ports["redis"]),
                        "VIGIL_REDIS_DB": str(s["redis_db"])})
        if "amqp_url" in s:
            env["VIGIL_AMQP_URL"] = s["amqp_url"]
        env["VIGIL_SMTP_URL"] = f"smtp://127.0.0.1:{self.ports['smtp']}"
        return env

    def mails(self):
        """Messages the SMTP sink received, oldest first, as raw text."""
        if not os.path.isdir(self.mail_dir):
            return []
        out = []
        for n in sorted(os.listdir(self.mail_dir)):
            if n.endswith(".eml"):
                with open(os.path.join(self.mail_dir, n), errors="replace") as f:
                    out.append(f.read())
        return out


def migrate(env):
    full = dict(os.environ)
    full.update(env)
    full["VIGIL_MIGRATIONS_DIR"] = os.path.join(ROOT, "services", "migrations")
    r = subprocess.run([binary("vg-migrate")], env=full, capture_output=True, text=True)
    if r.returncode != 0:
        raise HarnessError("vg-migrate failed: " + r.stderr + r.stdout)


def loadgen(url, requests, rate, shoppers=20, extra=()):
    """Runs vg-loadgen for a fixed request count; returns its JSON report (its own counts)."""
    r = subprocess.run([binary("vg-loadgen"), "--url", url, "--requests", str(requests),
                        "--rate", str(rate), "--shoppers", str(shoppers), "--quiet", *extra],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise HarnessError(f"vg-loadgen failed ({r.returncode}): {r.stderr[-2000:]}")
    return json.loads(r.stdout)


def expected_counts(report):
    """{(method, route, status): n} from loadgen's report."""
    out = {}
    for key, r in report["by_route"].items():
        method, route = key.split(" ", 1)
        for status, n in r["by_status"].items():
            out[(method, route, status)] = n
    return out


def sanitizer_env(log_dir):
    """ASan/UBSan settings: abort on the first report, each process logging to its own file."""
    return {
        "ASAN_OPTIONS": f"abort_on_error=1:detect_leaks=1:log_path={log_dir}/asan",
        "UBSAN_OPTIONS": f"halt_on_error=1:print_stacktrace=1:log_path={log_dir}/ubsan",
        "LSAN_OPTIONS": f"log_path={log_dir}/lsan",
    }


def sanitizer_reports(log_dir):
    return sorted(os.path.join(log_dir, n) for n in os.listdir(log_dir)
                  if n.startswith(("asan", "ubsan", "lsan")))


class Shop:
    """The six services on free ports against one slice of a Backing."""

    TEST_ENV = {
        "VIGIL_ARGON2_OPSLIMIT": "1",
        "VIGIL_ARGON2_MEMLIMIT": "8192",
        "VIGIL_RATE_LIMIT_RPS": "0",
        "VIGIL_RECONCILE_AFTER_S": "3",
        "VIGIL_LOG_LEVEL": "info",
    }

    def __init__(self, backing, name, env=None, ports=None, services=None, log_dir=None,
                 slice_=None):
        self.backing = backing
        self.slice = slice_ or backing.new_slice(name)
        self.log_dir = log_dir or os.path.join(backing.base, self.slice["name"])
        os.makedirs(self.log_dir, exist_ok=True)
        ports = ports or {}
        self.ports = {n: ports.get(n) or free_port() for n, _, _ in SERVICES}
        self.admin_token = secrets.token_hex(16)
        self.env = dict(self.TEST_ENV)
        self.env.update(env or {})
        self.wanted = services or [n for n, _, _ in SERVICES]
        self.procs = {}

    def url(self, service="gateway"):
        return f"http://127.0.0.1:{self.ports[service]}"

    def common_env(self):
        env = dict(os.environ)
        env.update(self.backing.service_env(self.slice))
        env.update({
            "VIGIL_ADMIN_TOKEN": self.admin_token,
            "VIGIL_USER_URL": self.url("user"),
            "VIGIL_PRODUCT_URL": self.url("product"),
            "VIGIL_ORDER_URL": self.url("order"),
            "VIGIL_PAYMENT_URL": self.url("payment"),
            "VIGIL_STATIC_DIR": os.path.join(ROOT, "services", "storefront", "dist"),
        })
        if os.environ.get("VIGIL_SANITIZE") == "1":
            env.update(sanitizer_env(self.log_dir))
        env.update(self.env)
        return env

    def start(self):
        try:
            for name in self.wanted:
                self.start_service(name)
        except BaseException:
            self.stop()
            raise
        return self

    def start_service(self, name, extra_env=None):
        exe = dict((n, e) for n, e, _ in SERVICES)[name]
        env = self.common_env()
        env["VIGIL_PORT"] = str(self.ports[name])
        env["OTEL_SERVICE_NAME"] = name
        env.update(extra_env or {})
        log = os.path.join(self.log_dir, name + ".log")
        p = spawn([binary(exe)], log, env=env)
        self.procs[name] = p
        wait_until(lambda: self.healthy(name), 30, f"{name} /healthz", p, log)
        return p

    def healthy(self, name):
        try:
            st, _, _ = http("GET", self.url(name) + "/healthz", timeout=2)
            return st == 200
        except OSError:
            return False

    def stop_service(self, name):
        """SIGTERM; returns the exit status (a clean stop is 0)."""
        p = self.procs.pop(name, None)
        if p is None:
            return None
        p.send_signal(signal.SIGTERM)
        try:
            return p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise HarnessError(f"{name} did not exit within 15 s of SIGTERM")

    def stop(self):
        """Stops every service; raises if one exited badly or left a sanitizer report."""
        bad = []
        for name in list(self.procs):
            try:
                rc = self.stop_service(name)
            except HarnessError as e:
                bad.append(str(e))
                continue
            if rc != 0:
                bad.append(f"{name} exited with {rc}{tail(os.path.join(self.log_dir, name + '.log'))}")
        reports = sanitizer_reports(self.log_dir)
        for r in reports:
            with open(r, errors="replace") as f:
                bad.append(f"sanitizer report {r}:\n{f.read()[:4000]}")
        if bad:
            raise HarnessError("\n".join(bad))

    def logs(self):
        out = {}
        for name in self.wanted:
            path = os.path.join(self.log_dir, name + ".log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out[name] = f.read()
        return out

    def set_faults(self, service, faults):
        st, _, body = http("POST", self.url(service) + "/admin/faults", faults,
                           headers={"X-Admin-Token": self.admin_token})
        if st != 200:
            raise HarnessError(f"set faults on {service}: {st} {body!r}")


# ---------------------------------------------------------------------------
# `make up` / `make down`: the same parts on the fixed ports of DESIGN.md,
# detached, with state and logs under .run/.

FIXED = {"pg": 55432, "redis": 56379, "amqp": 55672, "amqp_dist": 55673, "epmd": 55674,
         "smtp": 55025}
FIXED_SERVICES = {n: p for n, _, p in SERVICES}


def run_dir():
    return os.path.join(ROOT, ".run")


def cmd_up():
    rd = run_dir()
    state_path = os.path.join(rd, "state.json")
    if os.path.exists(state_path):
        with open(state_path) as f:
            st = json.load(f)
        if all(pid_alive(p) for p in st["pids"].values()):
            print("vigil: the stack is already running")
            print_where(st)
            return 0
        cmd_down(quiet=True)
    os.makedirs(rd, exist_ok=True)
    busy = [f"{n}:{p}" for n, p in list(FIXED.items()) + list(FIXED_SERVICES.items()) +
            [("agent", AGENT_PORT)] if port_open(p)]
    if busy:
        print("vigil: ports already in use: " + ", ".join(busy) +
              " (another stack? `make down`, or stop what holds them)", file=sys.stderr)
        return 1
    # PostgreSQL's files live where the postgres user can reach them, named after this checkout.
    pg_dir = os.path.join("/var/tmp", "vigil-pg-" + hashlib.sha1(ROOT.encode()).hexdigest()[:12])
    os.makedirs(pg_dir, exist_ok=True)
    b = Backing(rd, ports=FIXED, pg_dir=pg_dir)
    b.start()
    st = {"pids": dict(b.pids), "pg_dir": pg_dir, "epmd": FIXED["epmd"]}
    with open(state_path, "w") as f:
        json.dump(st, f)
    try:
        if b.psql("SELECT 1 FROM pg_database WHERE datname = 'vigil'").stdout.strip() != "1":
            b.psql("CREATE DATABASE vigil OWNER vigil")
        dsn = f"host=127.0.0.1 port={FIXED['pg']} dbname=vigil user=vigil connect_timeout=2"
        migrate(b.pg_env(dsn))
        b.rabbitmqctl("add_vhost", "vigil", check=False)
        b.rabbitmqctl("set_permissions", "-p", "vigil", "vigil", ".*", ".*", ".*")
        slice_ = {"name": "shop", "pg_dsn": dsn, "redis_db": 0,
                  "amqp_url": f"amqp://vigil:{b.amqp_password}@127.0.0.1:{FIXED['amqp']}/vigil"}
        shop = Shop(b, "shop", ports=FIXED_SERVICES, log_dir=rd, slice_=slice_,
                    env={"VIGIL_ARGON2_OPSLIMIT": "2", "VIGIL_ARGON2_MEMLIMIT": str(16 << 20),
                         "VIGIL_RATE_LIMIT_RPS": "200", "VIGIL_RECONCILE_AFTER_S": "10"})
        shop.start()
        for name, p in shop.procs.items():
            st["pids"][name] = p.pid
        with open(os.path.join(rd, "admin_token"), "w") as f:
            f.write(shop.admin_token + "\n")
        os.chmod(os.path.join(rd, "admin_token"), 0o600)
        agent = start_agent(rd)
        if agent:
            st["pids"]["agent"] = agent.pid
    finally:
        with open(state_path, "w") as f:
            json.dump(st, f)
    print_where(st)
    return 0


AGENT_PORT = 9400


def start_agent(rd):
    """vigil-agent watching every process but itself; None when not root (BPF needs it)."""
    if os.geteuid() != 0:
        print("vigil: not root: the agent (BPF) is not started", file=sys.stderr)
        return None
    log = os.path.join(rd, "vigil-agent.log")
    p = spawn([binary("vigil-agent"), "--listen", f"127.0.0.1:{AGENT_PORT}"], log)

    def ready():
        try:
            return http("GET", f"http://127.0.0.1:{AGENT_PORT}/readyz", timeout=2)[0] == 200
        except OSError:
            return False
    wait_until(ready, 60, "vigil-agent /readyz", p, log)
    return p


def print_where(st):
    print("vigil: stack is up")
    print("  shop (gateway)   http://127.0.0.1:8080/   (API: /api/products, /api/categories, ...)")
    print("  services         user :8081 product :8082 order :8083 payment :8084 notification :8085")
    print("  backing          PostgreSQL :55432 Redis :56379 RabbitMQ :55672 SMTP sink :55025")
    if "agent" in st["pids"]:
        print(f"  agent metrics    http://127.0.0.1:{AGENT_PORT}/metrics")
    print(f"  logs and state   {run_dir()}/  (mail the shop sent: {run_dir()}/mail/)")
    print("  stop with        make down")


def cmd_down(quiet=False):
    state_path = os.path.join(run_dir(), "state.json")
    if not os.path.exists(state_path):
        if not quiet:
            print("vigil: nothing to stop")
        return 0
    with open(state_path) as f:
        st = json.load(f)
    order = ["agent"] + [n for n, _, _ in SERVICES] + ["smtp", "redis", "amqp", "pg"]
    pids = st["pids"]
    for name in order + [n for n in pids if n not in order]:
        if name in pids:
            stop_pid(pids[name], deadline=20.0)
    subprocess.run(["epmd", "-port", str(st.get("epmd", FIXED["epmd"])), "-kill"],
                   capture_output=True, timeout=10)
    ports = list(FIXED.values()) + list(FIXED_SERVICES.values()) + [AGENT_PORT]
    wait_until(lambda: not any(port_open(p) for p in ports), 30, "ports to close")
    os.unlink(state_path)
    if not quiet:
        print("vigil: stack stopped")
    return 0


def main(argv):
    if len(argv) != 2 or argv[1] not in ("up", "down"):
        print("usage: harness.py up|down", file=sys.stderr)
        return 2
    try:
        return cmd_up() if argv[1] == "up" else cmd_down()
    except HarnessError as e:
        print(f"vigil: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
