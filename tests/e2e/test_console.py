"""The web console end to end: the bundle embedded in the real ``steward``, a real agent, and
Debian's chromium driven by playwright-core (``console/tests/console.mjs``) — sign in, see
the node Online, run a command and read its output as it streams, reveal a SecureString
only with permission (a limited user sees the denial), follow an association's runs and a
maintenance window's. The session's edges are tried directly over HTTP: a forged cookie, a
missing CSRF token, an expired session, a wrong secret, oversized and malformed input — each
refused, none a 500.

Screenshots go to ``$STEWARD_ARTIFACTS/console`` (else the test's temporary directory).
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from conftest import REPO_ROOT, collect, raises_aws, start_fleet, steward_bin, wait_until
from test_commands import wait_invocation
from test_iam import allow, deny, make_user, policy
from test_inventory import entries, gather
from test_windows import only_execution, open_window

TAGS = {"c0": {"role": "console"}}
SCRIPT = REPO_ROOT / "console" / "tests" / "console.mjs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1", "--test-clock"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory):
    return start_fleet(server, agent_factory, TAGS)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    root = os.environ.get("STEWARD_ARTIFACTS")
    where = Path(root) / "console" if root else tmp_path_factory.mktemp("console-shots")
    where.mkdir(parents=True, exist_ok=True)
    return where


def browse(server, scenario: str, shots: Path, timeout: float = 180, **env: str) -> dict:
    """Runs one browser scenario (given `timeout` seconds); what it measured."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
    if not (REPO_ROOT / "console" / "node_modules" / "playwright-core").exists():
        pytest.fail("console/node_modules is missing: run `make console`")
    full = {
        **os.environ,
        "STEWARD_URL": server.url,
        "KEY_ID": server.access_key,
        "SECRET": server.secret_key,
        "SCREENSHOTS": str(shots),
        "CHROMIUM": CHROMIUM,
        **env,
    }
    proc = subprocess.run(["node", str(SCRIPT), scenario], capture_output=True, text=True, timeout=timeout, env=full)
    assert proc.returncode == 0, f"browser scenario {scenario} failed:\n{proc.stdout}\n{proc.stderr}"
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_the_console_is_served_with_its_security_headers(server):
    page = requests.get(f"{server.url}/console/", timeout=10)
    assert page.status_code == 200 and "<div id=\"root\">" in page.text
    policy_header = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy_header and "frame-ancestors 'none'" in policy_header
    assert page.headers["x-content-type-options"] == "nosniff"
    deep = requests.get(f"{server.url}/console/fleet/anything", timeout=10)
    assert deep.status_code == 200 and deep.text == page.text  # the app's own routes
    assert requests.get(f"{server.url}/console/assets/nothing.js", timeout=10).status_code == 404
    # Scripts go compressed to a browser that takes gzip, as they are to one that does not.
    script = re.search(r'src="/console/(assets/index-[^"]+\.js)"', page.text).group(1)
    zipped = requests.get(f"{server.url}/console/{script}", headers={"Accept-Encoding": "gzip"}, timeout=10,
                          stream=True)
    raw = zipped.raw.read(decode_content=False)
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["vary"] == "Accept-Encoding"
    plain = requests.get(f"{server.url}/console/{script}", headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "content-encoding" not in plain.headers and gzip.decompress(raw) == plain.content
    assert len(raw) * 3 < len(plain.content)
    refused = requests.get(f"{server.url}/console/{script}", headers={"Accept-Encoding": "gzip;q=0"}, timeout=10)
    assert "content-encoding" not in refused.headers


def test_sign_in_and_see_the_fleet(server, fleet, shots):
    result = browse(server, "fleet", shots, NODE_ID=fleet.id("c0"))
    assert result["apiCallsOnFleet"] >= 1
    print("console figures:", json.dumps(result))


def test_run_a_command_and_read_its_output_live(server, fleet, shots):
    browse(server, "run", shots, NODE_ID=fleet.id("c0"), NONCE=uuid.uuid4().hex[:8])


def test_run_command_by_resource_group_and_by_tag(server, fleet, shots):
    ssm, rg = server.ssm(), server.client("resource-groups")
    node, mark = fleet.id("c0"), uuid.uuid4().hex[:8]
    group = f"console-group-{mark}"
    query = {"ResourceTypeFilters": ["AWS::SSM::ManagedInstance"], "TagFilters": [{"Key": "console", "Values": [mark]}]}
    rg.create_group(Name=group, ResourceQuery={"Type": "TAG_FILTERS_1_0", "Query": json.dumps(query)})
    ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=node, Tags=[{"Key": "console", "Value": mark}])
    try:
        result = browse(server, "runTargets", shots, GROUP=group, TAG_KEY="console", TAG_VALUE=mark,
                        NONCE=uuid.uuid4().hex[:8])
    finally:
        ssm.remove_tags_from_resource(ResourceType="ManagedInstance", ResourceId=node, TagKeys=["console"])
        rg.delete_group(Group=group)
    by_group, by_tag = (ssm.list_commands(CommandId=c)["Commands"][0] for c in result["commands"])
    assert by_group["Targets"] == [{"Key": "resource-groups:Name", "Values": [group]}], by_group
    assert by_tag["Targets"] == [{"Key": "tag:console", "Values": ["nothing-here", mark]}], by_tag
    for command in (by_group, by_tag):
        [inv] = ssm.list_command_invocations(CommandId=command["CommandId"])["CommandInvocations"]
        assert inv["InstanceId"] == node and inv["Status"] == "Success", inv


def test_a_secret_is_revealed_only_with_permission(server, fleet, shots):
    ssm = server.ssm()
    name = f"/e2e/console/{uuid.uuid4().hex[:8]}/db-password"
    value = "s3cret-" + uuid.uuid4().hex[:10]
    ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    # May list and read parameters, but not decrypt them.
    ak, sk, _ = make_user(server, f"console-reader-{uuid.uuid4().hex[:6]}", policy(
        allow(["ssm:DescribeParameters", "ssm:GetParameter", "ssm:GetParameterHistory",
               "ssm:DescribeInstanceInformation"], ["*"]),
        deny(["kms:Decrypt"], ["*"]),
    ))
    browse(server, "secret", shots, NODE_ID=fleet.id("c0"), PARAMETER=name, SECRET_VALUE=value,
           LIMITED_KEY_ID=ak, LIMITED_SECRET=sk)


def test_a_shell_in_the_browser_and_its_replay(server, fleet, shots):
    nonce = uuid.uuid4().hex[:8]
    result = browse(server, "shell", shots, NODE_ID=fleet.id("c0"), NONCE=nonce)
    assert result["lines"] >= 2  # the command as typed and its output
    ssm = server.ssm()
    sessions = ssm.describe_sessions(State="History")["Sessions"]
    assert any(s["Target"] == fleet.id("c0") for s in sessions)

    # The transcript is served only to whoever may read it, and only for real session ids.
    session_id = result["sessionId"]
    s = sign_in(server)
    cast = s.get(f"{server.url}/console/api/sessions/{session_id}/transcript", timeout=10)
    assert cast.status_code == 200 and f"hi-42-{nonce}" in cast.text
    assert json.loads(cast.text.splitlines()[0])["version"] == 2
    ak, sk, _ = make_user(server, f"console-viewer-{uuid.uuid4().hex[:6]}",
                          policy(allow(["ssm:DescribeSessions"], ["*"])))
    viewer = sign_in(server, ak, sk)
    refused = viewer.get(f"{server.url}/console/api/sessions/{session_id}/transcript", timeout=10)
    assert "AccessDenied" in refused.json()["__type"], refused.text
    for bad, code in [("..%2F..%2Fetc", 400), ("no-such-session-0000", 400), ("x" * 200, 400)]:
        r = s.get(f"{server.url}/console/api/sessions/{bad}/transcript", timeout=10)
        assert r.status_code == code and r.json()["__type"], (bad, r.status_code, r.text[:100])
    assert requests.get(f"{server.url}/console/api/sessions/{session_id}/transcript", timeout=10).status_code == 401


def test_a_node_page_shows_the_node_and_its_commands(server, fleet, shots):
    ssm = server.ssm()
    node = fleet.id("c0")
    cid = ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[node],
                           Parameters={"commands": ["echo node-page"]})["Command"]["CommandId"]
    wait_invocation(ssm, cid, node)
    ak, sk, _ = make_user(server, f"console-node-{uuid.uuid4().hex[:6]}", policy(
        allow(["ssm:DescribeInstanceInformation", "ssm:ListCommandInvocations"], ["*"])))
    result = browse(server, "node", shots, NODE_ID=node, COMMAND_ID=cid, LIMITED_KEY_ID=ak, LIMITED_SECRET=sk)
    # One call per section: the node, tags, commands, associations, patches, applications, sessions.
    assert result["apiCallsOnNode"] == 7, result["operations"]
    # The limited user sees the node and its commands; the other five sections are refused.
    assert result["limitedDenials"] == 5, result
    print("node page:", json.dumps(result))


def test_a_package_installed_from_its_page(server, fleet, shots, tmp_path):
    name = f"console-tool-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "tool"
    folder.mkdir()
    (folder / "install.sh").write_text("echo installing\n")
    (folder / "uninstall.sh").write_text("echo uninstalling\n")
    done = subprocess.run([str(steward_bin()), "package", "create", "--name", name, "--version", "1.0",
                           "--platform", f"_any/_any/_any={folder}"], capture_output=True, text=True, timeout=60,
                          env=server.env())
    assert done.returncode == 0, done.stderr
    browse(server, "package", shots, NODE_ID=fleet.id("c0"), PACKAGE=name)
    ssm = server.ssm()
    [cmd] = [c for c in ssm.list_commands()["Commands"] if c["DocumentName"] == "AWS-ConfigureAWSPackage"
             and c["Parameters"]["name"] == [name]]
    assert cmd["Status"] == "Success"


def test_an_approval_from_the_execution_page(server, fleet, shots):
    ssm = server.ssm()
    ak, sk, arn = make_user(server, f"console-approver-{uuid.uuid4().hex[:6]}", policy(
        allow(["ssm:DescribeInstanceInformation", "ssm:GetAutomationExecution", "ssm:SendAutomationSignal"], ["*"])))
    name = f"console-approval-{uuid.uuid4().hex[:8]}"
    ssm.create_document(Name=name, DocumentType="Automation", Content=json.dumps({
        "schemaVersion": "0.3",
        "mainSteps": [{"name": "approve", "action": "aws:approve", "inputs": {"Approvers": [arn]}},
                      {"name": "after", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}]}))
    eid = ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]
    browse(server, "approve", shots, EXECUTION_ID=eid, LIMITED_KEY_ID=ak, LIMITED_SECRET=sk)
    e = ssm.get_automation_execution(AutomationExecutionId=eid)["AutomationExecution"]
    assert e["AutomationExecutionStatus"] == "Success"
    assert json.loads(e["StepExecutions"][0]["Outputs"]["ApproverDecisions"][0])["Approver"] == arn


def test_a_document_with_errors_is_refused_at_the_line(server, fleet, shots):
    name = f"console-doc-{uuid.uuid4().hex[:8]}"
    browse(server, "document", shots, DOCUMENT=name)
    d = server.ssm().describe_document(Name=name)["Document"]
    assert d["DocumentType"] == "Command" and d["DocumentFormat"] == "YAML" and d["LatestVersion"] == "1"


def test_a_wrong_secret_is_refused(server, fleet, shots):
    browse(server, "wrong", shots)


def test_an_association_from_state_manager(server, fleet, shots):
    ssm = server.ssm()
    name = f"console-assoc-{uuid.uuid4().hex[:8]}"
    aid = ssm.create_association(
        Name="AWS-RunShellScript", AssociationName=name, ScheduleExpression="rate(30 minutes)",
        Targets=[{"Key": "InstanceIds", "Values": [fleet.id("c0")]}],
        Parameters={"commands": ["echo from-state-manager"]})["AssociationDescription"]["AssociationId"]
    try:
        result = browse(server, "association", shots, NODE_ID=fleet.id("c0"), ASSOCIATION=name)
        # One call per section (re-read while a run is under way), and the button's.
        assert set(result["operations"]) == {"DescribeAssociation", "DescribeAssociationExecutions",
                                             "DescribeAssociationExecutionTargets", "StartAssociationsOnce"}, result

        def both_succeeded():
            runs = ssm.describe_association_executions(AssociationId=aid)["AssociationExecutions"]
            return [r["Status"] for r in runs] == ["Success", "Success"]

        wait_until(both_succeeded, 20, "the association's two runs to succeed")
    finally:
        ssm.delete_association(AssociationId=aid)


def test_a_maintenance_window_and_its_run(server, fleet, shots):
    ssm = server.ssm()
    name = f"console-window-{uuid.uuid4().hex[:8]}"
    window = ssm.create_maintenance_window(Name=name, Schedule="cron(0 2 ? * * *)", Duration=3, Cutoff=1,
                                           AllowUnassociatedTargets=False)["WindowId"]
    try:
        target = ssm.register_target_with_maintenance_window(
            WindowId=window, ResourceType="INSTANCE", Targets=[{"Key": "InstanceIds", "Values": [fleet.id("c0")]}],
        )["WindowTargetId"]
        task = ssm.register_task_with_maintenance_window(
            WindowId=window, TaskArn="AWS-RunShellScript", TaskType="RUN_COMMAND", Priority=1,
            Targets=[{"Key": "WindowTargetIds", "Values": [target]}], MaxConcurrency="1", MaxErrors="0",
            TaskInvocationParameters={"RunCommand": {"Parameters": {"commands": ["echo from-a-window"]}}},
        )["WindowTaskId"]
        open_window(server, ssm, window)
        run = only_execution(ssm, window)
        assert run["Status"] == "SUCCESS", run
        [ran] = ssm.describe_maintenance_window_execution_tasks(
            WindowExecutionId=run["WindowExecutionId"])["WindowExecutionTaskIdentities"]
        result = browse(server, "window", shots, WINDOW=name, WINDOW_ID=window, TARGET_ID=target, TASK_ID=task,
                        NEXT_RUN=ssm.get_maintenance_window(WindowId=window)["NextExecutionTime"],
                        EXECUTION_ID=run["WindowExecutionId"], TASK_EXECUTION_ID=ran["TaskExecutionId"])
        # One call per section: the window, targets, tasks, history and the newest run's tasks.
        assert result["apiCallsOnWindow"] == 5, result["operations"]
    finally:
        ssm.delete_maintenance_window(WindowId=window)


def test_a_console_password_set_with_the_aws_cli(server, fleet, shots):
    """`aws iam create-login-profile` gives a user a console password: the browser signs in
    with it, changes it as the administrator asked, and acts as that user."""
    name = f"console-pw-{uuid.uuid4().hex[:6]}"
    make_user(server, name, policy(allow(["ssm:DescribeInstanceInformation"], ["*"])))
    first, second = "Initial-pass-1", "Chosen-pass-2"
    server.aws("iam", "create-login-profile", "--user-name", name, "--password", first,
               "--password-reset-required", "--endpoint-url", server.url)
    profile = server.aws("iam", "get-login-profile", "--user-name", name, "--endpoint-url", server.url)
    assert profile["LoginProfile"]["UserName"] == name and profile["LoginProfile"]["PasswordResetRequired"]
    browse(server, "password", shots, NODE_ID=fleet.id("c0"), USER_NAME=name, PASSWORD=first, NEW_PASSWORD=second)
    assert not server.aws("iam", "get-login-profile", "--user-name", name,
                          "--endpoint-url", server.url)["LoginProfile"]["PasswordResetRequired"]

    # The new password works, the old one no longer; deleting the profile ends the session.
    url = f"{server.url}/console/api"
    assert requests.post(f"{url}/signin", json={"userName": name, "password": first}, timeout=30).status_code == 401
    s = requests.Session()
    r = s.post(f"{url}/signin", json={"userName": name, "password": second}, timeout=30)
    assert r.status_code == 200 and r.json()["userName"] == name, r.text
    s.headers["x-steward-csrf"] = r.json()["csrf"]
    who = api(s, server, "sts", "GetCallerIdentity").json()
    assert who["Arn"].endswith(f":user/{name}"), who
    assert "AccessDenied" in api(s, server, "ssm", "DescribeParameters").json()["__type"]  # as the user
    server.aws("iam", "delete-login-profile", "--user-name", name, "--endpoint-url", server.url)
    assert api(s, server, "sts", "GetCallerIdentity").status_code == 401
    # Passwords are never written to the audit log.
    events = server.client("cloudtrail").lookup_events(LookupAttributes=[
        {"AttributeKey": "EventName", "AttributeValue": "CreateLoginProfile"}])["Events"]
    assert events and all(first not in e["CloudTrailEvent"] for e in events)


def test_login_profiles_refuse_what_iam_refuses(server):
    iam = server.client("iam")
    name = f"console-pw-{uuid.uuid4().hex[:6]}"
    ak, sk, _ = make_user(server, name, policy(allow(["iam:GetLoginProfile"], ["*"])))
    for weak in ("short1A", "alllowercase-only", "NoDigitsOrSymbols"):
        with raises_aws("PasswordPolicyViolation"):
            iam.create_login_profile(UserName=name, Password=weak)
    iam.create_login_profile(UserName=name, Password="Good-pass-1")
    with raises_aws("EntityAlreadyExists", status=409):
        iam.create_login_profile(UserName=name, Password="Good-pass-1")
    with raises_aws("NoSuchEntity", status=404):
        iam.get_login_profile(UserName="no-such-user-here")
    with raises_aws("DeleteConflict", status=409):
        iam.delete_user(UserName=name)
    # The user may read its profile but not give itself or anyone a new password.
    limited = server.client("iam", access_key=ak, secret_key=sk)
    assert limited.get_login_profile(UserName=name)["LoginProfile"]["UserName"] == name
    with raises_aws("AccessDenied", status=403):
        limited.update_login_profile(UserName=name, Password="Other-pass-2")
    with raises_aws("AccessDenied", status=403):
        limited.create_login_profile(UserName="someone-else", Password="Other-pass-2")
    url = f"{server.url}/console/api"
    for form, code in [
        ({"userName": name, "password": "Wrong-pass-1"}, 401),
        ({"userName": "nobody-at-all", "password": "Good-pass-1"}, 401),
        ({"userName": name, "password": "Good-pass-1", "account": "12345"}, 400),
        ({"userName": name, "password": "Good-pass-1", "accessKeyId": ak, "secretAccessKey": sk}, 400),
        ({"userName": name, "password": "Good-pass-1", "newPassword": "weak"}, 400),
    ]:
        r = requests.post(f"{url}/signin", json=form, timeout=30)
        assert r.status_code == code, (form, r.text)
    iam.delete_login_profile(UserName=name)
    with raises_aws("NoSuchEntity", status=404):
        iam.delete_login_profile(UserName=name)


def test_inventory_across_the_fleet_and_a_nodes_applications(server, fleet, shots):
    ssm = server.ssm()
    node = fleet.id("c0")
    gather(ssm, [node])
    apps = entries(ssm, node, "AWS:Application")
    assert apps, "the gathering reported no application"
    # Pages of 50, as the page reads them: a name of the first, and one only on the second.
    first_page = {a["Name"] for a in apps[:50]}
    later = next((a["Name"] for a in apps[50:] if a["Name"] not in first_page), "")
    result = browse(server, "inventory", shots, NODE_ID=node, APPLICATION=apps[0]["Name"], NEXT_APPLICATION=later,
                    APPLICATION_COUNT=str(len(apps)))
    # One call per section: the nodes and their applications counted (GetInventory for
    # AWS:InstanceInformation, then for AWS:Application: it answers one type a call), the types.
    assert sorted(result["operations"]) == ["GetInventory", "GetInventory", "GetInventorySchema"], result
    assert result["entryOperations"] == ["ListInventoryEntries"] * (2 if later else 1), result


def test_compliance_by_type_and_by_node(server, fleet, shots):
    ssm = server.ssm()
    node = fleet.id("c0")
    kind = f"Custom:Console{uuid.uuid4().hex[:8]}"
    title = "SSH open to the world"
    ssm.put_compliance_items(
        ResourceId=node, ResourceType="ManagedInstance", ComplianceType=kind,
        ExecutionSummary={"ExecutionTime": datetime.datetime.now(datetime.timezone.utc)},
        Items=[{"Id": "ssh-open", "Title": title, "Severity": "HIGH", "Status": "NON_COMPLIANT",
                "Details": {"Port": "22"}},
               {"Id": "disk-encrypted", "Title": "Disk encrypted", "Severity": "LOW", "Status": "COMPLIANT"}])
    [summary] = ssm.list_resource_compliance_summaries(
        Filters=[{"Key": "ComplianceType", "Values": [kind], "Type": "EQUAL"}])["ResourceComplianceSummaryItems"]
    assert summary["Status"] == "NON_COMPLIANT" and summary["OverallSeverity"] == "HIGH", summary
    result = browse(server, "compliance", shots, NODE_ID=node, COMPLIANCE_TYPE=kind, ITEM_ID="ssh-open",
                    ITEM_TITLE=title)
    # One call per section, and one for the chosen node's items.
    assert sorted(result["operations"]) == ["ListComplianceSummaries", "ListResourceComplianceSummaries"], result
    assert result["itemOperations"] == ["ListComplianceItems"], result


def test_the_audit_trail_searched_from_the_console(server, fleet, shots):
    ssm = server.ssm()
    trail = server.client("cloudtrail")
    name = f"/e2e/console/{uuid.uuid4().hex[:8]}/audited"
    ssm.put_parameter(Name=name, Value="audited", Type="String")
    by_name = [{"AttributeKey": "EventName", "AttributeValue": "PutParameter"}]

    def put_event():
        events = trail.lookup_events(LookupAttributes=by_name)["Events"]
        return next((e for e in events if json.loads(e["CloudTrailEvent"])["requestParameters"].get("Name") == name),
                    None)

    event = wait_until(put_event, 15, "the PutParameter event in the trail")  # events are written asynchronously
    user = f"console-noaudit-{uuid.uuid4().hex[:6]}"
    ak, sk, _ = make_user(server, user, policy(allow(["ssm:DescribeInstanceInformation"], ["*"])))
    result = browse(server, "audit", shots, NODE_ID=fleet.id("c0"), PARAMETER=name, LIMITED_KEY_ID=ak,
                    LIMITED_SECRET=sk)
    # The newest events when the page opens, then one lookup per search.
    assert result["operations"] == ["LookupEvents"], result
    assert result["searchOperations"] == ["LookupEvents"], result
    assert result["eventId"] == event["EventId"], result

    # The refused lookup is in the trail, made from the console as that user.
    def refused():
        events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": user}])["Events"]
        return [e for e in events if e["EventName"] == "LookupEvents"
                and json.loads(e["CloudTrailEvent"]).get("errorCode") == "AccessDeniedException"]

    [denied] = wait_until(refused, 15, "the refused LookupEvents in the trail")
    assert json.loads(denied["CloudTrailEvent"])["userAgent"].startswith("Steward console")


@pytest.mark.skipif(os.geteuid() != 0 or not (shutil.which("apt-get") or shutil.which("dnf")),
                    reason="a scan refreshes the package indexes: needs root and apt or dnf")
def test_patch_manager_baselines_groups_and_a_scanned_node(server, fleet, shots):
    ssm = server.ssm()
    node = fleet.id("c0")
    # A scan against the default baseline of the node's OS (the node is in no patch group).
    cid = ssm.send_command(DocumentName="AWS-RunPatchBaseline", InstanceIds=[node],
                           Parameters={"Operation": ["Scan"]})["Command"]["CommandId"]
    inv = wait_invocation(ssm, cid, node, timeout=180)
    assert inv["Status"] == "Success", (inv["StandardOutputContent"], inv["StandardErrorContent"])
    [state] = ssm.describe_instance_patch_states(InstanceIds=[node])["InstancePatchStates"]
    assert state["Operation"] == "Scan" and not state.get("PatchGroup"), state
    [baseline] = [b for b in collect(ssm.describe_patch_baselines, "BaselineIdentities")
                  if b["BaselineId"] == state["BaselineId"]]
    assert baseline["DefaultBaseline"], baseline
    group = f"console-patch-{uuid.uuid4().hex[:8]}"
    ssm.register_patch_baseline_for_patch_group(BaselineId=baseline["BaselineId"], PatchGroup=group)
    try:
        counts = {"Installed": state["InstalledCount"], "Missing": state["MissingCount"],
                  "Failed": state["FailedCount"], "Installed other": state["InstalledOtherCount"],
                  "Not applicable": state["NotApplicableCount"]}
        counts = {k: str(v) for k, v in counts.items()} | {"Operation": "Scan", "Baseline": baseline["BaselineName"]}
        result = browse(server, "patch", shots, NODE_ID=node, BASELINE_NAME=baseline["BaselineName"],
                        BASELINE_ID=baseline["BaselineId"], OS=baseline["OperatingSystem"], GROUP=group,
                        COUNTS=json.dumps(counts))
    finally:
        ssm.deregister_patch_baseline_for_patch_group(BaselineId=baseline["BaselineId"], PatchGroup=group)
    # One call per section; the nodes' section lists the nodes, then asks for their patch states.
    assert sorted(result["operations"]) == ["DescribeInstanceInformation", "DescribeInstancePatchStates",
                                            "DescribePatchBaselines", "DescribePatchGroups"], result


def test_patch_manager_writes_a_baseline_a_group_and_a_scan_from_the_console(server, fleet, shots):
    ssm = server.ssm()
    node = fleet.id("c0")
    suffix = uuid.uuid4().hex[:8]
    name, group = f"console-pb-{suffix}", f"console-write-{suffix}"

    def own_baselines() -> list[dict]:
        found = collect(ssm.describe_patch_baselines, "BaselineIdentities",
                        Filters=[{"Key": "NAME_PREFIX", "Values": [name]}])
        return [b for b in found if b["BaselineName"] == name]

    try:
        # The scan is a real one (up to 180 s of it), so the browser gets more than the usual 180 s.
        result = browse(server, "patchWrite", shots, timeout=330, NODE_ID=node, NEW_BASELINE=name,
                        REJECTED=f"console-rejected-{suffix}", GROUP=group)
        assert "ValidationException" in result["refused"], result
        # Every change went through SSM's own operations, one call each.
        assert result["writes"] == ["CreatePatchBaseline", "CreatePatchBaseline", "RegisterPatchBaselineForPatchGroup",
                                    "DeregisterPatchBaselineForPatchGroup", "SendCommand", "DeletePatchBaseline"], result
        assert own_baselines() == []
        with raises_aws("DoesNotExistException"):
            ssm.get_patch_baseline(BaselineId=result["baselineId"])
        assert collect(ssm.describe_patch_groups, "Mappings",
                       Filters=[{"Key": "NAME_PREFIX", "Values": [group]}]) == []
        cid = result["commandId"]
        [command] = ssm.list_commands(CommandId=cid)["Commands"]
        assert command["DocumentName"] == "AWS-RunPatchBaseline", command
        assert command["Parameters"]["Operation"] == ["Scan"] and command["InstanceIds"] == [node], command
        inv = wait_invocation(ssm, cid, node)
        assert inv["Status"] == "Success", (inv["StandardOutputContent"], inv["StandardErrorContent"])
        wait_until(lambda: ssm.list_commands(CommandId=cid)["Commands"][0]["Status"] == "Success", 30,
                   f"command {cid} Success")
        [state] = ssm.describe_instance_patch_states(InstanceIds=[node])["InstancePatchStates"]
        assert state["Operation"] == "Scan", state
    finally:
        # Whatever the scenario left behind when it stopped part way.
        for b in own_baselines():
            for registered in ssm.get_patch_baseline(BaselineId=b["BaselineId"]).get("PatchGroups", []):
                ssm.deregister_patch_baseline_for_patch_group(BaselineId=b["BaselineId"], PatchGroup=registered)
            ssm.delete_patch_baseline(BaselineId=b["BaselineId"])


def test_the_fleet_filtered_by_tag_and_ping_status(server, fleet, shots):
    ssm = server.ssm()
    node, mark = fleet.id("c0"), uuid.uuid4().hex[:8]
    ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=node,
                             Tags=[{"Key": "console-fleet", "Value": mark}])
    try:
        result = browse(server, "fleetFilters", shots, NODE_ID=node, TAG_KEY="console-fleet", TAG_VALUE=mark)
    finally:
        ssm.remove_tags_from_resource(ResourceType="ManagedInstance", ResourceId=node, TagKeys=["console-fleet"])
    seen = result["seen"]
    assert [v["found"] for v in seen.values()] == [True, False, True, False], seen
    # Each filter is one call the server answers filtered.
    assert all(v["operations"] == ["DescribeInstanceInformation"] for v in seen.values()), seen


def test_a_document_shared_from_its_page(server, fleet, shots):
    ssm = server.ssm()
    name = f"console-share-{uuid.uuid4().hex[:8]}"
    content = {"schemaVersion": "2.2", "description": "shared", "mainSteps": [
        {"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": ["true"]}}]}
    ssm.create_document(Name=name, Content=json.dumps(content), DocumentType="Command")
    try:
        result = browse(server, "docShare", shots, DOC=name, ACCOUNT="111122223333")
        assert "ValidationException" in result["refused"], result
        # Shared, then no longer: what the page did is what the API says.
        assert ssm.describe_document_permission(Name=name, PermissionType="Share")["AccountIds"] == []
        trail = server.client("cloudtrail")
        by_name = [{"AttributeKey": "EventName", "AttributeValue": "ModifyDocumentPermission"}]

        def changes():
            events = trail.lookup_events(LookupAttributes=by_name)["Events"]
            mine = [json.loads(e["CloudTrailEvent"]) for e in events]
            return [e for e in mine if e["requestParameters"].get("Name") == name and not e.get("errorCode")] or None

        done = wait_until(lambda: (c := changes()) and len(c) == 2 and c, 15, "both sharing changes in the trail")
        keys = sorted(k for e in done for k in e["requestParameters"] if k.startswith("AccountIds"))
        assert keys == ["AccountIdsToAdd", "AccountIdsToRemove"], done
    finally:
        ssm.delete_document(Name=name)


# ----------------------------------------------------------------- the session's edges


def sign_in(server, key: str | None = None, secret: str | None = None) -> requests.Session:
    s = requests.Session()
    r = s.post(f"{server.url}/console/api/signin", json={
        "accessKeyId": key or server.access_key, "secretAccessKey": secret or server.secret_key}, timeout=10)
    assert r.status_code == 200, r.text
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Strict" in r.headers["set-cookie"]
    s.headers["x-steward-csrf"] = r.json()["csrf"]
    return s


def api(s: requests.Session, server, service: str, operation: str, **input) -> requests.Response:
    return s.post(f"{server.url}/console/api/call",
                  json={"service": service, "operation": operation, "input": input}, timeout=10)


def test_calls_run_as_the_signed_in_user(server, fleet):
    admin = sign_in(server)
    who = api(admin, server, "sts", "GetCallerIdentity")
    assert who.status_code == 200 and who.json()["Account"]
    ak, sk, arn = make_user(server, f"console-nobody-{uuid.uuid4().hex[:6]}", policy(
        allow(["ssm:DescribeInstanceInformation"], ["*"])))
    limited = sign_in(server, ak, sk)
    assert api(limited, server, "ssm", "DescribeInstanceInformation").status_code == 200
    denied = api(limited, server, "ssm", "PutParameter", Name="/e2e/console/nope", Value="x", Type="String")
    assert denied.status_code == 400 and denied.json()["__type"] == "AccessDeniedException", denied.text
    assert arn.split("/")[-1] in denied.json()["message"]
    # The model's checks apply as they do to the CLI.
    bad = api(admin, server, "ssm", "PutParameter", Name="/e2e/console/x", Value="x", Type="Nope")
    assert bad.status_code == 400 and bad.json()["__type"] == "ValidationException", bad.text
    # Deactivating the key ends the session at its next call.
    iam = server.client("iam")
    user = arn.split("/")[-1]
    iam.update_access_key(UserName=user, AccessKeyId=ak, Status="Inactive")
    gone = api(limited, server, "ssm", "DescribeInstanceInformation")
    assert gone.status_code == 401 and gone.json()["__type"] == "NotSignedIn"


def live_events(s: requests.Session, server, command_id: str) -> list[tuple[str, dict]]:
    """The live stream of a command, read to its end: (event name, data) pairs."""
    with s.get(f"{server.url}/console/api/commands/{command_id}/events", stream=True, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream", r.text
        text = ""
        for chunk in r.iter_content(chunk_size=None, decode_unicode=True):
            text += chunk
            if "event: end" in text and text.endswith("\n\n"):
                break
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines.get("event", "message"), json.loads(lines["data"])))
    return events


def test_live_progress_is_checked_and_refuses_unknown_commands(server, fleet):
    admin = sign_in(server)
    unknown = admin.get(f"{server.url}/console/api/commands/{uuid.uuid4()}/events", timeout=10)
    assert unknown.status_code == 400 and unknown.json()["__type"] == "InvalidCommandId", unknown.text
    assert admin.get(f"{server.url}/console/api/commands/not-an-id/events", timeout=10).status_code == 400
    node = fleet.id("c0")
    sent = server.ssm().send_command(DocumentName="AWS-RunShellScript", InstanceIds=[node],
                                     Parameters={"commands": ["echo streamed; sleep 1; echo done"]})
    command_id = sent["Command"]["CommandId"]
    events = live_events(admin, server, command_id)
    # A snapshot with the command and every node, then only what changed, then the end.
    assert events[0][0] == "snapshot" and events[0][1]["Command"]["CommandId"] == command_id, events[0]
    assert [inv["InstanceId"] for inv in events[0][1]["CommandInvocations"]] == [node]
    assert events[-1][0] == "end" and all(name == "message" for name, _ in events[1:-1]), events
    for (_, before), (_, after) in zip(events, events[1:]):
        for inv in after["CommandInvocations"]:
            assert inv not in before["CommandInvocations"], ("an unchanged invocation was sent again", inv)
    final = {}
    for _, data in events:
        final |= {inv["InstanceId"]: inv for inv in data["CommandInvocations"]}
    [plugin] = final[node]["CommandPlugins"]
    assert final[node]["Status"] == "Success" and "streamed" in plugin["Output"] and "done" in plugin["Output"]
    # An ended command: its snapshot, then the end at once.
    again = live_events(admin, server, command_id)
    assert [name for name, _ in again] == ["snapshot", "end"] and again[1][1]["CommandInvocations"] == []
    assert again[0][1]["CommandInvocations"][0]["Status"] == "Success"

    # A user who may list invocations but not commands streams without the command's summary;
    # one who may do neither is refused.
    ak, sk, _ = make_user(server, f"console-live-{uuid.uuid4().hex[:6]}",
                          policy(allow(["ssm:ListCommandInvocations"], ["*"])))
    partial = live_events(sign_in(server, ak, sk), server, command_id)
    assert "Command" not in partial[0][1] and partial[0][1]["CommandInvocations"], partial
    ak, sk, _ = make_user(server, f"console-nolive-{uuid.uuid4().hex[:6]}",
                          policy(allow(["ssm:ListCommands"], ["*"])))
    refused = sign_in(server, ak, sk).get(f"{server.url}/console/api/commands/{command_id}/events", timeout=10)
    assert refused.status_code == 400 and refused.json()["__type"] == "AccessDeniedException", refused.text
    assert requests.get(f"{server.url}/console/api/commands/{command_id}/events", timeout=10).status_code == 401


def test_live_progress_ends_when_the_right_to_it_is_revoked(server, fleet):
    node = fleet.id("c0")
    user = f"console-revoked-{uuid.uuid4().hex[:6]}"
    ak, sk, _ = make_user(server, user, policy(allow(["ssm:ListCommandInvocations"], ["*"])))
    ssm = server.ssm()
    command_id = ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[node],
                                  Parameters={"commands": ["sleep 40"]})["Command"]["CommandId"]
    try:
        watcher = sign_in(server, ak, sk)
        with watcher.get(f"{server.url}/console/api/commands/{command_id}/events", stream=True, timeout=60) as r:
            assert r.status_code == 200
            chunks = r.iter_content(chunk_size=None, decode_unicode=True)
            assert "event: snapshot" in next(chunks)
            # A deny now: the stream is checked again within seconds and closes, with no end.
            server.client("iam").put_user_policy(UserName=user, PolicyName="no-more",
                                                 PolicyDocument=policy(deny(["ssm:ListCommandInvocations"], ["*"])))
            rest = "".join(chunks)
        assert "event: end" not in rest, rest[:300]
    finally:
        ssm.cancel_command(CommandId=command_id)


def test_the_audit_chain_is_verified_for_those_allowed(server, fleet):
    admin = sign_in(server)
    url = f"{server.url}/console/api/audit/verify"
    r = admin.post(url, timeout=120)
    assert r.status_code == 200, r.text
    verdict = r.json()
    assert verdict["Chain"]["Status"] == "Intact" and verdict["Chain"]["Events"] > 0, verdict
    assert len(verdict["Chain"]["LastHash"]) == 64 and verdict["Digests"]["Status"] in ("None", "Intact"), verdict
    # A write in form: no CSRF token, no verification; and never as a GET.
    csrf = admin.headers.pop("x-steward-csrf")
    assert admin.post(url, timeout=10).status_code == 403
    admin.headers["x-steward-csrf"] = csrf
    assert admin.get(url, timeout=10).status_code == 405
    assert requests.post(url, timeout=10).status_code == 401
    # Reading the whole trail is an action of its own: LookupEvents is not enough.
    ak, sk, _ = make_user(server, f"console-noverify-{uuid.uuid4().hex[:6]}",
                          policy(allow(["cloudtrail:LookupEvents"], ["*"])))
    denied = sign_in(server, ak, sk).post(url, timeout=10)
    assert denied.status_code == 400 and denied.json()["__type"] == "AccessDeniedException", denied.text
    assert "cloudtrail:ValidateLogs" in denied.json()["message"]


def test_forged_cookies_missing_csrf_and_bad_input_are_refused(server, fleet):
    url = f"{server.url}/console/api"
    assert requests.get(f"{url}/session", timeout=10).status_code == 401
    forged = requests.Session()
    forged.cookies.set("steward_console", "0" * 64, path="/console")
    r = forged.post(f"{url}/call", json={"service": "sts", "operation": "GetCallerIdentity"},
                    headers={"x-steward-csrf": "whatever"}, timeout=10)
    assert r.status_code == 401 and r.json()["__type"] == "NotSignedIn"

    s = sign_in(server)
    csrf = s.headers.pop("x-steward-csrf")
    for headers in ({}, {"x-steward-csrf": "0" * len(csrf)}):
        r = s.post(f"{url}/call", json={"service": "sts", "operation": "GetCallerIdentity"}, headers=headers,
                   timeout=10)
        assert r.status_code == 403 and r.json()["__type"] == "InvalidCsrfToken"
    assert s.post(f"{url}/signout", timeout=10).status_code == 403
    s.headers["x-steward-csrf"] = csrf
    for body, code in [
        (b"not json", 400),
        (json.dumps({"service": "ec2", "operation": "DescribeInstances"}).encode(), 400),
        (json.dumps({"service": "ssm", "operation": "../../x"}).encode(), 400),
        (json.dumps({"service": "ssm", "operation": "GetParameter", "input": [1]}).encode(), 400),
        (b"{" + b" " * (3 << 19) + b"}", 413),
    ]:
        r = s.post(f"{url}/call", data=body, headers={"content-type": "application/json"}, timeout=30)
        assert r.status_code == code, (body[:60], r.status_code, r.text[:200])
        assert r.json()["__type"]
    for form, code in [
        ({"accessKeyId": server.access_key, "secretAccessKey": "wrong"}, 401),
        ({"accessKeyId": "AKIANOSUCHKEY0000000", "secretAccessKey": "x"}, 401),
        ({"accessKeyId": server.access_key, "secretAccessKey": server.secret_key, "region": "../etc"}, 400),
        ({"nothing": 1}, 400),
    ]:
        r = requests.post(f"{url}/signin", json=form, timeout=10)
        assert r.status_code == code, (form, r.text)
    assert requests.post(f"{url}/signin", data=b"x" * 10_000, timeout=10).status_code == 413

    # Signing out ends the session for good.
    assert s.post(f"{url}/signout", timeout=10).status_code == 204
    assert api(s, server, "sts", "GetCallerIdentity").status_code == 401


def test_a_session_expires(server, fleet):
    s = sign_in(server)
    assert api(s, server, "sts", "GetCallerIdentity").status_code == 200
    server.advance_clock(13 * 3600)
    r = api(s, server, "sts", "GetCallerIdentity")
    assert r.status_code == 401 and "expired" in r.json()["message"]
