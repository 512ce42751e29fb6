"""hugepages=2M|1G guests (docs/hugetlb.md): all guest RAM in hugetlbfs pages
from a region of the host pool, on each accelerator. The tests reserve the
kernel's hugetlb pages they need through sysfs (we are root) and put the old
nr_hugepages back afterwards; when the kernel cannot provide them, they are
skipped with the reason named."""
import os
import re
import time

import pytest

from conftest import control, guest_spec, wait_for, gmm_finish, gmm_run_config, gmm_start

SYSFS = {"2M": "/sys/kernel/mm/hugepages/hugepages-2048kB",
         "1G": "/sys/kernel/mm/hugepages/hugepages-1048576kB"}
PAGE = {"2M": 2 << 20, "1G": 1 << 30}


def sysfs(size, name):
    with open(os.path.join(SYSFS[size], name)) as f:
        return int(f.read())


def available(size):
    return sysfs(size, "free_hugepages") - sysfs(size, "resv_hugepages")


@pytest.fixture
def reserve_hugepages():
    """reserve(size, n): make sure the kernel has n free pages of that size
    (raising nr_hugepages if needed), restored when the test ends."""
    restore = []

    def reserve(size, n):
        d = SYSFS[size]
        if not os.path.isdir(d):
            pytest.skip(f"the kernel has no {size} hugetlb pages ({d} is missing)")
        if size == "1G":
            with open("/proc/cpuinfo") as f:
                if " pdpe1gb" not in f.read():
                    pytest.skip("this CPU has no 1G pages (no pdpe1gb)")
        have = available(size)
        if have < n:
            old = sysfs(size, "nr_hugepages")
            path = os.path.join(d, "nr_hugepages")
            try:
                with open(path, "w") as f:
                    f.write(str(old + n - have))
            except OSError as e:
                pytest.skip(f"cannot write {path}: {e.strerror}")
            restore.append((path, old))
            if available(size) < n:
                pytest.skip(f"asked the kernel for {n} free {size} pages through {path}, "
                            f"it could give only {available(size)}")
        return available(size)

    yield reserve
    for path, old in reversed(restore):
        with open(path, "w") as f:
            f.write(str(old))


start, finish, run_config = gmm_start, gmm_finish, gmm_run_config


def hugetlb_only(s2):
    """Every resident page of the guest is in 2 MiB leaves over hugetlb pages."""
    assert s2["ept_present_4k"] == 0 and s2["fault_huge"] == 0, s2
    assert s2["resident_frames"] == 512 * s2["ept_present_2m"], s2
    assert s2["table_frames"] == s2["ept_table_pages"], s2
    assert s2["faults"] - s2["fault_present"] == s2["fault_hugetlb"], s2
    assert s2["oom"] == 0 and s2["bad_faults"] == 0 and s2["cursor_frames"] == 0, s2


def window_hugetlb(pid, window):
    """(KiB hugetlb-mapped, set of KernelPageSize in KiB) over the window's
    VMAs that map anything, from /proc/PID/smaps."""
    kb, sizes, inside, page_kb = 0, set(), False, 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-[0-9a-f]+ ", line)
            if m:
                inside = window <= int(m[1], 16) < window + (1 << 40)
            elif inside and line.startswith("KernelPageSize:"):
                page_kb = int(line.split()[1])
            elif inside and line.startswith(("Private_Hugetlb:", "Shared_Hugetlb:")):
                n = int(line.split()[1])
                kb += n
                if n:
                    sizes.add(page_kb)
    return kb, sizes


@pytest.mark.parametrize("workload", ["touch", "random"])
def test_2m_guest_verifies_every_page_in_hugetlb_pages(accel, workload, reserve_hugepages, tmp_path):
    reserve_hugepages("2M", 48)
    before = sysfs("2M", "free_hugepages")
    cmd = f"workload={workload} size=48M verify=1"
    if workload != "touch":
        cmd += " iters=300000 verify_every=100000 prefill=0"
    run = run_config(tmp_path, {"accel": accel}, [dict(name="h", mem="96M", vcpus=2, hugepages="2M",
                                                       cmdline=cmd)])
    g = run.guests["h"]
    assert g["exit_code"] == 0 and g["verify_failures"] == 0, run
    assert g["results"]["verify_passes"] >= 1 and g["hugepages"] == "2M", run
    if workload == "touch":
        assert g["pages_touched"] == 48 * 256, run
    s2 = g["stage2"]
    hugetlb_only(s2)
    assert s2["fault_hugetlb"] >= 24, s2
    # the kernel has every page back once gmm is gone
    assert sysfs("2M", "free_hugepages") == before


def test_2m_window_is_hugetlb_mapped_and_the_pool_view_agrees(accel, reserve_hugepages, tmp_path):
    reserve_hugepages("2M", 32)
    before = sysfs("2M", "free_hugepages")
    sock = str(tmp_path / "c.sock")
    hog = "workload=hog size=32M print_every=3600"
    proc = start(["--accel", accel, "--control", sock,
                  "--guest", guest_spec("h", mem="64M", cmdline=hog, hugepages="2M"),
                  "--guest", guest_spec("b", mem="64M", cmdline=hog)])
    try:
        assert wait_for(lambda: os.path.exists(sock))
        assert wait_for(lambda: control(sock, {"cmd": "stat", "guest": "h"})["stat"]["stage2"]
                        ["resident_frames"] >= 32 * 256)
        # The hog may still fault in its last page (its code and stack share
        # no 2 MiB page with its 32 MiB), so the guest's, the host's and the
        # pool's views are compared as one snapshot taken while no fault
        # landed: the guest's count the same a quarter second before and
        # after (the hog walks its 32 MiB many times a second).
        snap = {}

        def settled():
            first = control(sock, {"cmd": "stat", "guest": "h"})["stat"]["stage2"]
            time.sleep(0.25)
            snap["kb"], snap["sizes"] = window_hugetlb(proc.pid, first["window"])
            snap["pool"] = control(sock, {"cmd": "pool"})["pool"]
            snap["free"] = sysfs("2M", "free_hugepages")
            snap["s2"] = control(sock, {"cmd": "stat", "guest": "h"})["stat"]["stage2"]
            return first["ept_present_2m"] == snap["s2"]["ept_present_2m"]
        assert wait_for(settled)
        s2, pool = snap["s2"], snap["pool"]
        hugetlb_only(s2)
        pages = s2["ept_present_2m"]
        # the host: the window is hugetlb-mapped in 2 MiB pages, all of it
        kb, sizes = snap["kb"], snap["sizes"]
        assert kb == pages * 2048 and sizes == {2048}, (kb, sizes, s2)
        # the pool's region and the kernel agree with the guest
        hp = pool["hugetlb"]["2M"]
        assert hp["nr_hugepages"] == 32 and hp["page_bytes"] == 2 << 20, pool
        assert hp["nr_hugepages"] - hp["free_hugepages"] == pages, (hp, s2)
        assert hp["held_bytes"] == pages * (2 << 20), hp
        assert snap["free"] == before - pages
        # a gpa of h: a 2 MiB leaf over a pfn past the normal frames
        t = control(sock, {"cmd": "translate", "guest": "h", "gpa": 20 << 20})
        assert t["ok"] and t["present"] and t["order"] == 9 and t["pfn"] >= pool["nr_frames"], t
        chk = control(sock, {"cmd": "check"})
        assert chk["ok"] and chk["problems"] == 0, chk["report"]
        # a stopped guest gives every page back at once, punched
        assert control(sock, {"cmd": "stop", "guest": "h"})["ok"]
        assert wait_for(lambda: control(sock, {"cmd": "pool"})["pool"]["hugetlb"]["2M"]["free_hugepages"] == 32)
        hp = control(sock, {"cmd": "pool"})["pool"]["hugetlb"]["2M"]
        assert hp["held_bytes"] == 0 and hp["frees"] == hp["allocs"] == pages and hp["free_refused"] == 0, hp
        assert sysfs("2M", "free_hugepages") == before
        assert control(sock, {"cmd": "stat", "guest": "b"})["stat"]["state"] == "running"
    finally:
        for n in ("h", "b"):
            control(sock, {"cmd": "stop", "guest": n})
        finish(proc)
    assert sysfs("2M", "free_hugepages") == before


def test_prefault_maps_all_ram_in_hugetlb_pages(accel, reserve_hugepages, tmp_path):
    reserve_hugepages("2M", 32)
    run = run_config(tmp_path, {"accel": accel}, [
        dict(name="p", mem="64M", prefault=1, hugepages="2M", cmdline="workload=touch size=32M verify=1")])
    g = run.guests["p"]
    assert g["exit_code"] == 0 and g["verify_failures"] == 0, run
    s2 = g["stage2"]
    hugetlb_only(s2)
    assert s2["prefault_pages"] == 64 * 256 and s2["fault_hugetlb"] == 32, s2


def test_exhausted_hugetlb_region_stops_that_guest_with_a_clear_message(accel, reserve_hugepages, tmp_path):
    reserve_hugepages("2M", 4)
    run = run_config(tmp_path, {"accel": accel, "pool": {"hugetlb_2m": "8M"}}, [
        dict(name="big", mem="64M", hugepages="2M", cmdline="workload=touch size=48M verify=1"),
        dict(name="small", mem="32M", cmdline="workload=touch size=16M verify=1")])
    big, small = run.guests["big"], run.guests["small"]
    assert big["state"] == "stopped", run
    assert "out of memory: no free 2M hugetlb page for gpa" in big["stop_reason"], run
    assert big["stage2"]["oom"] >= 1 and big["stage2"]["ept_present_4k"] == 0, big["stage2"]
    assert small["exit_code"] == 0 and small["verify_failures"] == 0, run
    assert run.returncode == 1


def test_too_few_kernel_pages_is_refused_at_start_naming_the_sysfs_file(tmp_path):
    if not os.path.isdir(SYSFS["2M"]):
        pytest.skip(f"the kernel has no 2M hugetlb pages ({SYSFS['2M']} is missing)")
    run = run_config(tmp_path, {"pool": {"hugetlb_2m": "1T"}}, [
        dict(name="h", mem="64M", hugepages="2M", cmdline="workload=touch size=8M")])
    assert run.returncode == 2 and not run.guests, run
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("gmm: host.pool.hugetlb_2m: needs 524288 free 2M hugetlb pages"), line
    assert f"> {SYSFS['2M']}/nr_hugepages" in line, line


def test_hugepages_config_errors_name_the_field(tmp_path):
    run = run_config(tmp_path, {}, [dict(name="h", mem="65M", hugepages="2M")])
    assert run.returncode == 2 and "guests[0].mem: 65M must be whole 2M pages" in run.stderr, run
    run = run_config(tmp_path, {}, [dict(name="h", mem="64M", hugepages="2M", backend="anon")])
    assert run.returncode == 2 and "guests[0].hugepages: 2M needs backend pool" in run.stderr, run
    run = run_config(tmp_path, {}, [dict(name="h", mem="64M", hugepages="16K")])
    assert run.returncode == 2 and "must be none, 2M or 1G" in run.stderr, run


def test_1g_guest_is_one_host_pud_mapping_and_512_ept_leaves(accel, reserve_hugepages, tmp_path):
    reserve_hugepages("1G", 1)
    before = sysfs("1G", "free_hugepages")
    sock = str(tmp_path / "c.sock")
    proc = start(["--accel", accel, "--control", sock, "--guest",
                  guest_spec("g", mem="1G", hugepages="1G", cmdline="workload=hog size=64M print_every=3600")])
    try:
        assert wait_for(lambda: os.path.exists(sock))
        assert wait_for(lambda: control(sock, {"cmd": "stat", "guest": "g"})["stat"]["stage2"]
                        ["resident_frames"] == 1 << 18, timeout=60)
        s2 = control(sock, {"cmd": "stat", "guest": "g"})["stat"]["stage2"]
        hugetlb_only(s2)
        assert s2["fault_hugetlb"] == 1 and s2["ept_present_2m"] == 512, s2
        kb, sizes = window_hugetlb(proc.pid, s2["window"])
        assert kb == 1 << 20 and sizes == {1 << 20}, (kb, sizes)
        hp = control(sock, {"cmd": "pool"})["pool"]["hugetlb"]["1G"]
        assert hp["nr_hugepages"] == 1 and hp["free_hugepages"] == 0 and hp["held_bytes"] == 1 << 30, hp
        assert sysfs("1G", "free_hugepages") == before - 1
        t = control(sock, {"cmd": "translate", "guest": "g", "gpa": (512 << 20) + 4096})
        assert t["ok"] and t["order"] == 9, t
        chk = control(sock, {"cmd": "check"})
        assert chk["ok"] and chk["problems"] == 0, chk["report"]
    finally:
        control(sock, {"cmd": "stop", "guest": "g"})
        finish(proc)
    assert sysfs("1G", "free_hugepages") == before


def test_1g_guest_verifies_its_pages(accel, reserve_hugepages, tmp_path):
    reserve_hugepages("1G", 1)
    run = run_config(tmp_path, {"accel": accel}, [
        dict(name="g", mem="1G", hugepages="1G", vcpus=2, cmdline="workload=touch size=64M verify=1")])
    g = run.guests["g"]
    assert g["exit_code"] == 0 and g["verify_failures"] == 0 and g["pages_touched"] == 64 * 256, run
    s2 = g["stage2"]
    hugetlb_only(s2)
    assert s2["fault_hugetlb"] == 1 and s2["resident_frames"] == 1 << 18, s2


def test_write_tracking_reports_a_hugetlb_guests_writes(accel, reserve_hugepages, tmp_path):
    # uffd-wp protects a hugetlb page whole, so native reports a written
    # 2 MiB page as 512 pages; KVM's dirty log reports 4 KiB pages
    reserve_hugepages("2M", 32)
    sock = str(tmp_path / "c.sock")
    proc = start(["--accel", accel, "--control", sock, "--guest",
                  guest_spec("h", mem="64M", hugepages="2M", dirty_log=1,
                             cmdline="workload=random size=32M iters=4000000000 write_pct=0")])
    try:
        assert wait_for(lambda: os.path.exists(sock))
        seen = 0

        def harvested_the_prefill():
            nonlocal seen
            r = control(sock, {"cmd": "dirty_log", "guest": "h", "op": "harvest"})
            assert r["ok"], r
            seen += r["pages"]
            return seen >= 32 * 256
        assert wait_for(harvested_the_prefill, timeout=60, step=0.2), seen
        control(sock, {"cmd": "dirty_log", "guest": "h", "op": "harvest"})
        r = control(sock, {"cmd": "dirty_log", "guest": "h", "op": "harvest", "runs": True})
        assert r["ok"] and r["pages"] <= 2 * 512, r
        t = control(sock, {"cmd": "translate", "guest": "h", "gpa": 32 << 20})
        assert t["ok"] and t["order"] == 9 and "dirty" in t["frame_flags"], t
    finally:
        control(sock, {"cmd": "stop", "guest": "h"})
        run = finish(proc)
    hugetlb_only(run.guests["h"]["stage2"])
