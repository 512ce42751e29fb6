"""Compaction with real guests (docs/compaction.md): a guest that touched
its memory in random order gives scattered pages back through its balloon,
leaving the pool's free memory in pieces; a THP guest then runs out of
free 2 MiB blocks, kcompactd is woken, moves guest frames (the others'
data verified throughout) and the THP faults succeed again."""
import json
import os
import time

from conftest import GUEST, control, gmm_finish, gmm_start, wait_for

MB = 1 << 20


def vmstat(sock):
    text = control(sock, {"cmd": "cat", "file": "vmstat"})["text"]
    return {k: int(v) for k, v in (line.split() for line in text.splitlines() if len(line.split()) == 2)}


def test_a_fragmented_pool_is_compacted_and_thp_faults_succeed_again(accel, tmp_path):
    sock = str(tmp_path / "c.sock")
    cfg = tmp_path / "c.json"
    guests = [
        # random first touches: its frames end up in random gfn order
        # most of the pool, in blocks of its own
        dict(name="keep", mem="256M", thp="never",
             cmdline="workload=touch size=200M verify=1 hold=30"),
        # the same, then frees its set and balloons the freed pages: holes
        # all over its blocks
        dict(name="holes", mem="128M", vcpus=2, thp="never", fault_around="4K", balloon={"enabled": 1},
             cmdline="workload=random size=96M prefill=0 iters=1000000 free=1 hold=30 balloon=1 "
                     "balloon_features=0x6"),
        # later, 64M in 2 MiB frames: more than the whole blocks left
        dict(name="thp", mem="128M", thp="always",
             cmdline="workload=touch size=4M verify=1 hold=15 grow=64M"),
    ]
    for g in guests:
        g["kernel"] = GUEST
    cfg.write_text(json.dumps({"host": {"accel": accel, "control": sock,
                                        "pool": {"size": "320M", "reserve": 0,
                                                     # home frames' frees give back the
                                                     # last tokens taken (a stack): no holes
                                                     "home_frames": 0}}, "guests": guests}))
    proc = gmm_start(["--config", str(cfg), "--timeout", "120"])
    try:
        assert wait_for(lambda: os.path.exists(sock))

        def touched(name, mb):
            s = control(sock, {"cmd": "stat", "guest": name})
            return s if s.get("ok") and s["stat"]["stage2"]["resident_frames"] >= mb * 256 else None
        assert wait_for(lambda: touched("holes", 96) and touched("keep", 200), timeout=60)
        time.sleep(1)   # holes' free=1 has run: its set is free, still backed
        r = control(sock, {"cmd": "balloon", "guest": "holes", "set": {"target": "64M"}})
        assert r["ok"], r
        assert wait_for(lambda: control(sock, {"cmd": "balloon", "guest": "holes"})["actual_bytes"] == 64 * MB,
                        timeout=30)
        s2 = control(sock, {"cmd": "stat", "guest": "holes"})["stat"]["stage2"]
        assert s2["balloon_freed"] >= 60 * 256, s2   # 64M of scattered frames went back
        assert control(sock, {"cmd": "stat", "guest": "thp"})["stat"]["stage2"]["resident_frames"] < 16 * 256, \
            "the THP guest must not have grown yet"
        before = vmstat(sock)
        # the THP guest grows after its hold: wait until it is done
        assert wait_for(lambda: control(sock, {"cmd": "stat", "guest": "thp"})["stat"]["state"] != "running",
                        timeout=60)
        after = vmstat(sock)
        moved = after["pgmigrate_success"] - before["pgmigrate_success"]
        assert after["compact_daemon_wake"] > before["compact_daemon_wake"], (before, after)
        assert moved > 0, (before, after)
        chk = control(sock, {"cmd": "check"})
        assert chk["problems"] == 0, chk["report"][:4000]
    finally:
        run = gmm_finish(proc, timeout=120)
    for name in ("keep", "thp"):
        g = run.guests[name]
        assert g["exit_code"] == 0 and g["verify_failures"] == 0, run
    thp = run.guests["thp"]["stage2"]
    assert thp["fault_huge"] >= 30, thp   # 64M + 4M in 2 MiB frames, nearly all
