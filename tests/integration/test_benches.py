"""The benches' own machinery, checked without timing anything: a figure
from a pager that loses data would mean nothing (docs/benchmarks.md)."""
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import GMM_RELEASE, ROOT, control, gmm_finish, gmm_start, guest_spec, wait_for

SWAPCYCLE = os.path.join(ROOT, "build/bench/bench_swapcycle")
PAGES, RESIDENT, OPS = 4096, 1024, 20000


@pytest.mark.parametrize("mode", ["vma", "fixed", "fixed-sigbus"])
def test_swapcycle_pagers_bring_every_page_back_from_swap_with_its_data(mode, tmp_path):
    swap = tmp_path / "pager.swap"
    r = subprocess.run([SWAPCYCLE, mode, str(swap), str(PAGES), str(RESIDENT), str(OPS), "7"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    fig = json.loads(r.stdout.strip().splitlines()[-1])
    # every touch checked the page's last stamp, and a closing pass every page
    assert fig["verify_failures"] == 0
    # a quarter resident, uniform touches: about three in four miss, each a swap-in
    assert fig["swap_ins"] > OPS // 2, fig
    assert abs(fig["swap_outs"] - fig["swap_ins"]) <= 32, fig
    assert not swap.exists(), "the pager's swap file is unlinked once open"


def test_swapcycle_refuses_bad_arguments_with_a_clear_line():
    for args in (["nonsense", "x", "4096", "1024", "10", "1"], ["fixed", "x", "100", "200", "10", "1"],
                 ["kernel", "x", "4096"]):
        r = subprocess.run([SWAPCYCLE, *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (args, r.stdout)
        assert "bench_swapcycle" in r.stderr or "usage" in r.stderr


def test_overcommit_probe_allows_the_kernel_run_gmms_own_memory_only(tmp_path):
    """bench-overcommit gives the kernel run's cgroup the budget plus what
    a probe of three anon guests measures as gmm's own memory. That once
    held the frame table of a pool sized for the anon guests' RAM (3 GiB,
    50 MiB of descriptors nobody used): the memcg swapped it out and gave
    the room to the kernel's guests, 5% more RAM than gmm's
    (docs/benchmarks.md#make-bench-overcommit)."""
    if os.geteuid() != 0:
        pytest.skip("the probe needs root (a memory cgroup)")
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); import bench_overcommit as b\n"
              "try:\n    b.MemCgroup.find()[0] or sys.exit('SKIP no memory cgroup controller')\n"
              "except OSError as e:\n    sys.exit(f'SKIP {e}')\n"
              "print(json.dumps(b.measure_overhead(sys.argv[2])))\n")
    env = dict(os.environ, GMM_BENCH_OVERCOMMIT_GMM=GMM_RELEASE, GMM_BENCH_OVERCOMMIT_SIZE="16M",
               GMM_BENCH_OVERCOMMIT_ACCEL="native")
    r = subprocess.run(["python3", "-c", script, os.path.join(ROOT, "bench"), str(tmp_path)],
                       capture_output=True, text=True, timeout=120, env=env)
    if r.returncode and "SKIP" in r.stderr:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, r.stderr
    probe = json.loads(r.stdout.strip().splitlines()[-1])
    assert probe["anon_charged_to_cgroup"], probe
    # three 1 GiB anon guests, 16M touched each: gmm's heap, threads and
    # binary, a few MiB (4.5-5.5 measured), not 50 MiB of a pool's frames
    assert probe["gmm_overhead_bytes"] < 24 << 20, probe


def test_replacement_simulation_bounds_every_policy_by_the_best_static_one_and_min_below_all():
    sim = os.path.join(ROOT, "build/bench/sim_replacement")
    env = dict(os.environ, GMM_BENCH_REPLACEMENT_PAGES="8192", GMM_BENCH_REPLACEMENT_RESIDENT="4096",
               GMM_BENCH_REPLACEMENT_OPS="100000")
    r = subprocess.run([sim], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    fig = json.loads(r.stdout.strip().splitlines()[-1])
    for start in ("cold", "warm"):
        best = fig[f"{start}_static_best_misses"]
        for pol in ("lru", "random", "two_list", "two_list_fifo", "lru_2"):
            assert best <= fig[f"{start}_{pol}_misses"] <= 100000, (start, pol, fig)
        # Belady's MIN knows the future: below every policy that does not
        assert 0 < fig[f"{start}_min_misses"] < best, (start, fig)
        # a touch is seen only on an armed page, once
        assert 0 < fig[f"{start}_two_list_hints"] <= fig[f"{start}_two_list_arms"], fig
    # a second reference tells more than recency alone, once warm
    assert fig["warm_lru_2_misses"] < fig["warm_lru_misses"], fig
    # arming is what tells the hot pages from the cold: without it, more go
    assert fig["cold_two_list_fifo_misses"] > fig["cold_two_list_misses"], fig
    bad = subprocess.run([sim], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, GMM_BENCH_REPLACEMENT_RESIDENT="9x"))
    assert bad.returncode == 1 and "GMM_BENCH_REPLACEMENT_RESIDENT" in bad.stderr


def test_hintfault_ways_each_see_exactly_the_touched_pages():
    """bench_hintfault exits 1 if a way sees a page touched that was not (the
    kernel's fault-around mapping a read page's neighbours did) or misses one"""
    r = subprocess.run([os.path.join(ROOT, "build/bench/bench_hintfault")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    fig = json.loads(r.stdout.strip().splitlines()[-1])
    for key in ("hint_fault_us", "kernel_minor_fault_us", "pagemap_find_us_per_page", "ratio_uffd_vs_kernel"):
        assert fig[key] > 0, fig


def test_overcommit_splits_a_running_gmm_s_threads_into_vcpus_and_the_rest(tmp_path):
    """bench-overcommit's vCPU rows (time on a CPU, time waiting for one)
    find the vCPU threads of a real gmm by their names."""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import bench_overcommit as b
    sock = str(tmp_path / "c.sock")
    # hog runs until it is stopped
    proc = gmm_start(["--accel", "native", "--control", sock, "--guest", guest_spec("g", cmdline="workload=hog")])
    try:
        assert wait_for(lambda: os.path.exists(sock))
        last = {}
        for _ in range(20):
            b.thread_sched(proc.pid, last)
            time.sleep(0.1)
    finally:
        if os.path.exists(sock):
            control(sock, {"cmd": "stop", "guest": "g"})
        gmm_finish(proc, 120)
    names = sorted(v[0] for v in last.values())
    split = b.sched_split(last)
    assert "v0-g" in names, names
    assert split["vcpu_on_cpu_s"] > 0.1 and split["other_on_cpu_s"] > 0, (names, split)


def test_overcommit_rounds_alternate_their_order_so_no_run_always_follows_gmm():
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import bench_overcommit as b
    if b.RUNS != b.ALL:
        pytest.skip("GMM_BENCH_OVERCOMMIT_ONLY picks a subset of the runs")
    orders = [b.round_order(r) for r in range(4)]
    assert orders[0] == b.RUNS and orders[1] == tuple(reversed(b.RUNS)) and orders[2] == orders[0], orders
    # each round runs every kind once; over two rounds the kernel run
    # follows a different run each time
    assert all(sorted(o) == sorted(b.RUNS) for o in orders), orders
    before = {o[o.index("kernel") - 1] for o in orders[:2] if o.index("kernel") > 0}
    assert before == {"gmm", "random"}, orders
