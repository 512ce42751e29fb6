#!/usr/bin/env python3
"""make bench-fault: first touch and steady state of guest RAM on plain
anonymous memory and in gmm's pool, side by side in one run.

Four configurations run the same test-guest workload (1 GiB guest, 1 vCPU):
  anon      backend=anon thp=never   4 KiB anonymous memory, the baseline
  gmm4k     backend=pool thp=never   gmm 4 KiB frames, fault_around=64K
  thp       backend=pool thp=always  gmm 2 MiB frames (write tracking: off)
  anon_thp  backend=anon thp=always  anonymous memory with MADV_HUGEPAGE (QEMU)

First touch: `workload=touch` over TOUCH_MB, at least 8x the pool's reserve
of pre-zeroed frames, each run a fresh gmm process (host memory never touched
before), A B C D A B C D ... REPS times. Steady state: `workload=random`,
whose prefill is untimed, interleaved the same way. Medians, and the median
of the pairwise ratios. Where both accelerators exist the main keys are
KVM's and the native set follows with a `_native` suffix. Targets are
informational: the exit status never depends on them. The last line is one
JSON object.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile

from benchlib import kvm_available

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GMM = os.path.join(ROOT, "build/gmm")
GUEST = os.path.join(ROOT, "build/guest/gmm-guest.elf")
REPS = int(os.environ.get("BENCH_REPS", "3"))
MiB = 1 << 20
MEM_MB = 1024
POOL_MB = 2048
RESERVE_MB = 32                    # host.pool.reserve: one stack of 2 MiB blocks for all faults
TOUCH_MB = 512                     # 16x the reserve
FAULT_AROUND = "64K"
TOUCH = f"workload=touch size={TOUCH_MB}M"
STEADY = "workload=random size=256M iters=20000000"

# name: (backend, thp, label). The order is the interleaving order.
CONFIGS = {
    "anon": ("anon", "never", "anon 4 KiB"),
    "gmm4k": ("pool", "never", f"gmm 4 KiB, fault-around {FAULT_AROUND}"),
    "thp": ("pool", "always", "gmm THP (write tracking: off)"),
    "anon_thp": ("anon", "always", "anon MADV_HUGEPAGE (QEMU)"),
}
# (figure, what it must reach, against, label)
TARGETS = [
    ("ratio_gmm4k_vs_anon", 0.8, "gmm 4 KiB first touch >= 0.8x anon"),
    ("ratio_thp_vs_anon", 3.0, "gmm THP first touch >= 3x anon"),
    ("ratio_thp_vs_anon_thp", 1.0, "gmm THP first touch >= 1.0x anon MADV_HUGEPAGE"),
    ("ratio_gmm4k_steady_vs_anon", 0.95, "gmm 4 KiB steady state within 5% of anon or better"),
    ("ratio_thp_steady_vs_anon", 0.95, "gmm THP steady state within 5% of anon or better"),
]


def run_gmm(accel, name, cmdline):
    """One fresh gmm process: its summary and the host CPU seconds it used."""
    backend, thp, _ = CONFIGS[name]
    cfg = {"host": {"accel": accel, "pool": {"size": f"{POOL_MB}M", "reserve": f"{RESERVE_MB}M"}},
           "guests": [{"name": "b", "mem": f"{MEM_MB}M", "backend": backend, "thp": thp,
                       "fault_around": FAULT_AROUND, "kernel": GUEST, "cmdline": cmdline}]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="bench-fault-") as f:
        json.dump(cfg, f)
        f.flush()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([GMM, "run", "--quiet", "--config", f.name],
                             capture_output=True, text=True, timeout=600)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not line:
        sys.exit(f"bench-fault: gmm {accel} {name} ({cmdline}) failed:\n{out.stderr[-2000:]}")
    g = json.loads(line[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return g, cpu


def med(xs):
    return statistics.median(xs) if xs else None


def measure(accel, reps):
    """Both phases for one accelerator, interleaved; the figures under
    un-suffixed keys (the caller adds a suffix)."""
    fig = {}
    ft = {n: [] for n in CONFIGS}       # first touch MiB/s per run
    cpu = {n: [] for n in CONFIGS}      # host CPU seconds per first-touch run
    s2 = {n: [] for n in CONFIGS}       # stage2 objects (pool only)
    for _ in range(reps):
        for n in CONFIGS:
            g, c = run_gmm(accel, n, TOUCH)
            r = g["results"]
            ft[n].append(r["size_bytes"] / r["seconds"] / MiB)
            cpu[n].append(c)
            if "stage2" in g:
                s2[n].append(g["stage2"])
    steady = {n: [] for n in CONFIGS}
    for _ in range(reps):
        for n in CONFIGS:
            g, _ = run_gmm(accel, n, STEADY)
            steady[n].append(float(g["results"]["ops_per_sec"]))

    for n in CONFIGS:
        fig[f"{n}_first_touch_mibps"] = med(ft[n])
        fig[f"{n}_first_touch_cpu_s"] = med(cpu[n])
        fig[f"{n}_steady_ops"] = med(steady[n])

    def ratio(a, b, runs):
        return med([x / y for x, y in zip(runs[a], runs[b])])

    fig["ratio_gmm4k_vs_anon"] = ratio("gmm4k", "anon", ft)
    fig["ratio_thp_vs_anon"] = ratio("thp", "anon", ft)
    fig["ratio_thp_vs_anon_thp"] = ratio("thp", "anon_thp", ft)
    fig["ratio_anon_thp_vs_anon"] = ratio("anon_thp", "anon", ft)
    fig["ratio_gmm4k_steady_vs_anon"] = ratio("gmm4k", "anon", steady)
    fig["ratio_thp_steady_vs_anon"] = ratio("thp", "anon", steady)
    fig["ratio_anon_thp_steady_vs_anon"] = ratio("anon_thp", "anon", steady)

    # Stage-2 fault service times: gmm 4 KiB under the names, THP
    # under thp_*. Medians over the runs (p50/p99 are log2 bucket bounds).
    for n, pfx in (("gmm4k", ""), ("thp", "thp_")):
        runs = s2[n]
        fig[f"{pfx}fault_p50_us"] = med([s["fault_p50_us"] for s in runs])
        fig[f"{pfx}fault_p99_us"] = med([s["fault_p99_us"] for s in runs])
        fig[f"{pfx}fault_mean_us"] = med([s["fault_mean_us"] for s in runs])
        fig[f"{n}_faults"] = med([s["faults"] for s in runs])
        fig[f"{n}_reserve_hits"] = med([s["reserve_hits"] for s in runs])
        fig[f"{n}_reserve_misses"] = med([s["reserve_misses"] for s in runs])
    return fig, {"first touch MiB/s": ft, "steady ops/s": steady}


def fmt_rate(x):
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.0f}k"


def print_table(accel, fig, runs, reps):
    print(f"\n{accel}: first touch of {TOUCH_MB}M (MiB/s) and steady-state random (ops/s), "
          f"median of {reps}; ratios are medians of pairwise ratios")
    print(f"{'configuration':<38} {'first touch':>12} {'x anon':>7} {'CPU s/run':>10} "
          f"{'fault p50/p99 us':>17} {'steady ops/s':>13} {'x anon':>7}")
    ratio_ft = {"anon": 1.0, "gmm4k": fig["ratio_gmm4k_vs_anon"], "thp": fig["ratio_thp_vs_anon"],
                "anon_thp": fig["ratio_anon_thp_vs_anon"]}
    ratio_st = {"anon": 1.0, "gmm4k": fig["ratio_gmm4k_steady_vs_anon"],
                "thp": fig["ratio_thp_steady_vs_anon"], "anon_thp": fig["ratio_anon_thp_steady_vs_anon"]}
    lat = {"gmm4k": (fig["fault_p50_us"], fig["fault_p99_us"]),
           "thp": (fig["thp_fault_p50_us"], fig["thp_fault_p99_us"])}
    for n, (_, _, label) in CONFIGS.items():
        l = f"{lat[n][0]:.0f} / {lat[n][1]:.0f}" if n in lat else "-"
        print(f"{label:<38} {fig[f'{n}_first_touch_mibps']:>12.0f} {ratio_ft[n]:>7.2f} "
              f"{fig[f'{n}_first_touch_cpu_s']:>10.2f} {l:>17} "
              f"{fmt_rate(fig[f'{n}_steady_ops']):>13} {ratio_st[n]:>7.3f}")
    print("every run, in order:")
    for what, per in runs.items():
        for n in CONFIGS:
            vals = " ".join(fmt_rate(v) if v >= 1e5 else f"{v:.0f}" for v in per[n])
            print(f"  {what:<18} {n:<9} {vals}")
    print(f"gmm THP first touch vs anon MADV_HUGEPAGE: {fig['ratio_thp_vs_anon_thp']:.2f}x")
    print(f"stage-2 faults per touch run: gmm 4 KiB {fig['gmm4k_faults']:.0f} "
          f"(reserve hits/misses {fig['gmm4k_reserve_hits']:.0f}/{fig['gmm4k_reserve_misses']:.0f}), "
          f"THP {fig['thp_faults']:.0f} "
          f"(reserve hits/misses {fig['thp_reserve_hits']:.0f}/{fig['thp_reserve_misses']:.0f})")
    print("targets (informational):")
    for key, want, label in TARGETS:
        got = fig[key]
        print(f"  {label:<55} {got:6.2f}x  {'met' if got >= want else 'MISSED'}")


def main():
    for f in (GMM, GUEST):
        if not os.path.exists(f):
            sys.exit(f"bench-fault: {f} is missing: run make first")
    kvm = kvm_available()
    thp_sys = open("/sys/kernel/mm/transparent_hugepage/enabled").read().strip()
    print(f"bench-fault: guest RAM {MEM_MB}M, 1 vCPU; pool {POOL_MB}M with a reserve of "
          f"{RESERVE_MB}M of pre-zeroed 2 MiB blocks; first touch of {TOUCH_MB}M "
          f"({TOUCH_MB // RESERVE_MB}x the reserve), each run a fresh gmm process; host THP: {thp_sys}")
    print("  anon = backend=anon thp=never (4 KiB); gmm4k = backend=pool thp=never "
          f"fault_around={FAULT_AROUND}; thp = backend=pool thp=always; "
          "anon_thp = backend=anon thp=always (MADV_HUGEPAGE, as QEMU)")
    print("  write tracking (dirty_log): off in every gmm run, the THP runs included")
    print(f"  steady state: {STEADY} (prefill untimed)")

    out = {"accel": "kvm" if kvm else "native", "reps": REPS,
           "reserve_bytes": RESERVE_MB * MiB, "touch_bytes": TOUCH_MB * MiB,
           "mem_bytes": MEM_MB * MiB, "pool_bytes": POOL_MB * MiB,
           "fault_around_bytes": 64 * 1024, "write_tracking": "off"}
    sets = [("kvm", "", REPS)] if kvm else []
    # The native set after KVM's (BENCH_REPS_NATIVE to change its rounds).
    sets.append(("native", "_native" if kvm else "", int(os.environ.get("BENCH_REPS_NATIVE", REPS))))
    for accel, sfx, reps in sets:
        fig, runs = measure(accel, reps)
        print_table(accel, fig, runs, reps)
        for k, v in fig.items():
            out[k + sfx] = v
        for key, want, _ in TARGETS:
            out[f"target_{key}_met{sfx}"] = fig[key] >= want
        if sfx:
            out[f"reps{sfx}"] = reps
    print(json.dumps(out))


if __name__ == "__main__":
    main()
