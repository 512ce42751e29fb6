"""Write tracking (docs/write-tracking.md): the pages a running guest
writes come back from a harvest, once, and their frames are marked dirty
and referenced; KVM's dirty log under KVM, userfaultfd write-protect under
native, the same interface and the same answers."""
import os
import subprocess
import time

from conftest import ENV, GMM, control, gmm_finish, gmm_start, guest_spec, wait_for

MODE = {"kvm": "kvm-dirty-log", "native": "uffd-wp"}


def start(tmp_path, accel, cmdline, **extra):
    sock = str(tmp_path / "c.sock")
    proc = gmm_start(["--accel", accel, "--control", sock,
                      "--guest", guest_spec("g", mem="64M", cmdline=cmdline, **extra)])
    assert wait_for(lambda: os.path.exists(sock)), "control socket never appeared"
    return proc, sock


def finish(proc, sock=None, timeout=120):
    if sock:
        control(sock, {"cmd": "stop", "guest": "g"})
    return gmm_finish(proc, timeout)


def dirty_log(sock, op, **kw):
    return control(sock, dict(cmd="dirty_log", guest="g", op=op, **kw), timeout=30)


def test_a_harvest_reports_each_written_page_once_and_marks_its_frame_dirty(accel, tmp_path):
    # 32 MiB written once by the prefill, then only read
    proc, sock = start(tmp_path, accel, "workload=random size=32M iters=4000000000 write_pct=0",
                       dirty_log=1, thp="never")
    try:
        seen, runs, harvests = 0, [], 0

        def harvested_the_prefill():
            nonlocal seen, harvests
            r = dirty_log(sock, "harvest", runs=True)
            assert r["ok"] and r["mode"] == MODE[accel], r
            harvests += 1
            seen += r["pages"]
            runs.extend(r["runs"])
            return seen >= 32 * 256
        assert wait_for(harvested_the_prefill, timeout=60, step=0.2), seen
        time.sleep(0.3)  # the prefill's last writes land in one more harvest
        dirty_log(sock, "harvest")
        harvests += 1
        # reading only now: nothing but a page or two of the guest's own state
        for _ in range(3):
            time.sleep(0.3)
            r = dirty_log(sock, "harvest")
            harvests += 1
            assert r["ok"] and r["pages"] <= 8, r
        # the pages the harvest named are the guest's, and dirty now
        gpas = [gpa + 4096 * (n // 2) for gpa, n in runs[:: max(1, len(runs) // 16)]]
        for gpa in gpas:
            t = control(sock, {"cmd": "translate", "guest": "g", "gpa": gpa})
            assert t["ok"] and t["present"], t
            assert "dirty" in t["frame_flags"] and "referenced" in t["frame_flags"], t
        st = dirty_log(sock, "status")
        assert st["mode"] == MODE[accel] and st["harvests"] == harvests, st
    finally:
        run = finish(proc, sock)
    s2 = run.guests["g"]["stage2"]
    assert s2["dirty_harvests"] == harvests and s2["dirty_pages"] >= 32 * 256, s2


def test_a_guest_writing_all_the_time_is_seen_writing_in_every_harvest(accel, tmp_path):
    proc, sock = start(tmp_path, accel, "workload=random size=8M iters=4000000000 write_pct=100",
                       dirty_log=1, thp="always")
    try:
        time.sleep(1)
        dirty_log(sock, "harvest")
        for _ in range(3):
            time.sleep(0.3)
            r = dirty_log(sock, "harvest", runs=True)
            # random writes over 2048 pages at millions of ops/s touch most
            assert r["ok"] and r["pages"] >= 1024, r
            assert all(n >= 1 for _, n in r["runs"]), r
    finally:
        finish(proc, sock)


def test_tracking_starts_and_stops_on_request_and_refuses_nonsense(accel, tmp_path):
    proc, sock = start(tmp_path, accel, "workload=random size=8M iters=4000000000 write_pct=50")
    try:
        r = dirty_log(sock, "harvest")
        assert not r["ok"] and "off" in r["error"], r
        assert dirty_log(sock, "status")["mode"] == "off"
        r = dirty_log(sock, "start")
        assert r["ok"] and r["mode"] == MODE[accel], r
        r = dirty_log(sock, "start")
        assert not r["ok"] and "already" in r["error"], r
        time.sleep(0.3)
        assert dirty_log(sock, "harvest")["pages"] > 0
        r = dirty_log(sock, "frobnicate")
        assert not r["ok"] and "op" in r["error"], r
        r = control(sock, {"cmd": "dirty_log", "guest": "nosuch", "op": "start"})
        assert not r["ok"], r
        assert dirty_log(sock, "stop")["ok"]
        r = dirty_log(sock, "stop")
        assert not r["ok"] and "off" in r["error"], r
        cli = subprocess.run([GMM, "dirty-log", "g", "harvest", "--control", sock], capture_output=True,
                             text=True, env=ENV, timeout=30)
        assert cli.returncode == 1 and "write tracking is off" in cli.stderr, cli
        # on again after a stop: writes are seen again
        assert dirty_log(sock, "start")["ok"]
        time.sleep(0.3)
        cli = subprocess.run([GMM, "dirty-log", "g", "harvest", "--control", sock, "--json"],
                             capture_output=True, text=True, env=ENV, timeout=30)
        assert cli.returncode == 0 and '"pages"' in cli.stdout, cli
    finally:
        run = finish(proc, sock)
    assert run.guests["g"]["stage2"]["dirty_harvests"] == 2, run


def test_no_page_is_lost_while_harvests_run_beside_faults_and_collapses(accel, tmp_path):
    # zipf with verify passes while khugepaged collapses and a harvest
    # write-protects the whole guest every 50 ms
    proc, sock = start(tmp_path, accel, "workload=zipf size=32M iters=30000000 verify=1 verify_every=3000000",
                       dirty_log=1, thp="madvise")
    harvests = 0
    while proc.poll() is None:
        try:
            r = dirty_log(sock, "harvest")
        except (ConnectionRefusedError, FileNotFoundError):
            break  # gmm is stopping: the guest has ended (checked below)
        if not r or not r.get("ok"):
            break
        harvests += 1
        time.sleep(0.05)
    run = finish(proc)
    g = run.guests["g"]
    assert g["exit_code"] == 0 and g["verify_failures"] == 0 and g["results"]["verify_passes"] > 1, run
    s2 = g["stage2"]
    assert harvests >= 3 and s2["dirty_harvests"] >= 3, (harvests, s2)
    assert s2["thp_collapse_inplace"] + s2["thp_collapse_alloc"] >= 1, s2
