"""The control socket: 0600, peer credentials checked, newline-delimited
JSON; malformed requests get an error reply and harm no guest."""
import json
import os
import socket
import subprocess
import tempfile
import threading
import time

from conftest import ENV, GMM, control, guest_spec, wait_for, Run


def start(sock):
    return subprocess.Popen([GMM, "run", "--accel", "native", "--control", sock, "--guest",
                             guest_spec("g", cmdline="workload=hog")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def stop(proc, sock):
    control(sock, {"cmd": "stop", "guest": "g"})
    out, err = proc.communicate(timeout=30)
    run = Run(proc, out, err)
    assert "AddressSanitizer" not in err and "runtime error" not in err, run
    return run


def raw(sock, data):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock)
    s.sendall(data)
    buf = b""
    try:
        while not buf.endswith(b"\n"):
            c = s.recv(65536)
            if not c:
                break
            buf += c
    finally:
        s.close()
    return buf


def test_malformed_requests_get_errors_and_the_guest_runs_on(tmp_path):
    sock = str(tmp_path / "c.sock")
    proc = start(sock)
    assert wait_for(lambda: os.path.exists(sock))
    for data, needle in [(b"not json\n", "bad request"), (b"[1,2]\n", "JSON object"),
                         (b"{}\n", "missing \"cmd\""), (b'{"cmd":"frobnicate"}\n', "unknown command"),
                         (b'{"cmd":"stat"}\n', "missing \"guest\""),
                         (b'{"cmd":"stat","guest":"nope"}\n', "no such guest"),
                         (b'{"cmd":"stat","guest":5}\n', "missing \"guest\"")]:
        reply = json.loads(raw(sock, data))
        assert reply["ok"] is False and needle in reply["error"], (data, reply)
    # oversized line: an error, then the connection is closed
    reply = json.loads(raw(sock, b"x" * (70 * 1024)))
    assert reply["ok"] is False and "64 KiB" in reply["error"]
    # two requests in one write get two replies, in order
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b'{"cmd":"version"}\n{"cmd":"list"}\n')
    data = b""
    while data.count(b"\n") < 2:
        data += s.recv(65536)
    s.close()
    first, second = [json.loads(l) for l in data.splitlines()]
    assert "version" in first and "guests" in second
    # a client that disconnects mid-request harms nothing
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b'{"cmd":"st')
    s.close()
    st = control(sock, {"cmd": "stat", "guest": "g"})
    assert st["ok"] and st["stat"]["state"] == "running"
    run = stop(proc, sock)
    assert run.guests["g"]["state"] == "stopped"
    assert not os.path.exists(sock), "socket removed at exit"


def test_socket_is_0600_and_other_users_are_refused():
    # a directory another user can traverse (pytest's tmp_path is 0700)
    d = tempfile.mkdtemp(prefix="gmm-ctl-", dir="/tmp")
    os.chmod(d, 0o755)
    sock = os.path.join(d, "c.sock")
    proc = start(sock)
    assert wait_for(lambda: os.path.exists(sock))
    assert (os.stat(sock).st_mode & 0o777) == 0o600
    # Open the file mode on purpose: the peer-credential check must still refuse.
    os.chmod(sock, 0o666)
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_UNIX);s.settimeout(5);s.connect(sys.argv[1])\n"
            "try:\n"
            "    s.sendall(b'{\\\"cmd\\\":\\\"list\\\"}\\n');d=s.recv(100)\n"
            "except (BrokenPipeError, ConnectionResetError):\n"
            "    d=b''\n"
            "print('GOT' if d else 'CLOSED')\n")
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          "/usr/bin/python3", "-c", code, sock], capture_output=True, text=True, timeout=20)
    assert "CLOSED" in out.stdout, out
    run = stop(proc, sock)
    assert run.guests["g"]["state"] == "stopped"
    os.rmdir(d)


def test_cli_client_commands(tmp_path):
    sock = str(tmp_path / "c.sock")
    proc = start(sock)
    assert wait_for(lambda: os.path.exists(sock))
    out = subprocess.run([GMM, "list", "--control", sock], capture_output=True, text=True, env=ENV)
    assert out.returncode == 0 and '"g"' in out.stdout, out
    out = subprocess.run([GMM, "stat", "g", "--control", sock, "--json"], capture_output=True, text=True, env=ENV)
    assert out.returncode == 0 and json.loads(out.stdout)["stat"]["guest"] == "g", out
    out = subprocess.run([GMM, "stat", "nope", "--control", sock], capture_output=True, text=True, env=ENV)
    assert out.returncode == 1 and "no such guest" in out.stderr, out
    out = subprocess.run([GMM, "stop", "g"], capture_output=True, text=True, env=dict(ENV, GMM_CONTROL=sock))
    assert out.returncode == 0, out
    out, err = proc.communicate(timeout=30)
    assert Run(proc, out, err).guests["g"]["state"] == "stopped"
    out = subprocess.run([GMM, "list", "--control", sock], capture_output=True, text=True, env=ENV)
    assert out.returncode == 1 and "cannot connect" in out.stderr


def test_requests_racing_the_end_get_an_answer_or_a_refusal(tmp_path):
    # clients asking as fast as they can while gmm stops: each request gets
    # a reply (the answer, or "gmm is shutting down") or its connect() is
    # refused; none is reset or closed without a word
    sock = str(tmp_path / "c.sock")
    proc = start(sock)
    assert wait_for(lambda: os.path.exists(sock))
    outcomes, bad = {}, []

    def ask():
        while proc.poll() is None:
            try:
                r = control(sock, {"cmd": "list"})
                key = "answered" if r and r["ok"] else (r or {}).get("error", "no reply")
            except (ConnectionRefusedError, FileNotFoundError):
                key = "refused"
            except OSError as e:
                key = repr(e)
            outcomes[key] = outcomes.get(key, 0) + 1
            if key not in ("answered", "refused", "gmm is shutting down"):
                bad.append(key)

    askers = [threading.Thread(target=ask) for _ in range(4)]
    for t in askers:
        t.start()
    time.sleep(0.5)
    control(sock, {"cmd": "stop", "guest": "g"})
    out, err = proc.communicate(timeout=30)
    for t in askers:
        t.join()
    run = Run(proc, out, err)
    assert "AddressSanitizer" not in err and run.guests["g"]["state"] == "stopped", run
    assert outcomes.get("answered", 0) > 10 and not bad, (outcomes, bad)
