"""Events: every Parameter Store change POSTed to ``--webhook`` URLs as EventBridge JSON.

Each backend gets servers of its own, started with ``--webhook`` and a short
``--policy-interval``:

* ``events_server`` delivers to one healthy receiver, so every change must arrive
  there exactly once;
* ``bad_hooks_server`` delivers to a webhook answering 500, a closed port, an
  unresolvable host, one that answers only after a long pause, and a healthy
  receiver last: the API must neither fail nor slow down, and the healthy
  receiver must still get every event.

The receivers are small threaded ``http.server`` instances on 127.0.0.1 that
record each POST (path, headers, body) in arrival order.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from conftest import ACCOUNT_ID, REGION, free_port, raises_aws

EVENT_WAIT = 10.0  # seconds to wait for a delivery
SETTLE = 1.5  # seconds to wait for deliveries that must NOT come
PROMPT = 2.0  # an API call with misbehaving webhooks must still answer within this
POLICY_INTERVAL = "1"
HOOK_PATH = "/events/ssm"
ISO_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ENVELOPE_KEYS = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}


# --------------------------------------------------------------------------- #
# the webhook receiver
# --------------------------------------------------------------------------- #


@dataclass
class Delivery:
    seq: int
    path: str
    headers: dict[str, str]
    body: bytes
    received: float
    event: Any = None  # parsed JSON, or None when the body is not JSON

    @property
    def detail(self) -> dict:
        d = self.event.get("detail") if isinstance(self.event, dict) else None
        return d if isinstance(d, dict) else {}

    @property
    def detail_type(self) -> str | None:
        return self.event.get("detail-type") if isinstance(self.event, dict) else None

    @property
    def subject(self) -> str | None:
        """The parameter the event is about."""
        return self.detail.get("name") or self.detail.get("parameter-name")


def read_body(handler: http.server.BaseHTTPRequestHandler) -> bytes:
    """The request body, whether sent with Content-Length or chunked."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def serve_in_background(handler: type[http.server.BaseHTTPRequestHandler]) -> http.server.ThreadingHTTPServer:
    """A threaded HTTP server on a free loopback port, serving from a daemon thread."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@dataclass
class Receiver:
    """A threaded HTTP server on 127.0.0.1 that records every POST."""

    status: int = 200
    delay: float = 0.0
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = read_body(self)
                receiver._record(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = serve_in_background(Handler)

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        with self._cond:
            self.deliveries.append(
                Delivery(len(self.deliveries), path, headers, body, time.monotonic(), event)
            )
            self._cond.notify_all()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{HOOK_PATH}"

    def snapshot(self) -> list[Delivery]:
        with self._cond:
            return list(self.deliveries)

    def about(self, name: str) -> list[Delivery]:
        """Deliveries about parameter ``name``, in arrival order."""
        return [d for d in self.snapshot() if d.subject == name]

    def wait(
        self, pred: Callable[[Delivery], bool], count: int = 1, timeout: float = EVENT_WAIT, what: str = ""
    ) -> list[Delivery]:
        """Wait until ``count`` deliveries satisfy ``pred``; return them in arrival order."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                hits = [d for d in self.deliveries if pred(d)]
                if len(hits) >= count:
                    return hits
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(d.detail_type, d.subject, d.detail.get("operation")) for d in self.deliveries[-15:]]
                    raise AssertionError(
                        f"waited {timeout}s for {count} deliveries ({what}); got {len(hits)}. "
                        f"Last deliveries (detail-type, parameter, operation): {seen}"
                    )
                self._cond.wait(left)

    def wait_change(self, name: str, operation: str, count: int = 1, timeout: float = EVENT_WAIT) -> list[Delivery]:
        return self.wait(
            lambda d: d.detail_type == "Parameter Store Change"
            and d.subject == name
            and d.detail.get("operation") == operation,
            count,
            timeout,
            what=f"{operation} of {name}",
        )

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}{HOOK_PATH}"


# --------------------------------------------------------------------------- #
# fixtures
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def hook(backend):
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def events_server(server_factory, hook):
    return server_factory(extra_args=("--webhook", hook.url, "--policy-interval", POLICY_INTERVAL))


@pytest.fixture(scope="module")
def failing_hook(backend):
    r = Receiver(status=500)
    yield r
    r.close()


@pytest.fixture(scope="module")
def slow_hook(backend):
    r = Receiver(delay=8.0)
    yield r
    r.close()


@pytest.fixture(scope="module")
def last_hook(backend):
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def bad_hooks_server(server_factory, failing_hook, slow_hook, last_hook):
    args: list[str] = []
    for url in (
        failing_hook.url,
        closed_port_url(),
        "http://steward-e2e-no-such-host.invalid:8080/hook",
        slow_hook.url,
        last_hook.url,
    ):
        args += ["--webhook", url]
    return server_factory(extra_args=(*args, "--policy-interval", POLICY_INTERVAL))


@pytest.fixture
def ssm(events_server):
    return events_server.ssm()


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def arn_of(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{name.lstrip('/')}"


def expiration(seconds: float) -> dict:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
    ts = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": ts}}


def check_envelope(d: Delivery, detail_type: str, name: str) -> dict:
    """The EventBridge fields every event carries; returns the event."""
    assert d.path == HOOK_PATH, d.path
    assert d.headers.get("content-type", "").startswith("application/json"), d.headers
    ev = d.event
    assert isinstance(ev, dict), f"webhook body is not a JSON object: {d.body[:300]!r}"
    assert ENVELOPE_KEYS <= set(ev), f"missing envelope fields {sorted(ENVELOPE_KEYS - set(ev))}: {ev}"
    assert ev["version"] == "0"
    assert isinstance(ev["id"], str) and UUID_RE.match(ev["id"]), ev["id"]
    assert ev["detail-type"] == detail_type
    assert ev["source"] == "aws.ssm"
    assert ev["account"] == ACCOUNT_ID
    assert ev["region"] == REGION
    assert ev["resources"] == [arn_of(name)]
    assert ISO_SECONDS.match(ev["time"]), f"time is not ISO 8601 UTC: {ev['time']!r}"
    when = dt.datetime.strptime(ev["time"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
    skew = abs((dt.datetime.now(dt.timezone.utc) - when).total_seconds())
    assert skew < 120, f"event time {ev['time']} is {skew:.0f}s away from now"
    assert isinstance(ev["detail"], dict), ev
    return ev


def check_change(d: Delivery, name: str, operation: str, type_: str, description: str | None = None) -> dict:
    ev = check_envelope(d, "Parameter Store Change", name)
    detail = ev["detail"]
    assert detail.get("operation") == operation, detail
    assert detail.get("name") == name, detail
    assert detail.get("type") == type_, detail
    assert "description" in detail, detail
    if description is not None:
        assert detail["description"] == description, detail
    # AWS never puts the value in a change event
    assert not {"value", "Value"} & set(detail), detail
    return ev


def secret_needles(plain: str) -> dict[str, bytes]:
    raw = plain.encode()
    return {
        "plaintext": raw,
        "plaintext (base64)": base64.b64encode(raw),
        "plaintext (hex)": raw.hex().encode(),
        "plaintext (JSON-escaped)": json.dumps(plain).encode()[1:-1],
    }


def assert_no_secret(deliveries: list[Delivery], plains: list[str]) -> None:
    hits = []
    for d in deliveries:
        for plain in plains:
            for label, needle in secret_needles(plain).items():
                if needle in d.body:
                    hits.append(f"{label} of {plain[:14]}... in delivery #{d.seq}: {d.body[:200]!r}")
    assert not hits, hits


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.monotonic()
    out = fn()
    return out, time.monotonic() - t0


# --------------------------------------------------------------------------- #
# Parameter Store Change
# --------------------------------------------------------------------------- #


def test_create_update_label_delete_each_deliver_one_event(ssm, hook, fresh):
    name = fresh("app", "url")

    ssm.put_parameter(Name=name, Value="http://one", Type="String", Description="first")
    (create,) = hook.wait_change(name, "Create")
    check_change(create, name, "Create", "String", "first")

    ssm.put_parameter(Name=name, Value="http://two", Type="String", Overwrite=True, Description="second")
    (update,) = hook.wait_change(name, "Update")
    check_change(update, name, "Update", "String", "second")

    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["stable"])
    (label,) = hook.wait_change(name, "LabelParameterVersion")
    check_change(label, name, "LabelParameterVersion", "String")

    ssm.delete_parameter(Name=name)
    (delete,) = hook.wait_change(name, "Delete")
    check_change(delete, name, "Delete", "String")

    time.sleep(SETTLE)  # nothing more (no retry of a delivered event, no duplicates)
    got = hook.about(name)
    assert [d.detail.get("operation") for d in got] == ["Create", "Update", "LabelParameterVersion", "Delete"], [
        (d.detail_type, d.detail) for d in got
    ]
    assert [d.seq for d in got] == sorted(d.seq for d in got)
    ids = [d.event["id"] for d in got]
    assert len(set(ids)) == len(ids), f"event ids repeat: {ids}"
    times = [d.event["time"] for d in got]
    assert times == sorted(times), f"event times go backwards: {times}"
    for d in got:
        assert "http://one" not in d.body.decode() and "http://two" not in d.body.decode()


def test_events_carry_type_and_arn_for_every_name_form(ssm, hook, fresh):
    plain = fresh.plain("no-slash")
    deep = fresh("a", "b", "c", "list")
    ssm.put_parameter(Name=plain, Value="v", Type="String")
    ssm.put_parameter(Name=deep, Value="a,b", Type="StringList")
    (a,) = hook.wait_change(plain, "Create")
    (b,) = hook.wait_change(deep, "Create")
    assert a.event["resources"] == [f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{plain}"]
    assert b.event["resources"] == [f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{deep}"]
    check_change(a, plain, "Create", "String")
    check_change(b, deep, "Create", "StringList")
    # the ARN in the event is the one the API reports
    assert b.event["resources"] == [ssm.get_parameter(Name=deep)["Parameter"]["ARN"]]


def test_failed_changes_deliver_nothing(ssm, hook, fresh):
    name = fresh("exists")
    ssm.put_parameter(Name=name, Value="v", Type="String")
    hook.wait_change(name, "Create")
    with raises_aws("ParameterAlreadyExists"):
        ssm.put_parameter(Name=name, Value="v2", Type="String")
    with raises_aws("ParameterVersionNotFound"):
        ssm.label_parameter_version(Name=name, ParameterVersion=7, Labels=["x"])
    ghost = fresh("ghost")
    with raises_aws("ParameterNotFound"):
        ssm.delete_parameter(Name=ghost)
    with raises_aws("ParameterNotFound"):
        ssm.label_parameter_version(Name=ghost, Labels=["x"])
    # reads are not changes
    ssm.get_parameter(Name=name)
    ssm.get_parameters_by_path(Path=str(fresh))
    ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])
    time.sleep(SETTLE)
    assert [d.detail.get("operation") for d in hook.about(name)] == ["Create"]
    assert hook.about(ghost) == []


def test_delete_parameters_delivers_one_delete_per_deleted_name(ssm, hook, fresh):
    names = [fresh(f"d{i}") for i in range(3)]
    for n in names:
        ssm.put_parameter(Name=n, Value="v", Type="String")
    missing = fresh("never-there")
    out = ssm.delete_parameters(Names=[*names, missing])
    assert sorted(out["DeletedParameters"]) == sorted(names)
    for n in names:
        (d,) = hook.wait_change(n, "Delete")
        check_change(d, n, "Delete", "String")
    time.sleep(SETTLE)
    for n in names:
        assert [d.detail.get("operation") for d in hook.about(n)] == ["Create", "Delete"]
    assert hook.about(missing) == []


def test_secure_string_plaintext_never_delivered(ssm, hook, fresh, events_server):
    name = fresh("db", "password")
    plains = ["PLAINTEXT-" + secrets.token_hex(12) for _ in range(3)]
    ssm.put_parameter(Name=name, Value=plains[0], Type="SecureString", Description="db password")
    ssm.put_parameter(Name=name, Value=plains[1], Type="SecureString", Overwrite=True)
    key_id = events_server.kms().create_key(Description="events")["KeyMetadata"]["KeyId"]
    ssm.put_parameter(Name=name, Value=plains[2], Type="SecureString", Overwrite=True, KeyId=key_id)
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["prev"])
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == plains[2]
    ssm.get_parameter_history(Name=name, WithDecryption=True)
    ssm.delete_parameter(Name=name)

    (create,) = hook.wait_change(name, "Create")
    check_change(create, name, "Create", "SecureString", "db password")
    updates = hook.wait_change(name, "Update", count=2)
    for d in updates:
        check_change(d, name, "Update", "SecureString")
    hook.wait_change(name, "LabelParameterVersion")
    hook.wait_change(name, "Delete")
    time.sleep(SETTLE)
    # not in this parameter's events, nor in anything else this server ever delivered
    assert_no_secret(hook.snapshot(), plains)


# --------------------------------------------------------------------------- #
# policies
# --------------------------------------------------------------------------- #


@pytest.mark.slow
def test_expiration_policy_delivers_policy_action_and_delete(ssm, hook, fresh):
    name = fresh("expiring")
    plain = "EXPIRING-" + secrets.token_hex(10)
    ssm.put_parameter(
        Name=name, Value=plain, Type="SecureString", Tier="Advanced", Policies=json.dumps([expiration(3)])
    )
    (create,) = hook.wait_change(name, "Create")
    check_change(create, name, "Create", "SecureString")

    # due in 3 s, swept every second: allow generous time for a loaded machine
    (action,) = hook.wait(
        lambda d: d.detail_type == "Parameter Store Policy Action" and d.subject == name,
        timeout=3 + EVENT_WAIT + 10,
        what=f"Expiration policy action for {name}",
    )
    ev = check_envelope(action, "Parameter Store Policy Action", name)
    assert ev["detail"].get("parameter-name") == name, ev["detail"]
    assert ev["detail"].get("policy-type") == "Expiration", ev["detail"]

    (delete,) = hook.wait_change(name, "Delete")
    check_change(delete, name, "Delete", "SecureString")
    with raises_aws("ParameterNotFound"):
        ssm.get_parameter(Name=name)

    time.sleep(SETTLE + 1)  # several more sweeps: the policy must not act twice
    kinds = [(d.detail_type, d.detail.get("operation") or d.detail.get("policy-type")) for d in hook.about(name)]
    assert sorted(kinds) == sorted(
        [
            ("Parameter Store Change", "Create"),
            ("Parameter Store Policy Action", "Expiration"),
            ("Parameter Store Change", "Delete"),
        ]
    ), kinds
    assert_no_secret(hook.about(name), [plain])


@pytest.mark.slow
def test_expiration_notification_fires_without_deleting(ssm, hook, fresh):
    """ExpirationNotification 1 hour before an expiration ~1 hour away is due within seconds."""
    name = fresh("notify")
    policies = [
        expiration(3600 + 3),
        {"Type": "ExpirationNotification", "Version": "1.0", "Attributes": {"Before": "1", "Unit": "Hours"}},
    ]
    ssm.put_parameter(Name=name, Value="v", Type="String", Tier="Advanced", Policies=json.dumps(policies))
    (note,) = hook.wait(
        lambda d: d.detail_type == "Parameter Store Policy Action" and d.subject == name,
        timeout=3 + EVENT_WAIT + 10,
        what=f"ExpirationNotification for {name}",
    )
    ev = check_envelope(note, "Parameter Store Policy Action", name)
    assert ev["detail"].get("policy-type") == "ExpirationNotification", ev["detail"]
    time.sleep(SETTLE + 1)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "v"
    ops = [(d.detail_type, d.detail.get("operation") or d.detail.get("policy-type")) for d in hook.about(name)]
    assert ops == [
        ("Parameter Store Change", "Create"),
        ("Parameter Store Policy Action", "ExpirationNotification"),
    ], ops


# --------------------------------------------------------------------------- #
# misbehaving webhooks
# --------------------------------------------------------------------------- #


def test_bad_webhooks_do_not_fail_or_slow_the_api(bad_hooks_server, failing_hook, slow_hook, last_hook, fresh):
    ssm = bad_hooks_server.ssm()
    ssm.describe_parameters(MaxResults=1)  # warm the client's connection
    name = fresh("bad-hooks")
    secret = "BADHOOK-" + secrets.token_hex(10)

    calls = [
        ("create", lambda: ssm.put_parameter(Name=name, Value="v1", Type="String")),
        ("update", lambda: ssm.put_parameter(Name=name, Value="v2", Type="String", Overwrite=True)),
        ("label", lambda: ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["l"])),
        ("secure", lambda: ssm.put_parameter(Name=fresh("sec"), Value=secret, Type="SecureString")),
        ("delete", lambda: ssm.delete_parameter(Name=name)),
    ]
    slow = []
    for label, call in calls:
        _, took = timed(call)
        if took >= PROMPT:
            slow.append(f"{label} took {took:.2f}s")
    assert not slow, slow

    # a burst of writes stays prompt while earlier deliveries are still failing or hanging
    burst = [fresh(f"burst{i}") for i in range(10)]
    _, took = timed(lambda: [ssm.put_parameter(Name=n, Value="b", Type="String") for n in burst])
    assert took < PROMPT * 3, f"10 PutParameter calls took {took:.2f}s"

    # the healthy webhook listed after the bad ones still gets every event, once
    for op in ("Create", "Update", "LabelParameterVersion", "Delete"):
        last_hook.wait_change(name, op)
    for n in burst:
        last_hook.wait_change(n, "Create")
    time.sleep(SETTLE)
    assert [d.detail.get("operation") for d in last_hook.about(name)] == [
        "Create",
        "Update",
        "LabelParameterVersion",
        "Delete",
    ]
    # the failing and the slow webhooks were tried too
    failing_hook.wait_change(name, "Create")
    slow_hook.wait_change(name, "Create")
    assert_no_secret(last_hook.snapshot() + failing_hook.snapshot() + slow_hook.snapshot(), [secret])
    assert bad_hooks_server.running


def test_failing_webhook_is_retried(bad_hooks_server, failing_hook, fresh):
    """Delivery is best effort with retries: a 500 is tried again, with the same event."""
    name = fresh("retry")
    bad_hooks_server.ssm().put_parameter(Name=name, Value="v", Type="String")
    attempts = failing_hook.wait_change(name, "Create", count=2, timeout=EVENT_WAIT)
    assert len({d.event["id"] for d in attempts}) == 1, "a retry must resend the same event"


def test_server_with_hanging_webhook_stops_promptly(server_factory, slow_hook, fresh):
    srv = server_factory(extra_args=("--webhook", slow_hook.url, "--policy-interval", POLICY_INTERVAL))
    name = fresh("hang")
    _, took = timed(lambda: srv.ssm().put_parameter(Name=name, Value="v", Type="String"))
    assert took < PROMPT, f"PutParameter took {took:.2f}s"
    slow_hook.wait_change(name, "Create")  # the delivery is now hanging in the receiver
    t0 = time.monotonic()
    rc = srv.stop()
    assert rc == 0
    assert time.monotonic() - t0 < 10, "shutdown waited for a hanging webhook"


def test_only_http_webhooks_are_accepted(server_factory):
    with pytest.raises(RuntimeError, match="exited"):
        server_factory(extra_args=("--webhook", "ftp://127.0.0.1/hook"))
