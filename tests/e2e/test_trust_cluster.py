"""One truth across servers sharing a PostgreSQL store, tried as a user whose access was
taken away through the *other* server: a deactivated or deleted access key, and a policy
removed, stop working on every server within seconds (each server rereads what it cached).
And the node's side: a command cancelled through the server the node is not connected to
stops on the node, and a node deregistered through it is cut off by the server holding
its channel.
"""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

from conftest import instance_info, server_pair, start_fleet, wait_until
from test_commands import invocations, send, wait_command
from test_iam import allow, as_user, iam, make_user, policy, uid

from test_sessions_cluster import pair  # noqa: F401 (a fixture: (front, home), nodes on home)


@pytest.fixture(scope="module")
def fleet(pair, agent_factory):
    _, home = pair
    return start_fleet(home, agent_factory, {"t0": {"role": "cluster-trust"}})


def refused(call) -> bool:
    try:
        call()
    except ClientError as e:
        return 400 <= e.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    return False


def test_key_and_policy_changes_on_one_server_hold_on_the_other(backend, tmp_path_factory):
    with server_pair(backend, tmp_path_factory, ()) as (a, b):
        name = f"cluster-{uid()}"
        ak, sk, _ = make_user(a, name, policy(allow("ssm:DescribeParameters", "*")))
        on_b = as_user(b, "ssm", ak, sk)
        on_b.describe_parameters()  # b has the key and the policies cached now

        # A policy detached through a: b refuses soon after.
        client = iam(a)
        (attached,) = client.list_attached_user_policies(UserName=name)["AttachedPolicies"]
        client.detach_user_policy(UserName=name, PolicyArn=attached["PolicyArn"])
        wait_until(lambda: refused(on_b.describe_parameters), 5, "b applying the detached policy")
        client.attach_user_policy(UserName=name, PolicyArn=attached["PolicyArn"])
        wait_until(lambda: not refused(on_b.describe_parameters), 5, "b applying the policy again")

        # The key deactivated through a: b refuses it.
        client.update_access_key(UserName=name, AccessKeyId=ak, Status="Inactive")
        wait_until(lambda: refused(on_b.describe_parameters), 5, "b refusing the deactivated key")
        client.update_access_key(UserName=name, AccessKeyId=ak, Status="Active")
        wait_until(lambda: not refused(on_b.describe_parameters), 5, "b accepting the key again")

        # Deleted through a: b refuses it for good.
        client.delete_access_key(UserName=name, AccessKeyId=ak)
        wait_until(lambda: refused(on_b.describe_parameters), 5, "b refusing the deleted key")


def test_cancel_through_the_other_server_stops_the_command_on_the_node(pair, fleet):
    front, home = pair
    node = fleet.id("t0")
    marker = f"/tmp/steward-cancel-{uid()}"
    cmd = send(front.ssm(), [f"echo $$ > {marker}; sleep 60"], ids=[node])
    wait_until(lambda: os.path.exists(marker) and open(marker).read().strip(), 15, "the node running the command")
    pid = int(open(marker).read())
    front.ssm().cancel_command(CommandId=cmd["CommandId"])
    done = wait_command(front.ssm(), cmd["CommandId"], timeout=15)
    assert done["Status"] == "Cancelled", done
    assert invocations(home.ssm(), cmd["CommandId"])[node]["Status"] == "Cancelled"
    wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10, "the cancelled command's shell killed")
    os.unlink(marker)


def test_deregistering_through_the_other_server_cuts_the_node_off(pair, fleet):
    """Last in the module: the node is gone afterwards."""
    front, home = pair
    node = fleet.id("t0")
    front.ssm().deregister_managed_instance(InstanceId=node)
    wait_until(
        lambda: "Node deregistered through another server" in home.log_text(),
        10,
        "the server holding the node's channel ending it",
    )
    assert instance_info(home.ssm(), node) is None
    assert instance_info(front.ssm(), node) is None
