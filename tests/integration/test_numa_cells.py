"""Guest NUMA cells (numa.cells, docs/numa.md): each cell's range of guest
RAM is bound to its node and its vCPUs fault locally to it, as the
control socket's per-cell numa_maps and numastat show, and the test guest
learns its cells from boot_info and reports them."""
import json
import os

from conftest import GUEST, control, gmm_finish, gmm_run, gmm_start, wait_for

MB = 1 << 20
PAGES_PER_MB = 256
CELLS = [{"cpus": "0", "mem": "128M", "node": 0}, {"cpus": "1", "mem": "128M", "node": 1}]


def start(tmp_path, accel, cells, cmdline, mem="256M", vcpus=2):
    sock = str(tmp_path / "c.sock")
    cfg = tmp_path / "c.json"
    g = dict(name="g", mem=mem, vcpus=vcpus, thp="never", kernel=GUEST, numa={"cells": cells}, cmdline=cmdline)
    cfg.write_text(json.dumps({"host": {"accel": accel, "control": sock, "pool": {"size": "512M"},
                                        "numa": {"emulate": 2}}, "guests": [g]}))
    proc = gmm_start(["--config", str(cfg), "--timeout", "120"])
    assert wait_for(lambda: os.path.exists(sock)), proc
    return proc, sock


def test_each_cell_is_placed_on_its_node_and_the_guest_reports_its_cells(accel, tmp_path):
    proc, sock = start(tmp_path, accel, CELLS, "workload=touch size=200M vcpus=2 verify=1 hold=2")
    try:
        def touched():
            r = control(sock, {"cmd": "numa", "guest": "g"})
            if not r or not r.get("ok") or len(r.get("cells", [])) != 2:
                return None
            return r if sum(c["N0"] + c["N1"] for c in r["cells"]) >= 200 * PAGES_PER_MB else None
        r = wait_for(touched, timeout=60)
        assert r, control(sock, {"cmd": "numa", "guest": "g"})
        c0, c1 = r["cells"]
        assert (c0["start"], c0["end"], c0["node"]) == (0, 128 * MB, 0), c0
        assert (c1["start"], c1["end"], c1["node"]) == (128 * MB, 256 * MB, 1), c1
        # bound: nothing of a cell outside its node
        assert c0["N1"] == 0 and c0["N0"] >= 120 * PAGES_PER_MB, c0
        assert c1["N0"] == 0 and c1["N1"] >= 60 * PAGES_PER_MB, c1
        st = r["numastat"]
        assert st["node0"]["numa_miss"] == 0 and st["node1"]["numa_miss"] == 0, st
        # vCPU 1 is in cell 1: its faults there are local to node 1
        assert st["node1"]["numa_local"] >= 60 * PAGES_PER_MB, st
    finally:
        run = gmm_finish(proc, timeout=120)
    g = run.guests["g"]
    assert g["exit_code"] == 0 and g["verify_failures"] == 0, run
    res = g["results"]
    assert res["numa_cells"] == 2, res
    assert res["numa_cell0"] == f"0x0:{128 * MB}:0x1:0", res
    assert res["numa_cell1"] == f"{hex(128 * MB)}:{128 * MB}:0x2:1", res
    assert res["numa_vcpu0_cell"] == 0, res


def test_a_guest_without_cells_reports_none(tmp_path):
    run = gmm_run(["--accel", "native", "--guest", f"name=g,mem=64M,kernel={GUEST},cmdline=workload=touch size=8M"])
    g = run.guests["g"]
    assert g["exit_code"] == 0 and "numa_cells" not in g["results"], run


def test_bad_cells_are_refused_naming_the_field(tmp_path):
    cases = [([{"cpus": "0", "mem": "128M", "node": 0}], "guests[0].numa.cells: the cells' mem add up to 128M"),
             ([{"cpus": "0", "mem": "128M", "node": 0}, {"cpus": "0", "mem": "128M", "node": 1}],
              "guests[0].numa.cells[1].cpus: vCPU 0 is in an earlier cell too"),
             ([{"cpus": "0-1", "mem": "256M", "node": 2}], "guests[0].numa.cells[0].node: 2, but the pool has 2"),
             ([{"cpus": "0-1", "mem": "256M", "node": 0, "distance": 1}], "guests[0].numa.cells[0].distance: unknown key")]
    cfg = tmp_path / "c.json"
    for cells, why in cases:
        cfg.write_text(json.dumps({"host": {"accel": "native", "numa": {"emulate": 2}},
                                   "guests": [{"name": "g", "mem": "256M", "vcpus": 2, "kernel": GUEST,
                                               "numa": {"cells": cells}}]}))
        run = gmm_run(["--config", str(cfg)])
        assert run.returncode == 2 and why in run.stderr, (cells, run)
    cfg.write_text(json.dumps({"host": {"accel": "native", "numa": {"emulate": 2}},
                               "guests": [{"name": "g", "mem": "256M", "kernel": GUEST,
                                           "numa": {"policy": "bind", "nodes": "1",
                                                    "cells": [{"cpus": "0", "mem": "256M", "node": 0}]}}]}))
    run = gmm_run(["--config", str(cfg)])
    assert run.returncode == 2 and "use cells or a policy" in run.stderr, run
