"""IAM users, groups, policies and roles, STS, and policy-based authorization of SSM
and KMS calls, through boto3 and the aws CLI.

The harness credentials are the account root (allowed everything).  Every test makes its
own users, groups, roles and policies with unique names, and keeps its parameters under
its own ``fresh`` prefix, because the module's server is shared by all tests.  Policy
changes take effect immediately in Steward, so nothing here sleeps.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import AwsCliError, collect, error_code, error_status, raises_aws

AKIA_RE = re.compile(r"^AKIA[A-Z0-9]{16}$")
ASIA_RE = re.compile(r"^ASIA[A-Z0-9]{12,}$")
BAD_KEY_CODES = ("UnrecognizedClientException", "InvalidClientTokenId")


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def uid() -> str:
    return uuid.uuid4().hex[:8]


def account(server) -> str:
    return server.admin.get("STEWARD_ACCOUNT_ID") or server.account_id


def user_arn(server, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{account(server)}:user{path}{name}"


def role_arn(server, name: str) -> str:
    return f"arn:aws:iam::{account(server)}:role/{name}"


def policy_arn(server, name: str) -> str:
    return f"arn:aws:iam::{account(server)}:policy/{name}"


def assumed_arn(server, role: str, session: str) -> str:
    return f"arn:aws:sts::{account(server)}:assumed-role/{role}/{session}"


def param_arn(server, name: str) -> str:
    return f"arn:aws:ssm:{server.region}:{account(server)}:parameter/{name.lstrip('/')}"


def key_arn(server, key_id: str) -> str:
    return f"arn:aws:kms:{server.region}:{account(server)}:key/{key_id}"


def stmt(effect: str, actions, resources, condition: dict | None = None) -> dict:
    s: dict[str, Any] = {"Effect": effect, "Action": actions, "Resource": resources}
    if condition:
        s["Condition"] = condition
    return s


def allow(actions, resources, condition: dict | None = None) -> dict:
    return stmt("Allow", actions, resources, condition)


def deny(actions, resources, condition: dict | None = None) -> dict:
    return stmt("Deny", actions, resources, condition)


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(*principals: str) -> str:
    """A role trust policy letting ``principals`` (ARNs) call sts:AssumeRole."""
    who: Any = principals[0] if len(principals) == 1 else list(principals)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": who}, "Action": "sts:AssumeRole"}],
        }
    )


def iam(server, validate: bool = True):
    return server.client("iam", validate=validate)


def as_user(server, service: str, ak: str, sk: str, token: str | None = None):
    """A boto3 client signing with the given (possibly temporary) credentials."""
    return boto3.session.Session(
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        aws_session_token=token,
        region_name=server.region,
    ).client(
        service,
        endpoint_url=server.url,
        verify=str(server.ca_path) if server.tls else None,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        ),
    )


def user_env(server, ak: str, sk: str, token: str | None = None) -> dict[str, str]:
    """Environment for the aws CLI acting as another principal."""
    env = server.env()
    env["AWS_ACCESS_KEY_ID"] = ak
    env["AWS_SECRET_ACCESS_KEY"] = sk
    env.pop("AWS_SESSION_TOKEN", None)
    if token:
        env["AWS_SESSION_TOKEN"] = token
    return env


def cli_fails(server, code: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Runs the aws CLI expecting an error with ``code``; returns its stderr."""
    with pytest.raises(AwsCliError) as ei:
        server.aws(*args, env=env)
    stderr = ei.value.stderr
    assert f"({code})" in stderr, f"expected ({code}) in aws CLI output: {stderr}"
    return stderr


def create_policy(server, doc: str, name: str | None = None) -> str:
    """A new managed policy (as root); returns its ARN."""
    name = name or f"e2e-pol-{uid()}"
    return iam(server).create_policy(PolicyName=name, PolicyDocument=doc)["Policy"]["Arn"]


def attach_new_policy(server, user: str, doc: str) -> str:
    arn = create_policy(server, doc, f"{user}-{uid()}")
    iam(server).attach_user_policy(UserName=user, PolicyArn=arn)
    return arn


def make_user(
    server,
    name: str,
    policy_doc: str | dict | None = None,
    *,
    path: str = "/",
    tags: dict[str, str] | None = None,
) -> tuple[str, str, str]:
    """Creates (as root) the user, optionally a managed policy attached to it, and an
    access key; returns ``(access_key_id, secret_access_key, user_arn)``."""
    client = iam(server)
    args: dict[str, Any] = {"UserName": name, "Path": path}
    if tags:
        args["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    arn = client.create_user(**args)["User"]["Arn"]
    assert arn == user_arn(server, name, path)
    if policy_doc is not None:
        doc = policy_doc if isinstance(policy_doc, str) else json.dumps(policy_doc)
        attach_new_policy(server, name, doc)
    key = client.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"], arn


def denial(principal: str, action: str, resource: str, *, explicit: bool = False) -> str:
    head = f"User: {principal} is not authorized to perform: {action} on resource: {resource}"
    if explicit:
        return f"{head} with an explicit deny in an identity-based policy"
    return f"{head} because no identity-based policy allows the {action} action"


def assert_denied(
    call: Callable[[], Any], principal: str, action: str, resource: str | None, *, explicit: bool = False
) -> ClientError:
    """``call`` fails with AccessDeniedException (HTTP 400) and, when ``resource`` is
    given, exactly IAM's message."""
    with raises_aws("AccessDeniedException") as ei:
        call()
    if resource is not None:
        msg = ei.value.response["Error"].get("Message", "")
        assert msg == denial(principal, action, resource, explicit=explicit)
    return ei.value


def assert_bad_credentials(call: Callable[[], Any], codes: tuple[str, ...] | None = BAD_KEY_CODES) -> ClientError:
    """``call`` is refused for its credentials: a 4xx ClientError (code in ``codes`` if given)."""
    with pytest.raises(ClientError) as ei:
        call()
    code, status = error_code(ei.value), error_status(ei.value)
    assert 400 <= status < 500, f"expected a 4xx, got {status} ({code})"
    if codes:
        assert code in codes, f"expected one of {codes}, got {code} (HTTP {status})"
    return ei.value


def decoded(doc: Any) -> dict:
    """A policy document from an IAM answer.  IAM percent-encodes documents (RFC 3986:
    a space is %20) and botocore decodes them with ``unquote`` + ``json.loads``; a string
    here means botocore could not decode what the server sent."""
    assert isinstance(doc, dict), f"policy document not decodable by botocore (expected %20, not +): {doc!r}"
    return doc


def put(ssm, name: str, value: str = "v", **kw) -> None:
    ssm.put_parameter(Name=name, Value=value, Type="String", **kw)


def by_path(ssm, path: str, **kw) -> list[dict]:
    return collect(ssm.get_parameters_by_path, "Parameters", Path=path, **kw)


# --------------------------------------------------------------------------- #
# 1. users
# --------------------------------------------------------------------------- #


def test_users_lifecycle_cli(server, fresh):
    name = f"cli-{fresh.token}"
    created = server.aws(
        "iam", "create-user", "--user-name", name, "--path", "/dev/", "--tags", "Key=team,Value=blue"
    )["User"]
    arn = f"arn:aws:iam::{account(server)}:user/dev/{name}"
    assert created["UserName"] == name
    assert created["Path"] == "/dev/"
    assert created["Arn"] == arn
    assert created["UserId"]
    assert "CreateDate" in created

    got = server.aws("iam", "get-user", "--user-name", name)["User"]
    assert (got["UserName"], got["Path"], got["Arn"], got["UserId"]) == (name, "/dev/", arn, created["UserId"])
    assert got.get("Tags") == [{"Key": "team", "Value": "blue"}]

    under_dev = server.aws("iam", "list-users", "--path-prefix", "/dev/")["Users"]
    assert name in {u["UserName"] for u in under_dev}
    assert all(u["Path"].startswith("/dev/") for u in under_dev)
    everyone = server.aws("iam", "list-users")["Users"]
    assert arn in {u["Arn"] for u in everyone}
    elsewhere = server.aws("iam", "list-users", "--path-prefix", f"/{fresh.token}-none/")["Users"]
    assert elsewhere == []

    cli_fails(server, "EntityAlreadyExists", "iam", "create-user", "--user-name", name)
    with raises_aws("EntityAlreadyExists", status=409):
        iam(server).create_user(UserName=name)

    missing = f"missing-{fresh.token}"
    cli_fails(server, "NoSuchEntity", "iam", "get-user", "--user-name", missing)
    with raises_aws("NoSuchEntity", status=404):
        iam(server).get_user(UserName=missing)

    raw = iam(server, validate=False)
    for bad in ("bad name!", "x" * 65):
        cli_fails(server, "ValidationError", "iam", "create-user", "--user-name", bad)
        with raises_aws("ValidationError", status=400):
            raw.create_user(UserName=bad)
    # 64 characters is still fine
    longest = (f"l-{fresh.token}-" + "y" * 64)[:64]
    assert iam(server).create_user(UserName=longest)["User"]["UserName"] == longest

    assert server.aws("iam", "delete-user", "--user-name", name) is None
    cli_fails(server, "NoSuchEntity", "iam", "get-user", "--user-name", name)
    assert name not in {u["UserName"] for u in server.aws("iam", "list-users")["Users"]}
    with raises_aws("NoSuchEntity", status=404):
        iam(server).delete_user(UserName=name)


def test_list_users_paging(server, fresh):
    client = iam(server)
    path = f"/{fresh.token}/"
    names = sorted(f"pg{i}-{fresh.token}" for i in range(3))
    for n in names:
        client.create_user(UserName=n, Path=path)
    first = client.list_users(PathPrefix=path, MaxItems=1)
    assert len(first["Users"]) == 1
    assert first["IsTruncated"] is True
    assert first["Marker"]
    got = collect(client.list_users, "Users", token_in="Marker", token_out="Marker", PathPrefix=path, MaxItems=1)
    assert sorted(u["UserName"] for u in got) == names
    whole = client.list_users(PathPrefix=path, MaxItems=10)
    assert sorted(u["UserName"] for u in whole["Users"]) == names
    assert not whole.get("IsTruncated")


# --------------------------------------------------------------------------- #
# 2. access keys
# --------------------------------------------------------------------------- #


def test_access_keys(server, fresh):
    client = iam(server)
    name = f"keys-{fresh.token}"
    arn = user_arn(server, name)
    client.create_user(UserName=name)

    k1 = server.aws("iam", "create-access-key", "--user-name", name)["AccessKey"]
    k2 = server.aws("iam", "create-access-key", "--user-name", name)["AccessKey"]
    for k in (k1, k2):
        assert AKIA_RE.match(k["AccessKeyId"]), k["AccessKeyId"]
        assert len(k["SecretAccessKey"]) == 40
        assert k["Status"] == "Active"
        assert k["UserName"] == name
    assert k1["AccessKeyId"] != k2["AccessKeyId"]
    assert k1["SecretAccessKey"] != k2["SecretAccessKey"]

    with raises_aws("LimitExceeded", status=409):
        client.create_access_key(UserName=name)

    listed = server.aws("iam", "list-access-keys", "--user-name", name)["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted([k1["AccessKeyId"], k2["AccessKeyId"]])
    for k in listed:
        assert "SecretAccessKey" not in k
        assert k["Status"] == "Active"
        assert k["UserName"] == name
    assert k1["SecretAccessKey"] not in json.dumps(listed, default=str)

    # a new key identifies as its user
    ident = server.aws("sts", "get-caller-identity", env=user_env(server, k1["AccessKeyId"], k1["SecretAccessKey"]))
    assert ident["Arn"] == arn
    assert ident["Account"] == account(server)
    assert ident["UserId"] == client.get_user(UserName=name)["User"]["UserId"]

    sts1 = as_user(server, "sts", k1["AccessKeyId"], k1["SecretAccessKey"])
    ssm1 = as_user(server, "ssm", k1["AccessKeyId"], k1["SecretAccessKey"])
    sts2 = as_user(server, "sts", k2["AccessKeyId"], k2["SecretAccessKey"])
    assert sts1.get_caller_identity()["Arn"] == arn

    # inactive keys are refused; the other key keeps working
    server.aws(
        "iam", "update-access-key", "--user-name", name, "--access-key-id", k1["AccessKeyId"], "--status", "Inactive"
    )
    status = {k["AccessKeyId"]: k["Status"] for k in client.list_access_keys(UserName=name)["AccessKeyMetadata"]}
    assert status == {k1["AccessKeyId"]: "Inactive", k2["AccessKeyId"]: "Active"}
    assert_bad_credentials(sts1.get_caller_identity)
    assert_bad_credentials(lambda: ssm1.get_parameter(Name=fresh("any")))
    assert sts2.get_caller_identity()["Arn"] == arn

    client.update_access_key(UserName=name, AccessKeyId=k1["AccessKeyId"], Status="Active")
    assert sts1.get_caller_identity()["Arn"] == arn

    # deleted keys are refused
    server.aws("iam", "delete-access-key", "--user-name", name, "--access-key-id", k1["AccessKeyId"])
    assert_bad_credentials(sts1.get_caller_identity)
    remaining = client.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in remaining] == [k2["AccessKeyId"]]

    # a user with keys cannot be deleted
    cli_fails(server, "DeleteConflict", "iam", "delete-user", "--user-name", name)
    with raises_aws("DeleteConflict", status=409):
        client.delete_user(UserName=name)
    client.delete_access_key(UserName=name, AccessKeyId=k2["AccessKeyId"])
    assert client.list_access_keys(UserName=name)["AccessKeyMetadata"] == []
    assert_bad_credentials(sts2.get_caller_identity)
    client.delete_user(UserName=name)
    with raises_aws("NoSuchEntity", status=404):
        client.get_user(UserName=name)
    with raises_aws("NoSuchEntity", status=404):
        client.create_access_key(UserName=name)


def test_delete_user_conflicts(server, fresh):
    client = iam(server)
    pol = create_policy(server, policy(allow("ssm:GetParameter", "*")))
    doc = policy(allow("ssm:GetParameter", "*"))
    group = f"dc-grp-{fresh.token}"
    client.create_group(GroupName=group)

    def add(kind: str, user: str) -> None:
        if kind == "attached":
            client.attach_user_policy(UserName=user, PolicyArn=pol)
        elif kind == "inline":
            client.put_user_policy(UserName=user, PolicyName="inline", PolicyDocument=doc)
        else:
            client.add_user_to_group(GroupName=group, UserName=user)

    def remove(kind: str, user: str) -> None:
        if kind == "attached":
            client.detach_user_policy(UserName=user, PolicyArn=pol)
        elif kind == "inline":
            client.delete_user_policy(UserName=user, PolicyName="inline")
        else:
            client.remove_user_from_group(GroupName=group, UserName=user)

    for kind in ("attached", "inline", "group"):
        user = f"dc-{kind}-{fresh.token}"
        client.create_user(UserName=user)
        add(kind, user)
        with raises_aws("DeleteConflict", status=409):
            client.delete_user(UserName=user)
        client.get_user(UserName=user)  # still there
        remove(kind, user)
        client.delete_user(UserName=user)
        with raises_aws("NoSuchEntity", status=404):
            client.get_user(UserName=user)

    missing = f"dc-missing-{fresh.token}"
    with raises_aws("NoSuchEntity", status=404):
        client.attach_user_policy(UserName=missing, PolicyArn=pol)
    with raises_aws("NoSuchEntity", status=404):
        client.add_user_to_group(GroupName=group, UserName=missing)
    with raises_aws("NoSuchEntity", status=404):
        client.put_user_policy(UserName=missing, PolicyName="inline", PolicyDocument=doc)
    with raises_aws("NoSuchEntity", status=404):
        client.list_access_keys(UserName=missing)


# --------------------------------------------------------------------------- #
# 3. policies
# --------------------------------------------------------------------------- #


def test_managed_policy_lifecycle(server, fresh):
    client = iam(server)
    name = f"pol-{fresh.token}"
    arn = policy_arn(server, name)
    doc = policy(allow(["ssm:GetParameter", "ssm:GetParameters"], f"arn:aws:ssm:*:*:parameter{fresh}/*"))

    created = server.aws(
        "iam", "create-policy", "--policy-name", name, "--policy-document", doc, "--description", "e2e policy"
    )["Policy"]
    assert created["PolicyName"] == name
    assert created["Arn"] == arn
    assert created["PolicyId"].startswith("ANPA"), created["PolicyId"]
    assert created["DefaultVersionId"] == "v1"
    assert created["AttachmentCount"] == 0
    assert created.get("Path", "/") == "/"

    with raises_aws("EntityAlreadyExists", status=409):
        client.create_policy(PolicyName=name, PolicyDocument=doc)

    got = server.aws("iam", "get-policy", "--policy-arn", arn)["Policy"]
    assert (got["PolicyName"], got["Arn"], got["PolicyId"]) == (name, arn, created["PolicyId"])
    assert got["DefaultVersionId"] == "v1"
    assert got["AttachmentCount"] == 0
    assert got.get("Description") == "e2e policy"

    local = collect(client.list_policies, "Policies", token_in="Marker", token_out="Marker", Scope="Local")
    assert arn in {p["Arn"] for p in local}

    user = f"polu-{fresh.token}"
    client.create_user(UserName=user)
    assert server.aws("iam", "attach-user-policy", "--user-name", user, "--policy-arn", arn) is None
    attached = server.aws("iam", "list-attached-user-policies", "--user-name", user)["AttachedPolicies"]
    assert attached == [{"PolicyName": name, "PolicyArn": arn}]
    assert client.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1

    cli_fails(server, "DeleteConflict", "iam", "delete-policy", "--policy-arn", arn)
    with raises_aws("DeleteConflict", status=409):
        client.delete_policy(PolicyArn=arn)

    server.aws("iam", "detach-user-policy", "--user-name", user, "--policy-arn", arn)
    assert client.list_attached_user_policies(UserName=user)["AttachedPolicies"] == []
    assert client.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    with raises_aws("NoSuchEntity", status=404):
        client.detach_user_policy(UserName=user, PolicyArn=arn)

    assert server.aws("iam", "delete-policy", "--policy-arn", arn) is None
    cli_fails(server, "NoSuchEntity", "iam", "get-policy", "--policy-arn", arn)
    with raises_aws("NoSuchEntity", status=404):
        client.get_policy(PolicyArn=arn)
    with raises_aws("NoSuchEntity", status=404):
        client.attach_user_policy(UserName=user, PolicyArn=arn)
    assert arn not in {
        p["Arn"] for p in collect(client.list_policies, "Policies", token_in="Marker", token_out="Marker", Scope="Local")
    }


def _doc(statement: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


BAD_DOCUMENTS = {
    "not-json": "this is { not json",
    "missing-effect": _doc({"Action": "ssm:GetParameter", "Resource": "*"}),
    "bad-effect": _doc({"Effect": "Maybe", "Action": "ssm:GetParameter", "Resource": "*"}),
    "action-without-vendor": _doc({"Effect": "Allow", "Action": "GetParameter", "Resource": "*"}),
    "resource-not-arn": _doc({"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "parameter/app/x"}),
    "no-statement": json.dumps({"Version": "2012-10-17"}),
}


@pytest.mark.parametrize("case", sorted(BAD_DOCUMENTS))
def test_malformed_policy_documents(server, case):
    client = iam(server)
    bad = BAD_DOCUMENTS[case]
    name = f"bad-{case}-{uid()}"
    with raises_aws("MalformedPolicyDocument", status=400):
        client.create_policy(PolicyName=name, PolicyDocument=bad)
    with raises_aws("NoSuchEntity", status=404):
        client.get_policy(PolicyArn=policy_arn(server, name))

    user = f"badu-{uid()}"
    client.create_user(UserName=user)
    with raises_aws("MalformedPolicyDocument", status=400):
        client.put_user_policy(UserName=user, PolicyName="inline", PolicyDocument=bad)
    assert client.list_user_policies(UserName=user)["PolicyNames"] == []
    if case == "action-without-vendor":
        cli_fails(server, "MalformedPolicyDocument", "iam", "create-policy", "--policy-name", name,
                  "--policy-document", bad)


def test_inline_user_policies(server, fresh):
    client = iam(server)
    user = f"inl-{fresh.token}"
    client.create_user(UserName=user)
    doc = policy(allow("ssm:GetParameter", f"arn:aws:ssm:*:*:parameter{fresh}/*"))
    server.aws("iam", "put-user-policy", "--user-name", user, "--policy-name", "read", "--policy-document", doc)
    client.put_user_policy(UserName=user, PolicyName="second", PolicyDocument=doc)
    assert sorted(client.list_user_policies(UserName=user)["PolicyNames"]) == ["read", "second"]
    got = client.get_user_policy(UserName=user, PolicyName="read")
    assert got["UserName"] == user
    assert got["PolicyName"] == "read"
    assert decoded(got["PolicyDocument"]) == json.loads(doc)
    cli_got = server.aws("iam", "get-user-policy", "--user-name", user, "--policy-name", "read")
    assert decoded(cli_got["PolicyDocument"]) == json.loads(doc)

    # putting again replaces the document
    doc2 = policy(allow("ssm:GetParameters", "*"))
    client.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=doc2)
    assert decoded(client.get_user_policy(UserName=user, PolicyName="read")["PolicyDocument"]) == json.loads(doc2)

    client.delete_user_policy(UserName=user, PolicyName="read")
    assert client.list_user_policies(UserName=user)["PolicyNames"] == ["second"]
    with raises_aws("NoSuchEntity", status=404):
        client.get_user_policy(UserName=user, PolicyName="read")
    with raises_aws("NoSuchEntity", status=404):
        client.delete_user_policy(UserName=user, PolicyName="read")


# --------------------------------------------------------------------------- #
# 4. no policy, no access
# --------------------------------------------------------------------------- #


def test_user_without_policy_is_denied(server, fresh):
    root = server.ssm()
    existing = fresh("app", "dev", "x")
    plain = fresh.plain("plain")
    put(root, existing, "secret-value")
    put(root, plain, "plain-value")

    name = f"nopol-{fresh.token}"
    ak, sk, arn = make_user(server, name)
    assert arn == f"arn:aws:iam::{account(server)}:user/{name}"
    ssm = as_user(server, "ssm", ak, sk)

    # exactly IAM's wording, for the spec's example shape
    with raises_aws("AccessDeniedException", status=400) as ei:
        ssm.get_parameter(Name=existing)
    pattern = (
        rf"^User: arn:aws:iam::{account(server)}:user/{re.escape(name)} is not authorized to perform: "
        rf"ssm:GetParameter on resource: arn:aws:ssm:{server.region}:{account(server)}:"
        rf"parameter/{re.escape(existing.lstrip('/'))} because no identity-based policy allows the "
        rf"ssm:GetParameter action$"
    )
    message = ei.value.response["Error"]["Message"]
    assert re.match(pattern, message), message
    assert "secret-value" not in json.dumps(ei.value.response, default=str)

    # a parameter that does not exist is denied the same way (no ParameterNotFound leak)
    for n in (existing, fresh("app", "dev", "missing"), plain, fresh.plain("missing")):
        assert_denied(lambda: ssm.get_parameter(Name=n), arn, "ssm:GetParameter", param_arn(server, n))
    assert param_arn(server, plain).endswith(f":parameter/{plain}")

    assert_denied(lambda: ssm.get_parameters(Names=[existing]), arn, "ssm:GetParameters", param_arn(server, existing))
    newp = fresh("app", "dev", "new")
    assert_denied(lambda: put(ssm, newp, "x"), arn, "ssm:PutParameter", param_arn(server, newp))
    assert_denied(lambda: ssm.describe_parameters(), arn, "ssm:DescribeParameters", "*")
    with raises_aws("ParameterNotFound"):
        root.get_parameter(Name=newp)

    # the aws CLI sees the same error
    stderr = cli_fails(server, "AccessDeniedException", "ssm", "get-parameter", "--name", existing,
                       env=user_env(server, ak, sk))
    assert denial(arn, "ssm:GetParameter", param_arn(server, existing)) in stderr


# --------------------------------------------------------------------------- #
# 5. least privilege
# --------------------------------------------------------------------------- #


def test_least_privilege_parameter_paths(server, fresh):
    root = server.ssm()
    dev, prod = fresh("app", "dev"), fresh("app", "prod")
    dev_x, dev_z, dev_y, prod_x = f"{dev}/x", f"{dev}/sub/z", f"{dev}/y", f"{prod}/x"
    for n in (dev_x, dev_z, prod_x):
        put(root, n, f"value-of-{n}")

    doc = policy(
        allow(
            ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
            [f"arn:aws:ssm:*:*:parameter{dev}/*", f"arn:aws:ssm:*:*:parameter{dev}"],
        )
    )
    ak, sk, arn = make_user(server, f"lp-{fresh.token}", doc)
    ssm = as_user(server, "ssm", ak, sk)

    assert ssm.get_parameter(Name=dev_x)["Parameter"]["Value"] == f"value-of-{dev_x}"
    assert sorted(p["Name"] for p in by_path(ssm, dev, Recursive=True)) == sorted([dev_x, dev_z])
    assert [p["Name"] for p in by_path(ssm, dev, Recursive=False)] == [dev_x]

    assert_denied(lambda: ssm.get_parameter(Name=prod_x), arn, "ssm:GetParameter", param_arn(server, prod_x))
    assert_denied(lambda: put(ssm, dev_y, "nope"), arn, "ssm:PutParameter", param_arn(server, dev_y))
    with raises_aws("ParameterNotFound"):
        root.get_parameter(Name=dev_y)
    assert_denied(
        lambda: ssm.get_parameters(Names=[dev_x, prod_x]), arn, "ssm:GetParameters", param_arn(server, prod_x)
    )
    assert_denied(
        lambda: by_path(ssm, prod, Recursive=True), arn, "ssm:GetParametersByPath", param_arn(server, prod)
    )

    out = ssm.get_parameters(Names=[dev_x, f"{dev}/missing"])
    assert [p["Name"] for p in out["Parameters"]] == [dev_x]
    assert out["InvalidParameters"] == [f"{dev}/missing"]
    # inside the allowed prefix a missing parameter is reported as such
    with raises_aws("ParameterNotFound"):
        ssm.get_parameter(Name=f"{dev}/missing")


# --------------------------------------------------------------------------- #
# 6. groups, inline deny
# --------------------------------------------------------------------------- #


def test_group_policies_and_inline_deny(server, fresh):
    client = iam(server)
    root = server.ssm()
    dev = fresh("app", "dev")
    x, secret, other = f"{dev}/x", f"{dev}/secret", fresh("app", "other")
    for n in (x, secret, other):
        put(root, n, f"v-{n}")

    uname = f"grpu-{fresh.token}"
    ak, sk, arn = make_user(server, uname)
    ssm = as_user(server, "ssm", ak, sk)

    group = f"grp-{fresh.token}"
    g = client.create_group(GroupName=group)["Group"]
    assert g["GroupName"] == group
    assert g["Arn"] == f"arn:aws:iam::{account(server)}:group/{group}"
    with raises_aws("EntityAlreadyExists", status=409):
        client.create_group(GroupName=group)
    pol = create_policy(server, policy(allow("ssm:GetParameter", f"arn:aws:ssm:*:*:parameter{dev}/*")))
    client.attach_group_policy(GroupName=group, PolicyArn=pol)
    assert [p["PolicyArn"] for p in client.list_attached_group_policies(GroupName=group)["AttachedPolicies"]] == [pol]

    assert_denied(lambda: ssm.get_parameter(Name=x), arn, "ssm:GetParameter", param_arn(server, x))

    server.aws("iam", "add-user-to-group", "--group-name", group, "--user-name", uname)
    got = server.aws("iam", "get-group", "--group-name", group)
    assert got["Group"]["GroupName"] == group
    assert [u["UserName"] for u in got["Users"]] == [uname]
    assert [gr["GroupName"] for gr in client.list_groups_for_user(UserName=uname)["Groups"]] == [group]

    assert ssm.get_parameter(Name=x)["Parameter"]["Value"] == f"v-{x}"
    assert ssm.get_parameter(Name=secret)["Parameter"]["Value"] == f"v-{secret}"

    # an inline Deny on the user beats the group's Allow
    deny_doc = policy(deny("ssm:GetParameter", f"arn:aws:ssm:*:*:parameter{secret}"))
    server.aws("iam", "put-user-policy", "--user-name", uname, "--policy-name", "deny-secret",
               "--policy-document", deny_doc)
    assert client.list_user_policies(UserName=uname)["PolicyNames"] == ["deny-secret"]
    assert ssm.get_parameter(Name=x)["Parameter"]["Value"] == f"v-{x}"
    assert_denied(lambda: ssm.get_parameter(Name=secret), arn, "ssm:GetParameter", param_arn(server, secret),
                  explicit=True)

    # a second group with an inline policy adds to what the first grants
    group2 = f"grp2-{fresh.token}"
    client.create_group(GroupName=group2)
    client.put_group_policy(GroupName=group2, PolicyName="other",
                            PolicyDocument=policy(allow("ssm:GetParameter", f"arn:aws:ssm:*:*:parameter{other}")))
    assert_denied(lambda: ssm.get_parameter(Name=other), arn, "ssm:GetParameter", param_arn(server, other))
    client.add_user_to_group(GroupName=group2, UserName=uname)
    assert sorted(gr["GroupName"] for gr in client.list_groups_for_user(UserName=uname)["Groups"]) == sorted(
        [group, group2]
    )
    assert ssm.get_parameter(Name=other)["Parameter"]["Value"] == f"v-{other}"

    with raises_aws("DeleteConflict", status=409):
        client.delete_group(GroupName=group)

    # leaving the groups takes their access away at once
    server.aws("iam", "remove-user-from-group", "--group-name", group, "--user-name", uname)
    client.remove_user_from_group(GroupName=group2, UserName=uname)
    assert client.list_groups_for_user(UserName=uname)["Groups"] == []
    assert client.get_group(GroupName=group)["Users"] == []
    assert_denied(lambda: ssm.get_parameter(Name=x), arn, "ssm:GetParameter", param_arn(server, x))
    assert_denied(lambda: ssm.get_parameter(Name=other), arn, "ssm:GetParameter", param_arn(server, other))
    assert_denied(lambda: ssm.get_parameter(Name=secret), arn, "ssm:GetParameter", param_arn(server, secret),
                  explicit=True)

    # a group with policies cannot be deleted
    with raises_aws("DeleteConflict", status=409):
        client.delete_group(GroupName=group)
    with raises_aws("DeleteConflict", status=409):
        client.delete_group(GroupName=group2)
    client.detach_group_policy(GroupName=group, PolicyArn=pol)
    assert client.list_attached_group_policies(GroupName=group)["AttachedPolicies"] == []
    client.delete_group(GroupName=group)
    with raises_aws("NoSuchEntity", status=404):
        client.get_group(GroupName=group)
    with raises_aws("NoSuchEntity", status=404):
        client.add_user_to_group(GroupName=group, UserName=uname)


# --------------------------------------------------------------------------- #
# 7. policy variables
# --------------------------------------------------------------------------- #


def test_username_policy_variable(server, fresh):
    doc = policy(allow(["ssm:PutParameter", "ssm:GetParameter"], "arn:aws:ssm:*:*:parameter/home/${aws:username}/*"))
    pol = create_policy(server, doc)
    alice, bob = f"alice-{fresh.token}", f"bob-{fresh.token}"
    a_ak, a_sk, a_arn = make_user(server, alice)
    b_ak, b_sk, b_arn = make_user(server, bob)
    for u in (alice, bob):
        iam(server).attach_user_policy(UserName=u, PolicyArn=pol)
    a_ssm = as_user(server, "ssm", a_ak, a_sk)
    b_ssm = as_user(server, "ssm", b_ak, b_sk)

    a_x, b_x = f"/home/{alice}/x", f"/home/{bob}/x"
    put(a_ssm, a_x, "alice's")
    assert a_ssm.get_parameter(Name=a_x)["Parameter"]["Value"] == "alice's"
    assert_denied(lambda: put(a_ssm, b_x, "intruder"), a_arn, "ssm:PutParameter", param_arn(server, b_x))
    assert_denied(lambda: a_ssm.get_parameter(Name=b_x), a_arn, "ssm:GetParameter", param_arn(server, b_x))

    put(b_ssm, b_x, "bob's")
    assert b_ssm.get_parameter(Name=b_x)["Parameter"]["Value"] == "bob's"
    assert_denied(lambda: b_ssm.get_parameter(Name=a_x), b_arn, "ssm:GetParameter", param_arn(server, a_x))
    assert server.ssm().get_parameter(Name=b_x)["Parameter"]["Value"] == "bob's"


# --------------------------------------------------------------------------- #
# 8. conditions
# --------------------------------------------------------------------------- #

CONDITION_CASES = [
    ("source-ip-loopback", {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}, True),
    ("source-ip-ten", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, False),
    ("not-source-ip-ten", {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, True),
    ("current-time-after-2020", {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, True),
    ("current-time-before-2020", {"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, False),
    ("insecure-transport", {"Bool": {"aws:SecureTransport": "false"}}, True),
    ("secure-transport", {"Bool": {"aws:SecureTransport": "true"}}, False),
    ("principal-tag-blue", {"StringEquals": {"aws:PrincipalTag/team": "blue"}}, True),
    ("principal-tag-red", {"StringEquals": {"aws:PrincipalTag/team": "red"}}, False),
    ("principal-account", {"StringEquals": {"aws:PrincipalAccount": "{account}"}}, True),
    ("principal-account-other", {"StringEquals": {"aws:PrincipalAccount": "999999999999"}}, False),
    ("principal-arn-like", {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/cond-*"}}, True),
    ("username-other", {"StringEquals": {"aws:username": "somebody-else"}}, False),
]


@pytest.mark.parametrize("condition,allowed", [c[1:] for c in CONDITION_CASES], ids=[c[0] for c in CONDITION_CASES])
def test_condition_keys(server, fresh, condition, allowed):
    root = server.ssm()
    name = fresh("cond", "x")
    put(root, name, "conditional")
    cond = json.loads(json.dumps(condition).replace("{account}", account(server)))
    doc = policy(allow("ssm:GetParameter", f"arn:aws:ssm:*:*:parameter{fresh}/*", cond))
    ak, sk, arn = make_user(server, f"cond-{fresh.token}", doc, tags={"team": "blue"})
    ssm = as_user(server, "ssm", ak, sk)
    if allowed:
        assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "conditional"
    else:
        assert_denied(lambda: ssm.get_parameter(Name=name), arn, "ssm:GetParameter", param_arn(server, name))


def test_condition_recursive(server, fresh):
    root = server.ssm()
    top, deep = fresh("tree", "a"), fresh("tree", "sub", "b")
    put(root, top)
    put(root, deep)
    path = fresh("tree")
    doc = policy(
        allow("ssm:GetParametersByPath", f"arn:aws:ssm:*:*:parameter{path}", {"Bool": {"ssm:Recursive": "false"}})
    )
    ak, sk, arn = make_user(server, f"rec-{fresh.token}", doc)
    ssm = as_user(server, "ssm", ak, sk)
    assert [p["Name"] for p in by_path(ssm, path, Recursive=False)] == [top]
    assert_denied(
        lambda: by_path(ssm, path, Recursive=True), arn, "ssm:GetParametersByPath", param_arn(server, path)
    )


def test_condition_overwrite_explicit_deny(server, fresh):
    root = server.ssm()
    doc = policy(
        allow(["ssm:PutParameter", "ssm:GetParameter"], f"arn:aws:ssm:*:*:parameter{fresh}/*"),
        deny("ssm:PutParameter", f"arn:aws:ssm:*:*:parameter{fresh}/*", {"Bool": {"ssm:Overwrite": "true"}}),
    )
    ak, sk, arn = make_user(server, f"ovw-{fresh.token}", doc)
    ssm = as_user(server, "ssm", ak, sk)
    name = fresh("once")
    put(ssm, name, "v1")
    assert_denied(
        lambda: put(ssm, name, "v2", Overwrite=True), arn, "ssm:PutParameter", param_arn(server, name), explicit=True
    )
    p = root.get_parameter(Name=name)["Parameter"]
    assert (p["Value"], p["Version"]) == ("v1", 1)


# --------------------------------------------------------------------------- #
# 9. IAM itself needs permission
# --------------------------------------------------------------------------- #


def test_iam_requires_permission(server, fresh):
    client = iam(server)
    name = f"iamu-{fresh.token}"
    ak, sk, arn = make_user(server, name)
    uiam = as_user(server, "iam", ak, sk)
    target, target2 = f"made-{fresh.token}", f"made2-{fresh.token}"

    with raises_aws("AccessDenied", status=403):
        uiam.create_user(UserName=target)
    cli_fails(server, "AccessDenied", "iam", "create-user", "--user-name", target, env=user_env(server, ak, sk))
    with raises_aws("NoSuchEntity", status=404):
        client.get_user(UserName=target)
    with raises_aws("AccessDenied", status=403):
        uiam.attach_user_policy(UserName=name, PolicyArn=create_policy(server, policy(allow("iam:*", "*"))))

    attach_new_policy(
        server,
        name,
        policy(allow("iam:CreateUser", "*"), allow("iam:GetUser", user_arn(server, name))),
    )
    made = uiam.create_user(UserName=target)["User"]
    assert made["Arn"] == user_arn(server, target)
    server.aws("iam", "create-user", "--user-name", target2, env=user_env(server, ak, sk))
    assert client.get_user(UserName=target2)["User"]["UserName"] == target2

    # GetUser without a name answers for the caller
    assert uiam.get_user()["User"]["Arn"] == arn
    assert uiam.get_user(UserName=name)["User"]["UserName"] == name
    with raises_aws("AccessDenied", status=403):
        uiam.get_user(UserName=target)
    with raises_aws("AccessDenied", status=403):
        uiam.delete_user(UserName=target)
    with raises_aws("AccessDenied", status=403):
        uiam.list_users()
    with raises_aws("AccessDenied", status=403):
        uiam.create_access_key(UserName=target)


# --------------------------------------------------------------------------- #
# 10. roles and AssumeRole
# --------------------------------------------------------------------------- #


def test_roles_and_assume_role(server, fresh):
    client = iam(server)
    root = server.ssm()
    role = f"role-{fresh.token}"
    rarn = role_arn(server, role)
    may_assume = policy(allow("sts:AssumeRole", rarn))
    ak, sk, uarn = make_user(server, f"assumer-{fresh.token}", may_assume)
    oak, osk, oarn = make_user(server, f"outsider-{fresh.token}", may_assume)

    created = server.aws(
        "iam", "create-role", "--role-name", role, "--assume-role-policy-document", trust(uarn),
        "--description", "e2e role", "--max-session-duration", "3600",
    )["Role"]
    assert created["RoleName"] == role
    assert created["Arn"] == rarn
    assert created["RoleId"].startswith("AROA"), created["RoleId"]
    assert created.get("Path", "/") == "/"

    got = client.get_role(RoleName=role)["Role"]
    assert (got["RoleName"], got["Arn"], got["RoleId"]) == (role, rarn, created["RoleId"])
    assert got.get("Description") == "e2e role"
    assert got.get("MaxSessionDuration") == 3600
    stmt0 = decoded(got["AssumeRolePolicyDocument"])["Statement"]
    stmt0 = stmt0[0] if isinstance(stmt0, list) else stmt0
    assert stmt0["Principal"]["AWS"] in (uarn, [uarn])
    with raises_aws("EntityAlreadyExists", status=409):
        client.create_role(RoleName=role, AssumeRolePolicyDocument=trust(uarn))

    role_x, dev_x = fresh("app", "role", "x"), fresh("app", "dev", "x")
    put(root, role_x, "for-the-role")
    put(root, dev_x, "not-for-the-role")
    pol = create_policy(server, policy(allow("ssm:GetParameter", f"arn:aws:ssm:*:*:parameter{fresh}/app/role/*")))
    server.aws("iam", "attach-role-policy", "--role-name", role, "--policy-arn", pol)
    attached = client.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [pol]

    # the user itself has no access to the role's parameters
    user_ssm = as_user(server, "ssm", ak, sk)
    assert_denied(lambda: user_ssm.get_parameter(Name=role_x), uarn, "ssm:GetParameter", param_arn(server, role_x))

    session = "e2e-session"
    before = dt.datetime.now(dt.timezone.utc)
    out = as_user(server, "sts", ak, sk).assume_role(RoleArn=rarn, RoleSessionName=session, DurationSeconds=900)
    creds = out["Credentials"]
    assert ASIA_RE.match(creds["AccessKeyId"]), creds["AccessKeyId"]
    assert creds["SecretAccessKey"]
    assert creds["SessionToken"]
    expires = creds["Expiration"]
    assert isinstance(expires, dt.datetime)
    assert before + dt.timedelta(seconds=800) < expires < before + dt.timedelta(seconds=1000), expires
    assumed = assumed_arn(server, role, session)
    assert out["AssumedRoleUser"]["Arn"] == assumed

    tak, tsk, tok = creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    role_ssm = as_user(server, "ssm", tak, tsk, tok)
    assert role_ssm.get_parameter(Name=role_x)["Parameter"]["Value"] == "for-the-role"
    assert_denied(lambda: role_ssm.get_parameter(Name=dev_x), assumed, "ssm:GetParameter", param_arn(server, dev_x))

    ident = as_user(server, "sts", tak, tsk, tok).get_caller_identity()
    assert ident["Arn"] == assumed
    assert ident["Account"] == account(server)
    cli_ident = server.aws("sts", "get-caller-identity", env=user_env(server, tak, tsk, tok))
    assert cli_ident["Arn"] == assumed
    cli_val = server.aws("ssm", "get-parameter", "--name", role_x, env=user_env(server, tak, tsk, tok))
    assert cli_val["Parameter"]["Value"] == "for-the-role"

    # a wrong or missing session token is refused
    wrong = tok[:-1] + ("A" if tok[-1] != "A" else "B")
    assert_bad_credentials(lambda: as_user(server, "ssm", tak, tsk, wrong).get_parameter(Name=role_x), codes=None)
    assert_bad_credentials(lambda: as_user(server, "ssm", tak, tsk, "bogus-token").get_parameter(Name=role_x),
                           codes=None)
    assert_bad_credentials(lambda: as_user(server, "ssm", tak, tsk).get_parameter(Name=role_x), codes=None)

    # a user the trust policy does not name is refused
    with raises_aws("AccessDenied", status=403):
        as_user(server, "sts", oak, osk).assume_role(RoleArn=rarn, RoleSessionName="intruder")
    cli_fails(server, "AccessDenied", "sts", "assume-role", "--role-arn", rarn, "--role-session-name", "intruder",
              env=user_env(server, oak, osk))

    # a role with policies attached cannot be deleted
    with raises_aws("DeleteConflict", status=409):
        client.delete_role(RoleName=role)
    client.detach_role_policy(RoleName=role, PolicyArn=pol)
    assert client.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    client.delete_role(RoleName=role)
    with raises_aws("NoSuchEntity", status=404):
        client.get_role(RoleName=role)
    with raises_aws("NoSuchEntity", status=404):
        client.delete_role(RoleName=role)


def test_assume_role_with_account_root_trust(server, fresh):
    client = iam(server)
    role = f"acct-role-{fresh.token}"
    rarn = role_arn(server, role)
    client.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{account(server)}:root"))
    client.put_role_policy(RoleName=role, PolicyName="read",
                           PolicyDocument=policy(allow("ssm:GetParameter", f"arn:aws:ssm:*:*:parameter{fresh}/*")))
    name = fresh("inline-role")
    put(server.ssm(), name, "inline")

    # the account root in the trust policy defers to the caller's own policies
    ak, sk, _ = make_user(server, f"may-{fresh.token}", policy(allow("sts:AssumeRole", rarn)))
    nak, nsk, _ = make_user(server, f"maynot-{fresh.token}")
    creds = as_user(server, "sts", ak, sk).assume_role(RoleArn=rarn, RoleSessionName="s1")["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    role_ssm = as_user(server, "ssm", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert role_ssm.get_parameter(Name=name)["Parameter"]["Value"] == "inline"
    with raises_aws("AccessDenied", status=403):
        as_user(server, "sts", nak, nsk).assume_role(RoleArn=rarn, RoleSessionName="s2")
    # assuming a role that does not exist is refused too
    with pytest.raises(ClientError) as ei:
        as_user(server, "sts", ak, sk).assume_role(RoleArn=role_arn(server, f"none-{fresh.token}"),
                                                   RoleSessionName="s3")
    assert (error_code(ei.value), error_status(ei.value)) in {("AccessDenied", 403), ("NoSuchEntity", 404)}


def test_trust_policy_needs_principal(server, fresh):
    client = iam(server)
    no_principal = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    )
    role = f"np-role-{fresh.token}"
    with raises_aws("MalformedPolicyDocument", status=400):
        client.create_role(RoleName=role, AssumeRolePolicyDocument=no_principal)
    cli_fails(server, "MalformedPolicyDocument", "iam", "create-role", "--role-name", role,
              "--assume-role-policy-document", no_principal)
    with raises_aws("NoSuchEntity", status=404):
        client.get_role(RoleName=role)


# --------------------------------------------------------------------------- #
# 11. KMS under policy
# --------------------------------------------------------------------------- #


def test_kms_key_policy_scoping(server, fresh):
    kms = server.kms()
    key_a = kms.create_key(Description="e2e iam A")["KeyMetadata"]["KeyId"]
    key_b = kms.create_key(Description="e2e iam B")["KeyMetadata"]["KeyId"]
    ak, sk, arn = make_user(server, f"kmsu-{fresh.token}", policy(allow("kms:Encrypt", key_arn(server, key_a))))
    ukms = as_user(server, "kms", ak, sk)

    for ref in (key_a, key_arn(server, key_a)):
        blob = ukms.encrypt(KeyId=ref, Plaintext=b"allowed")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"allowed"

    assert_denied(lambda: ukms.encrypt(KeyId=key_b, Plaintext=b"x"), arn, "kms:Encrypt", key_arn(server, key_b))
    assert_denied(lambda: ukms.decrypt(CiphertextBlob=blob), arn, "kms:Decrypt", key_arn(server, key_a))
    assert_denied(lambda: ukms.create_key(Description="nope"), arn, "kms:CreateKey", "*")
    assert_denied(lambda: ukms.list_keys(), arn, "kms:ListKeys", "*")


# --------------------------------------------------------------------------- #
# documents and list operations
# --------------------------------------------------------------------------- #


def test_document_resource_arns(server, fresh):
    root = server.ssm()
    doc_name = f"doc-{fresh.token}"
    content = {
        "schemaVersion": "2.2",
        "description": "e2e",
        "mainSteps": [{"action": "aws:runShellScript", "name": "s", "inputs": {"runCommand": ["echo hi"]}}],
    }
    root.create_document(Name=doc_name, Content=json.dumps(content), DocumentType="Command")
    doc = policy(
        allow("ssm:DescribeDocument", "arn:aws:ssm:*::document/AWS-RunShellScript"),
        allow("ssm:DescribeParameters", "*"),
    )
    ak, sk, arn = make_user(server, f"docu-{fresh.token}", doc)
    ssm = as_user(server, "ssm", ak, sk)

    assert ssm.describe_document(Name="AWS-RunShellScript")["Document"]["Name"] == "AWS-RunShellScript"
    assert_denied(
        lambda: ssm.describe_document(Name="AWS-RunPowerShellScript"),
        arn, "ssm:DescribeDocument", f"arn:aws:ssm:{server.region}::document/AWS-RunPowerShellScript",
    )
    assert_denied(
        lambda: ssm.describe_document(Name=doc_name),
        arn, "ssm:DescribeDocument", f"arn:aws:ssm:{server.region}:{account(server)}:document/{doc_name}",
    )
    ssm.describe_parameters(MaxResults=1)
    assert_denied(lambda: ssm.list_documents(), arn, "ssm:ListDocuments", "*")


# --------------------------------------------------------------------------- #
# 12. root
# --------------------------------------------------------------------------- #


def test_root_keeps_full_access(server, fresh):
    acct = account(server)
    ident = server.client("sts").get_caller_identity()
    assert ident["Account"] == acct
    assert ident["Arn"] == f"arn:aws:iam::{acct}:root"
    cli_ident = server.aws("sts", "get-caller-identity")
    assert cli_ident["Arn"] == ident["Arn"]

    ssm = server.ssm()
    for n in (fresh("app", "prod", "x"), fresh("app", "dev", "x"), f"/home/nobody-{fresh.token}/x"):
        put(ssm, n, "root-was-here")
        put(ssm, n, "again", Overwrite=True)
        assert ssm.get_parameter(Name=n)["Parameter"]["Value"] == "again"
    assert len(by_path(ssm, fresh("app"), Recursive=True)) == 2
    assert ssm.get_parameters(Names=[fresh("app", "prod", "x"), fresh("app", "dev", "x")])["Parameters"]
    ssm.describe_parameters(MaxResults=1)
    ssm.describe_document(Name="AWS-RunShellScript")
    ssm.list_documents(MaxResults=1)

    kms = server.kms()
    key = kms.create_key(Description="root")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"root")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"root"
    kms.list_keys(Limit=1)

    client = iam(server)
    client.list_users(MaxItems=1)
    name = f"root-made-{fresh.token}"
    client.create_user(UserName=name)
    client.delete_user(UserName=name)
    client.list_policies(Scope="Local", MaxItems=1)
    server.aws("iam", "list-users", "--max-items", "1")
