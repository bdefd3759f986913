"""SNS, the subset Run Command notifications need, through boto3 as a subscriber sees it.

One server per backend (``--agent-heartbeat 1``) serves the whole module, and one local
HTTP receiver stands in for every subscriber endpoint: each test subscribes paths of its
own (``/hook/<id>-<label>``), so tests sharing the server and the receiver stay apart.
The receiver records every POST (path, headers, raw body, the status it answered) and can
be told to answer 500 to the next few POSTs on a path.

What a subscriber observes:

* Subscribe (http/https only) POSTs a signed ``SubscriptionConfirmation`` and nothing else
  until the endpoint confirms, by a GET of its ``SubscribeURL`` (no signature: the token
  is the proof) or by the signed ConfirmSubscription call;
* Publish answers at once with a MessageId and POSTs a signed ``Notification`` to every
  confirmed endpoint (the bare message with RawMessageDelivery), retried as the topic's
  DeliveryPolicy says when the endpoint fails;
* every message verifies with the certificate the server serves at ``SigningCertURL``
  (SHA1withRSA for SignatureVersion 1, SHA256withRSA for 2), and a tampered one does not;
* Unsubscribe (signed, or a GET of the notification's ``UnsubscribeURL`` unless the
  subscription asked for AuthenticateOnUnsubscribe) POSTs an ``UnsubscribeConfirmation``
  and ends deliveries;
* IAM decides who may do what (refusals are SNS's ``AuthorizationError``, HTTP 403), bad
  input is ``InvalidParameter`` (400), a missing topic or subscription ``NotFound`` (404);
* SendCommand's NotificationConfig takes only a topic of the caller's account, whose
  confirmed endpoints then hear about the command; a sender not allowed ``sns:Publish`` on
  the topic gets the command run but no notification (the server log says why).

Fleet (tags): one node ``s`` (team=sns), started only for the Run Command tests at the end.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import http.server
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Callable

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from conftest import Fleet, collect, raises_aws, start_fleet, wait_until
from test_commands import send, wait_command
from test_events import read_body, serve_in_background
from test_iam import account, allow, as_user, deny, denial, make_user, policy, uid
from test_protocol import call

DELIVERY_WAIT = 15.0  # seconds to wait for a delivery
SETTLE = 1.5  # seconds to wait for deliveries that must NOT come
MAX_MESSAGE = 262_144  # bytes, as SNS
SHELL = "AWS-RunShellScript"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# The fields SNS signs, in the order it signs them ("Name\nvalue\n" each, absent ones skipped).
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


# --------------------------------------------------------------------------- #
# the subscriber endpoints
# --------------------------------------------------------------------------- #


@dataclass
class Post:
    seq: int
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    answered: int  # the status the endpoint answered
    received: float  # time.monotonic()

    @property
    def kind(self) -> str:
        """The message type, from ``x-amz-sns-message-type`` (raw deliveries have no JSON)."""
        return self.headers.get("x-amz-sns-message-type", "")

    @property
    def message_id(self) -> str:
        return self.headers.get("x-amz-sns-message-id", "")

    @property
    def msg(self) -> dict:
        """The JSON envelope, or {} when the body is not a JSON object."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


class Endpoints:
    """A threaded HTTP server on 127.0.0.1 serving any number of subscriber endpoints, one
    per path. Every POST is recorded; ``fail(path, n)`` makes the next ``n`` POSTs to
    ``path`` answer 500. Every answer closes its connection, so a closed receiver is
    unreachable at once (no pooled connection outlives it)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.posts: list[Post] = []
        self._failures: dict[str, int] = {}
        endpoints = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = read_body(self)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = endpoints._arrived(self.path, headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        self.httpd = serve_in_background(Handler)

    def _arrived(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._cond:
            left = self._failures.get(path, 0)
            status = 500 if left else 200
            if left:
                self._failures[path] = left - 1
            self.posts.append(Post(len(self.posts), path, headers, body, status, time.monotonic()))
            self._cond.notify_all()
            return status

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def fail(self, path: str, times: int) -> None:
        with self._cond:
            self._failures[path] = times

    def at(self, path: str) -> list[Post]:
        with self._cond:
            return [p for p in self.posts if p.path == path]

    def wait(
        self,
        path: str,
        pred: Callable[[Post], bool] = lambda p: True,
        count: int = 1,
        timeout: float = DELIVERY_WAIT,
        what: str = "",
    ) -> list[Post]:
        """Waits until ``count`` POSTs to ``path`` satisfy ``pred``; returns them in arrival order."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                hits = [p for p in self.posts if p.path == path and pred(p)]
                if len(hits) >= count:
                    return hits
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(p.kind, p.message_id, p.answered) for p in self.posts if p.path == path][-15:]
                    raise AssertionError(
                        f"waited {timeout}s for {count} POSTs to {path} ({what}); got {len(hits)}. "
                        f"Everything that reached {path} (type, message id, answered): {seen}"
                    )
                self._cond.wait(left)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def new_path(label: str) -> str:
    return f"/hook/{uid()}-{label}"


# --------------------------------------------------------------------------- #
# fixtures
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1"))


@pytest.fixture(scope="module")
def hooks(backend):
    endpoints = Endpoints()
    yield endpoints
    endpoints.close()


@pytest.fixture
def sns(server):
    return server.client("sns")


@pytest.fixture
def loose(server):
    """An SNS client that sends whatever it is given (no client-side validation)."""
    return server.client("sns", validate=False)


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, {"s": {"team": "sns"}}, env_for=lambda name: {"E2E_NODE": name})


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def new_topic(sns, label: str, **attributes: str) -> str:
    args: dict = {"Name": f"e2e-{uid()}-{label}"}
    if attributes:
        args["Attributes"] = attributes
    return sns.create_topic(**args)["TopicArn"]


def topic_attributes(sns, topic: str) -> dict[str, str]:
    return sns.get_topic_attributes(TopicArn=topic)["Attributes"]


def subscriptions_of(sns, topic: str) -> list[dict]:
    return collect(sns.list_subscriptions_by_topic, "Subscriptions", TopicArn=topic)


def http_get(url: str) -> tuple[int, str]:
    """An unsigned GET, as an endpoint visiting a URL from a message makes it."""
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def xml_leaf(text: str, tag: str) -> str | None:
    m = re.search(rf"<{tag}>([^<]*)</{tag}>", text)
    return html.unescape(m.group(1)) if m else None


def query_of(url: str) -> tuple[str, dict[str, str]]:
    """``scheme://host:port/path`` and the query parameters of a URL."""
    parts = urllib.parse.urlsplit(url)
    params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    return f"{parts.scheme}://{parts.netloc}{parts.path}", params


def confirmation(hooks: Endpoints, path: str) -> Post:
    """The SubscriptionConfirmation POSTed to ``path``."""
    return hooks.wait(path, lambda p: p.kind == "SubscriptionConfirmation", what="SubscriptionConfirmation")[0]


def notification(hooks: Endpoints, path: str, message_id: str) -> Post:
    """The (first) Notification of ``message_id`` POSTed to ``path``."""
    return hooks.wait(
        path, lambda p: p.kind == "Notification" and p.message_id == message_id, what=f"Notification {message_id}"
    )[0]


def notifications(hooks: Endpoints, path: str) -> list[Post]:
    return [p for p in hooks.at(path) if p.kind == "Notification"]


def subscribe_and_confirm(
    server, sns, hooks: Endpoints, topic: str, path: str, *, raw: bool = False, signed: bool = False,
    authenticate: bool = False,
) -> str:
    """Subscribes ``path``'s URL and confirms it the way an endpoint would: a GET of the
    SubscribeURL, or (``signed``/``authenticate``) the signed ConfirmSubscription call.
    Returns the subscription ARN."""
    args: dict = dict(TopicArn=topic, Protocol="http", Endpoint=hooks.url(path), ReturnSubscriptionArn=True)
    if raw:
        args["Attributes"] = {"RawMessageDelivery": "true"}
    arn = sns.subscribe(**args)["SubscriptionArn"]
    assert arn.startswith(topic + ":"), arn
    msg = check_confirmation(server, confirmation(hooks, path), topic)
    if signed or authenticate:
        extra = {"AuthenticateOnUnsubscribe": "true"} if authenticate else {}
        confirmed = sns.confirm_subscription(TopicArn=topic, Token=msg["Token"], **extra)["SubscriptionArn"]
    else:
        status, text = http_get(msg["SubscribeURL"])
        assert status == 200, f"GET SubscribeURL answered {status}: {text[:300]}"
        confirmed = xml_leaf(text, "SubscriptionArn")
    assert confirmed == arn
    return arn


# ------------------------------------------------------------------ signatures

_CERTIFICATES: dict[str, x509.Certificate] = {}


def certificate(server, url: str) -> x509.Certificate:
    """The certificate at a message's SigningCertURL: served by this server, unauthenticated."""
    assert url.startswith(f"{server.url}/sns/SimpleNotificationService-") and url.endswith(".pem"), url
    if url not in _CERTIFICATES:
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200
            pem = resp.read()
        assert pem.startswith(b"-----BEGIN CERTIFICATE-----"), pem[:80]
        _CERTIFICATES[url] = x509.load_pem_x509_certificate(pem)
    return _CERTIFICATES[url]


def string_to_sign(msg: dict) -> bytes:
    out = ""
    for name in SIGNED_FIELDS[msg["Type"]]:
        if name in msg:
            out += f"{name}\n{msg[name]}\n"
    return out.encode("utf-8")


def signature_ok(server, msg: dict, version: str | None = None) -> bool:
    """Whether ``msg`` verifies as SNS's signature ``version`` (the message's own by default)."""
    version = version or msg["SignatureVersion"]
    digest = hashes.SHA256() if version == "2" else hashes.SHA1()
    key = certificate(server, msg["SigningCertURL"]).public_key()
    try:
        key.verify(base64.b64decode(msg["Signature"]), string_to_sign(msg), padding.PKCS1v15(), digest)
    except InvalidSignature:
        return False
    return True


def assert_signed(server, msg: dict) -> None:
    """The message verifies; the same message with any signed field changed does not."""
    assert signature_ok(server, msg), f"signature does not verify: {msg}"
    for field in ("Message", "MessageId", "Timestamp", "TopicArn"):
        tampered = dict(msg, **{field: msg[field] + "x"})
        assert not signature_ok(server, tampered), f"a message with {field} changed still verifies"


# ------------------------------------------------------------------ envelopes


def check_envelope(server, post: Post, kind: str, topic: str) -> dict:
    """What every JSON message carries (fields, headers, signature); returns the message."""
    msg = post.msg
    assert msg, f"the body is not a JSON object: {post.body[:300]!r}"
    ctype = post.headers.get("content-type", "").replace(" ", "").lower()
    assert ctype == "text/plain;charset=utf-8", post.headers
    assert msg["Type"] == kind, msg
    assert post.kind == kind, post.headers
    assert UUID_RE.match(msg["MessageId"]), msg["MessageId"]
    assert post.message_id == msg["MessageId"], post.headers
    assert msg["TopicArn"] == topic
    assert post.headers.get("x-amz-sns-topic-arn") == topic, post.headers
    assert isinstance(msg["Message"], str)
    assert TIMESTAMP_RE.match(msg["Timestamp"]), f"Timestamp is not SNS's form: {msg['Timestamp']!r}"
    when = dt.datetime.strptime(msg["Timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
    skew = abs((dt.datetime.now(dt.timezone.utc) - when).total_seconds())
    assert skew < 300, f"Timestamp {msg['Timestamp']} is {skew:.0f}s away from now"
    assert msg["SignatureVersion"] in ("1", "2"), msg
    assert_signed(server, msg)
    return msg


def check_confirmation(server, post: Post, topic: str, kind: str = "SubscriptionConfirmation") -> dict:
    msg = check_envelope(server, post, kind, topic)
    assert msg["Message"], msg
    assert msg["Token"], msg
    base, params = query_of(msg["SubscribeURL"])
    assert base == f"{server.url}/", msg["SubscribeURL"]
    assert params == {"Action": "ConfirmSubscription", "TopicArn": topic, "Token": msg["Token"]}, params
    return msg


def check_notification(server, post: Post, topic: str, subscription: str) -> dict:
    msg = check_envelope(server, post, "Notification", topic)
    assert post.headers.get("x-amz-sns-subscription-arn") == subscription, post.headers
    base, params = query_of(msg["UnsubscribeURL"])
    assert base == f"{server.url}/", msg["UnsubscribeURL"]
    assert params == {"Action": "Unsubscribe", "SubscriptionArn": subscription}, params
    assert "Token" not in msg and "SubscribeURL" not in msg, msg
    return msg


# --------------------------------------------------------------------------- #
# topics
# --------------------------------------------------------------------------- #


def test_topic_lifecycle_attributes_tags_and_listing(server, sns, hooks):
    """A topic is created once (asking again gives the same ARN), listed, described with
    SNS's attributes, tagged, and deleted with its subscriptions; deleting it again is fine."""
    name = f"e2e-{uid()}-life"
    topic = sns.create_topic(Name=name, Attributes={"DisplayName": "Ops"}, Tags=[{"Key": "team", "Value": "a"}])[
        "TopicArn"
    ]
    assert topic == f"arn:aws:sns:{server.region}:{account(server)}:{name}"
    assert sns.create_topic(Name=name, Attributes={"DisplayName": "Ops"})["TopicArn"] == topic
    assert sns.create_topic(Name=name)["TopicArn"] == topic
    assert {"TopicArn": topic} in collect(sns.list_topics, "Topics")

    attrs = topic_attributes(sns, topic)
    assert attrs["TopicArn"] == topic
    assert attrs["Owner"] == account(server)
    assert attrs["DisplayName"] == "Ops"
    assert (attrs["SubscriptionsConfirmed"], attrs["SubscriptionsPending"], attrs["SubscriptionsDeleted"]) == (
        "0",
        "0",
        "0",
    )
    assert attrs["SignatureVersion"] == "1"
    assert "http" in json.loads(attrs["EffectiveDeliveryPolicy"]), attrs["EffectiveDeliveryPolicy"]

    sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="Operations")
    policy_doc = {"http": {"defaultHealthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 2, "maxDelayTarget": 4}}}
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(policy_doc))
    attrs = topic_attributes(sns, topic)
    assert attrs["DisplayName"] == "Operations"
    assert json.loads(attrs["DeliveryPolicy"]) == policy_doc
    effective = json.loads(attrs["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]
    assert (effective["numRetries"], effective["minDelayTarget"], effective["maxDelayTarget"]) == (5, 2, 4), effective

    # tags
    sns.tag_resource(ResourceArn=topic, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "b"}])
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=topic)["Tags"]}
    assert tags == {"team": "b", "env": "prod"}
    sns.untag_resource(ResourceArn=topic, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [{"Key": "env", "Value": "prod"}]

    # a pending subscription shows in the counts and the lists, and goes with the topic
    path = new_path("life")
    assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hooks.url(path))["SubscriptionArn"] == (
        "pending confirmation"
    )
    confirmation(hooks, path)
    assert topic_attributes(sns, topic)["SubscriptionsPending"] == "1"
    (listed,) = subscriptions_of(sns, topic)
    assert listed["SubscriptionArn"] == "PendingConfirmation"
    assert (listed["Protocol"], listed["Endpoint"], listed["TopicArn"]) == ("http", hooks.url(path), topic)
    assert listed["Owner"] == account(server)

    sns.delete_topic(TopicArn=topic)
    with raises_aws("NotFound", status=404) as gone:
        sns.get_topic_attributes(TopicArn=topic)
    assert gone.value.response["Error"]["Message"] == "Topic does not exist"
    assert {"TopicArn": topic} not in collect(sns.list_topics, "Topics")
    assert [s for s in collect(sns.list_subscriptions, "Subscriptions") if s["TopicArn"] == topic] == []
    sns.delete_topic(TopicArn=topic)  # already gone: still succeeds, as in SNS


def test_topic_requests_with_bad_input_are_invalid_parameter(sns, loose):
    """Bad names, attributes, ARNs and tokens are InvalidParameter (400), never a 500."""
    for name in ("x" * 300, "has space", "slash/name", "dot.name"):
        with raises_aws("InvalidParameter") as bad:
            loose.create_topic(Name=name)
        assert "Topic Name" in bad.value.response["Error"]["Message"], name[:20]

    topic = new_topic(sns, "bad", DisplayName="one")
    bad_attributes = {
        "Policy": json.dumps({"Version": "2012-10-17", "Statement": []}),
        "DeliveryPolicy": "{not json",
        "SignatureVersion": "3",
    }
    for attribute, value in bad_attributes.items():
        with raises_aws("InvalidParameter"):
            loose.set_topic_attributes(TopicArn=topic, AttributeName=attribute, AttributeValue=value)
        with raises_aws("InvalidParameter"):
            loose.create_topic(Name=f"e2e-{uid()}-bad", Attributes={attribute: value})
    # the same name again with other attributes
    name = topic.rsplit(":", 1)[1]
    with raises_aws("InvalidParameter"):
        sns.create_topic(Name=name, Attributes={"DisplayName": "two"})
    assert topic_attributes(sns, topic)["DisplayName"] == "one"

    for arn in (
        "not-an-arn",
        "arn:aws:sns:us-east-1:123:short",
        f"{topic}:extra:parts",
        "arn:aws:sqs:us-east-1:123456789012:q",
    ):
        with raises_aws("InvalidParameter") as bad:
            loose.get_topic_attributes(TopicArn=arn)
        assert bad.value.response["Error"]["Message"] == "Invalid parameter: TopicArn", arn

    for garbage in ("garbage!!", "AAAA", "x" * 2000):
        with raises_aws("InvalidParameter"):
            loose.list_topics(NextToken=garbage)
        with raises_aws("InvalidParameter"):
            loose.list_subscriptions(NextToken=garbage)
        with raises_aws("InvalidParameter"):
            loose.list_subscriptions_by_topic(TopicArn=topic, NextToken=garbage)


def test_missing_topics_and_subscriptions_are_not_found(server, sns, loose, hooks):
    """A topic or subscription that does not exist is NotFound (404), and nothing is sent
    anywhere for it; an unknown action is InvalidAction."""
    ghost = f"arn:aws:sns:{server.region}:{account(server)}:e2e-{uid()}-ghost"
    path = new_path("ghost")
    calls = {
        "Publish": lambda: sns.publish(TopicArn=ghost, Message="hello"),
        "GetTopicAttributes": lambda: sns.get_topic_attributes(TopicArn=ghost),
        "Subscribe": lambda: sns.subscribe(TopicArn=ghost, Protocol="http", Endpoint=hooks.url(path)),
    }
    for label, fn in calls.items():
        with raises_aws("NotFound", status=404) as missing:
            fn()
        assert missing.value.response["Error"]["Message"] == "Topic does not exist", label

    topic = new_topic(sns, "nosub")
    unknown = f"{topic}:{uuid.uuid4()}"
    subscription_calls = {
        "GetSubscriptionAttributes": lambda: sns.get_subscription_attributes(SubscriptionArn=unknown),
        "SetSubscriptionAttributes": lambda: sns.set_subscription_attributes(
            SubscriptionArn=unknown, AttributeName="RawMessageDelivery", AttributeValue="true"
        ),
        "Unsubscribe": lambda: sns.unsubscribe(SubscriptionArn=unknown),
    }
    for label, fn in subscription_calls.items():
        with raises_aws("NotFound", status=404) as missing:
            fn()
        assert missing.value.response["Error"]["Message"] == "Subscription does not exist", label
    with raises_aws("InvalidParameter"):
        loose.get_subscription_attributes(SubscriptionArn="not-an-arn")

    sns.delete_topic(TopicArn=ghost)  # deleting what is not there succeeds

    body = "Action=FrobnicateTopic&Version=2010-03-31"
    resp = call(server, None, body, headers={"Content-Type": FORM}, service="sns")
    assert resp.status_code == 400, f"HTTP {resp.status_code}: {resp.text[:300]}"
    assert "<Code>InvalidAction</Code>" in resp.text, resp.text[:300]

    time.sleep(SETTLE)
    assert hooks.at(path) == [], "a Subscribe to a missing topic sent something"


# --------------------------------------------------------------------------- #
# subscribing
# --------------------------------------------------------------------------- #


def test_subscribe_sends_a_signed_confirmation_and_nothing_else_until_confirmed(server, sns, hooks):
    """Subscribe answers "pending confirmation" and POSTs a signed SubscriptionConfirmation;
    a Publish meanwhile reaches nobody (not even later). A GET of the SubscribeURL confirms:
    it answers the SubscriptionArn, and the next Publish arrives."""
    topic = new_topic(sns, "confirm")
    path = new_path("confirm")
    out = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hooks.url(path))
    assert out["SubscriptionArn"] == "pending confirmation"

    post = confirmation(hooks, path)
    msg = check_confirmation(server, post, topic)
    assert msg["SignatureVersion"] == "1"
    assert signature_ok(server, msg, "1") and not signature_ok(server, msg, "2")
    assert topic in msg["Message"], msg["Message"]
    assert [s["SubscriptionArn"] for s in subscriptions_of(sns, topic)] == ["PendingConfirmation"]
    attrs = topic_attributes(sns, topic)
    assert (attrs["SubscriptionsConfirmed"], attrs["SubscriptionsPending"]) == ("0", "1")

    early = sns.publish(TopicArn=topic, Message="before confirmation")["MessageId"]
    assert UUID_RE.match(early), early

    status, text = http_get(msg["SubscribeURL"])
    assert status == 200, f"{status}: {text[:300]}"
    arn = xml_leaf(text, "SubscriptionArn")
    assert arn and arn.startswith(topic + ":"), text[:300]
    assert [s["SubscriptionArn"] for s in subscriptions_of(sns, topic)] == [arn]
    attrs = topic_attributes(sns, topic)
    assert (attrs["SubscriptionsConfirmed"], attrs["SubscriptionsPending"]) == ("1", "0")
    sub = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert sub["PendingConfirmation"] == "false"
    assert (sub["TopicArn"], sub["Protocol"], sub["Endpoint"], sub["Owner"]) == (
        topic,
        "http",
        hooks.url(path),
        account(server),
    )

    later = sns.publish(TopicArn=topic, Message="after confirmation")["MessageId"]
    got = check_notification(server, notification(hooks, path, later), topic, arn)
    assert got["Message"] == "after confirmation"
    time.sleep(SETTLE)
    assert [p.message_id for p in notifications(hooks, path)] == [later], "the early message was delivered"
    assert [p.kind for p in hooks.at(path)] == ["SubscriptionConfirmation", "Notification"]


def test_confirm_subscription_by_signed_call_and_wrong_tokens(server, sns, loose, hooks):
    """Only the token sent for this topic confirms: a wrong one (signed call or GET) is
    InvalidParameter and leaves the subscription pending; the right one confirms."""
    topic = new_topic(sns, "token")
    other = new_topic(sns, "other")
    path = new_path("token")
    arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hooks.url(path), ReturnSubscriptionArn=True)[
        "SubscriptionArn"
    ]
    assert arn.startswith(topic + ":")
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "true"
    token = check_confirmation(server, confirmation(hooks, path), topic)["Token"]

    for wrong_topic, wrong_token in ((topic, "0" * len(token)), (topic, token + "0"), (other, token)):
        with raises_aws("InvalidParameter") as bad:
            loose.confirm_subscription(TopicArn=wrong_topic, Token=wrong_token)
        assert bad.value.response["Error"]["Message"] == "Invalid parameter: Token"
    for wrong_topic, wrong_token in ((topic, "f" * len(token)), (other, token)):
        query = urllib.parse.urlencode({"Action": "ConfirmSubscription", "TopicArn": wrong_topic, "Token": wrong_token})
        status, text = http_get(f"{server.url}/?{query}")
        assert status == 400, f"{status}: {text[:300]}"
        assert "<Code>InvalidParameter</Code>" in text, text[:300]
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "true"

    assert sns.confirm_subscription(TopicArn=topic, Token=token)["SubscriptionArn"] == arn
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "false"
    assert [s["SubscriptionArn"] for s in subscriptions_of(sns, topic)] == [arn]
    assert subscriptions_of(sns, other) == []


def test_subscribe_with_bad_input_is_invalid_parameter(server, sns, loose, hooks):
    """Only http/https endpoints whose URL matches the protocol are accepted; an endpoint
    at an address the server refuses to call (cloud metadata, link-local, unspecified, the
    server itself) is refused when subscribing, saying so. Nothing is subscribed or sent."""
    topic = new_topic(sns, "badsub")
    ok = hooks.url(new_path("badsub"))
    for protocol in ("email", "sqs", "lambda", "sms", "application"):
        with raises_aws("InvalidParameter"):
            loose.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=ok)
    for protocol, endpoint in (
        ("https", ok),
        ("http", ok.replace("http://", "https://")),
        ("http", "ftp://127.0.0.1/x"),
        ("http", "not a url"),
        ("http", ""),
    ):
        with raises_aws("InvalidParameter"):
            loose.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint)
    for endpoint in (
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://0.0.0.0:80/",
        f"{server.url}/",
    ):
        with raises_aws("InvalidParameter") as refused:
            loose.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint)
        assert "refused" in refused.value.response["Error"]["Message"].lower(), refused.value.response["Error"]
    assert subscriptions_of(sns, topic) == []
    assert topic_attributes(sns, topic)["SubscriptionsPending"] == "0"


# --------------------------------------------------------------------------- #
# notifications
# --------------------------------------------------------------------------- #


def test_notification_envelope_headers_and_signature(server, sns, hooks):
    """A Publish with a subject and message attributes arrives as SNS's signed JSON
    envelope (SignatureVersion 1, SHA1withRSA), with the UnsubscribeURL and the headers a
    subscriber routes on; the same MessageId Publish answered."""
    topic = new_topic(sns, "envelope")
    path = new_path("envelope")
    arn = subscribe_and_confirm(server, sns, hooks, topic, path)
    text = "Disk almost full on web-1\nüber 90 % ✓ \"quoted\""
    mid = sns.publish(
        TopicArn=topic,
        Message=text,
        Subject="Disk alert",
        MessageAttributes={
            "severity": {"DataType": "String", "StringValue": "high"},
            "percent": {"DataType": "Number", "StringValue": "91"},
        },
    )["MessageId"]
    post = notification(hooks, path, mid)
    msg = check_notification(server, post, topic, arn)
    assert msg["MessageId"] == mid
    assert msg["Message"] == text
    assert msg["Subject"] == "Disk alert"
    assert msg["SignatureVersion"] == "1"
    assert msg["MessageAttributes"] == {
        "severity": {"Type": "String", "Value": "high"},
        "percent": {"Type": "Number", "Value": "91"},
    }
    assert not signature_ok(server, dict(msg, Subject="Other")), "the Subject is not covered by the signature"
    assert not signature_ok(server, msg, "2"), "a version 1 message verifies as SHA256"

    # no subject: the field is absent and the signature covers the rest
    bare = sns.publish(TopicArn=topic, Message="no subject")["MessageId"]
    msg = check_notification(server, notification(hooks, path, bare), topic, arn)
    assert "Subject" not in msg and "MessageAttributes" not in msg, msg
    assert msg["Message"] == "no subject"


def test_signature_version_2_signs_with_sha256(server, sns, hooks):
    """A topic with SignatureVersion 2 signs confirmations and notifications with
    SHA256withRSA: they verify as version 2 and not as version 1."""
    topic = new_topic(sns, "sha256", SignatureVersion="2")
    assert topic_attributes(sns, topic)["SignatureVersion"] == "2"
    path = new_path("sha256")
    arn = subscribe_and_confirm(server, sns, hooks, topic, path)
    confirm = confirmation(hooks, path).msg
    assert confirm["SignatureVersion"] == "2"
    assert signature_ok(server, confirm, "2") and not signature_ok(server, confirm, "1")

    mid = sns.publish(TopicArn=topic, Message="signed with sha256", Subject="v2")["MessageId"]
    msg = check_notification(server, notification(hooks, path, mid), topic, arn)
    assert msg["SignatureVersion"] == "2"
    assert not signature_ok(server, msg, "1")

    # switched back to 1: the next message is SHA1-signed
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="1")
    mid = sns.publish(TopicArn=topic, Message="signed with sha1")["MessageId"]
    msg = check_notification(server, notification(hooks, path, mid), topic, arn)
    assert msg["SignatureVersion"] == "1"
    assert not signature_ok(server, msg, "2")


def test_raw_message_delivery_posts_the_bare_message(server, sns, hooks):
    """With RawMessageDelivery the endpoint gets the message itself (the confirmation is
    still the JSON envelope); turned off, the envelope comes back."""
    topic = new_topic(sns, "raw")
    path = new_path("raw")
    arn = subscribe_and_confirm(server, sns, hooks, topic, path, raw=True)
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["RawMessageDelivery"] == "true"
    text = '{"looks": "like json"} but is the message ✓'
    mid = sns.publish(TopicArn=topic, Message=text, Subject="ignored when raw")["MessageId"]
    post = notification(hooks, path, mid)
    assert post.body == text.encode("utf-8"), post.body[:300]
    assert post.headers.get("x-amz-sns-topic-arn") == topic
    assert post.headers.get("x-amz-sns-subscription-arn") == arn

    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RawMessageDelivery", AttributeValue="false")
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["RawMessageDelivery"] == "false"
    mid = sns.publish(TopicArn=topic, Message=text)["MessageId"]
    msg = check_notification(server, notification(hooks, path, mid), topic, arn)
    assert msg["Message"] == text

    with raises_aws("InvalidParameter"):
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RawMessageDelivery", AttributeValue="maybe")
    with raises_aws("InvalidParameter"):
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="NoSuchAttribute", AttributeValue="x")


def test_message_structure_json_picks_the_http_text(server, sns, loose, hooks):
    """MessageStructure=json sends each protocol its own text ("http" here, else
    "default"); a body that is not JSON, or has no "default" entry, is InvalidParameter."""
    topic = new_topic(sns, "structure")
    path = new_path("structure")
    arn = subscribe_and_confirm(server, sns, hooks, topic, path)
    mid = sns.publish(
        TopicArn=topic, MessageStructure="json", Message=json.dumps({"default": "for everyone", "http": "for http"})
    )["MessageId"]
    assert check_notification(server, notification(hooks, path, mid), topic, arn)["Message"] == "for http"
    mid = sns.publish(
        TopicArn=topic, MessageStructure="json", Message=json.dumps({"default": "for everyone", "email": "mail"})
    )["MessageId"]
    assert check_notification(server, notification(hooks, path, mid), topic, arn)["Message"] == "for everyone"

    for body in (json.dumps({"email": "mail only"}), json.dumps({"http": "no default"}), "{not json", "[]"):
        with raises_aws("InvalidParameter"):
            loose.publish(TopicArn=topic, MessageStructure="json", Message=body)
    with raises_aws("InvalidParameter"):
        loose.publish(TopicArn=topic, MessageStructure="xml", Message="<a/>")


def test_publish_with_bad_input_is_invalid_parameter(sns, loose, hooks, server):
    """Messages over 256 KiB (counted in bytes), subjects over 100 characters or with
    control characters, empty messages and bad topic ARNs are InvalidParameter; the limits
    themselves are accepted. Nothing refused is delivered."""
    topic = new_topic(sns, "limits")
    path = new_path("limits")
    arn = subscribe_and_confirm(server, sns, hooks, topic, path, raw=True)

    for message in ("x" * (MAX_MESSAGE + 1), "é" * (MAX_MESSAGE // 2 + 1)):
        with raises_aws("InvalidParameter") as bad:
            loose.publish(TopicArn=topic, Message=message)
        assert bad.value.response["Error"]["Message"] == "Invalid parameter: Message too long"
    for subject in ("s" * 101, "line\nbreak", "tab\there", "bell\x07"):
        with raises_aws("InvalidParameter") as bad:
            loose.publish(TopicArn=topic, Message="m", Subject=subject)
        assert bad.value.response["Error"]["Message"] == "Invalid parameter: Subject", repr(subject)
    with raises_aws("InvalidParameter"):
        loose.publish(TopicArn=topic, Message="")
    for bad_arn in ("not-an-arn", "arn:aws:sns:us-east-1:123:short", arn):
        with raises_aws("InvalidParameter"):
            loose.publish(TopicArn=bad_arn, Message="m")

    biggest = "y" * MAX_MESSAGE
    mid = sns.publish(TopicArn=topic, Message=biggest, Subject="s" * 100)["MessageId"]
    assert notification(hooks, path, mid).body == biggest.encode()
    time.sleep(SETTLE)
    assert [p.message_id for p in notifications(hooks, path)] == [mid], "a refused Publish was delivered"


def test_a_failing_endpoint_gets_the_same_message_again(server, sns, hooks):
    """With a DeliveryPolicy of 3 retries 1 s apart, an endpoint answering 500 twice gets
    the same message a third time and no more; one that always fails gets it 1 + 3 times."""
    delivery = {"http": {"defaultHealthyRetryPolicy": {"numRetries": 3, "minDelayTarget": 1, "maxDelayTarget": 1}}}
    topic = new_topic(sns, "retry", DeliveryPolicy=json.dumps(delivery))
    effective = json.loads(topic_attributes(sns, topic)["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]
    assert (effective["numRetries"], effective["minDelayTarget"], effective["maxDelayTarget"]) == (3, 1, 1)
    flaky, broken = new_path("flaky"), new_path("broken")
    flaky_arn = subscribe_and_confirm(server, sns, hooks, topic, flaky)
    broken_arn = subscribe_and_confirm(server, sns, hooks, topic, broken)
    hooks.fail(flaky, 2)
    hooks.fail(broken, 1000)

    mid = sns.publish(TopicArn=topic, Message="try again")["MessageId"]

    def same(p: Post) -> bool:
        return p.message_id == mid

    attempts = hooks.wait(flaky, same, count=3, timeout=DELIVERY_WAIT, what="two failures and a success")
    assert [a.answered for a in attempts] == [500, 500, 200]
    hooks.wait(broken, same, count=4, timeout=DELIVERY_WAIT, what="the first try and three retries")
    for path, arn in ((flaky, flaky_arn), (broken, broken_arn)):
        tries = [p for p in hooks.at(path) if same(p)]
        for t in tries:
            assert check_notification(server, t, topic, arn)["MessageId"] == mid
        gaps = [b.received - a.received for a, b in zip(tries, tries[1:])]
        assert all(g >= 0.5 for g in gaps), f"retries did not wait the policy's delay: {gaps}"

    time.sleep(SETTLE + 1)  # longer than the retry delay: nothing more comes
    assert len([p for p in hooks.at(flaky) if same(p)]) == 3, "a delivered message was sent again"
    assert len([p for p in hooks.at(broken) if same(p)]) == 4, "more retries than numRetries"


def test_publish_succeeds_while_a_confirmed_endpoint_is_down(server, sns, hooks):
    """An endpoint that went away after confirming does not fail Publish, nor keep the
    topic's other subscribers from getting the message."""
    topic = new_topic(sns, "down")
    gone = Endpoints()
    try:
        gone_path = new_path("gone")
        subscribe_and_confirm(server, sns, gone, topic, gone_path)
    finally:
        gone.close()
    healthy = new_path("healthy")
    healthy_arn = subscribe_and_confirm(server, sns, hooks, topic, healthy)
    assert topic_attributes(sns, topic)["SubscriptionsConfirmed"] == "2"

    ids = [sns.publish(TopicArn=topic, Message=f"while down {i}")["MessageId"] for i in range(3)]
    for mid in ids:
        check_notification(server, notification(hooks, healthy, mid), topic, healthy_arn)
    assert server.running


# --------------------------------------------------------------------------- #
# unsubscribing
# --------------------------------------------------------------------------- #


def test_unsubscribe_by_signed_call_or_by_url_ends_deliveries(server, sns, hooks):
    """Unsubscribe (signed) or a GET of a notification's UnsubscribeURL ends the
    subscription: its endpoint gets a signed UnsubscribeConfirmation, then nothing more."""
    topic = new_topic(sns, "unsub")
    by_call, by_url = new_path("by-call"), new_path("by-url")
    call_arn = subscribe_and_confirm(server, sns, hooks, topic, by_call, signed=True)
    url_arn = subscribe_and_confirm(server, sns, hooks, topic, by_url)
    first = sns.publish(TopicArn=topic, Message="first")["MessageId"]
    check_notification(server, notification(hooks, by_call, first), topic, call_arn)
    url_msg = check_notification(server, notification(hooks, by_url, first), topic, url_arn)

    sns.unsubscribe(SubscriptionArn=call_arn)
    bye = hooks.wait(by_call, lambda p: p.kind == "UnsubscribeConfirmation", what="UnsubscribeConfirmation")[0]
    check_envelope(server, bye, "UnsubscribeConfirmation", topic)
    assert bye.headers.get("x-amz-sns-subscription-arn") == call_arn, bye.headers
    assert bye.msg["Token"] and bye.msg["SubscribeURL"].startswith(f"{server.url}/?"), bye.msg

    status, text = http_get(url_msg["UnsubscribeURL"])
    assert status == 200, f"{status}: {text[:300]}"
    bye = hooks.wait(by_url, lambda p: p.kind == "UnsubscribeConfirmation", what="UnsubscribeConfirmation")[0]
    check_envelope(server, bye, "UnsubscribeConfirmation", topic)
    assert bye.headers.get("x-amz-sns-subscription-arn") == url_arn, bye.headers

    assert subscriptions_of(sns, topic) == []
    assert topic_attributes(sns, topic)["SubscriptionsConfirmed"] == "0"
    for arn in (call_arn, url_arn):
        with raises_aws("NotFound", status=404):
            sns.get_subscription_attributes(SubscriptionArn=arn)
        with raises_aws("NotFound", status=404):
            sns.unsubscribe(SubscriptionArn=arn)

    sns.publish(TopicArn=topic, Message="after")
    time.sleep(SETTLE)
    for path in (by_call, by_url):
        assert [p.message_id for p in notifications(hooks, path)] == [first], f"{path} got a message after leaving"
        assert [p.kind for p in hooks.at(path)].count("UnsubscribeConfirmation") == 1


def test_authenticate_on_unsubscribe_refuses_the_unsigned_url(server, sns, hooks):
    """A subscription confirmed by a signed call with AuthenticateOnUnsubscribe=true cannot
    be ended by its UnsubscribeURL (403 AuthorizationError; deliveries go on), only by a
    signed Unsubscribe."""
    topic = new_topic(sns, "strict")
    path = new_path("strict")
    arn = subscribe_and_confirm(server, sns, hooks, topic, path, authenticate=True)
    first = sns.publish(TopicArn=topic, Message="first")["MessageId"]
    msg = check_notification(server, notification(hooks, path, first), topic, arn)

    status, text = http_get(msg["UnsubscribeURL"])
    assert status == 403, f"{status}: {text[:300]}"
    assert "<Code>AuthorizationError</Code>" in text, text[:300]
    assert [s["SubscriptionArn"] for s in subscriptions_of(sns, topic)] == [arn]
    second = sns.publish(TopicArn=topic, Message="second")["MessageId"]
    notification(hooks, path, second)
    assert not [p for p in hooks.at(path) if p.kind == "UnsubscribeConfirmation"]

    sns.unsubscribe(SubscriptionArn=arn)
    hooks.wait(path, lambda p: p.kind == "UnsubscribeConfirmation", what="UnsubscribeConfirmation")
    assert subscriptions_of(sns, topic) == []


# --------------------------------------------------------------------------- #
# IAM
# --------------------------------------------------------------------------- #


def test_a_limited_user_is_refused_as_sns_refuses(server, sns, hooks):
    """A user allowed only sns:Publish on topic A (and denied sns:ListTopics) publishes to
    A, and gets AuthorizationError (403) for B, for CreateTopic, Subscribe and ListTopics."""
    a = new_topic(sns, "allowed")
    b = new_topic(sns, "forbidden")
    path = new_path("iam-a")
    a_sub = subscribe_and_confirm(server, sns, hooks, a, path)
    doc = policy(allow("sns:Publish", a), deny("sns:ListTopics", "*"))
    ak, sk, me = make_user(server, f"sns-pub-{uid()}", doc)
    client = as_user(server, "sns", ak, sk)

    mid = client.publish(TopicArn=a, Message="from the user")["MessageId"]
    check_notification(server, notification(hooks, path, mid), a, a_sub)

    with raises_aws("AuthorizationError", status=403) as refused:
        client.publish(TopicArn=b, Message="not allowed")
    assert refused.value.response["Error"]["Message"] == denial(me, "sns:Publish", b)
    with raises_aws("AuthorizationError", status=403):
        client.create_topic(Name=f"e2e-{uid()}-mine")
    with raises_aws("AuthorizationError", status=403):
        client.subscribe(TopicArn=a, Protocol="http", Endpoint=hooks.url(new_path("iam-sneak")))
    with raises_aws("AuthorizationError", status=403) as refused:
        client.list_topics()
    assert "sns:ListTopics" in refused.value.response["Error"]["Message"]
    assert [s["SubscriptionArn"] for s in subscriptions_of(sns, a)] == [a_sub]


# --------------------------------------------------------------------------- #
# Run Command notifications (these start the module's one agent)
# --------------------------------------------------------------------------- #


def command_notifications(hooks: Endpoints, path: str, command_id: str) -> list[dict]:
    """The Messages (parsed) of the Notifications about ``command_id`` that reached ``path``."""
    out = []
    for p in notifications(hooks, path):
        try:
            body = json.loads(p.msg.get("Message", ""))
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("commandId") == command_id:
            out.append(body)
    return out


def test_notification_arn_must_be_a_topic_of_this_account(server, fleet, hooks):
    """SendCommand's NotificationArn is refused (ValidationException) when it is a URL —
    the server never posts where a caller points it — or another account's topic; no
    command is created and the URL is never called."""
    ssm = server.ssm()
    path = new_path("raw-url")
    before = len(collect(ssm.list_commands, "Commands"))
    for arn in (
        "http://127.0.0.1:9/hook",
        hooks.url(path),
        f"arn:aws:sns:{server.region}:210987654321:e2e-{uid()}-elsewhere",
    ):
        config = {"NotificationArn": arn, "NotificationEvents": ["All"], "NotificationType": "Command"}
        with raises_aws("ValidationException"):
            send(ssm, "true", ids=[fleet.id("s")], NotificationConfig=config)
    assert len(collect(ssm.list_commands, "Commands")) == before
    time.sleep(SETTLE)
    assert hooks.at(path) == [], "the server posted to a URL named as NotificationArn"


def test_command_notifications_reach_a_confirmed_subscription(server, fleet, sns, hooks):
    """A command whose NotificationConfig names a topic is announced to the topic's
    confirmed endpoints as signed Notifications whose Message is SSM's JSON: with
    NotificationType Command, the command's statuses up to Success; with Invocation and
    only the Success event, one message for the node."""
    ssm = server.ssm()
    topic = new_topic(sns, "commands")
    path = new_path("commands")
    arn = subscribe_and_confirm(server, sns, hooks, topic, path)
    node = fleet.id("s")

    config = {"NotificationArn": topic, "NotificationEvents": ["All"], "NotificationType": "Command"}
    cid = send(ssm, "echo notified", ids=[node], NotificationConfig=config)["CommandId"]
    assert wait_command(ssm, cid)["Status"] == "Success"
    wait_until(
        lambda: any(b.get("status") == "Success" for b in command_notifications(hooks, path, cid)),
        DELIVERY_WAIT,
        "a Success notification of the command",
    )
    for p in notifications(hooks, path):
        check_notification(server, p, topic, arn)
    bodies = command_notifications(hooks, path, cid)
    for body in bodies:
        assert body["commandId"] == cid
        assert body.get("documentName") == SHELL, body
        assert body["status"] in {"Pending", "InProgress", "Success"}, body
        assert "instanceId" not in body, f"a Command notification names one node: {body}"

    config = {"NotificationArn": topic, "NotificationEvents": ["Success"], "NotificationType": "Invocation"}
    cid2 = send(ssm, "echo per node", ids=[node], NotificationConfig=config)["CommandId"]
    assert wait_command(ssm, cid2)["Status"] == "Success"
    (body,) = wait_until(
        lambda: command_notifications(hooks, path, cid2), DELIVERY_WAIT, "the invocation's notification"
    )
    assert (body["instanceId"], body["status"]) == (node, "Success"), body
    time.sleep(SETTLE)
    assert [b["status"] for b in command_notifications(hooks, path, cid2)] == ["Success"]


def test_a_sender_without_sns_publish_runs_the_command_but_notifies_nobody(server, fleet, sns, hooks):
    """A user who may run commands but not publish to the topic (and names no service role)
    gets the command run; nothing reaches the topic's endpoint, and the server log says the
    notification was not published."""
    topic = new_topic(sns, "nopublish")
    path = new_path("nopublish")
    subscribe_and_confirm(server, sns, hooks, topic, path)
    doc = policy(
        allow(["ssm:SendCommand", "ssm:ListCommands", "ssm:ListCommandInvocations", "ssm:GetCommandInvocation"], "*")
    )
    ak, sk, _ = make_user(server, f"sns-runner-{uid()}", doc)
    user_ssm = as_user(server, "ssm", ak, sk)

    config = {"NotificationArn": topic, "NotificationEvents": ["All"], "NotificationType": "Command"}
    cid = send(user_ssm, "echo quietly", ids=[fleet.id("s")], NotificationConfig=config)["CommandId"]
    assert wait_command(server.ssm(), cid)["Status"] == "Success"
    wait_until(
        lambda: any(
            "A command notification was not published." in line and cid in line
            for line in server.log_text().splitlines()
        ),
        DELIVERY_WAIT,
        f"the log saying command {cid}'s notification was not published",
    )
    time.sleep(SETTLE)
    assert command_notifications(hooks, path, cid) == []
    assert notifications(hooks, path) == [], "the endpoint got a notification the sender may not publish"
