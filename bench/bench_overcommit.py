#!/usr/bin/env python3
"""make bench-overcommit: three guests overcommitting a 1 GiB host budget,
with gmm managing the memory and, side by side, with the kernel doing it.

Three runs of the same three 1 GiB guests (zipf theta 1.2 over 512M each,
2M ops each, verify=1, seeds 1 2 3, thp=never on every side: with
MADV_HUGEPAGE the kernel run is OOM-killed), every run a fresh `gmm run`
process:

  gmm     backend=pool, host pool 1G, gmm's swap file of 2G (reclaim: LRU)
  kernel  backend=anon (plain anonymous memory, as other VMMs), no gmm pool
          limit and no gmm swap: the gmm process runs inside a fresh memory
          cgroup whose limit is 1G plus gmm's own overhead (measured by a
          probe run, below), with a 2G host swap file swapon'ed for that run
          only; the kernel's memcg reclaim and swap do the job
  random  as gmm, with host.reclaim.victims = "random": what aging buys

Throughput is the sum over the guests of each guest's own ops_per_sec (its
timed phase: ops / seconds from the TSC; prefill and the final verify pass
excluded), the same for all three runs; beside it the fastest guest's
over the slowest's (guest_spread: 1.0 when identical guests run alike).
Swap-ins/outs: gmm's from the
guests' stage2 counters (pswpin, pswpout, pages); the kernel's from the
host's /proc/vmstat deltas over the run (a cgroup v1 memory.stat has no swap
counts; nothing else swaps: the bench refuses to run with another swap
area active). Page cache: /proc/meminfo Cached before and after each run.
CPU: the gmm process's user and system time (every thread; the kernel's
memcg reclaim runs in the faulting vCPU threads, so it is counted too),
and that per swap-in: the cost of one page's round trip through swap,
whatever the machine's speed that hour; and the process's context switches
(voluntary and not, every thread) per swap-in. Threads: the vCPU threads'
seconds on a CPU and waiting for one (schedstat), every other thread's
seconds on a CPU (gmm's kswapd and fault threads).

Every gmm run sits in its own memory cgroup too (no limit) so its host
memory peak is measured the same way as the kernel run's.

Environment: GMM_BENCH_OVERCOMMIT_ITERS (ops per guest), _SIZE (working set
per guest), _THETA, _MEM (RAM per guest), _POOL (the budget: gmm's pool and
the cgroup's guest share), _SWAP (both swap files), _ACCEL (auto, kvm,
native), _REPS (rounds, medians; each round runs gmm kernel random,
the next one the reverse), _DIR (where the swap files go; must not
be tmpfs), _CG_EXTRA (override the measured overhead added to the cgroup
limit; 0 for a strict limit), _TIMEOUT (seconds per run), _THP (the
guests' thp key), _ONLY (a comma list of gmm, kernel, random), _GMM
(the gmm binary to run, default build/gmm: to compare two builds), _HOME
(1, the default: host.pool.home_frames on, docs/fault-path.md#home-frames;
0: every guest maps frames from the buddy, the model before), _SELF_SERVE
(1, the default: host.self_serve_faults; 0: the fault thread serves all).

Needs root (cgroup, swapon). The last line is one JSON object; the exit
status is 1 if any guest did not complete (or a run could not be made).
"""
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time

from benchlib import HostSwap, MemCgroup, active_swaps, kvm_available, log, swap_bench_setup, vmstat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GMM = os.environ.get("GMM_BENCH_OVERCOMMIT_GMM", os.path.join(ROOT, "build/gmm"))
GUEST = os.path.join(ROOT, "build/guest/gmm-guest.elf")
MiB = 1 << 20
GiB = 1 << 30


def env(name, default):
    return os.environ.get(f"GMM_BENCH_OVERCOMMIT_{name}", default)


def size_bytes(s):
    s = str(s).strip().upper().removesuffix("IB").removesuffix("B")
    mult = {"K": 1 << 10, "M": MiB, "G": GiB, "T": 1 << 40}
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(s)


ITERS = int(env("ITERS", "2000000"))
SIZE = env("SIZE", "512M")
THETA = env("THETA", "1.2")
# more keys for every guest's command line, the same on every side
# (stalls=1: each guest times its ops and counts the slow ones, what a
# fault costs it whoever serves it; a little CPU per op, so off by default)
GUEST_ARGS = env("GUEST_ARGS", "")
MEM = env("MEM", "1G")
POOL = env("POOL", "1G")
SWAP = env("SWAP", "2G")
ACCEL = env("ACCEL", "auto")
REPS = int(env("REPS", "1"))
TIMEOUT = int(env("TIMEOUT", "1800"))
# The guests' thp key, the same on every side. never: with thp=always
# (MADV_HUGEPAGE) the kernel run is OOM-killed by its memcg within seconds
# here (docs/benchmarks.md#make-bench-overcommit).
THP = env("THP", "never")
# host.pool.home_frames of the gmm runs (1: thp=never guests live at home)
HOME = int(env("HOME", "1"))
# host.self_serve_faults of the gmm runs (native: the vCPU serves its faults)
SELF_SERVE = int(env("SELF_SERVE", "1"))
NGUESTS = 3
# the order within a round; GMM_BENCH_OVERCOMMIT_ONLY=kernel,gmm runs a subset
ALL = ("gmm", "kernel", "random")
RUNS = tuple(k for k in ALL if k in env("ONLY", ",".join(ALL)).split(","))
LABEL = {"gmm": "gmm (LRU)", "kernel": "kernel (memcg + swap)", "random": "gmm random victims"}


def round_order(rnd):
    """The runs of round rnd: RUNS, then RUNS reversed, alternately (ABBA),
    so that a drift of the host's speed over the bench and whatever one run
    leaves the next (freed memory, the disk's discards of a swap file) fall
    on every side alike, not always on the run that comes after gmm."""
    return RUNS if rnd % 2 == 0 else tuple(reversed(RUNS))


# --- host state ------------------------------------------------------------

def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])          # kB
    return out


def other_gmm_processes():
    """pids of gmm processes this bench did not start: they share the CPUs,
    the disk and the page cache, so the figures would be theirs too."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "gmm":
                        pids.append(int(pid))
            except OSError:
                pass
    return pids


# --- runs --------------------------------------------------------------------

def guests(backend):
    cmd = f"workload=zipf size={SIZE} iters={ITERS} theta={THETA} verify=1" + (f" {GUEST_ARGS}" if GUEST_ARGS else "")
    out = []
    for i in range(NGUESTS):
        g = {"name": "abc"[i], "mem": MEM, "thp": THP, "kernel": GUEST, "cmdline": f"{cmd} seed={i + 1}"}
        if backend == "anon":
            g["backend"] = "anon"
        out.append(g)
    return out


def gmm_config(kind, tmp):
    if kind == "kernel":
        return {"host": {"accel": ACCEL}, "guests": guests("anon")}
    host = {"accel": ACCEL, "pool": {"size": POOL, "home_frames": HOME},
            "swap": {"path": os.path.join(tmp, "gmm.swap"), "size": SWAP}}
    host["self_serve_faults"] = SELF_SERVE
    if kind == "random":
        host["reclaim"] = {"victims": "random"}
    return {"host": host, "guests": guests("pool")}


def proc_rss_kib(pid):
    """The process's resident memory by kind (/proc/PID/status, kB)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("RssAnon", "RssFile", "RssShmem", "VmPTE"):
                    out[k] = int(v.split()[0])
    except (OSError, ValueError):
        pass
    return out


def thread_sched(pid, last):
    """Each thread's comm and /proc schedstat (ns on a CPU, ns runnable
    waiting for one) into last, by tid: the latest seen, so a thread that
    has ended keeps its final sample."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                on_cpu, waiting = map(int, f.read().split()[:2])
        except (OSError, ValueError):
            continue
        last[tid] = (comm, on_cpu, waiting)


def sched_split(last):
    """Seconds on a CPU and waiting for one: the vCPU threads (named v<N>-
    <guest>), then every other thread of the process (fault threads, gmm's
    kswapd; the kernel's memcg reclaim runs in the vCPU threads)."""
    vcpu_on = vcpu_wait = other_on = 0
    for comm, on_cpu, waiting in last.values():
        if re.match(r"v\d+-", comm):
            vcpu_on += on_cpu
            vcpu_wait += waiting
        else:
            other_on += on_cpu
    return {"vcpu_on_cpu_s": vcpu_on / 1e9, "vcpu_runq_wait_s": vcpu_wait / 1e9, "other_on_cpu_s": other_on / 1e9}


def run_gmm(cfg, tmp, tag, cg, poll=0.5):
    """One `gmm run` on cfg in cgroup cg, looked at every poll seconds.
    Returns (summaries by guest, returncode, stderr tail, wall seconds,
    samples)."""
    path = os.path.join(tmp, f"{tag}.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    errpath, outpath = os.path.join(tmp, f"{tag}.stderr"), os.path.join(tmp, f"{tag}.stdout")
    peak_cache = peak_shmem = peak_swapcached = 0
    peak_rss = {}
    others = set()
    sched = {}
    with open(outpath, "w") as out, open(errpath, "w") as err:
        t0 = time.monotonic()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen([GMM, "run", "--quiet", "--timeout", str(TIMEOUT), "--config", path],
                                stdout=out, stderr=err, preexec_fn=cg.join_self)
        try:
            while proc.poll() is None:
                m = meminfo()
                peak_cache = max(peak_cache, m["Cached"] - m.get("Shmem", 0))
                peak_shmem = max(peak_shmem, m.get("Shmem", 0))
                peak_swapcached = max(peak_swapcached, m.get("SwapCached", 0))
                others.update(p for p in other_gmm_processes() if p != proc.pid)
                for k, v in proc_rss_kib(proc.pid).items():
                    peak_rss[k] = max(peak_rss.get(k, 0), v)
                thread_sched(proc.pid, sched)
                try:
                    proc.wait(timeout=poll)
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() - t0 > TIMEOUT + 120:
                    proc.kill()
        except BaseException:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
        wall = time.monotonic() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    summaries, host = {}, {}
    with open(outpath) as f:
        for line in f:
            if line.startswith("{"):
                try:
                    g = json.loads(line)
                except ValueError:
                    continue
                if "guest" in g:
                    summaries[g["guest"]] = g
                elif isinstance(g.get("host"), dict):       # the host's own summary line
                    host = g["host"]
    with open(errpath) as f:
        err_lines = [l.rstrip() for l in f.read().splitlines() if l.strip()]
    samples = {"file_cache_peak_kib": peak_cache, "shmem_peak_kib": peak_shmem,
               "swapcached_peak_kib": peak_swapcached, "concurrent_gmm_pids": sorted(others),
               # the gmm process's resident memory, peak of each kind as
               # sampled: RssAnon is its own heap and, with backend=anon,
               # the guests' RAM
               "vmm_rss_anon_peak_bytes": peak_rss.get("RssAnon", 0) * 1024,
               "vmm_rss_file_peak_bytes": peak_rss.get("RssFile", 0) * 1024,
               "host_summary": host,
               # the process's own CPU, every thread (vCPUs in and out of the
               # guest, fault threads, gmm's kswapd; the kernel's memcg
               # reclaim runs in the faulting threads): what a swap costs
               "cpu_user_s": ru1.ru_utime - ru0.ru_utime, "cpu_sys_s": ru1.ru_stime - ru0.ru_stime,
               # every sleep of every thread (a fault's handoffs, I/O waits)
               "ctx_switches": (ru1.ru_nvcsw - ru0.ru_nvcsw) + (ru1.ru_nivcsw - ru0.ru_nivcsw),
               # where the vCPUs' time went (sampled with the rest: up to
               # `poll` s short of the end): three vCPUs share two CPUs here
               **sched_split(sched)}
    return summaries, proc.returncode, err_lines, wall, samples


def measure_overhead(tmp):
    """The gmm process's own host memory beyond guest RAM, backend=anon: a run
    of the same three guests touching a little each, in an unlimited cgroup;
    overhead = the cgroup's peak - the guests' resident RAM - the page cache
    the run left charged to the group and did not map. That cache (the
    files the run read and wrote: its config, logs, the guest image, the
    libraries' unmapped pages) is not memory gmm needs: under the limit the
    kernel's memcg reclaim drops it first and gives the room to the guests,
    while a gmm run's pool never gets it. Left in, it gave the kernel's
    guests up to 28 MiB more than gmm's when the probe read its files cold
    (2026-12-04). Pages the
    process maps (its binary, the libraries' text: RssFile) stay in the
    overhead. Also checks that anon guest RAM is charged to the cgroup."""
    touch = min(size_bytes(SIZE), 64 * MiB)
    cfg = {"host": {"accel": ACCEL},
           "guests": [{"name": "abc"[i], "mem": MEM, "backend": "anon", "kernel": GUEST,
                       "thp": THP, "cmdline": f"workload=touch size={touch // MiB}M"}
                      for i in range(NGUESTS)]}
    cg = MemCgroup(f"gmm-bench-overcommit-probe-{os.getpid()}", 0)
    try:
        summ, rc, err, _, samples = run_gmm(cfg, tmp, "probe", cg, poll=0.05)
        peak = cg.peak()
        st = cg.stat()
    finally:
        cg.remove()
    if rc != 0 or len(summ) != NGUESTS:
        raise RuntimeError(f"overhead probe failed (rc {rc}): {' | '.join(err[-5:])}")
    guest_rss = sum(g["peak_rss_bytes"] for g in summ.values())
    # the group's page cache once the process is gone: v1 "cache", v2 "file"
    cache = st.get("total_cache", st.get("cache", st.get("file", 0)))
    unmapped_cache = max(0, cache - samples["vmm_rss_file_peak_bytes"])
    over = max(0, peak - guest_rss - unmapped_cache) if peak is not None else None
    return {"probe_cgroup_peak_bytes": peak, "probe_guest_rss_bytes": guest_rss,
            "probe_touch_bytes": touch * NGUESTS, "probe_cache_left_bytes": cache,
            "probe_vmm_rss_anon_peak_bytes": samples["vmm_rss_anon_peak_bytes"],
            "probe_vmm_rss_file_peak_bytes": samples["vmm_rss_file_peak_bytes"],
            "gmm_overhead_bytes": over,
            "anon_charged_to_cgroup": peak is not None and peak >= guest_rss}


def timed_span_rate(summ):
    """All the guests' timed ops over the wall time from the first timed
    phase's start to the last one's end. The guests start together, each
    runs boot, prefill, timed phase and verify in turn, so a phase's place
    is the guest's run time less what follows it. Unlike the sum of each
    guest's own rate, it does not grow when the guests progress unevenly:
    with the same ops done in the same span, guests timed at 6.7, 6.9 and
    9.0 s sum to 811k ops/s and guests at 8.3, 8.6 and 9.0 s to 698k."""
    spans, ops = [], 0
    for g in summ.values():
        r = g.get("results") or {}
        p, t, v = (float(r.get(k, 0) or 0) for k in ("prefill_seconds", "seconds", "verify_seconds"))
        if not t or "run_seconds" not in g:
            continue
        start = max(0.0, float(g["run_seconds"]) - p - t - v) + p
        spans.append((start, start + t))
        ops += int(r.get("ops", 0))
    if not spans:
        return None
    span = max(e for _, e in spans) - min(s for s, _ in spans)
    return ops / span if span > 0 else None


def one_run(kind, tmp, rnd, cg_limit):
    """One run of one kind; its figures, or an error."""
    tag = f"{kind}-{rnd}"
    fig = {"error": None}
    cfg = gmm_config(kind, tmp)
    m0 = meminfo()
    fig["page_cache_before_kib"] = m0["Cached"]
    fig["file_cache_before_kib"] = m0["Cached"] - m0.get("Shmem", 0)      # Cached less tmpfs/shmem
    swap = None
    cg = MemCgroup(f"gmm-bench-overcommit-{kind}-{os.getpid()}", cg_limit if kind == "kernel" else 0)
    try:
        if kind == "kernel":
            if active_swaps():
                raise RuntimeError(f"other swap is active ({', '.join(active_swaps())}): swapoff it first")
            swap = HostSwap(os.path.join(tmp, "kernel.swap"), size_bytes(SWAP))
            fig["cgroup_limit_bytes"] = cg_limit
            fig["cgroup_swappiness"] = cg.swappiness()
        v0 = vmstat()
        summ, rc, err, wall, samples = run_gmm(cfg, tmp, tag, cg)
        v1 = vmstat()
        fig["cgroup_peak_bytes"] = cg.peak()
        st = cg.stat()
        if kind == "kernel":
            fig["cgroup_oom_kills"] = cg.oom_kills()
            fig["pgmajfault"] = st.get("total_pgmajfault", st.get("pgmajfault"))
    finally:
        if swap:
            swap.off()
        cg.remove()
    m1 = meminfo()
    fig["page_cache_after_kib"] = m1["Cached"]
    fig["file_cache_after_kib"] = m1["Cached"] - m1.get("Shmem", 0)
    fig["concurrent_gmm_pids"] = samples.pop("concurrent_gmm_pids")
    hs = samples.pop("host_summary")
    fig["pool_held_peak_bytes"] = hs.get("pool_held_peak_bytes") if kind != "kernel" else None
    fig["vmm_anon_peak_bytes"] = hs.get("vmm_anon_peak_bytes")
    fig.update(samples)
    fig["wall_s"] = wall
    fig["host_pswpin"] = v1["pswpin"] - v0["pswpin"]
    fig["host_pswpout"] = v1["pswpout"] - v0["pswpout"]
    fig["guests"] = summ
    fig["returncode"] = rc
    if rc == 2 and not summ:
        # bad input: nothing started (e.g. a config key this build does not know)
        fig["error"] = next((l for l in reversed(err) if "config" in l), err[-1] if err else f"rc {rc}")
        fig["refused"] = True
        return fig
    accels = {g.get("accel") for g in summ.values()}
    fig["accel"] = accels.pop() if len(accels) == 1 else ",".join(sorted(a for a in accels if a))
    bad = []
    for name in "abc"[:NGUESTS]:
        g = summ.get(name)
        if g is None:
            bad.append(f"{name}: no summary")
        elif g.get("state") != "exited" or g.get("exit_code") != 0:
            bad.append(f"{name}: {g.get('state')} exit {g.get('exit_code')} ({g.get('stop_reason')})")
    if bad or rc != 0:
        fig["error"] = f"rc {rc}: " + "; ".join(bad) + (" | " + " | ".join(err[-4:]) if err else "")
    res = {n: g.get("results", {}) for n, g in summ.items()}
    fig["ops_per_sec"] = sum(float(r.get("ops_per_sec", 0)) for r in res.values()) if res else None
    # a guest times its phase with the TSC: ops done in "0 s" mean the
    # clock jumped back (this machine's TSC is unstable: a host pause or
    # snapshot restore moves it), and the run's rates mean nothing
    fig["clock_failed"] = sorted(n for n, r in res.items()
                                 if int(r.get("ops", 0)) > 0 and not float(r.get("seconds", 0)))
    if fig["clock_failed"]:
        fig["ops_per_sec"] = None
    ops = sum(int(r.get("ops", 0)) for r in res.values())
    fig["ops_per_wall_sec"] = ops / wall if wall else None
    fig["per_guest_ops_per_sec"] = {n: float(r.get("ops_per_sec", 0)) for n, r in sorted(res.items())}
    # identical guests should run alike: the fastest over the slowest
    # (1.0 is even; the sum above does not show one guest starved)
    rates = [v for v in fig["per_guest_ops_per_sec"].values() if v > 0]
    fig["guest_spread"] = max(rates) / min(rates) if rates else None
    fig["ops_per_timed_span_sec"] = timed_span_rate(summ) if not fig["clock_failed"] else None
    fig["prefill_s_max"] = max((float(r.get("prefill_seconds", 0)) for r in res.values()), default=None)
    fig["timed_s_max"] = max((float(r.get("seconds", 0)) for r in res.values()), default=None)
    fig["verify_failures"] = sum(int(g.get("verify_failures", 0) or 0) for g in summ.values())
    fig["fresh_dirty_pages"] = sum(int(r.get("fresh_dirty_pages", 0) or 0) for r in res.values())
    # stalls=1: the timed phase's slow ops as the guests saw them
    stalls = [r for r in res.values() if "stall_ops" in r]
    if stalls:
        n, s = sum(int(r["stall_ops"]) for r in stalls), sum(float(r["stall_seconds"]) for r in stalls)
        fig["stall_ops"] = n
        fig["stall_us_mean"] = s * 1e6 / n if n else None
        fig["stall_s_per_guest"] = s / len(stalls)
        fig["stall_share"] = s / sum(float(r.get("seconds", 0)) for r in stalls) if s else None
    if kind == "kernel":
        fig["swap_ins"], fig["swap_outs"] = fig["host_pswpin"], fig["host_pswpout"]
    else:
        s2 = [g.get("stage2", {}) for g in summ.values()]
        fig["swap_ins"] = sum(s.get("pswpin", 0) for s in s2)
        fig["swap_outs"] = sum(s.get("pswpout", 0) for s in s2)
        fig["workingset_refault"] = sum(s.get("workingset_refault", 0) for s in s2)
    cpu = fig["cpu_user_s"] + fig["cpu_sys_s"]
    fig["cpu_us_per_swap_in"] = cpu * 1e6 / fig["swap_ins"] if fig["swap_ins"] else None
    fig["ctx_switches_per_swap_in"] = fig["ctx_switches"] / fig["swap_ins"] if fig["swap_ins"] else None
    return fig


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, unit=""):
    if x is None:
        return "-"
    if isinstance(x, float) and abs(x) < 1000 and x != int(x):
        return f"{x:.2f}{unit}"
    if abs(x) >= 1e6:
        return f"{x / 1e6:.2f}M{unit}"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.1f}k{unit}"
    return f"{x:.0f}{unit}"


def main():
    for f in (GMM, GUEST):
        if not os.path.exists(f):
            sys.exit(f"bench-overcommit: {f} is missing: run make first")
    cgv, cgroot, tmp, fs = swap_bench_setup("bench-overcommit", env("DIR", os.path.join(ROOT, "build")),
                                             "GMM_BENCH_OVERCOMMIT_DIR")

    # Ctrl-C or a kill: unwind through the finally blocks (swapoff, rmdir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    kvm = kvm_available()
    thp_sys = open("/sys/kernel/mm/transparent_hugepage/enabled").read().strip()
    log(f"bench-overcommit: {NGUESTS} guests of {MEM}, each zipf theta {THETA} over {SIZE}, "
        f"{ITERS} ops, verify=1, seeds 1..{NGUESTS}; budget {POOL}, swap {SWAP}; accel {ACCEL} "
        f"(/dev/kvm {'opens' if kvm else 'does not open'}); host THP {thp_sys}; guests thp={THP} on every side")
    log(f"  swap files in {tmp} ({fs}); memory cgroup v{cgv} at {cgroot}")
    others = other_gmm_processes()
    if others:
        log(f"  WARNING: other gmm processes are running (pids {' '.join(map(str, others))}): they share "
            "the CPUs, the disk and the page cache with these runs")
    log(f"  gmm: backend=pool, pool {POOL} (home_frames {HOME}, self_serve_faults {SELF_SERVE}), "
        f"gmm swap {SWAP}; random: the same with "
        f"host.reclaim.victims=random; kernel: backend=anon in a memory cgroup, host swap file {SWAP}")

    out = {"accel": None, "reps": REPS, "guests": NGUESTS, "mem_bytes": size_bytes(MEM),
           "wset_bytes": size_bytes(SIZE), "iters_per_guest": ITERS, "theta": float(THETA), "thp": THP,
           "home_frames": HOME, "self_serve_faults": SELF_SERVE, "budget_bytes": size_bytes(POOL), "swap_bytes": size_bytes(SWAP),
           "cgroup_version": cgv, "swap_fs": fs,
           "ops_metric": "sum over guests of each guest's ops_per_sec (timed phase)",
           "kernel_swap_counts": "host /proc/vmstat pswpin/pswpout deltas"}
    failed = False
    try:
        log("\noverhead probe: the same guests, backend=anon, touching "
            f"{min(size_bytes(SIZE), 64 * MiB) // MiB}M each, in an unlimited memory cgroup")
        probe = measure_overhead(tmp)
        out.update(probe)
        extra = env("CG_EXTRA", None)
        if extra is not None:
            over = size_bytes(extra)
        else:
            over = -(-probe["gmm_overhead_bytes"] // MiB) * MiB     # whole MiB, up
        cg_limit = size_bytes(POOL) + over
        out["kernel_cgroup_limit_bytes"] = cg_limit
        out["kernel_cgroup_extra_bytes"] = over
        log(f"  cgroup peak {fmt(probe['probe_cgroup_peak_bytes'] / MiB)} MiB, guests' resident RAM "
            f"{fmt(probe['probe_guest_rss_bytes'] / MiB)} MiB, page cache left unmapped "
            f"{fmt(max(0, probe['probe_cache_left_bytes'] - probe['probe_vmm_rss_file_peak_bytes']) / MiB)} MiB "
            f"(reclaimable, not counted): gmm's own overhead "
            f"{probe['gmm_overhead_bytes'] / MiB:.1f} MiB; anon guest RAM charged to the cgroup: "
            f"{'yes' if probe['anon_charged_to_cgroup'] else 'NO'}")
        log(f"  kernel run's cgroup limit: {POOL} + {over // MiB} MiB = {cg_limit / MiB:.0f} MiB"
            + (" (GMM_BENCH_OVERCOMMIT_CG_EXTRA)" if extra is not None else ""))

        per = {k: [] for k in ALL}
        out["round_orders"] = []
        for rnd in range(REPS):
            order = round_order(rnd)
            out["round_orders"].append(list(order))
            for kind in order:
                log(f"\nround {rnd + 1}/{REPS}: {LABEL[kind]} ...")
                try:
                    fig = one_run(kind, tmp, rnd, cg_limit)
                except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
                    msg = e.stderr.strip() if isinstance(e, subprocess.CalledProcessError) and e.stderr else str(e)
                    fig = {"error": f"{type(e).__name__}: {msg}", "refused": False}
                per[kind].append(fig)
                if fig.get("concurrent_gmm_pids"):
                    log(f"  WARNING: other gmm processes ran meanwhile (pids "
                        f"{' '.join(map(str, fig['concurrent_gmm_pids']))}): this run's figures are perturbed")
                if fig.get("clock_failed"):
                    log(f"  WARNING: guests {', '.join(fig['clock_failed'])} timed their phase as 0 s (the TSC "
                        "jumped: a host pause or snapshot?): this run's ops/s are left out")
                if fig.get("error"):
                    log(f"  {'REFUSED' if fig.get('refused') else 'FAILED'}: {fig['error']}")
                    if not (kind == "random" and fig.get("refused")):
                        failed = True
                if fig.get("guests"):
                    log(f"  {fig['wall_s']:.1f} s wall, accel {fig.get('accel')}, "
                        f"{fmt(fig.get('ops_per_sec'))} ops/s (" +
                        ", ".join(f"{n} {fmt(v)}" for n, v in fig['per_guest_ops_per_sec'].items()) +
                        f"), swap in/out {fmt(fig.get('swap_ins'))}/{fmt(fig.get('swap_outs'))}, "
                        f"verify failures {fig.get('verify_failures')}")

        # aggregate: medians over rounds; ratios are medians of per-round ratios
        keys = ["ops_per_sec", "ops_per_wall_sec", "ops_per_timed_span_sec", "swap_ins", "swap_outs", "wall_s", "prefill_s_max",
                "timed_s_max", "page_cache_before_kib", "page_cache_after_kib", "file_cache_before_kib",
                "file_cache_after_kib", "file_cache_peak_kib",
                "shmem_peak_kib", "swapcached_peak_kib", "cgroup_peak_bytes", "pool_held_peak_bytes",
                "vmm_anon_peak_bytes", "vmm_rss_anon_peak_bytes", "host_pswpin",
                "host_pswpout", "cpu_user_s", "cpu_sys_s", "cpu_us_per_swap_in", "ctx_switches",
                "ctx_switches_per_swap_in", "vcpu_on_cpu_s", "vcpu_runq_wait_s", "other_on_cpu_s", "guest_spread", "stall_ops", "stall_us_mean", "stall_s_per_guest",
                "stall_share"]
        name = {"gmm": "gmm", "kernel": "kernel", "random": "random_victim"}
        agg = {}
        for kind in ALL:
            ok = [f for f in per[kind] if not f.get("error") or f.get("guests")]
            a = {k: med([f.get(k) for f in ok]) for k in keys}
            if kind == "kernel":
                a["pgmajfault"] = med([f.get("pgmajfault") for f in ok])
                a["cgroup_oom_kills"] = sum(f.get("cgroup_oom_kills") or 0 for f in per[kind])
            else:
                a["workingset_refault"] = med([f.get("workingset_refault") for f in ok])
            agg[kind] = a
            pfx = name[kind]
            for k in keys:
                out[f"{pfx}_{k}"] = a[k]
            for k in ("pgmajfault", "cgroup_oom_kills", "workingset_refault"):
                if k in a:
                    out[f"{pfx}_{k}"] = a[k]
            out[f"{pfx}_per_guest_ops_per_sec"] = ok[-1]["per_guest_ops_per_sec"] if ok else None
            out[f"{pfx}_concurrent_gmm_pids"] = sorted({p for f in per[kind]
                                                        for p in f.get("concurrent_gmm_pids") or []})
            errs = [f["error"] for f in per[kind] if f.get("error")]
            out[f"{pfx}_error"] = errs[0] if errs else None
        out["verify_failures"] = sum(f.get("verify_failures") or 0 for k in ALL for f in per[k])
        out["fresh_dirty_pages"] = sum(f.get("fresh_dirty_pages") or 0 for k in ALL for f in per[k])
        accels = {f.get("accel") for k in ALL for f in per[k] if f.get("accel")}
        out["accel"] = ",".join(sorted(accels)) if accels else None

        def ratio(a, b, key="ops_per_sec"):
            rs = [x.get(key) / y.get(key) for x, y in zip(per[a], per[b])
                  if x.get(key) and y.get(key) and not x.get("error") and not y.get("error")]
            return med(rs)

        out["ratio_gmm_vs_kernel"] = ratio("gmm", "kernel")
        out["ratio_gmm_vs_random"] = ratio("gmm", "random")
        out["ratio_random_vs_kernel"] = ratio("random", "kernel")
        out["ratio_gmm_vs_kernel_wall"] = ratio("gmm", "kernel", "ops_per_wall_sec")
        out["ratio_gmm_vs_kernel_timed_span"] = ratio("gmm", "kernel", "ops_per_timed_span_sec")
        out["ratio_gmm_swap_ins_vs_kernel"] = ratio("gmm", "kernel", "swap_ins")
        out["ratio_gmm_cpu_per_swap_in_vs_kernel"] = ratio("gmm", "kernel", "cpu_us_per_swap_in")
        out["target_ratio_gmm_vs_kernel_met"] = (out["ratio_gmm_vs_kernel"] >= 1.0
                                                 if out["ratio_gmm_vs_kernel"] is not None else None)

        # the side-by-side table
        log(f"\naccel {out['accel']}; medians of {REPS} round(s); ops/s = sum of the guests' own "
            "ops_per_sec (timed phase); kernel swap counts are host-wide /proc/vmstat deltas")
        cols = list(ALL)
        rows = [
            ("ops/s (sum of guests)", "ops_per_sec", fmt),
            ("ops / wall s", "ops_per_wall_sec", fmt),
            ("timed ops / their span s", "ops_per_timed_span_sec", fmt),
            ("swap-ins (pages)", "swap_ins", fmt),
            ("swap-outs (pages)", "swap_outs", fmt),
            ("wall s", "wall_s", lambda x: fmt(x)),
            ("prefill s (slowest guest)", "prefill_s_max", lambda x: fmt(x)),
            ("timed s (slowest guest)", "timed_s_max", lambda x: fmt(x)),
            ("fastest / slowest guest ops/s", "guest_spread", lambda x: f"{x:.2f}"),
            ("host memory peak MiB (cgroup)", "cgroup_peak_bytes", lambda x: f"{x / MiB:.0f}"),
            ("gmm pool held peak MiB", "pool_held_peak_bytes", lambda x: f"{x / MiB:.0f}"),
            ("process RssAnon peak MiB", "vmm_rss_anon_peak_bytes", lambda x: f"{x / MiB:.0f}"),
            ("Cached before kB", "page_cache_before_kib", fmt),
            ("Cached after kB", "page_cache_after_kib", fmt),
            ("Cached-Shmem before kB", "file_cache_before_kib", fmt),
            ("Cached-Shmem after kB", "file_cache_after_kib", fmt),
            ("Cached-Shmem peak kB (during)", "file_cache_peak_kib", fmt),
            ("Shmem peak kB (during)", "shmem_peak_kib", fmt),
            ("CPU s user / sys (process)", None, "cpu"),
            ("CPU us per swap-in", "cpu_us_per_swap_in", lambda x: f"{x:.0f}"),
            ("context switches per swap-in", "ctx_switches_per_swap_in", lambda x: f"{x:.2f}"),
            ("vCPU threads s on a CPU", "vcpu_on_cpu_s", lambda x: f"{x:.1f}"),
            ("  s waiting for a CPU", "vcpu_runq_wait_s", lambda x: f"{x:.1f}"),
            ("other threads s on a CPU", "other_on_cpu_s", lambda x: f"{x:.1f}"),
            ("host pswpin/pswpout", None, None),
        ]
        if any(agg[c]["stall_ops"] is not None for c in cols):
            rows += [
                ("guests' slow ops (stalls=1)", "stall_ops", fmt),
                ("  mean us", "stall_us_mean", lambda x: f"{x:.0f}"),
                ("  s per guest", "stall_s_per_guest", lambda x: f"{x:.2f}"),
                ("  share of the timed phase", "stall_share", lambda x: f"{x:.2f}"),
            ]
        log(f"{'':<32}" + "".join(f"{LABEL[c]:>24}" for c in cols))
        for label, key, f in rows:
            if f == "cpu":
                vals = [f"{fmt(agg[c]['cpu_user_s'])}/{fmt(agg[c]['cpu_sys_s'])}" for c in cols]
            elif key is None:
                vals = [f"{fmt(agg[c]['host_pswpin'])}/{fmt(agg[c]['host_pswpout'])}" for c in cols]
            else:
                vals = [f(agg[c][key]) if agg[c][key] is not None else "-" for c in cols]
            log(f"{label:<32}" + "".join(f"{v:>24}" for v in vals))
        log(f"kernel: cgroup v{cgv} limit {cg_limit / MiB:.0f} MiB ({POOL} + {over // MiB} MiB gmm overhead), "
            f"swappiness {per['kernel'][0].get('cgroup_swappiness') if per['kernel'] else '-'}, "
            f"OOM kills {agg['kernel'].get('cgroup_oom_kills')}, major faults {fmt(agg['kernel'].get('pgmajfault'))}")

        def r(k):
            return f"{out[k]:.2f}x" if out[k] is not None else "n/a"
        met = out["target_ratio_gmm_vs_kernel_met"]
        log(f"gmm vs kernel: {r('ratio_gmm_vs_kernel')} (target >= 1.0x: "
            f"{'n/a' if met is None else 'met' if met else 'MISSED'})"
            f"; by the timed phases' span: {r('ratio_gmm_vs_kernel_timed_span')}; per wall second: "
            f"{r('ratio_gmm_vs_kernel_wall')}; gmm vs random victims: {r('ratio_gmm_vs_random')}"
            + (f" (random run: {out['random_victim_error']})" if out["random_victim_error"] else ""))
        log(f"verify failures over every run: {out['verify_failures']}; "
            f"pages not zero at their first touch: {out['fresh_dirty_pages']}")
    except (KeyboardInterrupt, SystemExit):     # Ctrl-C, or SIGTERM (above)
        out["error"] = "interrupted"
        failed = True
    except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
        out["error"] = f"{type(e).__name__}: {e}"
        log(f"bench-overcommit: {out['error']}")
        failed = True
    finally:
        for f in ("gmm.swap",):
            try:
                os.unlink(os.path.join(tmp, f))
            except OSError:
                pass
        log(f"(configs and logs of every run: {tmp})")
        print(json.dumps(out), flush=True)
    if failed or out.get("verify_failures") or out.get("fresh_dirty_pages"):
        sys.exit(1)


if __name__ == "__main__":
    main()
