"""IAM sees what a caller really touches, tried as a limited user would.

- AttachUserPolicy (and the group and role forms) acts on the identity, with the policy as
  the ``iam:PolicyARN`` condition key: a user allowed to attach one read-only policy to
  users under ``/team/`` can neither attach another policy nor reach users elsewhere.
- ARNs carry their path: a policy naming ``user/team/*`` covers the team's users, and a
  role session's ``aws:PrincipalArn`` is its role's ARN with the role's path.
- The audit trail names path-carrying users by their full ARN.
- The Session Manager preferences document is the account's resource: a Deny on it holds.
"""

from __future__ import annotations

import json

from conftest import raises_aws, wait_until
from test_iam import (
    account,
    allow,
    as_user,
    assert_denied,
    create_policy,
    denial,
    deny,
    iam,
    make_user,
    policy,
    trust,
    uid,
)


def iam_denied(call, principal: str, action: str, resource: str) -> None:
    """``call`` is refused as IAM refuses: AccessDenied, HTTP 403, naming the resource."""
    with raises_aws("AccessDenied", status=403) as refused:
        call()
    assert refused.value.response["Error"]["Message"] == denial(principal, action, resource)


def user_path_arn(server, path: str, name: str) -> str:
    return f"arn:aws:iam::{account(server)}:user{path}{name}"


def test_attach_policy_is_checked_on_the_identity_with_the_policy_as_condition(server):
    token = uid()
    readonly = create_policy(server, policy(allow("ssm:DescribeParameters", "*")), f"ro-{token}")
    admin = create_policy(server, policy(allow("*", "*")), f"admin-{token}")
    team = f"/team{token}/"
    doc = policy(
        allow(
            "iam:AttachUserPolicy",
            f"arn:aws:iam::{account(server)}:user{team}*",
            {"ArnEquals": {"iam:PolicyARN": readonly}},
        )
    )
    ak, sk, me = make_user(server, f"delegate-{token}", doc, path=team)
    client = as_user(server, "iam", ak, sk)
    root = iam(server)
    bob = f"bob-{token}"
    carol = f"carol-{token}"
    root.create_user(UserName=bob, Path=team)
    root.create_user(UserName=carol, Path="/elsewhere/")

    # The allowed policy, to a user under the team's path.
    client.attach_user_policy(UserName=bob, PolicyArn=readonly)
    attached = root.list_attached_user_policies(UserName=bob)["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [readonly]

    # Any other policy, even to the team (or to the caller itself): refused on the user.
    for target in (bob, f"delegate-{token}"):
        iam_denied(
            lambda: client.attach_user_policy(UserName=target, PolicyArn=admin),
            me,
            "iam:AttachUserPolicy",
            user_path_arn(server, team, target),
        )
    # The allowed policy to a user outside the path: refused.
    iam_denied(
        lambda: client.attach_user_policy(UserName=carol, PolicyArn=readonly),
        me,
        "iam:AttachUserPolicy",
        user_path_arn(server, "/elsewhere/", carol),
    )
    assert root.list_attached_user_policies(UserName=carol)["AttachedPolicies"] == []
    assert [a["PolicyArn"] for a in root.list_attached_user_policies(UserName=bob)["AttachedPolicies"]] == [readonly]


def test_a_role_session_is_its_role_with_its_path_as_principal_arn(server):
    token = uid()
    root = iam(server)
    ak, sk, me = make_user(server, f"assumer-{token}", policy(allow("sts:AssumeRole", "*")))
    path = f"/svc{token}/"
    role = f"reader-{token}"
    role_arn = root.create_role(RoleName=role, Path=path, AssumeRolePolicyDocument=trust(me))["Role"]["Arn"]
    assert role_arn == f"arn:aws:iam::{account(server)}:role{path}{role}"
    # Allowed only to principals under the role path.
    root.put_role_policy(
        RoleName=role,
        PolicyName="by-path",
        PolicyDocument=policy(
            allow(
                "ssm:DescribeParameters",
                "*",
                {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{account(server)}:role{path}*"}},
            )
        ),
    )
    sts = as_user(server, "sts", ak, sk)

    def assume():
        try:
            return sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")["Credentials"]
        except Exception:  # the trust policy may take a moment to be read by every cache
            return None

    creds = wait_until(assume, 10, "the role can be assumed")
    ssm = as_user(server, "ssm", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert "Parameters" in ssm.describe_parameters()


def test_the_audit_trail_names_a_user_by_its_arn_with_path(server):
    token = uid()
    path = f"/ops{token}/"
    ak, sk, me = make_user(server, f"alice-{token}", policy(allow("ssm:DescribeParameters", "*")), path=path)
    assert me == f"arn:aws:iam::{account(server)}:user{path}alice-{token}"
    as_user(server, "ssm", ak, sk).describe_parameters()
    trail = server.client("cloudtrail")

    def mine():
        events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": ak}])
        return [json.loads(e["CloudTrailEvent"]) for e in events["Events"]] or None

    (event, *_) = wait_until(mine, 15, "the call in the audit trail")
    assert event["userIdentity"]["arn"] == me
    assert event["userIdentity"]["type"] == "IAMUser"


def test_the_session_preferences_document_is_the_accounts_resource(server):
    token = uid()
    doc_arn = f"arn:aws:ssm:{server.region}:{account(server)}:document/SSM-SessionManagerRunShell"
    doc = policy(
        allow(["ssm:CreateDocument", "ssm:UpdateDocument", "ssm:GetDocument"], "*"),
        deny(["ssm:CreateDocument", "ssm:UpdateDocument"], doc_arn),
    )
    ak, sk, me = make_user(server, f"prefs-{token}", doc)
    ssm = as_user(server, "ssm", ak, sk)
    content = json.dumps(
        {
            "schemaVersion": "1.0",
            "description": "Session Manager preferences",
            "sessionType": "Standard_Stream",
            "inputs": {"idleSessionTimeout": "1", "runAsEnabled": True, "runAsDefaultUser": "root"},
        }
    )
    assert_denied(
        lambda: ssm.create_document(Name="SSM-SessionManagerRunShell", Content=content, DocumentType="Session"),
        me,
        "ssm:CreateDocument",
        doc_arn,
        explicit=True,
    )
    assert_denied(
        lambda: ssm.update_document(Name="SSM-SessionManagerRunShell", Content=content, DocumentVersion="$LATEST"),
        me,
        "ssm:UpdateDocument",
        doc_arn,
        explicit=True,
    )
    # Other documents of the account stay the user's to create.
    other = json.dumps({"schemaVersion": "2.2", "description": "x", "mainSteps": [
        {"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": ["true"]}}]})
    ssm.create_document(Name=f"e2e-ok-{token}", Content=other, DocumentType="Command")
