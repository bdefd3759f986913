"""Resource groups end to end: the Resource Groups API (REST-JSON, signed for
``resource-groups``) through boto3 and the aws CLI; a group's members across nodes,
documents, parameters and maintenance windows, found by their tags when asked; groups as
targets of Run Command, State Manager and maintenance windows, where a node tagged later
joins; every bad input gets Resource Groups' (or SSM's) error; a limited IAM user is
refused.

Fleet (tags): g0 role=web, g1 role=db — real agents on this machine.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from conftest import Fleet, collect, raises_aws, start_fleet, wait_until
from test_audit import lookup_all
from test_iam import allow, as_user, make_user, policy, uid
from test_windows import only_execution, open_window, shell_task

TAGS = {"g0": {"role": "web"}, "g1": {"role": "db"}}
NODE = "AWS::SSM::ManagedInstance"


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1", "--test-clock"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, TAGS, env_for=lambda name: {"E2E_NODE": name})


@pytest.fixture(scope="module")
def ssm(server, fleet):
    return server.ssm()


@pytest.fixture(scope="module")
def rg(server, fleet):
    return server.client("resource-groups")


@pytest.fixture(scope="module")
def loose(server, fleet):
    """A client that sends what botocore's own checks would stop (the server must refuse)."""
    return server.client("resource-groups", validate=False)


def tag_query(filters: dict[str, list[str]], types: list[str] | None = None) -> dict:
    return {
        "Type": "TAG_FILTERS_1_0",
        "Query": json.dumps(
            {
                "ResourceTypeFilters": types or ["AWS::AllSupported"],
                "TagFilters": [{"Key": k, "Values": v} if v else {"Key": k} for k, v in filters.items()],
            }
        ),
    }


def members(rg, group: str, **kw) -> list[tuple[str, str]]:
    found = collect(rg.list_group_resources, "Resources", Group=group, **kw)
    return sorted((r["Identifier"]["ResourceType"], r["Identifier"]["ResourceArn"]) for r in found)


def account_id(server) -> str:
    return server.admin.get("STEWARD_ACCOUNT_ID") or server.account_id


def wait_command(ssm, cid: str, timeout: float = 60) -> dict:
    def done():
        [c] = ssm.list_commands(CommandId=cid)["Commands"]
        return c if c["Status"] in ("Success", "Failed", "TimedOut", "Cancelled") else None

    return wait_until(done, timeout, f"command {cid}", interval=0.25)


def ran_on(ssm, cid: str) -> set[str]:
    return {i["InstanceId"] for i in collect(ssm.list_command_invocations, "CommandInvocations", CommandId=cid)}


def test_group_lifecycle_with_boto3(server, rg):
    name = f"web-{uid()}"
    made = rg.create_group(
        Name=name, Description="Web servers", ResourceQuery=tag_query({"role": ["web"]}), Tags={"team": "ops"}
    )
    arn = f"arn:aws:resource-groups:{server.region}:{account_id(server)}:group/{name}"
    assert made["Group"] == {"GroupArn": arn, "Name": name, "Description": "Web servers"}
    assert made["Tags"] == {"team": "ops"} and made["ResourceQuery"] == tag_query({"role": ["web"]})
    # By name, by ARN, and by the older GroupName.
    assert rg.get_group(Group=name)["Group"]["GroupArn"] == arn
    assert rg.get_group(Group=arn)["Group"]["Name"] == name
    assert rg.get_group(GroupName=name)["Group"]["Name"] == name
    assert rg.get_group_query(Group=name)["GroupQuery"] == {"GroupName": name, "ResourceQuery": made["ResourceQuery"]}

    rg.update_group(Group=name, Description="Front end")
    assert rg.get_group(Group=name)["Group"]["Description"] == "Front end"
    new_query = tag_query({"role": ["web", "api"], "env": []}, [NODE])
    assert rg.update_group_query(Group=arn, ResourceQuery=new_query)["GroupQuery"]["ResourceQuery"] == new_query
    assert rg.get_group_query(Group=name)["GroupQuery"]["ResourceQuery"] == new_query

    # The group's own tags: Tag merges, Untag removes, GetTags shows all.
    assert rg.tag(Arn=arn, Tags={"tier": "1", "team": "sre"})["Tags"] == {"tier": "1", "team": "sre"}
    assert rg.get_tags(Arn=arn)["Tags"] == {"team": "sre", "tier": "1"}
    assert rg.untag(Arn=arn, Keys=["tier", "absent"])["Keys"] == ["tier", "absent"]
    assert rg.get_tags(Arn=arn)["Tags"] == {"team": "sre"}

    # ListGroups pages (maxResults in the query string) and filters by resource type.
    other = f"docs-{uid()}"
    rg.create_group(Name=other, ResourceQuery=tag_query({"kind": []}, ["AWS::SSM::Document"]))
    listed = collect(rg.list_groups, "GroupIdentifiers", MaxResults=1)
    names = [g["GroupName"] for g in listed]
    assert name in names and other in names and names == sorted(names)
    page = rg.list_groups(MaxResults=1)
    assert len(page["GroupIdentifiers"]) == 1 and len(page["Groups"]) == 1 and "NextToken" in page
    by_type = rg.list_groups(Filters=[{"Name": "resource-type", "Values": ["AWS::SSM::Document"]}])
    typed = {g["GroupName"] for g in by_type["GroupIdentifiers"]}
    assert other in typed and name not in typed

    assert rg.delete_group(Group=name)["Group"]["Name"] == name
    rg.delete_group(GroupName=other)
    with raises_aws("NotFoundException", status=404):
        rg.get_group(Group=name)
    with raises_aws("NotFoundException", status=404):
        rg.get_tags(Arn=arn)


def test_the_aws_cli_manages_groups(server):
    name = f"cli-{uid()}"
    query = json.dumps(tag_query({"Stage": ["Test"]}))
    out = server.aws("resource-groups", "create-group", "--name", name, "--resource-query", query)
    assert out["Group"]["Name"] == name
    got = server.aws("resource-groups", "get-group", "--group-name", name)
    assert got["Group"]["GroupArn"].endswith(f":group/{name}")
    listed = server.aws("resource-groups", "list-groups")
    assert name in [g["GroupName"] for g in listed["GroupIdentifiers"]]
    arn = got["Group"]["GroupArn"]
    server.aws("resource-groups", "tag", "--arn", arn, "--tags", "owner=me")
    assert server.aws("resource-groups", "get-tags", "--arn", arn)["Tags"] == {"owner": "me"}
    server.aws("resource-groups", "delete-group", "--group", name)
    with pytest.raises(Exception) as failed:
        server.aws("resource-groups", "get-group", "--group", name)
    assert "NotFoundException" in failed.value.stderr and failed.value.returncode != 0


def test_members_are_every_tagged_resource_found_when_asked(server, rg, ssm, fleet):
    mark = uid()
    param = f"/rg/{mark}/db-url"
    ssm.put_parameter(Name=param, Value="x", Type="String", Tags=[{"Key": "app", "Value": mark}])
    doc = f"rg-doc-{mark}"
    ssm.create_document(
        Name=doc,
        DocumentType="Command",
        Content=json.dumps(
            {"schemaVersion": "2.2", "mainSteps": [{"action": "aws:runShellScript", "name": "s",
                                                     "inputs": {"runCommand": ["true"]}}]}
        ),
        Tags=[{"Key": "app", "Value": mark}],
    )
    window = ssm.create_maintenance_window(
        Name=f"rg-{mark}", Schedule="rate(7 days)", Duration=1, Cutoff=0, AllowUnassociatedTargets=False,
        Tags=[{"Key": "app", "Value": mark}],
    )["WindowId"]
    g0 = fleet.id("g0")
    group = f"app-{mark}"
    rg.create_group(Name=group, ResourceQuery=tag_query({"app": [mark]}))
    acct, region = account_id(server), server.region
    expected = [
        ("AWS::SSM::Document", f"arn:aws:ssm:{region}:{acct}:document/{doc}"),
        ("AWS::SSM::MaintenanceWindow", f"arn:aws:ssm:{region}:{acct}:maintenancewindow/{window}"),
        ("AWS::SSM::Parameter", f"arn:aws:ssm:{region}:{acct}:parameter/{param.lstrip('/')}"),
    ]
    assert members(rg, group) == expected

    # A node tagged now is a member now; paging walks every member once.
    ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=g0, Tags=[{"Key": "app", "Value": mark}])
    node = (NODE, f"arn:aws:ssm:{region}:{acct}:managed-instance/{g0}")
    assert members(rg, group) == sorted(expected + [node])
    assert members(rg, group, MaxResults=1) == sorted(expected + [node])
    full = rg.list_group_resources(Group=group)
    assert full["QueryErrors"] == [] and len(full["ResourceIdentifiers"]) == 4
    assert members(rg, group, Filters=[{"Name": "resource-type", "Values": [NODE]}]) == [node]

    # SearchResources answers a query without a group, and says what it cannot look at.
    found = rg.search_resources(ResourceQuery=tag_query({"app": [mark]}, ["AWS::SSM::Parameter", "AWS::EC2::Instance"]))
    assert [r["ResourceArn"] for r in found["ResourceIdentifiers"]] == [expected[2][1]]
    assert [e["ErrorCode"] for e in found["QueryErrors"]] == ["RESOURCE_TYPE_NOT_SUPPORTED"]

    # Untagging takes a resource out; deleting the group leaves its members alone.
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=param, TagKeys=["app"])
    assert members(rg, group) == sorted(expected[:2] + [node])
    rg.delete_group(Group=group)
    assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == "x"
    ssm.remove_tags_from_resource(ResourceType="ManagedInstance", ResourceId=g0, TagKeys=["app"])
    ssm.delete_maintenance_window(WindowId=window)
    ssm.delete_document(Name=doc)
    ssm.delete_parameter(Name=param)


def test_run_command_targets_a_group_and_a_node_tagged_later_joins(rg, ssm, fleet):
    group = f"fleet-{uid()}"
    mark = uid()
    rg.create_group(Name=group, ResourceQuery=tag_query({"role": ["web"], "wave": [mark]}, [NODE]))
    g0, g1 = fleet.id("g0"), fleet.id("g1")
    ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=g0, Tags=[{"Key": "wave", "Value": mark}])
    targets = [{"Key": "resource-groups:Name", "Values": [group]}]

    def run() -> dict:
        c = ssm.send_command(
            DocumentName="AWS-RunShellScript", Targets=targets, Parameters={"commands": ["echo node=$E2E_NODE"]}
        )["Command"]
        assert c["Targets"] == targets
        return wait_command(ssm, c["CommandId"])

    first = run()
    assert first["Status"] == "Success" and ran_on(ssm, first["CommandId"]) == {g0}
    out = ssm.get_command_invocation(CommandId=first["CommandId"], InstanceId=g0)["StandardOutputContent"]
    assert out == "node=g0\n"

    # g1 gets the tags the group asks for: the next command reaches it too.
    ssm.add_tags_to_resource(
        ResourceType="ManagedInstance", ResourceId=g1,
        Tags=[{"Key": "wave", "Value": mark}, {"Key": "role", "Value": "web"}],
    )
    try:
        second = run()
        assert ran_on(ssm, second["CommandId"]) == {g0, g1}
        # A type filter that leaves out nodes runs nowhere.
        c = ssm.send_command(
            DocumentName="AWS-RunShellScript",
            Targets=targets + [{"Key": "resource-groups:ResourceTypeFilters", "Values": ["AWS::SSM::Document"]}],
            Parameters={"commands": ["true"]},
        )["Command"]
        assert c["TargetCount"] == 0
    finally:
        ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=g1, Tags=[{"Key": "role", "Value": "db"}])
        for node in (g0, g1):
            ssm.remove_tags_from_resource(ResourceType="ManagedInstance", ResourceId=node, TagKeys=["wave"])
        rg.delete_group(Group=group)

    with raises_aws("InvalidTarget"):
        ssm.send_command(DocumentName="AWS-RunShellScript", Targets=targets, Parameters={"commands": ["true"]})
    with raises_aws("InvalidTarget"):
        ssm.send_command(
            DocumentName="AWS-RunShellScript",
            Targets=[{"Key": "resource-groups:Name", "Values": ["a", "b"]}],
            Parameters={"commands": ["true"]},
        )


def test_an_association_on_a_group_applies_to_a_node_tagged_later(rg, ssm, fleet, tmp_path):
    mark = uid()
    group = f"assoc-{mark}"
    rg.create_group(Name=group, ResourceQuery=tag_query({"patch": [mark]}, [NODE]))
    g0, g1 = fleet.id("g0"), fleet.id("g1")
    ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=g0, Tags=[{"Key": "patch", "Value": mark}])
    log = tmp_path / "applied"
    aid = ssm.create_association(
        Name="AWS-RunShellScript",
        Targets=[{"Key": "resource-groups:Name", "Values": [group]}],
        Parameters={"commands": [f"echo $E2E_NODE >> {log}"]},
        ScheduleExpression="rate(30 minutes)",
    )["AssociationDescription"]["AssociationId"]
    try:
        wait_until(lambda: log.exists() and log.read_text().split() == ["g0"], 60, "the association on g0")
        ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=g1, Tags=[{"Key": "patch", "Value": mark}])
        wait_until(lambda: sorted(log.read_text().split()) == ["g0", "g1"], 60, "the association to reach g1")
        effective = ssm.describe_effective_instance_associations(InstanceId=g1)["Associations"]
        assert aid in [a["AssociationId"] for a in effective]
    finally:
        ssm.delete_association(AssociationId=aid)
        for node in (g0, g1):
            ssm.remove_tags_from_resource(ResourceType="ManagedInstance", ResourceId=node, TagKeys=["patch"])
        rg.delete_group(Group=group)
    with raises_aws("InvalidTarget"):
        ssm.create_association(
            Name="AWS-RunShellScript",
            Targets=[{"Key": "resource-groups:Name", "Values": [group]}],
            Parameters={"commands": ["true"]},
        )


def test_a_window_runs_on_its_resource_group(server, rg, ssm, fleet, tmp_path):
    mark = uid()
    group = f"mw-{mark}"
    rg.create_group(Name=group, ResourceQuery=tag_query({"role": ["db"]}))
    window = ssm.create_maintenance_window(
        Name=f"rg-{mark}", Schedule="cron(0 3 ? * * *)", Duration=2, Cutoff=0, AllowUnassociatedTargets=False
    )["WindowId"]
    try:
        with raises_aws("ValidationException"):
            ssm.register_target_with_maintenance_window(
                WindowId=window, ResourceType="INSTANCE", Targets=[{"Key": "resource-groups:Name", "Values": [group]}]
            )
        with raises_aws("ValidationException"):
            ssm.register_target_with_maintenance_window(
                WindowId=window, ResourceType="RESOURCE_GROUP", Targets=[{"Key": "tag:role", "Values": ["db"]}]
            )
        with raises_aws("InvalidTarget"):
            ssm.register_target_with_maintenance_window(
                WindowId=window, ResourceType="RESOURCE_GROUP",
                Targets=[{"Key": "resource-groups:Name", "Values": [f"missing-{mark}"]}],
            )
        target = ssm.register_target_with_maintenance_window(
            WindowId=window,
            ResourceType="RESOURCE_GROUP",
            Targets=[
                {"Key": "resource-groups:Name", "Values": [group]},
                {"Key": "resource-groups:ResourceTypeFilters", "Values": [NODE]},
            ],
        )["WindowTargetId"]
        log = tmp_path / "window"
        shell_task(ssm, window, target, 1, [f"echo $E2E_NODE >> {log}"])
        open_window(server, ssm, window)
        run = only_execution(ssm, window)
        assert run["Status"] == "SUCCESS", run
        assert log.read_text().split() == ["g1"]
    finally:
        ssm.delete_maintenance_window(WindowId=window)
        rg.delete_group(Group=group)


def test_bad_inputs_get_resource_groups_errors(server, rg, loose):
    good = tag_query({"a": []})
    bad_creates = [
        dict(Name="AWS-reserved", ResourceQuery=good),
        dict(Name="has space", ResourceQuery=good),
        dict(Name="x" * 301, ResourceQuery=good),
        dict(Name=f"d-{uid()}", Description="semi;colon", ResourceQuery=good),
        dict(Name=f"q-{uid()}", ResourceQuery={"Type": "TAG_FILTERS_1_0", "Query": "not json"}),
        dict(Name=f"q-{uid()}", ResourceQuery={"Type": "CLOUDFORMATION_STACK_1_0", "Query": "{}"}),
        dict(Name=f"q-{uid()}", ResourceQuery={"Type": "SQL", "Query": "{}"}),
        dict(Name=f"q-{uid()}", ResourceQuery=tag_query({})),
        dict(Name=f"q-{uid()}", ResourceQuery={"Type": "TAG_FILTERS_1_0", "Query": json.dumps(
            {"ResourceTypeFilters": ["EC2"], "TagFilters": [{"Key": "a"}]})}),
        dict(Name=f"q-{uid()}", ResourceQuery={"Type": "TAG_FILTERS_1_0", "Query": "x" * 5000}),
        dict(Name=f"t-{uid()}", ResourceQuery=good, Tags={"aws:owner": "me"}),
        dict(Name=f"n-{uid()}"),
        dict(Name=f"c-{uid()}", Configuration=[{"Type": "AWS::EC2::CapacityReservationPool"}]),
    ]
    for args in bad_creates:
        with raises_aws("BadRequestException"):
            loose.create_group(**args)
    name = f"dup-{uid()}"
    nodes_only = tag_query({"a": []}, [NODE])
    rg.create_group(Name=name, ResourceQuery=nodes_only)
    try:
        with raises_aws("BadRequestException"):
            rg.create_group(Name=name, ResourceQuery=good)
        for bad in (0, 51):
            with raises_aws("BadRequestException"):
                loose.list_groups(MaxResults=bad)
            with raises_aws("BadRequestException"):
                loose.list_group_resources(Group=name, MaxResults=bad)
        for token in ("%%%", "bm9wZQ=="):
            with raises_aws("BadRequestException"):
                loose.list_groups(NextToken=token)
        with raises_aws("BadRequestException"):
            loose.list_groups(Filters=[{"Name": "color", "Values": ["red"]}])
        with raises_aws("BadRequestException"):
            rg.list_group_resources(Group=name, Filters=[{"Name": "resource-type", "Values": ["AWS::EC2::Instance"]}])
        with raises_aws("BadRequestException"):
            loose.get_group()
        with raises_aws("BadRequestException"):
            loose.tag(Arn=name, Tags={"a": "b"})
        with raises_aws("BadRequestException"):
            rg.tag(Arn=rg.get_group(Group=name)["Group"]["GroupArn"], Tags={f"k{i}": "v" for i in range(51)})
        with raises_aws("BadRequestException"):
            loose.search_resources(ResourceQuery={"Type": "TAG_FILTERS_1_0", "Query": "[]"})
    finally:
        rg.delete_group(Group=name)
    for missing in ("nobody", f"arn:aws:resource-groups:{server.region}:000000000000:group/nobody"):
        with raises_aws("NotFoundException", status=404):
            rg.get_group(Group=missing)
        with raises_aws("NotFoundException", status=404):
            rg.list_group_resources(Group=missing)
        with raises_aws("NotFoundException", status=404):
            rg.delete_group(Group=missing)


def test_unsigned_and_unknown_requests_are_refused_with_json(server, fleet):
    request = urllib.request.Request(f"{server.url}/groups", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10, context=server._ssl_context())
    assert refused.value.code == 403
    body = json.loads(refused.value.read())
    assert body["__type"] and body["Message"]
    assert refused.value.headers["x-amzn-ErrorType"] == body["__type"]


def test_a_limited_user_is_refused_and_audited(server, rg, ssm, fleet):
    allowed = f"ok-{uid()}"
    hidden = f"hidden-{uid()}"
    for name in (allowed, hidden):
        rg.create_group(Name=name, ResourceQuery=tag_query({"role": ["web"]}, [NODE]))
    acct = account_id(server)
    arn = lambda n: f"arn:aws:resource-groups:{server.region}:{acct}:group/{n}"  # noqa: E731
    ak, sk, user = make_user(
        server,
        f"rg-user-{uid()}",
        policy(
            allow(["resource-groups:GetGroup", "resource-groups:ListGroupResources"], [arn(allowed)]),
            allow(["ssm:SendCommand"], ["*"]),
            allow(["ssm:ListCommands"], ["*"]),
            allow(["resource-groups:GetTags"], ["*"], {"StringEquals": {"aws:ResourceTag/team": "ops"}}),
        ),
    )
    rg.tag(Arn=arn(allowed), Tags={"team": "ops"})
    rg.tag(Arn=arn(hidden), Tags={"team": "dev"})
    mine = as_user(server, "resource-groups", ak, sk)
    my_ssm = as_user(server, "ssm", ak, sk)
    try:
        assert mine.get_group(Group=allowed)["Group"]["Name"] == allowed
        # Conditions read the group's own tags.
        assert mine.get_tags(Arn=arn(allowed))["Tags"] == {"team": "ops"}
        with raises_aws("ForbiddenException", status=403):
            mine.get_tags(Arn=arn(hidden))
        with raises_aws("ForbiddenException", status=403):
            mine.get_group(Group=hidden)
        with raises_aws("ForbiddenException", status=403):
            mine.create_group(Name=f"mine-{uid()}", ResourceQuery=tag_query({"a": []}))
        with raises_aws("ForbiddenException", status=403):
            mine.delete_group(Group=allowed)
        # Fanning out by a group needs leave to list its members.
        with raises_aws("AccessDeniedException"):
            my_ssm.send_command(
                DocumentName="AWS-RunShellScript",
                Targets=[{"Key": "resource-groups:Name", "Values": [hidden]}],
                Parameters={"commands": ["true"]},
            )
        c = my_ssm.send_command(
            DocumentName="AWS-RunShellScript",
            Targets=[{"Key": "resource-groups:Name", "Values": [allowed]}],
            Parameters={"commands": ["true"]},
        )["Command"]
        assert c["TargetCount"] == 1
        wait_command(ssm, c["CommandId"])
    finally:
        for name in (allowed, hidden):
            rg.delete_group(Group=name)

    trail = server.client("cloudtrail")

    def audited():
        events = [json.loads(e["CloudTrailEvent"]) for e in lookup_all(trail, "EventName", "DeleteGroup")]
        return [e for e in events if e.get("userIdentity", {}).get("arn") == user]

    [refused] = wait_until(audited, 20, "the refused DeleteGroup in the audit trail")
    assert refused["eventSource"] == "resource-groups.amazonaws.com"
    assert refused["errorCode"] == "ForbiddenException"
