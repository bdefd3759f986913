"""Session Manager end to end: shells and commands on a real agent through the server's
relay, driven by Steward's own client (`steward session …`), by the aws CLI with Steward's
client acting as `session-manager-plugin`, and through a pseudo-terminal like a person."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import fcntl
import time
from pathlib import Path

import pytest

from conftest import Fleet, raises_aws, start_fleet, steward_bin, wait_until

TAGS = {"s0": {"role": "shell"}}


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1", "--test-clock"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, TAGS)


def client_env(server) -> dict:
    env = dict(os.environ)
    env.update(server.env())
    return env


def _controlling_terminal() -> None:
    """In the child: a session of its own whose controlling terminal is its stdin."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A program on a pseudo-terminal of our own, read and typed into like a person would."""

    def __init__(self, argv: list[str], env: dict, cols: int = 80, rows: int = 24):
        self.master, slave = pty.openpty()
        self.resize(cols, rows, fd=slave)
        # The terminal is the program's controlling terminal, as a user's is: Ctrl-C typed
        # there signals the foreground job (AWS's plugin relays it from SIGINT).
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     preexec_fn=_controlling_terminal)
        os.close(slave)
        self.seen = b""

    def resize(self, cols: int, rows: int, fd: int | None = None) -> None:
        fcntl.ioctl(self.master if fd is None else fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def read_until(self, pattern: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while not re.search(pattern.encode(), self.seen):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} within {timeout}s; saw {self.seen[-2000:]!r}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:
                    break
        return self.seen.decode(errors="replace")

    def wait(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:
                    pass
        return self.proc.wait(timeout=1)

    def close(self) -> None:
        # The program leads its own process group: whatever it started (AWS's plugin under
        # the aws CLI) ends with it.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        os.close(self.master)


def test_exec_prints_the_output_and_returns_the_exit_code(server, fleet):
    node = fleet.id("s0")
    done = subprocess.run(
        [str(steward_bin()), "session", "exec", "--target", node, "--", "sh", "-c", "echo hello from $(hostname); exit 3"],
        env=client_env(server), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 3, done
    assert "hello from" in done.stdout


def test_an_interactive_shell_through_a_terminal(server, fleet):
    node = fleet.id("s0")
    term = Terminal([str(steward_bin()), "session", "start", "--target", node], client_env(server))
    try:
        term.read_until(r"Starting session with SessionId")
        term.type("echo ready-$((40+2))\r")
        term.read_until(r"ready-42")
        term.type("whoami\r")
        # A root agent runs shells as ssm-user (see test_sessions_runas.py).
        term.read_until("ssm-user" if os.geteuid() == 0 else os.environ.get("USER", "root"))
        term.type("tty\r")
        term.read_until(r"/dev/pts/\d+")
        term.resize(101, 37)
        time.sleep(1.5)
        term.type("stty size\r")
        term.read_until(r"37 101")
        term.type("sleep 30\r")
        time.sleep(1)
        started = time.monotonic()
        term.type("\x03")
        term.type("echo after-interrupt\r")
        term.read_until(r"after-interrupt\s")
        assert time.monotonic() - started < 10, "Ctrl-C reached the foreground sleep"
        term.type("exit\r")
        assert term.wait() == 0
        assert "Exiting session" in term.read_until(r"Exiting session")
    finally:
        term.close()
    ssm = server.ssm()
    history = ssm.describe_sessions(State="History", Filters=[{"key": "Target", "value": node}])["Sessions"]
    mine = history[0]
    assert mine["Status"] == "Terminated"
    cast = Path(mine["OutputUrl"]["S3OutputUrl"].removeprefix("file://"))
    lines = cast.read_text().splitlines()
    assert json.loads(lines[0])["version"] == 2
    assert "ready-42" in "".join(json.loads(l)[2] for l in lines[1:] if json.loads(l)[1] == "o")


def test_the_aws_cli_starts_a_session_with_our_plugin(server, fleet, tmp_path):
    plugin_dir = tmp_path / "bin"
    plugin_dir.mkdir()
    (plugin_dir / "session-manager-plugin").symlink_to(steward_bin())
    version = subprocess.run([str(plugin_dir / "session-manager-plugin"), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() > "1.2.497.0"
    env = client_env(server)
    env["PATH"] = f"{plugin_dir}:{env['PATH']}"
    term = Terminal(["aws", "ssm", "start-session", "--target", fleet.id("s0"), "--endpoint-url", server.url], env)
    try:
        term.type("echo via-$((6*7))-plugin\r")
        term.read_until(r"via-42-plugin", timeout=40)
        term.type("exit\r")
        assert term.wait() == 0
    finally:
        term.close()


def test_terminate_session_ends_the_shell(server, fleet):
    node = fleet.id("s0")
    ssm = server.ssm()
    term = Terminal([str(steward_bin()), "session", "start", "--target", node], client_env(server))
    try:
        term.read_until(r"Starting session with SessionId: (\S+)")
        session_id = re.search(r"SessionId: (\S+)", term.seen.decode()).group(1)
        term.type("echo live\r")
        term.read_until(r"live\s")
        active = ssm.describe_sessions(State="Active")["Sessions"]
        assert [s["SessionId"] for s in active] == [session_id]
        assert ssm.terminate_session(SessionId=session_id)["SessionId"] == session_id
        assert term.wait() == 0
    finally:
        term.close()
    ended = ssm.describe_sessions(State="History", Filters=[{"key": "SessionId", "value": session_id}])["Sessions"]
    assert ended[0]["Status"] == "Terminated"


def test_bad_session_requests_are_refused(server, fleet):
    ssm = server.ssm()
    with raises_aws("TargetNotConnected"):
        ssm.start_session(Target="mi-00000000000000000")
    with raises_aws("InvalidDocument"):
        ssm.start_session(Target=fleet.id("s0"), DocumentName="AWS-RunShellScript")
    with raises_aws("DoesNotExistException"):
        ssm.terminate_session(SessionId="nobody-0123456789abcdef0")
    with raises_aws("ValidationException"):
        ssm.describe_sessions(State="Sometimes")
    assert ssm.get_connection_status(Target=fleet.id("s0"))["Status"] == "connected"
    assert ssm.get_connection_status(Target="mi-00000000000000000")["Status"] == "notconnected"


def test_an_idle_session_is_warned_then_ended(server, fleet):
    node = fleet.id("s0")
    term = Terminal([str(steward_bin()), "session", "start", "--target", node], client_env(server))
    try:
        term.read_until(r"Starting session with SessionId")
        term.type("echo alive-$((2*21))\r")
        term.read_until(r"alive-42")
        server.advance_clock(19 * 60 + 5)  # the default idle timeout is 20 minutes
        term.read_until(r"ends in one minute \(idle\)")
        server.advance_clock(60)
        assert term.wait() == 0
    finally:
        term.close()
    ended = server.ssm().describe_sessions(State="History", Filters=[{"key": "Target", "value": node}])["Sessions"][0]
    assert "idle for 20 minutes" in ended["Details"]


def test_a_session_ends_at_its_maximum_duration(server, fleet):
    ssm = server.ssm()
    name = "Short-Sessions-" + str(int(time.time() * 1000))
    content = {"schemaVersion": "1.0", "description": "two minutes at most", "sessionType": "Standard_Stream",
               "inputs": {"idleSessionTimeout": "60", "maxSessionDuration": "2"}}
    ssm.create_document(Name=name, DocumentType="Session", Content=json.dumps(content))
    node = fleet.id("s0")
    term = Terminal([str(steward_bin()), "session", "start", "--target", node, "--document-name", name],
                    client_env(server))
    try:
        term.read_until(r"Starting session with SessionId")
        term.type("echo up-$((3*3))\r")
        term.read_until(r"up-9")
        server.advance_clock(65)
        term.read_until(r"ends in one minute \(at its maximum duration\)")
        server.advance_clock(60)
        assert term.wait() == 0
    finally:
        term.close()
    ended = ssm.describe_sessions(State="History", Filters=[{"key": "Target", "value": node}])["Sessions"][0]
    assert "maximum duration" in ended["Details"]


@pytest.fixture()
def web_root(tmp_path):
    """A local HTTP server (the node's service to reach) serving 2 MB and 20 MB files."""
    import hashlib
    import http.server
    import socketserver
    import threading

    root = tmp_path / "www"
    root.mkdir()
    sums = {}
    for name, size in [("small.bin", 2_000_000), ("big.bin", 20_000_000)]:
        data = os.urandom(size)
        (root / name).write_bytes(data)
        sums[name] = hashlib.sha256(data).hexdigest()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    httpd = Server(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], sums
    httpd.shutdown()


def test_port_forwarding_carries_many_downloads_and_a_stalled_one_stalls_no_other(server, fleet, web_root):
    import hashlib
    import socket
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    port, sums = web_root
    proc = subprocess.Popen(
        [str(steward_bin()), "session", "port-forward", "--target", fleet.id("s0"), "--remote-port", str(port)],
        env=client_env(server), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = ""
        deadline = time.monotonic() + 30
        while "opened" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        local = int(re.search(r"Port (\d+) opened", line).group(1))
        # A reader that asks for 20 MB and never reads: its stream's window fills, nothing else's.
        stalled = socket.create_connection(("127.0.0.1", local))
        stalled.sendall(b"GET /big.bin HTTP/1.0\r\nHost: x\r\n\r\n")
        time.sleep(0.5)

        def fetch(_):
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/small.bin", timeout=60) as r:
                return hashlib.sha256(r.read()).hexdigest()

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=100) as pool:
            digests = list(pool.map(fetch, range(100)))
        assert digests == [sums["small.bin"]] * 100
        assert time.monotonic() - started < 60
        # The stalled one still gets its whole file once it reads.
        received = b""
        stalled.settimeout(30)
        while True:
            chunk = stalled.recv(1 << 20)
            if not chunk:
                break
            received += chunk
        body = received.split(b"\r\n\r\n", 1)[1]
        assert hashlib.sha256(body).hexdigest() == sums["big.bin"]
        stalled.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
