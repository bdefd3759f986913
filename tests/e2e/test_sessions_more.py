"""Session Manager, more end to end: the data channel's one-time tokens (driven with a raw
websocket client), IAM on StartSession and TerminateSession, ResumeSession without a lost
byte (the protocol driven by hand), DescribeSessions (states, filters, paging and the
transcript), `steward session exec`, and the `session-manager-plugin` calling conventions."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import re
import struct
import subprocess
import time
import uuid
from dataclasses import dataclass

import pytest
import websocket

from conftest import Fleet, collect, raises_aws, start_fleet, steward_bin, wait_until
from test_sessions import Terminal, client_env

TAGS = {"s0": {"role": "shell"}}


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, TAGS)


# --------------------------------------------------------------------------- #
# the data-channel frame (crates/session/src/frame.rs), in Python
# --------------------------------------------------------------------------- #

OUTPUT = "output_stream_data"
INPUT = "input_stream_data"
ACKNOWLEDGE = "acknowledge"
CHANNEL_CLOSED = "channel_closed"

PT_OUTPUT, PT_SIZE, PT_HS_REQUEST, PT_HS_RESPONSE, PT_HS_COMPLETE, PT_EXIT = 1, 3, 5, 6, 7, 12


@dataclass
class Frame:
    message_type: str
    sequence: int
    flags: int
    message_id: str
    payload_type: int
    payload: bytes
    header_length: int

    def json(self) -> dict:
        return json.loads(self.payload)


def decode(data: bytes) -> Frame:
    assert len(data) >= 120, f"frame too short: {data!r}"
    header_length = struct.unpack(">I", data[0:4])[0]
    message_type = data[4:36].decode().strip(" \0")
    _schema, created, sequence, flags = struct.unpack(">IQqQ", data[36:64])
    wire_id = data[64:80]
    message_id = str(uuid.UUID(bytes=wire_id[8:] + wire_id[:8]))
    payload_type, length = struct.unpack(">II", data[112:120])
    payload = data[120 : 120 + length]
    assert len(payload) == length, "payload shorter than its stated length"
    assert created > 0
    if payload:
        assert hashlib.sha256(payload).digest() == data[80:112], "payload digest mismatch"
    return Frame(message_type, sequence, flags, message_id, payload_type, payload, header_length)


def encode(message_type: str, sequence: int, flags: int, payload_type: int, payload: bytes) -> bytes:
    mid = uuid.uuid4().bytes
    kind = message_type.encode().ljust(32, b" ")
    return (
        struct.pack(">I", 116)
        + kind
        + struct.pack(">IQqQ", 1, int(time.time() * 1000), sequence, flags)
        + mid[8:]
        + mid[:8]
        + hashlib.sha256(payload).digest()
        + struct.pack(">II", payload_type, len(payload))
        + payload
    )


def ack_of(frame: Frame) -> bytes:
    body = {
        "AcknowledgedMessageType": frame.message_type,
        "AcknowledgedMessageId": frame.message_id,
        "AcknowledgedMessageSequenceNumber": frame.sequence,
        "IsSequentialMessage": True,
    }
    return encode(ACKNOWLEDGE, 0, 3, 0, json.dumps(body).encode())


HANDSHAKE_RESPONSE = {
    "ClientVersion": "1",
    "ProcessedClientActions": [{"ActionType": "SessionType", "ActionStatus": 1}],
    "Errors": [],
}


class Closed(Exception):
    """The server closed the data channel."""


class Channel:
    """A raw client of one data channel: the opening text frame, then binary frames."""

    def __init__(self, url: str, token: str, timeout: float = 15):
        self.ws = websocket.create_connection(url, timeout=timeout)
        opener = {
            "MessageSchemaVersion": "1.0",
            "RequestId": str(uuid.uuid4()),
            "TokenValue": token,
            "ClientId": "x",
            "ClientVersion": "1",
        }
        self.ws.send(json.dumps(opener))

    def recv(self, timeout: float = 15) -> Frame | None:
        """The next frame; None on a timeout; Closed when the socket is closed."""
        self.ws.settimeout(timeout)
        try:
            opcode, data = self.ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return None
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError) as e:
            raise Closed(str(e)) from None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise Closed("close frame")
        assert opcode == websocket.ABNF.OPCODE_BINARY, f"expected a binary frame, got opcode {opcode}: {data!r}"
        return decode(data)

    def send(self, data: bytes) -> None:
        self.ws.send(data, opcode=websocket.ABNF.OPCODE_BINARY)

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass


def expect_refused(url: str, token: str) -> str:
    """Opens ``url`` with ``token``: the server answers with channel_closed and closes.
    Returns the Output text."""
    ch = Channel(url, token)
    try:
        first = ch.recv(timeout=15)
        assert first is not None, "no answer to a refused opening frame"
        assert first.header_length == 116
        assert first.message_type == CHANNEL_CLOSED, first
        body = first.json()
        assert body["MessageType"] == CHANNEL_CLOSED
        deadline = time.monotonic() + 10
        while True:
            assert time.monotonic() < deadline, "the refused channel was not closed"
            try:
                extra = ch.recv(timeout=2)
            except Closed:
                break
            assert extra is None or extra.message_type == CHANNEL_CLOSED, f"frame after refusal: {extra}"
        return body["Output"]
    finally:
        ch.close()


def wait_handshake_request(ch: Channel, timeout: float = 20) -> Frame:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        f = ch.recv(timeout=max(0.1, deadline - time.monotonic()))
        if f is None:
            continue
        if f.message_type == OUTPUT and f.payload_type == PT_HS_REQUEST:
            return f
        assert f.message_type != CHANNEL_CLOSED, f"channel closed: {f.payload!r}"
    raise AssertionError("no handshake request within the timeout")


def terminate_quietly(ssm, *ids: str) -> None:
    for sid in ids:
        try:
            ssm.terminate_session(SessionId=sid)
        except Exception:
            pass


def history(ssm, **kw) -> list[dict]:
    return collect(ssm.describe_sessions, "Sessions", State="History", **kw)


def active(ssm, **kw) -> list[dict]:
    return collect(ssm.describe_sessions, "Sessions", State="Active", **kw)


def ids(sessions: list[dict]) -> list[str]:
    return [s["SessionId"] for s in sessions]


def run_exec(server, node: str, *command: str, input: bytes | None = None, env: dict | None = None,
             extra: tuple[str, ...] = (), timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(steward_bin()), "session", "exec", *extra, "--target", node, "--", *command],
        env=env or client_env(server), input=input if input is not None else b"",
        capture_output=True, timeout=timeout,
    )


# --------------------------------------------------------------------------- #
# 1. tokens
# --------------------------------------------------------------------------- #


def test_a_wrong_token_is_refused_with_channel_closed(server, fleet):
    ssm = server.ssm()
    started = ssm.start_session(Target=fleet.id("s0"))
    try:
        assert started["StreamUrl"].startswith("ws://")
        output = expect_refused(started["StreamUrl"], "WRONG")
        assert "token" in output.lower() and "not valid" in output.lower(), output
    finally:
        terminate_quietly(ssm, started["SessionId"])


def test_a_token_opens_one_connection_only(server, fleet):
    ssm = server.ssm()
    started = ssm.start_session(Target=fleet.id("s0"))
    sid = started["SessionId"]
    ch = Channel(started["StreamUrl"], started["TokenValue"])
    try:
        hello = wait_handshake_request(ch)
        ch.send(ack_of(hello))
        actions = hello.json()["RequestedClientActions"]
        assert actions[0]["ActionType"] == "SessionType"
        output = expect_refused(started["StreamUrl"], started["TokenValue"])
        assert "token" in output.lower() and "not valid" in output.lower(), output
        # The session of the first connection is unharmed: TerminateSession closes it.
        ssm.terminate_session(SessionId=sid)
        deadline = time.monotonic() + 15
        closed = None
        while closed is None and time.monotonic() < deadline:
            try:
                f = ch.recv(timeout=1)
            except Closed:
                raise AssertionError("socket closed without channel_closed") from None
            if f is not None and f.message_type == CHANNEL_CLOSED:
                closed = f
        assert closed is not None, "no channel_closed after TerminateSession"
    finally:
        ch.close()
        terminate_quietly(ssm, sid)


def test_another_sessions_token_is_refused(server, fleet):
    ssm = server.ssm()
    a = ssm.start_session(Target=fleet.id("s0"))
    b = ssm.start_session(Target=fleet.id("s0"))
    try:
        assert a["SessionId"] != b["SessionId"] and a["TokenValue"] != b["TokenValue"]
        output = expect_refused(a["StreamUrl"], b["TokenValue"])
        assert "not valid" in output.lower(), output
        # The refused attempt spent nothing: b's token still opens b.
        ch = Channel(b["StreamUrl"], b["TokenValue"])
        try:
            wait_handshake_request(ch)
        finally:
            ch.close()
    finally:
        terminate_quietly(ssm, a["SessionId"], b["SessionId"])


# --------------------------------------------------------------------------- #
# 2. IAM
# --------------------------------------------------------------------------- #


def _account(server) -> str:
    return server.admin.get("STEWARD_ACCOUNT_ID") or server.account_id


def _user_with_policy(server, name: str, statements: list[dict]) -> tuple[str, str, str]:
    iam = server.client("iam")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    _attach(server, name, statements)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"], arn


def _attach(server, user: str, statements: list[dict]) -> None:
    iam = server.client("iam")
    doc = json.dumps({"Version": "2012-10-17", "Statement": statements})
    pol = iam.create_policy(PolicyName=f"{user}-{uuid.uuid4().hex[:6]}", PolicyDocument=doc)["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=pol)


def test_iam_governs_start_and_terminate_session(server, fleet):
    ssm = server.ssm()
    node = fleet.id("s0")
    # The preferences document is the account's own, as in SSM's sample policies.
    doc_arn = f"arn:aws:ssm:{server.region}:{_account(server)}:document/SSM-SessionManagerRunShell"
    node_arn = f"arn:aws:ssm:{server.region}:{_account(server)}:managed-instance/{node}"
    name = f"e2e-sess-{uuid.uuid4().hex[:8]}"
    ak, sk, user_arn = _user_with_policy(
        server, name, [{"Effect": "Allow", "Action": "ssm:StartSession", "Resource": doc_arn}]
    )
    user = server.ssm(access_key=ak, secret_key=sk)
    with raises_aws("AccessDeniedException"):
        user.start_session(Target=node)

    _attach(server, name, [{"Effect": "Allow", "Action": "ssm:StartSession", "Resource": [node_arn, doc_arn]}])
    mine = wait_until(lambda: _try_start(user, node), 5, "StartSession allowed by the new policy")
    root_session = ssm.start_session(Target=node)
    try:
        assert mine["SessionId"].startswith(name), mine["SessionId"]
        owned = active(ssm, Filters=[{"key": "Owner", "value": user_arn}])
        assert ids(owned) == [mine["SessionId"]]
        with raises_aws("AccessDeniedException"):
            user.terminate_session(SessionId=root_session["SessionId"])
        still = active(ssm, Filters=[{"key": "SessionId", "value": root_session["SessionId"]}])
        assert len(still) == 1, "a refused TerminateSession ended the session"
    finally:
        terminate_quietly(ssm, mine["SessionId"], root_session["SessionId"])


def _try_start(user, node):
    from botocore.exceptions import ClientError

    try:
        return user.start_session(Target=node)
    except ClientError as e:
        if e.response["Error"]["Code"] == "AccessDeniedException":
            return None
        raise


# --------------------------------------------------------------------------- #
# 3. ResumeSession with no byte lost
# --------------------------------------------------------------------------- #

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def visible_lines(text: bytes) -> list[str]:
    """Terminal output as the lines a person sees (escapes gone, carriage returns applied)."""
    out = []
    for raw in ANSI.sub(b"", text).split(b"\n"):
        line = raw.rstrip(b"\r").split(b"\r")[-1]
        out.append(line.decode(errors="replace"))
    return out


class RawSession:
    """The client side of the protocol by hand: handshake, numbered input, acknowledgements,
    output kept by sequence number."""

    def __init__(self, url: str, token: str):
        self.ch = Channel(url, token)
        self.next_seq = 0
        self.unacked_input: dict[int, bytes] = {}
        self.output: dict[int, Frame] = {}
        self.closed: Frame | None = None

    def send_input(self, payload_type: int, payload: bytes) -> None:
        data = encode(INPUT, self.next_seq, 0, payload_type, payload)
        self.unacked_input[self.next_seq] = data
        self.next_seq += 1
        self.ch.send(data)

    def pump(self, timeout: float, *, ack: bool = True) -> Frame | None:
        """Takes one frame (acknowledging output when ``ack``); returns it."""
        f = self.ch.recv(timeout=timeout)
        if f is None:
            return None
        if f.message_type == ACKNOWLEDGE:
            self.unacked_input.pop(f.json()["AcknowledgedMessageSequenceNumber"], None)
        elif f.message_type == OUTPUT:
            if ack:
                self.ch.send(ack_of(f))
                self.output.setdefault(f.sequence, f)
        elif f.message_type == CHANNEL_CLOSED:
            self.closed = f
        return f

    def until(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; text so far: {self.text()[-1500:]!r}")
            self.pump(min(left, 1))

    def contiguous(self) -> list[Frame]:
        out, seq = [], 0
        while seq in self.output:
            out.append(self.output[seq])
            seq += 1
        return out

    def text(self) -> bytes:
        return b"".join(f.payload for f in self.contiguous() if f.payload_type == PT_OUTPUT)

    def reconnect(self, url: str, token: str) -> None:
        self.ch.close()
        self.ch = Channel(url, token)
        for seq in sorted(self.unacked_input):
            self.ch.send(self.unacked_input[seq])


def test_resume_session_loses_no_output(server, fleet):
    ssm = server.ssm()
    started = ssm.start_session(Target=fleet.id("s0"))
    sid = started["SessionId"]
    s = RawSession(started["StreamUrl"], started["TokenValue"])
    try:
        s.until(lambda: any(f.payload_type == PT_HS_REQUEST for f in s.output.values()), 20, "handshake request")
        s.send_input(PT_HS_RESPONSE, json.dumps(HANDSHAKE_RESPONSE).encode())
        s.until(lambda: any(f.payload_type == PT_HS_COMPLETE for f in s.output.values()), 20, "handshake complete")
        # A wide terminal, so the shell never wraps the command line it echoes.
        s.send_input(PT_SIZE, json.dumps({"cols": 250, "rows": 50}).encode())
        s.send_input(PT_OUTPUT, b"for i in $(seq 1 200); do echo line-$i; done; sleep 2; echo END\r")

        # Read until some lines arrived, then drop the socket: the frame that showed them
        # (and whatever follows) is never acknowledged nor kept.
        deadline = time.monotonic() + 20
        while True:
            assert time.monotonic() < deadline, f"no line output; saw {s.text()[-500:]!r}"
            f = s.ch.recv(timeout=1)
            if f is None:
                continue
            if f.message_type == OUTPUT and re.search(rb"line-\d+\r\n", f.payload):
                break
            if f.message_type == ACKNOWLEDGE:
                s.unacked_input.pop(f.json()["AcknowledgedMessageSequenceNumber"], None)
            elif f.message_type == OUTPUT:
                s.ch.send(ack_of(f))
                s.output.setdefault(f.sequence, f)
        s.ch.ws.shutdown()

        wait_until(
            lambda: [x["Status"] for x in active(ssm, Filters=[{"key": "SessionId", "value": sid}])] == ["Disconnected"],
            10, "the session Disconnected",
        )
        resumed = ssm.resume_session(SessionId=sid)
        assert resumed["SessionId"] == sid
        assert resumed["TokenValue"] and resumed["TokenValue"] != started["TokenValue"]
        s.reconnect(resumed["StreamUrl"], resumed["TokenValue"])

        def complete() -> bool:
            return "END" in visible_lines(s.text())

        s.until(complete, 40, "END after the resume")
        lines = [l for l in visible_lines(s.text()) if re.fullmatch(r"line-\d+|END", l)]
        assert lines == [f"line-{i}" for i in range(1, 201)] + ["END"], lines

        s.send_input(PT_OUTPUT, b"exit\r")
        s.until(lambda: s.closed is not None, 40, "channel_closed after exit")
        assert sorted(s.output) == list(range(len(s.output))), "output sequence numbers have a gap"
    finally:
        s.ch.close()
        terminate_quietly(ssm, sid)

    ended = wait_until(
        lambda: history(ssm, Filters=[{"key": "SessionId", "value": sid}]), 10, "the session in History"
    )
    assert ended[0]["Status"] == "Terminated"
    again = ssm.resume_session(SessionId=sid)
    assert again["SessionId"] == sid
    assert again.get("TokenValue", "") == ""


# --------------------------------------------------------------------------- #
# 4. DescribeSessions
# --------------------------------------------------------------------------- #


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_describe_sessions_states_filters_paging_and_transcript(server, fleet):
    ssm = server.ssm()
    node = fleet.id("s0")
    root_arn = server.client("sts").get_caller_identity()["Arn"]
    before = set(ids(history(ssm)))
    done = run_exec(server, node, "sh", "-c", "echo described-$((2+3))")
    assert done.returncode == 0, done
    assert b"described-5" in done.stdout
    new = wait_until(lambda: [s for s in history(ssm) if s["SessionId"] not in before], 10, "the exec session")
    assert len(new) == 1, new
    old_id = new[0]["SessionId"]

    mid = math.ceil(time.time())
    time.sleep(max(0.0, mid - time.time()) + 0.1)
    b = ssm.start_session(Target=node)["SessionId"]
    c = ssm.start_session(Target=node)["SessionId"]
    try:
        act, hist = ids(active(ssm)), ids(history(ssm))
        assert b in act and c in act and old_id not in act
        assert old_id in hist and b not in hist and c not in hist

        def f(key, value):
            return [{"key": key, "value": value}]

        assert {b, c} <= set(ids(active(ssm, Filters=f("Target", node))))
        assert old_id in ids(history(ssm, Filters=f("Target", node)))
        assert ids(active(ssm, Filters=f("Target", "mi-00000000000000000"))) == []
        assert {b, c} <= set(ids(active(ssm, Filters=f("Owner", root_arn))))
        assert old_id in ids(history(ssm, Filters=f("Owner", root_arn)))
        assert ids(history(ssm, Filters=f("Owner", f"arn:aws:iam::{_account(server)}:user/nobody"))) == []
        assert {b, c} <= set(ids(active(ssm, Filters=f("Status", "Connecting"))))
        assert old_id in ids(history(ssm, Filters=f("Status", "Terminated")))
        assert old_id not in ids(history(ssm, Filters=f("Status", "Failed")))
        assert ids(history(ssm, Filters=f("SessionId", old_id))) == [old_id]
        assert ids(active(ssm, Filters=f("SessionId", old_id))) == []
        after = ids(active(ssm, Filters=f("InvokedAfter", iso(mid))))
        assert b in after and c in after
        assert old_id not in ids(history(ssm, Filters=f("InvokedAfter", iso(mid))))
        assert old_id in ids(history(ssm, Filters=f("InvokedBefore", iso(mid))))
        before_mid = ids(active(ssm, Filters=f("InvokedBefore", iso(mid))))
        assert b not in before_mid and c not in before_mid
        both = f("InvokedAfter", iso(mid - 3600)) + f("InvokedBefore", iso(mid + 3600))
        assert old_id in ids(history(ssm, Filters=both))

        # Paging, one at a time, newest first.
        whole = ids(active(ssm))
        pages, token = [], None
        for _ in range(50):
            args = {"State": "Active", "MaxResults": 1}
            if token:
                args["NextToken"] = token
            page = ssm.describe_sessions(**args)
            assert len(page["Sessions"]) <= 1
            pages += ids(page["Sessions"])
            token = page.get("NextToken")
            if not token:
                break
        assert pages == whole and len(pages) >= 2
        assert pages.index(c) < pages.index(b), "newest first"
        assert ids(collect(ssm.describe_sessions, "Sessions", State="History", MaxResults=1)) == ids(history(ssm))

        with raises_aws("ValidationException"):
            ssm.describe_sessions(State="History", Filters=f("InvokedAfter", "not-a-time"))

        ended = history(ssm, Filters=f("SessionId", old_id))[0]
        assert ended["Status"] == "Terminated"
        assert ended["EndDate"] >= ended["StartDate"]
        url = ended["OutputUrl"]["S3OutputUrl"]
        assert url.startswith("file://"), url
        path = url.removeprefix("file://")

        def transcript():
            try:
                with open(path) as fh:
                    lines = fh.read().splitlines()
            except FileNotFoundError:
                return None
            events = [json.loads(l) for l in lines[1:]]
            text = "".join(e[2] for e in events if e[1] == "o")
            return (lines, events) if "described-5" in text else None

        lines, events = wait_until(transcript, 10, "the transcript")
        header = json.loads(lines[0])
        assert header["version"] == 2
        assert events and all(isinstance(e, list) and len(e) == 3 for e in events)
        outs = [e for e in events if e[1] == "o"]
        assert outs
        times = [e[0] for e in events]
        assert all(isinstance(t, (int, float)) and t >= 0 for t in times)
        assert times == sorted(times), f"times go backwards: {times}"
    finally:
        terminate_quietly(ssm, b, c)


# --------------------------------------------------------------------------- #
# 5. steward session exec
# --------------------------------------------------------------------------- #


def test_exec_passes_stdin_through(server, fleet):
    done = run_exec(server, fleet.id("s0"), "sh", "-c", "read x; echo got-$x", input=b"abc\n")
    assert done.returncode == 0, done
    assert b"got-abc" in done.stdout, done


def test_exec_of_a_missing_command_fails(server, fleet):
    done = run_exec(server, fleet.id("s0"), "no-such-command-e2e-xyz")
    assert done.returncode != 0, done


MEGABYTE_COMMANDS = [
    # The plain case: 76-column base64.
    "head -c 1000000 /dev/zero | base64",
    # 4094 characters a line: with the CRLF a line is 4096 bytes, so the node's pty reads
    # end right after the \r and the CRLF is split between frames.
    "head -c 1000000 /dev/zero | tr '\\0' x | fold -w 4094",
]


def test_exec_delivers_a_megabyte_whole(server, fleet):
    problems = []
    for cmd in MEGABYTE_COMMANDS:
        expected = subprocess.run(["sh", "-c", cmd], capture_output=True, check=True).stdout
        assert len(expected) >= 1000000
        done = run_exec(server, fleet.id("s0"), "sh", "-c", cmd, timeout=120)
        assert done.returncode == 0, done.stderr
        got = done.stdout
        if len(got) != len(expected) or got != expected:
            stray = got.count(b"\r")
            problems.append(f"{cmd!r}: got {len(got)} bytes, expected {len(expected)}; stray CRs: {stray}")
    assert not problems, problems


def _bare_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    return env


def test_exec_without_an_endpoint_says_so(server, fleet, tmp_path):
    env = _bare_env(tmp_path)
    done = run_exec(server, fleet.id("s0"), "true", env=env)
    assert done.returncode != 0, done
    assert b"--endpoint-url" in done.stderr + done.stdout, done


def test_exec_with_credentials_from_a_profile(server, fleet, tmp_path):
    env = _bare_env(tmp_path)
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[default]\naws_access_key_id = AKIAWRONGWRONGWRONG0\naws_secret_access_key = wrong\n\n"
        f"[p]\naws_access_key_id = {server.access_key}\naws_secret_access_key = {server.secret_key}\n"
    )
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(creds),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_ENDPOINT_URL=server.url,
        AWS_REGION=server.region,
    )
    done = run_exec(server, fleet.id("s0"), "echo", "profile-ok", env=env, extra=("--profile", "p"))
    assert done.returncode == 0, done
    assert b"profile-ok" in done.stdout


# --------------------------------------------------------------------------- #
# 6. session-manager-plugin conventions
# --------------------------------------------------------------------------- #


@pytest.fixture
def plugin(tmp_path):
    path = tmp_path / "session-manager-plugin"
    path.symlink_to(steward_bin())
    return path


def test_plugin_without_arguments_says_it_is_installed(plugin):
    done = subprocess.run([str(plugin)], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0
    assert "installed successfully" in done.stdout


def _response_json(started: dict) -> str:
    return json.dumps({k: started[k] for k in ("SessionId", "TokenValue", "StreamUrl")})


def _drive_shell(term: Terminal) -> None:
    try:
        term.read_until(r"Starting session with SessionId")
        term.type("echo hi-$((1+1))\r")
        term.read_until(r"hi-2")
        term.type("exit\r")
        assert term.wait() == 0
    finally:
        term.close()


def test_plugin_takes_the_response_in_argv(server, fleet, plugin):
    ssm = server.ssm()
    node = fleet.id("s0")
    started = ssm.start_session(Target=node)
    try:
        argv = [str(plugin), _response_json(started), server.region, "StartSession", "",
                json.dumps({"Target": node}), server.url]
        _drive_shell(Terminal(argv, client_env(server)))
    finally:
        terminate_quietly(ssm, started["SessionId"])


def test_plugin_takes_the_response_from_the_environment(server, fleet, plugin):
    ssm = server.ssm()
    node = fleet.id("s0")
    started = ssm.start_session(Target=node)
    try:
        env = client_env(server)
        env["AWS_SSM_START_SESSION_RESPONSE"] = _response_json(started)
        argv = [str(plugin), "AWS_SSM_START_SESSION_RESPONSE", server.region, "StartSession", "",
                json.dumps({"Target": node}), server.url]
        _drive_shell(Terminal(argv, env))
    finally:
        terminate_quietly(ssm, started["SessionId"])


def test_plugin_without_a_target_fails(server, fleet, plugin):
    ssm = server.ssm()
    started = ssm.start_session(Target=fleet.id("s0"))
    try:
        argv = [str(plugin), _response_json(started), server.region, "StartSession", "", "{}", server.url]
        done = subprocess.run(argv, env=client_env(server), capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
        assert done.returncode != 0, done
        assert "Target" in done.stderr, done.stderr
    finally:
        terminate_quietly(ssm, started["SessionId"])
