"""State Manager end to end: associations applied at creation, on their schedule (with the
test clock moved forward), to nodes that join later, with per-node status, execution
history and compliance; driven with boto3 and the aws CLI against real agents.

Fleet (tags):  a0 role=web   a1 role=web   a2 role=db
Scripts write under the test's tmp_path, one file per node (``$E2E_NODE``), so the tests
see on disk what ran where.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import Fleet, create_activation, raises_aws, start_fleet, wait_ping, wait_until

TAGS = {"a0": {"role": "web"}, "a1": {"role": "web"}, "a2": {"role": "db"}}
WEB = [{"Key": "tag:role", "Values": ["web"]}]


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1", "--test-clock"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, TAGS, env_for=lambda name: {"E2E_NODE": name})


@pytest.fixture()
def ssm(server, fleet):
    client = server.ssm()
    yield client
    # Each test leaves no association behind to run in the next one.
    for a in client.list_associations()["Associations"]:
        client.delete_association(AssociationId=a["AssociationId"])


def ensure_file(directory: Path, text: str = "ok") -> dict:
    """AWS-RunShellScript parameters that (re)create ``directory/$E2E_NODE`` if missing."""
    script = f'mkdir -p {directory}; f={directory}/$E2E_NODE; test -f "$f" || echo {text} > "$f"; cat "$f"'
    return {"commands": [script]}


def overview(ssm, association_id: str) -> dict:
    return ssm.describe_association(AssociationId=association_id)["AssociationDescription"]["Overview"]


def wait_overview(ssm, association_id: str, status: str, count: int, timeout: float = 40) -> dict:
    def done():
        o = overview(ssm, association_id)
        return o if o["Status"] == status and o.get("AssociationStatusAggregatedCount", {}).get(status) == count else None

    return wait_until(done, timeout, f"association {association_id} {status} on {count} nodes")


def executions(ssm, association_id: str) -> list[dict]:
    return ssm.describe_association_executions(AssociationId=association_id)["AssociationExecutions"]


def test_applied_at_creation_then_repaired_on_its_rate(server, ssm, fleet, tmp_path):
    created = ssm.create_association(
        Name="AWS-RunShellScript",
        Targets=WEB,
        Parameters=ensure_file(tmp_path),
        ScheduleExpression="rate(30 minutes)",
        AssociationName="keep-marker",
        ComplianceSeverity="HIGH",
    )["AssociationDescription"]
    aid = created["AssociationId"]
    assert created["AssociationVersion"] == "1"
    assert created["Overview"]["Status"] == "Pending"
    wait_overview(ssm, aid, "Success", 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a0", "a1"]

    # Drift: the file goes; the next scheduled run (30 minutes on) puts it back.
    (tmp_path / "a0").unlink()
    server.advance_clock(30 * 60 + 1)
    wait_until(lambda: (tmp_path / "a0").exists(), 40, "a0's file restored by the scheduled run")
    wait_until(lambda: len(executions(ssm, aid)) == 2 and all(e["Status"] == "Success" for e in executions(ssm, aid)),
               40, "two successful executions")
    newest = executions(ssm, aid)[0]
    assert newest["ResourceCountByStatus"] == "{Success=2}"
    targets = ssm.describe_association_execution_targets(AssociationId=aid, ExecutionId=newest["ExecutionId"])[
        "AssociationExecutionTargets"
    ]
    assert sorted(t["ResourceId"] for t in targets) == sorted([fleet.id("a0"), fleet.id("a1")])
    assert {t["OutputSource"]["OutputSourceType"] for t in targets} == {"RunCommand"}

    status = ssm.describe_instance_associations_status(InstanceId=fleet.id("a0"))["InstanceAssociationStatusInfos"]
    mine = [s for s in status if s["AssociationId"] == aid]
    assert mine and mine[0]["Status"] == "Success" and mine[0]["AssociationName"] == "keep-marker"

    items = ssm.list_compliance_items(ResourceIds=[fleet.id("a1")], ResourceTypes=["ManagedInstance"])[
        "ComplianceItems"
    ]
    assoc_items = [i for i in items if i["ComplianceType"] == "Association" and i["Id"] == aid]
    assert assoc_items[0]["Status"] == "COMPLIANT" and assoc_items[0]["Severity"] == "HIGH"

    # Association runs are State Manager's, not Run Command history.
    assert all(not c["Comment"].startswith("State Manager") for c in ssm.list_commands()["Commands"])


def test_a_node_that_joins_later_gets_the_association(server, ssm, fleet, agent_factory, tmp_path):
    aid = ssm.create_association(
        Name="AWS-RunShellScript", Targets=[{"Key": "tag:role", "Values": ["cache"]}], Parameters=ensure_file(tmp_path)
    )["AssociationDescription"]["AssociationId"]
    time.sleep(2)
    assert not any(tmp_path.iterdir()), "no node is tagged role=cache yet"
    act_id, code = create_activation(ssm, name="late", tags={"role": "cache"}, role="E2ERole-late")
    agent = agent_factory("late", env={"E2E_NODE": "late"})
    agent.register(server.url, act_id, code)
    agent.start()
    wait_ping(ssm, [agent.instance_id], "Online", timeout=30)
    wait_until(lambda: (tmp_path / "late").exists(), 60, "the new node applying the association")
    wait_overview(ssm, aid, "Success", 1)
    agent.stop()
    ssm.deregister_managed_instance(InstanceId=agent.instance_id)


def test_failures_are_non_compliant_with_the_association_severity(ssm, fleet):
    aid = ssm.create_association(
        Name="AWS-RunShellScript",
        Targets=[{"Key": "tag:role", "Values": ["db"]}],
        Parameters={"commands": ["echo broken >&2; exit 3"]},
        ComplianceSeverity="CRITICAL",
    )["AssociationDescription"]["AssociationId"]
    wait_overview(ssm, aid, "Failed", 1)
    info = [
        s
        for s in ssm.describe_instance_associations_status(InstanceId=fleet.id("a2"))["InstanceAssociationStatusInfos"]
        if s["AssociationId"] == aid
    ][0]
    assert info["Status"] == "Failed" and info["ErrorCode"] == "3"
    rows = ssm.list_resource_compliance_summaries(
        Filters=[{"Key": "ComplianceType", "Values": ["Association"], "Type": "EQUAL"}]
    )["ResourceComplianceSummaryItems"]
    a2 = [r for r in rows if r["ResourceId"] == fleet.id("a2")][0]
    assert a2["Status"] == "NON_COMPLIANT" and a2["OverallSeverity"] == "CRITICAL"
    summary = ssm.list_compliance_summaries()["ComplianceSummaryItems"]
    assoc = [s for s in summary if s["ComplianceType"] == "Association"][0]
    assert assoc["NonCompliantSummary"]["NonCompliantCount"] >= 1


def test_updates_make_versions_and_apply_only_at_cron_interval_waits(ssm, fleet, tmp_path):
    aid = ssm.create_association(
        Name="AWS-RunShellScript",
        Targets=WEB,
        Parameters=ensure_file(tmp_path),
        ScheduleExpression="cron(0 4 ? * SUN *)",
        ApplyOnlyAtCronInterval=True,
    )["AssociationDescription"]["AssociationId"]
    time.sleep(2)
    assert not any(tmp_path.iterdir()), "ApplyOnlyAtCronInterval: nothing runs at creation"
    assert executions(ssm, aid) == []
    updated = ssm.update_association(
        AssociationId=aid, Parameters=ensure_file(tmp_path, "v2"), AssociationVersion="1"
    )["AssociationDescription"]
    assert updated["AssociationVersion"] == "2"
    assert "ScheduleExpression" not in updated, "UpdateAssociation resets what it is not given, as SSM does"
    wait_overview(ssm, aid, "Success", 2)
    assert (tmp_path / "a0").read_text().strip() == "v2"
    versions = ssm.list_association_versions(AssociationId=aid)["AssociationVersions"]
    assert [v["AssociationVersion"] for v in versions] == ["1", "2"]
    assert versions[0]["ScheduleExpression"] == "cron(0 4 ? * SUN *)"
    v1 = ssm.describe_association(AssociationId=aid, AssociationVersion="1")["AssociationDescription"]
    assert v1["ApplyOnlyAtCronInterval"] is True
    with raises_aws("InvalidAssociationVersion"):
        ssm.update_association(AssociationId=aid, AssociationVersion="1", Parameters=ensure_file(tmp_path))


def test_start_associations_once_runs_again_now(ssm, fleet, tmp_path):
    aid = ssm.create_association(Name="AWS-RunShellScript", Targets=WEB, Parameters=ensure_file(tmp_path))[
        "AssociationDescription"
    ]["AssociationId"]
    wait_overview(ssm, aid, "Success", 2)
    (tmp_path / "a1").unlink()
    ssm.start_associations_once(AssociationIds=[aid])
    wait_until(lambda: (tmp_path / "a1").exists(), 40, "a1's file restored by StartAssociationsOnce")
    with raises_aws("AssociationDoesNotExist"):
        ssm.start_associations_once(AssociationIds=["00000000-0000-0000-0000-000000000000"])


def test_the_cli_lists_and_describes(server, ssm, fleet, tmp_path):
    aid = ssm.create_association(
        Name="AWS-RunShellScript", Targets=WEB, Parameters=ensure_file(tmp_path), AssociationName="cli-seen"
    )["AssociationDescription"]["AssociationId"]
    listed = server.aws(
        "ssm", "list-associations", "--association-filter-list", "key=AssociationName,value=cli-seen"
    )["Associations"]
    assert [a["AssociationId"] for a in listed] == [aid]
    described = server.aws("ssm", "describe-association", "--association-id", aid)["AssociationDescription"]
    assert described["Name"] == "AWS-RunShellScript"
    server.aws("ssm", "delete-association", "--association-id", aid)
    with raises_aws("AssociationDoesNotExist"):
        ssm.describe_association(AssociationId=aid)


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"ScheduleExpression": "rate(5 minutes)"}, "InvalidSchedule"),
        ({"ScheduleExpression": "cron(0/10 * * * ? *)"}, "InvalidSchedule"),
        ({"ScheduleExpression": "at(2030-01-01T00:00:00)"}, "InvalidSchedule"),
        ({"ScheduleExpression": "cron(0 4 * * MON *)"}, "InvalidSchedule"),
        ({"ScheduleExpression": "every day"}, "InvalidSchedule"),
        ({"ScheduleOffset": 2}, "ValidationException"),
        ({"ScheduleExpression": "rate(1 hour)", "ScheduleOffset": 2}, "ValidationException"),
        ({"ApplyOnlyAtCronInterval": True}, "ValidationException"),
        ({"Name": "NoSuchDocument-xyz"}, "InvalidDocument"),
        ({"Parameters": {"nosuch": ["x"]}}, "InvalidParameters"),
        ({"Targets": [{"Key": "resource-groups:Name", "Values": ["g"]}]}, "InvalidTarget"),
        ({"OutputLocation": {"S3Location": {"OutputS3BucketName": "Bad_Bucket"}}}, "InvalidOutputLocation"),
        ({"InstanceId": "mi-00000000000000000"}, "ValidationException"),
        ({"MaxConcurrency": "lots"}, "ValidationException"),
    ],
)
def test_bad_associations_are_refused(ssm, kwargs, code):
    request = {"Name": "AWS-RunShellScript", "Targets": WEB, "Parameters": {"commands": ["true"]}, **kwargs}
    with raises_aws(code):
        ssm.create_association(**request)
    assert ssm.list_associations()["Associations"] == []


def test_unknown_ids_are_refused(ssm, fleet):
    missing = "11111111-2222-3333-4444-555555555555"
    with raises_aws("AssociationDoesNotExist"):
        ssm.describe_association(AssociationId=missing)
    with raises_aws("AssociationDoesNotExist"):
        ssm.delete_association(AssociationId=missing)
    with raises_aws("AssociationDoesNotExist"):
        ssm.update_association(AssociationId=missing, Parameters={"commands": ["true"]})
    with raises_aws("AssociationDoesNotExist"):
        ssm.describe_association_executions(AssociationId=missing)
    with raises_aws("InvalidInstanceId"):
        ssm.describe_instance_associations_status(InstanceId="mi-00000000000000000")
    with raises_aws("InvalidNextToken"):
        ssm.list_associations(NextToken="not-a-token")


def test_associations_carry_tags(ssm, fleet, tmp_path):
    aid = ssm.create_association(
        Name="AWS-RunShellScript",
        Targets=WEB,
        Parameters=ensure_file(tmp_path),
        ApplyOnlyAtCronInterval=True,
        ScheduleExpression="rate(1 day)",
        Tags=[{"Key": "team", "Value": "ops"}],
    )["AssociationDescription"]["AssociationId"]
    listed = ssm.list_tags_for_resource(ResourceType="Association", ResourceId=aid)["TagList"]
    assert listed == [{"Key": "team", "Value": "ops"}]
    ssm.add_tags_to_resource(ResourceType="Association", ResourceId=aid, Tags=[{"Key": "tier", "Value": "1"}])
    ssm.remove_tags_from_resource(ResourceType="Association", ResourceId=aid, TagKeys=["team"])
    assert ssm.list_tags_for_resource(ResourceType="Association", ResourceId=aid)["TagList"] == [
        {"Key": "tier", "Value": "1"}
    ]
    # An update keeps the tags.
    ssm.update_association(AssociationId=aid, Parameters=ensure_file(tmp_path), ApplyOnlyAtCronInterval=True,
                           ScheduleExpression="rate(1 day)")
    assert ssm.list_tags_for_resource(ResourceType="Association", ResourceId=aid)["TagList"] == [
        {"Key": "tier", "Value": "1"}
    ]
    with raises_aws("InvalidResourceId"):
        ssm.list_tags_for_resource(ResourceType="Association", ResourceId="11111111-2222-3333-4444-555555555555")
