"""State Manager end to end, the parts test_associations.py leaves out: CreateAssociationBatch,
the legacy document + node form with UpdateAssociationStatus, the associations in effect on
a node, command output written to the blob store, ListAssociations filters and paging,
execution and execution-target filters, custom compliance (PutComplianceItems and the
compliance lists), IAM on association ARNs, and what DeleteAssociation and
DeregisterManagedInstance clear away.  Driven with boto3 and the aws CLI against real agents.

Fleet (tags):  a0 role=web   a1 role=web   a2 role=db
Scripts write under the test's tmp_path, one file per node (``$E2E_NODE``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from conftest import (
    AwsCliError,
    Fleet,
    collect,
    create_activation,
    raises_aws,
    start_fleet,
    wait_ping,
    wait_until,
)

TAGS = {"a0": {"role": "web"}, "a1": {"role": "web"}, "a2": {"role": "db"}}
WEB = [{"Key": "tag:role", "Values": ["web"]}]
DB = [{"Key": "tag:role", "Values": ["db"]}]
SHELL = "AWS-RunShellScript"
# A schedule that keeps an association from running while the test looks at it.
QUIET = {"ScheduleExpression": "cron(0 4 ? * SUN *)", "ApplyOnlyAtCronInterval": True}
MISSING_NODE = "mi-00000000000000000"


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1", "--test-clock"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, TAGS, env_for=lambda name: {"E2E_NODE": name})


@pytest.fixture(scope="module")
def custom_doc(server) -> dict:
    """A Command document of this module's own (name and content)."""
    name = f"e2e-assoc-more-{uuid.uuid4().hex[:8]}"
    content = json.dumps(
        {
            "schemaVersion": "2.2",
            "description": "e2e: says hello",
            "mainSteps": [
                {"action": "aws:runShellScript", "name": "hello", "inputs": {"runCommand": ["echo hello"]}}
            ],
        }
    )
    server.ssm().create_document(Name=name, Content=content, DocumentType="Command", DocumentFormat="JSON")
    return {"name": name, "content": content}


@pytest.fixture()
def ssm(server, fleet):
    client = server.ssm()
    yield client
    # Each test leaves no association behind to run in the next one.
    for a in collect(client.list_associations, "Associations"):
        client.delete_association(AssociationId=a["AssociationId"])


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


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


def executions(ssm, association_id: str, **kw) -> list[dict]:
    return ssm.describe_association_executions(AssociationId=association_id, **kw)["AssociationExecutions"]


def node_statuses(ssm, instance_id: str) -> dict[str, dict]:
    infos = collect(ssm.describe_instance_associations_status, "InstanceAssociationStatusInfos", InstanceId=instance_id)
    return {i["AssociationId"]: i for i in infos}


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def listed_ids(ssm, *filters: tuple[str, str], **kw) -> list[str]:
    args = {"AssociationFilterList": [{"key": k, "value": v} for k, v in filters], **kw}
    return [a["AssociationId"] for a in collect(ssm.list_associations, "Associations", **args)]


def compliance_items(ssm, resource_id: str, **kw) -> list[dict]:
    return collect(
        ssm.list_compliance_items, "ComplianceItems", ResourceIds=[resource_id], ResourceTypes=["ManagedInstance"], **kw
    )


def put_items(ssm, resource_id: str, items: list[dict], *, kind: str = "Custom:Foo", upload: str = "COMPLETE", **kw):
    return ssm.put_compliance_items(
        ResourceId=resource_id,
        ResourceType=kw.pop("ResourceType", "ManagedInstance"),
        ComplianceType=kind,
        ExecutionSummary={"ExecutionTime": dt.datetime.now(dt.timezone.utc), "ExecutionId": "run-1", "ExecutionType": "Custom"},
        Items=items,
        UploadType=upload,
        **kw,
    )


def item(id_: str, status: str, severity: str, title: str = "") -> dict:
    return {"Id": id_, "Title": title or f"check {id_}", "Status": status, "Severity": severity, "Details": {"k": id_}}


def user_ssm(server, ak: str, sk: str):
    return boto3.session.Session(aws_access_key_id=ak, aws_secret_access_key=sk, region_name=server.region).client(
        "ssm",
        endpoint_url=server.url,
        verify=str(server.ca_path) if server.tls else None,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60),
    )


# --------------------------------------------------------------------------- #
# 1. CreateAssociationBatch
# --------------------------------------------------------------------------- #


def test_batch_reports_each_entry_and_runs_the_good_ones(ssm, fleet, tmp_path):
    g1, g2 = tmp_path / "g1", tmp_path / "g2"
    entries = [
        {"Name": SHELL, "Targets": WEB, "Parameters": ensure_file(g1), "AssociationName": "batch-good-1"},
        {"Name": "NoSuchDocument-e2e-xyz", "Targets": WEB, "Parameters": {"commands": ["true"]}},
        {"Name": SHELL, "Targets": DB, "Parameters": ensure_file(g2), "AssociationName": "batch-good-2"},
        {"Name": SHELL, "Targets": WEB, "Parameters": {"commands": ["true"]}, "ScheduleExpression": "rate(5 minutes)"},
        {"Name": SHELL, "InstanceId": MISSING_NODE, "Parameters": {"commands": ["true"]}},
    ]
    out = ssm.create_association_batch(Entries=entries)
    good = out["Successful"]
    bad = out["Failed"]
    assert sorted(d["AssociationName"] for d in good) == ["batch-good-1", "batch-good-2"]
    assert all(d["AssociationVersion"] == "1" and d["Overview"]["Status"] == "Pending" for d in good)
    assert len(bad) == 3
    assert all(f["Fault"] == "Client" and f["Message"] for f in bad)
    by_name = {f["Entry"]["Name"]: f for f in bad}
    assert "NoSuchDocument-e2e-xyz" in by_name
    assert [f["Entry"].get("ScheduleExpression") for f in bad if f["Entry"].get("ScheduleExpression")] == [
        "rate(5 minutes)"
    ]
    legacy = [f for f in bad if f["Entry"].get("InstanceId") == MISSING_NODE]
    assert legacy and MISSING_NODE in legacy[0]["Message"]

    # Only the good ones exist, and they really run on their targets.
    ids = {d["AssociationName"]: d["AssociationId"] for d in good}
    assert sorted(a["AssociationId"] for a in ssm.list_associations()["Associations"]) == sorted(ids.values())
    wait_overview(ssm, ids["batch-good-1"], "Success", 2)
    wait_overview(ssm, ids["batch-good-2"], "Success", 1)
    assert sorted(p.name for p in g1.iterdir()) == ["a0", "a1"]
    assert sorted(p.name for p in g2.iterdir()) == ["a2"]


# --------------------------------------------------------------------------- #
# 2. the legacy form: document + node
# --------------------------------------------------------------------------- #


def test_legacy_document_and_node_form(server, ssm, fleet, tmp_path):
    node = fleet.id("a1")
    created = server.aws(
        "ssm", "create-association", "--name", SHELL, "--instance-id", node,
        "--parameters", json.dumps(ensure_file(tmp_path)),
    )["AssociationDescription"]
    aid = created["AssociationId"]
    assert created["InstanceId"] == node and created["Name"] == SHELL
    assert created["Targets"] == [{"Key": "InstanceIds", "Values": [node]}]
    wait_overview(ssm, aid, "Success", 1)
    assert [p.name for p in tmp_path.iterdir()] == ["a1"]

    with raises_aws("AssociationAlreadyExists"):
        ssm.create_association(Name=SHELL, InstanceId=node, Parameters={"commands": ["true"]})
    # The same document on another node is another association.
    other = ssm.create_association(Name=SHELL, InstanceId=fleet.id("a2"), Parameters={"commands": ["true"]}, **QUIET)
    other_id = other["AssociationDescription"]["AssociationId"]

    described = server.aws("ssm", "describe-association", "--name", SHELL, "--instance-id", node)[
        "AssociationDescription"
    ]
    assert described["AssociationId"] == aid
    assert ssm.describe_association(Name=SHELL, InstanceId=fleet.id("a2"))["AssociationDescription"][
        "AssociationId"
    ] == other_id
    assert [a["AssociationId"] for a in ssm.list_associations(
        AssociationFilterList=[{"key": "InstanceId", "value": node}])["Associations"]] == [aid]

    # UpdateAssociationStatus sets the node's status by hand.
    when = dt.datetime.now(dt.timezone.utc)
    status = {"Date": when, "Name": "Failed", "Message": "set by hand"}
    desc = ssm.update_association_status(Name=SHELL, InstanceId=node, AssociationStatus=status)[
        "AssociationDescription"
    ]
    assert desc["AssociationId"] == aid and desc["Overview"]["Status"] == "Failed"
    info = node_statuses(ssm, node)[aid]
    assert info["Status"] == "Failed" and info["ExecutionSummary"] == "set by hand"
    assert abs(info["ExecutionDate"].timestamp() - when.timestamp()) < 2
    assert overview(ssm, aid)["Status"] == "Failed"
    with raises_aws("StatusUnchanged"):
        ssm.update_association_status(Name=SHELL, InstanceId=node, AssociationStatus=status)
    ssm.update_association_status(
        Name=SHELL, InstanceId=node, AssociationStatus={"Date": when, "Name": "Success", "Message": "fixed"}
    )
    assert node_statuses(ssm, node)[aid]["Status"] == "Success"
    # Only the legacy form has a status to set this way.
    with raises_aws("AssociationDoesNotExist"):
        ssm.update_association_status(Name=SHELL, InstanceId=fleet.id("a0"), AssociationStatus=status)
    with raises_aws("InvalidInstanceId"):
        ssm.update_association_status(Name=SHELL, InstanceId=MISSING_NODE, AssociationStatus=status)

    # Delete by document and node: only that one goes.
    ssm.delete_association(Name=SHELL, InstanceId=node)
    with raises_aws("AssociationDoesNotExist"):
        ssm.describe_association(AssociationId=aid)
    with raises_aws("AssociationDoesNotExist"):
        ssm.describe_association(Name=SHELL, InstanceId=node)
    with raises_aws("AssociationDoesNotExist"):
        ssm.delete_association(Name=SHELL, InstanceId=node)
    assert [a["AssociationId"] for a in ssm.list_associations()["Associations"]] == [other_id]
    # Now the node may have it again.
    again = ssm.create_association(Name=SHELL, InstanceId=node, Parameters={"commands": ["true"]}, **QUIET)
    assert again["AssociationDescription"]["AssociationId"] not in (aid, other_id)


# --------------------------------------------------------------------------- #
# 3. DescribeEffectiveInstanceAssociations
# --------------------------------------------------------------------------- #


def test_effective_associations_of_a_node(ssm, fleet, custom_doc):
    web = ssm.create_association(Name=SHELL, Targets=WEB, Parameters={"commands": ["true"]}, **QUIET)
    mine = ssm.create_association(
        Name=custom_doc["name"], Targets=[{"Key": "InstanceIds", "Values": [fleet.id("a0")]}], **QUIET
    )
    db = ssm.create_association(Name=SHELL, Targets=DB, Parameters={"commands": ["true"]}, **QUIET)
    web_id, mine_id, db_id = (x["AssociationDescription"]["AssociationId"] for x in (web, mine, db))

    effective = collect(
        ssm.describe_effective_instance_associations, "Associations", InstanceId=fleet.id("a0"), MaxResults=1
    )
    assert sorted(e["AssociationId"] for e in effective) == sorted([web_id, mine_id])
    assert all(e["InstanceId"] == fleet.id("a0") and e["AssociationVersion"] == "1" for e in effective)
    by_id = {e["AssociationId"]: json.loads(e["Content"]) for e in effective}
    assert by_id[web_id] == json.loads(ssm.get_document(Name=SHELL)["Content"])
    assert by_id[mine_id] == json.loads(custom_doc["content"])
    assert by_id[mine_id]["mainSteps"][0]["name"] == "hello"

    first = ssm.describe_effective_instance_associations(InstanceId=fleet.id("a0"), MaxResults=1)
    assert len(first["Associations"]) == 1 and first.get("NextToken")
    a2 = ssm.describe_effective_instance_associations(InstanceId=fleet.id("a2"))["Associations"]
    assert [e["AssociationId"] for e in a2] == [db_id]

    with raises_aws("ValidationException"):
        ssm.describe_effective_instance_associations(InstanceId=fleet.id("a0"), MaxResults=6)
    with raises_aws("InvalidInstanceId"):
        ssm.describe_effective_instance_associations(InstanceId=MISSING_NODE)


# --------------------------------------------------------------------------- #
# 4. OutputLocation
# --------------------------------------------------------------------------- #


def test_output_location_writes_the_output_to_the_blob_store(server, ssm, fleet):
    node = fleet.id("a0")
    location = {"S3Location": {"OutputS3BucketName": "assoc-out", "OutputS3KeyPrefix": "runs/e2e"}}
    created = ssm.create_association(
        Name=SHELL,
        Targets=[{"Key": "InstanceIds", "Values": [node]}],
        Parameters={"commands": ["echo output-for-$E2E_NODE"]},
        OutputLocation=location,
    )["AssociationDescription"]
    aid = created["AssociationId"]
    assert created["OutputLocation"]["S3Location"]["OutputS3BucketName"] == "assoc-out"
    wait_overview(ssm, aid, "Success", 1)

    execution = executions(ssm, aid)[0]
    target = ssm.describe_association_execution_targets(AssociationId=aid, ExecutionId=execution["ExecutionId"])[
        "AssociationExecutionTargets"
    ][0]
    command_id = target["OutputSource"]["OutputSourceId"]
    node_dir = server.data_dir / "blobs" / "assoc-out" / "runs" / "e2e" / command_id / node
    stdout_files = list(node_dir.glob("*/stdout"))
    assert len(stdout_files) == 1, f"expected one stdout blob under {node_dir}: {list(node_dir.rglob('*'))}"
    assert stdout_files[0].read_text().strip() == "output-for-a0"

    info = node_statuses(ssm, node)[aid]
    url = info["OutputUrl"]["S3OutputUrl"]["OutputUrl"]
    assert url.startswith("file://")
    assert Path(url[len("file://"):]).resolve() == stdout_files[0].resolve()


# --------------------------------------------------------------------------- #
# 5. ListAssociations: filters and paging
# --------------------------------------------------------------------------- #


def test_list_associations_filters_and_paging(server, ssm, fleet, custom_doc):
    started = time.time()
    ok = ssm.create_association(
        Name=SHELL, Targets=DB, Parameters={"commands": ["echo fine"]}, AssociationName="list-ok"
    )["AssociationDescription"]["AssociationId"]
    bad = ssm.create_association(
        Name=SHELL, InstanceId=fleet.id("a1"), Parameters={"commands": ["exit 5"]}, AssociationName="list-bad"
    )["AssociationDescription"]["AssociationId"]
    idle = ssm.create_association(
        Name=custom_doc["name"], Targets=WEB, AssociationName="list-idle", **QUIET
    )["AssociationDescription"]["AssociationId"]
    wait_overview(ssm, ok, "Success", 1)
    wait_overview(ssm, bad, "Failed", 1)

    assert listed_ids(ssm, ("Name", SHELL)) == [ok, bad]
    assert listed_ids(ssm, ("Name", custom_doc["name"])) == [idle]
    assert listed_ids(ssm, ("AssociationId", bad)) == [bad]
    assert listed_ids(ssm, ("AssociationStatusName", "Success")) == [ok]
    assert listed_ids(ssm, ("AssociationStatusName", "Failed")) == [bad]
    assert listed_ids(ssm, ("AssociationStatusName", "Pending")) == [idle]
    assert listed_ids(ssm, ("LastExecutedAfter", iso(started - 5))) == [ok, bad]
    assert listed_ids(ssm, ("LastExecutedAfter", iso(time.time() + 3600))) == []
    assert listed_ids(ssm, ("LastExecutedBefore", iso(time.time() + 3600))) == [ok, bad]
    assert listed_ids(ssm, ("Name", SHELL), ("AssociationStatusName", "Failed")) == [bad]
    with raises_aws("ValidationException"):
        ssm.list_associations(AssociationFilterList=[{"key": "LastExecutedAfter", "value": "yesterday"}])

    # The CLI's shorthand filter does the same.
    cli = server.aws(
        "ssm", "list-associations", "--association-filter-list", "key=AssociationStatusName,value=Failed"
    )["Associations"]
    assert [a["AssociationId"] for a in cli] == [bad]
    assert cli[0]["Overview"]["Status"] == "Failed" and cli[0]["InstanceId"] == fleet.id("a1")

    # One at a time, every page has one and all are seen once, oldest first.
    pages = []
    token = None
    while True:
        page = ssm.list_associations(MaxResults=1, **({"NextToken": token} if token else {}))
        pages.append([a["AssociationId"] for a in page["Associations"]])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == [[ok], [bad], [idle]]
    with raises_aws("InvalidNextToken"):
        ssm.list_associations(MaxResults=1, NextToken="unknown-" + uuid.uuid4().hex)


# --------------------------------------------------------------------------- #
# 6. executions and their targets
# --------------------------------------------------------------------------- #


def test_execution_and_target_filters(ssm, fleet, tmp_path):
    # a1 fails the first run (and leaves a marker); every later run succeeds everywhere.
    script = (
        f'f={tmp_path}/$E2E_NODE; if [ "$E2E_NODE" = a1 ] && [ ! -f "$f" ]; then touch "$f"; exit 4; fi; echo fine'
    )
    aid = ssm.create_association(Name=SHELL, Targets=WEB, Parameters={"commands": [script]})[
        "AssociationDescription"
    ]["AssociationId"]
    wait_until(
        lambda: [e["Status"] for e in executions(ssm, aid)] == ["Failed"], 40, "the first run failing on a1"
    )
    first = executions(ssm, aid)[0]
    assert first["ResourceCountByStatus"] == "{Failed=1, Success=1}"
    # A time strictly between the two runs, whole seconds as the filter takes.
    between = math.floor(first["CreatedTime"].timestamp()) + 1
    while time.time() < between + 0.2:
        time.sleep(0.1)
    ssm.start_associations_once(AssociationIds=[aid])
    wait_until(
        lambda: [e["Status"] for e in executions(ssm, aid)] == ["Success", "Failed"], 40, "a second, successful run"
    )
    second = executions(ssm, aid)[0]

    def ids(*filters):
        return [
            e["ExecutionId"]
            for e in executions(ssm, aid, Filters=[{"Key": k, "Value": v, "Type": t} for k, v, t in filters])
        ]

    assert ids(("Status", "Failed", "EQUAL")) == [first["ExecutionId"]]
    assert ids(("Status", "Success", "EQUAL")) == [second["ExecutionId"]]
    assert ids(("CreatedTime", iso(between), "GREATER_THAN")) == [second["ExecutionId"]]
    assert ids(("CreatedTime", iso(between), "LESS_THAN")) == [first["ExecutionId"]]
    assert ids(("CreatedTime", iso(between), "GREATER_THAN"), ("Status", "Failed", "EQUAL")) == []
    assert ids(("ExecutionId", first["ExecutionId"], "EQUAL")) == [first["ExecutionId"]]

    def targets(execution_id, *filters):
        extra = {"Filters": [{"Key": k, "Value": v} for k, v in filters]} if filters else {}
        rows = ssm.describe_association_execution_targets(AssociationId=aid, ExecutionId=execution_id, **extra)[
            "AssociationExecutionTargets"
        ]
        return sorted((t["ResourceId"], t["Status"]) for t in rows)

    a0, a1 = fleet.id("a0"), fleet.id("a1")
    fid = first["ExecutionId"]
    assert targets(fid) == sorted([(a0, "Success"), (a1, "Failed")])
    assert targets(fid, ("Status", "Failed")) == [(a1, "Failed")]
    assert targets(fid, ("Status", "Success")) == [(a0, "Success")]
    assert targets(fid, ("ResourceId", a1)) == [(a1, "Failed")]
    assert targets(fid, ("ResourceId", a0), ("Status", "Failed")) == []
    assert targets(fid, ("ResourceType", "ManagedInstance")) == sorted([(a0, "Success"), (a1, "Failed")])
    assert targets(second["ExecutionId"], ("Status", "Failed")) == []
    assert targets(second["ExecutionId"], ("Status", "Success")) == sorted([(a0, "Success"), (a1, "Success")])

    with raises_aws("AssociationExecutionDoesNotExist"):
        ssm.describe_association_execution_targets(AssociationId=aid, ExecutionId=str(uuid.uuid4()))
    with raises_aws("AssociationDoesNotExist"):
        ssm.describe_association_execution_targets(AssociationId=str(uuid.uuid4()), ExecutionId=fid)


# --------------------------------------------------------------------------- #
# 7. custom compliance
# --------------------------------------------------------------------------- #


def test_custom_compliance_items_and_summaries(server, ssm, fleet):
    a0, a1 = fleet.id("a0"), fleet.id("a1")
    foo = [{"Key": "ComplianceType", "Values": ["Custom:Foo"], "Type": "EQUAL"}]

    def foo_items(node, *extra):
        return {i["Id"]: i for i in compliance_items(ssm, node, Filters=foo + list(extra))}

    put_items(ssm, a0, [item("A", "COMPLIANT", "HIGH"), item("B", "NON_COMPLIANT", "LOW")])
    assert sorted(foo_items(a0)) == ["A", "B"]
    # COMPLETE replaces everything of the type ...
    put_items(ssm, a0, [item("C", "COMPLIANT", "MEDIUM")])
    assert sorted(foo_items(a0)) == ["C"]
    # ... PARTIAL updates by Id and keeps the rest.
    put_items(ssm, a0, [item("C", "NON_COMPLIANT", "CRITICAL", "changed"), item("D", "COMPLIANT", "LOW")],
              upload="PARTIAL")
    now = foo_items(a0)
    assert sorted(now) == ["C", "D"]
    assert (now["C"]["Status"], now["C"]["Severity"], now["C"]["Title"]) == ("NON_COMPLIANT", "CRITICAL", "changed")
    assert now["C"]["ResourceType"] == "ManagedInstance" and now["C"]["Details"] == {"k": "C"}
    assert now["C"]["ExecutionSummary"]["ExecutionId"] == "run-1"
    put_items(ssm, a1, [item("X", "COMPLIANT", "HIGH")])

    assert sorted(foo_items(a0, {"Key": "Status", "Values": ["NON_COMPLIANT"], "Type": "EQUAL"})) == ["C"]
    assert sorted(foo_items(a0, {"Key": "Severity", "Values": ["LOW", "HIGH"], "Type": "EQUAL"})) == ["D"]
    assert sorted(foo_items(a0, {"Key": "Id", "Values": ["C"], "Type": "NOT_EQUAL"})) == ["D"]
    both = collect(ssm.list_compliance_items, "ComplianceItems", ResourceIds=[a0, a1], Filters=foo)
    assert sorted((i["ResourceId"], i["Id"]) for i in both) == sorted([(a0, "C"), (a0, "D"), (a1, "X")])

    # The CLI's shorthand filter does the same.
    cli = server.aws(
        "ssm", "list-compliance-items", "--resource-ids", a0, "--resource-types", "ManagedInstance",
        "--filters", "Key=ComplianceType,Values=Custom:Foo,Type=EQUAL", "Key=Status,Values=COMPLIANT,Type=EQUAL",
    )["ComplianceItems"]
    assert [i["Id"] for i in cli] == ["D"]

    rows = collect(ssm.list_resource_compliance_summaries, "ResourceComplianceSummaryItems", Filters=foo)
    by_node = {r["ResourceId"]: r for r in rows}
    assert sorted(by_node) == sorted([a0, a1])
    assert by_node[a0]["Status"] == "NON_COMPLIANT" and by_node[a0]["OverallSeverity"] == "CRITICAL"
    assert by_node[a0]["CompliantSummary"]["CompliantCount"] == 1
    assert by_node[a0]["NonCompliantSummary"]["NonCompliantCount"] == 1
    assert by_node[a0]["NonCompliantSummary"]["SeveritySummary"]["CriticalCount"] == 1
    assert by_node[a1]["Status"] == "COMPLIANT" and by_node[a1]["CompliantSummary"]["CompliantCount"] == 1
    only_bad = ssm.list_resource_compliance_summaries(
        Filters=foo + [{"Key": "Status", "Values": ["NON_COMPLIANT"], "Type": "EQUAL"}]
    )["ResourceComplianceSummaryItems"]
    assert [r["ResourceId"] for r in only_bad] == [a0]

    summary = ssm.list_compliance_summaries(Filters=foo)["ComplianceSummaryItems"]
    assert [s["ComplianceType"] for s in summary] == ["Custom:Foo"]
    assert summary[0]["CompliantSummary"]["CompliantCount"] == 1
    assert summary[0]["NonCompliantSummary"]["NonCompliantCount"] == 1
    assert summary[0]["NonCompliantSummary"]["SeveritySummary"]["CriticalCount"] == 1

    # A COMPLETE upload of nothing clears the type on that node.
    put_items(ssm, a1, [])
    assert foo_items(a1) == {}

    # Bad input.
    with raises_aws("InvalidResourceType"):
        put_items(ssm, a0, [item("E", "COMPLIANT", "LOW")], ResourceType="Document")
    with raises_aws("InvalidResourceId"):
        put_items(ssm, MISSING_NODE, [item("E", "COMPLIANT", "LOW")])
    with raises_aws("ValidationException"):
        put_items(ssm, a0, [item("E", "COMPLIANT", "LOW")], kind="Association")
    with raises_aws("InvalidFilter"):
        ssm.list_compliance_items(Filters=[{"Key": "Colour", "Values": ["red"], "Type": "EQUAL"}])
    with raises_aws("InvalidFilter"):
        ssm.list_resource_compliance_summaries(Filters=[{"Key": "Colour", "Values": ["red"], "Type": "EQUAL"}])
    with raises_aws("InvalidFilter"):
        ssm.list_compliance_summaries(Filters=[{"Key": "Colour", "Values": ["red"], "Type": "EQUAL"}])
    with raises_aws("InvalidResourceType"):
        ssm.list_compliance_items(ResourceIds=[a0], ResourceTypes=["Document"])
    # Nothing of the refused uploads was kept.
    assert sorted(foo_items(a0)) == ["C", "D"]


# --------------------------------------------------------------------------- #
# 8. IAM on association ARNs
# --------------------------------------------------------------------------- #


def test_iam_policy_on_one_association_arn(server, ssm, fleet):
    one = ssm.create_association(Name=SHELL, Targets=DB, Parameters={"commands": ["true"]}, **QUIET)
    two = ssm.create_association(Name=SHELL, Targets=DB, Parameters={"commands": ["true"]}, **QUIET)
    one_id = one["AssociationDescription"]["AssociationId"]
    two_id = two["AssociationDescription"]["AssociationId"]
    arn_one = f"arn:aws:ssm:{server.region}:{server.account_id}:association/{one_id}"
    arn_two = f"arn:aws:ssm:{server.region}:{server.account_id}:association/{two_id}"

    iam = server.client("iam")
    user = f"e2e-assoc-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ssm:DescribeAssociation", "Resource": arn_one}],
    }
    policy_arn = iam.create_policy(PolicyName=f"{user}-pol", PolicyDocument=json.dumps(doc))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=policy_arn)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    limited = user_ssm(server, key["AccessKeyId"], key["SecretAccessKey"])

    assert limited.describe_association(AssociationId=one_id)["AssociationDescription"]["AssociationId"] == one_id
    with raises_aws("AccessDeniedException") as ei:
        limited.describe_association(AssociationId=two_id)
    message = ei.value.response["Error"]["Message"]
    assert "ssm:DescribeAssociation" in message and arn_two in message
    with raises_aws("AccessDeniedException") as ei:
        limited.create_association(Name=SHELL, Targets=DB, Parameters={"commands": ["true"]})
    assert "ssm:CreateAssociation" in ei.value.response["Error"]["Message"]
    with raises_aws("AccessDeniedException"):
        limited.delete_association(AssociationId=one_id)
    assert sorted(a["AssociationId"] for a in ssm.list_associations()["Associations"]) == sorted([one_id, two_id])

    # The CLI with the user's keys: allowed on one, refused on the other.
    env = server.env()
    env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = key["AccessKeyId"], key["SecretAccessKey"]
    env.pop("AWS_SESSION_TOKEN", None)
    seen = server.aws("ssm", "describe-association", "--association-id", one_id, env=env)
    assert seen["AssociationDescription"]["AssociationId"] == one_id
    with pytest.raises(AwsCliError) as ei:
        server.aws("ssm", "describe-association", "--association-id", two_id, env=env)
    assert "(AccessDeniedException)" in ei.value.stderr


# --------------------------------------------------------------------------- #
# 9. DeleteAssociation clears what it left on nodes
# --------------------------------------------------------------------------- #


def test_delete_association_removes_its_compliance_and_node_status(ssm, fleet):
    node = fleet.id("a2")
    aid = ssm.create_association(
        Name=SHELL, Targets=DB, Parameters={"commands": ["echo fine"]}, ComplianceSeverity="MEDIUM"
    )["AssociationDescription"]["AssociationId"]
    wait_overview(ssm, aid, "Success", 1)
    assoc_filter = [{"Key": "ComplianceType", "Values": ["Association"], "Type": "EQUAL"}]
    items = [i for i in compliance_items(ssm, node, Filters=assoc_filter) if i["Id"] == aid]
    assert items and items[0]["Status"] == "COMPLIANT" and items[0]["Severity"] == "MEDIUM"
    assert aid in node_statuses(ssm, node)

    ssm.delete_association(AssociationId=aid)
    assert aid not in node_statuses(ssm, node)
    assert [i for i in compliance_items(ssm, node, Filters=assoc_filter) if i["Id"] == aid] == []
    with raises_aws("AssociationDoesNotExist"):
        ssm.describe_association_executions(AssociationId=aid)
    with raises_aws("AssociationDoesNotExist"):
        ssm.list_association_versions(AssociationId=aid)
    assert ssm.describe_effective_instance_associations(InstanceId=node)["Associations"] == []


# --------------------------------------------------------------------------- #
# 10. DeregisterManagedInstance clears the node's compliance
# --------------------------------------------------------------------------- #


def test_deregistering_a_node_removes_its_compliance(server, ssm, fleet, agent_factory):
    act_id, code = create_activation(ssm, name="spare", tags={"role": "spare"}, role="E2ERole-spare")
    agent = agent_factory("spare", env={"E2E_NODE": "spare"})
    agent.register(server.url, act_id, code)
    agent.start()
    node = agent.instance_id
    wait_ping(ssm, [node], "Online", timeout=30)
    aid = ssm.create_association(
        Name=SHELL, Targets=[{"Key": "tag:role", "Values": ["spare"]}], Parameters={"commands": ["echo fine"]}
    )["AssociationDescription"]["AssociationId"]
    wait_overview(ssm, aid, "Success", 1)
    put_items(ssm, node, [item("S1", "NON_COMPLIANT", "HIGH"), item("S2", "COMPLIANT", "LOW")], kind="Custom:Spare")
    before = sorted((i["ComplianceType"], i["Id"]) for i in compliance_items(ssm, node))
    assert before == sorted([("Association", aid), ("Custom:Spare", "S1"), ("Custom:Spare", "S2")])
    other_before = compliance_items(ssm, fleet.id("a0"))

    agent.stop()
    ssm.deregister_managed_instance(InstanceId=node)

    assert compliance_items(ssm, node) == []
    rows = collect(ssm.list_resource_compliance_summaries, "ResourceComplianceSummaryItems")
    assert node not in {r["ResourceId"] for r in rows}
    spare = ssm.list_compliance_summaries(
        Filters=[{"Key": "ComplianceType", "Values": ["Custom:Spare"], "Type": "EQUAL"}]
    )["ComplianceSummaryItems"]
    assert spare == []
    # Other nodes keep theirs.
    assert compliance_items(ssm, fleet.id("a0")) == other_before
    with raises_aws("InvalidResourceId"):
        put_items(ssm, node, [item("S3", "COMPLIANT", "LOW")], kind="Custom:Spare")
    with raises_aws("InvalidInstanceId"):
        ssm.describe_instance_associations_status(InstanceId=node)
