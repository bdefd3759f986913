"""Inventory end to end: real agents gather what this machine has (dpkg's packages, its
network, CPU, services, files, custom types) through AWS-GatherSoftwareInventory, by an
association and by Run Command; the fleet is queried with GetInventory filters and
aggregators, ListInventoryEntries and GetInventorySchema; custom types are deleted; every
bad input gets SSM's error. A .deb of our own is installed and removed on this machine to
see inventory follow it.

Fleet (tags): n0 role=web, n1 role=db — both on this machine, so both see the same packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Fleet, agent_bin, collect, create_activation, raises_aws, start_fleet, wait_ping, wait_until
from test_iam import allow, as_user, make_user, policy, uid

TAGS = {"n0": {"role": "web"}, "n1": {"role": "db"}}
GATHER = "AWS-GatherSoftwareInventory"
PROBE = "steward-e2e-inventory-probe"


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, TAGS)


@pytest.fixture(scope="module")
def ssm(server, fleet):
    return server.ssm()


def gather(ssm, ids: list[str], **params) -> dict[str, dict]:
    """Runs a gathering on ``ids`` through an association (applied at its creation) and waits
    for it; returns each node's invocation of the association's command."""
    parameters = {k: [v] for k, v in params.items()}
    aid = ssm.create_association(
        Name=GATHER,
        Targets=[{"Key": "InstanceIds", "Values": ids}],
        Parameters=parameters,
        ScheduleExpression="rate(30 minutes)",
    )["AssociationDescription"]["AssociationId"]
    try:

        def finished():
            runs = ssm.describe_association_executions(AssociationId=aid)["AssociationExecutions"]
            done = [r for r in runs if r["Status"] in ("Success", "Failed")]
            return done[0] if done else None

        execution = wait_until(finished, 60, "the gathering to finish", interval=0.3)
        targets = ssm.describe_association_execution_targets(AssociationId=aid, ExecutionId=execution["ExecutionId"])[
            "AssociationExecutionTargets"
        ]
        got = {
            t["ResourceId"]: ssm.get_command_invocation(
                CommandId=t["OutputSource"]["OutputSourceId"], InstanceId=t["ResourceId"]
            )
            for t in targets
        }
    finally:
        ssm.delete_association(AssociationId=aid)
    assert sorted(got) == sorted(ids)
    for i, g in got.items():
        assert g["Status"] == "Success", (i, g["StandardOutputContent"], g["StandardErrorContent"])
    return got


def entries(ssm, node: str, type_name: str, **kw) -> list[dict]:
    out, token = [], None
    while True:
        args = dict(InstanceId=node, TypeName=type_name, MaxResults=50, **kw)
        if token:
            args["NextToken"] = token
        page = ssm.list_inventory_entries(**args)
        out.extend(page["Entries"])
        token = page.get("NextToken")
        if not token:
            return out


def nodes_where(ssm, *filters: dict, **kw) -> list[str]:
    got = collect(ssm.get_inventory, "Entities", Filters=list(filters), **kw) if filters else collect(
        ssm.get_inventory, "Entities", **kw
    )
    return sorted(e["Id"] for e in got)


def dpkg_version(package: str) -> str:
    return subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def gathered(ssm, fleet) -> Fleet:
    """Both nodes gathered once, by an association applied at its creation."""
    gather(ssm, fleet.ids)
    return fleet


def test_gathering_is_state_managers_not_run_commands(ssm, gathered):
    with raises_aws("InvalidDocument"):
        ssm.send_command(DocumentName=GATHER, InstanceIds=gathered.ids[:1])


def test_gathering_reports_this_machine(ssm, gathered):
    node = gathered.id("n0")
    [info] = entries(ssm, node, "AWS:InstanceInformation")
    assert info["InstanceId"] == node
    assert info["PlatformType"] == "Linux"
    assert info["ResourceType"] == "ManagedInstance"

    apps = {a["Name"]: a for a in entries(ssm, node, "AWS:Application")}
    installed = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n"], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    names = {line.split()[0] for line in installed if line.endswith(" installed")}
    assert set(apps) == names
    dpkg = apps["dpkg"]
    full = dpkg_version("dpkg")
    assert full.startswith(dpkg["Version"]) and full.endswith(dpkg["Release"] or dpkg["Version"])
    assert dpkg["PackageId"] == f"dpkg_{full}_{dpkg['Architecture']}.deb"
    assert dpkg["Summary"] and dpkg["InstalledTime"].endswith("Z")

    [detail] = entries(ssm, node, "AWS:InstanceDetailedInformation")
    assert int(detail["CPUs"]) == os.cpu_count()
    assert detail["KernelVersion"] == os.uname().release
    network = {n["Name"]: n for n in entries(ssm, node, "AWS:Network")}
    assert "127.0.0.1" in network["lo"]["IPV4"].split(",")
    services = entries(ssm, node, "AWS:Service")
    assert services and all(s["Name"].endswith(".service") for s in services)
    [component] = entries(ssm, node, "AWS:AWSComponent")
    assert component["Name"] == "steward-agent"
    # The node's tags come from the server's record of it.
    assert entries(ssm, node, "AWS:Tag") == [{"Key": "role", "Value": "web"}]


def test_tags_changed_later_reach_the_tag_inventory(ssm, gathered):
    node = gathered.id("n1")
    ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=node, Tags=[{"Key": "zone", "Value": "b"}])
    try:
        assert entries(ssm, node, "AWS:Tag") == [{"Key": "role", "Value": "db"}, {"Key": "zone", "Value": "b"}]
        zoned = ssm.get_inventory(Filters=[{"Key": "AWS:Tag.Key", "Values": ["zone"], "Type": "Equal"}])["Entities"]
        assert [e["Id"] for e in zoned] == [node]
    finally:
        ssm.remove_tags_from_resource(ResourceType="ManagedInstance", ResourceId=node, TagKeys=["zone"])
    assert entries(ssm, node, "AWS:Tag") == [{"Key": "role", "Value": "db"}]


def test_unchanged_types_go_by_hash_alone(ssm, gathered):
    node = gathered.id("n0")
    before = ssm.list_inventory_entries(InstanceId=node, TypeName="AWS:Network", MaxResults=1)["CaptureTime"]
    time.sleep(1.1)  # capture times have whole seconds
    out = gather(ssm, [node])[node]["StandardOutputContent"]
    assert " 0 sent with their content" in out, out
    after = ssm.list_inventory_entries(InstanceId=node, TypeName="AWS:Network", MaxResults=1)["CaptureTime"]
    assert after > before


def build_deb(tmp: Path, version: str) -> Path:
    root = tmp / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr/share/doc" / PROBE).mkdir(parents=True)
    (root / "usr/share/doc" / PROBE / "README").write_text("inventory probe\n")
    (root / "DEBIAN/control").write_text(
        f"Package: {PROBE}\nVersion: {version}\nArchitecture: all\nMaintainer: Steward E2E <e2e@steward.invalid>\n"
        f"Section: misc\nHomepage: https://steward.invalid/probe\nDescription: Steward end-to-end inventory probe\n"
        " Installed and removed by the inventory tests.\n"
    )
    deb = tmp / f"{PROBE}.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)
    return deb


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("dpkg"), reason="installs a .deb: needs root and dpkg")
def test_a_package_installed_appears_and_leaves_after_removal(ssm, gathered, tmp_path):
    deb = build_deb(tmp_path, "1:2.5.0-3")
    ids = gathered.ids
    by_name = {"Key": "AWS:Application.Name", "Values": [PROBE], "Type": "Equal"}
    try:
        subprocess.run(["dpkg", "-i", str(deb)], check=True, capture_output=True)
        gather(ssm, ids)
        assert nodes_where(ssm, by_name) == sorted(ids)
        [probe] = [a for a in entries(ssm, ids[0], "AWS:Application") if a["Name"] == PROBE]
        assert (probe["Epoch"], probe["Version"], probe["Release"]) == ("1", "2.5.0", "3")
        assert probe["Publisher"] == "Steward E2E <e2e@steward.invalid>"
        assert probe["URL"] == "https://steward.invalid/probe"
        # "Which nodes run the probe older than 2.10?" — versions compare as versions.
        older = {"Key": "AWS:Application.Version", "Values": ["2.10"], "Type": "LessThan"}
        assert nodes_where(ssm, by_name, older) != []
        newer = {"Key": "AWS:Application.Version", "Values": ["2.5.0"], "Type": "GreaterThan"}
        assert PROBE not in [
            a["Name"] for a in entries(ssm, ids[0], "AWS:Application", Filters=[by_name, newer])
        ]
    finally:
        subprocess.run(["dpkg", "--purge", PROBE], capture_output=True)
    gather(ssm, ids)
    assert nodes_where(ssm, by_name) == []
    assert not [a for a in entries(ssm, ids[0], "AWS:Application") if a["Name"] == PROBE]


def test_custom_inventory_from_the_nodes_folder(ssm, gathered):
    node = gathered["n1"]
    folder = node.state_dir / "inventory" / "custom"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rack.json").write_text(
        json.dumps({"SchemaVersion": "1.0", "TypeName": "Custom:Rack", "Content": {"Location": "Bay B/Row C", "Units": 4}})
    )
    (folder / "broken.json").write_text("{ not json")
    out = gather(ssm, [node.instance_id])[node.instance_id]["StandardOutputContent"]
    assert "broken.json" in out
    assert entries(ssm, node.instance_id, "Custom:Rack") == [{"Location": "Bay B/Row C", "Units": "4"}]
    [schema] = ssm.get_inventory_schema(TypeName="Custom:Rack")["Schemas"]
    assert sorted(a["Name"] for a in schema["Attributes"]) == ["Location", "Units"]
    assert schema["Version"] == "1.0"
    where = {"Key": "Custom:Rack.Location", "Values": ["Bay B/"], "Type": "BeginWith"}
    assert nodes_where(ssm, where) == [node.instance_id]
    # Only the custom type's node answers for it; the other has none.
    assert entries(ssm, gathered.id("n0"), "Custom:Rack") == []


def test_aggregations_count_nodes(ssm, gathered):
    ids = gathered.ids
    got = ssm.get_inventory(Aggregators=[{"Expression": "AWS:InstanceInformation.PlatformType"}])["Entities"]
    [entity] = got
    assert entity["Data"]["AWS:InstanceInformation"]["Content"] == [{"PlatformType": "Linux", "Count": str(len(ids))}]

    dpkg = {"Key": "AWS:Application.Name", "Values": ["dpkg"], "Type": "Equal"}
    nested = ssm.get_inventory(
        Filters=[dpkg],
        Aggregators=[
            {
                "Expression": "AWS:Application.Name",
                "Aggregators": [{"Expression": "AWS:InstanceInformation.PlatformType"}],
            }
        ],
    )["Entities"][0]["Data"]["AWS:Application"]["Content"]
    assert {"Name": "dpkg", "PlatformType": "Linux", "Count": str(len(ids))} in nested

    rack = ssm.get_inventory(
        Aggregators=[
            {
                "Groups": [
                    {"Name": "WithRack", "Filters": [{"Key": "TypeName", "Values": ["Custom:Rack"], "Type": "Exists"}]},
                    {"Name": "Web", "Filters": [{"Key": "AWS:InstanceInformation.InstanceId", "Values": [gathered.id("n0")]}]},
                ]
            }
        ]
    )["Entities"][0]["Data"]
    with_rack = 1 if entries(ssm, gathered.id("n1"), "Custom:Rack") else 0
    assert rack["WithRack"]["Content"] == [
        {"notMatchingCount": str(len(ids) - with_rack)},
        {"matchingCount": str(with_rack)},
    ]
    assert rack["Web"]["Content"][1] == {"matchingCount": "1"}


def test_get_inventory_pages_and_result_attributes(server, ssm, gathered):
    ids = sorted(gathered.ids)
    first = ssm.get_inventory(MaxResults=1)
    assert len(first["Entities"]) == 1 and first["NextToken"]
    assert nodes_where(ssm) == ids
    result = server.aws(
        "ssm", "get-inventory", "--filters", f"Key=AWS:InstanceInformation.InstanceId,Values={ids[0]},Type=Equal",
        "--result-attributes", "TypeName=AWS:Network",
    )
    [entity] = result["Entities"]
    assert entity["Id"] == ids[0] and list(entity["Data"]) == ["AWS:Network"]


def put(ssm, node, type_name, content, version="1.0", **extra):
    item = {"TypeName": type_name, "SchemaVersion": version, "CaptureTime": "2026-12-07T10:00:00Z", **extra}
    if content is not None:
        item["Content"] = content
    return ssm.put_inventory(InstanceId=node, Items=[item])


def test_put_inventory_by_api_and_content_hashes(ssm, gathered):
    node = gathered.id("n0")
    t = f"Custom:Api{uid()}"
    put(ssm, node, t, [{"Owner": "ops"}], ContentHash="h1")
    assert entries(ssm, node, t) == [{"Owner": "ops"}]
    put(ssm, node, t, None, ContentHash="h1")  # unchanged: by hash alone
    assert entries(ssm, node, t) == [{"Owner": "ops"}]
    with raises_aws("ItemContentMismatchException"):
        put(ssm, node, t, None, ContentHash="other")
    ssm.delete_inventory(TypeName=t, SchemaDeleteOption="DeleteSchema")


def test_the_audit_trail_counts_inventory_entries_instead_of_copying_them(server, ssm, gathered):
    node = gathered.id("n0")
    t = f"Custom:Audited{uid()}"
    put(ssm, node, t, [{"Owner": "ops"}, {"Owner": "dev"}])
    trail = server.client("cloudtrail")

    def logged():
        for e in trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "PutInventory"}])[
            "Events"
        ]:
            params = json.loads(e["CloudTrailEvent"])["requestParameters"]
            if params["Items"][0]["TypeName"] == t:
                return params
        return None

    params = wait_until(logged, 15, "the PutInventory call in the audit trail")
    assert params["InstanceId"] == node
    assert params["Items"][0]["Content"] == "2 entries"
    ssm.delete_inventory(TypeName=t, SchemaDeleteOption="DeleteSchema")


def test_delete_inventory_dry_run_disable_and_delete_schema(ssm, gathered):
    a, b = gathered.ids
    t = f"Custom:Del{uid()}"
    put(ssm, a, t, [{"K": "1"}])
    put(ssm, b, t, [{"K": "2"}], version="1.1")
    dry = ssm.delete_inventory(TypeName=t, DryRun=True)
    assert "DeletionId" not in dry
    assert dry["DeletionSummary"]["TotalCount"] == 2
    assert entries(ssm, a, t) == [{"K": "1"}]

    done = ssm.delete_inventory(TypeName=t, SchemaDeleteOption="DisableSchema")
    summary = done["DeletionSummary"]
    assert summary["TotalCount"] == 2 and summary["RemainingCount"] == 2
    assert sorted((i["Version"], i["Count"]) for i in summary["SummaryItems"]) == [("1.0", 1), ("1.1", 1)]
    [status] = ssm.describe_inventory_deletions(DeletionId=done["DeletionId"])["InventoryDeletions"]
    assert status["LastStatus"] == "Complete" and status["DeletionSummary"]["RemainingCount"] == 0
    assert entries(ssm, a, t) == [] and nodes_where(ssm, {"Key": f"{t}.K", "Values": ["1"]}) == []
    # Disabled: the same version is dropped; a newer one enables the type again.
    put(ssm, a, t, [{"K": "3"}], version="1.1")
    assert entries(ssm, a, t) == []
    put(ssm, a, t, [{"K": "4"}], version="2.0")
    assert entries(ssm, a, t) == [{"K": "4"}]

    ssm.delete_inventory(TypeName=t, SchemaDeleteOption="DeleteSchema")
    with raises_aws("InvalidTypeNameException"):
        ssm.get_inventory_schema(TypeName=t)
    with raises_aws("InvalidTypeNameException"):
        ssm.list_inventory_entries(InstanceId=a, TypeName=t)


def test_bad_inputs_get_ssm_errors(ssm, gathered):
    node = gathered.id("n0")
    now = "2026-12-07T10:00:00Z"
    with raises_aws("InvalidTypeNameException"):
        put(ssm, node, "AWS:Nonsense", [])
    with raises_aws("InvalidItemContentException"):
        put(ssm, node, "AWS:Application", [{"Colour": "blue"}], version="1.1")
    with raises_aws("UnsupportedInventorySchemaVersionException"):
        put(ssm, node, "AWS:Network", [], version="9.9")
    with raises_aws("UnsupportedInventoryItemContextException"):
        put(ssm, node, f"Custom:C{uid()}", [{"a": "b"}], Context={"k": "v"})
    with raises_aws("ItemSizeLimitExceededException"):
        put(ssm, node, f"Custom:Big{uid()}", [{"Blob": "x" * 4000, "N": str(i)} for i in range(60)])
    with raises_aws("InvalidInstanceId"):
        put(ssm, "mi-00000000000000000", "Custom:X", [{"a": "b"}])
    with raises_aws("ValidationException"):
        ssm.put_inventory(InstanceId=node, Items=[{"TypeName": "Custom:X", "SchemaVersion": "1", "CaptureTime": now}])
    t = f"Custom:Case{uid()}"
    put(ssm, node, t, [{"Vendor": "a"}])
    with raises_aws("InvalidItemContentException"):
        put(ssm, node, t, [{"vendor": "a"}])
    ssm.delete_inventory(TypeName=t, SchemaDeleteOption="DeleteSchema")

    for bad in (
        {"Key": "AWS:Application", "Values": ["x"]},
        {"Key": "AWS:Nonsense.Name", "Values": ["x"]},
        {"Key": "AWS:Application.Colour", "Values": ["x"]},
        {"Key": "AWS:Application.Name", "Values": ["x"], "Type": "Exists"},
        {"Key": "AWS:Application.Version", "Values": ["1", "2"], "Type": "LessThan"},
    ):
        with raises_aws("InvalidFilter"):
            ssm.get_inventory(Filters=[bad])
    for bad in ({"Expression": "AWS:Application"}, {"Expression": "AWS:Application.Summary"}, {"Expression": "X:Y.Z"}):
        with raises_aws("InvalidAggregatorException"):
            ssm.get_inventory(Aggregators=[bad])
    with raises_aws("InvalidInventoryGroupException"):
        ssm.get_inventory(
            Aggregators=[{"Groups": [{"Name": "g", "Filters": [{"Key": "TypeName", "Values": ["AWS:File"], "Type": "Equal"}]}]}]
        )
    with raises_aws("InvalidResultAttributeException"):
        ssm.get_inventory(ResultAttributes=[{"TypeName": "Custom:NoSuchType"}])
    with raises_aws("InvalidNextToken"):
        ssm.get_inventory(NextToken="garbage")
    with raises_aws("InvalidInstanceId"):
        ssm.list_inventory_entries(InstanceId="mi-00000000000000000", TypeName="AWS:Application")
    with raises_aws("InvalidTypeNameException"):
        ssm.list_inventory_entries(InstanceId=node, TypeName="Custom:NoSuchType")
    with raises_aws("InvalidFilter"):
        ssm.list_inventory_entries(
            InstanceId=node, TypeName="AWS:Application", Filters=[{"Key": "AWS:Network.Name", "Values": ["lo"]}]
        )
    with raises_aws("InvalidDeleteInventoryParametersException"):
        ssm.delete_inventory(TypeName="AWS:Application")
    with raises_aws("InvalidTypeNameException"):
        ssm.delete_inventory(TypeName="Custom:NoSuchType")
    with raises_aws("InvalidDeletionIdException"):
        ssm.describe_inventory_deletions(DeletionId="11111111-2222-3333-4444-555555555555")


def test_custom_type_count_is_limited(ssm, gathered):
    node = gathered.id("n0")
    existing = [s["TypeName"] for s in collect(ssm.get_inventory_schema, "Schemas", TypeName="Custom:")]
    made = []
    try:
        with raises_aws("CustomSchemaCountLimitExceededException"):
            for i in range(21 - len(existing)):
                t = f"Custom:Many{i}{uid()}"
                put(ssm, node, t, [{"i": str(i)}])
                made.append(t)
        assert len(existing) + len(made) == 20
    finally:
        for t in made:
            ssm.delete_inventory(TypeName=t, SchemaDeleteOption="DeleteSchema")


def test_a_limited_user_reads_and_writes_only_what_it_may(server, ssm, gathered):
    a, b = gathered.ids
    arn = f"arn:aws:ssm:{server.region}:{server.account_id}:managed-instance/{a}"
    ak, sk, _ = make_user(
        server, f"inv-{uid()}", policy(allow(["ssm:ListInventoryEntries", "ssm:GetInventory"], [arn]))
    )
    user = as_user(server, "ssm", ak, sk)
    assert user.list_inventory_entries(InstanceId=a, TypeName="AWS:InstanceInformation")["Entries"]
    with raises_aws("AccessDeniedException"):
        user.list_inventory_entries(InstanceId=b, TypeName="AWS:InstanceInformation")
    with raises_aws("AccessDeniedException"):
        user.put_inventory(
            InstanceId=a, Items=[{"TypeName": "Custom:Evil", "SchemaVersion": "1.0", "CaptureTime": "2026-12-07T10:00:00Z", "Content": []}]
        )
    with raises_aws("AccessDeniedException"):
        user.get_inventory()


def test_a_deleted_type_comes_back_whole_from_the_agent(ssm, gathered):
    """The agent sends unchanged types by hash; after DeleteInventory the server no longer has
    what the hash stands for, refuses it, and the agent sends the content again."""
    node = gathered["n1"]
    folder = node.state_dir / "inventory" / "custom"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "owner.json").write_text(json.dumps({"TypeName": "Custom:Owner", "Content": {"Team": "payments"}}))
    gather(ssm, [node.instance_id])
    assert entries(ssm, node.instance_id, "Custom:Owner") == [{"Team": "payments"}]
    ssm.delete_inventory(TypeName="Custom:Owner")
    assert entries(ssm, node.instance_id, "Custom:Owner") == []
    out = gather(ssm, [node.instance_id])[node.instance_id]["StandardOutputContent"]
    assert entries(ssm, node.instance_id, "Custom:Owner") == [{"Team": "payments"}], out
    (folder / "owner.json").unlink()
    ssm.delete_inventory(TypeName="Custom:Owner", SchemaDeleteOption="DeleteSchema")


def test_files_by_pattern(ssm, gathered, tmp_path):
    node = gathered.id("n0")
    (tmp_path / "etc" / "app").mkdir(parents=True)
    (tmp_path / "etc" / "app" / "main.conf").write_text("port=80\n")
    (tmp_path / "etc" / "other.conf").write_text("x")
    (tmp_path / "etc" / "notes.txt").write_text("x")
    files = json.dumps([{"Path": str(tmp_path / "etc"), "Pattern": ["*.conf"], "Recursive": True}])
    gather(ssm, [node], files=files)
    found = {f["Name"]: f for f in entries(ssm, node, "AWS:File")}
    assert sorted(found) == ["main.conf", "other.conf"]
    assert found["main.conf"]["Size"] == "8"
    assert found["main.conf"]["InstalledDir"] == str(tmp_path / "etc" / "app")
    big = {"Key": "AWS:File.Size", "Values": ["5"], "Type": "GreaterThan"}
    assert [f["Name"] for f in entries(ssm, node, "AWS:File", Filters=[big])] == ["main.conf"]
    # A bad files setting fails the step with the reason; nothing changes.
    aid = ssm.create_association(
        Name=GATHER, Targets=[{"Key": "InstanceIds", "Values": [node]}], Parameters={"files": ["[{\"Path\": \"relative\"}]"]},
        ScheduleExpression="rate(30 minutes)",
    )["AssociationDescription"]["AssociationId"]
    try:
        def failed():
            runs = ssm.describe_association_executions(AssociationId=aid)["AssociationExecutions"]
            return [r for r in runs if r["Status"] == "Failed"] or None

        wait_until(failed, 60, "the gathering with a bad files setting to fail")
    finally:
        ssm.delete_association(AssociationId=aid)
    assert sorted(f["Name"] for f in entries(ssm, node, "AWS:File")) == ["main.conf", "other.conf"]


def test_the_agent_prints_what_it_would_report(gathered):
    node = gathered["n0"]
    out = subprocess.run(
        [str(agent_bin()), "--state-dir", str(node.state_dir), "inventory"], capture_output=True, text=True, check=True
    ).stdout
    items = {i["type_name"]: i for i in json.loads(out)}
    assert items["AWS:InstanceInformation"]["content"][0]["InstanceId"] == node.instance_id
    assert any(a["Name"] == "dpkg" for a in items["AWS:Application"]["content"])


def test_deregistration_takes_the_nodes_inventory(server, ssm, agent_factory):
    act_id, code = create_activation(ssm, name=f"inv-gone-{uid()}")
    agent = agent_factory(f"gone{uid()}")
    agent.register(server.url, act_id, code)
    agent.start()
    wait_ping(ssm, [agent.instance_id], "Online")
    gather(ssm, [agent.instance_id])
    where = {"Key": "AWS:InstanceInformation.InstanceId", "Values": [agent.instance_id]}
    assert nodes_where(ssm, where) == [agent.instance_id]
    ssm.deregister_managed_instance(InstanceId=agent.instance_id)
    assert nodes_where(ssm, where) == []
    with raises_aws("InvalidInstanceId"):
        ssm.list_inventory_entries(InstanceId=agent.instance_id, TypeName="AWS:Application")


def sync_files(server, bucket: str, prefix: str, type_name: str) -> dict[str, list[dict]]:
    """Node id → the JSON lines of its file of ``type_name`` in a sync's bucket."""
    account = server.admin.get("STEWARD_ACCOUNT_ID") or server.account_id
    folder = (
        server.data_dir / "blobs" / bucket / prefix / type_name / f"accountid={account}" / f"region={server.region}"
        / "resourcetype=ManagedInstanceInventory"
    )
    if not folder.is_dir():
        return {}
    return {
        f.stem: [json.loads(line) for line in f.read_text().splitlines()]
        for f in folder.glob("*.json")
    }


def test_a_resource_data_sync_writes_and_follows_the_inventory(server, ssm, gathered):
    bucket, prefix, name = "inventory-export", f"fleet-{uid()}", f"sync-{uid()}"
    destination = {"BucketName": bucket, "Prefix": prefix, "SyncFormat": "JsonSerDe", "Region": server.region}
    ssm.create_resource_data_sync(SyncName=name, S3Destination=destination)
    try:
        n0, n1 = gathered.id("n0"), gathered.id("n1")
        # The first export: every node's every type, one JSON line per entry.
        apps = wait_until(
            lambda: (f := sync_files(server, bucket, prefix, "AWS:Application")) and len(f) == 2 and f,
            30, "the first export",
        )
        assert set(apps) == {n0, n1}
        line = next(l for l in apps[n0] if l["Name"] == "dpkg")
        assert line["resourceId"] == n0 and line["Version"] == dpkg_version("dpkg") and line["schemaVersion"]
        assert len(apps[n0]) == len(entries(ssm, n0, "AWS:Application"))
        [info] = sync_files(server, bucket, prefix, "AWS:InstanceInformation")[n1]
        assert info["InstanceId"] == n1

        # A change lands in the files; a deleted type's files go.
        t = f"Custom:Sync{uid()}"
        put(ssm, n0, t, [{"Rack": "r1"}])
        wait_until(lambda: sync_files(server, bucket, prefix, t).get(n0, [{}])[0].get("Rack") == "r1", 30, "custom file")
        put(ssm, n0, t, [{"Rack": "r2"}, {"Rack": "r3"}])
        wait_until(lambda: [l["Rack"] for l in sync_files(server, bucket, prefix, t).get(n0, [])] == ["r2", "r3"],
                   30, "the updated custom file")
        ssm.delete_inventory(TypeName=t, SchemaDeleteOption="DeleteSchema")
        wait_until(lambda: n0 not in sync_files(server, bucket, prefix, t), 30, "the deleted type's file to go")

        [item] = [i for i in ssm.list_resource_data_sync()["ResourceDataSyncItems"] if i["SyncName"] == name]
        assert item["LastStatus"] == "Successful" and item["S3Destination"] == destination
        assert item["SyncType"] == "SyncToDestination" and item["LastSuccessfulSyncTime"]

        # Bad configurations, each SSM's error.
        with raises_aws("ResourceDataSyncAlreadyExistsException"):
            ssm.create_resource_data_sync(SyncName=name, S3Destination=destination)
        for bad in (
            {**destination, "BucketName": "steward-audit"},
            {**destination, "BucketName": "Not_A_Bucket"},
            {**destination, "Prefix": "../escape"},
            {**destination, "AWSKMSKeyARN": "arn:aws:kms:us-east-1:123456789012:key/x"},
        ):
            with raises_aws("ResourceDataSyncInvalidConfigurationException"):
                ssm.create_resource_data_sync(SyncName=f"bad-{uid()}", S3Destination=bad)
        with raises_aws("ResourceDataSyncInvalidConfigurationException"):
            ssm.create_resource_data_sync(
                SyncName=f"src-{uid()}", SyncType="SyncFromSource",
                SyncSource={"SourceType": "SingleAccountMultiRegions", "SourceRegions": [server.region]},
            )
        with raises_aws("ResourceDataSyncInvalidConfigurationException"):
            ssm.update_resource_data_sync(
                SyncName=name, SyncType="SyncFromSource",
                SyncSource={"SourceType": "SingleAccountMultiRegions", "SourceRegions": [server.region]},
            )
        with raises_aws("ResourceDataSyncNotFoundException"):
            ssm.delete_resource_data_sync(SyncName=f"missing-{uid()}")
        # The server's own buckets are not a command's output folder either.
        with raises_aws("InvalidOutputFolder"):
            ssm.send_command(
                DocumentName="AWS-RunShellScript", InstanceIds=[n0], Parameters={"commands": ["true"]},
                OutputS3BucketName="steward-audit-digest",
            )
        extra = []
        try:
            with raises_aws("ResourceDataSyncCountExceededException"):
                for i in range(5):
                    s = f"more-{i}-{uid()}"
                    ssm.create_resource_data_sync(SyncName=s, S3Destination={**destination, "Prefix": s})
                    extra.append(s)
            assert len(extra) + 1 <= 5
        finally:
            for s in extra:
                ssm.delete_resource_data_sync(SyncName=s)
    finally:
        ssm.delete_resource_data_sync(SyncName=name)
    # The files stay after the sync is gone, as SSM leaves them in the bucket.
    assert sync_files(server, bucket, prefix, "AWS:Application")
    assert name not in [i["SyncName"] for i in ssm.list_resource_data_sync()["ResourceDataSyncItems"]]


def test_node_views_list_count_and_filter_the_fleet(server, ssm, gathered):
    n0, n1 = gathered.id("n0"), gathered.id("n1")
    nodes = {n["Id"]: n for n in collect(ssm.list_nodes, "Nodes", MaxResults=1)}
    assert {n0, n1} <= set(nodes)
    info = nodes[n0]["NodeType"]["Instance"]
    assert info["PlatformType"] == "Linux" and info["ManagedStatus"] == "Managed"
    assert info["InstanceStatus"] == "Active" and info["ResourceType"] == "ManagedInstance"
    assert nodes[n0]["Owner"]["AccountId"] and nodes[n0]["CaptureTime"]

    def ids(**kw):
        return sorted(n["Id"] for n in collect(ssm.list_nodes, "Nodes", **kw))

    assert ids(Filters=[{"Key": "InstanceId", "Values": [n0]}]) == [n0]
    assert ids(Filters=[{"Key": "InstanceId", "Values": [n0], "Type": "NotEqual"}, {"Key": "InstanceId", "Values": [n0, n1]}]) == [n1]
    assert ids(Filters=[{"Key": "PlatformType", "Values": ["Windows"]}]) == []
    prefix = info["ComputerName"][:2]
    assert {n0, n1} <= set(ids(Filters=[{"Key": "ComputerName", "Values": [prefix], "Type": "BeginWith"}]))

    count = {"AggregatorType": "Count", "TypeName": "Instance"}
    rows = ssm.list_nodes_summary(
        Filters=[{"Key": "InstanceId", "Values": [n0, n1]}], Aggregators=[{**count, "AttributeName": "PlatformType"}]
    )["Summary"]
    assert rows == [{"PlatformType": "Linux", "Count": "2"}]
    nested = ssm.list_nodes_summary(
        Filters=[{"Key": "InstanceId", "Values": [n0, n1]}],
        Aggregators=[{**count, "AttributeName": "PlatformName", "Aggregators": [{**count, "AttributeName": "AgentVersion"}]}],
    )["Summary"]
    assert nested == [{"PlatformName": info["PlatformName"], "AgentVersion": info["AgentVersion"], "Count": "2"}]

    def props(**kw):
        return sorted(p["InstanceId"] for p in collect(ssm.describe_instance_properties, "InstanceProperties", **kw)
                      if p["InstanceId"] in (n0, n1))

    assert props() == sorted([n0, n1])
    assert props(InstancePropertyFilterList=[{"key": "InstanceIds", "valueSet": [n1]}]) == [n1]
    assert props(FiltersWithOperator=[{"Key": "tag:role", "Values": ["web"]}]) == [n0]
    assert props(FiltersWithOperator=[{"Key": "AgentVersion", "Values": ["0.0.1"], "Operator": "GreaterThan"}]) == sorted([n0, n1])
    assert props(FiltersWithOperator=[{"Key": "AgentVersion", "Values": ["0.0.1"], "Operator": "LessThan"}]) == []
    assert props(FiltersWithOperator=[{"Key": "PingStatus", "Values": ["ConnectionLost"], "Operator": "NotEqual"}]) == sorted([n0, n1])
    assert props(FiltersWithOperator=[{"Key": "DocumentName", "Values": ["No-Such-Document"]}]) == []
    p = next(p for p in collect(ssm.describe_instance_properties, "InstanceProperties", MaxResults=5)
             if p["InstanceId"] == n0)
    assert p["PingStatus"] == "Online" and p["ResourceType"] == "ManagedInstance" and p["IPAddress"]

    # Bad input: SSM's errors.
    with raises_aws("ResourceDataSyncNotFoundException"):
        ssm.list_nodes(SyncName="AWS-QuickSetup-ManagedNode")
    with raises_aws("ValidationException"):
        ssm.list_nodes(Filters=[{"Key": "Color", "Values": ["red"]}])
    with raises_aws("ValidationException"):
        ssm.list_nodes_summary(Aggregators=[{**count, "AttributeName": "Color"}])
    with raises_aws("InvalidFilterKey"):
        ssm.describe_instance_properties(FiltersWithOperator=[{"Key": "Color", "Values": ["red"]}])
    with raises_aws("ValidationException"):
        ssm.describe_instance_properties(
            InstancePropertyFilterList=[{"key": "InstanceIds", "valueSet": [n0]}],
            FiltersWithOperator=[{"Key": "PingStatus", "Values": ["Online"]}],
        )
    with raises_aws("ValidationException"):
        server.client("ssm", validate=False).describe_instance_properties(MaxResults=2)
