"""Policies over nodes and secrets, end to end with real agents: a user may run commands
only on nodes whose Team tag is the user's own (`${aws:PrincipalTag/Team}` against
`ssm:resourceTag/Team`), and reading a SecureString in clear needs `kms:Decrypt` too."""

from __future__ import annotations

import uuid

import pytest

from conftest import FLEET_HEARTBEAT, raises_aws, start_fleet, wait_until
from test_iam import as_user, make_user

TEAMS = {"red": {"Team": "red"}, "blue": {"Team": "blue"}}


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", str(FLEET_HEARTBEAT)))


@pytest.fixture(scope="module")
def fleet(server, agent_factory):
    return start_fleet(server, agent_factory, TEAMS)


def team_policy() -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ssm:SendCommand",
             "Resource": "arn:aws:ssm:*::document/AWS-RunShellScript"},
            {"Effect": "Allow", "Action": "ssm:SendCommand", "Resource": "arn:aws:ssm:*:*:managed-instance/*",
             "Condition": {"StringEquals": {"ssm:resourceTag/Team": "${aws:PrincipalTag/Team}"}}},
            {"Effect": "Allow", "Action": ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations"],
             "Resource": "*"},
        ],
    }


def test_commands_only_to_nodes_of_the_users_team(server, fleet):
    name = f"red-{uuid.uuid4().hex[:6]}"
    ak, sk, arn = make_user(server, name, team_policy(), tags={"Team": "red"})
    ssm = as_user(server, "ssm", ak, sk)
    red, blue = fleet.id("red"), fleet.id("blue")
    params = {"commands": ["echo from-red-team"]}

    cid = ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[red], Parameters=params)
    cid = cid["Command"]["CommandId"]

    def finished():
        inv = ssm.get_command_invocation(CommandId=cid, InstanceId=red)
        return inv if inv["Status"] not in ("Pending", "InProgress", "Delayed") else None

    inv = wait_until(finished, 30, "the command on the red node")
    assert (inv["Status"], inv["StandardOutputContent"]) == ("Success", "from-red-team\n")

    blue_arn = f"arn:aws:ssm:{server.region}:{server.account_id}:managed-instance/{blue}"
    with raises_aws("AccessDeniedException") as denied:
        ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[blue], Parameters=params)
    message = denied.value.response["Error"]["Message"]
    assert message.startswith(f"User: {arn} is not authorized to perform: ssm:SendCommand on resource: {blue_arn}")
    # Targets resolve to nodes, and each is checked.
    with raises_aws("AccessDeniedException"):
        ssm.send_command(DocumentName="AWS-RunShellScript", Targets=[{"Key": "tag:Team", "Values": ["blue"]}],
                         Parameters=params)
    with raises_aws("AccessDeniedException"):
        ssm.send_command(DocumentName="AWS-RunShellScript", Targets=[{"Key": "tag-key", "Values": ["Team"]}],
                         Parameters=params)
    ok = ssm.send_command(DocumentName="AWS-RunShellScript", Targets=[{"Key": "tag:Team", "Values": ["red"]}],
                          Parameters=params)
    assert ok["Command"]["TargetCount"] == 1
    # Another document is not allowed at all.
    with raises_aws("AccessDeniedException"):
        ssm.send_command(DocumentName="AWS-RunPowerShellScript", InstanceIds=[red], Parameters=params)


def test_secure_string_needs_kms_decrypt(server):
    name = f"/sec-{uuid.uuid4().hex[:6]}/db"
    server.ssm().put_parameter(Name=name, Value="hunter2-secret", Type="SecureString")
    key_arn = server.kms().describe_key(KeyId="alias/aws/ssm")["KeyMetadata"]["Arn"]
    read_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter",
                       "Resource": f"arn:aws:ssm:*:*:parameter{name}"}],
    }
    ak, sk, arn = make_user(server, f"reader-{uuid.uuid4().hex[:6]}", read_only)
    ssm = as_user(server, "ssm", ak, sk)
    sealed = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    assert "hunter2" not in sealed
    with raises_aws("AccessDeniedException") as denied:
        ssm.get_parameter(Name=name, WithDecryption=True)
    assert f"kms:Decrypt on resource: {key_arn}" in denied.value.response["Error"]["Message"]

    with_kms = {
        "Version": "2012-10-17",
        "Statement": read_only["Statement"] + [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn}],
    }
    ak2, sk2, _ = make_user(server, f"decrypter-{uuid.uuid4().hex[:6]}", with_kms)
    clear = as_user(server, "ssm", ak2, sk2).get_parameter(Name=name, WithDecryption=True)
    assert clear["Parameter"]["Value"] == "hunter2-secret"
