"""The host pool's text views through the control socket and `gmm cat`:
the kernel's formats (buddyinfo, pagetypeinfo, zoneinfo, slabinfo, vmstat,
the fragmentation indices), read from a running gmm."""
import os
import re
import subprocess

from conftest import ENV, GMM, control, wait_for, Run

POOL_MB = 256


def start(tmp_path, nodes=1):
    sock = str(tmp_path / "c.sock")
    cfg = tmp_path / "pool.json"
    cfg.write_text('{"host": {"accel": "native", "control": "%s", "pool": {"size": "%dM", "nodes": %d}}, '
                   '"guests": [{"name": "g", "mem": "64M", "cmdline": "workload=hog"}]}' % (sock, POOL_MB, nodes))
    proc = subprocess.Popen([GMM, "run", "--config", str(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    assert wait_for(lambda: os.path.exists(sock)), "control socket never appeared"
    return proc, sock


def stop(proc, sock):
    control(sock, {"cmd": "stop", "guest": "g"})
    out, err = proc.communicate(timeout=30)
    run = Run(proc, out, err)
    assert "AddressSanitizer" not in err and "runtime error" not in err, run
    return run


def gmm_cat(sock, *args):
    return subprocess.run([GMM, "cat", *args, "--control", sock], capture_output=True, text=True,
                          env=ENV, timeout=30)


def test_gmm_cat_shows_every_view_in_the_kernels_format(tmp_path):
    proc, sock = start(tmp_path, nodes=2)
    try:
        listed = gmm_cat(sock)
        assert listed.returncode == 0, listed.stderr
        files = listed.stdout.split()
        for f in ("buddyinfo", "pagetypeinfo", "zoneinfo", "slabinfo", "vmstat", "extfrag_index",
                  "unusable_index"):
            assert f in files, files
            out = gmm_cat(sock, f)
            assert out.returncode == 0 and out.stdout.strip(), (f, out.stderr)
        buddy = gmm_cat(sock, "buddyinfo").stdout.splitlines()
        # /proc/buddyinfo: "Node N, zone NAME" then one count per order 0..10
        rows = [re.match(r"Node (\d+), zone\s+(\S+)((\s+\d+){11})\s*$", l) for l in buddy]
        assert all(rows), buddy
        assert {r.group(1) for r in rows} == {"0", "1"}, buddy
        free_frames = sum(int(n) << o for r in rows for o, n in enumerate(r.group(3).split()))
        vmstat = dict(l.split() for l in gmm_cat(sock, "vmstat").stdout.splitlines())
        assert int(vmstat["nr_free_pages"]) == free_frames, (vmstat["nr_free_pages"], free_frames)
        assert 0 < free_frames <= POOL_MB * 256
        assert gmm_cat(sock, "slabinfo").stdout.startswith("slabinfo - version: 2.1")
        zi = gmm_cat(sock, "zoneinfo").stdout
        for key in ("pages free", "min", "low", "high", "managed"):
            assert key in zi, zi
    finally:
        run = stop(proc, sock)
    assert run.guests["g"]["state"] == "stopped"


def test_cat_of_an_unknown_file_is_an_error_and_gmm_runs_on(tmp_path):
    proc, sock = start(tmp_path)
    try:
        bad = gmm_cat(sock, "meminfo/../../etc/passwd")
        assert bad.returncode == 1 and "no such file" in bad.stderr, bad
        reply = control(sock, {"cmd": "cat", "file": 7})
        assert reply["ok"], reply  # a non-string file is ignored: the list comes back
        assert "buddyinfo" in reply["files"]
        assert control(sock, {"cmd": "stat", "guest": "g"})["stat"]["state"] == "running"
    finally:
        stop(proc, sock)
