"""IAM beyond the basics, end to end: managed policy versions (only the default version
applies), tags on users and roles (and ``aws:PrincipalTag`` conditions reading them),
ListGroups and ListRoles with paths and paging, and the service roles that bound what
Steward does on someone's behalf: a node resolves ``{{ssm-secure:…}}`` references as its
activation's IAM role, and a maintenance window task with a ``ServiceRoleArn`` sends its
command as that role.

The harness credentials are the account root.  Every test makes its own users, roles,
policies and parameters with unique names, since the module's server is shared.

Fleet (activation role):  good  E2ERole-good (may read /node/ok/*)
                          norole E2ERole-norole (not in IAM when the module starts)

The window tests move the server's test clock forward by up to a day, so they come last.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from conftest import Fleet, collect, raises_aws, start_fleet, wait_until
from test_windows_more import open_window
from test_iam import (
    account,
    allow,
    as_user,
    assert_denied,
    attach_new_policy,
    create_policy,
    decoded,
    iam,
    make_user,
    param_arn,
    policy,
    put,
    trust,
    uid,
)

NODE_TAGS = {"good": {"node": "good"}, "norole": {"node": "norole"}}
OK_SECRET, NO_SECRET = "/node/ok/secret", "/node/no/secret"
OK_VALUE, NO_VALUE = "s3cret-ok-4711", "s3cret-no-0815"
SECURE_FAILURE = "secure parameters not found or not readable"
FINAL_COMMAND = {"Success", "Failed", "TimedOut", "Cancelled"}
FINAL_WINDOW = {"SUCCESS", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED_OVERLAPPING"}
SHELL = "AWS-RunShellScript"


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1", "--test-clock"))


def ssm_trust() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def node_read_policy(*, kms: bool = True) -> str:
    statements = [allow("ssm:GetParameters", "arn:aws:ssm:*:*:parameter/node/ok/*")]
    if kms:
        statements.append(allow("kms:Decrypt", "*"))
    return policy(*statements)


@pytest.fixture(scope="module")
def node_roles(server):
    """The good node's role (made before the node registers) and the two secrets."""
    client = iam(server)
    client.create_role(RoleName="E2ERole-good", AssumeRolePolicyDocument=ssm_trust())
    client.put_role_policy(RoleName="E2ERole-good", PolicyName="read-ok", PolicyDocument=node_read_policy())
    ssm = server.ssm()
    ssm.put_parameter(Name=OK_SECRET, Value=OK_VALUE, Type="SecureString")
    ssm.put_parameter(Name=NO_SECRET, Value=NO_VALUE, Type="SecureString")
    return ["E2ERole-good"]


@pytest.fixture(scope="module")
def fleet(server, agent_factory, node_roles) -> Fleet:
    return start_fleet(server, agent_factory, NODE_TAGS)


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def versions(client, arn: str) -> list[tuple[str, bool]]:
    return [(v["VersionId"], v["IsDefaultVersion"]) for v in client.list_policy_versions(PolicyArn=arn)["Versions"]]


def tags_of(listing: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in listing["Tags"]}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def run_on(ssm, instance_id: str, commands: list[str], timeout: float = 45) -> dict:
    """SendCommand AWS-RunShellScript (as root) and the finished invocation."""
    cid = ssm.send_command(DocumentName=SHELL, InstanceIds=[instance_id], Parameters={"commands": commands})
    cid = cid["Command"]["CommandId"]

    def done():
        inv = ssm.get_command_invocation(CommandId=cid, InstanceId=instance_id)
        return inv if inv["Status"] in FINAL_COMMAND else None

    return wait_until(done, timeout, f"command {cid} on {instance_id}")


# --------------------------------------------------------------------------- #
# 1. managed policy versions
# --------------------------------------------------------------------------- #


def test_policy_versions_lifecycle(server, fresh):
    client = iam(server)
    docs = {n: policy(allow("ssm:GetParameter", f"arn:aws:ssm:*:*:parameter{fresh}/{n}/*")) for n in "abcdefgh"}
    arn = create_policy(server, docs["a"], f"ver-{fresh.token}")
    assert client.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    assert versions(client, arn) == [("v1", True)]

    # a new version that is not the default changes nothing about which one applies
    v2 = client.create_policy_version(PolicyArn=arn, PolicyDocument=docs["b"])["PolicyVersion"]
    assert (v2["VersionId"], v2["IsDefaultVersion"]) == ("v2", False)
    assert "CreateDate" in v2
    assert client.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"

    v3 = client.create_policy_version(PolicyArn=arn, PolicyDocument=docs["c"], SetAsDefault=True)["PolicyVersion"]
    assert (v3["VersionId"], v3["IsDefaultVersion"]) == ("v3", True)
    assert client.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"

    # newest first, with the default flagged, and every document as it was given
    listed = client.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in listed] == [("v3", True), ("v2", False), ("v1", False)]
    assert [decoded(v["Document"]) for v in listed] == [json.loads(docs[n]) for n in "cba"]
    got = client.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert (got["VersionId"], got["IsDefaultVersion"]) == ("v2", False)
    assert decoded(got["Document"]) == json.loads(docs["b"])
    assert client.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]["IsDefaultVersion"] is True
    cli = server.aws("iam", "list-policy-versions", "--policy-arn", arn)["Versions"]
    assert [v["VersionId"] for v in cli] == ["v3", "v2", "v1"]

    # a deleted version is gone, and its number is not used again
    client.delete_policy_version(PolicyArn=arn, VersionId="v2")
    assert versions(client, arn) == [("v3", True), ("v1", False)]
    with raises_aws("NoSuchEntity", status=404):
        client.get_policy_version(PolicyArn=arn, VersionId="v2")
    with raises_aws("NoSuchEntity", status=404):
        client.delete_policy_version(PolicyArn=arn, VersionId="v2")
    assert client.create_policy_version(PolicyArn=arn, PolicyDocument=docs["d"])["PolicyVersion"]["VersionId"] == "v4"

    # a malformed document makes no version
    with raises_aws("MalformedPolicyDocument", status=400):
        client.create_policy_version(PolicyArn=arn, PolicyDocument="{not json", SetAsDefault=True)
    with raises_aws("MalformedPolicyDocument", status=400):
        client.create_policy_version(
            PolicyArn=arn, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "GetParameter", "Resource": "*"}]}))
    assert versions(client, arn) == [("v4", False), ("v3", True), ("v1", False)]

    # five versions at most
    for n, expected in (("e", "v5"), ("f", "v6")):
        assert client.create_policy_version(PolicyArn=arn, PolicyDocument=docs[n])["PolicyVersion"]["VersionId"] == expected
    assert [v for v, _ in versions(client, arn)] == ["v6", "v5", "v4", "v3", "v1"]
    with raises_aws("LimitExceeded", status=409):
        client.create_policy_version(PolicyArn=arn, PolicyDocument=docs["g"], SetAsDefault=True)
    assert [v for v, _ in versions(client, arn)] == ["v6", "v5", "v4", "v3", "v1"]
    assert client.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"

    # the default version cannot be deleted; once another is the default it can
    with raises_aws("DeleteConflict", status=409):
        client.delete_policy_version(PolicyArn=arn, VersionId="v3")
    client.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    assert client.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    assert versions(client, arn) == [("v6", False), ("v5", False), ("v4", False), ("v3", False), ("v1", True)]
    client.delete_policy_version(PolicyArn=arn, VersionId="v3")
    with raises_aws("DeleteConflict", status=409):
        client.delete_policy_version(PolicyArn=arn, VersionId="v1")
    assert client.create_policy_version(PolicyArn=arn, PolicyDocument=docs["h"])["PolicyVersion"]["VersionId"] == "v7"

    # unknown and malformed version ids, unknown policies
    for call in (client.get_policy_version, client.set_default_policy_version, client.delete_policy_version):
        with raises_aws("NoSuchEntity", status=404):
            call(PolicyArn=arn, VersionId="v99")
        with raises_aws("ValidationError", status=400):
            call(PolicyArn=arn, VersionId="x1")
    with raises_aws("ValidationError", status=400):
        client.set_default_policy_version(PolicyArn=arn, VersionId="V1")
    assert client.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    missing = f"arn:aws:iam::{account(server)}:policy/none-{fresh.token}"
    with raises_aws("NoSuchEntity", status=404):
        client.list_policy_versions(PolicyArn=missing)
    with raises_aws("NoSuchEntity", status=404):
        client.create_policy_version(PolicyArn=missing, PolicyDocument=docs["a"])
    with raises_aws("NoSuchEntity", status=404):
        client.get_policy_version(PolicyArn=missing, VersionId="v1")


def test_only_the_default_version_applies(server, fresh):
    client = iam(server)
    root = server.ssm()
    a, b = fresh("app", "a", "x"), fresh("app", "b", "x")
    put(root, a, "value-a")
    put(root, b, "value-b")
    read = lambda prefix: policy(allow("ssm:GetParameter", f"arn:aws:ssm:*:*:parameter{fresh}/app/{prefix}/*"))

    name = f"dv-{fresh.token}"
    ak, sk, arn = make_user(server, name)
    pol = attach_new_policy(server, name, read("a"))
    ssm = as_user(server, "ssm", ak, sk)

    def reads(allowed: str, refused: str) -> None:
        assert ssm.get_parameter(Name=allowed)["Parameter"]["Value"] == f"value-{allowed[-3]}"
        assert_denied(lambda: ssm.get_parameter(Name=refused), arn, "ssm:GetParameter", param_arn(server, refused))

    reads(a, b)
    # v2 made the default: now the other way round
    client.create_policy_version(PolicyArn=pol, PolicyDocument=read("b"), SetAsDefault=True)
    reads(b, a)
    # a version that is not the default grants nothing
    both = policy(allow("ssm:GetParameter", f"arn:aws:ssm:*:*:parameter{fresh}/app/*"))
    assert client.create_policy_version(PolicyArn=pol, PolicyDocument=both)["PolicyVersion"]["VersionId"] == "v3"
    reads(b, a)
    # back to v1
    client.set_default_policy_version(PolicyArn=pol, VersionId="v1")
    reads(a, b)
    client.set_default_policy_version(PolicyArn=pol, VersionId="v3")
    assert ssm.get_parameter(Name=a)["Parameter"]["Value"] == "value-a"
    assert ssm.get_parameter(Name=b)["Parameter"]["Value"] == "value-b"
    # deleting a version that is not the default changes nothing
    client.delete_policy_version(PolicyArn=pol, VersionId="v1")
    assert ssm.get_parameter(Name=a)["Parameter"]["Value"] == "value-a"

    # managing versions needs permission too: the user may not rewrite its own policy
    uiam = as_user(server, "iam", ak, sk)
    with raises_aws("AccessDenied", status=403):
        uiam.create_policy_version(PolicyArn=pol, PolicyDocument=policy(allow("*", "*")), SetAsDefault=True)
    with raises_aws("AccessDenied", status=403):
        uiam.set_default_policy_version(PolicyArn=pol, VersionId="v2")
    with raises_aws("AccessDenied", status=403):
        uiam.list_policy_versions(PolicyArn=pol)
    assert client.get_policy(PolicyArn=pol)["Policy"]["DefaultVersionId"] == "v3"


# --------------------------------------------------------------------------- #
# 2. tags on users and roles
# --------------------------------------------------------------------------- #


def test_user_tags(server, fresh):
    client = iam(server)
    raw = iam(server, validate=False)
    name = f"tags-{fresh.token}"
    client.create_user(UserName=name, Tags=tag_list({"team": "blue"}))
    assert tags_of(client.list_user_tags(UserName=name)) == {"team": "blue"}

    client.tag_user(UserName=name, Tags=tag_list({"team": "red", "cost center": "a/b:c=d+e@f.g_h-i"}))
    assert tags_of(client.list_user_tags(UserName=name)) == {"team": "red", "cost center": "a/b:c=d+e@f.g_h-i"}
    assert tags_of(client.get_user(UserName=name)["User"]) == {"team": "red", "cost center": "a/b:c=d+e@f.g_h-i"}
    cli = server.aws("iam", "list-user-tags", "--user-name", name)["Tags"]
    assert sorted(t["Key"] for t in cli) == ["cost center", "team"]

    # removing a key that is not there is not an error
    client.untag_user(UserName=name, TagKeys=["cost center", "never-there"])
    assert tags_of(client.list_user_tags(UserName=name)) == {"team": "red"}

    # at most 50 tags, counting the ones already there; values of present keys may change
    client.tag_user(UserName=name, Tags=tag_list({f"k{i:02d}": str(i) for i in range(49)}))
    assert len(client.list_user_tags(UserName=name)["Tags"]) == 50
    with raises_aws("LimitExceeded", status=409):
        client.tag_user(UserName=name, Tags=tag_list({"one-too-many": "x"}))
    client.tag_user(UserName=name, Tags=tag_list({"team": "green", "k00": "zero"}))
    now = tags_of(client.list_user_tags(UserName=name))
    assert len(now) == 50 and now["team"] == "green" and now["k00"] == "zero" and "one-too-many" not in now

    other = f"tags2-{fresh.token}"
    client.create_user(UserName=other)
    assert client.list_user_tags(UserName=other)["Tags"] == []
    with raises_aws("LimitExceeded", status=409):
        client.tag_user(UserName=other, Tags=tag_list({f"k{i}": "v" for i in range(51)}))
    assert client.list_user_tags(UserName=other)["Tags"] == []

    # bad keys and values
    for bad in ({"bad;key": "x"}, {"k": "x<y"}, {"": "x"}, {"k" * 129: "x"}, {"k": "v" * 257}):
        with raises_aws("ValidationError", status=400):
            raw.tag_user(UserName=other, Tags=tag_list(bad))
    with raises_aws("ValidationError", status=400):
        raw.create_user(UserName=f"tags3-{fresh.token}", Tags=tag_list({"bad;key": "x"}))
    with raises_aws("NoSuchEntity", status=404):
        client.get_user(UserName=f"tags3-{fresh.token}")
    with raises_aws("ValidationError", status=400):
        raw.tag_user(UserName=other, Tags=[])
    assert client.list_user_tags(UserName=other)["Tags"] == []

    missing = f"none-{fresh.token}"
    with raises_aws("NoSuchEntity", status=404):
        client.tag_user(UserName=missing, Tags=tag_list({"a": "b"}))
    with raises_aws("NoSuchEntity", status=404):
        client.untag_user(UserName=missing, TagKeys=["a"])
    with raises_aws("NoSuchEntity", status=404):
        client.list_user_tags(UserName=missing)

    # a user may not tag itself (tags grant access through aws:PrincipalTag)
    ak, sk, _ = make_user(server, f"selftag-{fresh.token}")
    with raises_aws("AccessDenied", status=403):
        as_user(server, "iam", ak, sk).tag_user(UserName=f"selftag-{fresh.token}", Tags=tag_list({"Team": "red"}))
    assert client.list_user_tags(UserName=f"selftag-{fresh.token}")["Tags"] == []


def test_role_tags(server, fresh):
    client = iam(server)
    raw = iam(server, validate=False)
    name = f"trole-{fresh.token}"
    created = client.create_role(RoleName=name, AssumeRolePolicyDocument=ssm_trust(),
                                 Tags=tag_list({"env": "prod"}))["Role"]
    assert tags_of(created) == {"env": "prod"}
    assert tags_of(client.get_role(RoleName=name)["Role"]) == {"env": "prod"}
    assert tags_of(client.list_role_tags(RoleName=name)) == {"env": "prod"}

    client.tag_role(RoleName=name, Tags=tag_list({"env": "dev", "owner": "ops"}))
    assert tags_of(client.list_role_tags(RoleName=name)) == {"env": "dev", "owner": "ops"}
    assert tags_of(client.get_role(RoleName=name)["Role"]) == {"env": "dev", "owner": "ops"}
    client.untag_role(RoleName=name, TagKeys=["env"])
    assert tags_of(client.list_role_tags(RoleName=name)) == {"owner": "ops"}
    client.untag_role(RoleName=name, TagKeys=["owner"])
    assert client.list_role_tags(RoleName=name)["Tags"] == []
    assert "Tags" not in client.get_role(RoleName=name)["Role"] or client.get_role(RoleName=name)["Role"]["Tags"] == []

    with raises_aws("LimitExceeded", status=409):
        client.tag_role(RoleName=name, Tags=tag_list({f"k{i}": "v" for i in range(51)}))
    with raises_aws("ValidationError", status=400):
        raw.tag_role(RoleName=name, Tags=tag_list({"bad;key": "x"}))
    with raises_aws("ValidationError", status=400):
        raw.tag_role(RoleName=name, Tags=[])
    with raises_aws("ValidationError", status=400):
        raw.create_role(RoleName=f"trole2-{fresh.token}", AssumeRolePolicyDocument=ssm_trust(),
                        Tags=tag_list({"bad;key": "x"}))
    with raises_aws("NoSuchEntity", status=404):
        client.get_role(RoleName=f"trole2-{fresh.token}")
    assert client.list_role_tags(RoleName=name)["Tags"] == []

    missing = f"none-{fresh.token}"
    with raises_aws("NoSuchEntity", status=404):
        client.tag_role(RoleName=missing, Tags=tag_list({"a": "b"}))
    with raises_aws("NoSuchEntity", status=404):
        client.untag_role(RoleName=missing, TagKeys=["a"])
    with raises_aws("NoSuchEntity", status=404):
        client.list_role_tags(RoleName=missing)


def team_policy() -> str:
    return policy(allow("ssm:GetParameter", "arn:aws:ssm:*:*:parameter/team/${aws:PrincipalTag/Team}/*"))


def test_user_tags_drive_principal_tag_conditions(server, fresh):
    client = iam(server)
    root = server.ssm()
    red, blue = f"red-{fresh.token}", f"blue-{fresh.token}"
    red_x, blue_x = f"/team/{red}/x", f"/team/{blue}/x"
    put(root, red_x, "for-red")
    put(root, blue_x, "for-blue")
    name = f"pt-{fresh.token}"
    ak, sk, arn = make_user(server, name, team_policy())
    ssm = as_user(server, "ssm", ak, sk)

    # no Team tag: the variable resolves to nothing, so nothing matches
    assert_denied(lambda: ssm.get_parameter(Name=red_x), arn, "ssm:GetParameter", param_arn(server, red_x))
    client.tag_user(UserName=name, Tags=tag_list({"Team": red}))
    assert ssm.get_parameter(Name=red_x)["Parameter"]["Value"] == "for-red"
    assert_denied(lambda: ssm.get_parameter(Name=blue_x), arn, "ssm:GetParameter", param_arn(server, blue_x))

    client.tag_user(UserName=name, Tags=tag_list({"Team": blue}))
    assert ssm.get_parameter(Name=blue_x)["Parameter"]["Value"] == "for-blue"
    assert_denied(lambda: ssm.get_parameter(Name=red_x), arn, "ssm:GetParameter", param_arn(server, red_x))

    client.untag_user(UserName=name, TagKeys=["Team"])
    assert_denied(lambda: ssm.get_parameter(Name=blue_x), arn, "ssm:GetParameter", param_arn(server, blue_x))
    assert_denied(lambda: ssm.get_parameter(Name=red_x), arn, "ssm:GetParameter", param_arn(server, red_x))


def test_role_tags_drive_principal_tag_conditions_of_its_sessions(server, fresh):
    client = iam(server)
    root = server.ssm()
    red = f"red-{fresh.token}"
    red_x = f"/team/{red}/x"
    put(root, red_x, "for-red-role")
    role = f"ptrole-{fresh.token}"
    rarn = f"arn:aws:iam::{account(server)}:role/{role}"
    ak, sk, uarn = make_user(server, f"ptr-{fresh.token}", policy(allow("sts:AssumeRole", rarn)))
    client.create_role(RoleName=role, AssumeRolePolicyDocument=trust(uarn))
    client.put_role_policy(RoleName=role, PolicyName="team", PolicyDocument=team_policy())
    creds = as_user(server, "sts", ak, sk).assume_role(RoleArn=rarn, RoleSessionName="tagged")["Credentials"]
    ssm = as_user(server, "ssm", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assumed = f"arn:aws:sts::{account(server)}:assumed-role/{role}/tagged"

    assert_denied(lambda: ssm.get_parameter(Name=red_x), assumed, "ssm:GetParameter", param_arn(server, red_x))
    client.tag_role(RoleName=role, Tags=tag_list({"Team": red}))
    assert ssm.get_parameter(Name=red_x)["Parameter"]["Value"] == "for-red-role"
    client.untag_role(RoleName=role, TagKeys=["Team"])
    assert_denied(lambda: ssm.get_parameter(Name=red_x), assumed, "ssm:GetParameter", param_arn(server, red_x))


# --------------------------------------------------------------------------- #
# 3. ListGroups and ListRoles
# --------------------------------------------------------------------------- #


def test_list_groups_paths_and_paging(server, fresh):
    client = iam(server)
    raw = iam(server, validate=False)
    top, sub = f"/{fresh.token}/", f"/{fresh.token}/sub/"
    top_names = {f"g{i}-{fresh.token}" for i in range(3)}
    sub_name = f"gs-{fresh.token}"
    for n in sorted(top_names):
        made = client.create_group(GroupName=n, Path=top)["Group"]
        assert (made["Path"], made["Arn"]) == (top, f"arn:aws:iam::{account(server)}:group{top}{n}")
    client.create_group(GroupName=sub_name, Path=sub)
    elsewhere = f"gx-{fresh.token}"
    client.create_group(GroupName=elsewhere)

    under_top = client.list_groups(PathPrefix=top)
    assert {g["GroupName"] for g in under_top["Groups"]} == top_names | {sub_name}
    assert not under_top.get("IsTruncated")
    assert [g["GroupName"] for g in client.list_groups(PathPrefix=sub)["Groups"]] == [sub_name]
    assert client.list_groups(PathPrefix=f"/{fresh.token}-none/")["Groups"] == []
    everyone = collect(client.list_groups, "Groups", token_in="Marker", token_out="Marker")
    assert {elsewhere, sub_name} <= {g["GroupName"] for g in everyone}
    g = next(g for g in everyone if g["GroupName"] == elsewhere)
    assert g["Path"] == "/" and g["GroupId"].startswith("AGPA") and "CreateDate" in g

    first = client.list_groups(PathPrefix=top, MaxItems=3)
    assert len(first["Groups"]) == 3 and first["IsTruncated"] is True and first["Marker"]
    rest = client.list_groups(PathPrefix=top, MaxItems=3, Marker=first["Marker"])
    assert len(rest["Groups"]) == 1 and not rest.get("IsTruncated")
    paged = collect(client.list_groups, "Groups", token_in="Marker", token_out="Marker", PathPrefix=top, MaxItems=1)
    names = [g["GroupName"] for g in paged]
    assert len(names) == 4 and set(names) == top_names | {sub_name}
    cli = server.aws("iam", "list-groups", "--path-prefix", sub)["Groups"]
    assert [g["GroupName"] for g in cli] == [sub_name]

    with raises_aws("ValidationError", status=400):
        raw.list_groups(MaxItems=0)
    with raises_aws("ValidationError", status=400):
        raw.list_groups(Marker="not-a-marker")


def test_list_roles_paths_and_paging(server, fresh):
    client = iam(server)
    raw = iam(server, validate=False)
    top, sub = f"/{fresh.token}/", f"/{fresh.token}/sub/"
    top_names = {f"r{i}-{fresh.token}" for i in range(3)}
    sub_name = f"rs-{fresh.token}"
    for n in sorted(top_names):
        made = client.create_role(RoleName=n, Path=top, AssumeRolePolicyDocument=ssm_trust(),
                                  Description=f"role {n}")["Role"]
        assert (made["Path"], made["Arn"]) == (top, f"arn:aws:iam::{account(server)}:role{top}{n}")
    client.create_role(RoleName=sub_name, Path=sub, AssumeRolePolicyDocument=ssm_trust())
    elsewhere = f"rx-{fresh.token}"
    client.create_role(RoleName=elsewhere, AssumeRolePolicyDocument=ssm_trust())

    under_top = client.list_roles(PathPrefix=top)
    assert {r["RoleName"] for r in under_top["Roles"]} == top_names | {sub_name}
    assert not under_top.get("IsTruncated")
    r0 = next(r for r in under_top["Roles"] if r["RoleName"] == f"r0-{fresh.token}")
    assert r0["RoleId"].startswith("AROA") and r0.get("Description") == f"role r0-{fresh.token}"
    assert decoded(r0["AssumeRolePolicyDocument"]) == json.loads(ssm_trust())
    assert [r["RoleName"] for r in client.list_roles(PathPrefix=sub)["Roles"]] == [sub_name]
    assert client.list_roles(PathPrefix=f"/{fresh.token}-none/")["Roles"] == []
    everyone = collect(client.list_roles, "Roles", token_in="Marker", token_out="Marker")
    assert {elsewhere, sub_name} <= {r["RoleName"] for r in everyone}

    first = client.list_roles(PathPrefix=top, MaxItems=2)
    assert len(first["Roles"]) == 2 and first["IsTruncated"] is True and first["Marker"]
    paged = collect(client.list_roles, "Roles", token_in="Marker", token_out="Marker", PathPrefix=top, MaxItems=1)
    names = [r["RoleName"] for r in paged]
    assert len(names) == 4 and set(names) == top_names | {sub_name}
    cli = server.aws("iam", "list-roles", "--path-prefix", sub)["Roles"]
    assert [r["RoleName"] for r in cli] == [sub_name]

    with raises_aws("ValidationError", status=400):
        raw.list_roles(MaxItems=1001)
    with raises_aws("ValidationError", status=400):
        raw.list_roles(Marker="not-a-marker")


# --------------------------------------------------------------------------- #
# access keys remember their last use
# --------------------------------------------------------------------------- #


def test_access_key_last_used(server, fresh):
    client = iam(server)
    name = f"lu-{fresh.token}"
    ak, sk, _ = make_user(server, name, policy(allow("ssm:DescribeParameters", "*")))
    never = client.get_access_key_last_used(AccessKeyId=ak)
    assert never["UserName"] == name
    assert never["AccessKeyLastUsed"]["ServiceName"] == "N/A" and "LastUsedDate" not in never["AccessKeyLastUsed"]

    as_user(server, "ssm", ak, sk).describe_parameters()

    def used():
        seen = client.get_access_key_last_used(AccessKeyId=ak)["AccessKeyLastUsed"]
        return seen if "LastUsedDate" in seen else None

    seen = wait_until(used, 10, "the key's last use")
    assert (seen["ServiceName"], seen["Region"]) == ("ssm", server.region)
    # The user may ask about its own key; another user may not.
    own = as_user(server, "iam", ak, sk)
    with raises_aws("AccessDenied", status=403):
        own.get_access_key_last_used(AccessKeyId=ak)
    mine_only = policy(allow("iam:GetAccessKeyLastUsed", "arn:aws:iam::*:user/lu2-*"))
    other_ak, other_sk, _ = make_user(server, f"lu2-{fresh.token}", mine_only)
    with raises_aws("AccessDenied", status=403):
        as_user(server, "iam", other_ak, other_sk).get_access_key_last_used(AccessKeyId=ak)
    with raises_aws("NoSuchEntity", status=404):
        client.get_access_key_last_used(AccessKeyId="AKIA" + "Z" * 16)
    client.delete_access_key(UserName=name, AccessKeyId=ak)
    with raises_aws("NoSuchEntity", status=404):
        client.get_access_key_last_used(AccessKeyId=ak)


# --------------------------------------------------------------------------- #
# handing a role to work that acts as it needs iam:PassRole
# --------------------------------------------------------------------------- #


def test_passing_a_role_needs_iam_pass_role(server, fresh):
    role = f"passed-{fresh.token}"
    iam(server).create_role(RoleName=role, AssumeRolePolicyDocument=ssm_trust())
    role_arn = f"arn:aws:iam::{account(server)}:role/{role}"
    name = f"passer-{fresh.token}"
    ak, sk, user_arn = make_user(server, name, policy(allow(["ssm:*"], "*")))
    ssm = as_user(server, "ssm", ak, sk)

    assert_denied(lambda: ssm.create_activation(IamRole=role), user_arn, "iam:PassRole", role_arn)
    window = ssm.create_maintenance_window(Name=f"w-{fresh.token}", Schedule="rate(1 day)", Duration=2, Cutoff=1,
                                           AllowUnassociatedTargets=True)["WindowId"]
    task = dict(WindowId=window, TaskArn="AWS-RunShellScript", TaskType="RUN_COMMAND", MaxConcurrency="1",
                MaxErrors="0", Targets=[{"Key": "InstanceIds", "Values": ["mi-0123456789abcdef0"]}],
                TaskInvocationParameters={"RunCommand": {"Parameters": {"commands": ["true"]}}})
    assert_denied(lambda: ssm.register_task_with_maintenance_window(ServiceRoleArn=role_arn, **task),
                  user_arn, "iam:PassRole", role_arn)
    ssm.register_task_with_maintenance_window(**task)  # no role passed: nothing to check

    attach_new_policy(server, name, policy(allow("iam:PassRole", role_arn)))
    assert ssm.create_activation(IamRole=role)["ActivationId"]
    assert ssm.register_task_with_maintenance_window(ServiceRoleArn=role_arn, **task)["WindowTaskId"]
    # Another role is still not the caller's to pass.
    other = f"arn:aws:iam::{account(server)}:role/other-{fresh.token}"
    assert_denied(lambda: ssm.create_activation(IamRole=f"other-{fresh.token}"), user_arn, "iam:PassRole", other)


# --------------------------------------------------------------------------- #
# 4. a node reads secure parameters as its activation's role
# --------------------------------------------------------------------------- #


def test_node_resolves_secure_parameters_its_role_allows(server, fleet):
    ssm = server.ssm()
    good = fleet.id("good")
    inv = run_on(ssm, good, [f"echo value={{{{ssm-secure:{OK_SECRET}}}}}", f"echo {{{{ssm-secure:{OK_SECRET}}}}} | rev"])
    assert inv["Status"] == "Success", inv
    # the value is masked where it appears verbatim; reversed, it shows the script really had it
    assert inv["StandardOutputContent"] == f"value=***\n{OK_VALUE[::-1]}\n"
    assert OK_VALUE not in json.dumps(inv, default=str)

    for name in (NO_SECRET, "/node/ok/missing"):
        inv = run_on(ssm, good, [f"echo value={{{{ssm-secure:{name}}}}}"])
        assert inv["Status"] == "Failed", inv
        assert f"{SECURE_FAILURE}: {name}" in inv["StandardErrorContent"], inv
        assert inv["StandardOutputContent"] == "", "the script must not run without its secrets"
    assert NO_VALUE not in json.dumps(inv, default=str)

    # both at once: one refused fails the step
    inv = run_on(ssm, good, [f"echo {{{{ssm-secure:{OK_SECRET}}}}} {{{{ssm-secure:{NO_SECRET}}}}}"])
    assert inv["Status"] == "Failed"
    assert f"{SECURE_FAILURE}: {NO_SECRET}" in inv["StandardErrorContent"]


def test_node_without_its_role_in_iam_reads_nothing(server, fleet):
    ssm = server.ssm()
    client = iam(server)
    node = fleet.id("norole")
    assert fleet.role["norole"] == "E2ERole-norole"
    with raises_aws("NoSuchEntity", status=404):
        client.get_role(RoleName="E2ERole-norole")
    inv = run_on(ssm, node, [f"echo value={{{{ssm-secure:{OK_SECRET}}}}}"])
    assert inv["Status"] == "Failed", inv
    assert f"{SECURE_FAILURE}: {OK_SECRET}" in inv["StandardErrorContent"]
    assert inv["StandardOutputContent"] == ""

    # the role appears, allowed to read but not to decrypt: still nothing
    client.create_role(RoleName="E2ERole-norole", AssumeRolePolicyDocument=ssm_trust())
    client.put_role_policy(RoleName="E2ERole-norole", PolicyName="read", PolicyDocument=node_read_policy(kms=False))
    inv = run_on(ssm, node, [f"echo value={{{{ssm-secure:{OK_SECRET}}}}}"])
    assert inv["Status"] == "Failed", inv
    assert f"{SECURE_FAILURE}: {OK_SECRET}" in inv["StandardErrorContent"]

    # with kms:Decrypt as well the node reads what the role allows, and no more
    client.put_role_policy(RoleName="E2ERole-norole", PolicyName="read", PolicyDocument=node_read_policy())
    inv = run_on(ssm, node, [f"echo {{{{ssm-secure:{OK_SECRET}}}}} | rev"])
    assert (inv["Status"], inv["StandardOutputContent"]) == ("Success", f"{OK_VALUE[::-1]}\n"), inv
    inv = run_on(ssm, node, [f"echo {{{{ssm-secure:{NO_SECRET}}}}}"])
    assert inv["Status"] == "Failed"

    # and loses it again with the policy
    client.delete_role_policy(RoleName="E2ERole-norole", PolicyName="read")
    inv = run_on(ssm, node, [f"echo {{{{ssm-secure:{OK_SECRET}}}}}"])
    assert inv["Status"] == "Failed"
    assert f"{SECURE_FAILURE}: {OK_SECRET}" in inv["StandardErrorContent"]


# --------------------------------------------------------------------------- #
# 5. maintenance window tasks run as their ServiceRoleArn
# --------------------------------------------------------------------------- #


def finished_run(ssm, window_id: str) -> dict:
    def probe():
        runs = ssm.describe_maintenance_window_executions(WindowId=window_id)["WindowExecutions"]
        return runs[0] if len(runs) == 1 and runs[0]["Status"] in FINAL_WINDOW else None

    return wait_until(probe, 60, f"the run of {window_id}")


def task_results(ssm, execution_id: str) -> dict[str, dict[str, Any]]:
    """By ServiceRole: the task execution, with its one invocation under ``invocation``."""
    out: dict[str, dict[str, Any]] = {}
    tasks = ssm.describe_maintenance_window_execution_tasks(WindowExecutionId=execution_id)
    for t in tasks["WindowExecutionTaskIdentities"]:
        full = ssm.get_maintenance_window_execution_task(WindowExecutionId=execution_id, TaskId=t["TaskExecutionId"])
        [inv] = ssm.describe_maintenance_window_execution_task_invocations(
            WindowExecutionId=execution_id, TaskId=t["TaskExecutionId"]
        )["WindowExecutionTaskInvocationIdentities"]
        out[full["ServiceRole"]] = {**t, "invocation": inv}
    return out


def test_window_tasks_send_commands_as_their_service_role(server, fleet):
    ssm = server.ssm()
    client = iam(server)
    acct = account(server)
    node = fleet.id("good")
    token = uid()

    sender, idle, absent = f"mw-send-{token}", f"mw-idle-{token}", f"mw-absent-{token}"
    client.create_role(RoleName=sender, AssumeRolePolicyDocument=ssm_trust())
    client.put_role_policy(RoleName=sender, PolicyName="send", PolicyDocument=policy(
        allow("ssm:SendCommand", ["arn:aws:ssm:*::document/AWS-RunShellScript", "arn:aws:ssm:*:*:managed-instance/*"])
    ))
    client.create_role(RoleName=idle, AssumeRolePolicyDocument=ssm_trust())
    client.put_role_policy(RoleName=idle, PolicyName="other", PolicyDocument=policy(
        allow("ssm:GetParameter", "arn:aws:ssm:*:*:parameter/nothing/*")
    ))
    arn_of = lambda name: f"arn:aws:iam::{acct}:role/{name}"
    linked = f"arn:aws:iam::{acct}:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM"

    def window(name: str, roles: list[str]) -> str:
        wid = ssm.create_maintenance_window(
            Name=name, Schedule="cron(0 2 ? * * *)", Duration=2, Cutoff=1, AllowUnassociatedTargets=True
        )["WindowId"]
        for role in roles:
            ssm.register_task_with_maintenance_window(
                WindowId=wid, Targets=[{"Key": "InstanceIds", "Values": [node]}], TaskArn=SHELL,
                TaskType="RUN_COMMAND", Priority=1, MaxConcurrency="1", MaxErrors="0", ServiceRoleArn=role,
                TaskInvocationParameters={"RunCommand": {"Parameters": {"commands": [f"echo as {role}"]}}},
            )
        return wid

    allowed = window(f"allowed-{token}", [arn_of(sender), linked])
    bounded = window(f"bounded-{token}", [arn_of(idle), arn_of(absent)])
    try:
        # both windows share the schedule, so one move of the clock opens both
        open_window(server, ssm, allowed)

        run = finished_run(ssm, allowed)
        assert run["Status"] == "SUCCESS", run
        results = task_results(ssm, run["WindowExecutionId"])
        assert set(results) == {arn_of(sender), linked}
        for role, task in results.items():
            inv = task["invocation"]
            assert (task["Status"], inv["Status"]) == ("SUCCESS", "SUCCESS"), (role, task)
            assert inv["ExecutionId"]
            out = ssm.get_command_invocation(CommandId=inv["ExecutionId"], InstanceId=node)
            assert (out["Status"], out["StandardOutputContent"]) == ("Success", f"as {role}\n")

        run = finished_run(ssm, bounded)
        assert run["Status"] == "FAILED", run
        results = task_results(ssm, run["WindowExecutionId"])
        assert set(results) == {arn_of(idle), arn_of(absent)}
        for role, task in results.items():
            inv = task["invocation"]
            assert (task["Status"], inv["Status"]) == ("FAILED", "FAILED"), (role, task)
            details = inv.get("StatusDetails", "")
            name = role.rsplit("/", 1)[-1]
            assert "not authorized" in details, details
            assert f"assumed-role/{name}/" in details and "ssm:SendCommand" in details, details
            assert not inv.get("ExecutionId"), "no command may be sent for a refused task"
        # nothing ran on the node for the refused tasks
        sent = collect(ssm.list_commands, "Commands", InstanceId=node)
        commands = [c["Parameters"]["commands"][0] for c in sent if c["DocumentName"] == SHELL]
        for role in (idle, absent):
            assert f"echo as {arn_of(role)}" not in commands
    finally:
        for wid in (allowed, bounded):
            ssm.delete_maintenance_window(WindowId=wid)
