"""vigil-agent's command line and host checks (root: real BPF, private mount namespaces).

A bad YAML key, a bad value, an unknown flag, --btf pointing at nothing or at a file that is no
BTF: each is exactly one line on stderr naming file:line: key or the flag, exit code 2, and no
bpf() call at all (the agent runs under a seccomp filter that kills it on the first one).
Missing bpffs/tracefs, in a private mount namespace: mounted by the agent, which then runs and
exits 0 on SIGTERM; when they cannot be mounted, one line naming the mount command, exit 2.
SIGTERM detaches everything: no program the agent held is left loaded, nothing is pinned."""

import ctypes
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402
from agent import loaded_prog_ids, prog_ids  # noqa: E402
from helpers import poll  # noqa: E402

SANITIZE = os.environ.get("VIGIL_SANITIZE") == "1"


def no_bpf_syscall():
    """preexec_fn: a seccomp filter that kills the process on bpf(2) (x86_64 only)."""
    # struct sock_filter {u16 code; u8 jt, jf; u32 k}; classic BPF over seccomp_data.
    ld_arch, ld_nr, jeq, ret = 0x20, 0x20, 0x15, 0x06
    allow, kill = 0x7FFF0000, 0x80000000  # SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS
    prog = [(ld_arch, 0, 0, 4), (jeq, 1, 0, 0xC000003E), (ret, 0, 0, allow),
            (ld_nr, 0, 0, 0), (jeq, 0, 1, 321), (ret, 0, 0, kill), (ret, 0, 0, allow)]

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint)]

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    arr = (Filter * len(prog))(*[Filter(*i) for i in prog])
    fprog = Prog(len(prog), arr)
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        os._exit(120)


def pinned():
    try:
        return set(os.listdir("/sys/fs/bpf"))
    except OSError:
        return set()


@unittest.skipUnless(os.geteuid() == 0, "needs root")
class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="vigil-cli-")
        cls.agent = harness.binary("vigil-agent")
        cls.env = dict(os.environ)
        if SANITIZE:
            cls.env.update(harness.sanitizer_env(cls.dir))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def tearDown(self):
        reports = harness.sanitizer_reports(self.dir)
        for r in reports:
            with open(r, errors="replace") as f:
                text = f.read()
            os.unlink(r)
            self.fail(f"sanitizer report {r}:\n{text[:4000]}")

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_agent(self, args, wrap=None, timeout=30):
        """Runs the agent to its exit, unable to call bpf(); returns (rc, stderr lines)."""
        argv = [self.agent, "--listen", f"127.0.0.1:{harness.free_port()}"] + list(args)
        if wrap:
            argv = wrap(argv)
        seccomp = platform.machine() == "x86_64"
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self.env,
                           preexec_fn=no_bpf_syscall if seccomp else None)
        if r.returncode == -signal.SIGSYS:
            self.fail(f"{args}: the agent called bpf() before failing: {r.stderr}")
        return r.returncode, r.stderr.splitlines(), r.stdout

    def assertOneLine(self, args, pattern, wrap=None):
        rc, lines, out = self.run_agent(args, wrap)
        self.assertEqual(len(lines), 1, f"{args}: want one line on stderr, got {lines}")
        self.assertRegex(lines[0], pattern)
        self.assertEqual(rc, 2, f"{args}: exit status {rc}: {lines}")
        self.assertEqual(out, "", f"{args}: nothing on stdout")
        return lines[0]

    # ---- configuration and flags ----
    def test_bad_yaml_key(self):
        path = self.write("key.yaml", "log_level: info\ncapture:\n  head_bytes: 512\n"
                          "  head_bites: 512\n")
        self.assertOneLine(["--config", path],
                           rf"^vigil-agent: {re.escape(path)}:4: capture\.head_bites: ")

    def test_bad_yaml_value(self):
        path = self.write("value.yaml", "# comment\ncapture:\n  head_bytes: abc\n")
        line = self.assertOneLine(["--config", path],
                                  rf"^vigil-agent: {re.escape(path)}:3: capture\.head_bytes: ")
        self.assertIn("abc", line)

    def test_unknown_flag(self):
        self.assertOneLine(["--no-such-flag"], r"^vigil-agent: .*'--no-such-flag'")

    def test_bad_flag_value(self):
        self.assertOneLine(["--head-bytes", "abc"], r"^vigil-agent: --head-bytes: .*'abc'")

    def test_btf_pointing_at_nothing(self):
        self.assertOneLine(["--btf", "/nonexistent"],
                           r"^vigil-agent: --btf: .*(/nonexistent)")

    def test_btf_that_is_not_btf(self):
        path = self.write("not.btf", "this is not BTF\n")
        self.assertOneLine(["--btf", path, "--watch", "pid:1"],
                           rf"^vigil-agent: {re.escape(path)}: not usable as kernel BTF")

    # ---- missing bpffs / tracefs, in a private mount namespace ----
    @staticmethod
    def in_namespace(setup):
        """Wraps argv: a private mount namespace, setup (shell) run in it, then exec argv."""
        def wrap(argv):
            cmd = setup + "; exec " + " ".join(shlex.quote(a) for a in argv)
            return ["unshare", "-m", "--propagation", "private", "sh", "-c", cmd]
        return wrap

    def test_bpffs_not_mountable(self):
        # A read-only tmpfs over /sys/fs hides the mount point: mount -t bpf cannot succeed.
        wrap = self.in_namespace("umount /sys/fs/bpf 2>/dev/null; "
                                 "mount -t tmpfs -o ro,size=4k vigil-test /sys/fs")
        self.assertOneLine(["--watch", "pid:1"],
                           r"^vigil-agent: /sys/fs/bpf .*mount -t bpf bpf /sys/fs/bpf", wrap)

    def test_tracefs_not_mountable(self):
        # Hiding /sys/kernel hides its BTF too: hand the agent a copy.
        btf = os.path.join(self.dir, "vmlinux.btf")
        shutil.copyfile("/sys/kernel/btf/vmlinux", btf)
        wrap = self.in_namespace("umount /sys/kernel/tracing 2>/dev/null; "
                                 "mount -t tmpfs -o ro,size=4k vigil-test /sys/kernel")
        self.assertOneLine(["--btf", btf, "--watch", "pid:1"],
                           r"^vigil-agent: /sys/kernel/tracing .*mount -t tracefs nodev "
                           r"/sys/kernel/tracing", wrap)

    def start_running(self, wrap=None):
        """Starts the agent for real (BPF allowed); returns (Popen, port, log path)."""
        port = harness.free_port()
        argv = [self.agent, "--listen", f"127.0.0.1:{port}", "--watch", f"pid:{os.getpid()}"]
        log = os.path.join(self.dir, f"agent-{port}.log")
        p = harness.spawn(wrap(argv) if wrap else argv, log, env=self.env)

        def ready():
            try:
                return harness.http("GET", f"http://127.0.0.1:{port}/readyz", timeout=2)[0] == 200
            except OSError:
                return False
        harness.wait_until(ready, 60, "vigil-agent /readyz", p, log)
        return p, log

    def stop_and_check_detached(self, p, log, before_pins):
        ours = prog_ids(p.pid)
        self.assertTrue(ours, "the running agent should hold BPF programs")
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail("vigil-agent did not exit within 30 s of SIGTERM" + harness.tail(log))
        self.assertEqual(rc, 0, harness.tail(log))
        poll(lambda: not (ours & loaded_prog_ids()), 10, "the agent's programs to be unloaded")
        self.assertEqual(pinned() - before_pins, set(), "the agent left something pinned")

    def test_mounts_bpffs_and_tracefs_when_missing(self):
        # umount inside the namespace only: the host keeps its mounts. The agent's pid is the
        # unshare process's (unshare and sh exec, no fork).
        wrap = self.in_namespace("umount /sys/fs/bpf && umount /sys/kernel/tracing")
        p, log = self.start_running(wrap)
        try:
            with open(f"/proc/{p.pid}/mounts") as f:
                mounts = f.read()
            self.assertRegex(mounts, r"(?m)^\S+ /sys/fs/bpf bpf ")
            self.assertRegex(mounts, r"(?m)^\S+ /sys/kernel/tracing tracefs ")
            self.stop_and_check_detached(p, log, pinned())
        finally:
            if p.poll() is None:
                harness.stop_pid(p.pid)
                p.wait()

    def test_sigterm_detaches_everything(self):
        before_pins = pinned()
        p, log = self.start_running()
        try:
            time.sleep(0.5)
            self.stop_and_check_detached(p, log, before_pins)
        finally:
            if p.poll() is None:
                harness.stop_pid(p.pid)
                p.wait()


if __name__ == "__main__":
    unittest.main()
