#!/usr/bin/env python3
"""make bench-guest: the same test-guest workloads under gmm and under a
reference, interleaved (A B A B ...), side by side with their ratio.

Reference: QEMU with KVM where /dev/kvm opens (the same ELF, PVH boot, the
workload in ring 3 as under gmm), else the same workload code as a plain host
process on anonymous memory (build/bench/gmm-bare, the no-VMM ceiling).
Guest RAM is on host THP on every side (gmm thp=always, QEMU's own
MADV_HUGEPAGE, gmm-bare --thp), so the ratios compare VMMs, not backings.
Where both gmm accelerators exist the main keys are KVM's and the native
figures follow with a _native suffix (native is compared with the bare
process, its own ceiling). The last line is one JSON object.
"""
import json
import os
import re
import statistics
import subprocess
import sys

from benchlib import kvm_available

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GMM = os.path.join(ROOT, "build/gmm")
GUEST = os.path.join(ROOT, "build/guest/gmm-guest.elf")
BARE = os.path.join(ROOT, "build/bench/gmm-bare")
REPS = int(os.environ.get("BENCH_REPS", "3"))
MEM_MB = 1024
WORKLOADS = {
    # name: (cmdline, result key that is the figure)
    "touch": ("workload=touch size=512M", "ops_per_sec"),
    "random": ("workload=random size=256M iters=20000000", "ops_per_sec"),
    "zipf": ("workload=zipf size=256M iters=20000000 theta=0.99", "ops_per_sec"),
}


def parse_results(text):
    res = {}
    for m in re.finditer(r"GMM-RESULT (\w+)=(\S+)", text):
        res[m.group(1)] = m.group(2)
    return res


def run_gmm(accel, cmdline):
    out = subprocess.run([GMM, "run", "--quiet", "--accel", accel, "--guest",
                          f'name=b,mem={MEM_MB}M,thp=always,kernel={GUEST},cmdline="{cmdline}"'],
                         capture_output=True, text=True, timeout=600)
    line = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not line:
        sys.exit(f"bench-guest: gmm --accel {accel} failed:\n{out.stderr[-2000:]}")
    g = json.loads(line[-1])
    return {k: float(v) for k, v in g["results"].items() if isinstance(v, (int, float))}


def run_qemu(cmdline):
    out = subprocess.run(["qemu-system-x86_64", "-accel", "kvm", "-m", f"{MEM_MB}M",
                          "-smp", "1", "-nographic", "-no-reboot", "-net", "none", "-kernel", GUEST, "-append", cmdline,
                          "-device", "isa-debug-exit,iobase=0xf4,iosize=4"],
                         capture_output=True, text=True, timeout=600)
    res = parse_results(out.stdout)
    if out.returncode != 1 or "ops_per_sec" not in res:  # debug-exit: (0 << 1) | 1
        sys.exit(f"bench-guest: qemu failed (rc {out.returncode}):\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return {k: float(v) for k, v in res.items() if re.fullmatch(r"[-0-9.e+]+", v)}


def run_bare(cmdline):
    out = subprocess.run([BARE, "--thp"] + cmdline.split(), capture_output=True, text=True, timeout=600)
    res = parse_results(out.stdout)
    if out.returncode != 0 or "ops_per_sec" not in res:
        sys.exit(f"bench-guest: gmm-bare failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return {k: float(v) for k, v in res.items() if re.fullmatch(r"[-0-9.e+]+", v)}


def compare(label, run_a, run_b):
    """Interleave A and B REPS times per workload; medians and the median of
    the pairwise ratios (robust to the machine's drift)."""
    fig = {}
    print(f"\n{label}")
    print(f"{'workload':<8} {'gmm':>14} {'reference':>14} {'ratio':>7}   (ops/s or pages/s, median of {REPS})")
    for name, (cmd, key) in WORKLOADS.items():
        a, b = [], []
        for _ in range(REPS):
            a.append(run_a(cmd)[key])
            b.append(run_b(cmd)[key])
        ratio = statistics.median(x / y for x, y in zip(a, b))
        fig[name] = (statistics.median(a), statistics.median(b), ratio)
        print(f"{name:<8} {fig[name][0]:>14.0f} {fig[name][1]:>14.0f} {ratio:>7.3f}")
    return fig


def io_exit_us(accel):
    return run_gmm(accel, "workload=ioexit iters=20000").get("io_exit_us")


def main():
    for f in (GMM, GUEST):
        if not os.path.exists(f):
            sys.exit(f"bench-guest: {f} is missing: run make first")
    kvm = kvm_available()
    out = {}
    thp = open("/sys/kernel/mm/transparent_hugepage/enabled").read().strip()
    print(f"bench-guest: guest RAM {MEM_MB}M, 1 vCPU, the workload in ring 3 on every side; host THP: {thp}")
    print("  guest RAM on host huge pages on every side: gmm thp=always (MADV_HUGEPAGE), QEMU's default "
          "MADV_HUGEPAGE, gmm-bare --thp")
    if kvm:
        fig = compare("gmm (kvm) vs QEMU -accel kvm", lambda c: run_gmm("kvm", c), run_qemu)
        out.update(accel="kvm", reference="qemu-kvm")
        for n, (g, r, ratio) in fig.items():
            out[f"{n}_gmm"], out[f"{n}_ref"], out[f"ratio_{n}"] = g, r, ratio
        out["io_exit_us"] = io_exit_us("kvm")
    fig = compare("gmm (native) vs bare host process", lambda c: run_gmm("native", c), run_bare)
    sfx = "_native" if kvm else ""
    if not kvm:
        out.update(accel="native", reference="bare-process")
    for n, (g, r, ratio) in fig.items():
        out[f"{n}_gmm{sfx}"], out[f"{n}_ref{sfx}"], out[f"ratio_{n}{sfx}"] = g, r, ratio
    out[f"io_exit_us{sfx}"] = io_exit_us("native")
    print(f"\nio exit round trip: " + ", ".join(f"{k}={v:.2f} us" for k, v in out.items() if k.startswith("io_exit")))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
