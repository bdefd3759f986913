"""The browser terminal (`/v1/terminal/<session id>`): a web page's WebSocket to a shell,
without the data channel's binary framing. The server answers the node's handshake and
acknowledges for the page; the page sends keystrokes and JSON requests and receives the
terminal's bytes and JSON notices."""

from __future__ import annotations

import json
import re
import time

import pytest
import websocket

from conftest import start_fleet, wait_until

TAGS = {"b0": {"role": "browser"}}


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory):
    return start_fleet(server, agent_factory, TAGS)


class Page:
    """What a browser's xterm.js glue would do with the endpoint."""

    def __init__(self, stream_url: str, session_id: str, token: str):
        url = re.sub(r"/v1/data-channel/[^?]+.*$", f"/v1/terminal/{session_id}", stream_url)
        self.ws = websocket.create_connection(url, timeout=15)
        self.ws.send(json.dumps({"TokenValue": token}))
        self.screen = b""
        self.notices: list[dict] = []

    def pump(self, timeout: float) -> bool:
        """Reads one message; False once the socket is closed."""
        self.ws.settimeout(timeout)
        try:
            opcode, data = self.ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return True
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            return False
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return False
        if opcode == websocket.ABNF.OPCODE_TEXT:
            self.notices.append(json.loads(data))
        elif opcode == websocket.ABNF.OPCODE_BINARY:
            self.screen += data
        return True

    def until(self, check, timeout: float = 20, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not check():
            left = deadline - time.monotonic()
            assert left > 0, f"no {what} within {timeout}s; notices {self.notices}, screen {self.screen[-1500:]!r}"
            if not self.pump(min(left, 0.5)):
                assert check(), f"closed before {what}; notices {self.notices}, screen {self.screen[-1500:]!r}"
                return

    def notice(self, kind: str) -> dict | None:
        return next((n for n in self.notices if n.get("type") == kind), None)

    def type(self, text: str) -> None:
        self.ws.send(text.encode(), opcode=websocket.ABNF.OPCODE_BINARY)

    def request(self, **body) -> None:
        self.ws.send(json.dumps(body))

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass


def session(server, node: str, **kw) -> tuple[Page, dict]:
    started = server.ssm().start_session(Target=node, **kw)
    return Page(started["StreamUrl"], started["SessionId"], started["TokenValue"]), started


def history(server, session_id: str) -> dict | None:
    found = server.ssm().describe_sessions(
        State="History", Filters=[{"key": "SessionId", "value": session_id}]
    )["Sessions"]
    return found[0] if found else None


def test_a_shell_in_the_browser_types_resizes_and_exits(server, fleet):
    page, started = session(server, fleet.id("b0"))
    try:
        page.until(lambda: page.notice("ready"), what="ready")
        assert page.notice("ready")["sessionId"] == started["SessionId"]
        page.request(type="resize", cols=111, rows=33)
        page.type("stty size; echo shown-$((6*7))\r")
        page.until(lambda: b"33 111" in page.screen and b"shown-42" in page.screen, what="the resized terminal")
        page.request(type="input", data="tty\r")
        page.until(lambda: re.search(rb"/dev/pts/\d+", page.screen), what="tty")
        page.type("exit 7\r")
        page.until(lambda: page.notice("closed"), what="closed")
        # A shell's end is reported as the SSM agent reports it: closed, with no exit code.
        assert page.notice("exit") is None
    finally:
        page.close()
    ended = wait_until(lambda: history(server, started["SessionId"]), 10, "the session in History")
    assert ended["Status"] == "Terminated"


def test_the_token_works_once_and_a_forged_one_is_refused(server, fleet):
    page, started = session(server, fleet.id("b0"))
    try:
        page.until(lambda: page.notice("ready"), what="ready")
        again = Page(started["StreamUrl"], started["SessionId"], started["TokenValue"])
        try:
            again.until(lambda: again.notice("closed"), what="the replay refused")
            assert "not valid" in again.notice("closed")["reason"]
        finally:
            again.close()
        forged = Page(started["StreamUrl"], started["SessionId"], "A" * 43)
        try:
            forged.until(lambda: forged.notice("closed"), what="the forgery refused")
        finally:
            forged.close()
        # The real page still works.
        page.type("echo still-$((1+1))\r")
        page.until(lambda: b"still-2" in page.screen, what="the shell after the refusals")
    finally:
        page.close()


def test_bad_requests_get_an_error_notice_and_the_shell_goes_on(server, fleet):
    page, _ = session(server, fleet.id("b0"))
    try:
        page.until(lambda: page.notice("ready"), what="ready")
        for bad in ["not json", json.dumps({"type": "launch"}), json.dumps({"type": "resize", "cols": 0, "rows": 5})]:
            page.ws.send(bad)
        page.until(lambda: len([n for n in page.notices if n["type"] == "error"]) == 3, what="three errors")
        page.type("echo alive\r")
        page.until(lambda: b"alive\r\n" in page.screen, what="the shell after bad requests")
    finally:
        page.close()


def test_terminate_from_the_page_and_closing_the_page_end_the_session(server, fleet):
    page, started = session(server, fleet.id("b0"))
    try:
        page.until(lambda: page.notice("ready"), what="ready")
        page.request(type="terminate")
        page.until(lambda: page.notice("closed"), what="closed")
    finally:
        page.close()
    ended = wait_until(lambda: history(server, started["SessionId"]), 10, "the terminated session")
    assert ended["Status"] == "Terminated"

    page, started = session(server, fleet.id("b0"))
    page.until(lambda: page.notice("ready"), what="ready")
    page.close()
    ended = wait_until(lambda: history(server, started["SessionId"]), 10, "the session ended with its page")
    assert "browser terminal closed" in ended.get("Details", ""), ended


def test_a_port_forwarding_session_has_no_browser_terminal(server, fleet):
    page, started = session(
        server, fleet.id("b0"), DocumentName="AWS-StartPortForwardingSession", Parameters={"portNumber": ["22"]}
    )
    try:
        deadline = time.monotonic() + 10
        while page.pump(1):
            assert time.monotonic() < deadline, "the page was not closed"
        assert page.notice("ready") is None
    finally:
        page.close()
        server.ssm().terminate_session(SessionId=started["SessionId"])
