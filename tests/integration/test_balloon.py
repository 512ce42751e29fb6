"""virtio-balloon (docs/balloon.md): a real test guest's driver inflates
and deflates through gmm's virtio-mmio device while the host watches the
pool; statistics, free page reporting, deflate-on-OOM and the host's
auto mode (balloon before swap). Every run verifies the guest's data."""
import json
import os
import subprocess

import pytest

from conftest import ENV, GMM, GUEST, control, gmm_finish, gmm_start, wait_for

MB = 1 << 20
NO_REPORTING = "0x6"  # STATS_VQ | DEFLATE_ON_OOM: freed memory stays with the guest


def start(tmp_path, accel, guests, pool="1G", swap=None):
    sock = str(tmp_path / "c.sock")
    host = {"accel": accel, "control": sock, "pool": {"size": pool}}
    if swap:
        host["swap"] = {"path": str(tmp_path / "swapfile"), "size": swap}
    for g in guests:
        g.setdefault("kernel", GUEST)
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"host": host, "guests": guests}))
    proc = gmm_start(["--config", str(cfg), "--timeout", "120"])
    assert wait_for(lambda: os.path.exists(sock)), proc
    return proc, sock


def pool(sock):
    return control(sock, {"cmd": "pool"})["pool"]


def balloon(sock, name, **settings):
    req = {"cmd": "balloon", "guest": name}
    if settings:
        req["set"] = settings
    r = control(sock, req, timeout=10)
    assert r["ok"], r
    return r


def active(sock, name):
    b = control(sock, {"cmd": "balloon", "guest": name})
    return b if b.get("ok") and b["active"] and b["guest_stats"] else None


def reach(sock, name, target_bytes, timeout=60):
    balloon(sock, name, target=target_bytes)
    return wait_for(lambda: (lambda b: b if b["actual_bytes"] == target_bytes else None)(
        balloon(sock, name)), timeout=timeout)


@pytest.mark.parametrize("thp", ["never", "always"])
def test_inflating_256m_gives_it_back_to_the_pool_and_deflating_gives_it_back_to_the_guest(accel, tmp_path, thp):
    # prefault: all 512M resident at start, so ballooned memory is memory
    # the host gets back; grow= after the hold needs the deflated pages
    proc, sock = start(tmp_path, accel, [dict(
        name="g", mem="512M", vcpus=2, thp=thp, prefault=1, balloon={"enabled": 1, "stats_period": 1},
        cmdline=f"workload=touch size=128M verify=1 hold=12 grow=300M balloon=1 balloon_features={NO_REPORTING}")])
    try:
        assert wait_for(lambda: active(sock, "g"), timeout=30)
        before = pool(sock)
        # a 2 MiB frame ballooned in part (the last MiB): split, not kept
        target = 256 * MB + (MB if thp == "always" else 0)
        b = reach(sock, "g", target)
        assert b, balloon(sock, "g")
        assert wait_for(lambda: balloon(sock, "g")["stage2"]["balloon_pending_pages"] == 0, timeout=10)
        after = pool(sock)
        # the zeroed reserve refills from what was freed: not the guest's
        freed = (before["allocated_frames"] - after["allocated_frames"]) * 4096 + \
            after["reserve_bytes"] - before["reserve_bytes"]
        held = before["held_bytes"] - after["held_bytes"] + after["reserve_bytes"] - before["reserve_bytes"]
        # the buddy and the pool file agree: that much really went back
        assert target - 4 * MB <= freed <= target + 4 * MB, (before, after)
        assert target - 4 * MB <= held <= target + 4 * MB, (before, after)
        b = balloon(sock, "g", refresh=1)
        s2 = b["stage2"]
        assert s2["ept_ballooned_pages"] == target // 4096, s2
        assert b["device"]["bad_pfns"] == 0 and b["device"]["bad_chains"] == 0, b
        if thp == "always":
            assert s2["balloon_huge_whole"] >= 120, s2   # freed whole, unsplit
            assert s2["balloon_huge_split"] >= 1, s2     # the partial one
        # the guest's own figures, through the stats queue
        gs = b["guest_stats"]
        assert gs["total_memory"] == 512 * MB, gs
        assert gs["free_memory"] < 512 * MB - 128 * MB - target + 8 * MB, gs
        cli = subprocess.run([GMM, "balloon", "g", "--control", sock, "--json"],
                             capture_output=True, text=True, env=ENV, timeout=30)
        assert cli.returncode == 0 and json.loads(cli.stdout)["actual_bytes"] == target, cli
        # deflate: the pages are the guest's again (grow= uses them below)
        assert reach(sock, "g", 0)
        s2 = balloon(sock, "g")["stage2"]
        assert s2["ept_ballooned_pages"] == 0 and s2["balloon_deflate"] == target // 4096, s2
        assert control(sock, {"cmd": "check"})["problems"] == 0
    finally:
        run = gmm_finish(proc, timeout=120)
    g = run.guests["g"]
    assert g["exit_code"] == 0 and g["verify_failures"] == 0, run
    r = g["results"]
    assert r["grow_pages"] == 300 * 256 and r["grow_oom_pages"] == 0, r
    assert r["balloon_oom_deflated"] == 0, r   # deflate gave the memory back, not OOM


def test_free_page_reporting_returns_what_the_guest_freed(accel, tmp_path):
    proc, sock = start(tmp_path, accel, [dict(
        name="g", mem="512M", vcpus=2, thp="never", balloon={"enabled": 1},
        cmdline="workload=touch size=256M verify=1 free=1 hold=10 balloon=1")])
    try:
        def reported():
            s2 = balloon(sock, "g")["stage2"]
            return s2 if s2["free_page_report_freed"] >= 240 * 256 else None
        s2 = wait_for(reported, timeout=60)
        assert s2, balloon(sock, "g")
        assert s2["resident_bytes"] < 32 * MB, s2   # the 256M the guest freed went back
        assert s2["ept_ballooned_pages"] == 0, s2   # reported, not ballooned: still the guest's
    finally:
        run = gmm_finish(proc, timeout=120)
    g = run.guests["g"]
    assert g["exit_code"] == 0 and g["verify_failures"] == 0, run
    r = g["results"]
    assert r["freed_pages"] == 256 * 256 and r["balloon_reported_pages"] >= 240 * 256, r


@pytest.mark.parametrize("features", [NO_REPORTING, "0x2"])
def test_deflate_on_oom_gives_pages_back_before_the_guest_runs_out(accel, tmp_path, features):
    proc, sock = start(tmp_path, accel, [dict(
        name="g", mem="256M", vcpus=2, thp="never", balloon={"enabled": 1},
        cmdline=f"workload=touch size=32M verify=1 hold=6 grow=200M balloon=1 balloon_features={features}")])
    try:
        assert wait_for(lambda: active(sock, "g"), timeout=30)
        assert reach(sock, "g", 160 * MB)
    finally:
        run = gmm_finish(proc, timeout=120)
    g = run.guests["g"]
    assert g["exit_code"] == 0 and g["verify_failures"] == 0, run
    r = g["results"]
    if features == NO_REPORTING:   # DEFLATE_ON_OOM negotiated
        assert r["balloon_oom_deflated"] > 0 and r["grow_oom_pages"] == 0, r
    else:                          # not negotiated: the balloon keeps its pages
        assert r["balloon_oom_deflated"] == 0 and r["grow_oom_pages"] > 0, r


@pytest.mark.parametrize("auto", [1, 0])
def test_auto_mode_balloons_idle_memory_before_anything_is_swapped(accel, tmp_path, auto):
    # "idle" used 300M and freed it (no reporting: the host still holds
    # it); "grower" then needs 320M of a 512M pool
    proc, sock = start(tmp_path, accel, [
        dict(name="idle", mem="512M", vcpus=2, thp="never",
             balloon={"enabled": 1, "stats_period": 1, "auto": auto},
             cmdline=f"workload=touch size=300M verify=1 free=1 hold=20 balloon=1 balloon_features={NO_REPORTING}"),
        dict(name="grower", mem="512M", thp="never",
             cmdline="workload=touch size=8M verify=1 hold=4 grow=320M")],
        pool="512M", swap="1G")
    deflated = None
    try:
        if auto:
            # once the grower is gone the pressure is too: what the
            # policy inflated is given back to the idle guest. If gmm
            # ends first (the idle guest's hold ran out), that is reported
            # below with the run's output and the policy's last counters,
            # not as a missing socket
            last = {}

            def gave_back():
                try:
                    last["pool"] = pool(sock)
                    last["policy"] = last["pool"]["balloon_policy"]
                except OSError:
                    return "gone"
                return last["policy"] if last["policy"]["balloon_auto_deflate_pages"] > 0 else None
            deflated = wait_for(gave_back, timeout=60)
            if deflated == "gone":
                deflated = ("gmm ended first; the policy last said", last.get("policy"))
    finally:
        run = gmm_finish(proc, timeout=120)
    idle, grower = run.guests["idle"], run.guests["grower"]
    for g in (idle, grower):
        assert g["exit_code"] == 0 and g["verify_failures"] == 0, run
    swapped = idle["stage2"]["pswpout"] + grower["stage2"]["pswpout"]
    if auto:
        # direct reclaim of 1024 pages a time, in one clean-clone run:
        # swapped 11218 while kswapd's balloon filled the node. This
        # failed once in about 50 runs (2026-12-04) with the policy's
        # counters cut off by pytest's truncation: the whole run goes to
        # stdout, which pytest shows whole, and the message stays short
        # enough that the counters survive; the pool's last figures
        # (the policy's, kswapd's, direct reclaim's) are printed whole too
        if swapped:
            print(json.dumps(run.guests, indent=1), run.host, sep="\n")
            print("pool when the policy gave back:", json.dumps(last.get("pool"), indent=1))
        assert swapped == 0, ({g: run.guests[g]["stage2"]["pswpout"] for g in run.guests}, "policy:", deflated)
        assert idle["stage2"]["balloon_freed"] >= 64 * 256, idle["stage2"]
        assert isinstance(deflated, dict), (deflated, run)
    else:
        assert swapped > 0, run   # the same load without the balloon swaps


def test_balloon_requests_are_checked(accel, tmp_path):
    proc, sock = start(tmp_path, accel, [
        dict(name="g", mem="128M", vcpus=2, balloon={"enabled": 1},
             cmdline="workload=touch size=16M hold=4 balloon=1"),
        dict(name="plain", mem="64M", cmdline="workload=touch size=8M hold=4")])
    try:
        assert wait_for(lambda: active(sock, "g"), timeout=30)
        for bad in ({"target": "1G"}, {"target": "lots"}, {"colour": 1}, {"auto": 5}, {"stats_period": -1}, []):
            r = control(sock, {"cmd": "balloon", "guest": "g", "set": bad})
            assert not r["ok"] and r["error"], (bad, r)
        r = control(sock, {"cmd": "balloon", "guest": "plain"})
        assert not r["ok"] and "no balloon device" in r["error"], r
        r = control(sock, {"cmd": "balloon", "guest": "nobody"})
        assert not r["ok"] and r["error"] == "no such guest", r
        assert balloon(sock, "g", guest_mem="96M")["target_bytes"] == 32 * MB
    finally:
        run = gmm_finish(proc, timeout=60)
    assert run.guests["g"]["exit_code"] == 0 and run.guests["plain"]["exit_code"] == 0, run
