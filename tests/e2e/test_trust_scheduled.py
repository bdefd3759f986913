"""Scheduled work runs as someone, never as the server: tried as a limited IAM user would.

A user allowed to create associations and maintenance windows, and to run commands on node
``a`` only, tries to reach node ``b`` through them.  Each run is authorised as the user at
run time: the run on ``b`` fails with the AccessDenied reason where the user looks
(DescribeAssociationExecutions, the window's task invocation) and nothing runs on ``b``.
A user who loses the permission, or is deleted, stops reaching even ``a``.

Also here: ``{{ssm:NAME}}`` in a command needs ``ssm:GetParameter`` on NAME for whoever
sends it, and a parameter asked for with a selector (``name:3``, ``name:label``, its ARN
with either) is checked as the parameter itself, so a Deny cannot be stepped around.

Fleet (tags):  a team=a   b team=b
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Fleet, raises_aws, start_fleet, wait_until
from test_iam import allow, as_user, assert_denied, deny, iam, make_user, param_arn, policy, uid
from test_windows_more import execution_tasks, invocations, only_execution, open_window

SHELL = "AWS-RunShellScript"
FINAL_ASSOC = {"Success", "Failed"}


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1", "--test-clock"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    tags = {"a": {"team": "a"}, "b": {"team": "b"}}
    return start_fleet(server, agent_factory, tags, env_for=lambda name: {"E2E_NODE": name})


def node_arn(server, instance_id: str) -> str:
    from test_iam import account

    return f"arn:aws:ssm:{server.region}:{account(server)}:managed-instance/{instance_id}"


def doc_arn(server, name: str) -> str:
    return f"arn:aws:ssm:{server.region}::document/{name}"


def scheduler_user(server, fleet, *, path: str = "/"):
    """A user who may set up associations and windows, and run the shell document on node a."""
    doc = policy(
        allow(["ssm:*Association*", "ssm:*MaintenanceWindow*", "ssm:ListCommand*", "ssm:GetCommandInvocation"], "*"),
        allow("ssm:SendCommand", [doc_arn(server, SHELL), node_arn(server, fleet.id("a"))]),
    )
    name = f"sched-{uid()}"
    ak, sk, arn = make_user(server, name, doc, path=path)
    return name, arn, as_user(server, "ssm", ak, sk)


def marker_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def last_execution(ssm, association_id: str, count: int = 1, timeout: float = 45) -> dict:
    """The newest run of the association, once there are ``count`` runs and it is over."""

    def probe():
        runs = ssm.describe_association_executions(AssociationId=association_id)["AssociationExecutions"]
        runs.sort(key=lambda r: r["CreatedTime"])
        if len(runs) >= count and runs[-1]["Status"] in FINAL_ASSOC:
            return runs[-1]
        return None

    return wait_until(probe, timeout, f"run {count} of association {association_id}")


# --------------------------------------------------------------------------- #
# associations
# --------------------------------------------------------------------------- #


def test_association_cannot_reach_a_node_its_creator_may_not(server, fleet, tmp_path):
    _, user, ssm = scheduler_user(server, fleet)
    marker = tmp_path / "ran"
    script = {"commands": [f"echo $E2E_NODE >> {marker}"]}

    # The user's own node: runs.
    ok = ssm.create_association(Name=SHELL, Targets=[{"Key": "tag:team", "Values": ["a"]}], Parameters=script)
    run = last_execution(ssm, ok["AssociationDescription"]["AssociationId"])
    assert run["Status"] == "Success", run
    assert marker_lines(marker) == ["a"]

    # Node b, by tag and by id: the creation is accepted (targets resolve later), every run
    # is refused as the user, with IAM's reason, and b never runs anything.
    for targets in ([{"Key": "tag:team", "Values": ["b"]}], [{"Key": "InstanceIds", "Values": [fleet.id("b")]}]):
        bad = ssm.create_association(Name=SHELL, Targets=targets, Parameters=script)
        run = last_execution(ssm, bad["AssociationDescription"]["AssociationId"])
        assert run["Status"] == "Failed", run
        assert run["DetailedStatus"].startswith(f"User: {user} is not authorized to perform: ssm:SendCommand")
        assert node_arn(server, fleet.id("b")) in run["DetailedStatus"]

    # Both teams at once: the whole run is refused, as SendCommand to both would be.
    both = ssm.create_association(Name=SHELL, Targets=[{"Key": "tag:team", "Values": ["a", "b"]}], Parameters=script)
    run = last_execution(ssm, both["AssociationDescription"]["AssociationId"])
    assert run["Status"] == "Failed"
    assert "ssm:SendCommand" in run["DetailedStatus"] and node_arn(server, fleet.id("b")) in run["DetailedStatus"]
    status = server.ssm().describe_instance_associations_status(InstanceId=fleet.id("b"))
    assert all(s["Status"] == "Failed" for s in status["InstanceAssociationStatusInfos"]), status
    assert marker_lines(marker) == ["a"], "node b must never run the user's script"


def test_a_creator_who_loses_the_permission_or_is_deleted_stops_reaching_the_node(server, fleet, tmp_path):
    name, user, ssm = scheduler_user(server, fleet)
    marker = tmp_path / "ran"
    created = ssm.create_association(
        Name=SHELL, Targets=[{"Key": "tag:team", "Values": ["a"]}], Parameters={"commands": [f"echo x >> {marker}"]}
    )
    association = created["AssociationDescription"]["AssociationId"]
    assert last_execution(ssm, association)["Status"] == "Success"
    assert marker_lines(marker) == ["x"]

    root = server.ssm()
    client = iam(server)
    # An explicit Deny added later holds for the next run.
    client.put_user_policy(
        UserName=name, PolicyName="no-more", PolicyDocument=policy(deny("ssm:SendCommand", "*"))
    )
    root.start_associations_once(AssociationIds=[association])
    run = last_execution(root, association, count=2)
    assert run["Status"] == "Failed"
    assert "with an explicit deny" in run["DetailedStatus"]

    # Deleted: the run names the user as gone.
    client.delete_user_policy(UserName=name, PolicyName="no-more")
    for key in client.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        client.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    for attached in client.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
        client.detach_user_policy(UserName=name, PolicyArn=attached["PolicyArn"])
    client.delete_user(UserName=name)
    root.start_associations_once(AssociationIds=[association])
    run = last_execution(root, association, count=3)
    assert run["Status"] == "Failed"
    assert run["DetailedStatus"] == f"User: {user} no longer exists."
    assert marker_lines(marker) == ["x"]

    # Someone else created under the same name, with the same rights, is not the creator.
    make_user(server, name, policy(allow("ssm:SendCommand", "*")))
    root.start_associations_once(AssociationIds=[association])
    run = last_execution(root, association, count=4)
    assert run["Status"] == "Failed" and run["DetailedStatus"] == f"User: {user} no longer exists."
    assert marker_lines(marker) == ["x"]

    # Root takes it over by updating it: the update records the new principal.
    root.update_association(AssociationId=association, Parameters={"commands": [f"echo root >> {marker}"]})
    assert last_execution(root, association, count=5)["Status"] == "Success"
    assert marker_lines(marker) == ["x", "root"]


def test_ssm_references_need_get_parameter_for_the_sender(server, fleet, tmp_path):
    _, user, ssm = scheduler_user(server, fleet)
    name = f"/trust/{uid()}/greeting"
    server.ssm().put_parameter(Name=name, Value="hello", Type="String")
    params = {"commands": [f"echo {{{{ssm:{name}}}}}"]}
    for call in (
        lambda: ssm.send_command(DocumentName=SHELL, InstanceIds=[fleet.id("a")], Parameters=params),
        lambda: ssm.create_association(Name=SHELL, Targets=[{"Key": "tag:team", "Values": ["a"]}], Parameters=params),
    ):
        assert_denied(call, user, "ssm:GetParameter", param_arn(server, name))


# --------------------------------------------------------------------------- #
# parameters asked for with a selector
# --------------------------------------------------------------------------- #


def test_a_deny_on_a_parameter_holds_for_every_way_of_naming_it(server):
    name = f"/trust/{uid()}/secret"
    root = server.ssm()
    root.put_parameter(Name=name, Value="v1", Type="String")
    root.put_parameter(Name=name, Value="v2", Type="String", Overwrite=True)
    root.label_parameter_version(Name=name, ParameterVersion=1, Labels=["prod"])
    arn = param_arn(server, name)
    doc = policy(allow(["ssm:GetParameter", "ssm:GetParameters"], "*"), deny("ssm:GetParameter*", arn))
    ak, sk, user = make_user(server, f"sel-{uid()}", doc, path="/ops/")
    assert ":user/ops/" in user
    ssm = as_user(server, "ssm", ak, sk)
    for asked in (name, f"{name}:1", f"{name}:prod", arn, f"{arn}:1", f"{arn}:prod"):
        assert_denied(lambda: ssm.get_parameter(Name=asked), user, "ssm:GetParameter", arn, explicit=True)
        assert_denied(lambda: ssm.get_parameters(Names=[asked]), user, "ssm:GetParameters", arn, explicit=True)
    # Another parameter stays readable with a selector.
    other = f"/trust/{uid()}/open"
    root.put_parameter(Name=other, Value="o", Type="String")
    assert ssm.get_parameter(Name=f"{other}:1")["Parameter"]["Value"] == "o"


# --------------------------------------------------------------------------- #
# maintenance windows (these move the test clock, so they come last)
# --------------------------------------------------------------------------- #


def test_window_task_without_a_role_runs_as_its_registrant(server, fleet, tmp_path):
    _, user, ssm = scheduler_user(server, fleet)
    marker = tmp_path / "ran"
    window = ssm.create_maintenance_window(
        Name=f"trust-{uid()}", Schedule="cron(0 3 ? * * *)", Duration=3, Cutoff=1, AllowUnassociatedTargets=True
    )["WindowId"]
    for node, priority in (("b", 1), ("a", 2)):
        ssm.register_task_with_maintenance_window(
            WindowId=window,
            Targets=[{"Key": "InstanceIds", "Values": [fleet.id(node)]}],
            TaskArn=SHELL,
            TaskType="RUN_COMMAND",
            Priority=priority,
            MaxConcurrency="1",
            MaxErrors="1",
            TaskInvocationParameters={"RunCommand": {"Parameters": {"commands": [f"echo $E2E_NODE >> {marker}"]}}},
        )
    open_window(server, ssm, window)
    run = only_execution(ssm, window)
    tasks = sorted(execution_tasks(ssm, run["WindowExecutionId"]), key=lambda t: t["StartTime"])
    refused = [
        inv
        for task in tasks
        for inv in invocations(ssm, run["WindowExecutionId"], task["TaskExecutionId"])
        if inv["Status"] == "FAILED"
    ]
    assert len(refused) == 1, tasks
    assert refused[0]["StatusDetails"].startswith(f"User: {user} is not authorized to perform: ssm:SendCommand")
    assert node_arn(server, fleet.id("b")) in refused[0]["StatusDetails"]
    wait_until(lambda: marker_lines(marker) == ["a"] or None, 30, "node a runs its task")
    assert marker_lines(marker) == ["a"], "node b must never run the user's task"
