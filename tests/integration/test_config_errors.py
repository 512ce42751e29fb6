"""Bad input on the command line and in config files: a clear one-line
error naming the field, exit status 2, no guest started, no crash."""
import json

import pytest

from conftest import GUEST, gmm_run, guest_spec

BAD_FLAGS = [
    (["--guest", "name=a,mem=12Q"], "--guest mem"),
    (["--guest", "name=a,mem=1M"], "guests[0].mem"),
    (["--guest", "name=a,mem=100G"], "guests[0].mem"),
    (["--guest", "name=a,vcpus=0"], "--guest vcpus"),
    (["--guest", "name=a,vcpus=99"], "--guest vcpus"),
    (["--guest", "name=a,colour=red"], "colour"),
    (["--guest", "name=a,kernel=/nonexistent/guest.elf"], "guests[0].kernel"),
    (["--guest", "name=a b"], "guests[0].name"),
    (["--guest", "name=a", "--guest", "name=a"], "already used"),
    (["--guest", "name=a", "--accel", "tcg"], "host.accel"),
    (["--guest", "name=a,cmdline=\"open"], "unterminated"),
    (["--guest", "name=a", "--timeout", "-1"], "--timeout"),
    ([], "no guests"),
    (["--guest", "name=a,backend=tmpfs"], "guests[0].backend"),
    (["--guest", "name=a,fault_around=48K"], "guests[0].fault_around"),
    (["--guest", "name=a,fault_around=4M"], "guests[0].fault_around"),
    (["--guest", "name=a,prefault=2"], "--guest prefault"),
    (["--guest", "name=a,dirty_log=yes"], "--guest dirty_log"),
    (["--guest", "name=a,backend=anon,dirty_log=1"], "guests[0].dirty_log"),
    (["--guest", "name=a,kernel=/etc/hostname"], "kernel"),
    (["--guest", "name=a,kernel=/dev/null"], "kernel"),
]


@pytest.mark.parametrize("args,needle", BAD_FLAGS, ids=[n for _, n in BAD_FLAGS])
def test_bad_flag_gets_one_clear_error(args, needle):
    run = gmm_run(["--accel", "native"] + args, timeout=30)
    assert run.returncode == 2, run
    assert needle in run.stderr, run
    assert run.stdout == "", run
    lines = [l for l in run.stderr.splitlines() if l.startswith("gmm:")]
    assert len(lines) == 1, run


BAD_FILES = [
    ('{"guests": [{"name": "a", "mem": "512Q"}]}', "guests[0].mem"),
    ('{"guests": [{"name": "a"}, {"name": "b", "memory": "1G"}]}', "guests[1].memory: unknown key"),
    ('{"host": {"accel": "auto", "pool": "1G"}, "guests": [{}]}', "host.pool: must be an object"),
    ('{"host": {"pool": {"size": "1000K"}}, "guests": [{}]}', "host.pool.size"),
    ('{"host": {"pool": {"size": "64M", "nodes": 4}}, "guests": [{}]}', "host.pool.size"),
    ('{"host": {"pool": {"nodes": 0}}, "guests": [{}]}', "host.pool.nodes"),
    ('{"host": {"pool": {"hugepages": "2M"}}, "guests": [{}]}', "host.pool.hugepages: unknown key"),
    ('{"host": {"pool": {"size": "64M", "reserve": "32M"}}, "guests": [{}]}', "host.pool.reserve"),
    ('{"host": {"pool": {"reserve": "3M"}}, "guests": [{}]}', "host.pool.reserve"),
    ('{"host": {"pool": {"home": "3M"}}, "guests": [{}]}', "host.pool.home: 3M must be whole 2M blocks"),
    ('{"host": {"pool": {"home_frames": 2}}, "guests": [{}]}', "host.pool.home_frames"),
    ('{"host": {"self_serve_faults": "yes"}, "guests": [{}]}', "host.self_serve_faults"),
    ('{"host": {"reclaim": {"victims": "oldest"}}, "guests": [{}]}', "host.reclaim.victims"),
    ('{"host": {"reclaim": {"victims": "randomly-chosen"}}, "guests": [{}]}', "host.reclaim.victims"),
    ('{"host": {"reclaim": {"policy": "lru"}}, "guests": [{}]}', "host.reclaim.policy: unknown key"),
    ('{"guests": [{"name": "a", "vcpus": "two"}]}', "guests[0].vcpus"),
    ('{"guests": [{"name": 7}]}', "guests[0].name"),
    ('{"guests": {"name": "a"}}', "guests: must be an array"),
    ('{"guests": [{"name": "a",}]}', "config:"),
    ('[]', "top level"),
    ('{"guest": []}', "guest: unknown key"),
    ('{"guests": [{"kernel": "missing.elf"}]}', "guests[0].kernel: missing.elf"),
]


@pytest.mark.parametrize("text,needle", BAD_FILES, ids=[n for _, n in BAD_FILES])
def test_bad_config_file_names_the_field(tmp_path, text, needle):
    p = tmp_path / "bad.json"
    p.write_text(text)
    run = gmm_run(["--config", str(p)], timeout=30)
    assert run.returncode == 2, run
    assert needle in run.stderr, run
    assert run.stdout == ""


def test_missing_config_file_is_named(tmp_path):
    run = gmm_run(["--config", str(tmp_path / "nope.json")], timeout=30)
    assert run.returncode == 2 and "nope.json" in run.stderr, run


def test_corrupt_kernel_images_are_refused_cleanly(tmp_path):
    good = open(GUEST, "rb").read()
    cases = {
        "truncated.elf": good[:200],
        "zeros.elf": bytes(8192),
        "badphdr.elf": good[:32] + (0xFFFFFFFF).to_bytes(8, "little") + good[40:],
        "hugeseg.elf": bytearray(good),
    }
    # make the first PT_LOAD claim a huge memsz
    h = cases["hugeseg.elf"]
    phoff = int.from_bytes(h[32:40], "little")
    for i in range(int.from_bytes(h[56:58], "little")):
        off = phoff + i * 56
        if int.from_bytes(h[off:off + 4], "little") == 1:
            h[off + 40:off + 48] = (1 << 40).to_bytes(8, "little")
            break
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(bytes(data))
        run = gmm_run(["--accel", "native", "--guest", guest_spec("k", kernel=str(p))], timeout=30)
        assert run.returncode == 2, (name, run)
        assert "kernel" in run.stderr and str(p) in run.stderr, (name, run)


def test_example_configs_are_all_valid(tmp_path):
    import glob
    import os
    from conftest import ROOT
    for cfg in sorted(glob.glob(os.path.join(ROOT, "configs", "*.json"))):
        json.load(open(cfg))  # well-formed
