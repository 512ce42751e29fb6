"""Boot the test guest and check what it saw: every workload with 1 and 2
vCPUs on every accelerator, verify on, pages touched as asked."""
import pytest

from conftest import gmm_run, guest_spec

SIZE_MB = 32
PAGES = SIZE_MB * 256

WORKLOADS = {
    "touch": f"workload=touch size={SIZE_MB}M verify=1",
    "random": f"workload=random size={SIZE_MB}M iters=200000 verify=1",
    "zipf": f"workload=zipf size={SIZE_MB}M iters=200000 theta=0.99 verify=1",
}


@pytest.mark.parametrize("vcpus", [1, 2])
@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_workload_runs_verified_on_each_accelerator(accel, workload, vcpus):
    run = gmm_run(["--accel", accel, "--guest",
                   guest_spec("w", mem="96M", vcpus=vcpus, cmdline=WORKLOADS[workload])])
    assert run.returncode == 0, run
    g = run.guests["w"]
    assert g["accel"] == accel
    assert g["state"] == "exited", run
    assert g["exit_code"] == 0, run
    assert g["verify_failures"] == 0, run
    assert g["pages_touched"] == PAGES, run
    assert g["ops_per_sec"] > 0, run
    assert g["results"]["vcpus"] == vcpus, run
    assert g["peak_rss_bytes"] >= PAGES * 4096, run
    assert g["run_seconds"] > 0


@pytest.mark.parametrize("vcpus", [1, 2])
def test_hog_keeps_touching_until_stopped(accel, vcpus):
    run = gmm_run(["--accel", accel, "--timeout", "1.5", "--guest",
                   guest_spec("hog", mem="64M", vcpus=vcpus, cmdline="workload=hog")])
    g = run.guests["hog"]
    assert g["state"] == "stopped", run
    assert g["stop_reason"] == "timeout", run
    assert run.returncode == 1, run  # a guest that did not exit 0
    # it touched all its free RAM (it wraps around and goes on)
    assert g["peak_rss_bytes"] > 48 << 20, run


@pytest.mark.parametrize("workload", ["random", "zipf"])
def test_duration_ends_the_ops_of_a_run_too_long_to_finish(accel, workload):
    # 10^15 ops would take days: duration=1 stops them after a second,
    # then the closing verify pass still checks every page
    run = gmm_run(["--accel", accel, "--guest",
                   guest_spec("d", mem="96M", vcpus=2,
                              cmdline=f"workload={workload} size={SIZE_MB}M iters=1000000G duration=1 verify=1")])
    g = run.guests["d"]
    assert g["exit_code"] == 0 and g["verify_failures"] == 0, run
    r = g["results"]
    assert r["duration"] == 1 and r["iters"] == 10**15, r
    assert 0 < r["ops"] < r["iters"], r
    assert 1.0 <= r["seconds"] < 3.0, r
    assert g["pages_touched"] == PAGES, run


def test_bad_command_line_exits_with_the_guest_code(accel):
    run = gmm_run(["--accel", accel, "--guest", guest_spec("b", cmdline="workload=nosuch")])
    g = run.guests["b"]
    assert g["state"] == "exited"
    assert g["exit_code"] == 3, run  # GMM_EXIT_BAD_CMDLINE
    assert run.returncode == 1


def test_guest_above_the_device_hole_boots(accel):
    # 3.25 GiB: RAM continues at 4 GiB; the workload stays low, but memslots,
    # page tables and the window must cover both sides.
    run = gmm_run(["--accel", accel, "--guest",
                   guest_spec("big", mem="3328M", cmdline="workload=touch size=16M verify=1")])
    assert run.guests["big"]["exit_code"] == 0, run
    assert run.guests["big"]["verify_failures"] == 0, run


def test_verify_catches_corrupted_pages(accel):
    # corrupt=N flips N words behind the workload's back: verify must report
    # exactly those, and the guest must fail (the check can fail).
    run = gmm_run(["--accel", accel, "--guest",
                   guest_spec("c", mem="96M", cmdline=f"workload=random size={SIZE_MB}M iters=10000 verify=1 corrupt=3")])
    g = run.guests["c"]
    assert g["verify_failures"] == 3, run
    assert g["exit_code"] == 2, run  # GMM_EXIT_VERIFY_FAILED
    assert run.returncode == 1


def test_ioexit_measures_the_port_io_round_trip(accel):
    run = gmm_run(["--accel", accel, "--guest", guest_spec("io", cmdline="workload=ioexit iters=5000")])
    g = run.guests["io"]
    assert g["exit_code"] == 0, run
    assert g["exits_io"] >= 5000, run
    assert 0 < g["results"]["io_exit_us"] < 1000, run
