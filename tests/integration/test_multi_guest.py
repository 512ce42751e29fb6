"""Several guests in one gmm process: one stops, crashes or misbehaves and
the others go on undisturbed."""
import os
import stat
import time

from conftest import control, gmm_finish, gmm_start, guest_spec, wait_for


start, finish = gmm_start, gmm_finish


def test_two_guests_one_stopped_by_control_the_other_finishes(accel, tmp_path):
    sock = str(tmp_path / "control.sock")
    proc = start(["--accel", accel, "--control", sock,
                  "--guest", guest_spec("hog", mem="64M", cmdline="workload=hog"),
                  "--guest", guest_spec("worker", mem="96M", vcpus=2,
                                        cmdline="workload=zipf size=32M iters=3000000 verify=1")])
    assert wait_for(lambda: os.path.exists(sock)), "control socket never appeared"
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    listed = wait_for(lambda: control(sock, {"cmd": "list"}))
    assert listed["ok"] and {g["guest"] for g in listed["guests"]} == {"hog", "worker"}
    st = control(sock, {"cmd": "stat", "guest": "hog"})
    assert st["ok"] and st["stat"]["state"] == "running", st
    assert control(sock, {"cmd": "stop", "guest": "hog"})["ok"]
    run = finish(proc)
    assert run.guests["hog"]["state"] == "stopped", run
    assert run.guests["hog"]["stop_reason"] == "stopped by control request"
    w = run.guests["worker"]
    assert w["state"] == "exited" and w["exit_code"] == 0 and w["verify_failures"] == 0, run


def test_crashing_guest_gets_a_capstone_report_and_others_continue(accel):
    for kind, what in [("ud", "#UD"), ("pf", "#PF"), ("gp", "#GP"), ("div", "#DE")]:
        proc = start(["--accel", accel,
                      "--guest", guest_spec("crasher", cmdline=f"workload=crash kind={kind}"),
                      "--guest", guest_spec("ok", mem="96M", cmdline="workload=touch size=32M verify=1")])
        run = finish(proc)
        c = run.guests["crasher"]
        assert c["state"] == "crashed", run
        assert what in c["stop_reason"], run
        assert f"guest 'crasher' vCPU 0 crashed ({accel})" in run.stderr, run
        assert "RIP:" in run.stderr and "<-- rip" in run.stderr, run  # registers + disassembly
        ok = run.guests["ok"]
        assert ok["state"] == "exited" and ok["exit_code"] == 0 and ok["verify_failures"] == 0, run


def test_garbage_to_ports_and_mmio_is_counted_and_ignored(accel):
    proc = start(["--accel", accel,
                  "--guest", guest_spec("garbage", cmdline="workload=garbage"),
                  "--guest", guest_spec("ok", mem="96M", cmdline="workload=random size=32M iters=100000 verify=1")])
    run = finish(proc)
    g = run.guests["garbage"]
    assert g["state"] == "exited" and g["exit_code"] == 0, run
    assert g["pio_unhandled"] > 0 and g["mmio_unhandled"] > 0, run
    assert run.guests["ok"]["verify_failures"] == 0 and run.guests["ok"]["exit_code"] == 0, run


def test_sigterm_stops_every_guest_cleanly(accel):
    proc = start(["--accel", accel, "--guest", guest_spec("a", cmdline="workload=hog"),
                  "--guest", guest_spec("b", cmdline="workload=hog")])
    time.sleep(1.0)
    proc.terminate()
    run = finish(proc, timeout=30)
    assert {g["state"] for g in run.guests.values()} == {"stopped"}, run
    assert all(g["stop_reason"] == "interrupted" for g in run.guests.values()), run
