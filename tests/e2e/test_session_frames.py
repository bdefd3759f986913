"""The data channel, frame by frame, against recordings of AWS's own ``session-manager-plugin``.

``frames/*.json`` hold what passed between the plugin and Steward for each session type (a
shell, an interactive command, a non-interactive command, smux port forwarding, an SSH plain
stream), recorded by this module with ``STEWARD_RECORD_FRAMES=1`` through a tap that reads
the WebSocket frames on the wire. The replay plays the plugin's side of each recording, frame
for frame (its HandshakeResponse with Go's ``null`` lists, its keystrokes, sizes, smux version
1 frames and flags) against a live agent, and checks the node's side: the handshake it asks
for, the kinds of frames in the order the recording has them, their flags and numbering, and
the bytes a deterministic session carries.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import Fleet, free_port, start_fleet
from test_sessions_aws_plugin import PLUGIN, CuttingProxy, Replier, end_group, non_interactive, start_session
from test_sessions import client_env
from test_sessions_more import (
    ACKNOWLEDGE, CHANNEL_CLOSED, INPUT, OUTPUT, Channel, Closed, ack_of, decode, encode, terminate_quietly,
)

RECORDINGS = Path(__file__).parent / "frames"
RECORD = os.environ.get("STEWARD_RECORD_FRAMES") == "1"
TAGS = {"f0": {"role": "frames"}}
SCENARIOS = ["shell", "interactive", "non_interactive", "port_mux", "ssh_stream"]


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, TAGS)


# --------------------------------------------------------------------------- #
# the tap: a TCP proxy that reads the WebSocket frames of data channels
# --------------------------------------------------------------------------- #


def ws_frames(buffer: bytearray):
    """Takes whole WebSocket frames off the front of `buffer`: (opcode, payload) each."""
    while len(buffer) >= 2:
        b0, b1 = buffer[0], buffer[1]
        length, at = b1 & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                return
            length, at = struct.unpack(">H", buffer[2:4])[0], 4
        elif length == 127:
            if len(buffer) < 10:
                return
            length, at = struct.unpack(">Q", buffer[2:10])[0], 10
        mask = None
        if b1 & 0x80:
            if len(buffer) < at + 4:
                return
            mask, at = bytes(buffer[at:at + 4]), at + 4
        if len(buffer) < at + length:
            return
        payload = bytes(buffer[at:at + length])
        del buffer[:at + length]
        if mask:
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        yield b0 & 0x0F, payload


class FrameTap(CuttingProxy):
    """Sits between the aws CLI (and its plugin) and the server; records every data-channel
    frame in order, with the side it came from."""

    def __init__(self, upstream_port: int):
        self.frames: list[tuple[str, bytes]] = []
        super().__init__(upstream_port)

    def carry(self, client, upstream):
        state = {"data_channel": None}
        threading.Thread(target=self._read_pump, args=(client, upstream, "client", state), daemon=True).start()
        threading.Thread(target=self._read_pump, args=(upstream, client, "node", state), daemon=True).start()

    def _read_pump(self, a, b, side, state):
        head, buffer = bytearray(), bytearray()
        upgraded = False
        try:
            while data := a.recv(65536):
                b.sendall(data)
                if upgraded:
                    buffer += data
                    for opcode, payload in ws_frames(buffer):
                        if opcode == 2:
                            with self.lock:
                                self.frames.append((side, payload))
                    continue
                head += data
                if b"\r\n\r\n" not in head:
                    continue
                request_or_status, _, rest = bytes(head).partition(b"\r\n\r\n")
                if side == "client":
                    state["data_channel"] = request_or_status.startswith(b"GET /v1/data-channel/")
                    upgraded = bool(state["data_channel"])
                else:
                    upgraded = bool(state["data_channel"]) and request_or_status.startswith(b"HTTP/1.1 101")
                if upgraded:
                    # Frames that came with the upgrade (the client's opening text frame is
                    # not binary and is not recorded).
                    buffer += rest
                    for opcode, payload in ws_frames(buffer):
                        if opcode == 2:
                            with self.lock:
                                self.frames.append((side, payload))
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass



def describe(side: str, raw: bytes) -> dict:
    f = decode(raw)
    entry = {"from": side, "message_type": f.message_type, "sequence": f.sequence, "flags": f.flags,
             "payload_type": f.payload_type}
    try:
        entry["text"] = f.payload.decode()
    except UnicodeDecodeError:
        entry["base64"] = base64.b64encode(f.payload).decode()
    return entry


def payload_of(entry: dict) -> bytes:
    return base64.b64decode(entry["base64"]) if "base64" in entry else entry["text"].encode()


# --------------------------------------------------------------------------- #
# recording (STEWARD_RECORD_FRAMES=1): AWS's plugin through the tap
# --------------------------------------------------------------------------- #


def smux_data(payloads: list[bytes]) -> bytes:
    """The data of every smux PSH frame in `payloads` (one session's Output), in order."""
    stream, data = b"".join(payloads), b""
    while len(stream) >= 8:
        _ver, cmd, length, _sid = struct.unpack("<BBHI", stream[:8])
        if cmd == 2:
            data += stream[8:8 + length]
        stream = stream[8 + length:]
    return data


def record(server, fleet, plugin_env, scenario: str) -> dict:
    tap = FrameTap(server.port)
    url = server.url.replace(f":{server.port}", f":{tap.port}")
    env = dict(plugin_env)
    node = fleet.id("f0")
    replier = Replier()
    body = b"frames-" + bytes(range(256)) * 4
    try:
        if scenario == "shell":
            meta = {"document": None, "parameters": {}}
            term = start_session(type("S", (), {"url": url})(), env, node)
            term.read_until(r"\$ ", timeout=30)
            term.type("echo rec-$((6*7))\r")
            term.read_until(r"rec-42", timeout=20)
            term.type("exit\r")
            term.wait()
            term.close()
        elif scenario == "interactive":
            meta = {"document": "AWS-StartInteractiveCommand", "parameters": {"command": ["read a; echo got-$a"]}}
            term = start_session(type("S", (), {"url": url})(), env, node, "--document-name", meta["document"],
                                 "--parameters", json.dumps(meta["parameters"]))
            term.read_until(r"Starting session", timeout=30)
            time.sleep(1)
            term.type("yes\r")
            term.read_until(r"got-yes", timeout=20)
            term.wait()
            term.close()
        elif scenario == "non_interactive":
            meta = {"document": "AWS-StartNonInteractiveCommand", "parameters": {"command": ["printf 'x\\ny\\n'"]}}
            non_interactive(type("S", (), {"url": url})(), env, node, "printf 'x\\ny\\n'")
        elif scenario in ("port_mux", "ssh_stream"):
            document = "AWS-StartPortForwardingSession" if scenario == "port_mux" else "AWS-StartSSHSession"
            local = free_port()
            parameters = {"portNumber": [str(replier.port)]}
            if scenario == "port_mux":
                parameters["localPortNumber"] = [str(local)]
            meta = {"document": document, "parameters": {"portNumber": ["{port}"]}}
            if scenario == "port_mux":
                meta["parameters"]["localPortNumber"] = ["0"]
            proc = subprocess.Popen(
                ["aws", "ssm", "start-session", "--target", node, "--endpoint-url", url, "--document-name", document,
                 "--parameters", json.dumps(parameters)],
                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                if scenario == "port_mux":
                    seen = b""
                    while b"Waiting for connections" not in seen:
                        seen += proc.stdout.readline()
                    with socket.create_connection(("127.0.0.1", local)) as c:
                        c.sendall(len(body).to_bytes(8, "big") + body)
                        got = b""
                        while chunk := c.recv(65536):
                            got += chunk
                    assert got == body
                    time.sleep(1)
                else:
                    proc.stdin.write(len(body).to_bytes(8, "big") + body)
                    proc.stdin.flush()
                    proc.wait(timeout=30)
            finally:
                end_group(proc)
        time.sleep(0.5)
    finally:
        tap.close()
        replier.close()
    frames = [describe(side, raw) for side, raw in tap.frames]
    return {"scenario": scenario, "body": base64.b64encode(body).decode(), **meta, "frames": frames}


@pytest.mark.skipif(not RECORD or not PLUGIN.exists(), reason="records only with STEWARD_RECORD_FRAMES=1")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_record(server, fleet, scenario, tmp_path):
    if server.backend != "sqlite":
        pytest.skip("recorded once")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "session-manager-plugin").symlink_to(PLUGIN)
    env = client_env(server)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    recording = record(server, fleet, env, scenario)
    RECORDINGS.mkdir(exist_ok=True)
    (RECORDINGS / f"{scenario}.json").write_text(json.dumps(recording, indent=1) + "\n")


# --------------------------------------------------------------------------- #
# replay: the plugin's side of each recording against a live agent
# --------------------------------------------------------------------------- #


def kinds(entries: list[dict]) -> list[tuple]:
    """(payload type, flags) of each data frame, runs of Output collapsed into one."""
    out: list[tuple] = []
    for e in entries:
        k = (e["payload_type"], e["flags"])
        if out and out[-1] == k == (1, 0):
            continue
        out.append(k)
    return out


@pytest.mark.skipif(RECORD, reason="recording")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_replay(server, fleet, scenario):
    recording = json.loads((RECORDINGS / f"{scenario}.json").read_text())
    replier = Replier()
    ssm = server.ssm()
    parameters = {k: [v.replace("{port}", str(replier.port)) for v in vs] for k, vs in recording["parameters"].items()}
    args = {"Target": fleet.id("f0"), "Parameters": parameters}
    if recording["document"]:
        args["DocumentName"] = recording["document"]
    started = ssm.start_session(**args)
    ch = Channel(started["StreamUrl"], started["TokenValue"])
    recorded_node = [e for e in recording["frames"] if e["from"] == "node" and e["message_type"] == OUTPUT]
    got: list = []
    closed = False

    def take(timeout: float) -> None:
        """Reads what the node sent within `timeout`, acknowledging its data."""
        nonlocal closed
        deadline = time.monotonic() + timeout
        while not closed and time.monotonic() < deadline:
            try:
                f = ch.recv(timeout=max(0.05, deadline - time.monotonic()))
            except Closed:
                closed = True
                return
            if f is None:
                return
            if f.message_type == OUTPUT:
                ch.send(ack_of(f))
                got.append(f)
            elif f.message_type == CHANNEL_CLOSED:
                closed = True

    try:
        for entry in recording["frames"]:
            if entry["from"] != "client" or entry["message_type"] != INPUT:
                continue
            # As the plugin did: each of its frames after what the node had sent before it.
            before = [e for e in recording["frames"][: recording["frames"].index(entry)]
                      if e["from"] == "node" and e["message_type"] == OUTPUT]
            deadline = time.monotonic() + 20
            while len(kinds([{"payload_type": f.payload_type, "flags": f.flags} for f in got])) < len(kinds(before)) \
                    and time.monotonic() < deadline and not closed:
                take(0.5)
            ch.send(encode(INPUT, entry["sequence"], entry["flags"], entry["payload_type"], payload_of(entry)))
        deadline = time.monotonic() + 20
        while not closed and time.monotonic() < deadline:
            take(0.5)
            if scenario == "port_mux" and smux_data([f.payload for f in got if f.payload_type == 1]):
                break
    finally:
        ch.close()
        terminate_quietly(ssm, started["SessionId"])
        replier.close()

    # The handshake: what the node asks for is what it asked the plugin for.
    [asked] = [json.loads(f.payload) for f in got if f.payload_type == 5]
    [recorded_ask] = [json.loads(e["text"]) for e in recorded_node if e["payload_type"] == 5]
    for request in (asked, recorded_ask):
        for action in request["RequestedClientActions"]:
            props = action["ActionParameters"].get("Properties") or {}
            for varying in ("portNumber", "localPortNumber"):
                if varying in props:
                    props[varying] = "-"
    assert asked == recorded_ask
    # Numbering: from 0, one by one; the handshake request alone carries flag 1 (SYN).
    assert [f.sequence for f in got] == list(range(len(got)))
    assert got[0].payload_type == 5 and got[0].flags == 1
    # The same kinds of frames in the same order (Output runs counted once).
    replayed = kinds([{"payload_type": f.payload_type, "flags": f.flags} for f in got])
    expected = kinds(recorded_node)
    assert replayed[: len(expected)] == expected, (replayed, expected)
    # The bytes a deterministic session carries.
    output = b"".join(f.payload for f in got if f.payload_type == 1)
    body = base64.b64decode(recording["body"])
    if scenario == "non_interactive":
        assert output == b"x\ny\n"
    elif scenario == "ssh_stream":
        assert output == body
    elif scenario == "port_mux":
        assert smux_data([f.payload for f in got if f.payload_type == 1]) == body
    elif scenario == "shell":
        assert b"rec-42" in output
    elif scenario == "interactive":
        assert b"got-yes" in output
    assert not any(f.message_type == ACKNOWLEDGE for f in got)
