"""Guest RAM in the host pool behind gmm's stage-2 table: real guests on
each accelerator, with every page verified, and what the host holds checked
against the EPT, the frame descriptors and the pool file."""
import json
import os
import re
import time

import pytest

from conftest import GUEST, control, guest_spec, wait_for, gmm_finish, gmm_run_config, gmm_start

BACKINGS = {
    # name: extra guest keys
    "4k": dict(thp="never", fault_around="4K"),
    "faultaround": dict(thp="never", fault_around="64K"),
    "thp": dict(thp="always"),
}


start, finish, run_config = gmm_start, gmm_finish, gmm_run_config


def stage2_consistent(s2):
    assert s2["resident_frames"] == s2["ept_present_4k"] + 512 * s2["ept_present_2m"], s2
    assert s2["table_frames"] == s2["ept_table_pages"], s2
    if not s2.get("released"):  # every resident page is on one of the guest's LRU lists
        assert s2["inactive_anon"] + s2["active_anon"] + s2["unevictable"] == s2["resident_frames"], s2


@pytest.mark.parametrize("backing", BACKINGS)
@pytest.mark.parametrize("workload", ["touch", "random", "zipf"])
def test_workload_verifies_every_page_on_each_backing(accel, backing, workload, tmp_path):
    size = "48M"
    cmd = f"workload={workload} size={size} verify=1"
    if workload != "touch":
        cmd += " iters=300000 verify_every=100000 prefill=0"
    run = run_config(tmp_path, {"accel": accel}, [dict(name="g", mem="96M", vcpus=2, cmdline=cmd,
                                                       **BACKINGS[backing])])
    g = run.guests["g"]
    assert g["exit_code"] == 0 and g["verify_failures"] == 0, run
    assert g["results"]["verify_passes"] >= 1, run
    if workload == "touch":
        assert g["pages_touched"] == 48 * 256, run
    s2 = g["stage2"]
    stage2_consistent(s2)
    assert s2["oom"] == 0 and s2["bad_faults"] == 0, s2
    if backing == "4k":
        assert s2["faultaround_pages"] == 0 and s2["ept_present_2m"] == 0, s2
        # one page per fault: every resident frame came from its own fault
        assert s2["faults"] - s2["fault_present"] == s2["resident_frames"], s2
    elif backing == "faultaround":
        assert s2["faultaround_pages"] > 0 and s2["ept_present_2m"] == 0, s2
        assert s2["faults"] - s2["fault_present"] < s2["resident_frames"], s2
    else:
        assert s2["fault_huge"] > 0 and s2["ept_present_2m"] > 0, s2


def wait_settled(sock, names):
    """Stats of every guest once their fault counts stop moving."""
    last = None
    for _ in range(100):
        cur = {n: control(sock, {"cmd": "stat", "guest": n})["stat"]["stage2"] for n in names}
        key = {n: (s["faults"], s["cursor_frames"]) for n, s in cur.items()}
        if key == last:
            return cur
        last = key
        time.sleep(0.2)
    raise AssertionError("faults never settled")


def pool_snapshot(sock, names):
    """(pool, stats) taken when neither moves: the reserve thread may be
    refilling between two reads."""
    for _ in range(50):
        a = control(sock, {"cmd": "pool"})["pool"]
        s = wait_settled(sock, names)
        b = control(sock, {"cmd": "pool"})["pool"]
        if a == b:
            return a, s
        time.sleep(0.2)
    raise AssertionError("pool never settled")


def guest_frames(s2):
    return s2["resident_frames"] + s2["table_frames"] + s2["cursor_frames"]


def hog(name, mem="64M", **extra):
    return guest_spec(name, mem=mem, cmdline="workload=hog size=32M print_every=3600", **extra)


def test_resident_frames_pool_blocks_and_ept_agree(accel, tmp_path):
    sock = str(tmp_path / "c.sock")
    proc = start(["--accel", accel, "--control", sock, "--guest", hog("a", thp="never"),
                  "--guest", hog("b", thp="always")])
    try:
        assert wait_for(lambda: os.path.exists(sock))
        pool, stats = pool_snapshot(sock, ["a", "b"])
        for s2 in stats.values():
            stage2_consistent(s2)
            assert s2["resident_frames"] >= 32 * 256, s2
        # every allocated frame is a guest's (mapped, a table, its current
        # block), the zeroed reserve's or a recycle stack's; each one is
        # populated, every free frame punched: the pool file holds exactly
        # the allocated frames
        owned = sum(guest_frames(s) for s in stats.values()) + pool["reserve_bytes"] // 4096 + \
            pool["recycle"]["frames"]
        assert pool["allocated_frames"] == owned, (pool, stats)
        assert pool["held_bytes"] == pool["allocated_frames"] * 4096, pool
        assert pool["mapped_free_refused"] == 0, pool
        chk = control(sock, {"cmd": "check"})
        assert chk["ok"] and chk["problems"] == 0, chk["report"]
    finally:
        for n in ("a", "b"):
            control(sock, {"cmd": "stop", "guest": n})
        finish(proc)


def window_mappings(pid, window, span):
    """(gpa, length, file offset) of every pool-file mapping in a window."""
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ (\d+)\s+(.*)$", line.strip())
            if not m:
                continue
            start, end, off, inode, path = (int(m[1], 16), int(m[2], 16), int(m[3], 16), int(m[4]), m[5])
            if window <= start < window + span and inode != 0 and "pool" in path:
                out.append((start - window, end - start, off))
    return out


def start_one(tmp_path, accel, sock, home_frames, others=(), **guest):
    """One guest (and others) from a config file, the pool's home frames
    on or off."""
    cfg = tmp_path / "c.json"
    guests = [guest] + list(others)
    for g in guests:
        g["kernel"] = GUEST
    cfg.write_text(json.dumps({"host": {"accel": accel, "control": sock, "pool": {"home_frames": home_frames}},
                               "guests": guests}))
    return start(["--config", str(cfg)])


def test_window_maps_the_pool_offset_of_the_pfn_the_ept_records(accel, tmp_path):
    sock = str(tmp_path / "c.sock")
    # pages first touched in Zipf order (prefill=0, scattered ranks) and no
    # fault-around: the buddy's frames land on gfns out of order (frames
    # from the buddy: home frames off, else each page is at its home)
    cmd = "workload=zipf size=32M iters=2000000000 prefill=0"
    proc = start_one(tmp_path, accel, sock, 0, name="z", mem="64M", cmdline=cmd, thp="never", fault_around="4K")
    try:
        assert wait_for(lambda: os.path.exists(sock))
        wait_for(lambda: control(sock, {"cmd": "stat", "guest": "z"})["stat"]["stage2"]["resident_frames"] > 4000)
        s2 = control(sock, {"cmd": "stat", "guest": "z"})["stat"]["stage2"]
        maps = window_mappings(proc.pid, s2["window"], 1 << 40)
        assert len(maps) > 100, maps[:5]
        out_of_order = 0
        for gpa, length, off in maps:
            for page in (0, length - 4096):
                t = control(sock, {"cmd": "translate", "guest": "z", "gpa": gpa + page})
                assert t["ok"] and t["present"], (gpa, t)
                assert t["pfn"] * 4096 == off + page, (hex(gpa + page), t, hex(off))
            out_of_order += off != gpa
        assert out_of_order > len(maps) // 2, "frames should not simply follow gfns"
        bad = control(sock, {"cmd": "translate", "guest": "z", "gpa": 3 << 30})
        assert not bad["ok"] and "not guest RAM" in bad["error"]
    finally:
        control(sock, {"cmd": "stop", "guest": "z"})
        finish(proc)


def test_a_homed_window_is_one_mapping_of_its_home_range_whatever_the_guest_touched(accel, tmp_path):
    """docs/fault-path.md#home-frames: a thp=never guest's RAM is mapped
    once over its home range; every present page is at home + gfn, and
    the pool's tokens are its resident pages (the budget stays the
    buddy's). A hog of 32M, one page a fault, until it touches no new
    page; beside it a thp=always guest, in the buddy's frames."""
    sock = str(tmp_path / "c.sock")
    cmd = "workload=hog size=32M print_every=3600"
    other = dict(name="t", mem="64M", cmdline="workload=hog size=8M print_every=3600", thp="always")
    proc = start_one(tmp_path, accel, sock, 1, others=[other], name="z", mem="64M", cmdline=cmd, thp="never",
                     fault_around="4K")
    try:
        assert wait_for(lambda: os.path.exists(sock))

        def settled():
            a = control(sock, {"cmd": "stat", "guest": "z"})["stat"]["stage2"]["resident_frames"]
            time.sleep(0.25)
            s2 = control(sock, {"cmd": "stat", "guest": "z"})["stat"]["stage2"]
            return s2 if a == s2["resident_frames"] >= 32 * 256 else None
        s2 = wait_for(settled)
        assert s2, "the hog's set was never all resident"
        pool = control(sock, {"cmd": "pool"})["pool"]
        home = s2["home_pfn"]
        assert home >= pool["nr_frames"], (home, pool)   # past the buddy's frames
        assert pool["home"]["ranges"] == 1 and pool["home"]["range_frames"] == 64 * 256, pool["home"]
        assert pool["home"]["tokens"] == s2["resident_frames"], (pool["home"], s2)
        maps = window_mappings(proc.pid, s2["window"], 1 << 40)
        assert maps == [(0, 64 << 20, home * 4096)], maps
        for gpa in (0x100000, 0x200000, 0x1234000, 0x1fff000):
            t = control(sock, {"cmd": "translate", "guest": "z", "gpa": gpa})
            assert t["ok"] and t["present"] and t["pfn"] == home + gpa // 4096, t
        chk = control(sock, {"cmd": "check"})
        assert chk["ok"] and chk["problems"] == 0, chk["report"]
        assert control(sock, {"cmd": "stat", "guest": "t"})["stat"]["stage2"]["home_pfn"] == -1
        # stopped: every token back, the range back
        assert control(sock, {"cmd": "stop", "guest": "z"})["ok"]
        assert wait_for(lambda: control(sock, {"cmd": "pool"})["pool"]["home"]["ranges"] == 0)
        assert control(sock, {"cmd": "pool"})["pool"]["home"]["tokens"] == 0
    finally:
        for n in ("z", "t"):
            control(sock, {"cmd": "stop", "guest": n})
        finish(proc)


def test_guest_stopped_mid_run_returns_every_frame_and_table(accel, tmp_path):
    sock = str(tmp_path / "c.sock")
    host = {"accel": accel, "control": sock, "pool": {"reserve": "0"}}
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"host": host, "guests": [
        dict(name="a", mem="64M", cmdline="workload=hog size=32M print_every=3600", thp="never"),
        dict(name="b", mem="64M", cmdline="workload=hog size=32M print_every=3600", thp="always")]}))
    proc = start(["--config", str(cfg)])
    try:
        assert wait_for(lambda: os.path.exists(sock))
        before, stats = pool_snapshot(sock, ["a", "b"])
        a_frames = guest_frames(stats["a"])
        assert a_frames > 32 * 256
        assert control(sock, {"cmd": "stop", "guest": "a"})["ok"]
        assert wait_for(lambda: control(sock, {"cmd": "stat", "guest": "a"})["stat"]["state"] == "stopped")
        # a stopped guest's frames go back when it is destroyed, at once
        after, _ = pool_snapshot(sock, ["b"])
        assert before["allocated_frames"] - after["allocated_frames"] == a_frames, (before, after, a_frames)
        assert after["held_bytes"] == after["allocated_frames"] * 4096
        assert control(sock, {"cmd": "stat", "guest": "b"})["stat"]["state"] == "running"
        assert control(sock, {"cmd": "check"})["problems"] == 0
    finally:
        control(sock, {"cmd": "stop", "guest": "b"})
        run = finish(proc)
    assert run.guests["a"]["stop_reason"] == "stopped by control request"


def test_exhausted_pool_stops_that_guest_with_a_clear_message(accel, tmp_path):
    run = run_config(tmp_path, {"accel": accel, "pool": {"size": "96M", "reserve": "0"}}, [
        dict(name="big", mem="256M", cmdline="workload=touch size=200M verify=1", thp="never"),
        dict(name="small", mem="32M", cmdline="workload=touch size=16M verify=1")])
    big, small = run.guests["big"], run.guests["small"]
    # no swap: reclaim can free nothing, the OOM killer picks the biggest
    assert big["state"] == "stopped" and "out of memory: killed by the OOM killer" in big["stop_reason"], run
    assert "oom-kill: killed guest big" in run.stderr, run
    assert big["stage2"]["oom"] >= 1
    assert small["exit_code"] == 0 and small["verify_failures"] == 0, run
    assert run.returncode == 1


def test_stopping_a_guest_while_it_faults_never_deadlocks(accel):
    # stopped at different points of a fault storm: 2 vCPUs, 4 KiB faults
    for i in range(4):
        proc = start(["--accel", accel, "--timeout", str(0.1 + 0.15 * i), "--guest",
                      guest_spec("t", mem="1G", vcpus=2, cmdline="workload=touch size=900M",
                                 thp="never", fault_around="4K")])
        run = finish(proc, timeout=60)
        assert run.guests["t"]["state"] in ("stopped", "exited"), run


def test_prefault_maps_all_ram_before_the_guest_runs(accel, tmp_path):
    run = run_config(tmp_path, {"accel": accel}, [
        dict(name="p", mem="64M", prefault=1, thp="never", cmdline="workload=touch size=32M verify=1")])
    s2 = run.guests["p"]["stage2"]
    assert run.guests["p"]["verify_failures"] == 0
    assert s2["prefault_pages"] == 64 * 256 and s2["resident_frames"] == 64 * 256, s2
    assert s2["faults"] == s2["prefault_pages"] // s2["fault_around_pages"], s2


def window_pmd_kb(pid, window):
    """KiB of the guest's window the host maps with PMDs (2 MiB pages)."""
    pmd_kb = 0
    with open(f"/proc/{pid}/smaps") as f:
        inside = False
        for line in f:
            m = re.match(r"([0-9a-f]+)-[0-9a-f]+ ", line)
            if m:
                inside = window <= int(m[1], 16) < window + (1 << 40)
            elif inside and line.startswith(("ShmemPmdMapped:", "FilePmdMapped:")):
                pmd_kb += int(line.split()[1])
    return pmd_kb


@pytest.mark.parametrize("thp", ["always", "never"])
def test_thp_decides_whether_the_host_maps_the_guest_with_2m_pages(accel, thp, tmp_path):
    sock = str(tmp_path / "c.sock")
    # hog touches sequentially: the fault window grows to 2 MiB runs even
    # with thp=never, which must still be 4 KiB on the host
    proc = start(["--accel", accel, "--control", sock, "--guest", hog("h", thp=thp)])
    try:
        assert wait_for(lambda: os.path.exists(sock))
        pool = control(sock, {"cmd": "pool"})["pool"]
        if not pool["shmem_thp"]:
            pytest.skip("the pool is a plain memfd here (no tmpfs mount): no huge folios")
        s2 = wait_settled(sock, ["h"])["h"]
        pmd_kb = window_pmd_kb(proc.pid, s2["window"])
        if thp == "always":
            assert s2["ept_present_2m"] >= 16, s2
            assert pmd_kb >= 16 * 2048, f"only {pmd_kb} KiB PMD-mapped in the window"
        else:
            assert s2["ept_present_2m"] == 0 and s2["resident_frames"] >= 16 * 512, s2
            assert pmd_kb == 0, f"{pmd_kb} KiB PMD-mapped in a thp=never window"
    finally:
        control(sock, {"cmd": "stop", "guest": "h"})
        finish(proc)


def test_anon_backend_keeps_plain_memory(accel, tmp_path):
    run = run_config(tmp_path, {"accel": accel}, [
        dict(name="a", mem="64M", backend="anon", cmdline="workload=touch size=32M verify=1")])
    g = run.guests["a"]
    assert g["backend"] == "anon" and "stage2" not in g and g["verify_failures"] == 0, run
    # sampled once a second while it runs and once at its stop: a guest
    # done well within its first second still reports what it touched
    assert 32 << 20 <= g["peak_rss_bytes"] <= 64 << 20, run


def test_khugepaged_collapses_a_running_guest_without_losing_a_page(accel, tmp_path):
    # thp=madvise: 4 KiB frames at fault time, collapsed in the background
    # while the guest keeps reading and writing and verifying its pages
    cmd = "workload=zipf size=32M iters=30000000 verify=1 verify_every=3000000"
    run = run_config(tmp_path, {"accel": accel}, [dict(name="m", mem="64M", thp="madvise", cmdline=cmd)])
    g = run.guests["m"]
    assert g["exit_code"] == 0 and g["verify_failures"] == 0 and g["results"]["verify_passes"] > 1, run
    s2 = g["stage2"]
    assert s2["fault_huge"] == 0, s2
    assert s2["thp_collapse_inplace"] + s2["thp_collapse_alloc"] >= 8, s2
    assert s2["ept_present_2m"] >= 8, s2
    stage2_consistent(s2)
