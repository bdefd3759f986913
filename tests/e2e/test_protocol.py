"""Wire protocol: AWS JSON 1.1 over POST /, SigV4, error shapes, --dev mode."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import subprocess
from unittest import mock

import botocore.auth
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import free_port, raises_aws, steward_bin

JSON_11 = "application/x-amz-json-1.1"
SIGNATURE_ERRORS = ("UnrecognizedClientException", "InvalidSignatureException")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def call(
    server,
    target: str | None,
    body=None,
    *,
    access_key: str | None = None,
    secret_key: str | None = None,
    sign: bool = True,
    when: dt.datetime | None = None,
    send_body: bytes | None = None,
    headers: dict | None = None,
    service: str | None = None,
) -> requests.Response:
    """POST a JSON 1.1 request to the server, SigV4-signed unless ``sign=False``.

    ``body`` is a dict (JSON-encoded), str or bytes.  ``when`` overrides the
    signing time.  ``send_body`` replaces the body after signing.
    """
    if body is None:
        data = b"{}"
    elif isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body
    hdrs = {"Content-Type": JSON_11}
    if target is not None:
        hdrs["X-Amz-Target"] = target
    hdrs.update(headers or {})
    req = AWSRequest(method="POST", url=server.url + "/", data=data, headers=hdrs)
    if sign:
        if service is None:
            service = "kms" if (target or "").startswith("TrentService.") else "ssm"
        creds = Credentials(access_key or server.access_key, secret_key or server.secret_key)
        signer = SigV4Auth(creds, service, server.region)
        if when is not None:
            with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: when):
                signer.add_auth(req)
        else:
            signer.add_auth(req)
    prepared = req.prepare()
    return requests.post(
        prepared.url,
        data=send_body if send_body is not None else prepared.body,
        headers=dict(prepared.headers.items()),
        timeout=30,
    )


def check_error(resp: requests.Response, *codes: str, status: int = 400) -> dict:
    assert resp.status_code == status, f"HTTP {resp.status_code}: {resp.text[:500]}"
    assert resp.headers.get("x-amzn-RequestId"), "error response lacks x-amzn-RequestId"
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.startswith(JSON_11), f"error Content-Type is {ctype!r}"
    body = resp.json()
    assert isinstance(body, dict), body
    assert set(body) >= {"__type", "message"}, f"error body keys: {sorted(body)}"
    code = body["__type"].split("#")[-1]
    assert code in codes, f"expected {codes}, got {body}"
    # KMS, like AWS, may send an empty message (InvalidCiphertextException); the key must be there
    assert isinstance(body["message"], str), body
    header = resp.headers.get("x-amzn-ErrorType")
    assert header, "error response lacks x-amzn-ErrorType"
    assert header.split(":")[0].split("#")[-1] == code, (header, code)
    return body


def check_ok(resp: requests.Response) -> dict:
    assert resp.status_code == 200, f"HTTP {resp.status_code}: {resp.text[:500]}"
    assert resp.headers.get("x-amzn-RequestId")
    assert resp.headers.get("Content-Type", "").startswith(JSON_11)
    return resp.json()


@pytest.fixture(scope="module")
def seeded(server):
    name = "/e2e-protocol/" + secrets.token_hex(4)
    server.ssm().put_parameter(Name=name, Value="wire-value", Type="String")
    return name


# --------------------------------------------------------------------------- #
# happy path
# --------------------------------------------------------------------------- #


def test_signed_ssm_request(server, seeded):
    body = check_ok(call(server, "AmazonSSM.GetParameter", {"Name": seeded}))
    assert body["Parameter"]["Value"] == "wire-value"
    assert body["Parameter"]["Name"] == seeded


def test_signed_kms_request(server):
    body = check_ok(call(server, "TrentService.ListKeys", {}))
    assert isinstance(body["Keys"], list)


def test_request_ids_are_unique(server, seeded):
    ids = {call(server, "AmazonSSM.GetParameter", {"Name": seeded}).headers["x-amzn-RequestId"] for _ in range(5)}
    assert len(ids) == 5


def test_healthz(server):
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200


def test_boto_sees_request_id(server, seeded):
    out = server.ssm().get_parameter(Name=seeded)
    assert out["ResponseMetadata"]["RequestId"]


# --------------------------------------------------------------------------- #
# authentication
# --------------------------------------------------------------------------- #


def test_wrong_secret(server, seeded):
    resp = call(server, "AmazonSSM.GetParameter", {"Name": seeded}, secret_key="wrong" + server.secret_key)
    check_error(resp, *SIGNATURE_ERRORS)


def test_wrong_secret_boto(server, seeded):
    bad = server.ssm(secret_key="x" * 40)
    with raises_aws(*SIGNATURE_ERRORS):
        bad.get_parameter(Name=seeded)
    bad_kms = server.kms(secret_key="x" * 40)
    with raises_aws(*SIGNATURE_ERRORS):
        bad_kms.list_keys()


def test_unknown_access_key(server, seeded):
    resp = call(server, "AmazonSSM.GetParameter", {"Name": seeded}, access_key="AKIAE2EUNKNOWNKEY000")
    check_error(resp, *SIGNATURE_ERRORS)


def test_body_changed_after_signing(server, seeded):
    resp = call(
        server,
        "AmazonSSM.GetParameter",
        {"Name": seeded},
        send_body=json.dumps({"Name": seeded + "x"}).encode(),
    )
    check_error(resp, *SIGNATURE_ERRORS)


def test_unsigned_payload_is_refused(server, seeded):
    """A request signed with UNSIGNED-PAYLOAD would let anyone holding one signed request
    send its headers with any body: the JSON API refuses it, whatever the body."""
    unsigned = {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    with mock.patch.object(SigV4Auth, "payload", lambda self, request: "UNSIGNED-PAYLOAD"):
        for body in (None, json.dumps({"Name": seeded, "Value": "replaced", "Overwrite": True}).encode()):
            resp = call(server, "AmazonSSM.GetParameter", {"Name": seeded}, headers=unsigned, send_body=body)
            error = check_error(resp, "InvalidSignatureException")
            assert "UNSIGNED-PAYLOAD" in error["message"]
    assert server.ssm().get_parameter(Name=seeded)["Parameter"]["Value"] == "wire-value"


def test_stale_date(server, seeded):
    when = _utcnow() - dt.timedelta(minutes=20)
    body = check_error(call(server, "AmazonSSM.GetParameter", {"Name": seeded}, when=when), "InvalidSignatureException")
    assert "expired" in body["message"].lower(), body


def test_future_date(server, seeded):
    when = _utcnow() + dt.timedelta(minutes=20)
    check_error(call(server, "AmazonSSM.GetParameter", {"Name": seeded}, when=when), "InvalidSignatureException")


def test_slightly_skewed_date_accepted(server, seeded):
    when = _utcnow() - dt.timedelta(minutes=3)
    check_ok(call(server, "AmazonSSM.GetParameter", {"Name": seeded}, when=when))


def test_missing_authorization(server, seeded):
    resp = call(server, "AmazonSSM.GetParameter", {"Name": seeded}, sign=False)
    check_error(resp, "MissingAuthenticationTokenException")


def test_garbage_authorization(server, seeded):
    resp = call(
        server,
        "AmazonSSM.GetParameter",
        {"Name": seeded},
        sign=False,
        headers={"Authorization": "AWS4-HMAC-SHA256 this is not a signature", "X-Amz-Date": "20200101T000000Z"},
    )
    check_error(
        resp,
        "IncompleteSignatureException",
        "InvalidSignatureException",
        "MissingAuthenticationTokenException",
        "UnrecognizedClientException",
    )


# --------------------------------------------------------------------------- #
# request decoding
# --------------------------------------------------------------------------- #


def test_malformed_json(server):
    check_error(call(server, "AmazonSSM.GetParameter", '{"Name": "/x",'), "SerializationException")
    check_error(call(server, "TrentService.ListKeys", "{nope"), "SerializationException")


def test_unknown_operation(server):
    check_error(call(server, "AmazonSSM.NoSuchOperation", {}), "UnknownOperationException")
    check_error(call(server, "TrentService.NoSuchOperation", {}), "UnknownOperationException")
    check_error(call(server, "TrentService.GetParameter", {"Name": "/x"}), "UnknownOperationException")
    check_error(call(server, "NotAService.GetParameter", {"Name": "/x"}), "UnknownOperationException")


def test_missing_target(server):
    check_error(call(server, None, {}), "UnknownOperationException", "MissingAction", "InvalidAction")


@pytest.mark.parametrize(
    "target,body,codes",
    [
        ("AmazonSSM.GetParameter", {"Name": 123}, ("SerializationException", "ValidationException")),
        ("AmazonSSM.GetParameter", {"Name": {"nested": True}}, ("SerializationException", "ValidationException")),
        ("AmazonSSM.GetParameter", {}, ("ValidationException",)),
        ("AmazonSSM.GetParameter", {"Name": None}, ("ValidationException", "SerializationException")),
        ("AmazonSSM.GetParameter", "[1, 2]", ("SerializationException", "ValidationException")),
        ("AmazonSSM.GetParameter", "", ("SerializationException", "ValidationException")),
        ("AmazonSSM.GetParameter", b"\xff\xfe\x00garbage", ("SerializationException",)),
        ("AmazonSSM.GetParameter", {"Name": "x" * 5000}, ("ValidationException",)),
        ("AmazonSSM.GetParameters", {"Names": "not-a-list"}, ("SerializationException", "ValidationException")),
        (
            "AmazonSSM.PutParameter",
            {"Name": "/e2e-wire/x", "Value": "v", "Type": "String", "Overwrite": "yes"},
            ("SerializationException", "ValidationException"),
        ),
        (
            "AmazonSSM.PutParameter",
            {"Name": "/e2e-wire/x", "Value": 17, "Type": "String"},
            ("SerializationException", "ValidationException"),
        ),
        (
            "AmazonSSM.GetParametersByPath",
            {"Path": "/x", "MaxResults": "ten"},
            ("SerializationException", "ValidationException"),
        ),
        (
            "AmazonSSM.DescribeParameters",
            {"ParameterFilters": [{"Values": ["x"]}]},
            ("ValidationException", "SerializationException"),
        ),
        ("TrentService.Encrypt", {"KeyId": "alias/x", "Plaintext": "!!!not base64!!!"}, ("SerializationException", "ValidationException")),
        ("TrentService.Decrypt", {"CiphertextBlob": base64.b64encode(b"\x00" * 40).decode()}, ("InvalidCiphertextException",)),
        ("TrentService.DescribeKey", {}, ("ValidationException",)),
        ("TrentService.CreateKey", {"KeyUsage": "MAKE_COFFEE"}, ("ValidationException",)),
    ],
    ids=[
        "name-number",
        "name-object",
        "name-missing",
        "name-null",
        "body-array",
        "body-empty",
        "body-not-utf8",
        "name-too-long",
        "names-not-list",
        "overwrite-string",
        "value-number",
        "maxresults-string",
        "filter-without-key",
        "plaintext-not-base64",
        "decrypt-garbage",
        "describe-key-no-keyid",
        "create-key-bad-usage",
    ],
)
def test_bad_input_is_400(server, target, body, codes):
    check_error(call(server, target, body), *codes)


def test_get_on_root_is_not_a_server_error(server):
    resp = requests.get(server.url + "/", timeout=10)
    assert resp.status_code < 500, resp.status_code


# --------------------------------------------------------------------------- #
# --dev
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def dev_server(server_factory):
    return server_factory(dev=True)


def test_dev_mode_accepts_made_up_key(dev_server):
    made_up_key, made_up_secret = "AKIAE2EMADEUPKEY0001", secrets.token_urlsafe(30)
    resp = call(
        dev_server, "AmazonSSM.DescribeParameters", {}, access_key=made_up_key, secret_key=made_up_secret
    )
    check_ok(resp)

    ssm = dev_server.ssm(access_key="AKIAE2EMADEUPKEY0002", secret_key="anything-goes")
    name = "/e2e-dev/" + secrets.token_hex(4)
    ssm.put_parameter(Name=name, Value="dev", Type="SecureString")
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "dev"
    kms = dev_server.kms(access_key="AKIAE2EMADEUPKEY0003", secret_key="whatever")
    assert "Keys" in kms.list_keys()


def test_dev_mode_still_requires_a_signature(dev_server):
    check_error(call(dev_server, "AmazonSSM.DescribeParameters", {}, sign=False), "MissingAuthenticationTokenException")


@pytest.mark.parametrize("address", ["0.0.0.0", "[::]"])
def test_dev_mode_refuses_a_reachable_address(tmp_path, address):
    proc = subprocess.run(
        [str(steward_bin()), "server", "--dev", "--data-dir", str(tmp_path / "data"),
         "--listen", f"{address}:{free_port()}"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "--dev accepts unchecked keys, so it listens on loopback only" in proc.stderr, proc.stderr


def test_non_dev_rejects_made_up_key(server):
    resp = call(server, "AmazonSSM.DescribeParameters", {}, access_key="AKIAE2EMADEUPKEY0001", secret_key="nope")
    check_error(resp, *SIGNATURE_ERRORS)
