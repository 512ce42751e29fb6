"""Aging (docs/reclaim.md): with hinting faults and the LRU, a guest whose
hot set fits stops swapping once warm, while another guest keeps the pool
under pressure; reclaim that picks its victims at random
(host.reclaim.victims=random) keeps taking the hot pages and the guest
keeps reading them back. Both runs end with every page verified."""
import json
import os
import time

from conftest import control, gmm_finish, gmm_start, wait_for

# Long enough for the hot guest to read its 16M back one page per fault:
# its faults are random, so swap-in readahead (docs/reclaim.md#swap-in-readahead)
# reads no neighbours for them, as the kernel's would not. 10 s was usually
# enough here (0 swap-ins in the window after it), but a clean-clone CI
# run, where this test runs first, counted 163 once: 14 s for margin
WARMUP_S = 14
WINDOW_S = 6
# the hot guest's ops phase, from the end of its prefill
OPS_S = WARMUP_S + WINDOW_S + 8


def run(tmp_path, accel, victims):
    sock = str(tmp_path / f"{victims}.sock")
    cfg = tmp_path / f"{victims}.json"
    cfg.write_text(json.dumps({
        "host": {"accel": accel, "control": sock, "pool": {"size": "128M"},
                 "swap": {"path": str(tmp_path / "swapfile"), "size": "512M"},
                 "reclaim": {"victims": victims}},
        "guests": [
            # 96M touched once, then ops on the first 16M only for
            # OPS_S seconds, past the window on any machine (its closing
            # verify pass reads all 96M back, which must not fall in the
            # window; 300M ops took 10 s on one machine, 16 s on another)
            dict(name="hot", mem="128M", thp="never",
                 cmdline=f"workload=random size=96M hot=16M iters=1000000G duration={OPS_S} write_pct=20 verify=1"),
            # uniform over 192M: the pressure, until it is stopped
            dict(name="churn", mem="256M", thp="never",
                 cmdline="workload=random size=192M iters=4000000000 write_pct=20 verify=1"),
        ]}))
    proc = gmm_start(["--config", str(cfg), "--timeout", "120"])
    assert wait_for(lambda: os.path.exists(sock))

    def swapins():
        return control(sock, {"cmd": "stat", "guest": "hot"})["stat"]["stage2"]["pswpin"]

    time.sleep(WARMUP_S)
    before = swapins()
    time.sleep(WINDOW_S)
    after = swapins()
    whole = control(sock, {"cmd": "stat", "guest": "hot"})["stat"]
    assert whole["state"] == "running", "the hot guest finished inside the window: raise OPS_S"
    stat = whole["stage2"]
    # the pressure goes; the hot guest finishes its ops and reads every
    # page back for its verify pass
    control(sock, {"cmd": "stop", "guest": "churn"})
    result = gmm_finish(proc, timeout=120)
    hot = result.guests["hot"]
    assert hot["exit_code"] == 0 and hot["verify_failures"] == 0, result
    assert result.guests["churn"]["state"] == "stopped", result
    return after - before, stat


def test_a_hot_set_that_fits_stops_swapping_and_random_victims_do_not(accel, tmp_path):
    lru_in, lru = run(tmp_path, accel, "lru")
    rnd_in, rnd = run(tmp_path, accel, "random")
    print(f"swap-ins of the hot guest in {WINDOW_S} s after warm-up: lru {lru_in}, random {rnd_in}")
    # the LRU learnt the hot set: reads of it were hinting faults, not swap-ins
    assert lru["hint_faults"] > 0 and lru["pswpout"] > 0, lru
    # kswapd armed pages ahead of the inactive tail (docs/reclaim.md#aging-ahead)
    assert lru["hint_armed_ahead"] > 0, lru
    assert rnd["hint_armed"] == 0 and rnd["pgscan_random"] > 0, rnd
    assert rnd["hint_armed_ahead"] == 0, rnd
    assert rnd_in > 500, (rnd_in, rnd)
    assert lru_in <= max(40, rnd_in // 20), (lru_in, rnd_in, lru)
