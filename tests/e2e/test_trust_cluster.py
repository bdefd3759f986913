"""One truth across servers sharing a PostgreSQL store, tried as a user whose access was
taken away through the *other* server: a deactivated or deleted access key, and a policy
removed, stop working on every server within seconds (each server rereads what it cached).
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from conftest import server_pair, wait_until
from test_iam import allow, as_user, iam, make_user, policy, uid


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
