"""The overcommit demo, configs/overcommit.json (docs/reclaim.md): three
1 GiB guests in a 1 GiB pool with a 2 GiB swap file run to the end with
every page verified and swap used; the pool never holds more than its
size, and gmm's own memory beside it stays within the documented overhead.
Run once, on the release build (the sanitizers would measure themselves),
on KVM where /dev/kvm opens and on the native accelerator elsewhere."""
import json
import os

from conftest import GMM_RELEASE, ROOT, gmm_run, kvm_available

MiB = 1 << 20


def vmm_overhead_bound(pool_bytes, swap_bytes):
    """docs/reclaim.md, Overhead: the frame table (64 bytes a 4 KiB frame),
    the swap cache and shadow arrays (12 bytes a slot), and 16 MiB for the
    rest (threads, heap, descriptors, libraries' own)."""
    return pool_bytes // 64 + swap_bytes // 4096 * 12 + 16 * MiB


def test_the_overcommit_demo_runs_verified_in_its_pool_with_a_small_overhead(tmp_path):
    cfg = json.load(open(os.path.join(ROOT, "configs", "overcommit.json")))
    on_kvm, _ = kvm_available()  # (whether /dev/kvm opens, why not)
    cfg["host"]["accel"] = "kvm" if on_kvm else "native"
    cfg["host"]["swap"]["path"] = str(tmp_path / "overcommit.swap")
    (tmp_path / "overcommit.json").write_text(json.dumps(cfg))
    run = gmm_run(["--config", str(tmp_path / "overcommit.json")], timeout=900, binary=GMM_RELEASE,
                  check_sanitizers=False)
    assert run.returncode == 0, run
    assert sorted(run.guests) == ["a", "b", "c"], run
    swapped_in = swapped_out = clean = 0
    for name, g in run.guests.items():
        assert g["exit_code"] == 0 and g["verify_failures"] == 0, (name, run)
        assert g["results"]["verify_passes"] >= 1, (name, g["results"])
        swapped_in += g["stage2"]["pswpin"]
        swapped_out += g["stage2"]["pswpout"]
        clean += g["stage2"]["pgsteal_clean"]
        assert g["stage2"]["peak_resident_frames"] * 4096 <= run.host["pool_bytes"], g["stage2"]
    assert swapped_out > 0 and swapped_in > 0, run
    host = run.host
    assert host["pool_held_peak_bytes"] <= host["pool_bytes"] == 1 << 30, host
    bound = vmm_overhead_bound(host["pool_bytes"], 2 << 30)
    print(f"gmm's own memory at peak: {host['vmm_anon_peak_bytes'] / MiB:.1f} MiB "
          f"(bound {bound / MiB:.1f} MiB); swap-ins {swapped_in}, swap-outs {swapped_out}, "
          f"evicted clean {clean}")
    assert 0 < host["vmm_anon_peak_bytes"] <= bound, (host, bound)
