"""Stock virsh (Debian 12 libvirt-clients) against `gmm daemon`.

Every command runs the real `virsh -c gmm+unix:///system?socket=DIR/libvirt.sock`
as a user types it; what it prints is checked against the daemon's control
socket (stat, balloon, limits, pool, domains) and the guest's own balloon
statistics.
"""
import os
import re
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import GUEST, VIRSH, Daemon, wait_for

pytestmark = pytest.mark.skipif(not VIRSH, reason="needs virsh (libvirt-clients)")

MiB = 1 << 20


def domain_xml(name, mem_mib=256, vcpus=2,
               cmdline="workload=touch size=64M hold=600 verify=1 balloon=1", period=1):
    return f"""<domain type='gmm'>
  <name>{name}</name>
  <memory unit='MiB'>{mem_mib}</memory>
  <vcpu>{vcpus}</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>{GUEST}</kernel>
    <cmdline>{cmdline}</cmdline>
  </os>
  <devices>
    <memballoon model='virtio'><stats period='{period}'/></memballoon>
  </devices>
</domain>
"""


def define(d, tmp_path, name, **kw):
    f = tmp_path / f"{name}.xml"
    f.write_text(domain_xml(name, **kw))
    r = d.virsh("define", str(f))
    assert f"Domain '{name}' defined" in r.stdout
    return f


def kv(text):
    """'Key:   value' lines (dominfo, nodeinfo) or 'key value' (dommemstat)."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"\s*([^:]+?)\s*:\s*(.*?)\s*$", line) or re.match(r"\s*(\S+)\s+(\S+)\s*$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def memstat(d, name):
    return {k: int(v) for k, v in kv(d.virsh("dommemstat", name).stdout).items()}


def list_all(d):
    rows = {}
    for line in d.virsh("list", "--all").stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3:
            rows[parts[1]] = (parts[0], parts[2].strip())
    return rows


# ---- host commands (no guest: one accelerator is enough) ----

def test_host_commands_report_the_pool(native_daemon):
    d = native_daemon
    pool = d.ctl_call("pool")["pool"]

    ver = d.virsh("version").stdout
    assert re.search(r"Running hypervisor: gmm \d+\.\d+\.\d+", ver), ver
    assert "Using API: gmm" in ver
    assert d.virsh("hostname").stdout.strip() == socket.gethostname()
    assert d.virsh("uri").stdout.strip() == d.uri

    ni = kv(d.virsh("nodeinfo").stdout)
    assert ni["CPU model"] == "x86_64"
    assert int(ni["Memory size"].split()[0]) == pool["size_bytes"] // 1024
    assert int(ni["CPU(s)"]) == os.sysconf("SC_NPROCESSORS_ONLN")

    ms = kv(d.virsh("nodememstats").stdout)
    total = int(ms["total"].split()[0])
    free = int(ms["free"].split()[0])
    assert total == pool["size_bytes"] // 1024
    pool2 = d.ctl_call("pool")["pool"]
    lo, hi = sorted((pool["free_frames"] * 4, pool2["free_frames"] * 4))
    assert lo - 8192 <= free <= hi + 8192, (free, lo, hi)  # pcp lists aside

    cells = d.virsh("freecell", "--all").stdout
    assert re.search(r"Total:\s+\d+ KiB", cells), cells
    one = d.virsh("freecell", "0").stdout
    assert re.search(r"0:\s+\d+ KiB", one), one

    caps = ET.fromstring(d.virsh("capabilities").stdout)
    assert caps.find("host/cpu/arch").text == "x86_64"
    cell_els = caps.findall("host/topology/cells/cell")
    assert len(cell_els) == int(ni["NUMA cell(s)"]) or int(ni["NUMA cell(s)"]) == 1
    assert sum(int(c.find("memory").text) for c in cell_els) == pool["size_bytes"] // 1024
    guest = caps.find("guest")
    assert guest.find("os_type").text == "hvm"
    assert guest.find("arch").get("name") == "x86_64"
    assert guest.find("arch/domain").get("type") == "gmm"


# ---- the guest's life through virsh, both accelerators ----

def test_lifecycle_dominfo_setmem_memtune(daemon, tmp_path):
    d = daemon
    define(d, tmp_path, "lv1")
    assert list_all(d)["lv1"] == ("-", "shut off")
    info = kv(d.virsh("dominfo", "lv1").stdout)
    assert info["State"] == "shut off" and info["Persistent"] == "yes"
    assert d.virsh("domstate", "lv1").stdout.strip() == "shut off"

    assert "Domain 'lv1' started" in d.virsh("start", "lv1").stdout
    doms = {x["name"]: x for x in d.ctl_call("domains")["domains"]}
    dom_id = doms["lv1"]["id"]
    assert list_all(d)["lv1"] == (str(dom_id), "running")
    assert d.virsh("domid", "lv1").stdout.strip() == str(dom_id)
    assert d.virsh("domname", str(dom_id)).stdout.strip() == "lv1"
    assert d.virsh("domuuid", "lv1").stdout.strip() == doms["lv1"]["uuid"]
    assert d.virsh("domstate", "--reason", "lv1").stdout.strip() == "running (booted)"

    info = kv(d.virsh("dominfo", "lv1").stdout)
    stat = d.ctl_call("stat", guest="lv1")["stat"]
    assert info["State"] == "running"
    assert info["Id"] == str(dom_id)
    assert int(info["CPU(s)"]) == stat["vcpus"] == 2
    assert info["Max memory"] == f"{stat['mem_bytes'] // 1024} KiB" == "262144 KiB"
    assert info["OS Type"] == "hvm"

    # the guest touched its 64M: wait for its statistics and the touch
    assert wait_for(lambda: memstat(d, "lv1").get("rss", 0) >= 64 * 1024, timeout=60)
    ms = memstat(d, "lv1")
    bal = d.ctl_call("balloon", guest="lv1")
    gs = bal["guest_stats"]
    assert ms["actual"] == 262144
    assert ms["available"] == gs["total_memory"] // 1024
    for key in ("swap_in", "swap_out", "rss", "actual", "unused", "available", "usable", "last_update"):
        assert key in ms, ms
    lim = d.ctl_call("limits", guest="lv1")
    assert abs(ms["rss"] - lim["current_bytes"] // 1024) <= 16 * 1024, (ms, lim["current_bytes"])

    # setmem: the balloon target, seen by the control socket and the guest
    d.virsh("setmem", "lv1", "128M", "--live")
    assert wait_for(lambda: d.ctl_call("balloon", guest="lv1")["target_reached"], timeout=30)
    bal = d.ctl_call("balloon", guest="lv1")
    assert bal["target_bytes"] == 128 * MiB  # the balloon: RAM minus what the guest keeps
    assert memstat(d, "lv1")["actual"] == 128 * 1024
    assert kv(d.virsh("dominfo", "lv1").stdout)["Used memory"] == "131072 KiB"
    gs_total = d.ctl_call("balloon", guest="lv1")["guest_stats"]
    assert wait_for(lambda: d.ctl_call("balloon", guest="lv1")["guest_stats"]["free_memory"]
                    <= 128 * MiB, timeout=20), gs_total

    # memtune: read, set live, seen as gmm's limits
    mt = kv(d.virsh("memtune", "lv1").stdout)
    assert mt["hard_limit"] == "unlimited" and mt["soft_limit"] == "unlimited"
    d.virsh("memtune", "lv1", "--hard-limit", "200M", "--soft-limit", "180M", "--live")
    lims = d.ctl_call("limits", guest="lv1")["limits"]
    assert lims["max"] == 200 * MiB and lims["high"] == 180 * MiB
    mt = kv(d.virsh("memtune", "lv1").stdout)
    assert mt["hard_limit"] == "204800" and mt["soft_limit"] == "184320"
    d.virsh("memtune", "lv1", "--swap-hard-limit", "300M", "--live")
    lims = d.ctl_call("limits", guest="lv1")["limits"]
    assert lims["swap_max"] == 100 * MiB  # swap_hard_limit counts memory plus swap
    assert kv(d.virsh("memtune", "lv1").stdout)["swap_hard_limit"] == "307200"

    xml = ET.fromstring(d.virsh("dumpxml", "lv1").stdout)
    assert xml.get("id") == str(dom_id)
    assert xml.find("currentMemory").text == "131072"
    assert xml.find("memtune/hard_limit").text == "204800"
    inactive = ET.fromstring(d.virsh("dumpxml", "--inactive", "lv1").stdout)
    assert inactive.get("id") is None

    d.virsh("destroy", "lv1")
    assert d.virsh("domstate", "--reason", "lv1").stdout.strip() == "shut off (destroyed)"
    assert kv(d.virsh("dominfo", "lv1").stdout)["Id"] == "-"
    # setmaxmem: a shut-off domain's <memory>
    d.virsh("setmaxmem", "lv1", "300M", "--config")
    assert kv(d.virsh("dominfo", "lv1").stdout)["Max memory"] == "307200 KiB"
    assert "Domain 'lv1' has been undefined" in d.virsh("undefine", "lv1").stdout
    assert "lv1" not in list_all(d)


def test_setmem_gives_guest_memory_back_to_the_pool(daemon, tmp_path):
    """The guest touches 160M and frees it without reporting it (free page
    reporting off), so only the balloon can return it: setmem shrinks the
    host pool's allocated frames."""
    d = daemon
    define(d, tmp_path, "lv2",
           cmdline="workload=touch size=160M free=1 hold=600 balloon=1 balloon_features=6")
    d.virsh("start", "lv2")
    assert wait_for(lambda: memstat(d, "lv2").get("rss", 0) >= 150 * 1024, timeout=60)
    before = d.ctl_call("pool")["pool"]["allocated_frames"]
    d.virsh("setmem", "lv2", "64M", "--live")
    assert wait_for(lambda: d.ctl_call("balloon", guest="lv2")["target_reached"], timeout=30)
    assert wait_for(lambda: d.ctl_call("pool")["pool"]["allocated_frames"] <= before - (100 * MiB >> 12),
                    timeout=30), (before, d.ctl_call("pool")["pool"])
    ms = memstat(d, "lv2")
    assert ms["actual"] == 64 * 1024
    assert ms["rss"] < 100 * 1024
    assert d.ctl_call("limits", guest="lv2")["current_bytes"] < 100 * MiB
    d.virsh("destroy", "lv2")
    d.virsh("undefine", "lv2")


def test_definitions_survive_a_daemon_restart_and_autostart_starts(tmp_path):
    d = Daemon(tmp_path / "st").start()
    define(d, tmp_path, "keep")
    define(d, tmp_path, "auto")
    d.virsh("autostart", "auto")
    assert kv(d.virsh("dominfo", "auto").stdout)["Autostart"] == "enable"
    uuid = d.virsh("domuuid", "keep").stdout.strip()
    d.stop()

    d.start()
    try:
        rows = list_all(d)
        assert rows["keep"][1] == "shut off"
        assert rows["auto"][1] == "running"
        assert d.virsh("domuuid", "keep").stdout.strip() == uuid
        d.virsh("autostart", "--disable", "auto")
        assert kv(d.virsh("dominfo", "auto").stdout)["Autostart"] == "disable"
    finally:
        d.stop()


def test_errors_virsh_prints(native_daemon, tmp_path):
    d = native_daemon
    r = d.virsh("dominfo", "nope", check=False)
    assert r.returncode == 1 and "failed to get domain 'nope'" in r.stderr, r.stderr

    bad = tmp_path / "bad.xml"
    bad.write_text("<domain type='gmm'><name>x</name><devices><disk/></devices></domain>")
    r = d.virsh("define", str(bad), check=False)
    assert r.returncode == 1 and "XML error:" in r.stderr and "disk" in r.stderr, r.stderr
    bad.write_text("<domain type='gmm'><name>x</name")
    r = d.virsh("define", str(bad), check=False)
    assert r.returncode == 1 and "error:" in r.stderr, r.stderr

    define(d, tmp_path, "e1", cmdline="workload=touch size=8M hold=600 balloon=1")
    r = d.virsh("dommemstat", "e1", check=False)
    assert r.returncode == 1 and "not running" in r.stderr, r.stderr
    d.virsh("start", "e1")
    r = d.virsh("start", "e1", check=False)  # virsh itself sees the id
    assert r.returncode == 1 and "already active" in r.stderr, r.stderr
    r = d.virsh("setmaxmem", "e1", "512M", "--live", check=False)
    assert r.returncode == 1 and "Operation not supported" in r.stderr, r.stderr
    r = d.virsh("setmem", "e1", "1G", "--live", check=False)
    assert r.returncode == 1 and "error:" in r.stderr, r.stderr
    r = d.virsh("suspend", "e1", check=False)  # a call gmm does not serve
    assert r.returncode == 1 and "not supported" in r.stderr, r.stderr
    r = d.virsh("reboot", "e1", check=False)
    assert r.returncode == 1 and "not supported" in r.stderr, r.stderr
    d.virsh("destroy", "e1")
    r = d.virsh("destroy", "e1", check=False)
    assert r.returncode == 1 and "not running" in r.stderr, r.stderr
    d.virsh("undefine", "e1")
    # the daemon is fine after all that
    assert d.virsh("list", "--all").returncode == 0
    counters = d.ctl_call("domains")["libvirt"]
    assert counters["errors"] >= 8


def test_setmem_without_balloon_is_a_clear_error(native_daemon, tmp_path):
    """No <memballoon> means a virtio one, as in libvirt: model='none' has none."""
    d = native_daemon
    f = tmp_path / "nb.xml"
    f.write_text(f"""<domain type='gmm'><name>nb</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type><kernel>{GUEST}</kernel>
<cmdline>workload=touch size=8M hold=600</cmdline></os>
<devices><memballoon model='none'/></devices></domain>""")
    d.virsh("define", str(f))
    d.virsh("start", "nb")
    r = d.virsh("setmem", "nb", "32M", "--live", check=False)
    assert r.returncode == 1 and "Operation not supported" in r.stderr, r.stderr
    d.virsh("destroy", "nb")
    d.virsh("undefine", "nb")


def test_numatune_reads_and_sets_the_config(native_daemon, tmp_path):
    d = native_daemon
    define(d, tmp_path, "nt", cmdline="workload=touch size=8M balloon=1")
    nt = kv(d.virsh("numatune", "nt").stdout)
    assert "numa_mode" in nt and "numa_nodeset" in nt
    d.virsh("numatune", "nt", "--config", "--mode", "interleave", "--nodeset", "0")
    nt = kv(d.virsh("numatune", "nt", "--config").stdout)
    assert nt["numa_mode"] == "interleave" and nt["numa_nodeset"] == "0"
    xml = ET.fromstring(d.virsh("dumpxml", "--inactive", "nt").stdout)
    assert xml.find("numatune/memory").get("mode") == "interleave"
    d.virsh("undefine", "nt")


def test_lifecycle_events_reach_virsh_event(native_daemon, tmp_path):
    d = native_daemon
    ev = subprocess.Popen([VIRSH, "-c", d.uri, "event", "--all", "--loop", "--timeout", "30"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: d.ctl_call("domains")["libvirt"]["clients"] >= 1, timeout=10)
        time.sleep(0.5)  # its registrations follow the connect
        define(d, tmp_path, "ev1", cmdline="workload=touch size=8M hold=600 balloon=1")
        d.virsh("start", "ev1")
        d.virsh("destroy", "ev1")
        d.virsh("undefine", "ev1")
        assert wait_for(lambda: d.ctl_call("domains")["libvirt"]["events"] >= 4, timeout=10)
    finally:
        ev.send_signal(signal.SIGINT)
        out, err = ev.communicate(timeout=30)
    lines = [l for l in out.splitlines() if "'lifecycle' for domain 'ev1'" in l]
    text = "\n".join(lines)
    for what in ("Defined", "Started", "Stopped", "Undefined"):
        assert what in text, out + err


def test_malformed_and_dead_clients_harm_nobody(native_daemon):
    d = native_daemon
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.sock)
    s.sendall(b"\xff\xff\xff\xff" + b"\0" * 24)  # a length over the cap
    s.settimeout(5)
    assert s.recv(100) == b""  # closed
    s.close()
    half = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    half.connect(d.sock)
    half.sendall(b"\x00\x00\x00\x40" + b"\x20\x00\x80\x86")  # half a call, then gone
    half.close()
    assert d.virsh("list", "--all").returncode == 0
    assert wait_for(lambda: d.ctl_call("domains")["libvirt"]["drop_malformed"] == 1, timeout=5)


def test_shutdown_create_and_stats_period(native_daemon, tmp_path):
    d = native_daemon
    define(d, tmp_path, "sp")
    d.virsh("start", "sp")
    d.virsh("dommemstat", "sp", "--period", "3", "--live")
    assert d.ctl_call("balloon", guest="sp")["stats_period"] == 3
    assert "is being shutdown" in d.virsh("shutdown", "sp").stdout
    assert d.virsh("domstate", "--reason", "sp").stdout.strip() == "shut off (shutdown)"
    d.virsh("undefine", "sp")

    f = tmp_path / "tr.xml"
    f.write_text(domain_xml("tr", cmdline="workload=touch size=8M hold=600 balloon=1"))
    assert "Domain 'tr' created" in d.virsh("create", str(f)).stdout
    assert list_all(d)["tr"][1] == "running"
    assert kv(d.virsh("dominfo", "tr").stdout)["Persistent"] == "no"
    d.virsh("destroy", "tr")
    assert "tr" not in list_all(d)  # a transient domain is gone once it stops


def test_many_clients_at_once(native_daemon, tmp_path):
    """Readers in parallel with a start/destroy loop: every command
    answers, none waits on another's connection."""
    d = native_daemon
    define(d, tmp_path, "mc", cmdline="workload=touch size=8M hold=600 balloon=1")
    readers = [subprocess.Popen([VIRSH, "-c", d.uri, "dominfo", "mc"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(8)]
    for _ in range(3):
        d.virsh("start", "mc")
        d.virsh("destroy", "mc")
    for r in readers:
        out, err = r.communicate(timeout=60)
        assert r.returncode == 0 and "Name:           mc" in out, err
    assert wait_for(lambda: d.ctl_call("domains")["libvirt"]["clients"] == 0, timeout=10)
    c = d.ctl_call("domains")["libvirt"]
    assert c["clients_accepted"] >= 15 and c["drop_slow"] == 0 and c["drop_malformed"] == 0, c
    d.virsh("undefine", "mc")
