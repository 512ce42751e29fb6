"""Per-guest limits (docs/limits.md): a guest at its memory.max is
reclaimed into swap and, when it keeps growing, only it is stopped;
memory.high throttles; limits change at run time through the control
socket and take effect at once."""
import json
import os
import subprocess

from conftest import ENV, GMM, control, gmm_finish, gmm_start, wait_for


def start(tmp_path, accel, guests, swap="256M"):
    sock = str(tmp_path / "c.sock")
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"host": {"accel": accel, "control": sock, "pool": {"size": "256M"},
                                        "swap": {"path": str(tmp_path / "swapfile"), "size": swap}},
                               "guests": guests}))
    proc = gmm_start(["--config", str(cfg), "--timeout", "60"])
    assert wait_for(lambda: os.path.exists(sock))
    return proc, sock


def test_a_guest_at_its_max_is_reclaimed_and_only_it_is_stopped_when_it_grows(accel, tmp_path):
    proc, sock = start(tmp_path, accel, [
        dict(name="capped", mem="128M", thp="never", limits={"max": "32M", "swap_max": "16M"},
             cmdline="workload=hog size=120M print_every=3600"),
        dict(name="other", mem="64M", thp="never",
             cmdline="workload=random size=32M iters=30000000 write_pct=50 verify=1 verify_every=3000000")])
    run = gmm_finish(proc, timeout=120)
    capped, other = run.guests["capped"], run.guests["other"]
    assert capped["state"] == "stopped" and "limits.max" in capped["stop_reason"], run
    s2 = capped["stage2"]
    assert s2["peak_resident_frames"] <= 32 * 256 + 512, s2   # a fault maps up to 2 MiB past the line
    assert s2["memory_events_max"] > 0 and s2["memory_events_oom_kill"] == 1, s2
    assert s2["memory_swap_events_max"] > 0 and s2["pswpout"] > 0, s2
    assert other["exit_code"] == 0 and other["verify_failures"] == 0, run
    assert "oom-kill" not in run.stderr, run  # the pool itself never ran short


def test_limits_change_at_run_time(accel, tmp_path):
    proc, sock = start(tmp_path, accel, [
        dict(name="g", mem="128M", thp="never",
             cmdline="workload=random size=96M iters=4000000000 write_pct=10 verify=1 verify_every=20000000")])
    try:
        def settled():
            s = control(sock, {"cmd": "stat", "guest": "g"})["stat"]["stage2"]
            return s if s["resident_frames"] > 90 * 256 else None
        assert wait_for(settled, timeout=60)
        r = control(sock, {"cmd": "limits", "guest": "g", "set": {"high": "48M"}})
        assert r["ok"] and r["limits"]["high"] == 48 << 20 and r["limits"]["max"] is None, r
        # writing high below the usage reclaims at once
        assert r["current_bytes"] <= (48 << 20) + (2 << 20), r
        assert r["swap_current_bytes"] > 0, r
        # memory.stat: the lists add up to anon, reclaim's counters beside them
        st = r["stat"]
        assert st["inactive_anon"] + st["active_anon"] + st["unevictable"] == st["anon"], st
        assert st["pswpout"] > 0 and st["pgsteal"] > 0 and st["swap"] == r["swap_current_bytes"], st
        # and the guest stays near it while it runs (high throttles)
        st = control(sock, {"cmd": "stat", "guest": "g"})["stat"]["stage2"]
        assert st["resident_frames"] <= 52 * 256, st
        cli = subprocess.run([GMM, "limits", "g", "high=none", "--control", sock, "--json"],
                             capture_output=True, text=True, env=ENV, timeout=30)
        assert cli.returncode == 0 and '"high":null' in cli.stdout, cli
        for bad in ({"max": "1K"}, {"colour": "1M"}, {"max": "lots"}, []):
            r = control(sock, {"cmd": "limits", "guest": "g", "set": bad})
            assert not r["ok"], (bad, r)
        assert control(sock, {"cmd": "check"})["problems"] == 0
    finally:
        control(sock, {"cmd": "stop", "guest": "g"})
        run = gmm_finish(proc)
    g = run.guests["g"]
    assert g["state"] == "stopped" and g.get("verify_failures", 0) == 0, run
    assert g["stage2"]["memory_events_high"] > 0, run
