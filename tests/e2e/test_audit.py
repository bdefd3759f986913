"""The audit trail end to end: CloudTrail-shaped events for every API call (SSM, KMS,
CloudTrail, IAM, STS; allowed or denied, successful or failed), LookupEvents through boto3
and the aws CLI (filters, time ranges, paging, errors, authorization), secrets kept out of
everything written, the hash chain (``steward audit export`` / ``steward audit verify`` and
a recomputation in Python), and the periodic copies to the blob store.

One server per backend, started with ``--audit-export-interval 1`` so the blob-store copies
appear quickly.  Events are written asynchronously, so every check of the trail polls with
``wait_until``.  The server is shared by all tests of the module: each test uses unique
names (``fresh``) and finds its own events by resource, user, key or time.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from conftest import AwsCliError, raises_aws, steward_bin, wait_until
from test_iam import account, allow, as_user, make_user, param_arn, policy, role_arn, trust, user_env

GENESIS = "0" * 64
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
INTACT_RE = re.compile(r"^intact: (\d+) events, last hash ([0-9a-f]{64})$")
EVENT_WAIT = 15.0


@pytest.fixture(scope="module")
def server(server_factory):
    # Refusals of unauthenticated calls are summarised per window; a short one lets a test's
    # own refusal show in full whatever came before it.
    return server_factory(extra_args=("--audit-export-interval", "1", "--audit-sample-seconds", "1"))


@pytest.fixture
def trail(server):
    return server.client("cloudtrail")


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def ct_event(ev: dict) -> dict:
    """The parsed CloudTrailEvent of a LookupEvents result."""
    return json.loads(ev["CloudTrailEvent"])


def lookup_all(client, key: str | None = None, value: str | None = None, **kw) -> list[dict]:
    """Every page of LookupEvents (optionally filtered by one attribute)."""
    args: dict[str, Any] = dict(kw)
    if key is not None:
        args["LookupAttributes"] = [{"AttributeKey": key, "AttributeValue": value}]
    out: list[dict] = []
    token = None
    for _ in range(1000):
        if token:
            args["NextToken"] = token
        page = client.lookup_events(**args)
        out.extend(page.get("Events", []))
        token = page.get("NextToken")
        if not token:
            return out
    raise AssertionError("LookupEvents paging did not terminate")


def wait_events(
    client,
    key: str,
    value: str,
    pred: Callable[[dict], bool] = lambda e: True,
    count: int = 1,
    timeout: float = EVENT_WAIT,
) -> list[dict]:
    """Polls LookupEvents (filtered by ``key``=``value``) until ``count`` results satisfy ``pred``."""
    found: list[dict] = []

    def probe():
        nonlocal found
        found = [e for e in lookup_all(client, key, value) if pred(e)]
        return len(found) >= count

    try:
        wait_until(probe, timeout, f"{count} audit event(s) with {key}={value}")
    except AssertionError:
        raise AssertionError(
            f"expected {count} event(s) for {key}={value} within {timeout}s, found {len(found)}: "
            f"{[(e['EventName'], e.get('Username')) for e in found]}"
        ) from None
    return found


def named(name: str) -> Callable[[dict], bool]:
    return lambda e: e["EventName"] == name


def audit_cmd(server, *args: str, store: bool = True, check: bool = True) -> subprocess.CompletedProcess:
    """``steward audit [--data-dir D --store S] ARGS``."""
    argv = [str(steward_bin()), "audit"]
    if store:
        argv += ["--data-dir", str(server.data_dir)]
        if server.store_url:
            argv += ["--store", server.store_url]
    argv += list(args)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_") and not k.startswith("AWS_")}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc


def export_lines(server, tmp_path: Path, name: str = "export.jsonl") -> tuple[Path, list[str]]:
    out = tmp_path / name
    audit_cmd(server, "export", "--out", str(out))
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines, "the export is empty"
    return out, lines


def verify_file(server, path: Path, *, expect_intact: bool) -> subprocess.CompletedProcess:
    proc = audit_cmd(server, "verify", "--file", str(path), store=False, check=False)
    if expect_intact:
        assert proc.returncode == 0, f"verify --file failed: {proc.stdout}{proc.stderr}"
        intact(proc)
    else:
        assert proc.returncode != 0, f"verify --file accepted a tampered export: {proc.stdout}"
    return proc


def intact(proc: subprocess.CompletedProcess) -> tuple[int, str]:
    """The chain verdict's count and last hash (the store's verify also reports digests)."""
    m = next(filter(None, map(INTACT_RE.match, proc.stdout.strip().splitlines())), None)
    assert m, f"unexpected verify output: {proc.stdout!r} {proc.stderr!r}"
    return int(m.group(1)), m.group(2)


def compact(event: dict) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev: str, event: dict) -> str:
    body = {k: v for k, v in event.items() if k != "hash"}
    return hashlib.sha256((prev + "\n" + compact(body)).encode("utf-8")).hexdigest()


def newest_seq(trail) -> int:
    """The seq of the newest event visible now (makes an event of its own first)."""
    events = trail.lookup_events(MaxResults=1)["Events"]
    return ct_event(events[0])["seq"] if events else 0


def wait_seq_at_least(trail, seq: int) -> None:
    wait_until(lambda: newest_seq(trail) >= seq, EVENT_WAIT, f"an event with seq >= {seq}")


# --------------------------------------------------------------------------- #
# events of calls
# --------------------------------------------------------------------------- #


def test_parameter_calls_recorded_and_secrets_hidden(server, trail, fresh, tmp_path):
    ssm = server.ssm()
    kms = server.kms()
    acct = account(server)
    secret = f"s3cr3t-{uuid.uuid4()}"
    name = fresh("db", "password")
    arn = param_arn(server, name)
    t0 = time.time()
    ssm.put_parameter(Name=name, Value=secret, Type="SecureString")
    missing = fresh("missing")
    missing_arn = param_arn(server, missing)
    with raises_aws("ParameterNotFound"):
        ssm.get_parameter(Name=missing)

    kms_secret = f"kms-s3cr3t-{uuid.uuid4()}".encode()
    key_id = kms.create_key(Description=f"audit {fresh.token}")["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key_id, Plaintext=kms_secret)

    (put,) = wait_events(trail, "ResourceName", arn, named("PutParameter"))
    (get,) = wait_events(trail, "ResourceName", missing_arn, named("GetParameter"))

    # the lookup result
    assert put["EventSource"] == "ssm.amazonaws.com"
    assert put["Username"] == "root"
    assert put["ReadOnly"] == "false"
    assert put["AccessKeyId"] == server.access_key
    assert {"ResourceType": "AWS::SSM::Parameter", "ResourceName": arn} in put["Resources"]
    assert isinstance(put["EventTime"], dt.datetime)
    assert t0 - 2 <= put["EventTime"].timestamp() <= time.time() + 2
    assert get["EventSource"] == "ssm.amazonaws.com"
    assert get["ReadOnly"] == "true"
    assert get["Username"] == "root"
    assert {"ResourceType": "AWS::SSM::Parameter", "ResourceName": missing_arn} in get["Resources"]

    # the CloudTrail record of the successful call
    p = ct_event(put)
    assert p["eventVersion"]
    assert p["eventName"] == "PutParameter"
    assert p["eventSource"] == "ssm.amazonaws.com"
    assert p["eventID"] == put["EventId"]
    assert p["awsRegion"] == server.region
    assert p["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in p["userAgent"], p["userAgent"]
    assert p["readOnly"] is False
    assert p["recipientAccountId"] == acct
    assert p["requestID"]
    assert p["userIdentity"]["type"] == "Root"
    assert p["userIdentity"]["accountId"] == acct
    assert p["userIdentity"]["accessKeyId"] == server.access_key
    assert p["userIdentity"]["arn"] == f"arn:aws:iam::{acct}:root"
    assert p["requestParameters"]["Name"] == name
    assert p["requestParameters"]["Type"] == "SecureString"
    assert p["requestParameters"]["Value"] == HIDDEN
    assert "errorCode" not in p and "errorMessage" not in p
    assert any(r.get("ARN") == arn for r in p["resources"]), p["resources"]
    assert isinstance(p["seq"], int) and p["seq"] >= 1
    assert re.fullmatch(r"[0-9a-f]{64}", p["prevHash"]) and re.fullmatch(r"[0-9a-f]{64}", p["hash"])
    assert p["eventTime"].startswith(str(dt.datetime.now(dt.timezone.utc).year)), p["eventTime"]

    # ... and of the failed one
    g = ct_event(get)
    assert g["errorCode"] == "ParameterNotFound"
    assert g["errorMessage"]
    assert g["readOnly"] is True
    assert g["requestParameters"]["Name"] == missing
    assert g["eventID"] == get["EventId"] and g["eventID"] != p["eventID"]
    assert g["requestID"] != p["requestID"]

    # the other lookup attributes find them too
    assert [e["EventId"] for e in lookup_all(trail, "EventId", put["EventId"])] == [put["EventId"]]
    by_type = lookup_all(trail, "ResourceType", "AWS::SSM::Parameter")
    assert put["EventId"] in {e["EventId"] for e in by_type}
    assert all(any(r["ResourceType"] == "AWS::SSM::Parameter" for r in e["Resources"]) for e in by_type)
    read_only = {e["EventId"] for e in lookup_all(trail, "ReadOnly", "true")}
    writes = {e["EventId"] for e in lookup_all(trail, "ReadOnly", "false")}
    assert get["EventId"] in read_only and get["EventId"] not in writes
    assert put["EventId"] in writes and put["EventId"] not in read_only
    by_source = {e["EventId"] for e in lookup_all(trail, "EventSource", "ssm.amazonaws.com")}
    assert {put["EventId"], get["EventId"]} <= by_source
    assert lookup_all(trail, "EventSource", "kms.amazonaws.com", MaxResults=50) and not (
        {put["EventId"], get["EventId"]} & {e["EventId"] for e in lookup_all(trail, "EventSource", "kms.amazonaws.com")}
    )

    # KMS Encrypt: the plaintext is hidden, the key is the resource
    (enc,) = wait_events(
        trail, "EventSource", "kms.amazonaws.com",
        lambda e: e["EventName"] == "Encrypt" and ct_event(e)["requestParameters"].get("KeyId") == key_id,
    )
    e = ct_event(enc)
    assert e["requestParameters"]["Plaintext"] == HIDDEN
    assert enc["Username"] == "root"
    assert any(r["ResourceType"] == "AWS::KMS::Key" and key_id in r["ResourceName"] for r in enc["Resources"])

    # the aws CLI sees the same events (and its own call is recorded with its user agent)
    cli = server.aws("cloudtrail", "lookup-events", "--lookup-attributes",
                     f"AttributeKey=ResourceName,AttributeValue={arn}")
    assert [ev["EventName"] for ev in cli["Events"]] == ["PutParameter"]
    assert cli["Events"][0]["EventId"] == put["EventId"]
    cli_lookups = wait_events(trail, "EventName", "LookupEvents",
                              lambda ev: "aws-cli" in ct_event(ev)["userAgent"]
                              and arn in json.dumps(ct_event(ev)["requestParameters"]))
    assert ct_event(cli_lookups[0])["eventSource"] == "cloudtrail.amazonaws.com"

    # the secrets appear nowhere: lookup results, the export, any file under the data dir
    needles = [secret.encode(), kms_secret, base64.b64encode(kms_secret)]
    everything = json.dumps(lookup_all(trail), default=str) + json.dumps(cli)
    for needle in needles:
        assert needle.decode() not in everything, f"{needle!r} appears in LookupEvents results"
    _, lines = export_lines(server, tmp_path)
    exported = "\n".join(lines)
    assert put["EventId"] in exported and get["EventId"] in exported
    for needle in needles:
        assert needle.decode() not in exported, f"{needle!r} appears in the audit export"
    # wait for the blob-store copy to include these events before grepping the files
    wait_blobs_cover(server, p["seq"])
    checked = 0
    for path in sorted(server.data_dir.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        checked += 1
        for needle in needles:
            assert needle not in data, f"{needle!r} is stored in {path}"
    assert checked > 0
    # the secret is still readable through the API, so it was stored (encrypted)
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == secret


def test_denied_call_by_iam_user(server, trail, fresh):
    user = f"audit-denied-{fresh.token}"
    ak, sk, uarn = make_user(server, user)
    target = fresh("forbidden")
    with raises_aws("AccessDeniedException"):
        as_user(server, "ssm", ak, sk).get_parameter(Name=target)

    (by_user,) = wait_events(trail, "Username", user)
    assert by_user["EventName"] == "GetParameter"
    assert by_user["Username"] == user
    assert by_user["AccessKeyId"] == ak
    ev = ct_event(by_user)
    assert ev["errorCode"] == "AccessDeniedException"
    assert "not authorized" in ev["errorMessage"], ev["errorMessage"]
    assert ev["userIdentity"]["type"] == "IAMUser"
    assert ev["userIdentity"]["userName"] == user
    assert ev["userIdentity"]["arn"] == uarn
    assert ev["userIdentity"]["accessKeyId"] == ak
    assert ev["userIdentity"]["accountId"] == account(server)
    assert ev["requestParameters"]["Name"] == target

    by_key = wait_events(trail, "AccessKeyId", ak)
    assert [e["EventId"] for e in by_key] == [by_user["EventId"]]
    by_resource = wait_events(trail, "ResourceName", param_arn(server, target))
    assert [e["EventId"] for e in by_resource] == [by_user["EventId"]]
    # the events of root creating the user are root's, not the user's
    creations = wait_events(trail, "EventName", "CreateUser",
                            lambda e: ct_event(e)["requestParameters"].get("UserName") == user)
    assert creations[0]["Username"] == "root"


def test_assumed_role_session_is_the_username(server, trail, fresh):
    role = f"audit-role-{fresh.token}"
    rarn = role_arn(server, role)
    user = f"audit-assumer-{fresh.token}"
    ak, sk, uarn = make_user(server, user, policy(allow("sts:AssumeRole", rarn)))
    server.client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=trust(uarn))
    session = f"sess-{fresh.token}"
    creds = as_user(server, "sts", ak, sk).assume_role(RoleArn=rarn, RoleSessionName=session)["Credentials"]
    tak = creds["AccessKeyId"]
    as_user(server, "sts", tak, creds["SecretAccessKey"], creds["SessionToken"]).get_caller_identity()

    (assumed,) = wait_events(trail, "Username", session)
    assert assumed["EventName"] == "GetCallerIdentity"
    assert assumed["EventSource"] == "sts.amazonaws.com"
    assert assumed["AccessKeyId"] == tak
    ident = ct_event(assumed)["userIdentity"]
    assert ident["type"] == "AssumedRole"
    assert ident["arn"] == f"arn:aws:sts::{account(server)}:assumed-role/{role}/{session}"
    assert ident["accessKeyId"] == tak
    (assume,) = wait_events(trail, "Username", user, named("AssumeRole"))
    assert assume["EventSource"] == "sts.amazonaws.com"
    assert ct_event(assume)["requestParameters"]["RoleSessionName"] == session


def test_unknown_access_key_is_recorded(server, trail):
    bogus = "AKIA" + uuid.uuid4().hex[:16].upper()
    time.sleep(1.2)  # past any sampling window an earlier refusal opened
    with pytest.raises(ClientError) as ei:
        as_user(server, "ssm", bogus, "x" * 40).describe_parameters()
    assert 400 <= ei.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    (ev,) = wait_events(trail, "AccessKeyId", bogus)
    assert ev["EventName"] == "DescribeParameters"
    c = ct_event(ev)
    assert c["errorCode"] == ei.value.response["Error"]["Code"]
    assert c["recipientAccountId"] == account(server)


def test_iam_and_sts_calls_recorded(server, trail, fresh):
    user = f"audit-iam-{fresh.token}"
    server.client("iam").create_user(UserName=user)
    ident = server.client("sts").get_caller_identity()
    assert ident["Account"] == account(server)
    cli_user = f"audit-iamcli-{fresh.token}"
    server.aws("iam", "create-user", "--user-name", cli_user)

    (created,) = wait_events(trail, "EventName", "CreateUser",
                             lambda e: ct_event(e)["requestParameters"].get("UserName") == user)
    assert created["EventSource"] == "iam.amazonaws.com"
    assert created["Username"] == "root"
    assert created["ReadOnly"] == "false"
    c = ct_event(created)
    assert c["eventSource"] == "iam.amazonaws.com"
    assert c["userIdentity"]["type"] == "Root"
    assert "Boto3" in c["userAgent"]
    assert "errorCode" not in c

    (cli_created,) = wait_events(trail, "EventName", "CreateUser",
                                 lambda e: ct_event(e)["requestParameters"].get("UserName") == cli_user)
    assert "aws-cli" in ct_event(cli_created)["userAgent"]

    sts_events = wait_events(trail, "EventSource", "sts.amazonaws.com",
                             lambda e: e["EventName"] == "GetCallerIdentity" and e["Username"] == "root"
                             and ct_event(e)["eventTime"] >= c["eventTime"])
    s = ct_event(sts_events[0])
    assert sts_events[0]["ReadOnly"] == "true"
    assert s["eventSource"] == "sts.amazonaws.com"
    assert s["readOnly"] is True

    # a failing IAM call carries its error code
    with raises_aws("EntityAlreadyExists", status=409):
        server.client("iam").create_user(UserName=user)
    failed = wait_events(trail, "EventName", "CreateUser",
                         lambda e: ct_event(e)["requestParameters"].get("UserName") == user
                         and ct_event(e).get("errorCode") == "EntityAlreadyExists")
    assert failed[0]["EventId"] != created["EventId"]


# --------------------------------------------------------------------------- #
# LookupEvents: paging, time ranges, errors, authorization
# --------------------------------------------------------------------------- #


def test_paging_newest_first(server, trail, fresh):
    ssm = server.ssm()
    names = [fresh(f"page{i}") for i in range(7)]
    for n in names:
        ssm.put_parameter(Name=n, Value="v", Type="String")
    ours = lambda e: ct_event(e)["requestParameters"].get("Name") in names  # noqa: E731
    wait_events(trail, "EventName", "PutParameter", ours, count=len(names))

    pages: list[list[dict]] = []
    token = None
    args: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "PutParameter"}],
        "MaxResults": 2,
    }
    for _ in range(500):
        page = trail.lookup_events(**args, **({"NextToken": token} if token else {}))
        assert len(page["Events"]) <= 2
        pages.append(page["Events"])
        token = page.get("NextToken")
        if not token:
            break
    else:
        raise AssertionError("paging did not end")
    everything = [e for p in pages for e in p]
    assert all(e["EventName"] == "PutParameter" for e in everything)
    ids = [e["EventId"] for e in everything]
    assert len(ids) == len(set(ids)), "an event appeared on two pages"
    assert len(pages) >= 4, f"7+ events in pages of 2 need at least 4 pages, got {len(pages)}"
    assert all(len(p) == 2 for p in pages[:-1]), [len(p) for p in pages]
    times = [e["EventTime"] for e in everything]
    assert times == sorted(times, reverse=True), "events are not newest first"
    for a, b in zip(everything, everything[1:]):
        if a["EventTime"] != b["EventTime"]:
            assert ct_event(a)["seq"] > ct_event(b)["seq"], "a newer event has an older seq"
    mine = [ct_event(e)["requestParameters"]["Name"] for e in everything if ours(e)]
    assert mine == list(reversed(names))

    # the same through the aws CLI, which follows NextToken by itself
    cli = server.aws("cloudtrail", "lookup-events", "--lookup-attributes",
                     "AttributeKey=EventName,AttributeValue=PutParameter", "--page-size", "2")
    cli_mine = [json.loads(e["CloudTrailEvent"])["requestParameters"]["Name"] for e in cli["Events"]
                if json.loads(e["CloudTrailEvent"])["requestParameters"].get("Name") in names]
    assert cli_mine == list(reversed(names))


def test_time_range(server, trail, fresh):
    ssm = server.ssm()
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    names = [fresh(f"t{i}") for i in range(3)]
    for n in names:
        ssm.put_parameter(Name=n, Value="v", Type="String")
    end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)
    ours = lambda e: ct_event(e)["requestParameters"].get("Name") in names  # noqa: E731
    wait_events(trail, "EventName", "PutParameter", ours, count=3)

    inside = lookup_all(trail, "EventName", "PutParameter", StartTime=start, EndTime=end)
    assert sorted(ct_event(e)["requestParameters"]["Name"] for e in inside if ours(e)) == sorted(names)
    for e in inside:
        assert start - dt.timedelta(seconds=1) <= e["EventTime"] <= end + dt.timedelta(seconds=1), e["EventTime"]
    # without a filter too
    unfiltered = lookup_all(trail, StartTime=start, EndTime=end)
    assert len([e for e in unfiltered if e["EventName"] == "PutParameter" and ours(e)]) == 3

    past_start = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    past_end = dt.datetime(2000, 1, 2, tzinfo=dt.timezone.utc)
    assert lookup_all(trail, StartTime=past_start, EndTime=past_end) == []
    assert lookup_all(trail, "EventName", "PutParameter", StartTime=past_start, EndTime=past_end) == []
    later = end + dt.timedelta(days=1)
    assert [e for e in lookup_all(trail, StartTime=later) if ours(e)] == []
    # only an EndTime before the calls excludes them as well
    assert [e for e in lookup_all(trail, "EventName", "PutParameter", EndTime=past_end) if ours(e)] == []


def test_bad_max_results(server, trail):
    """MaxResults outside 1..50 is refused with HTTP 400 (the model check answers first)."""
    loose = server.client("cloudtrail", validate=False)
    for bad in (0, 51):
        with raises_aws("InvalidMaxResultsException", "ValidationException"):
            loose.lookup_events(MaxResults=bad)


def test_bad_lookups(server, trail):
    loose = server.client("cloudtrail", validate=False)
    with raises_aws("InvalidLookupAttributesException"):
        loose.lookup_events(LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": "PutParameter"},
            {"AttributeKey": "Username", "AttributeValue": "root"},
        ])
    now = dt.datetime.now(dt.timezone.utc)
    with raises_aws("InvalidTimeRangeException"):
        loose.lookup_events(StartTime=now, EndTime=now - dt.timedelta(hours=1))
    for garbage in ("garbage!!", "bm90LWEtdG9rZW4", base64.urlsafe_b64encode(b"audit/idx/999999999999/x").decode()):
        with raises_aws("InvalidNextTokenException"):
            loose.lookup_events(NextToken=garbage)
    # limits at the edges are fine
    assert len(trail.lookup_events(MaxResults=1)["Events"]) == 1
    assert len(trail.lookup_events(MaxResults=50)["Events"]) <= 50
    # failed lookups are events too
    wait_events(trail, "EventName", "LookupEvents",
                lambda e: ct_event(e).get("errorCode") == "InvalidTimeRangeException")


def test_lookup_authorization(server, trail, fresh):
    user = f"audit-noread-{fresh.token}"
    ak, sk, _ = make_user(server, user, policy(allow("ssm:GetParameter", "*")))
    with raises_aws("AccessDeniedException"):
        as_user(server, "cloudtrail", ak, sk).lookup_events()
    (denied,) = wait_events(trail, "Username", user, named("LookupEvents"))
    assert ct_event(denied)["errorCode"] == "AccessDeniedException"
    assert denied["EventSource"] == "cloudtrail.amazonaws.com"

    reader = f"audit-reader-{fresh.token}"
    rak, rsk, _ = make_user(server, reader, policy(allow("cloudtrail:LookupEvents", "*")))
    client = as_user(server, "cloudtrail", rak, rsk)
    acct = account(server)
    events = lookup_all(client)
    assert events, "the reader sees no events"
    assert {ct_event(e)["recipientAccountId"] for e in events} == {acct}
    # the reader sees the account's events, including the denied call of the other user
    seen = lookup_all(client, "Username", user)
    assert denied["EventId"] in [e["EventId"] for e in seen]
    # and its own lookups
    wait_events(client, "Username", reader, named("LookupEvents"))
    # the aws CLI as the reader works, the one without permission is refused
    assert server.aws("cloudtrail", "lookup-events", "--max-results", "3", "--no-paginate",
                      env=user_env(server, rak, rsk))["Events"]
    with pytest.raises(AwsCliError) as ei:
        server.aws("cloudtrail", "lookup-events", "--max-results", "1", env=user_env(server, ak, sk))
    assert "AccessDeniedException" in ei.value.stderr


# --------------------------------------------------------------------------- #
# the hash chain
# --------------------------------------------------------------------------- #


def test_verify_store_and_export(server, trail, fresh, tmp_path):
    server.ssm().put_parameter(Name=fresh("chain"), Value="v", Type="String")
    wait_events(trail, "ResourceName", param_arn(server, fresh("chain")))
    seq = newest_seq(trail)

    count, head = intact(audit_cmd(server, "verify"))
    assert count >= seq

    path, lines = export_lines(server, tmp_path)
    events = [json.loads(line) for line in lines]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert len(events) >= count
    n, last = intact(verify_file(server, path, expect_intact=True))
    assert n == len(lines)
    assert last == events[-1]["hash"]
    # the store's head then was an event of the export
    assert head in {e["hash"] for e in events}
    # the export to stdout is the same chain
    stdout = audit_cmd(server, "export").stdout.splitlines()
    assert stdout[: len(lines)] == lines
    assert len(lines) >= 5, "too few events to tamper with"

    mid = len(lines) // 2

    # an edited event
    edited = list(lines)
    ev = json.loads(edited[mid])
    ev["eventName"] = "DeleteParameter" if ev["eventName"] != "DeleteParameter" else "PutParameter"
    edited[mid] = compact(ev)
    bad = tmp_path / "edited.jsonl"
    bad.write_text("\n".join(edited) + "\n", encoding="utf-8")
    err = verify_file(server, bad, expect_intact=False).stderr
    assert f"broken at event {mid + 1}:" in err, err
    assert "altered" in err, err

    # a removed event
    removed = lines[:mid] + lines[mid + 1:]
    bad = tmp_path / "removed.jsonl"
    bad.write_text("\n".join(removed) + "\n", encoding="utf-8")
    err = verify_file(server, bad, expect_intact=False).stderr
    assert f"broken at event {mid + 1}:" in err, err
    assert "missing or reordered" in err or "does not link" in err, err

    # two events swapped
    swapped = list(lines)
    swapped[mid], swapped[mid + 1] = swapped[mid + 1], swapped[mid]
    bad = tmp_path / "swapped.jsonl"
    bad.write_text("\n".join(swapped) + "\n", encoding="utf-8")
    err = verify_file(server, bad, expect_intact=False).stderr
    assert f"broken at event {mid + 1}:" in err, err
    assert "missing or reordered" in err or "does not link" in err, err

    # an edit that re-hashes the event itself still breaks the next link
    rehashed = list(lines)
    ev = json.loads(rehashed[mid])
    ev["eventName"] = "Forged"
    ev["hash"] = link_hash(ev["prevHash"], ev)
    rehashed[mid] = compact(ev)
    bad = tmp_path / "rehashed.jsonl"
    bad.write_text("\n".join(rehashed) + "\n", encoding="utf-8")
    err = verify_file(server, bad, expect_intact=False).stderr
    assert f"broken at event {mid + 2}:" in err, err
    assert "does not link" in err, err

    # a tail of the export (starting mid-chain) still verifies
    tail = tmp_path / "tail.jsonl"
    tail.write_text("\n".join(lines[mid:]) + "\n", encoding="utf-8")
    n, last = intact(verify_file(server, tail, expect_intact=True))
    assert n == len(lines) - mid and last == events[-1]["hash"]


def test_chain_links_recomputed(server, trail, tmp_path):
    _, lines = export_lines(server, tmp_path)
    events = [json.loads(line) for line in lines]
    assert events[0]["seq"] == 1
    assert events[0]["prevHash"] == GENESIS
    prev = GENESIS
    for i, ev in enumerate(events):
        assert ev["seq"] == i + 1
        assert ev["prevHash"] == prev, f"event {ev['seq']} does not link"
        assert list(ev)[-1] == "hash", f"event {ev['seq']}: hash is not the last key"
        assert link_hash(prev, ev) == ev["hash"], f"event {ev['seq']}: hash does not match"
        prev = ev["hash"]
    # what LookupEvents returns is the stored event itself
    latest = trail.lookup_events(MaxResults=5)["Events"]
    by_seq = {e["seq"]: e for e in events}
    for res in latest:
        c = ct_event(res)
        if c["seq"] in by_seq:
            assert c == by_seq[c["seq"]]
        assert link_hash(c["prevHash"], c) == c["hash"]


# --------------------------------------------------------------------------- #
# blob-store copies
# --------------------------------------------------------------------------- #

BLOB_RE = re.compile(r"^(\d{20})-(\d{20})\.jsonl$")


def blob_files(server) -> list[tuple[int, int, Path]]:
    root = server.data_dir / "blobs" / "steward-audit"
    if not root.is_dir():
        return []
    out = []
    for path in root.iterdir():
        m = BLOB_RE.match(path.name)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), path))
    return sorted(out)


def wait_blobs_cover(server, seq: int, timeout: float = 20) -> list[tuple[int, int, Path]]:
    return wait_until(
        lambda: (lambda files: files if files and files[-1][1] >= seq else None)(blob_files(server)),
        timeout,
        f"blob-store copies of the audit trail up to seq {seq}",
    )


def test_blob_store_copies(server, trail, fresh, tmp_path):
    server.ssm().put_parameter(Name=fresh("blob"), Value="v", Type="String")
    (ev,) = wait_events(trail, "ResourceName", param_arn(server, fresh("blob")))
    seq = ct_event(ev)["seq"]
    files = wait_blobs_cover(server, seq)

    # contiguous from seq 1, each file holding exactly its range
    expected_first = 1
    joined: list[str] = []
    for first, last, path in files:
        assert first == expected_first, f"blob copies skip from {expected_first} to {first}: {path.name}"
        assert last >= first
        lines = path.read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["seq"] for line in lines] == list(range(first, last + 1)), path.name
        joined.extend(lines)
        expected_first = last + 1

    whole = tmp_path / "blobs.jsonl"
    whole.write_text("\n".join(joined) + "\n", encoding="utf-8")
    n, last_hash = intact(verify_file(server, whole, expect_intact=True))
    assert n == len(joined) >= seq

    # the copies are the store's events
    _, exported = export_lines(server, tmp_path)
    assert len(exported) >= len(joined)
    for copy, stored in zip(joined, exported):
        assert json.loads(copy) == json.loads(stored)
    assert json.loads(exported[len(joined) - 1])["hash"] == last_hash

    # newer events are copied in later files
    server.ssm().put_parameter(Name=fresh("blob2"), Value="v", Type="String")
    (ev2,) = wait_events(trail, "ResourceName", param_arn(server, fresh("blob2")))
    later = wait_blobs_cover(server, ct_event(ev2)["seq"])
    assert len(later) > len(files)
    assert later[: len(files)] == files


# --------------------------------------------------------------------------- #
# signed digest files
# --------------------------------------------------------------------------- #

DIGESTS_RE = re.compile(r"^digests: (\d+) intact, signed by key ([0-9a-f]+), covering events (\d+) to (\d+)$", re.M)


def digest_dir(server) -> Path:
    return server.data_dir / "blobs" / "steward-audit-digest"


def wait_digests_cover(server, seq: int) -> re.Match:
    """Waits until `steward audit verify` reports intact digests reaching `seq`."""
    def probe():
        m = DIGESTS_RE.search(audit_cmd(server, "verify").stdout)
        return m if m and int(m.group(4)) >= seq else None
    return wait_until(probe, 30, f"signed digests covering event {seq}")


def test_digests_are_signed_and_catch_tampering_outside_the_store(server, trail, fresh, tmp_path):
    """Each export gets a CloudTrail-style digest signed with the server's RSA key; verify
    walks them back from the newest and finds an edited export file, an edited digest, a
    forged signature and a deleted digest — each named in its refusal."""
    server.ssm().put_parameter(Name=fresh("digest"), Value="v", Type="String")
    (ev,) = wait_events(trail, "ResourceName", param_arn(server, fresh("digest")))
    m = wait_digests_cover(server, ct_event(ev)["seq"])
    assert int(m.group(1)) >= 1 and int(m.group(3)) >= 1

    digests = sorted(p for p in digest_dir(server).iterdir() if p.suffix == ".json")
    newest = json.loads(digests[-1].read_text())
    assert newest["digestSignatureAlgorithm"] == "SHA256withRSA"
    assert newest["digestPublicKeyFingerprint"] == m.group(2)
    (log,) = newest["logFiles"]
    export = server.data_dir / "blobs" / "steward-audit" / log["s3Object"]
    assert hashlib.sha256(export.read_bytes()).hexdigest() == log["hashValue"]
    if len(digests) > 1:
        previous = digests[-2]
        assert newest["previousDigestS3Object"] == previous.name
        assert newest["previousDigestHashValue"] == hashlib.sha256(previous.read_bytes()).hexdigest()

    def refused(why: str) -> None:
        proc = audit_cmd(server, "verify", check=False)
        assert proc.returncode != 0, f"verify accepted a tampered trail: {proc.stdout}"
        assert why in proc.stderr, proc.stderr

    # Nothing calls the API from here on, so no export moves the head while files are edited.
    original = export.read_bytes()
    lines = original.decode().splitlines(keepends=True)
    edited = json.loads(lines[0])
    edited["eventName"] = "Tampered"
    export.write_bytes((json.dumps(edited, separators=(",", ":")) + "\n").encode() + "".join(lines[1:]).encode())
    refused(f"export file {export.name} was altered")
    export.write_bytes(original)

    digest_path = digest_dir(server) / newest["digestS3Object"]
    sig_path = digest_path.with_name(digest_path.name + ".sig")
    digest_bytes, sig = digest_path.read_bytes(), sig_path.read_text()
    # A digest rewritten with a consistent hash needs a signature only the server can make.
    forged = sig[:-2] + ("00" if not sig.endswith("00") else "11")
    sig_path.write_text(forged)
    refused(f"digest {digest_path.name}")
    sig_path.write_text(sig)

    digest_path.write_bytes(digest_bytes.replace(b"SHA256withRSA", b"SHA256withRSB"))
    refused(f"digest {digest_path.name}")
    digest_path.write_bytes(digest_bytes)

    if len(digests) > 1:
        older = digests[-2]
        kept = older.read_bytes()
        older.unlink()
        refused(f"digest {older.name} is missing")
        older.write_bytes(kept)

    assert DIGESTS_RE.search(audit_cmd(server, "verify").stdout), "restored, the trail verifies again"
