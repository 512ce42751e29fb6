#!/usr/bin/env python3
"""make bench-swapcycle: what a page's round trip through swap costs when
the kernel pages for a process, against the cheapest user-space pager gmm
could become, on the same work (bench/bench_swapcycle.c says what each
mode does).

Rounds of four runs, interleaved, each a fresh process touching PAGES
pages uniformly at random with RESIDENT of them in memory:

  kernel        anonymous memory in a fresh memory cgroup limited to
                RESIDENT pages plus the program's own memory (measured by a
                probe run), a host swap file swapon'ed for the bench
  vma           a user-space pager in gmm's window model today: a page
                comes back in any free frame of a pool memfd, mapped over
                the window page (a VMA each), a fault thread serving
                userfaultfd, its own O_DIRECT swap file
  fixed         the same pager with the window mapped once (a page has a
                fixed place in the file; no VMA is made)
  fixed-sigbus  the fixed pager, the touching thread serving its own fault

Figures per run: CPU microseconds per swap-in (the process's user and
system time over the timed phase, less the SCHED_IDLE sibling that keeps
the other CPU in the process), wall microseconds per swap-in, context
switches per swap-in (the sibling's left out), touches per second. The
kernel's swap counts are the host's /proc/vmstat deltas (the bench
refuses to run beside another swap area); the pagers count their own.

Environment: GMM_BENCH_SWAPCYCLE_PAGES (working set, pages), _RESIDENT
(pages in memory), _OPS (timed touches), _REPS (rounds; medians), _DIR
(where the swap files go; not tmpfs). Needs root (cgroup, swapon). The
last line is one JSON object.
"""
import json
import os
import signal
import statistics
import subprocess
import sys

from benchlib import HostSwap, MemCgroup, log, swap_bench_setup

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build/bench/bench_swapcycle")
PAGE = 4096
MiB = 1 << 20


def env(name, default):
    return int(os.environ.get(f"GMM_BENCH_SWAPCYCLE_{name}", default))


PAGES = env("PAGES", 131072)
RESIDENT = env("RESIDENT", 65536)
OPS = env("OPS", 200000)
REPS = env("REPS", 3)
MODES = ("kernel", "vma", "fixed", "fixed-sigbus")
PROBE_PAGES = 2048


def run(mode, tmp, pages, resident, ops, seed, cg):
    r = subprocess.run([BIN, mode, os.path.join(tmp, f"{mode}.swap"), str(pages), str(resident), str(ops),
                        str(seed)], capture_output=True, text=True, preexec_fn=cg.join_self, timeout=1800)
    if r.returncode != 0 or not r.stdout.strip():
        raise RuntimeError(f"{mode}: exit {r.returncode}: {r.stderr.strip() or r.stdout.strip()}")
    fig = json.loads(r.stdout.strip().splitlines()[-1])
    n = fig["swap_ins"] or 1
    fig["cpu_us_per_swapin"] = fig["cpu_s"] * 1e6 / n
    fig["wall_us_per_swapin"] = fig["seconds"] * 1e6 / n
    fig["switches_per_swapin"] = fig["switches"] / n
    fig["ops_per_sec"] = fig["ops"] / max(fig["seconds"], 1e-9)
    return fig


def probe_overhead(tmp):
    """The program's own memory besides its working set, from a run that
    swaps nothing in an unlimited cgroup: what the kernel mode's limit adds
    to RESIDENT pages (its stamp array and page tables scale with PAGES)."""
    cg = MemCgroup(f"gmm-bench-swapcycle-probe-{os.getpid()}", 0)
    try:
        run("kernel", tmp, PROBE_PAGES, PROBE_PAGES, 1000, 1, cg)
        peak = cg.peak()
    finally:
        cg.remove()
    if peak is None:
        raise RuntimeError("the memory cgroup reports no peak usage")
    return max(peak - PROBE_PAGES * (PAGE + 16), 0)


def main():
    if not os.path.exists(BIN):
        sys.exit(f"bench-swapcycle: {BIN} is missing: run make first")
    if not 64 <= RESIDENT <= PAGES:
        sys.exit("bench-swapcycle: GMM_BENCH_SWAPCYCLE_RESIDENT must be between 64 and _PAGES")
    cgv, cgroot, tmp, fs = swap_bench_setup("bench-swapcycle", os.environ.get("GMM_BENCH_SWAPCYCLE_DIR",
                                                                              os.path.join(ROOT, "build")),
                                            "GMM_BENCH_SWAPCYCLE_DIR")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    page_cluster = open("/proc/sys/vm/page-cluster").read().strip()
    log(f"bench-swapcycle: {PAGES} pages ({PAGES * PAGE // MiB} MiB) touched at random, {RESIDENT} in memory, "
        f"{OPS} timed touches, {REPS} rounds of {', '.join(MODES)}")
    log(f"  swap files in {tmp} ({fs}); memory cgroup v{cgv} at {cgroot}; vm.page-cluster {page_cluster}")

    per = {m: [] for m in MODES}
    swap = None
    # the vma pager makes a VMA (two, with the split around it) per scattered
    # resident page, as gmm does, which raises vm.max_map_count at start-up too
    map_count_path = "/proc/sys/vm/max_map_count"
    map_count = int(open(map_count_path).read())
    try:
        if map_count < 4 * PAGES:
            with open(map_count_path, "w") as f:
                f.write(str(4 * PAGES))
            log(f"  vm.max_map_count raised from {map_count} to {4 * PAGES} for the bench")
        over = probe_overhead(tmp)
        limit = RESIDENT * PAGE + PAGES * 16 + over
        log(f"  kernel: cgroup limit {limit / MiB:.1f} MiB ({RESIDENT} pages + {over / MiB:.1f} MiB of the "
            f"program's own, probed + {PAGES * 16 // 1024} KiB of stamps and page tables)")
        swap = HostSwap(os.path.join(tmp, "kernel.swap"), 2 * PAGES * PAGE)
        for rnd in range(REPS):
            for mode in MODES:
                cg = MemCgroup(f"gmm-bench-swapcycle-{mode}-{os.getpid()}", limit if mode == "kernel" else 0)
                try:
                    fig = run(mode, tmp, PAGES, RESIDENT, OPS, rnd + 1, cg)
                finally:
                    cg.remove()
                per[mode].append(fig)
                log(f"  round {rnd + 1} {mode:<12} {fig['ops_per_sec'] / 1e3:7.1f}k touches/s, "
                    f"{fig['swap_ins']} swap-ins, {fig['cpu_us_per_swapin']:6.1f} CPU us and "
                    f"{fig['wall_us_per_swapin']:6.1f} wall us and {fig['switches_per_swapin']:.2f} switches "
                    f"a swap-in, verify failures {fig['verify_failures']}")
    finally:
        if map_count < 4 * PAGES:
            with open(map_count_path, "w") as f:
                f.write(str(map_count))
        if swap:
            swap.off()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)

    def med(mode, key):
        return statistics.median(f[key] for f in per[mode])

    keys = ("ops_per_sec", "swap_ins", "swap_outs", "cpu_us_per_swapin", "wall_us_per_swapin",
            "switches_per_swapin", "prefill_s", "scattered_batches")
    out = {"pages": PAGES, "resident_pages": RESIDENT, "ops": OPS, "reps": REPS, "cgroup_version": cgv,
           "page_cluster": int(page_cluster), "kernel_cgroup_limit_bytes": limit}
    log(f"\nmedians of {REPS} rounds        " + "".join(f"{m:>14}" for m in MODES))
    for k in keys:
        log(f"  {k:<28}" + "".join(f"{med(m, k):14.2f}" for m in MODES))
        for m in MODES:
            out[f"{m.replace('-', '_')}_{k}"] = round(med(m, k), 3)
    for m in MODES[1:]:
        u = m.replace("-", "_")
        out[f"ratio_{u}_vs_kernel_ops"] = round(med(m, "ops_per_sec") / med("kernel", "ops_per_sec"), 3)
        out[f"ratio_{u}_vs_kernel_cpu_per_swapin"] = round(
            med(m, "cpu_us_per_swapin") / med("kernel", "cpu_us_per_swapin"), 3)
        log(f"{m:<12}: {out[f'ratio_{u}_vs_kernel_ops']:.2f}x the kernel's touches a second, "
            f"{out[f'ratio_{u}_vs_kernel_cpu_per_swapin']:.2f}x its CPU a swap-in")
    out["verify_failures"] = sum(f["verify_failures"] for m in MODES for f in per[m])
    print(json.dumps(out), flush=True)
    return 1 if out["verify_failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
