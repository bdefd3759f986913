"""Session Manager through AWS's own ``session-manager-plugin`` (built unchanged from its public
source, ``../shared/tools/aws-session-manager-plugin``), run by the real ``aws ssm start-session``,
as an SSM user already has it installed: the node answers as the SSM agent does (the
handshake, no exit code after a shell, non-interactive commands on pipes with their bytes
unchanged, ``EXIT_CODE: n`` only when the output streams are kept apart).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Fleet, start_fleet, steward_bin, wait_until
from test_sessions import Terminal, client_env, web_root  # noqa: F401 (web_root: a fixture)

PLUGIN = Path(__file__).resolve().parents[3] / "shared" / "tools" / "aws-session-manager-plugin" / "session-manager-plugin"
TAGS = {"p0": {"role": "aws-plugin"}}

pytestmark = pytest.mark.skipif(not PLUGIN.exists(), reason=f"AWS's plugin is not at {PLUGIN}")


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1", "--test-clock"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, TAGS)


@pytest.fixture(scope="module", params=["aws", "steward"])
def plugin_env(request, server, tmp_path_factory) -> dict:
    """The client's environment with a `session-manager-plugin` first on PATH: AWS's, or
    Steward's own (the `steward` binary answers to that name), which must be swappable."""
    bin_dir = tmp_path_factory.mktemp(f"{request.param}-plugin-bin")
    (bin_dir / "session-manager-plugin").symlink_to(PLUGIN if request.param == "aws" else steward_bin())
    env = client_env(server)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    env["STEWARD_TEST_PLUGIN"] = request.param
    return env


def is_aws(plugin_env: dict) -> bool:
    return plugin_env["STEWARD_TEST_PLUGIN"] == "aws"


def end_group(proc: subprocess.Popen) -> None:
    """Ends the aws CLI and the plugin it started (left alone, the plugin would go on trying
    to resume its session against whatever server gets that port next)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def start_session(server, plugin_env, target: str, *args: str) -> Terminal:
    return Terminal(["aws", "ssm", "start-session", "--target", target, "--endpoint-url", server.url, *args], plugin_env)


def test_a_shell_through_aws_plugin(server, fleet, plugin_env):
    term = start_session(server, plugin_env, fleet.id("p0"))
    try:
        term.read_until(r"Starting session with SessionId", timeout=30)
        term.type("echo via-$((6*7))-aws\r")
        term.read_until(r"via-42-aws", timeout=30)
        term.resize(97, 31)
        time.sleep(1.5)  # the plugin looks at the terminal's size every 500 ms
        term.type("stty size\r")
        term.read_until(r"31 97", timeout=10)
        term.type("exit 5\r")
        assert term.wait() == 0
        seen = term.read_until(r"Exiting session")
        # The plugin prints every payload it gets: a shell's end carries no exit code.
        ending = seen.rpartition("logout")[2]
        assert "5\r\n\r\nExiting" not in ending and "EXIT_CODE" not in ending, ending
    finally:
        term.close()


def test_an_interactive_command_through_aws_plugin(server, fleet, plugin_env):
    command = json.dumps({"command": ["read answer; echo got-$answer"]})
    term = start_session(server, plugin_env, fleet.id("p0"), "--document-name", "AWS-StartInteractiveCommand",
                         "--parameters", command)
    try:
        term.read_until(r"Starting session with SessionId", timeout=30)
        term.type("yes\r")
        term.read_until(r"got-yes", timeout=20)
        assert term.wait() == 0
    finally:
        term.close()


def non_interactive(server, plugin_env, target: str, command: str, **extra: str) -> bytes:
    """stdout of ``aws ssm start-session`` with AWS-StartNonInteractiveCommand; its stdin a
    pipe left open (the plugin reads its input until the session ends)."""
    parameters = {"command": [command], **{k: [v] for k, v in extra.items()}}
    proc = subprocess.Popen(
        ["aws", "ssm", "start-session", "--target", target, "--endpoint-url", server.url,
         "--document-name", "AWS-StartNonInteractiveCommand", "--parameters", json.dumps(parameters)],
        env=plugin_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        proc.wait(timeout=60)  # stdin stays open: the plugin ends when the session does
    finally:
        end_group(proc)
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.stdin.close()
    assert proc.returncode == 0, (out, err)
    return out


def test_a_non_interactive_command_passes_its_bytes_unchanged(server, fleet, plugin_env):
    """No terminal on the node: newlines stay newlines, stderr comes along in order, and no
    exit code is printed."""
    out = non_interactive(server, plugin_env, fleet.id("p0"), "printf 'a\\nb\\n'; echo err >&2; exit 3")
    body = out.split(b"SessionId", 1)[1]
    assert b"a\nb\nerr\n" in body, out
    assert b"\r" not in body.split(b"\n", 1)[1], out
    assert b"EXIT_CODE" not in out


def test_separate_output_streams_end_with_the_exit_code(server, fleet, plugin_env):
    if not is_aws(plugin_env):
        pytest.skip("Steward's plugin returns the exit code as its status (test_stewards_own_exec) instead of printing it")
    out = non_interactive(server, plugin_env, fleet.id("p0"), "echo out; echo err >&2; exit 3",
                          separateOutputStream="true")
    assert b"out\n" in out and b"err\n" in out, out
    assert b"EXIT_CODE: 3" in out, out


def test_stewards_own_exec_speaks_the_same_protocol(server, fleet):
    """`steward session exec` asks for the streams apart: stdout, stderr and the exit code
    each where a shell user expects them."""
    proc = subprocess.run(
        [str(steward_bin()), "session", "exec", "--target", fleet.id("p0"), "--",
         "sh", "-c", "printf 'x\\ny\\n'; echo oops >&2; exit 4"],
        env=client_env(server), capture_output=True, stdin=subprocess.DEVNULL, timeout=60,
    )
    assert proc.returncode == 4, proc
    assert proc.stdout.endswith(b"x\ny\n"), proc.stdout
    assert b"oops\n" in proc.stderr, proc.stderr




def forward_with_aws_plugin(server, plugin_env, target: str, document: str, parameters: dict) -> subprocess.Popen:
    """``aws ssm start-session`` forwarding a port with `document`; returns once the plugin
    waits for connections (end it with ``end_group``)."""
    proc = subprocess.Popen(
        ["aws", "ssm", "start-session", "--target", target, "--endpoint-url", server.url,
         "--document-name", document, "--parameters", json.dumps({k: [v] for k, v in parameters.items()})],
        env=plugin_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # the plugin is the CLI's child: end both together
    )
    line, seen = "", ""
    deadline = time.monotonic() + 30
    while "Waiting for connections" not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen += line
    if "Waiting for connections" not in line:
        end_group(proc)
        raise AssertionError(f"the plugin never waited for connections: {seen}")
    return proc


def test_port_forwarding_through_aws_plugin_carries_parallel_downloads_intact(server, fleet, plugin_env, web_root):
    """The plugin multiplexes connections with smux version 1 (no window updates); the node
    answers in that version. Eight downloads at once (52 MB), every byte checked."""
    import hashlib
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from conftest import free_port

    port, sums = web_root
    local = free_port()
    proc = forward_with_aws_plugin(server, plugin_env, fleet.id("p0"), "AWS-StartPortForwardingSession",
                                   {"portNumber": str(port), "localPortNumber": str(local)})
    try:
        def fetch(name):
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/{name}", timeout=120) as r:
                return name, hashlib.sha256(r.read()).hexdigest()

        names = ["small.bin"] * 6 + ["big.bin"] * 2
        with ThreadPoolExecutor(max_workers=8) as pool:
            for name, digest in pool.map(fetch, names):
                assert digest == sums[name], name
    finally:
        end_group(proc)


def test_ctrl_c_and_terminate_session_through_aws_plugin(server, fleet, plugin_env):
    """Ctrl-C reaches the shell's foreground job (the plugin sends it as a byte); a
    TerminateSession call ends the plugin's session, which exits cleanly."""
    import re

    term = start_session(server, plugin_env, fleet.id("p0"))
    try:
        term.read_until(r"Starting session with SessionId: (\S+)", timeout=30)
        session_id = re.search(r"SessionId: (\S+)", term.seen.decode()).group(1)
        # Ctrl-C only reaches a job that is running: wait for the prompt, then for the shell
        # to take the line (bash turns bracketed paste off as it runs a command).
        term.read_until(r"\$ ", timeout=30)
        term.type("sleep 60\r")
        term.read_until(r"sleep 60\r\r?\n(\x1b\[\?2004l)?", timeout=10)
        time.sleep(0.5)
        term.type("\x03")
        term.read_until(r"\^C", timeout=10)
        time.sleep(0.3)  # typed before the interrupt lands, it would be flushed with the line
        term.type("echo after-$((2+3))\r")
        term.read_until(r"after-5", timeout=10)
        assert server.ssm().terminate_session(SessionId=session_id)["SessionId"] == session_id
        assert term.wait() == 0
    finally:
        term.close()
    ended = server.ssm().describe_sessions(State="History", Filters=[{"key": "SessionId", "value": session_id}])
    assert ended["Sessions"][0]["Status"] == "Terminated"


def test_port_forwarding_to_a_remote_host_through_aws_plugin(server, fleet, plugin_env, web_root):
    """AWS-StartPortForwardingSessionToRemoteHost: the node dials the host named."""
    import hashlib
    import urllib.request

    from conftest import free_port

    port, sums = web_root
    local = free_port()
    proc = forward_with_aws_plugin(server, plugin_env, fleet.id("p0"), "AWS-StartPortForwardingSessionToRemoteHost",
                                   {"host": "127.0.0.1", "portNumber": str(port), "localPortNumber": str(local)})
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/small.bin", timeout=60) as r:
            assert hashlib.sha256(r.read()).hexdigest() == sums["small.bin"]
    finally:
        end_group(proc)


# --------------------------------------------------------------------------- #
# plain-stream port sessions: AWS-StartSSHSession (ssh's ProxyCommand) and old clients
# --------------------------------------------------------------------------- #


class Replier:
    """A TCP server on this machine (the node's localhost): each connection sends an 8-byte
    length and that many bytes; the server answers with the same bytes and hangs up, as an
    SSH server ends its connection when the client logs out."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.closed = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        try:
            self._answer_once(conn)
        finally:
            self.closed += 1

    @staticmethod
    def _answer_once(conn):
        with conn:
            head = b""
            while len(head) < 8:
                more = conn.recv(8 - len(head))
                if not more:
                    return
                head += more
            want, body = int.from_bytes(head, "big"), b""
            while len(body) < want:
                more = conn.recv(65536)
                if not more:
                    return
                body += more
            conn.sendall(body)

    def close(self):
        self.sock.close()


@pytest.fixture
def replier():
    r = Replier()
    yield r
    r.close()


def test_an_ssh_session_is_a_plain_byte_stream(server, fleet, plugin_env, replier):
    """AWS-StartSSHSession as ssh's ProxyCommand runs it: standard input to the node's port,
    what the port answers to standard output, byte for byte (1 MiB of random bytes); the
    target hanging up ends the session and the plugin."""
    import threading

    body = os.urandom(1 << 20)
    proc = subprocess.Popen(
        ["aws", "ssm", "start-session", "--target", fleet.id("p0"), "--endpoint-url", server.url,
         "--document-name", "AWS-StartSSHSession", "--parameters", json.dumps({"portNumber": [str(replier.port)]})],
        env=plugin_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    out = bytearray()

    def read_all():
        while chunk := proc.stdout.read1(65536):
            out.extend(chunk)

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    try:
        proc.stdin.write(len(body).to_bytes(8, "big") + body)
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        while body not in out and time.monotonic() < deadline:
            time.sleep(0.1)
        # ssh closes its ProxyCommand's input when it is done; the plugin then ends.
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0, proc.stderr.read()[-2000:]
    finally:
        end_group(proc)
    reader.join(timeout=5)
    # AWS's plugin announces the session on standard output before the stream (SSH clients
    # skip lines before the server's version line) and its end after it.
    before, found, _ = bytes(out).partition(body)
    assert found, (len(out), bytes(out[:200]))
    assert b"\x00" not in before and len(before) < 200, before
    assert replier.connections == 1


def test_an_old_client_gets_a_plain_stream_and_reconnects(server, fleet, replier):
    """A client before 1.1.70 does not multiplex: the node gives it the port's bytes as they
    are, and after DisconnectToPort dials the port again for the next data."""
    from test_sessions_more import (
        HANDSHAKE_RESPONSE, INPUT, OUTPUT, PT_HS_RESPONSE, PT_OUTPUT, Channel, ack_of, encode,
        terminate_quietly, wait_handshake_request,
    )

    ssm = server.ssm()
    started = ssm.start_session(Target=fleet.id("p0"), DocumentName="AWS-StartPortForwardingSession",
                                Parameters={"portNumber": [str(replier.port)]})
    ch = Channel(started["StreamUrl"], started["TokenValue"])
    try:
        request = wait_handshake_request(ch)
        ch.send(ack_of(request))
        answer = {**HANDSHAKE_RESPONSE, "ClientVersion": "1.1.54.0"}
        ch.send(encode(INPUT, 0, 0, PT_HS_RESPONSE, json.dumps(answer).encode()))
        sequence = 1

        def exchange(text: bytes) -> bytes:
            nonlocal sequence
            ch.send(encode(INPUT, sequence, 0, PT_OUTPUT, len(text).to_bytes(8, "big") + text))
            sequence += 1
            got, deadline = b"", time.monotonic() + 20
            while got != text and time.monotonic() < deadline:
                f = ch.recv(timeout=1)
                if f is not None and f.message_type == OUTPUT:
                    ch.send(ack_of(f))
                    if f.payload_type == PT_OUTPUT:
                        got += f.payload
            return got

        assert exchange(b"first") == b"first"
        # The port hung up after answering (data sent before it did would go unread, as
        # with any server that closes); the next data dials it again.
        wait_until(lambda: replier.closed >= 1, 10, "the port to hang up")
        assert exchange(b"second") == b"second"
        wait_until(lambda: replier.closed >= 2, 10, "the port to hang up again")
        ch.send(encode(INPUT, sequence, 0, 10, (1).to_bytes(4, "big")))  # DisconnectToPort
        sequence += 1
        assert exchange(b"third") == b"third"
        assert replier.connections == 3
    finally:
        ch.close()
        terminate_quietly(ssm, started["SessionId"])


# --------------------------------------------------------------------------- #
# preferences, a dropped websocket, idle sessions, the plugin's own log
# --------------------------------------------------------------------------- #


def test_session_preferences_apply_through_the_plugin(server, fleet, plugin_env):
    """The account's SSM-SessionManagerRunShell (its shell profile) shapes the plugin's shell."""
    from test_sessions_preferences import PREFERENCES, set_preferences

    ssm = server.ssm()
    set_preferences(ssm, shellProfile={"linux": "export GREETING=prefs-$((40+2))", "windows": ""})
    try:
        term = start_session(server, plugin_env, fleet.id("p0"))
        try:
            term.read_until(r"Starting session with SessionId", timeout=30)
            # The profile runs as typed lines; type after its prompt comes back.
            term.read_until(r"export GREETING=prefs-\$\(\(40\+2\)\)\r*\n(.|\n)*\$ ", timeout=30)
            term.type("echo greeting=$GREETING\r")
            term.read_until(r"greeting=prefs-42", timeout=20)
            term.type("exit\r")
            assert term.wait() == 0
        finally:
            term.close()
    finally:
        ssm.delete_document(Name=PREFERENCES)


class CuttingProxy:
    """A TCP proxy in front of the server whose connections can all be cut at once, as a
    network drop would: the API calls and the data channel both go through it."""

    def __init__(self, upstream_port: int):
        import socket
        import threading

        self.upstream = upstream_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.live: list = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket

        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            with self.lock:
                self.live += [client, upstream]
            self.carry(client, upstream)

    def carry(self, client, upstream):
        """Starts copying both ways (a subclass may read what passes)."""
        import threading

        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(2)
            except OSError:
                pass

    def cut(self) -> int:
        import socket

        with self.lock:
            cut, self.live = self.live, []
        for s in cut:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        return len(cut)

    def close(self):
        self.sock.close()
        self.cut()


def test_a_dropped_websocket_is_resumed_by_the_plugin(server, fleet, plugin_env):
    """The network drops under a shell: the plugin calls ResumeSession, reconnects with the new
    token and the session goes on; what was typed after the drop arrives, nothing is lost."""
    proxy = CuttingProxy(server.port)
    url = server.url.replace(f":{server.port}", f":{proxy.port}")
    term = Terminal(["aws", "ssm", "start-session", "--target", fleet.id("p0"), "--endpoint-url", url], plugin_env)
    try:
        term.read_until(r"Starting session with SessionId", timeout=30)
        term.type("echo before-$((1+1))\r")
        term.read_until(r"before-2", timeout=20)
        assert proxy.cut() >= 2
        # The plugin sees its socket fail, resumes through the proxy, and resends.
        term.type("echo after-$((2+2))\r")
        term.read_until(r"after-4", timeout=60)
        term.type("exit\r")
        assert term.wait(timeout=30) == 0
    finally:
        term.close()
        proxy.close()


def test_an_idle_session_through_the_plugin_is_warned_then_ended(server, fleet, plugin_env):
    """Moves the server's clock: the warning shows in the plugin's terminal, then the session
    ends and the plugin exits cleanly."""
    term = start_session(server, plugin_env, fleet.id("p0"))
    try:
        term.read_until(r"Starting session with SessionId", timeout=30)
        term.type("echo awake-$((5*5))\r")
        term.read_until(r"awake-25", timeout=20)
        time.sleep(1)  # the typed line's frames all acknowledged: nothing resent counts as activity later
        server.advance_clock(19 * 60 + 5)  # the default idle timeout is 20 minutes
        term.read_until(r"ends in one minute \(idle\)", timeout=30)
        server.advance_clock(60)
        assert term.wait(timeout=30) == 0
    finally:
        term.close()


@pytest.fixture
def plugin_debug_log():
    """AWS's plugin logging at debug level (its configuration under /usr/local, written
    synchronously); the folder is removed afterwards (it is not there on this machine
    otherwise)."""
    import shutil

    home = Path("/usr/local/sessionmanagerplugin")
    if home.exists():
        pytest.skip(f"{home} exists: this machine has a plugin configuration of its own")
    template = (PLUGIN.parent / "seelog_unix.xml").read_text()
    config = template.replace('minlevel="off"', 'minlevel="debug"')
    config = config.replace('type="adaptive" mininterval="2000000" maxinterval="100000000" critmsgcount="500"', 'type="sync"')
    try:
        (home / "logs").mkdir(parents=True)
        (home / "seelog.xml").write_text(config)
    except PermissionError:
        pytest.skip(f"cannot write {home}")
    try:
        yield home / "logs"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_the_plugins_debug_log_shows_no_error(server, fleet, plugin_env, plugin_debug_log, web_root):
    """A shell, a non-interactive command and port forwarding through AWS's
    plugin logging at debug level: it logs the handshake and not one error."""
    if not is_aws(plugin_env):
        pytest.skip("AWS's plugin's own log")
    import urllib.request

    from conftest import free_port

    term = start_session(server, plugin_env, fleet.id("p0"))
    try:
        term.read_until(r"Starting session with SessionId", timeout=30)
        term.type("echo logged-$((3*3))\r")
        term.read_until(r"logged-9", timeout=20)
        term.type("exit\r")
        assert term.wait() == 0
    finally:
        term.close()
    # On a terminal, as a user runs it (on a pipe the plugin logs that it cannot size one).
    term = start_session(server, plugin_env, fleet.id("p0"), "--document-name", "AWS-StartNonInteractiveCommand",
                         "--parameters", json.dumps({"command": ["echo quiet-$((4*4))"]}))
    try:
        term.read_until(r"quiet-16", timeout=30)
        assert term.wait() == 0
    finally:
        term.close()
    port, sums = web_root
    local = free_port()
    proc = forward_with_aws_plugin(server, plugin_env, fleet.id("p0"), "AWS-StartPortForwardingSession",
                                   {"portNumber": str(port), "localPortNumber": str(local)})
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/small.bin", timeout=60) as r:
            assert len(r.read()) > 0
    finally:
        end_group(proc)
    log = (plugin_debug_log / "session-manager-plugin.log").read_text(errors="replace")
    assert "Processing HandshakeRequest" in log and "Handshake Complete" in log, log[-3000:]
    errors = plugin_debug_log / "errors.log"
    assert not errors.exists() or not errors.read_text(errors="replace").strip(), errors.read_text(errors="replace")[-3000:]
    assert " ERROR " not in log, [line for line in log.splitlines() if " ERROR " in line][:10]
