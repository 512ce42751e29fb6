"""The OOM killer (docs/oom.md): when the pool cannot back a fault even
after reclaim, the guest whose stop frees the most is stopped with a
report, every other guest runs on with its data intact, and
oom_score_adj=-1000 guests are never chosen."""
import json

from conftest import gmm_finish, gmm_start


def run(tmp_path, accel, guests, swap="4M", timeout="30"):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"host": {"accel": accel, "pool": {"size": "64M", "reserve": "4M"},
                                        "swap": {"path": str(tmp_path / "swapfile"), "size": swap}},
                               "guests": guests}))
    return gmm_finish(gmm_start(["--config", str(cfg), "--timeout", timeout]), timeout=120)


def test_the_biggest_guest_is_killed_and_the_other_keeps_its_data(accel, tmp_path):
    r = run(tmp_path, accel, [
        dict(name="small", mem="32M", thp="never",
             cmdline="workload=random size=12M iters=20000000 write_pct=50 verify=1 verify_every=2000000"),
        dict(name="big", mem="128M", thp="never", cmdline="workload=hog size=120M print_every=3600")])
    for g in r.guests.values():
        assert g["accel"] in ("kvm", "native")
    big, small = r.guests["big"], r.guests["small"]
    assert big["state"] == "stopped" and "OOM killer" in big["stop_reason"], r
    assert small["exit_code"] == 0 and small["verify_failures"] == 0, r
    assert "oom-kill: killed guest big" in r.stderr, r
    # the report lists every running guest
    assert "oom-kill: [" in r.stderr and " small" in r.stderr, r


def test_oom_score_adj_minus_1000_is_never_chosen(accel, tmp_path):
    r = run(tmp_path, accel, [
        dict(name="small", mem="48M", thp="never", cmdline="workload=hog size=40M print_every=3600"),
        dict(name="big", mem="128M", thp="never", oom_score_adj=-1000,
             cmdline="workload=hog size=120M print_every=3600")])
    big, small = r.guests["big"], r.guests["small"]
    assert "OOM killer" in small["stop_reason"], r
    assert "OOM killer" not in big["stop_reason"], r
    assert "killed guest big" not in r.stderr, r
