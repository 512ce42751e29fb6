"""python3-libvirt (Debian 12's bindings, unpatched) against `gmm daemon`.

The same mapping virsh uses, through the API: lookups, lifecycle, info(),
memoryStats(), setMemoryFlags(), memoryParameters(), numaParameters(),
events through the default event loop, errors as libvirtError with
libvirt's codes, several connections at once and keepalive.
"""
import os
import socket
import struct
import threading
import time

import pytest

from conftest import GUEST, Daemon, wait_for

libvirt = pytest.importorskip("libvirt")

MiB = 1 << 20


def xml(name, mem_mib=256, cmdline="workload=touch size=64M hold=600 verify=1 balloon=1"):
    return f"""<domain type='gmm'>
  <name>{name}</name>
  <memory unit='MiB'>{mem_mib}</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64'>hvm</type><kernel>{GUEST}</kernel><cmdline>{cmdline}</cmdline></os>
  <devices><memballoon model='virtio'><stats period='1'/></memballoon></devices>
</domain>"""


def test_connection_and_host(native_daemon):
    d = native_daemon
    conn = libvirt.open(d.uri)
    try:
        assert conn.getType() == "gmm"
        assert conn.getLibVersion() >= 9000000
        assert conn.getVersion() > 0
        assert conn.isAlive() == 1
        model, mem_mib, cpus, mhz, nodes, sockets, cores, threads = conn.getInfo()
        pool = d.ctl_call("pool")["pool"]
        assert mem_mib == pool["size_bytes"] >> 20
        assert cpus == os.sysconf("SC_NPROCESSORS_ONLN")
        assert conn.getFreeMemory() <= pool["size_bytes"]
        cells = conn.getCellsFreeMemory(0, 1)
        assert len(cells) == 1 and 0 < cells[0] <= pool["size_bytes"]
        stats = conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
        assert stats["total"] == pool["size_bytes"] >> 10
        assert "<domain type='gmm'/>" in conn.getCapabilities()
        assert conn.listAllDomains() == []
        assert conn.numOfDomains() == 0 and conn.listDefinedDomains() == []
    finally:
        conn.close()


def test_domain_lifecycle_and_memory(daemon):
    d = daemon
    conn = libvirt.open(d.uri)
    try:
        dom = conn.defineXML(xml("py1"))
        assert dom.name() == "py1" and dom.isPersistent() == 1 and dom.isActive() == 0
        assert dom.state() == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_UNKNOWN]
        assert conn.lookupByUUIDString(dom.UUIDString()).name() == "py1"
        dom.create()
        assert dom.isActive() == 1
        assert dom.state() == [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED]
        assert conn.lookupByID(dom.ID()).name() == "py1"
        assert [x.name() for x in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)] == ["py1"]
        assert conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE) == []
        assert conn.listDomainsID() == [dom.ID()]

        state, maxmem, mem, ncpu, cputime = dom.info()
        assert state == libvirt.VIR_DOMAIN_RUNNING and maxmem == 256 * 1024 and ncpu == 2
        stat = d.ctl_call("stat", guest="py1")["stat"]
        assert stat["vcpus"] == 2 and stat["mem_bytes"] == 256 * MiB

        assert wait_for(lambda: dom.memoryStats().get("rss", 0) >= 64 * 1024, timeout=60)
        ms = dom.memoryStats()
        assert ms["actual"] == 256 * 1024
        gs = d.ctl_call("balloon", guest="py1")["guest_stats"]
        assert ms["available"] == gs["total_memory"] // 1024

        dom.setMemoryFlags(96 * 1024, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        assert wait_for(lambda: d.ctl_call("balloon", guest="py1")["target_reached"], timeout=30)
        assert d.ctl_call("balloon", guest="py1")["target_bytes"] == (256 - 96) * MiB
        assert dom.memoryStats()["actual"] == 96 * 1024
        assert dom.info()[2] == 96 * 1024

        params = dom.memoryParameters(libvirt.VIR_DOMAIN_AFFECT_LIVE)
        unlimited = 9007199254740991  # VIR_DOMAIN_MEMORY_PARAM_UNLIMITED (not in the bindings)
        assert params["hard_limit"] == unlimited and params["min_guarantee"] == 0
        dom.setMemoryParameters({"hard_limit": 220 * 1024, "min_guarantee": 32 * 1024},
                                libvirt.VIR_DOMAIN_AFFECT_LIVE)
        lims = d.ctl_call("limits", guest="py1")["limits"]
        assert lims["max"] == 220 * MiB and lims["min"] == 32 * MiB
        params = dom.memoryParameters(libvirt.VIR_DOMAIN_AFFECT_LIVE)
        assert params["hard_limit"] == 220 * 1024 and params["min_guarantee"] == 32 * 1024
        dom.setMemoryParameters({"hard_limit": unlimited}, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        assert d.ctl_call("limits", guest="py1")["limits"]["max"] is None

        numa = dom.numaParameters(0)
        assert set(numa) == {"numa_mode", "numa_nodeset"}
        with pytest.raises(libvirt.libvirtError) as e:
            dom.setNumaParameters({"numa_nodeset": "0"}, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        assert e.value.get_error_code() == libvirt.VIR_ERR_OPERATION_UNSUPPORTED

        live = dom.XMLDesc(0)
        assert "<currentMemory unit=\"KiB\">98304</currentMemory>" in live.replace("'", '"')
        assert "id=" not in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).split(">")[0]

        dom.destroy()
        assert dom.state() == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED]
        dom.undefine()
        assert conn.listAllDomains() == []
    finally:
        conn.close()


def test_errors_are_libvirt_errors(native_daemon):
    d = native_daemon
    conn = libvirt.open(d.uri)
    try:
        with pytest.raises(libvirt.libvirtError) as e:
            conn.lookupByName("nope")
        assert e.value.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN
        assert "Domain not found" in str(e.value)
        with pytest.raises(libvirt.libvirtError) as e:
            conn.lookupByID(4242)
        assert e.value.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN
        with pytest.raises(libvirt.libvirtError) as e:
            conn.defineXML("<domain type='gmm'><name>x</name><devices><disk/></devices></domain>")
        assert e.value.get_error_code() == libvirt.VIR_ERR_XML_ERROR
        dom = conn.defineXML(xml("py2", cmdline="workload=touch size=8M hold=600 balloon=1"))
        with pytest.raises(libvirt.libvirtError) as e:
            dom.memoryStats()
        assert e.value.get_error_code() == libvirt.VIR_ERR_OPERATION_INVALID
        dom.create()
        with pytest.raises(libvirt.libvirtError) as e:
            dom.create()
        assert e.value.get_error_code() == libvirt.VIR_ERR_OPERATION_INVALID
        assert "already running" in str(e.value)
        with pytest.raises(libvirt.libvirtError) as e:
            dom.suspend()
        assert e.value.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT
        with pytest.raises(libvirt.libvirtError) as e:  # swap_hard_limit below hard_limit
            dom.setMemoryParameters({"hard_limit": 64 * 1024, "swap_hard_limit": 32 * 1024},
                                    libvirt.VIR_DOMAIN_AFFECT_LIVE)
        assert e.value.get_error_code() == libvirt.VIR_ERR_INVALID_ARG
        with pytest.raises(libvirt.libvirtError):
            dom.setMemoryFlags(1 << 30, libvirt.VIR_DOMAIN_AFFECT_LIVE)  # above its RAM
        dom.destroy()
        dom.undefine()
        with pytest.raises(libvirt.libvirtError) as e:
            dom.info()  # a stale handle
        assert e.value.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN
    finally:
        conn.close()


def test_lifecycle_events_and_two_connections(native_daemon):
    d = native_daemon
    libvirt.virEventRegisterDefaultImpl()
    seen = []
    done = threading.Event()

    def loop():
        while not done.is_set():
            libvirt.virEventRunDefaultImpl()

    def on_event(conn, dom, event, detail, opaque):
        seen.append((dom.name(), event, detail))

    watcher = libvirt.open(d.uri)
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    cb = watcher.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_event, None)
    other = libvirt.open(d.uri)
    try:
        dom = other.defineXML(xml("ev2", cmdline="workload=touch size=8M hold=600 balloon=1"))
        dom.create()
        # the watcher sees the other connection's domain
        assert watcher.lookupByName("ev2").isActive() == 1
        dom.destroy()
        dom.undefine()
        want = [libvirt.VIR_DOMAIN_EVENT_DEFINED, libvirt.VIR_DOMAIN_EVENT_STARTED,
                libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_UNDEFINED]
        assert wait_for(lambda: [e for _, e, _ in seen] == want, timeout=10), seen
        assert seen[2][2] == libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED
        watcher.domainEventDeregisterAny(cb)
    finally:
        other.close()
        watcher.close()
        done.set()
        libvirt.virEventAddTimeout(0, lambda *a: None, None)  # wake the loop
        t.join(5)


def rpc_call(s, proc, serial, body=b""):
    hdr = struct.pack(">IIiIII", 0x20008086, 1, proc, 0, serial, 0)
    s.sendall(struct.pack(">I", 4 + len(hdr) + len(body)) + hdr + body)


def rpc_read(s):
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf
    n, = struct.unpack(">I", exact(4))
    msg = exact(n - 4)
    return struct.unpack(">IIiIII", msg[:24]), msg[24:]


def test_keepalive_pings_an_idle_client_that_asked_for_it(native_daemon):
    """After CONNECT_SUPPORTS_FEATURE(PROGRAM_KEEPALIVE) the daemon pings a
    client idle for 5 s (libvirtd's keepalive_interval); a PONG keeps it."""
    d = native_daemon
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(15)
    s.connect(d.sock)
    try:
        rpc_call(s, 60, 1, struct.pack(">i", 10))
        hdr, body = rpc_read(s)
        assert hdr[4] == 1 and hdr[5] == 0 and body == struct.pack(">i", 1)
        t0 = time.time()
        hdr, body = rpc_read(s)
        assert hdr[0] == 0x6b656570 and hdr[2] == 1 and hdr[3] == 2, hdr  # keepalive PING, a message
        assert 4 <= time.time() - t0 <= 12
        s.sendall(struct.pack(">IIIiIII", 28, 0x6b656570, 1, 2, 2, 0, 0))  # PONG
        rpc_call(s, 3, 2)  # CONNECT_GET_TYPE still answered
        hdr, body = rpc_read(s)
        assert hdr[4] == 2 and b"gmm" in body
        counters = d.ctl_call("domains")["libvirt"]
        assert counters["pings_sent"] >= 1 and counters["drop_keepalive"] == 0, counters
    finally:
        s.close()


def test_bindings_stay_connected_when_idle(native_daemon):
    d = native_daemon
    libvirt.virEventRegisterDefaultImpl()
    done = threading.Event()

    def loop():
        while not done.is_set():
            libvirt.virEventRunDefaultImpl()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    conn = libvirt.open(d.uri)
    try:
        conn.setKeepAlive(2, 3)
        time.sleep(7)
        assert conn.isAlive() == 1
        assert conn.getType() == "gmm"
        assert d.ctl_call("domains")["libvirt"]["drop_keepalive"] == 0
    finally:
        conn.close()
        done.set()
        libvirt.virEventAddTimeout(0, lambda *a: None, None)
        t.join(5)
