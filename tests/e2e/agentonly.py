"""Shared by test_agent_tools.py and test_agent_late.py: an agent that watches only this
test's own processes, so that other agents and shops running on the same machine at the same
time (other test passes, `make up`) neither add to their counts nor share their service names.

Selection: by pid (`--watch pid:...`) for the processes a test started before the agent; for
tools run while the agent runs (run_tool), the pid of this test runner plus a cgroup of the
class's own (`--watch cgroup:...`) that each tool joins between fork and exec. The runner being
watched, its children are watched in the kernel from fork on (nothing they do before user space
has read their exec is missed); at exec, user space keeps those in the cgroup and names them
after their executable, and lets every other child of the runner go."""

import os
import subprocess
import unittest

import harness
import shoptest
from agent import Agent, loaded_prog_ids, prog_ids, select
from helpers import poll

DB = "db_client_operation_duration_seconds_count"


def children(pid):
    """Direct child processes of pid (all its threads' children)."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def cgroup2_root():
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, path, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return path
    raise unittest.SkipTest("no cgroup2 hierarchy mounted: cannot isolate the tools")


class AgentOnlyCase(unittest.TestCase):
    """setUpExtra() starts what the class needs and returns the pids to watch besides this
    runner; then the agent starts. tearDownClass stops the agent, checks that the programs
    it loaded are gone from the kernel and that no sanitizer report was written, then calls
    tearDownExtra()."""

    AGENT_ARGS = ()
    TOOLS = False  # run_tool() is used: watch the runner's children that join cls.cgroup

    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(shoptest.backing().base, f"{cls.__name__.lower()}-{os.getpid()}")
        os.makedirs(cls.dir, exist_ok=True)
        cls.agent = None
        cls.progs = set()
        cls.cgroup = None
        try:
            pids = list(cls.setUpExtra() or [])
            watch = []
            if cls.TOOLS:
                pids.append(os.getpid())
                name = f"vigil-e2e-{os.getpid()}-{cls.__name__.lower()}"
                cls.cgroup = os.path.join(cgroup2_root(), name)
                os.makedirs(cls.cgroup, exist_ok=True)
                watch = ["--watch", "cgroup:/" + name]
            watch += ["--watch", "pid:" + ",".join(str(p) for p in pids)]
            cls.agent = Agent(cls.dir, args=[*watch, *cls.AGENT_ARGS])
            cls.agent.start()
            cls.progs = prog_ids(cls.agent.proc.pid)
        except BaseException:
            try:
                if cls.agent is not None and cls.agent.proc is not None:
                    cls.agent.stop()
            finally:
                cls.tearDownExtra()
                cls.remove_cgroup()
            raise

    @classmethod
    def remove_cgroup(cls):
        if cls.cgroup and os.path.isdir(cls.cgroup):
            # Empty once its processes have exited (run_tool waits for them).
            poll(lambda: _rmdir(cls.cgroup), 10, f"{cls.cgroup} to be removed", interval=0.1)
        cls.cgroup = None

    def run_tool(self, argv, timeout, env=None):
        """Runs a tool to completion inside the class's cgroup; returns its stdout, or fails
        with its output when it fails."""
        full = dict(os.environ)
        full.pop("OTEL_SERVICE_NAME", None)  # named after its executable
        full.update(env or {})
        procs = os.path.join(self.cgroup, "cgroup.procs")

        def join():  # in the child, between fork and exec
            with open(procs, "w") as f:
                f.write("0")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=full,
                           preexec_fn=join)
        if r.returncode != 0:
            raise AssertionError(f"{argv[0]} failed ({r.returncode}):\n{r.stdout[-2000:]}\n"
                                 f"{r.stderr[-2000:]}")
        return r.stdout

    @classmethod
    def setUpExtra(cls):
        return []

    @classmethod
    def tearDownExtra(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        bad = []
        try:
            rc = cls.agent.stop()
            if rc != 0:
                bad.append(f"vigil-agent exited with {rc}" + harness.tail(cls.agent.log))
            if not cls.progs:
                bad.append("the agent held no BPF program while it ran")
            try:
                poll(lambda: not (cls.progs & loaded_prog_ids()), 30,
                     "the agent's BPF programs to be unloaded", interval=0.2)
            except AssertionError as e:
                bad.append(str(e))
        finally:
            try:
                cls.tearDownExtra()
                cls.remove_cgroup()
            finally:
                for r in harness.sanitizer_reports(cls.dir):
                    with open(r, errors="replace") as f:
                        bad.append(f"sanitizer report {r}:\n{f.read()[:4000]}")
        if bad:
            raise AssertionError("\n".join(bad))




def _rmdir(path):
    try:
        os.rmdir(path)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def db_ops(samples, service, system):
    """{operation: count} of one service's database client operations."""
    out = {}
    for d, v in select(samples, DB, service_name=service, db_system_name=system):
        out[d["db_operation_name"]] = out.get(d["db_operation_name"], 0) + int(v)
    return out


def delta(now, before):
    """What happened between two {key: count} snapshots."""
    return {k: v - before.get(k, 0) for k, v in now.items() if v != before.get(k, 0)}
