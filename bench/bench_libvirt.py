#!/usr/bin/env python3
"""make bench-libvirt: what managing gmm through libvirt costs a user.

One `gmm daemon` (a fresh state dir under /tmp), one running domain
(the test guest holding 64M), then, interleaved so drift hits both alike:

  virsh dominfo   `virsh -c URI dominfo NAME`: a fresh virsh process, its
                  connection, the handshake, the calls dominfo makes
  gmm stat        `gmm stat NAME --control DIR/control.sock`: a fresh gmm
                  process, one JSON request on the control socket

each run REPS times as a whole process, as a user types them; medians,
and their ratio. Then lifecycle cycles through virsh: one virsh process
per cycle running `define F; start NAME; destroy NAME` (a guest built,
its vCPUs started, stopped, its memory back in the pool), CYCLES times;
cycles per second. The same cycles through python3-libvirt on one
connection (no process or handshake per cycle) show the daemon's own
cost: lifecycle_api_per_sec.

Environment: GMM_BENCH_LIBVIRT_REPS (default 30), _CYCLES (20), _ACCEL
(auto, kvm, native). The last line is one JSON object with
virsh_dominfo_ms, control_stat_ms, lifecycle_per_sec and the rest.
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import kvm_available

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GMM = os.path.join(ROOT, "build/gmm")
GUEST = os.path.join(ROOT, "build/guest/gmm-guest.elf")
REPS = int(os.environ.get("GMM_BENCH_LIBVIRT_REPS", "30"))
CYCLES = int(os.environ.get("GMM_BENCH_LIBVIRT_CYCLES", "20"))
ACCEL = os.environ.get("GMM_BENCH_LIBVIRT_ACCEL", "auto")


def domain_xml(name, cmdline):
    return f"""<domain type='gmm'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type><kernel>{GUEST}</kernel><cmdline>{cmdline}</cmdline></os>
  <devices><memballoon model='none'/></devices>
</domain>
"""


def timed(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t
    if r.returncode:
        sys.exit(f"bench-libvirt: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return dt


def wait_for(path, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            sys.exit(f"bench-libvirt: gmm daemon exited ({proc.returncode}) before {path} appeared")
        time.sleep(0.05)
    sys.exit(f"bench-libvirt: {path} did not appear in {timeout} s")


def lifecycle_api(uri, xml_path, cycles=200):
    try:
        import libvirt
    except ImportError:
        return None
    conn = libvirt.open(uri)
    xml = open(xml_path).read()
    t = time.perf_counter()
    for _ in range(cycles):
        dom = conn.defineXML(xml)
        dom.create()
        dom.destroy()
    per_sec = cycles / (time.perf_counter() - t)
    conn.close()
    return per_sec


def main():
    if not shutil.which("virsh"):
        sys.exit("bench-libvirt: virsh not found (make deps installs libvirt-clients)")
    accel = ACCEL if ACCEL != "auto" else ("kvm" if kvm_available() else "native")
    state = tempfile.mkdtemp(prefix="gmm-bench-libvirt-")
    uri = f"gmm+unix:///system?socket={state}/libvirt.sock"
    ctl = f"{state}/control.sock"
    daemon = subprocess.Popen([GMM, "daemon", "--state-dir", state, "--accel", accel, "-q"],
                              stdout=subprocess.DEVNULL, stderr=open(f"{state}/daemon.log", "w"))
    try:
        wait_for(f"{state}/libvirt.sock", daemon)
        virsh = ["virsh", "-q", "-c", uri]
        with open(f"{state}/hold.xml", "w") as f:
            f.write(domain_xml("bench-hold", "workload=touch size=64M hold=100000"))
        timed(virsh + ["define", f"{state}/hold.xml"])
        timed(virsh + ["start", "bench-hold"])
        print(f"bench-libvirt: accel={accel}, {REPS} whole commands each, interleaved; "
              f"{CYCLES} lifecycle cycles", flush=True)
        vt, ct = [], []
        for _ in range(REPS):
            vt.append(timed(virsh + ["dominfo", "bench-hold"]))
            ct.append(timed([GMM, "stat", "bench-hold", "--control", ctl]))
        v_ms = statistics.median(vt) * 1e3
        c_ms = statistics.median(ct) * 1e3
        print(f"  virsh dominfo   median {v_ms:7.2f} ms  (min {min(vt) * 1e3:.2f}, max {max(vt) * 1e3:.2f})")
        print(f"  gmm stat        median {c_ms:7.2f} ms  (min {min(ct) * 1e3:.2f}, max {max(ct) * 1e3:.2f})")
        print(f"  ratio virsh / control socket: {v_ms / c_ms:.2f}x")

        with open(f"{state}/cycle.xml", "w") as f:
            f.write(domain_xml("bench-cycle", "workload=touch size=16M hold=100000"))
        cyc = virsh + [f"define {state}/cycle.xml; start bench-cycle; destroy bench-cycle"]
        timed(cyc)  # warm: the first define writes the file
        t = time.perf_counter()
        for _ in range(CYCLES):
            timed(cyc)
        per_sec = CYCLES / (time.perf_counter() - t)
        print(f"  lifecycle (define; start; destroy in one virsh): {per_sec:.1f} cycles/s "
              f"({1e3 / per_sec:.1f} ms a cycle)")
        api_per_sec = lifecycle_api(uri, f"{state}/cycle.xml")
        if api_per_sec:
            print(f"  lifecycle (python3-libvirt, one connection): {api_per_sec:.1f} cycles/s "
                  f"({1e3 / api_per_sec:.2f} ms a cycle)")
        timed(virsh + ["destroy", "bench-hold"])
        out = {"accel": accel, "reps": REPS, "cycles": CYCLES,
               "virsh_dominfo_ms": round(v_ms, 2), "control_stat_ms": round(c_ms, 2),
               "ratio_virsh_vs_control": round(v_ms / c_ms, 3),
               "virsh_dominfo_min_ms": round(min(vt) * 1e3, 2), "control_stat_min_ms": round(min(ct) * 1e3, 2),
               "lifecycle_per_sec": round(per_sec, 2),
               "lifecycle_api_per_sec": round(api_per_sec, 1) if api_per_sec else None}
        print(json.dumps(out), flush=True)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
