"""Input that arrives before anyone is authenticated is bounded, tried as an attacker who
can reach the port but holds no key would.

- The agent WebSocket and the session data channels read at most a few KiB before the
  peer proves who it is: a larger first message closes the socket.
- A peer that does not answer the agent challenge in 10 s is dropped.
- Connections that have not authenticated are capped in all and per source address; more
  are answered 503, and the places come back when those connections go.
- Garbage, truncated and oversized frames leave the server up and serving signed calls.
- A flood of badly signed requests costs the audit trail one full event per source and
  error per sampling window, plus one summary with the count.

The server runs with ``--max-pending-connections 4 --max-pending-per-source 3`` and
``--audit-sample-seconds 2``; sources other than 127.0.0.1 are other loopback addresses.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
import uuid

import pytest
import requests
import websocket

from conftest import raises_aws, wait_until
from test_protocol import call, check_error

CONNECT_PATH = "/agent/v1/connect"


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(
        extra_args=(
            "--max-pending-connections", "4",
            "--max-pending-per-source", "3",
            "--audit-sample-seconds", "2",
            "--audit-export-interval", "1",
            "--audit-retention-days", "1",
            "--header-timeout", "2",
            "--test-clock",
        )
    )


def ws_url(server, path: str) -> str:
    return server.url.replace("http://", "ws://").replace("https://", "wss://") + path


def open_ws(server, path: str, source: str = "127.0.0.1", timeout: float = 10) -> websocket.WebSocket:
    host, port = server.url.split("//", 1)[1].split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(timeout)
    sock.connect((host, int(port)))
    return websocket.create_connection(ws_url(server, path), socket=sock, timeout=timeout)


def challenge(ws: websocket.WebSocket) -> dict:
    message = json.loads(ws.recv())
    assert message["type"] == "challenge", message
    return message


def closed_soon(ws: websocket.WebSocket, timeout: float = 10) -> bool:
    """Whether the server closes the socket within ``timeout`` (whatever it sends first)."""
    ws.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            opcode, _ = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return True
    except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
        return True
    except websocket.WebSocketTimeoutException:
        return False
    return False


def still_serving(server) -> None:
    assert server.ssm().describe_parameters()["Parameters"] is not None
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200


def start_large_message(ws: websocket.WebSocket, announced: int, sent: int) -> None:
    """Sends the first ``sent`` bytes of a binary message announced as ``announced`` bytes
    long (a masked client frame, as the protocol wants): a server without a byte budget
    would wait for the rest, buffering it, until its deadline."""
    header = bytes([0x82, 0x80 | 127]) + announced.to_bytes(8, "big") + os.urandom(4)
    try:
        ws.sock.sendall(header)
        for _ in range(sent // 4096):
            ws.sock.sendall(os.urandom(4096))
    except (ConnectionError, OSError):
        pass  # closed while sending: refused all the same


def test_an_oversized_hello_closes_the_agent_socket_at_once(server):
    ws = open_ws(server, CONNECT_PATH)
    challenge(ws)
    start_large_message(ws, 8 << 20, 64 * 1024)
    # Well before the 10-second hello deadline: the budget, not the clock, ended it.
    assert closed_soon(ws, timeout=3)
    still_serving(server)


def test_a_silent_agent_is_dropped_after_the_challenge_deadline(server):
    ws = open_ws(server, CONNECT_PATH, timeout=20)
    challenge(ws)
    started = time.monotonic()
    assert closed_soon(ws, timeout=20)
    assert time.monotonic() - started >= 8, "dropped before its deadline"
    still_serving(server)


@pytest.mark.parametrize("path", ["/v1/data-channel/{id}", "/agent/v1/session/{id}", "/v1/terminal/{id}"])
def test_an_oversized_opener_closes_a_data_channel_at_once(server, path):
    ws = open_ws(server, path.format(id=f"s-{uuid.uuid4().hex[:17]}"))
    start_large_message(ws, 900 * 1024, 128 * 1024)
    assert closed_soon(ws, timeout=3)  # the opener deadline is 10 s
    still_serving(server)


def test_unauthenticated_connections_are_capped_in_all_and_per_source(server):
    held = [open_ws(server, CONNECT_PATH) for _ in range(3)]
    # A fourth from the same address: refused before the upgrade.
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        open_ws(server, CONNECT_PATH)
    assert refused.value.status_code == 503
    # Another address still gets in, up to the total.
    held.append(open_ws(server, CONNECT_PATH, source="127.0.0.2"))
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        open_ws(server, "/v1/data-channel/s-0123456789abcdef0", source="127.0.0.3")
    assert refused.value.status_code == 503
    still_serving(server)  # signed API calls are not capped
    # Places come back as those connections go.
    for ws in held:
        ws.close()

    def room():
        try:
            ws = open_ws(server, CONNECT_PATH)
        except websocket.WebSocketBadStatusException:
            return None
        ws.close()
        return True

    wait_until(room, 15, "a place under the cap once the held connections closed")


def test_garbage_frames_leave_the_server_serving(server):
    rng = random.Random(4711)
    for round_ in range(30):
        path = rng.choice([CONNECT_PATH, "/v1/data-channel/s-0123456789abcdef0", "/agent/v1/session/x",
                           "/v1/terminal/s-0123456789abcdef0"])
        try:
            ws = open_ws(server, path, timeout=5)
        except websocket.WebSocketBadStatusException:
            time.sleep(0.5)  # the cap is small here; wait for places to come back
            continue
        try:
            kind = round_ % 4
            if kind == 0:
                ws.send(os.urandom(rng.randint(1, 4096)), opcode=websocket.ABNF.OPCODE_BINARY)
            elif kind == 1:
                ws.send(json.dumps({"type": "hello", "instanceId": "mi-" + "0" * 17, "signature": "zz",
                                    "version": 1, "platform": {}}))
            elif kind == 2:
                # A frame header announcing far more than follows, then nothing.
                ws.sock.sendall(bytes([0x82, 0x7F]) + (1 << 40).to_bytes(8, "big") + os.urandom(16))
            else:
                ws.sock.sendall(os.urandom(64))  # not even a WebSocket frame
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            pass
        ws.close()
    still_serving(server)


def test_a_flood_of_bad_signatures_is_summarised_in_the_audit_trail(server):
    trail = server.client("cloudtrail")
    started = time.time()
    flood = 150
    for i in range(flood):
        resp = call(server, "AmazonSSM.DescribeParameters", {}, access_key=f"AKIAFLOOD{i:011d}", secret_key="nope")
        check_error(resp, "UnrecognizedClientException", "InvalidSignatureException")
    flood_span = time.time() - started

    def refusals():
        events = []
        token = None
        while True:
            args = {"StartTime": started - 1, "MaxResults": 50}
            if token:
                args["NextToken"] = token
            page = trail.lookup_events(**args)
            events += [json.loads(e["CloudTrailEvent"]) for e in page["Events"]]
            token = page.get("NextToken")
            if not token:
                break
        mine = [e for e in events if e.get("userIdentity", {}).get("type") == "Unknown"
                and e.get("sourceIPAddress") == "127.0.0.1"]
        full = [e for e in mine if str(e.get("userIdentity", {}).get("accessKeyId", "")).startswith("AKIAFLOOD")]
        summaries = [e for e in mine if e["eventName"] == "RefusedRequestsSummary"]
        counted = len(full) + sum(s["requestParameters"]["count"] for s in summaries
                                  if any(k.startswith("AKIAFLOOD") for k in s["requestParameters"]["accessKeyIds"]))
        return (full, summaries) if counted >= flood else None

    full, summaries = wait_until(refusals, 30, "every refusal in the trail, in full or counted")
    # One full event per 2-second window the flood spanned, not one per request.
    assert len(full) <= flood_span / 2 + 2, (len(full), flood_span)
    assert summaries and all(s["errorCode"] in ("UnrecognizedClientException", "InvalidSignatureException")
                             for s in summaries)
    still_serving(server)


# --------------------------------------------------------------------------- #
# KMS: a key's deletion date erases it (this moves the test clock, so it comes last)
# --------------------------------------------------------------------------- #


def test_a_key_is_erased_at_its_deletion_date_and_what_it_sealed_with_it(server):
    kms, ssm = server.kms(), server.ssm()
    token = uuid.uuid4().hex[:8]
    doomed = kms.create_key(Description="doomed")["KeyMetadata"]["KeyId"]
    kept = kms.create_key(Description="reprieved")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=f"alias/e2e-doomed-{token}", TargetKeyId=doomed)
    name = f"/trust/{token}/sealed"
    ssm.put_parameter(Name=name, Value="gone soon", Type="SecureString", KeyId=doomed)
    blob = kms.encrypt(KeyId=doomed, Plaintext=b"secret")["CiphertextBlob"]
    for key in (doomed, kept):
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=kept)

    # Pending: unusable, but still there.
    with raises_aws("KMSInvalidStateException"):
        kms.decrypt(CiphertextBlob=blob)
    server.advance_clock(7 * 86400 + 5)

    def erased():
        try:
            kms.describe_key(KeyId=doomed)
        except kms.exceptions.NotFoundException:
            return True
        return None

    wait_until(erased, 20, "the key erased at its deletion date")
    # What it sealed names a key that no longer exists: unreadable, for good.
    with raises_aws("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=blob)
    aliases = {a["AliasName"] for a in kms.list_aliases(Limit=100)["Aliases"]}
    assert f"alias/e2e-doomed-{token}" not in aliases
    # The parameter is still listed, its value sealed for good.
    with raises_aws("InvalidKeyId"):
        ssm.get_parameter(Name=name, WithDecryption=True)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] != "gone soon"
    # The cancelled one stays, Disabled, as KMS leaves it.
    assert kms.describe_key(KeyId=kept)["KeyMetadata"]["KeyState"] == "Disabled"
    still_serving(server)


def test_audit_events_past_retention_are_pruned_once_exported(server):
    """Runs after the clock moved a week: events older than a day, once copied to the blob
    store, leave the store; the chain still verifies from the checkpoint, and the copies
    still hold every event from the first."""
    from test_audit import audit_cmd

    server.ssm().put_parameter(Name=f"/trust/{uuid.uuid4().hex[:8]}/late", Value="v", Type="String")

    def pruned():
        out = audit_cmd(server, "verify")
        return out.stdout if "pruned up to event" in out.stdout else None

    stdout = wait_until(pruned, 30, "old audit events pruned behind a checkpoint")
    assert "intact:" in stdout, stdout
    copies = sorted((server.data_dir / "blobs" / "steward-audit").glob("*.jsonl"))
    lines = [line for f in copies for line in f.read_text().splitlines() if line.strip()]
    assert json.loads(lines[0])["seq"] == 1, "the blob store keeps the whole chain"
    combined = server.data_dir.parent / "all-copies.jsonl"
    combined.write_text("\n".join(lines) + "\n")
    assert "intact:" in audit_cmd(server, "verify", "--file", str(combined), store=False).stdout


def raw_connection(server, timeout: float = 15) -> socket.socket:
    host, port = server.url.split("//", 1)[1].split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def closed_by_server(sock: socket.socket) -> bool:
    """Reads until the server closes the connection (True) or the socket times out (False)."""
    try:
        while sock.recv(4096):
            pass
        return True
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True


def test_idle_and_trickling_connections_are_closed(server):
    """A connection that never sends a request head, one that trickles its headers a line a
    second, and a keep-alive connection left idle after a request are all closed after the
    header timeout (2 s here); the server goes on serving."""
    silent = raw_connection(server)
    assert closed_by_server(silent), "a silent connection was never closed"

    trickling = raw_connection(server)
    trickling.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    closed = False
    for n in range(12):
        try:
            trickling.sendall(f"X-Slow-{n}: y\r\n".encode())
        except OSError:
            closed = True
            break
        time.sleep(1)
    assert closed or closed_by_server(trickling), "a trickling request head was never cut off"

    idle = raw_connection(server)
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = idle.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert closed_by_server(idle), "an idle keep-alive connection was never closed"

    assert server.ssm().describe_parameters()["Parameters"] is not None
