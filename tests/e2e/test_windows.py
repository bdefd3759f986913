"""Maintenance windows end to end: a window opens on its schedule (the test clock moved to
its start), runs its tasks in priority order on the registered targets, one command per
node, starts nothing after the cutoff, and its history matches the commands.

Fleet (tags):  w0 role=web   w1 role=web   w2 role=db
"""

from __future__ import annotations

import json
import uuid
import time
from pathlib import Path

import pytest

from conftest import Fleet, raises_aws, start_fleet, wait_until

TAGS = {"w0": {"role": "web"}, "w1": {"role": "web"}, "w2": {"role": "db"}}
FINAL = {"SUCCESS", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED_OVERLAPPING"}


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
    for w in client.describe_maintenance_windows()["WindowIdentities"]:
        client.delete_maintenance_window(WindowId=w["WindowId"])


def iso_to_ms(text: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def open_window(server, ssm, window_id: str) -> None:
    """Moves the server's clock to the window's next start."""
    nxt = ssm.get_maintenance_window(WindowId=window_id)["NextExecutionTime"]
    now = server.advance_clock(0)
    server.advance_clock((iso_to_ms(nxt) - now) // 1000 + 1)


def shell_task(ssm, window_id: str, target_id: str, priority: int, commands: list[str], **kw) -> str:
    return ssm.register_task_with_maintenance_window(
        WindowId=window_id,
        Targets=[{"Key": "WindowTargetIds", "Values": [target_id]}],
        TaskArn="AWS-RunShellScript",
        TaskType="RUN_COMMAND",
        Priority=priority,
        MaxConcurrency=kw.pop("MaxConcurrency", "2"),
        MaxErrors=kw.pop("MaxErrors", "0"),
        TaskInvocationParameters={"RunCommand": {"Parameters": {"commands": commands}}},
        **kw,
    )["WindowTaskId"]


def new_window(ssm, name: str, duration: int = 3, cutoff: int = 1) -> tuple[str, str]:
    window = ssm.create_maintenance_window(
        Name=name, Schedule="cron(0 2 ? * * *)", Duration=duration, Cutoff=cutoff, AllowUnassociatedTargets=False
    )["WindowId"]
    target = ssm.register_target_with_maintenance_window(
        WindowId=window, ResourceType="INSTANCE", Targets=[{"Key": "tag:role", "Values": ["web"]}],
        OwnerInformation="team-a",
    )["WindowTargetId"]
    return window, target


def only_execution(ssm, window_id: str, final: bool = True) -> dict:
    def probe():
        runs = ssm.describe_maintenance_window_executions(WindowId=window_id)["WindowExecutions"]
        if len(runs) == 1 and (not final or runs[0]["Status"] in FINAL):
            return runs[0]
        return None

    return wait_until(probe, 60, f"the run of {window_id}")


def test_tasks_run_in_priority_order_and_history_matches_the_commands(server, ssm, fleet, tmp_path):
    log = tmp_path / "log"
    window, target = new_window(ssm, "ordered")
    first = shell_task(ssm, window, target, 1, [f"sleep 1; echo p1 {{{{RESOURCE_ID}}}} >> {log}"])
    second = shell_task(ssm, window, target, 2, [f"echo p2 $E2E_NODE {{{{OWNER_INFORMATION}}}} >> {log}"])
    also_second = shell_task(ssm, window, target, 2, [f"echo p2b $E2E_NODE >> {log}"])
    assert not log.exists()
    open_window(server, ssm, window)
    run = only_execution(ssm, window)
    assert run["Status"] == "SUCCESS", run

    lines = log.read_text().split()
    words = log.read_text().splitlines()
    firsts = [i for i, l in enumerate(words) if l.startswith("p1 ")]
    later = [i for i, l in enumerate(words) if l.startswith("p2")]
    assert len(firsts) == 2 and len(later) == 4 and max(firsts) < min(later), words
    assert sorted(l.split()[1] for l in words if l.startswith("p1 ")) == sorted([fleet.id("w0"), fleet.id("w1")])
    assert "team-a" in lines, "{{OWNER_INFORMATION}} comes from the window target"

    detail = ssm.get_maintenance_window_execution(WindowExecutionId=run["WindowExecutionId"])
    tasks = ssm.describe_maintenance_window_execution_tasks(WindowExecutionId=run["WindowExecutionId"])[
        "WindowExecutionTaskIdentities"
    ]
    assert sorted(detail["TaskIds"]) == sorted(t["TaskExecutionId"] for t in tasks)
    assert {t["Status"] for t in tasks} == {"SUCCESS"}
    commands = {c["CommandId"]: c for c in ssm.list_commands()["Commands"]}
    for t in tasks:
        invocations = ssm.describe_maintenance_window_execution_task_invocations(
            WindowExecutionId=run["WindowExecutionId"], TaskId=t["TaskExecutionId"]
        )["WindowExecutionTaskInvocationIdentities"]
        assert len(invocations) == 2
        for inv in invocations:
            assert inv["Status"] == "SUCCESS" and inv["OwnerInformation"] == "team-a"
            assert inv["WindowTargetId"] == target
            command = commands[inv["ExecutionId"]]
            assert command["Status"] == "Success" and command["DocumentName"] == "AWS-RunShellScript"
            sent = json.loads(inv["Parameters"])
            assert sent["instanceIds"] == command["InstanceIds"]
    full = ssm.get_maintenance_window_execution_task(
        WindowExecutionId=run["WindowExecutionId"], TaskId=tasks[0]["TaskExecutionId"]
    )
    assert full["Priority"] in (1, 2) and full["Type"] == "RUN_COMMAND"
    assert {first, second, also_second} == {
        t["WindowTaskId"] for t in ssm.describe_maintenance_window_tasks(WindowId=window)["Tasks"]
    }


def test_nothing_starts_after_the_cutoff(server, ssm, fleet, tmp_path):
    marker = tmp_path / "late"
    window, target = new_window(ssm, "cutoff", duration=2, cutoff=1)
    shell_task(ssm, window, target, 1, ["sleep 6"])
    shell_task(ssm, window, target, 2, [f"touch {marker}"])
    open_window(server, ssm, window)
    run = only_execution(ssm, window, final=False)
    wait_until(
        lambda: any(
            t["Status"] == "IN_PROGRESS"
            for t in ssm.describe_maintenance_window_execution_tasks(WindowExecutionId=run["WindowExecutionId"])[
                "WindowExecutionTaskIdentities"
            ]
        ),
        30,
        "the first task running",
    )
    server.advance_clock(3600 + 1)  # past duration − cutoff = 1 hour
    run = only_execution(ssm, window)
    assert run["Status"] == "TIMED_OUT"
    tasks = ssm.describe_maintenance_window_execution_tasks(WindowExecutionId=run["WindowExecutionId"])[
        "WindowExecutionTaskIdentities"
    ]
    by_status = sorted(t["Status"] for t in tasks)
    assert by_status == ["CANCELLED", "SUCCESS"], tasks
    time.sleep(1)
    assert not marker.exists(), "the priority-2 task must not start after the cutoff"


def test_cancel_task_at_cutoff_cancels_its_commands(server, ssm, fleet, tmp_path):
    window, target = new_window(ssm, "cancel-at-cutoff", duration=2, cutoff=1)
    shell_task(ssm, window, target, 1, ["sleep 60"], CutoffBehavior="CANCEL_TASK")
    open_window(server, ssm, window)
    run = only_execution(ssm, window, final=False)
    time.sleep(3)
    server.advance_clock(3600 + 1)
    run = only_execution(ssm, window)
    assert run["Status"] == "TIMED_OUT"
    task = ssm.describe_maintenance_window_execution_tasks(WindowExecutionId=run["WindowExecutionId"])[
        "WindowExecutionTaskIdentities"
    ][0]
    assert task["Status"] == "CANCELLED"
    invocations = ssm.describe_maintenance_window_execution_task_invocations(
        WindowExecutionId=run["WindowExecutionId"], TaskId=task["TaskExecutionId"]
    )["WindowExecutionTaskInvocationIdentities"]
    for inv in invocations:
        command = ssm.list_commands(CommandId=inv["ExecutionId"])["Commands"][0]
        assert command["Status"] == "Cancelled"


def test_windows_carry_tags(ssm, fleet):
    window = ssm.create_maintenance_window(
        Name="tagged", Schedule="rate(1 day)", Duration=1, Cutoff=0, AllowUnassociatedTargets=False,
        Tags=[{"Key": "env", "Value": "prod"}],
    )["WindowId"]
    assert ssm.list_tags_for_resource(ResourceType="MaintenanceWindow", ResourceId=window)["TagList"] == [
        {"Key": "env", "Value": "prod"}
    ]
    ssm.add_tags_to_resource(ResourceType="MaintenanceWindow", ResourceId=window, Tags=[{"Key": "a", "Value": "b"}])
    tags = ssm.list_tags_for_resource(ResourceType="MaintenanceWindow", ResourceId=window)["TagList"]
    assert {t["Key"] for t in tags} == {"env", "a"}
    with raises_aws("InvalidResourceId"):
        ssm.add_tags_to_resource(
            ResourceType="MaintenanceWindow", ResourceId="mw-0123456789abcdef0", Tags=[{"Key": "a", "Value": "b"}]
        )


def new_runbook(ssm, steps: list[dict], parameters: dict) -> str:
    name = f"e2e-window-runbook-{uuid.uuid4().hex[:8]}"
    content = {"schemaVersion": "0.3", "parameters": parameters, "mainSteps": steps}
    ssm.create_document(Name=name, DocumentType="Automation", Content=json.dumps(content))
    return name


def test_automation_tasks_run_a_runbook_per_target_and_once_without_targets(server, ssm, fleet, tmp_path):
    log = tmp_path / "log"
    per_node = new_runbook(ssm, [{"name": "touch", "action": "aws:runCommand", "inputs": {
        "DocumentName": "AWS-RunShellScript", "InstanceIds": ["{{ InstanceId }}"],
        "Parameters": {"commands": [f"echo auto {{{{ InstanceId }}}} {{{{ Owner }}}} >> {log}"]}}}],
        {"InstanceId": {"type": "String"}, "Owner": {"type": "String"}})
    param = f"/e2e/windows/automation/{uuid.uuid4().hex[:8]}"
    once = new_runbook(ssm, [{"name": "note", "action": "aws:executeAwsApi", "inputs": {
        "Service": "ssm", "Api": "PutParameter", "Name": param, "Value": "{{ Run }}", "Type": "String"}}],
        {"Run": {"type": "String"}})
    window, target = new_window(ssm, "automation")
    ssm.register_task_with_maintenance_window(
        WindowId=window, Targets=[{"Key": "WindowTargetIds", "Values": [target]}], TaskArn=per_node,
        TaskType="AUTOMATION", Priority=1, MaxConcurrency="2", MaxErrors="0",
        TaskInvocationParameters={"Automation": {"Parameters": {
            "InstanceId": ["{{RESOURCE_ID}}"], "Owner": ["{{OWNER_INFORMATION}}"]}}})
    ssm.register_task_with_maintenance_window(
        WindowId=window, TaskArn=once, TaskType="AUTOMATION", Priority=2,
        TaskInvocationParameters={"Automation": {"DocumentVersion": "1",
                                                 "Parameters": {"Run": ["{{WINDOW_EXECUTION_ID}}"]}}})
    open_window(server, ssm, window)
    run = only_execution(ssm, window)
    assert run["Status"] == "SUCCESS", run
    lines = sorted(log.read_text().splitlines())
    assert lines == sorted(f"auto {fleet.id(n)} team-a" for n in ("w0", "w1")), lines
    assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == run["WindowExecutionId"]

    tasks = ssm.describe_maintenance_window_execution_tasks(WindowExecutionId=run["WindowExecutionId"])[
        "WindowExecutionTaskIdentities"]
    assert {t["TaskType"] for t in tasks} == {"AUTOMATION"} and {t["Status"] for t in tasks} == {"SUCCESS"}
    counts = []
    for t in tasks:
        invocations = ssm.describe_maintenance_window_execution_task_invocations(
            WindowExecutionId=run["WindowExecutionId"], TaskId=t["TaskExecutionId"]
        )["WindowExecutionTaskInvocationIdentities"]
        counts.append(len(invocations))
        for inv in invocations:
            execution = ssm.get_automation_execution(AutomationExecutionId=inv["ExecutionId"])["AutomationExecution"]
            assert execution["AutomationExecutionStatus"] == "Success" and inv["TaskType"] == "AUTOMATION"
    assert sorted(counts) == [1, 2]
