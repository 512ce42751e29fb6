"""Overcommit through swap (docs/reclaim.md, docs/swap.md): guests bigger
than the host pool run to the end with every page verified, kswapd writes
their cold pages to the swap file and faults read them back; a missing,
read-only or full swap file gets a clear error."""
import os
import re

import pytest

from conftest import control, gmm_finish, gmm_run_config, gmm_start, wait_for


def host(tmp_path, accel, pool="64M", swap="256M", **extra):
    h = {"accel": accel, "pool": {"size": pool, "reserve": "4M"},
         "swap": {"path": str(tmp_path / "swapfile"), "size": swap}}
    h.update(extra)
    return h


def test_a_guest_twice_the_pool_runs_verified_through_swap(accel, tmp_path):
    run = gmm_run_config(tmp_path, host(tmp_path, accel), [
        dict(name="a", mem="128M", thp="never", cmdline="workload=touch size=100M verify=1")])
    g = run.guests["a"]
    assert g["exit_code"] == 0 and g["verify_failures"] == 0, run
    s2 = g["stage2"]
    assert s2["pswpout"] > 0 and s2["pswpin"] > 0, s2
    # the verify pass reads pages back, and their next eviction finds
    # them unwritten: back to the slot they kept, with no write
    # (docs/swap.md#clean-pages-keep-their-slot)
    assert s2["pgsteal_clean"] > 0, s2
    assert s2["pgsteal"] == s2["pswpout"] + s2["pgsteal_clean"] and s2["swap_write_failed"] == 0, s2
    # never more resident than the pool holds
    assert s2["peak_resident_frames"] < 64 * 256, s2
    # thp=never: its pages live at home (docs/fault-path.md#home-frames),
    # and the pool file, home pages included, never held more than the pool
    assert s2["home_pfn"] >= 64 * 256, s2
    assert run.host["pool_held_peak_bytes"] <= 64 << 20, run.host


def test_two_overcommitted_guests_with_random_access_keep_their_data(accel, tmp_path):
    # hold=2: each guest keeps its set (and verifies it) for 2 s after its
    # ops, so the two lives overlap however far apart they start; on the
    # native accelerator 400000 ops take 20 ms and one guest could end
    # before the other had filled the pool, with nothing to swap
    cmd = "workload=random size=56M iters=400000 write_pct=50 verify=1 verify_every=100000 hold=2"
    run = gmm_run_config(tmp_path, host(tmp_path, accel, pool="96M"), [
        dict(name="a", mem="64M", thp="always", cmdline=cmd),
        dict(name="b", mem="64M", thp="never", cmdline=cmd + " seed=7")], timeout=300)
    for name in ("a", "b"):
        g = run.guests[name]
        assert g["exit_code"] == 0 and g["verify_failures"] == 0, run
        assert g["results"]["verify_passes"] >= 2, run
    assert sum(run.guests[n]["stage2"]["pswpout"] for n in "ab") > 0, run
    assert run.guests["a"]["stage2"]["thp_split_swap"] > 0, run.guests["a"]["stage2"]
    # one pool, both models: a's frames from the buddy, b's at home
    assert run.guests["a"]["stage2"]["home_pfn"] == -1 and run.guests["b"]["stage2"]["home_pfn"] >= 0, run
    # a slot is kept only where the window can tell a write (at home)
    assert run.guests["a"]["stage2"]["pgsteal_clean"] == 0, run.guests["a"]["stage2"]


def test_reclaim_is_visible_while_it_runs(accel, tmp_path):
    sock = str(tmp_path / "c.sock")
    cfg = tmp_path / "c.json"
    import json
    cfg.write_text(json.dumps({"host": host(tmp_path, accel, control=sock), "guests": [
        dict(name="h", mem="128M", thp="never", cmdline="workload=hog size=100M print_every=3600")]}))
    proc = gmm_start(["--config", str(cfg)])
    try:
        assert wait_for(lambda: os.path.exists(sock))

        def swapped():
            p = control(sock, {"cmd": "pool"})["pool"]
            return p if p["swap"]["writes"] > 0 and p["kswapd"]["pgsteal_kswapd"] > 0 else None
        p = wait_for(swapped, timeout=60)
        assert p, control(sock, {"cmd": "pool"})
        assert p["swap"]["used_slots"] > 0 and p["swap"]["filesystem"], p
        st = control(sock, {"cmd": "stat", "guest": "h"})["stat"]["stage2"]
        assert st["pswpout"] > 0 and st["inactive_anon"] + st["active_anon"] + st["unevictable"] == st["resident_frames"], st
        c = control(sock, {"cmd": "check"})
        assert c["problems"] == 0, c["report"]
    finally:
        control(sock, {"cmd": "stop", "guest": "h"})
        gmm_finish(proc)


def test_reclaim_takes_the_zero_reserve_back_before_guest_pages(accel, tmp_path):
    """A thp=always guest makes the zero reserve fill (16M of populated
    2 MiB blocks); a hog then pushes the pool into reclaim. kswapd gives
    the reserve's blocks back, and the reserve stays empty while the pool
    is short (the refill's own check: tests/unit/test_vmm_zero_reserve.c)."""
    import json
    sock = str(tmp_path / "c.sock")
    cfg = tmp_path / "c.json"
    h = host(tmp_path, accel, pool="96M", control=sock)
    h["pool"]["reserve"] = "16M"
    cfg.write_text(json.dumps({"host": h, "guests": [
        dict(name="t", mem="32M", thp="always", cmdline="workload=touch size=8M verify=1"),
        dict(name="h", mem="160M", thp="never", cmdline="workload=hog size=140M print_every=3600")]}))
    proc = gmm_start(["--config", str(cfg)])
    try:
        assert wait_for(lambda: os.path.exists(sock))

        def drained():
            p = control(sock, {"cmd": "pool"})["pool"]
            return p if p["kswapd"]["reserve_drained"] > 0 and p["kswapd"]["pgsteal_kswapd"] > 0 else None
        p = wait_for(drained, timeout=60)
        assert p, control(sock, {"cmd": "pool"})
        r = p["reserve"]
        assert r["refills"] >= 8 and r["drained"] > 0, r
        assert p["kswapd"]["reserve_drained"] == 512 * r["drained"], p["kswapd"]
        # under the hog's pressure nothing comes back to the reserve
        def still_short():
            q = control(sock, {"cmd": "pool"})["pool"]
            return q if q["swap"]["writes"] > p["swap"]["writes"] + 1000 else None
        q = wait_for(still_short, timeout=60)
        assert q and q["reserve"]["blocks"] == 0 and q["reserve_bytes"] == 0, q
        assert q["held_bytes"] <= q["size_bytes"], q
    finally:
        control(sock, {"cmd": "stop", "guest": "h"})
        gmm_finish(proc)


def test_swap_ins_read_into_recycled_frames_and_an_idle_stack_goes_back(accel, tmp_path):
    """docs/reclaim.md#recycled-frames: a zipf guest bigger than the pool
    swaps; its swap-ins take frames eviction left unpunched on the recycle
    stack, and every page it reads is its own (verify=1, and the frames
    passed between its pages). Once it is gone and nothing is evicted, the
    stack is empty (what swap-ins did not take, kswapd gave back punched)
    while another guest runs on."""
    import json
    sock = str(tmp_path / "c.sock")
    cfg = tmp_path / "c.json"
    h = host(tmp_path, accel, control=sock)
    h["pool"]["home_frames"] = 0   # a homed page is punched in place: no recycling
    cfg.write_text(json.dumps({"host": h, "guests": [
        dict(name="z", mem="128M", thp="never",
             cmdline="workload=zipf size=96M iters=1000000G duration=4 theta=0.8 verify=1"),
        dict(name="idle", mem="32M", cmdline="workload=touch size=4M hold=90")]}))
    proc = gmm_start(["--config", str(cfg), "--timeout", "300"])
    try:
        assert wait_for(lambda: os.path.exists(sock))

        def recycled():
            p = control(sock, {"cmd": "pool"})["pool"]
            return p if p["recycle"]["taken"] > 0 else None
        p = wait_for(recycled, timeout=60)
        assert p, control(sock, {"cmd": "pool"})["pool"]
        r = p["recycle"]
        assert r["kept"] >= r["taken"] and r["frames"] <= r["kept"], r
        assert p["held_bytes"] <= p["size_bytes"], p

        def given_back():
            q = control(sock, {"cmd": "pool"})["pool"]
            gone = all(g["guest"] != "z" or g["state"] == "stopped"
                       for g in control(sock, {"cmd": "list"})["guests"])
            return q if gone and q["recycle"]["frames"] == 0 else None
        q = wait_for(given_back, timeout=60)
        assert q, control(sock, {"cmd": "pool"})["pool"]
        # each frame kept went to a swap-in or back to the buddy, punched
        # (the stack is empty now): none is left holding a page of z's
        r = q["recycle"]
        assert r["kept"] == r["taken"] + r["drained"], r
        # and every free frame is punched: the file holds no more than
        # the allocated frames
        assert q["held_bytes"] <= q["allocated_frames"] * 4096, q
        c = control(sock, {"cmd": "check"})
        assert c["problems"] == 0, c["report"]
    finally:
        control(sock, {"cmd": "stop", "guest": "idle"})
        run = gmm_finish(proc, timeout=120)
    z = run.guests["z"]
    assert z["exit_code"] == 0 and z["verify_failures"] == 0, run
    assert z["stage2"]["pswpin"] > 0, z["stage2"]


def test_each_pool_node_has_its_kswapd(accel, tmp_path):
    sock = str(tmp_path / "c.sock")
    cfg = tmp_path / "c.json"
    import json
    h = host(tmp_path, accel, pool="128M", control=sock)
    h["pool"]["nodes"] = 2
    # interleaved, so both nodes fill and reclaim; with the default (local)
    # policy node 1 takes only fallback allocations, and whether its kswapd
    # ever runs depends on timing (it did not within 60 s in 1 run of ~30)
    cfg.write_text(json.dumps({"host": h, "guests": [
        dict(name="h", mem="256M", thp="never", numa={"policy": "interleave", "nodes": "0-1"},
             cmdline="workload=hog size=200M print_every=3600")]}))
    proc = gmm_start(["--config", str(cfg)])
    try:
        assert wait_for(lambda: os.path.exists(sock))

        def both_reclaimed():
            k = control(sock, {"cmd": "pool"})["pool"]["kswapd"]
            return k if all(n["pgsteal_kswapd"] > 0 and n["kswapd_wakeups"] > 0 for n in k["nodes"]) else None
        k = wait_for(both_reclaimed, timeout=60)
        assert k and [n["nid"] for n in k["nodes"]] == [0, 1], control(sock, {"cmd": "pool"})["pool"]["kswapd"]
        # the totals are the nodes' sums (read a moment apart: at least)
        assert k["pgsteal_kswapd"] >= sum(n["pgsteal_kswapd"] for n in k["nodes"]) - 4096, k
        # a stall is timed: none, no time; some, some time
        assert (k["allocstall_us"] > 0) if k["allocstall"] else (k["allocstall_us"] == 0), k
        ck = control(sock, {"cmd": "check"}); assert ck["problems"] == 0, ck["report"][:3000]
    finally:
        control(sock, {"cmd": "stop", "guest": "h"})
        gmm_finish(proc)


def test_a_full_swap_file_stops_the_guest_that_needs_more_with_a_clear_message(accel, tmp_path):
    run = gmm_run_config(tmp_path, host(tmp_path, accel, swap="4M"), [
        dict(name="a", mem="128M", thp="never", cmdline="workload=touch size=100M verify=1")])
    g = run.guests["a"]
    assert g["state"] == "stopped" and "out of memory" in g["stop_reason"], run
    assert g["stage2"]["swap_full"] > 0, g["stage2"]


@pytest.mark.parametrize("path,needle", [
    ("/nonexistent-dir/swapfile", "host.swap.path"),
    ("/proc/gmm-swapfile", "host.swap.path"),
])
def test_a_swap_file_that_cannot_be_made_is_refused_at_start(tmp_path, path, needle):
    h = host(tmp_path, "native")
    h["swap"]["path"] = path
    run = gmm_run_config(tmp_path, h, [dict(name="a", mem="64M", cmdline="workload=touch size=8M")])
    assert run.returncode == 2 and needle in run.stderr and run.stdout == "", run
    assert len([l for l in run.stderr.splitlines() if l.startswith("gmm:")]) == 1, run
    assert re.search(r"/nonexistent-dir|/proc", run.stderr), run


@pytest.mark.parametrize("self_serve", [1, 0])
def test_a_native_vcpu_serves_its_own_faults_and_every_page_comes_back(accel, tmp_path, self_serve):
    """docs/fault-path.md#self-served-faults: on the native accelerator a
    homed guest's vCPU serves its stage-2 faults in its SIGBUS handler
    (swap-ins and hinting faults included); gmm's other threads' touches
    (the loader) go to the fault thread. Under KVM, or turned off, the
    fault thread serves everything. Every page verified either way."""
    h = host(tmp_path, accel, pool="64M")
    h["self_serve_faults"] = self_serve
    run = gmm_run_config(tmp_path, h, [
        dict(name="a", mem="128M", thp="never",
             cmdline="workload=zipf size=96M iters=300000 theta=0.8 verify=1 verify_every=100000")], timeout=300)
    g = run.guests["a"]
    assert g["exit_code"] == 0 and g["verify_failures"] == 0, run
    s2 = g["stage2"]
    assert s2["home_pfn"] >= 0 and s2["pswpin"] > 0, s2
    if accel == "native" and self_serve:
        # every fault of the guest's own code: its faults and hinting faults
        assert s2["faults_self_served"] >= s2["faults"] - s2["faults_forwarded"] > 0, s2
        assert s2["faults_forwarded"] < 1000, s2     # the loader's, a few
    else:
        assert s2["faults_self_served"] == 0 and s2["faults_forwarded"] == 0, s2


def test_the_guest_counts_the_ops_that_waited_for_a_swap_in(accel, tmp_path):
    """stalls=1 (docs/test-guest.md): the guest times every op of its timed
    phase and counts the slow ones by their time, what a swap-in costs it
    as it sees it (bench-overcommit shows them beside the kernel's)."""
    run = gmm_run_config(tmp_path, host(tmp_path, accel, pool="64M"), [
        dict(name="a", mem="128M", thp="never",
             cmdline="workload=zipf size=96M iters=300000 theta=0.8 verify=1 stalls=1"),
        dict(name="b", mem="64M", cmdline="workload=zipf size=8M iters=1000 stalls=2"),
        dict(name="c", mem="64M", cmdline="workload=touch size=8M stalls=1")], timeout=300)
    a, b, c = (run.guests[n] for n in "abc")
    assert a["exit_code"] == 0 and a["verify_failures"] == 0, run
    r = a["results"]
    hist = [int(x) for x in r["stall_hist_log2_us"].split(":")]
    assert len(hist) == 16 and sum(hist) == r["stall_ops"] > 0, r
    assert sum(hist[:3]) == 0, r           # nothing under 8 us is a stall
    assert 0 < r["stall_seconds"] <= r["seconds"], r
    assert a["stage2"]["pswpin"] > 0, a["stage2"]
    # a boolean; and only for the workloads with a timed op loop
    assert b["exit_code"] == 3 and c["exit_code"] == 3, run   # GMM_EXIT_BAD_CMDLINE
