"""Helpers the bench scripts share (bench/*.py run from the repository
root; this directory is on their sys.path as their own)."""
import atexit
import os
import subprocess
import sys
import tempfile
import time


def kvm_available():
    """Whether /dev/kvm opens: accel=auto would pick KVM."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return True
    except OSError:
        return False


def log(msg):
    print(msg, flush=True)


def vmstat():
    out = {}
    with open("/proc/vmstat") as f:
        for line in f:
            k, v = line.split()
            out[k] = int(v)
    return out


def active_swaps():
    with open("/proc/swaps") as f:
        return [l.split()[0] for l in f.read().splitlines()[1:] if l.strip()]


def fstype_of(path):
    """The filesystem type of the mount holding path (longest mount prefix)."""
    path = os.path.realpath(path)
    best, fs = "", "?"
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            mnt = parts[1].replace("\\040", " ")
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, fs = mnt, parts[2]
    return fs


# --- memory cgroup (v1 or v2) ------------------------------------------------

class MemCgroup:
    """A fresh memory cgroup: v2 where the unified hierarchy has the memory
    controller, else v1's memory hierarchy."""

    @staticmethod
    def find():
        v1 = v2 = None
        with open("/proc/mounts") as f:
            for line in f:
                _, mnt, fs, opts = line.split()[:4]
                if fs == "cgroup2":
                    try:
                        with open(os.path.join(mnt, "cgroup.controllers")) as c:
                            if "memory" in c.read().split():
                                v2 = v2 or mnt
                    except OSError:
                        pass
                elif fs == "cgroup" and "memory" in opts.split(","):
                    v1 = v1 or mnt
        if v2:
            return 2, v2
        if v1:
            return 1, v1
        return None, None

    def __init__(self, name, limit):
        self.version, root = self.find()
        if not self.version:
            raise RuntimeError("no memory cgroup controller is mounted (neither cgroup v1 nor v2)")
        if self.version == 2:
            sub = os.path.join(root, "cgroup.subtree_control")
            with open(sub) as f:
                if "memory" not in f.read().split():
                    with open(sub, "w") as w:
                        w.write("+memory")
        self.path = os.path.join(root, name)
        os.mkdir(self.path)
        if self.version == 1:
            # memory.memsw.limit_in_bytes stays unlimited, so the group can swap
            self.write("memory.limit_in_bytes", str(limit) if limit else "-1")
        else:
            self.write("memory.max", str(limit) if limit else "max")
            if os.path.exists(os.path.join(self.path, "memory.swap.max")):   # absent without swap accounting
                self.write("memory.swap.max", "max")
        self.limit = limit

    def write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(value)

    def read(self, name):
        try:
            with open(os.path.join(self.path, name)) as f:
                return f.read()
        except OSError:
            return None

    def join_self(self):
        """preexec_fn of the child: move it into the group before exec."""
        self.write("cgroup.procs", str(os.getpid()))

    def usage(self):
        v = self.read("memory.usage_in_bytes" if self.version == 1 else "memory.current")
        return int(v) if v else 0

    def peak(self):
        v = self.read("memory.max_usage_in_bytes" if self.version == 1 else "memory.peak")
        return int(v) if v else None

    def stat(self):
        out = {}
        for line in (self.read("memory.stat") or "").splitlines():
            k, v = line.split()
            out[k] = int(v)
        return out

    def oom_kills(self):
        text = self.read("memory.oom_control" if self.version == 1 else "memory.events") or ""
        for line in text.splitlines():
            k, v = line.split()
            if k == "oom_kill":
                return int(v)
        return None

    def swappiness(self):
        v = self.read("memory.swappiness") if self.version == 1 else None
        return int(v) if v else int(open("/proc/sys/vm/swappiness").read())

    def remove(self):
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
        log(f"warning: could not remove cgroup {self.path}")


# --- host swap file for the kernel run ---------------------------------------

class HostSwap:
    """fallocate + chmod 600 + mkswap + swapon; off() is swapoff and unlink,
    also registered with atexit so a crash or Ctrl-C never leaves it on."""

    def __init__(self, path, size):
        self.path, self.on = path, False
        subprocess.run(["fallocate", "-l", str(size), path], check=True, capture_output=True, text=True)
        os.chmod(path, 0o600)
        subprocess.run(["mkswap", path], check=True, capture_output=True, text=True)
        atexit.register(self.off)
        subprocess.run(["swapon", path], check=True, capture_output=True, text=True)
        self.on = True

    def off(self):
        if self.on:
            r = subprocess.run(["swapoff", self.path], capture_output=True, text=True)
            if r.returncode != 0:
                log(f"warning: swapoff {self.path}: {r.stderr.strip()}")
            else:
                self.on = False
        if not self.on and os.path.exists(self.path):
            os.unlink(self.path)


def swap_bench_setup(name, base, dir_env):
    """What a bench that swapons a host swap file and makes memory cgroups
    needs, checked (root, no other swap area, util-linux, a memory cgroup
    controller, a directory on a disk): exits with a clear line if any is
    missing, else returns (cgroup version, its mount, a fresh directory for
    the swap files under base, base's filesystem type)."""
    if os.geteuid() != 0:
        sys.exit(f"{name}: needs root (a memory cgroup and swapon for the kernel run)")
    if active_swaps():
        sys.exit(f"{name}: other swap is active ({', '.join(active_swaps())}): the kernel run's "
                 "swap counts are host-wide, so swapoff it first")
    for tool in ("fallocate", "mkswap", "swapon", "swapoff"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            sys.exit(f"{name}: {tool} not found (util-linux)")
    cgv, cgroot = MemCgroup.find()
    if not cgv:
        sys.exit(f"{name}: no memory cgroup controller is mounted (cgroup v1 or v2)")
    os.makedirs(base, exist_ok=True)
    fs = fstype_of(base)
    if fs in ("tmpfs", "ramfs"):
        sys.exit(f"{name}: {base} is on {fs}: swap files there would be memory ({dir_env}=a directory on a disk)")
    return cgv, cgroot, tempfile.mkdtemp(prefix=f"{name}-", dir=base), fs
