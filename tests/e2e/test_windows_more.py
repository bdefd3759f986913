"""Maintenance windows end to end, the parts test_windows.py leaves out: what
CreateMaintenanceWindow refuses, ClientToken idempotency, unknown and malformed ids,
registered targets (filters, merge and Replace updates, Safe deregistration), task
registration rules (types, documents, targets, the per-window limit), the schedule as
DescribeMaintenanceWindowSchedule shows it in a time zone, disabled windows, cancelled
runs, MaxErrors, pseudo-parameters and overlapping runs.  Driven with boto3 and the aws CLI
against real agents; the server's test clock is moved to each window's start.

Fleet (tags):  m0 role=web   m1 role=web   m2 role=db
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from pathlib import Path

import pytest

from conftest import AwsCliError, Fleet, collect, raises_aws, start_fleet, wait_until

TAGS = {"m0": {"role": "web"}, "m1": {"role": "web"}, "m2": {"role": "db"}}
WEB = [{"Key": "tag:role", "Values": ["web"]}]
DB = [{"Key": "tag:role", "Values": ["db"]}]
FINAL = {"SUCCESS", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED_OVERLAPPING"}
DAILY = "cron(0 2 ? * * *)"
UNKNOWN_WINDOW = "mw-0123456789abcdef0"
SHELL = "AWS-RunShellScript"


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
    for w in collect(client.describe_maintenance_windows, "WindowIdentities"):
        client.delete_maintenance_window(WindowId=w["WindowId"])


# --------------------------------------------------------------------------- helpers


def iso_to_ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def open_window(server, ssm, window_id: str) -> None:
    """Moves the server's clock just past the window's next start."""
    nxt = ssm.get_maintenance_window(WindowId=window_id)["NextExecutionTime"]
    now = server.advance_clock(0)
    server.advance_clock(max(0, (iso_to_ms(nxt) - now) // 1000 + 2))


def window_ids(ssm) -> set[str]:
    return {w["WindowId"] for w in collect(ssm.describe_maintenance_windows, "WindowIdentities")}


def new_window(ssm, name: str, schedule: str = DAILY, duration: int = 3, cutoff: int = 1, **kw) -> str:
    kw.setdefault("AllowUnassociatedTargets", False)
    return ssm.create_maintenance_window(
        Name=name, Schedule=schedule, Duration=duration, Cutoff=cutoff, **kw
    )["WindowId"]


def add_target(ssm, window_id: str, targets=WEB, **kw) -> str:
    return ssm.register_target_with_maintenance_window(
        WindowId=window_id, ResourceType="INSTANCE", Targets=targets, **kw
    )["WindowTargetId"]


def shell_task(ssm, window_id: str, targets: list[dict], commands: list[str], priority: int = 1, **kw) -> str:
    return ssm.register_task_with_maintenance_window(
        WindowId=window_id,
        Targets=targets,
        TaskArn=kw.pop("TaskArn", SHELL),
        TaskType="RUN_COMMAND",
        Priority=priority,
        MaxConcurrency=kw.pop("MaxConcurrency", "2"),
        MaxErrors=kw.pop("MaxErrors", "0"),
        TaskInvocationParameters={"RunCommand": {"Parameters": {"commands": commands}}},
        **kw,
    )["WindowTaskId"]


def by_target(target_id: str) -> list[dict]:
    return [{"Key": "WindowTargetIds", "Values": [target_id]}]


def executions(ssm, window_id: str) -> list[dict]:
    return ssm.describe_maintenance_window_executions(WindowId=window_id)["WindowExecutions"]


def only_execution(ssm, window_id: str, final: bool = True, timeout: float = 60) -> dict:
    def probe():
        runs = executions(ssm, window_id)
        if len(runs) == 1 and (not final or runs[0]["Status"] in FINAL):
            return runs[0]
        return None

    return wait_until(probe, timeout, f"the run of {window_id}")


def execution_tasks(ssm, execution_id: str) -> list[dict]:
    return ssm.describe_maintenance_window_execution_tasks(WindowExecutionId=execution_id)[
        "WindowExecutionTaskIdentities"
    ]


def invocations(ssm, execution_id: str, task_execution_id: str) -> list[dict]:
    return ssm.describe_maintenance_window_execution_task_invocations(
        WindowExecutionId=execution_id, TaskId=task_execution_id
    )["WindowExecutionTaskInvocationIdentities"]


def cli_error(server, *args: str) -> str:
    with pytest.raises(AwsCliError) as ei:
        server.aws(*args)
    return ei.value.stderr


# --------------------------------------------------------------------------- 1. bad input


BAD_WINDOWS = {
    "cutoff-equals-duration": dict(Schedule=DAILY, Duration=2, Cutoff=2),
    "cutoff-above-duration": dict(Schedule=DAILY, Duration=2, Cutoff=3),
    "bad-schedule-text": dict(Schedule="every day at two", Duration=2, Cutoff=1),
    "bad-cron": dict(Schedule="cron(0 2 * * * *)", Duration=2, Cutoff=1),
    "unknown-timezone": dict(Schedule=DAILY, ScheduleTimezone="Mars/Olympus_Mons", Duration=2, Cutoff=1),
    "offset-with-rate": dict(Schedule="rate(1 day)", ScheduleOffset=2, Duration=2, Cutoff=1),
    "end-date-in-the-past": dict(Schedule=DAILY, EndDate="2000-01-01T00:00:00Z", Duration=2, Cutoff=1),
    "start-after-end": dict(
        Schedule=DAILY, StartDate="2099-06-01T00:00:00Z", EndDate="2099-01-01T00:00:00Z", Duration=2, Cutoff=1
    ),
    "duration-25": dict(Schedule=DAILY, Duration=25, Cutoff=1),
}


@pytest.mark.parametrize("case", sorted(BAD_WINDOWS))
def test_create_refuses_bad_settings_and_creates_nothing(ssm, case):
    before = window_ids(ssm)
    with raises_aws("ValidationException"):
        ssm.create_maintenance_window(Name=f"bad-{case}", AllowUnassociatedTargets=False, **BAD_WINDOWS[case])
    assert window_ids(ssm) == before


def test_create_refusals_through_the_aws_cli(server, ssm):
    before = window_ids(ssm)
    err = cli_error(
        server, "ssm", "create-maintenance-window", "--name", "cli-bad", "--schedule", "cron(bad)",
        "--duration", "2", "--cutoff", "1", "--no-allow-unassociated-targets",
    )
    assert "(ValidationException)" in err, err
    err = cli_error(
        server, "ssm", "create-maintenance-window", "--name", "cli-bad", "--schedule", DAILY,
        "--duration", "3", "--cutoff", "3", "--allow-unassociated-targets",
    )
    assert "(ValidationException)" in err, err
    assert window_ids(ssm) == before


# --------------------------------------------------------------------------- 2. ClientToken


def test_client_token_makes_create_idempotent(ssm):
    token = uuid.uuid4().hex
    args = dict(Name="idem", Schedule=DAILY, Duration=2, Cutoff=1, AllowUnassociatedTargets=False, ClientToken=token)
    first = ssm.create_maintenance_window(**args)["WindowId"]
    again = ssm.create_maintenance_window(**args)["WindowId"]
    assert again == first
    assert [w for w in window_ids(ssm) if w == first] == [first]
    with raises_aws("IdempotentParameterMismatch"):
        ssm.create_maintenance_window(**{**args, "Name": "idem-other"})
    with raises_aws("IdempotentParameterMismatch"):
        ssm.create_maintenance_window(**{**args, "Duration": 4})
    names = [w["Name"] for w in collect(ssm.describe_maintenance_windows, "WindowIdentities")]
    assert names.count("idem") == 1 and "idem-other" not in names
    # a new token makes a new window
    other = ssm.create_maintenance_window(**{**args, "ClientToken": uuid.uuid4().hex})["WindowId"]
    assert other != first


# --------------------------------------------------------------------------- 3. unknown / malformed ids


def test_unknown_window_is_does_not_exist(server, ssm):
    calls = {
        "get": lambda: ssm.get_maintenance_window(WindowId=UNKNOWN_WINDOW),
        "update": lambda: ssm.update_maintenance_window(WindowId=UNKNOWN_WINDOW, Name="renamed"),
        "delete": lambda: ssm.delete_maintenance_window(WindowId=UNKNOWN_WINDOW),
        "targets": lambda: ssm.describe_maintenance_window_targets(WindowId=UNKNOWN_WINDOW),
        "tasks": lambda: ssm.describe_maintenance_window_tasks(WindowId=UNKNOWN_WINDOW),
        "executions": lambda: ssm.describe_maintenance_window_executions(WindowId=UNKNOWN_WINDOW),
    }
    for name, call in calls.items():
        with raises_aws("DoesNotExistException"):
            call()
    err = cli_error(server, "ssm", "get-maintenance-window", "--window-id", UNKNOWN_WINDOW)
    assert "(DoesNotExistException)" in err, err


def test_malformed_window_id_is_a_validation_error(server, ssm):
    # 20 characters (botocore checks the length only), not the mw-<17 hex> pattern
    bad = "mw-" + "z" * 17
    raw = server.ssm(validate=False)
    for client, window_id in ((ssm, bad), (raw, "mw-short"), (raw, "not-a-window-id-at-all")):
        with raises_aws("ValidationException"):
            client.get_maintenance_window(WindowId=window_id)
        with raises_aws("ValidationException"):
            client.describe_maintenance_window_tasks(WindowId=window_id)
    with raises_aws("ValidationException"):
        ssm.delete_maintenance_window(WindowId=bad)
    with raises_aws("ValidationException"):
        ssm.describe_maintenance_window_executions(WindowId=bad)


# --------------------------------------------------------------------------- 4. targets


def test_resource_group_targets_need_an_existing_group(ssm):
    window = new_window(ssm, "resource-group")
    with raises_aws("InvalidTarget"):
        ssm.register_target_with_maintenance_window(
            WindowId=window, ResourceType="RESOURCE_GROUP",
            Targets=[{"Key": "resource-groups:Name", "Values": ["my-group"]}],
        )
    assert ssm.describe_maintenance_window_targets(WindowId=window)["Targets"] == []


def test_describe_targets_with_filters(ssm):
    window = new_window(ssm, "filters")
    web = add_target(ssm, window, WEB, OwnerInformation="team-web", Name="web")
    db = add_target(ssm, window, DB, OwnerInformation="team-db", Name="db-nodes")

    def ids(**kw):
        return sorted(t["WindowTargetId"] for t in ssm.describe_maintenance_window_targets(WindowId=window, **kw)["Targets"])

    assert ids() == sorted([web, db])
    assert ids(Filters=[{"Key": "WindowTargetId", "Values": [db]}]) == [db]
    assert ids(Filters=[{"Key": "OwnerInformation", "Values": ["team-web"]}]) == [web]
    assert ids(Filters=[{"Key": "OwnerInformation", "Values": ["team-web", "team-db"]}]) == sorted([web, db])
    assert ids(Filters=[{"Key": "OwnerInformation", "Values": ["nobody"]}]) == []
    assert ids(Filters=[{"Key": "ResourceType", "Values": ["INSTANCE"]}]) == sorted([web, db])
    assert ids(
        Filters=[{"Key": "ResourceType", "Values": ["INSTANCE"]}, {"Key": "OwnerInformation", "Values": ["team-db"]}]
    ) == [db]
    with raises_aws("ValidationException"):
        ssm.describe_maintenance_window_targets(WindowId=window, Filters=[{"Key": "Color", "Values": ["red"]}])
    listed = {t["WindowTargetId"]: t for t in ssm.describe_maintenance_window_targets(WindowId=window)["Targets"]}
    assert listed[web]["Targets"] == WEB and listed[web]["ResourceType"] == "INSTANCE"
    assert listed[web]["Name"] == "web" and listed[web]["WindowId"] == window


def test_update_target_merges_or_replaces(ssm):
    window = new_window(ssm, "update-target")
    target = add_target(ssm, window, WEB, OwnerInformation="owner-1", Name="name-1", Description="d1")

    def current() -> dict:
        return ssm.describe_maintenance_window_targets(
            WindowId=window, Filters=[{"Key": "WindowTargetId", "Values": [target]}]
        )["Targets"][0]

    out = ssm.update_maintenance_window_target(WindowId=window, WindowTargetId=target, Name="name-2")
    assert out["Name"] == "name-2" and out["OwnerInformation"] == "owner-1" and out["Targets"] == WEB
    now = current()
    assert (now["Name"], now["OwnerInformation"], now["Description"], now["Targets"]) == ("name-2", "owner-1", "d1", WEB)

    ssm.update_maintenance_window_target(WindowId=window, WindowTargetId=target, Targets=DB)
    now = current()
    assert now["Targets"] == DB and now["Name"] == "name-2" and now["OwnerInformation"] == "owner-1"

    out = ssm.update_maintenance_window_target(
        WindowId=window, WindowTargetId=target, Targets=WEB, Name="name-3", Replace=True
    )
    assert out["Name"] == "name-3" and out["Targets"] == WEB
    assert "OwnerInformation" not in out and "Description" not in out
    now = current()
    assert now["Name"] == "name-3" and now["Targets"] == WEB
    assert "OwnerInformation" not in now and "Description" not in now

    with raises_aws("DoesNotExistException"):
        ssm.update_maintenance_window_target(WindowId=window, WindowTargetId=str(uuid.uuid4()), Name="renamed")


def test_deregister_target_safe_refuses_while_a_task_uses_it(server, ssm):
    window = new_window(ssm, "safe")
    used = add_target(ssm, window, WEB)
    unused = add_target(ssm, window, DB)
    shell_task(ssm, window, by_target(used), ["true"])
    with raises_aws("TargetInUseException"):
        ssm.deregister_target_from_maintenance_window(WindowId=window, WindowTargetId=used, Safe=True)
    err = cli_error(
        server, "ssm", "deregister-target-from-maintenance-window", "--window-id", window,
        "--window-target-id", used, "--safe",
    )
    assert "(TargetInUseException)" in err, err
    remaining = {t["WindowTargetId"] for t in ssm.describe_maintenance_window_targets(WindowId=window)["Targets"]}
    assert remaining == {used, unused}
    # an unused target goes even with Safe
    ssm.deregister_target_from_maintenance_window(WindowId=window, WindowTargetId=unused, Safe=True)
    # without Safe the used one goes too
    out = ssm.deregister_target_from_maintenance_window(WindowId=window, WindowTargetId=used)
    assert out["WindowTargetId"] == used and out["WindowId"] == window
    assert ssm.describe_maintenance_window_targets(WindowId=window)["Targets"] == []
    with raises_aws("DoesNotExistException"):
        ssm.deregister_target_from_maintenance_window(WindowId=window, WindowTargetId=used)


# --------------------------------------------------------------------------- 5. tasks


def test_task_types_documents_and_targets_are_checked(ssm):
    window = new_window(ssm, "task-rules")
    target = add_target(ssm, window, WEB)
    with raises_aws("FeatureNotAvailableException"):
        ssm.register_task_with_maintenance_window(
            WindowId=window, TaskType="LAMBDA", TaskArn="arn:aws:lambda:us-east-1:123456789012:function:f",
            Targets=by_target(target), MaxConcurrency="1", MaxErrors="0",
        )
    for not_a_runbook in ("AWS-RestartEC2Instance", "AWS-RunShellScript"):
        with raises_aws("InvalidDocument"):
            ssm.register_task_with_maintenance_window(
                WindowId=window, TaskType="AUTOMATION", TaskArn=not_a_runbook,
                Targets=by_target(target), MaxConcurrency="1", MaxErrors="0",
            )
    with raises_aws("InvalidDocument"):
        shell_task(ssm, window, by_target(target), ["true"], TaskArn="e2e-no-such-document-" + uuid.uuid4().hex[:8])
    with raises_aws("DoesNotExistException"):
        shell_task(ssm, window, by_target(str(uuid.uuid4())), ["true"])
    with raises_aws("ValidationException"):
        shell_task(ssm, window, [{"Key": "InstanceIds", "Values": ["mi-0123456789abcdef0"]}], ["true"])
    assert ssm.describe_maintenance_window_tasks(WindowId=window)["Tasks"] == []


def test_unassociated_instance_targets_run_when_allowed(server, ssm, fleet, tmp_path):
    marker = tmp_path / "ran"
    window = new_window(ssm, "unassociated", AllowUnassociatedTargets=True)
    node = fleet.id("m2")
    task = shell_task(
        ssm, window, [{"Key": "InstanceIds", "Values": [node]}], [f"echo ran $E2E_NODE >> {marker}"]
    )
    assert [t["WindowTaskId"] for t in ssm.describe_maintenance_window_tasks(WindowId=window)["Tasks"]] == [task]
    open_window(server, ssm, window)
    run = only_execution(ssm, window)
    assert run["Status"] == "SUCCESS", run
    assert marker.read_text().splitlines() == ["ran m2"]
    (task_run,) = execution_tasks(ssm, run["WindowExecutionId"])
    (inv,) = invocations(ssm, run["WindowExecutionId"], task_run["TaskExecutionId"])
    assert inv["Status"] == "SUCCESS" and "WindowTargetId" not in inv
    command = ssm.list_commands(CommandId=inv["ExecutionId"])["Commands"][0]
    assert command["InstanceIds"] == [node] and command["Status"] == "Success"


def test_get_update_and_filter_tasks(ssm):
    window = new_window(ssm, "tasks")
    target = add_target(ssm, window, WEB)
    t1 = shell_task(
        ssm, window, by_target(target), ["echo one"], priority=1, Name="one", Description="first",
        MaxConcurrency="1", MaxErrors="1", CutoffBehavior="CANCEL_TASK",
    )
    t2 = shell_task(ssm, window, by_target(target), ["echo two"], priority=2, Name="two")
    t3 = ssm.register_task_with_maintenance_window(
        WindowId=window, Targets=by_target(target), TaskArn="AWS-RunPowerShellScript", TaskType="RUN_COMMAND",
        Priority=2, MaxConcurrency="1", MaxErrors="0",
        TaskInvocationParameters={"RunCommand": {"Parameters": {"commands": ["echo three"]}}},
    )["WindowTaskId"]

    got = ssm.get_maintenance_window_task(WindowId=window, WindowTaskId=t1)
    assert got["WindowTaskId"] == t1 and got["WindowId"] == window
    assert got["TaskArn"] == SHELL and got["TaskType"] == "RUN_COMMAND" and got["Priority"] == 1
    assert got["MaxConcurrency"] == "1" and got["MaxErrors"] == "1" and got["CutoffBehavior"] == "CANCEL_TASK"
    assert got["Name"] == "one" and got["Description"] == "first" and got["Targets"] == by_target(target)
    assert got["TaskInvocationParameters"]["RunCommand"]["Parameters"] == {"commands": ["echo one"]}

    # merge: only the given members change
    out = ssm.update_maintenance_window_task(WindowId=window, WindowTaskId=t1, Priority=5, Name="one-b")
    assert out["Priority"] == 5 and out["Name"] == "one-b"
    got = ssm.get_maintenance_window_task(WindowId=window, WindowTaskId=t1)
    assert got["Priority"] == 5 and got["Name"] == "one-b"
    assert got["Description"] == "first" and got["MaxErrors"] == "1" and got["CutoffBehavior"] == "CANCEL_TASK"
    assert got["TaskArn"] == SHELL and got["Targets"] == by_target(target)
    assert got["TaskInvocationParameters"]["RunCommand"]["Parameters"] == {"commands": ["echo one"]}

    def ids(*filters) -> list[str]:
        tasks = ssm.describe_maintenance_window_tasks(WindowId=window, Filters=list(filters))["Tasks"]
        return sorted(t["WindowTaskId"] for t in tasks)

    assert ids() == sorted([t1, t2, t3])
    assert ids({"Key": "Priority", "Values": ["2"]}) == sorted([t2, t3])
    assert ids({"Key": "Priority", "Values": ["5"]}) == [t1]
    assert ids({"Key": "Priority", "Values": ["1"]}) == []
    assert ids({"Key": "TaskArn", "Values": [SHELL]}) == sorted([t1, t2])
    assert ids({"Key": "TaskArn", "Values": ["AWS-RunPowerShellScript"]}) == [t3]
    assert ids({"Key": "TaskArn", "Values": [SHELL]}, {"Key": "Priority", "Values": ["2"]}) == [t2]
    listed = ssm.describe_maintenance_window_tasks(WindowId=window)["Tasks"]
    assert [t["Priority"] for t in listed] == sorted(t["Priority"] for t in listed)
    assert all(t["Type"] == "RUN_COMMAND" for t in listed)

    with raises_aws("DoesNotExistException"):
        ssm.get_maintenance_window_task(WindowId=window, WindowTaskId=str(uuid.uuid4()))


def test_at_most_twenty_tasks_per_window(ssm):
    window = new_window(ssm, "limit")
    target = add_target(ssm, window, WEB)
    for i in range(20):
        shell_task(ssm, window, by_target(target), [f"echo {i}"], priority=i)
    with raises_aws("ResourceLimitExceededException"):
        shell_task(ssm, window, by_target(target), ["echo too many"])
    tasks = collect(ssm.describe_maintenance_window_tasks, "Tasks", WindowId=window)
    assert len(tasks) == 20


# --------------------------------------------------------------------------- 6. schedule


def test_schedule_in_a_time_zone(server, ssm):
    window = new_window(ssm, "new-york", ScheduleTimezone="America/New_York")
    runs = collect(ssm.describe_maintenance_window_schedule, "ScheduledWindowExecutions", WindowId=window)
    assert len(runs) >= 10
    times = [dt.datetime.fromisoformat(r["ExecutionTime"].replace("Z", "+00:00")) for r in runs]
    assert {r["WindowId"] for r in runs} == {window} and {r["Name"] for r in runs} == {"new-york"}
    for t in times:
        assert (t.hour, t.minute, t.second) in ((7, 0, 0), (6, 0, 0)), t  # 02:00 EST / EDT
    for a, b in zip(times, times[1:]):
        assert b > a
        assert (b.date() - a.date()).days == 1, (a, b)
    now = dt.datetime.fromtimestamp(server.advance_clock(0) / 1000, dt.timezone.utc)
    assert now < times[0] <= now + dt.timedelta(days=1)
    nxt = ssm.get_maintenance_window(WindowId=window)["NextExecutionTime"]
    assert iso_to_ms(nxt) == int(times[0].timestamp() * 1000)

    out = server.aws("ssm", "describe-maintenance-window-schedule", "--window-id", window)
    assert out["ScheduledWindowExecutions"][0]["ExecutionTime"] == runs[0]["ExecutionTime"]


def test_schedule_and_windows_for_a_node(ssm, fleet):
    web_window = new_window(ssm, "for-web")
    add_target(ssm, web_window, WEB)
    db_window = new_window(ssm, "for-db")
    add_target(ssm, db_window, DB)
    new_window(ssm, "no-targets")
    web, db = fleet.id("m0"), fleet.id("m2")

    runs = collect(
        ssm.describe_maintenance_window_schedule, "ScheduledWindowExecutions",
        Targets=[{"Key": "InstanceIds", "Values": [web]}], ResourceType="INSTANCE",
    )
    assert runs and {r["WindowId"] for r in runs} == {web_window}
    runs = collect(
        ssm.describe_maintenance_window_schedule, "ScheduledWindowExecutions",
        Targets=[{"Key": "InstanceIds", "Values": [db]}], ResourceType="INSTANCE",
    )
    assert runs and {r["WindowId"] for r in runs} == {db_window}

    def windows_for(node: str) -> set[str]:
        found = collect(
            ssm.describe_maintenance_windows_for_target, "WindowIdentities",
            Targets=[{"Key": "InstanceIds", "Values": [node]}], ResourceType="INSTANCE",
        )
        return {w["WindowId"] for w in found}

    assert windows_for(web) == {web_window}
    assert web_window not in windows_for(db) and windows_for(db) == {db_window}
    assert windows_for("mi-00000000000000000") == set()


# --------------------------------------------------------------------------- 7. disabled


def test_disabled_window_has_no_next_run_and_runs_nothing(server, ssm, tmp_path):
    marker = tmp_path / "ran"
    window = new_window(ssm, "disabled")
    target = add_target(ssm, window, WEB)
    shell_task(ssm, window, by_target(target), [f"touch {marker}"])
    old_start = ssm.get_maintenance_window(WindowId=window)["NextExecutionTime"]
    ssm.update_maintenance_window(WindowId=window, Enabled=False)
    got = ssm.get_maintenance_window(WindowId=window)
    assert got["Enabled"] is False and "NextExecutionTime" not in got
    assert [w["Enabled"] for w in ssm.describe_maintenance_windows(
        Filters=[{"Key": "Name", "Values": ["disabled"]}])["WindowIdentities"]] == [False]
    now = server.advance_clock(0)
    server.advance_clock((iso_to_ms(old_start) - now) // 1000 + 2)
    for _ in range(8):
        assert executions(ssm, window) == []
        time.sleep(0.5)
    assert not marker.exists()


# --------------------------------------------------------------------------- 8. cancel


def test_cancel_a_running_execution(server, ssm, fleet, tmp_path):
    started = tmp_path / "started"
    window = new_window(ssm, "cancel")
    target = add_target(ssm, window, DB)
    shell_task(ssm, window, by_target(target), [f"touch {started}; sleep 60"])
    open_window(server, ssm, window)
    run = only_execution(ssm, window, final=False)
    wait_until(started.exists, 30, "the task's script to start")
    assert ssm.get_maintenance_window_execution(WindowExecutionId=run["WindowExecutionId"])["Status"] == "IN_PROGRESS"

    out = ssm.cancel_maintenance_window_execution(WindowExecutionId=run["WindowExecutionId"])
    assert out["WindowExecutionId"] == run["WindowExecutionId"]
    run = only_execution(ssm, window, timeout=40)
    assert run["Status"] == "CANCELLED", run
    (task,) = execution_tasks(ssm, run["WindowExecutionId"])
    assert task["Status"] == "CANCELLED"
    (inv,) = invocations(ssm, run["WindowExecutionId"], task["TaskExecutionId"])
    assert inv["Status"] == "CANCELLED"
    command = ssm.list_commands(CommandId=inv["ExecutionId"])["Commands"][0]
    assert command["Status"] == "Cancelled"
    detail = ssm.get_command_invocation(CommandId=inv["ExecutionId"], InstanceId=fleet.id("m2"))
    assert detail["Status"] == "Cancelled"

    with raises_aws("DoesNotExistException"):
        ssm.cancel_maintenance_window_execution(WindowExecutionId=str(uuid.uuid4()))
    with raises_aws("DoesNotExistException"):
        ssm.get_maintenance_window_execution(WindowExecutionId=str(uuid.uuid4()))


# --------------------------------------------------------------------------- 9. MaxErrors


def test_max_errors_zero_stops_after_the_first_failure(server, ssm, tmp_path):
    log = tmp_path / "log"
    window = new_window(ssm, "max-errors")
    target = add_target(ssm, window, WEB)
    shell_task(ssm, window, by_target(target), [f"echo $E2E_NODE >> {log}; exit 1"], MaxConcurrency="1", MaxErrors="0")
    open_window(server, ssm, window)
    run = only_execution(ssm, window)
    assert run["Status"] == "FAILED", run
    (task,) = execution_tasks(ssm, run["WindowExecutionId"])
    assert task["Status"] == "FAILED"
    invs = invocations(ssm, run["WindowExecutionId"], task["TaskExecutionId"])
    assert len(invs) == 1, invs
    assert invs[0]["Status"] == "FAILED"
    time.sleep(2)
    assert len(invocations(ssm, run["WindowExecutionId"], task["TaskExecutionId"])) == 1
    assert len(log.read_text().splitlines()) == 1, log.read_text()
    (command,) = ssm.list_commands(CommandId=invs[0]["ExecutionId"])["Commands"]
    assert command["Status"] == "Failed"


# --------------------------------------------------------------------------- 10. pseudo-parameters


def test_pseudo_parameters_are_substituted(server, ssm, fleet):
    window = new_window(ssm, "pseudo")
    target = add_target(ssm, window, DB)
    shell_task(
        ssm, window, by_target(target),
        ["echo resource={{RESOURCE_ID}} window={{WINDOW_ID}} execution={{WINDOW_EXECUTION_ID}}"],
    )
    open_window(server, ssm, window)
    run = only_execution(ssm, window)
    assert run["Status"] == "SUCCESS", run
    (task,) = execution_tasks(ssm, run["WindowExecutionId"])
    (inv,) = invocations(ssm, run["WindowExecutionId"], task["TaskExecutionId"])
    node = fleet.id("m2")
    out = ssm.get_command_invocation(CommandId=inv["ExecutionId"], InstanceId=node)
    assert out["StandardOutputContent"].strip() == (
        f"resource={node} window={window} execution={run['WindowExecutionId']}"
    )
    sent = json.loads(inv["Parameters"])
    assert f"resource={node}" in sent["parameters"]["commands"][0]


# --------------------------------------------------------------------------- 11. overlapping runs


def test_a_run_due_while_the_last_one_runs_is_skipped(server, ssm, tmp_path):
    log = tmp_path / "log"
    window = new_window(ssm, "overlap", schedule="rate(1 hour)", duration=3, cutoff=1)
    target = add_target(ssm, window, DB)
    shell_task(ssm, window, by_target(target), [f"echo run >> {log}; sleep 12"])
    open_window(server, ssm, window)
    first = only_execution(ssm, window, final=False)
    wait_until(log.exists, 30, "the first run's script to start")
    open_window(server, ssm, window)  # the next hourly start, while the first still runs

    def two():
        runs = executions(ssm, window)
        return runs if len(runs) == 2 else None

    runs = wait_until(two, 30, "a second execution")
    skipped = [r for r in runs if r["WindowExecutionId"] != first["WindowExecutionId"]][0]
    assert skipped["Status"] == "SKIPPED_OVERLAPPING", runs
    assert runs[0]["WindowExecutionId"] == skipped["WindowExecutionId"], "newest first"
    assert {t["Status"] for t in execution_tasks(ssm, skipped["WindowExecutionId"])} <= {"SKIPPED_OVERLAPPING"}

    def first_done():
        e = ssm.get_maintenance_window_execution(WindowExecutionId=first["WindowExecutionId"])
        return e if e["Status"] in FINAL else None

    done = wait_until(first_done, 40, "the first run to finish")
    assert done["Status"] == "SUCCESS", done
    assert log.read_text().splitlines() == ["run"], "the skipped run started nothing"
    (task,) = execution_tasks(ssm, first["WindowExecutionId"])
    assert len(invocations(ssm, first["WindowExecutionId"], task["TaskExecutionId"])) == 1
