"""Shared helpers for gmm's integration tests: they boot real guests.

Every test that takes the `accel` fixture runs once per accelerator. The
native one runs everywhere; the kvm one runs whenever /dev/kvm opens (then a
failure is a failure) and is skipped, with the reason named, when it does not.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GMM = os.path.join(ROOT, os.environ.get("GMM", "build/san/gmm"))
GMM_RELEASE = os.path.join(ROOT, os.environ.get("GMM_RELEASE", "build/gmm"))
GUEST = os.path.join(ROOT, os.environ.get("GMM_GUEST", "build/guest/gmm-guest.elf"))

# ASan: gmm installs its own SIGSEGV handler for the native accelerator and
# chains to ASan's for faults that are not the guest's.
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allow_user_segv_handler=1",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


def kvm_available():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError as e:
        return False, f"/dev/kvm cannot be opened ({e.strerror})"
    os.close(fd)
    return True, ""


ACCELS = ["native", "kvm"]


@pytest.fixture(params=ACCELS)
def accel(request):
    if request.param == "kvm":
        ok, why = kvm_available()
        if not ok:
            pytest.skip(f"needs /dev/kvm: {why}")
    return request.param


@pytest.fixture
def kvm():
    ok, why = kvm_available()
    if not ok:
        pytest.skip(f"needs /dev/kvm: {why}")


class Run:
    """A finished gmm run: exit code, stdout JSON lines by guest, stderr."""

    def __init__(self, proc, stdout, stderr):
        self.returncode = proc.returncode
        self.stdout = stdout
        self.stderr = stderr
        self.guests = {}
        self.host = None
        for line in stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                obj = json.loads(line)
                if "host" in obj:
                    self.host = obj["host"]  # the pool's and gmm's own peaks
                else:
                    self.guests[obj["guest"]] = obj

    def __repr__(self):
        return f"<gmm rc={self.returncode}\nstdout={self.stdout}\nstderr={self.stderr[-4000:]}>"


def check_fresh_pages(run):
    """No guest saw another's data: every page a verify=1 test guest wrote
    for the first time read zero before it (fresh_dirty_pages, docs/
    test-guest.md). Checked on every run: a freed frame never shows its
    old contents to anyone, whichever path (fresh, recycled, ballooned)
    put it behind the page."""
    for name, g in run.guests.items():
        dirty = g.get("results", {}).get("fresh_dirty_pages", 0)
        assert dirty == 0, f"guest {name}: {dirty} pages held data at their first touch\n{run!r}"


def gmm_run(args, timeout=120, binary=None, check_sanitizers=True):
    proc = subprocess.Popen([binary or GMM, "run"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"gmm run {args} did not finish in {timeout}s\n{err[-4000:]}")
    run = Run(proc, out, err)
    if check_sanitizers:
        assert "AddressSanitizer" not in err and "runtime error" not in err, run
    check_fresh_pages(run)
    return run


def gmm_start(args):
    """A `gmm run` in the background (stop it, or wait for it, with gmm_finish)."""
    return subprocess.Popen([GMM, "run"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)


def gmm_finish(proc, timeout=120):
    """Wait for a gmm_start()ed gmm; its Run, checked for sanitizer reports."""
    out, err = proc.communicate(timeout=timeout)
    run = Run(proc, out, err)
    assert "AddressSanitizer" not in err and "runtime error" not in err, run
    check_fresh_pages(run)
    return run


def gmm_run_config(tmp_path, host, guests, timeout=120):
    """Run gmm on a config file {"host": host, "guests": guests} to the end."""
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"host": host, "guests": guests}))
    return gmm_finish(gmm_start(["--config", str(cfg)]), timeout)


def guest_spec(name, mem="64M", vcpus=1, cmdline="", kernel=None, **extra):
    parts = [f"name={name}", f"mem={mem}", f"vcpus={vcpus}", f"kernel={kernel or GUEST}"]
    if cmdline:
        parts.append(f'cmdline="{cmdline}"')
    for k, v in extra.items():
        parts.append(f"{k}={v}")
    return ",".join(parts)


def control(path, request, timeout=5):
    """One request on the control socket, one reply."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall((json.dumps(request) + "\n").encode() if isinstance(request, dict) else request)
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf) if buf else None


def wait_for(pred, timeout=30, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


VIRSH = shutil.which("virsh")


class Daemon:
    """A `gmm daemon --state-dir DIR` in the background (test_virsh.py,
    test_libvirt_python.py): its sockets, virsh against it, its control socket."""

    def __init__(self, state_dir, accel="native"):
        self.dir = str(state_dir)
        self.accel = accel
        self.sock = os.path.join(self.dir, "libvirt.sock")
        self.ctl = os.path.join(self.dir, "control.sock")
        self.uri = f"gmm+unix:///system?socket={self.sock}"
        self.proc = None

    def start(self):
        for p in (self.sock, self.ctl):
            if os.path.exists(p):
                os.unlink(p)
        self.proc = subprocess.Popen([GMM, "daemon", "--state-dir", self.dir, "--accel", self.accel],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        ok = wait_for(lambda: self.proc.poll() is not None or (os.path.exists(self.sock) and
                                                               os.path.exists(self.ctl)), timeout=30)
        assert ok and self.proc.poll() is None, self.proc.communicate()[1][-3000:]
        return self

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=60)
        assert "AddressSanitizer" not in err and "runtime error" not in err, err[-6000:]
        assert self.proc.returncode == 0, err[-3000:]
        return err

    def virsh(self, *args, check=True, timeout=60):
        r = subprocess.run([VIRSH, "-c", self.uri] + list(args), capture_output=True, text=True,
                           timeout=timeout)
        if check:
            assert r.returncode == 0, f"virsh {' '.join(args)}: rc={r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def ctl_call(self, cmd, **kw):
        reply = control(self.ctl, dict(cmd=cmd, **kw))
        assert reply and reply.get("ok"), reply
        return reply


@pytest.fixture
def daemon(tmp_path, accel):
    d = Daemon(tmp_path / "st", accel).start()
    yield d
    d.stop()


@pytest.fixture
def native_daemon(tmp_path):
    d = Daemon(tmp_path / "st", "native").start()
    yield d
    d.stop()
