"""The benches' own machinery, checked without timing anything: a figure
from a pager that loses data would mean nothing (docs/benchmarks.md)."""
import json
import os
import subprocess

import pytest

from conftest import ROOT

SWAPCYCLE = os.path.join(ROOT, "build/bench/bench_swapcycle")
PAGES, RESIDENT, OPS = 4096, 1024, 20000


@pytest.mark.parametrize("mode", ["vma", "fixed", "fixed-sigbus"])
def test_swapcycle_pagers_bring_every_page_back_from_swap_with_its_data(mode, tmp_path):
    swap = tmp_path / "pager.swap"
    r = subprocess.run([SWAPCYCLE, mode, str(swap), str(PAGES), str(RESIDENT), str(OPS), "7"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    fig = json.loads(r.stdout.strip().splitlines()[-1])
    # every touch checked the page's last stamp, and a closing pass every page
    assert fig["verify_failures"] == 0
    # a quarter resident, uniform touches: about three in four miss, each a swap-in
    assert fig["swap_ins"] > OPS // 2, fig
    assert abs(fig["swap_outs"] - fig["swap_ins"]) <= 32, fig
    assert not swap.exists(), "the pager's swap file is unlinked once open"


def test_swapcycle_refuses_bad_arguments_with_a_clear_line():
    for args in (["nonsense", "x", "4096", "1024", "10", "1"], ["fixed", "x", "100", "200", "10", "1"],
                 ["kernel", "x", "4096"]):
        r = subprocess.run([SWAPCYCLE, *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (args, r.stdout)
        assert "bench_swapcycle" in r.stderr or "usage" in r.stderr
