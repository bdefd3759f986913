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

from conftest import Fleet, start_fleet, steward_bin
from test_sessions import Terminal, client_env, web_root  # noqa: F401 (web_root: a fixture)
from test_sessions_more import server  # noqa: F401 (the module's server fixture)

PLUGIN = Path(__file__).resolve().parents[3] / "shared" / "tools" / "aws-session-manager-plugin" / "session-manager-plugin"
TAGS = {"p0": {"role": "aws-plugin"}}

pytestmark = pytest.mark.skipif(not PLUGIN.exists(), reason=f"AWS's plugin is not at {PLUGIN}")


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, TAGS)


@pytest.fixture(scope="module")
def plugin_env(server, tmp_path_factory) -> dict:
    """The client's environment with AWS's plugin first on PATH."""
    bin_dir = tmp_path_factory.mktemp("aws-plugin-bin")
    (bin_dir / "session-manager-plugin").symlink_to(PLUGIN)
    env = client_env(server)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return env


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
