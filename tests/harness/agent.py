"""The agent under test: starts vigil-agent as a process, reads its /metrics
through an independent parser of the Prometheus text format, and checks that
it leaves nothing behind in the kernel when it stops."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import harness

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of every sample; strict about the line shape."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError(f"malformed exposition line: {line!r}")
        labels = {}
        if m.group(3):
            labels = {k: bytes(v, "utf-8").decode("unicode_escape") for k, v in
                      LABEL.findall(m.group(3))}
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def select(samples, name, **want):
    """Samples of metric `name` whose labels include `want`: [(labels dict, value)]."""
    res = []
    for (n, labels), v in samples.items():
        if n != name:
            continue
        d = dict(labels)
        if all(d.get(k) == str(val) for k, val in want.items()):
            res.append((d, v))
    return res


def total(samples, name, **want):
    return sum(v for _, v in select(samples, name, **want))


def vigil_program_ids():
    """Ids of loaded BPF programs named like Vigil's (bpftool's JSON)."""
    r = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    if r.returncode != 0:
        return set()
    return {p["id"] for p in json.loads(r.stdout or "[]")
            if p.get("name", "").startswith(("vg_", "vigil"))}


def prog_ids(pid):
    """Ids of the BPF programs process pid holds open (prog_id lines of /proc/PID/fdinfo):
    what this agent loaded, unlike a name match, which also sees other agents on the host."""
    out = set()
    d = f"/proc/{pid}/fdinfo"
    try:
        fds = os.listdir(d)
    except OSError:
        return out  # exited
    for fd in fds:
        try:
            with open(os.path.join(d, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        out.add(int(line.split()[1]))
        except OSError:
            pass  # closed meanwhile
    return out


def loaded_prog_ids():
    """Ids of every BPF program loaded in the kernel (bpftool's JSON)."""
    import json
    r = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                       check=True)
    return {p["id"] for p in json.loads(r.stdout or "[]")}


class Agent:
    def __init__(self, log_dir, args=(), env=None, port=None):
        self.port = port or harness.free_port()
        self.log = os.path.join(log_dir, "vigil-agent.log")
        self.args = list(args)
        self.env = dict(os.environ)
        if os.environ.get("VIGIL_SANITIZE") == "1":
            self.env.update(harness.sanitizer_env(log_dir))
        self.env.update(env or {})
        self.proc = None

    def start(self, timeout=60):
        argv = [harness.binary("vigil-agent"), "--listen", f"127.0.0.1:{self.port}"] + self.args
        before = vigil_program_ids()
        self.proc = harness.spawn(argv, self.log, env=self.env)
        harness.wait_until(self.ready, timeout, "vigil-agent /readyz", self.proc, self.log)
        # Ours: the programs that appeared while it started (nothing else loads any in CI).
        self.programs = vigil_program_ids() - before
        return self

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def ready(self):
        try:
            st, _, _ = harness.http("GET", self.url("/readyz"), timeout=2)
            return st == 200
        except OSError:
            return False

    def scrape(self, accept=None):
        req = urllib.request.Request(self.url("/metrics"),
                                     headers={"Accept": accept} if accept else {})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.headers.get("Content-Type", ""), r.read().decode()

    def metrics(self):
        return parse_metrics(self.scrape()[1])

    def settle(self, fn, what, timeout=15, show=None):
        """Scrapes until fn(samples) is truthy and returns those samples; fails at the deadline
        with what, and with show(last samples) when given."""
        deadline = time.monotonic() + timeout
        while True:
            samples = self.metrics()
            if fn(samples):
                return samples
            if time.monotonic() >= deadline:
                extra = f"; the agent has: {show(samples)}" if show else ""
                raise AssertionError(f"{what}: not true after {timeout}s{extra}")
            time.sleep(0.2)

    def stop(self):
        """SIGTERM; returns the exit status. The kernel must hold no Vigil program after."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise harness.HarnessError("vigil-agent did not exit within 30 s of SIGTERM"
                                       + harness.tail(self.log))
        self.proc = None
        # The kernel frees detached programs asynchronously: poll for ours to go.
        harness.wait_until(lambda: not (self.programs & vigil_program_ids()), 30,
                           "the agent's BPF programs to be unloaded")
        return rc

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def drops(samples):
    """The agent's lost events by reason; a test wants this empty (or all zero)."""
    return {d["reason"]: v for d, v in select(samples, "vigil_agent_events_dropped_total") if v}


def vigil_programs():
    """Ids of Vigil-named programs now loaded, as a list (any agent's, any test's)."""
    return sorted(vigil_program_ids())
