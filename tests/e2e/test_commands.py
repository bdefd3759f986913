"""Run Command end to end: SendCommand to real agents, results, rate and error control,
cancel, timeouts, offline nodes, crashes of the agent and of the server, and request errors.

One server per backend (``--agent-heartbeat 1``) and three agents that stay connected for
the whole module, each registered through an activation of its own (so with its own tags)
and started with ``E2E_NODE=<name>`` in its environment, which the scripts it runs
inherit, so every output says which node produced it:

    n0  env=prod role=web team=alpha
    n1  env=dev  role=web
    n2  env=prod role=db

Tests that stop, freeze or kill an agent (or the server) leave it to the ``nodes`` fixture
to bring everything back before the next test. Scripts that append to marker files under
the test's ``tmp_path`` prove how many times something really ran.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import time
import uuid
from pathlib import Path

import pytest
import yaml

from conftest import (
    FLEET_HEARTBEAT,
    FLEET_TAGS,
    AwsCliError,
    Fleet,
    collect,
    create_activation,
    pgrep,
    raises_aws,
    start_fleet,
    wait_ping,
    wait_until,
)
from doc_helpers import wait_active

HEARTBEAT = FLEET_HEARTBEAT
NODE_TAGS = FLEET_TAGS
FINAL = {"Success", "Failed", "TimedOut", "Cancelled"}


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", str(HEARTBEAT)))


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, NODE_TAGS, env_for=lambda name: {"E2E_NODE": name})


@pytest.fixture
def nodes(fleet, server) -> Fleet:
    server.ensure_running()
    fleet.ensure_up(server.ssm(), timeout=60)
    return fleet


@pytest.fixture
def ssm(server, nodes):
    return server.ssm()


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def send(ssm, commands, *, ids=None, targets=None, params=None, **kw) -> dict:
    """SendCommand with AWS-RunShellScript; returns the Command."""
    parameters = {"commands": [commands] if isinstance(commands, str) else list(commands)}
    parameters.update(params or {})
    args = dict(DocumentName="AWS-RunShellScript", Parameters=parameters, **kw)
    if ids is not None:
        args["InstanceIds"] = list(ids)
    if targets is not None:
        args["Targets"] = [{"Key": k, "Values": list(v)} for k, v in targets]
    return ssm.send_command(**args)["Command"]


def command(ssm, cid: str) -> dict:
    [c] = ssm.list_commands(CommandId=cid)["Commands"]
    return c


def wait_command(ssm, cid: str, timeout: float = 60) -> dict:
    last: dict = {}

    def done():
        nonlocal last
        last = command(ssm, cid)
        return last["Status"] in FINAL

    try:
        wait_until(done, timeout, f"command {cid} to finish", interval=0.25)
    except AssertionError:
        raise AssertionError(
            f"command not final after {timeout}s: {last.get('Status')}; invocations: "
            f"{ {k: v['Status'] for k, v in invocations(ssm, cid).items()} }"
        ) from None
    return last


def invocations(ssm, cid: str, details: bool = False) -> dict[str, dict]:
    items = collect(ssm.list_command_invocations, "CommandInvocations", CommandId=cid, Details=details)
    return {i["InstanceId"]: i for i in items}


def invocation(ssm, cid: str, iid: str, **kw) -> dict:
    return ssm.get_command_invocation(CommandId=cid, InstanceId=iid, **kw)


def wait_invocation(ssm, cid: str, iid: str, timeout: float = 30, statuses=FINAL) -> dict:
    last: dict = {}

    def done():
        nonlocal last
        last = invocation(ssm, cid, iid)
        return last["Status"] in statuses

    try:
        wait_until(done, timeout, f"invocation {cid}/{iid}", interval=0.2)
    except AssertionError:
        raise AssertionError(
            f"invocation {cid}/{iid} not in {statuses} after {timeout}s: {last.get('Status')}"
        ) from None
    return last


def lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def unique_sleep(base: int) -> str:
    """A sleep argument no other process on this machine has, for pgrep."""
    return f"{base}.{secrets.randbelow(10**6):06d}{secrets.randbelow(9) + 1}"


def kill_matching(pattern: str) -> None:
    for pid in pgrep(pattern):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def parse_ts(text: str) -> tuple[float, float]:
    values = [float(x) for x in text.split()]
    assert len(values) == 2, f"expected two timestamps, got {text!r}"
    return values[0], values[1]


# --------------------------------------------------------------------------- #
# running
# --------------------------------------------------------------------------- #


def test_run_by_instance_ids_output_and_exit_codes_per_node(ssm, nodes):
    script = [
        'echo "node=$E2E_NODE"',
        'echo "err-$E2E_NODE" >&2',
        'case "$E2E_NODE" in n1) exit 3;; esac',
    ]
    t0 = time.time()
    sent = send(ssm, script, ids=nodes.ids, Comment="per-node exit codes")
    cid = sent["CommandId"]
    uuid.UUID(cid)
    assert sent["Status"] == "Pending"
    assert sent["TargetCount"] == 3
    assert sorted(sent["InstanceIds"]) == sorted(nodes.ids)
    assert sent["DocumentName"] == "AWS-RunShellScript"
    assert sent["Comment"] == "per-node exit codes"

    c = wait_command(ssm, cid)
    t1 = time.time()
    assert c["Status"] == "Failed"
    assert (c["TargetCount"], c["CompletedCount"], c["ErrorCount"], c["DeliveryTimedOutCount"]) == (3, 3, 1, 0)

    for name in ("n0", "n1", "n2"):
        inv = invocation(ssm, cid, nodes.id(name))
        assert inv["CommandId"] == cid and inv["InstanceId"] == nodes.id(name)
        assert inv["DocumentName"] == "AWS-RunShellScript"
        assert inv["Comment"] == "per-node exit codes"
        assert inv["PluginName"] == "aws:runShellScript"
        assert inv["StandardOutputContent"] == f"node={name}\n"
        assert inv["StandardErrorContent"] == f"err-{name}\n"
        if name == "n1":
            assert (inv["Status"], inv["StatusDetails"], inv["ResponseCode"]) == ("Failed", "Failed", 3)
        else:
            assert (inv["Status"], inv["StatusDetails"], inv["ResponseCode"]) == ("Success", "Success", 0)
        start, end = inv["ExecutionStartDateTime"], inv["ExecutionEndDateTime"]
        assert start and end and start <= end, (start, end)
        ts = dt.datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp()
        assert t0 - 5 <= ts <= t1 + 5, (start, t0, t1)

    detailed = invocations(ssm, cid, details=True)
    assert set(detailed) == set(nodes.ids)
    for iid, inv in detailed.items():
        name = nodes.name_of(iid)
        assert inv["InstanceName"] == f"e2e-{name}"
        [plugin] = inv["CommandPlugins"]
        assert plugin["Name"] == "aws:runShellScript"
        assert plugin["ResponseCode"] == (3 if name == "n1" else 0)
        assert plugin["Status"] == ("Failed" if name == "n1" else "Success")
        assert f"node={name}" in plugin["Output"]
    plain = invocations(ssm, cid)
    assert all(not i.get("CommandPlugins") for i in plain.values())


def test_scripts_know_their_node_and_region(ssm, nodes):
    cid = send(ssm, ['echo "$AWS_SSM_INSTANCE_ID $AWS_SSM_REGION_NAME"'], ids=[nodes.id("n0")])["CommandId"]
    inv = wait_invocation(ssm, cid, nodes.id("n0"))
    assert inv["StandardOutputContent"] == f"{nodes.id('n0')} us-east-1\n", inv


def test_wait_command_executed_with_the_aws_cli(server, ssm, nodes):
    n2, n1 = nodes.id("n2"), nodes.id("n1")
    ok = send(ssm, ["sleep 2", "echo waited"], ids=[n2])["CommandId"]
    # The waiter polls through Pending/InProgress and returns once it succeeded.
    assert server.aws("ssm", "wait", "command-executed", "--command-id", ok, "--instance-id", n2) is None
    assert invocation(ssm, ok, n2)["Status"] == "Success"

    bad = send(ssm, "exit 9", ids=[n1])["CommandId"]
    with pytest.raises(AwsCliError) as err:
        server.aws("ssm", "wait", "command-executed", "--command-id", bad, "--instance-id", n1)
    assert err.value.returncode != 0
    assert "Failed" in err.value.stderr
    out = server.aws("ssm", "get-command-invocation", "--command-id", bad, "--instance-id", n1)
    assert (out["Status"], out["ResponseCode"]) == ("Failed", 9)


def test_run_by_tag_targets(ssm, nodes):
    n0, n1, n2 = nodes.id("n0"), nodes.id("n1"), nodes.id("n2")
    cases = [
        ([("tag:role", ["web"])], {n0, n1}),
        ([("tag:env", ["prod"]), ("tag:role", ["web"])], {n0}),
        ([("tag:env", ["prod", "dev"])], {n0, n1, n2}),
        ([("tag-key", ["team"])], {n0}),
        ([("InstanceIds", [n2])], {n2}),
        ([("InstanceIds", [n0, n1, n2]), ("tag:env", ["prod"])], {n0, n2}),
    ]
    sent = []
    for targets, expected in cases:
        c = send(ssm, 'echo "node=$E2E_NODE"', targets=targets)
        assert c["TargetCount"] == len(expected), (targets, c)
        assert [{"Key": k, "Values": v} for k, v in targets] == c["Targets"]
        sent.append((c["CommandId"], expected))
    for cid, expected in sent:
        c = wait_command(ssm, cid)
        assert c["Status"] == "Success"
        invs = invocations(ssm, cid)
        assert set(invs) == expected
        for iid in expected:
            out = invocation(ssm, cid, iid)["StandardOutputContent"]
            assert out == f"node={nodes.name_of(iid)}\n"

    # No node matches: nothing to run.
    none = send(ssm, "echo nobody", targets=[("tag:env", ["staging"])])
    assert none["TargetCount"] == 0
    c = wait_command(ssm, none["CommandId"], timeout=10)
    assert c["Status"] == "Success"
    assert invocations(ssm, none["CommandId"]) == {}


def test_list_commands_newest_first_with_counts(ssm, nodes):
    n0, n2 = nodes.id("n0"), nodes.id("n2")
    first = send(ssm, "true", ids=[n0])["CommandId"]
    time.sleep(0.01)
    second = send(ssm, "exit 1", ids=[n0, n2])["CommandId"]
    wait_command(ssm, first)
    wait_command(ssm, second)
    listed = [c["CommandId"] for c in collect(ssm.list_commands, "Commands")]
    assert listed.index(second) < listed.index(first)
    c = command(ssm, second)
    assert (c["Status"], c["TargetCount"], c["CompletedCount"], c["ErrorCount"]) == ("Failed", 2, 2, 2)
    c = command(ssm, first)
    assert (c["Status"], c["TargetCount"], c["CompletedCount"], c["ErrorCount"]) == ("Success", 1, 1, 0)
    # By node: only commands that ran there.
    on_n2 = [c["CommandId"] for c in collect(ssm.list_commands, "Commands", InstanceId=n2)]
    assert second in on_n2 and first not in on_n2
    # Paging.
    paged = [c["CommandId"] for c in collect(ssm.list_commands, "Commands", MaxResults=1)]
    assert paged == listed


def test_output_is_capped_like_ssm(ssm, nodes):
    n2 = nodes.id("n2")
    cid = send(
        ssm,
        ["head -c 30000 /dev/zero | tr '\\0' a", "head -c 9000 /dev/zero | tr '\\0' b >&2"],
        ids=[n2],
    )["CommandId"]
    wait_command(ssm, cid)
    inv = invocation(ssm, cid, n2)
    assert inv["Status"] == "Success"
    assert inv["StandardOutputContent"] == "a" * 24000
    assert inv["StandardErrorContent"] == "b" * 8000
    [plugin] = invocations(ssm, cid, details=True)[n2]["CommandPlugins"]
    assert 0 < len(plugin["Output"]) <= 2500


def test_own_command_document_with_parameters_and_steps(ssm, nodes, fresh):
    name = fresh.plain("greet")
    content = yaml.safe_dump({
        "schemaVersion": "2.2",
        "description": "e2e: two steps",
        "parameters": {"who": {"type": "String", "default": "world", "allowedValues": ["world", "e2e"]}},
        "mainSteps": [
            {"action": "aws:runShellScript", "name": "greet",
             "inputs": {"runCommand": ['echo "hello {{ who }} from $E2E_NODE"']}},
            {"action": "aws:runShellScript", "name": "second",
             "inputs": {"runCommand": ["echo second-step", "exit 4"]}},
        ],
    })
    ssm.create_document(Name=name, Content=content, DocumentType="Command", DocumentFormat="YAML")
    assert wait_active(ssm, name)["Status"] == "Active"

    n0, n1 = nodes.id("n0"), nodes.id("n1")
    cid = ssm.send_command(
        DocumentName=name, Targets=[{"Key": "tag:role", "Values": ["web"]}], Parameters={"who": ["e2e"]}
    )["Command"]["CommandId"]
    c = wait_command(ssm, cid)
    assert (c["Status"], c["TargetCount"]) == ("Failed", 2)
    for iid in (n0, n1):
        greet = invocation(ssm, cid, iid, PluginName="greet")
        assert (greet["Status"], greet["ResponseCode"]) == ("Success", 0)
        assert greet["StandardOutputContent"] == f"hello e2e from {nodes.name_of(iid)}\n"
        second = invocation(ssm, cid, iid, PluginName="second")
        assert (second["Status"], second["ResponseCode"]) == ("Failed", 4)
        assert second["StandardOutputContent"] == "second-step\n"
        listed = invocations(ssm, cid, details=True)[iid]
        assert listed["Status"] == "Failed"
        plugins = listed["CommandPlugins"]
        assert [(p["Name"], p["Status"]) for p in plugins] == [("greet", "Success"), ("second", "Failed")]
    with raises_aws("InvalidPluginName"):
        invocation(ssm, cid, n0, PluginName="nope")

    # The default applies when the parameter is left out.
    cid = ssm.send_command(DocumentName=name, InstanceIds=[n0])["Command"]["CommandId"]
    wait_command(ssm, cid)
    assert invocation(ssm, cid, n0, PluginName="greet")["StandardOutputContent"] == "hello world from n0\n"

    with raises_aws("InvalidParameters"):
        ssm.send_command(DocumentName=name, InstanceIds=[n0], Parameters={"who": ["nope"]})


def make_command_document(ssm, name: str, main_steps: list, parameters: dict | None = None) -> None:
    content = {"schemaVersion": "2.2", "description": "e2e", "mainSteps": main_steps}
    if parameters:
        content["parameters"] = parameters
    ssm.create_document(Name=name, Content=yaml.safe_dump(content), DocumentType="Command", DocumentFormat="YAML")
    assert wait_active(ssm, name)["Status"] == "Active"


def test_run_document_runs_stored_documents_nested(ssm, nodes, fresh):
    inner, outer = fresh.plain("inner"), fresh.plain("outer")
    make_command_document(
        ssm, inner,
        [{"action": "aws:runShellScript", "name": "say",
          "inputs": {"runCommand": ['echo "inner {{ word }} on $E2E_NODE"', "exit {{ code }}"]}}],
        {"word": {"type": "String"}, "code": {"type": "String", "default": "0"}},
    )
    make_command_document(
        ssm, outer,
        [{"action": "aws:runShellScript", "name": "before", "inputs": {"runCommand": ["echo before"]}},
         {"action": "aws:runDocument", "name": "nested",
          "inputs": {"documentType": "SSMDocument", "documentPath": inner,
                     "documentParameters": '{"word": "{{ word }}", "code": "{{ code }}"}'}}],
        {"word": {"type": "String"}, "code": {"type": "String", "default": "0"}},
    )
    n0 = nodes.id("n0")
    cid = ssm.send_command(DocumentName=outer, InstanceIds=[n0], Parameters={"word": ["deep"]})["Command"]["CommandId"]
    assert wait_command(ssm, cid)["Status"] == "Success"
    nested = invocation(ssm, cid, n0, PluginName="nested")
    assert (nested["Status"], nested["ResponseCode"]) == ("Success", 0)
    assert nested["StandardOutputContent"] == "inner deep on n0\n"
    plugins = invocations(ssm, cid, details=True)[n0]["CommandPlugins"]
    assert [p["Name"] for p in plugins] == ["before", "nested"]

    # The nested document's failure is the step's failure, with its exit code.
    cid = ssm.send_command(DocumentName=outer, InstanceIds=[n0], Parameters={"word": ["x"], "code": ["3"]})
    cid = cid["Command"]["CommandId"]
    assert wait_command(ssm, cid)["Status"] == "Failed"
    failed = invocation(ssm, cid, n0, PluginName="nested")
    assert (failed["Status"], failed["ResponseCode"]) == ("Failed", 3)

    # The built-in AWS-RunDocument names the document in sourceInfo.
    cid = ssm.send_command(
        DocumentName="AWS-RunDocument", InstanceIds=[n0],
        Parameters={"sourceType": ["SSMDocument"], "sourceInfo": [f'{{"name": "{inner}"}}'],
                    "documentParameters": ['{"word": "builtin"}']},
    )["Command"]["CommandId"]
    assert wait_command(ssm, cid)["Status"] == "Success"
    assert invocation(ssm, cid, n0)["StandardOutputContent"] == "inner builtin on n0\n"


def test_run_document_refusals(ssm, nodes, fresh):
    n0 = nodes.id("n0")
    missing, loop, badparams, nopath = (fresh.plain(x) for x in ("missing", "loop", "badparams", "nopath"))
    make_command_document(ssm, missing, [{"action": "aws:runDocument", "name": "n", "inputs": {
        "documentType": "SSMDocument", "documentPath": "No-Such-Document-e2e"}}])
    with raises_aws("InvalidDocument"):
        ssm.send_command(DocumentName=missing, InstanceIds=[n0])
    # A document that runs itself is refused before anything runs.
    make_command_document(ssm, loop, [{"action": "aws:runDocument", "name": "n", "inputs": {
        "documentType": "SSMDocument", "documentPath": loop}}])
    with raises_aws("InvalidDocument") as exc:
        ssm.send_command(DocumentName=loop, InstanceIds=[n0])
    assert "deep" in exc.value.response["Error"]["Message"]
    make_command_document(ssm, badparams, [{"action": "aws:runDocument", "name": "n", "inputs": {
        "documentType": "SSMDocument", "documentPath": "AWS-RunShellScript", "documentParameters": "{not json"}}])
    with raises_aws("InvalidParameters"):
        ssm.send_command(DocumentName=badparams, InstanceIds=[n0])
    # Parameters the nested document does not declare are refused like top-level ones.
    with raises_aws("InvalidParameters"):
        ssm.send_command(DocumentName="AWS-RunDocument", InstanceIds=[n0], Parameters={
            "sourceType": ["SSMDocument"], "sourceInfo": ['{"name": "AWS-RunShellScript"}'],
            "documentParameters": ['{"nope": "x"}']})
    make_command_document(ssm, nopath, [{"action": "aws:runDocument", "name": "n", "inputs": {
        "documentType": "SSMDocument"}}])
    with raises_aws("InvalidParameters", "InvalidDocumentContent"):
        ssm.send_command(DocumentName=nopath, InstanceIds=[n0])


# --------------------------------------------------------------------------- #
# rate and error control
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("max_concurrency,serial", [("1", True), ("50%", True), ("3", False)])
def test_max_concurrency(ssm, nodes, max_concurrency, serial):
    script = ["date +%s.%N", "sleep 1", "date +%s.%N"]
    cid = send(ssm, script, ids=nodes.ids, MaxConcurrency=max_concurrency)["CommandId"]
    c = wait_command(ssm, cid, timeout=60)
    assert c["Status"] == "Success", c
    assert c["MaxConcurrency"] == max_concurrency
    spans = sorted(parse_ts(invocation(ssm, cid, iid)["StandardOutputContent"]) for iid in nodes.ids)
    if serial:
        for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
            assert s2 >= e1, f"runs overlap under MaxConcurrency {max_concurrency}: {spans}"
    else:
        assert max(s for s, _ in spans) < min(e for _, e in spans), f"runs did not overlap: {spans}"


@pytest.mark.parametrize("max_errors,ran", [("0", 1), ("1", 2)])
def test_max_errors_stops_further_deliveries(ssm, nodes, tmp_path, max_errors, ran):
    marker = tmp_path / "runs"
    cid = send(
        ssm, [f'echo "$E2E_NODE" >> {marker}', "exit 1"], ids=nodes.ids,
        MaxConcurrency="1", MaxErrors=max_errors,
    )["CommandId"]
    c = wait_command(ssm, cid, timeout=60)
    assert c["Status"] == "Failed"
    assert c["ErrorCount"] == ran
    assert c["CompletedCount"] == 3
    statuses = sorted(i["Status"] for i in invocations(ssm, cid).values())
    assert statuses == sorted(["Failed"] * ran + ["Cancelled"] * (3 - ran)), statuses
    details = sorted(i["StatusDetails"] for i in invocations(ssm, cid).values())
    assert details == sorted(["Failed"] * ran + ["Terminated"] * (3 - ran)), details
    time.sleep(1.5)  # nothing else starts later
    assert len(lines(marker)) == ran, lines(marker)


# --------------------------------------------------------------------------- #
# cancel and timeouts
# --------------------------------------------------------------------------- #


def test_cancel_kills_the_running_process(server, ssm, nodes):
    n0 = nodes.id("n0")
    duration = unique_sleep(60)
    pattern = f"sleep {duration}"
    try:
        cid = send(ssm, ["echo started", f"sleep {duration}"], ids=[n0])["CommandId"]
        wait_until(lambda: pgrep(pattern), 15, "the script to start")
        assert invocation(ssm, cid, n0)["Status"] == "InProgress"

        server.aws("ssm", "cancel-command", "--command-id", cid)
        t = time.monotonic()
        inv = wait_invocation(ssm, cid, n0, timeout=10)
        took = time.monotonic() - t
        assert (inv["Status"], inv["StatusDetails"]) == ("Cancelled", "Cancelled")
        assert took < 5, f"cancel took {took:.1f}s"
        wait_until(lambda: not pgrep(pattern), 5, "the cancelled process to be gone")
        c = wait_command(ssm, cid, timeout=10)
        assert c["Status"] == "Cancelled"
    finally:
        kill_matching(pattern)


def test_cancel_pending_invocation_of_offline_node(ssm, nodes, tmp_path):
    agent, iid = nodes["n2"], nodes.id("n2")
    marker = tmp_path / "ran"
    agent.stop()
    wait_ping(ssm, iid, "ConnectionLost", timeout=10)
    cid = send(ssm, f"echo ran >> {marker}", ids=[iid], TimeoutSeconds=120)["CommandId"]
    time.sleep(1.5)
    assert invocation(ssm, cid, iid)["Status"] == "Pending"
    ssm.cancel_command(CommandId=cid, InstanceIds=[iid])
    inv = wait_invocation(ssm, cid, iid, timeout=5)
    assert inv["Status"] == "Cancelled"
    assert wait_command(ssm, cid, timeout=10)["Status"] == "Cancelled"

    agent.start()
    wait_ping(ssm, iid, "Online", timeout=20)
    time.sleep(2)
    assert not marker.exists(), "a cancelled invocation ran when its node came back"
    assert invocation(ssm, cid, iid)["Status"] == "Cancelled"


def test_execution_timeout(ssm, nodes):
    n1 = nodes.id("n1")
    duration = unique_sleep(30)
    pattern = f"sleep {duration}"
    try:
        t = time.monotonic()
        cid = send(ssm, ["echo before", f"sleep {duration}"], ids=[n1],
                   params={"executionTimeout": ["2"]})["CommandId"]
        inv = wait_invocation(ssm, cid, n1, timeout=20)
        took = time.monotonic() - t
        assert (inv["Status"], inv["StatusDetails"]) == ("TimedOut", "ExecutionTimedOut"), inv
        assert 1.5 <= took <= 15, took
        assert "before" in inv["StandardOutputContent"]
        wait_until(lambda: not pgrep(pattern), 5, "the timed-out process to be gone")
        c = wait_command(ssm, cid, timeout=10)
        assert c["Status"] == "TimedOut"
        assert c["ErrorCount"] == 1  # execution timeouts are errors
        assert c["DeliveryTimedOutCount"] == 0
    finally:
        kill_matching(pattern)


def test_offline_node_gets_the_command_when_it_reconnects(ssm, nodes, tmp_path):
    agent, iid = nodes["n2"], nodes.id("n2")
    marker = tmp_path / "ran"
    agent.stop()
    wait_ping(ssm, iid, "ConnectionLost", timeout=10)
    cid = send(ssm, ['echo "late $E2E_NODE"', f"echo x >> {marker}"], ids=[iid], TimeoutSeconds=60)["CommandId"]
    time.sleep(2)
    assert invocation(ssm, cid, iid)["Status"] == "Pending"
    assert command(ssm, cid)["Status"] == "Pending"
    assert not marker.exists()

    agent.start()
    inv = wait_invocation(ssm, cid, iid, timeout=30)
    assert inv["Status"] == "Success", inv
    assert inv["StandardOutputContent"] == "late n2\n"
    assert lines(marker) == ["x"]
    assert wait_command(ssm, cid)["Status"] == "Success"


def test_sent_but_unacknowledged_invocation_is_delayed_then_runs_once(ssm, nodes, tmp_path):
    agent, iid = nodes["n2"], nodes.id("n2")
    marker = tmp_path / "ran"
    # A frozen agent keeps its connection open: the invocation is sent but never acknowledged.
    agent.signal(signal.SIGSTOP)
    try:
        cid = send(ssm, [f"echo x >> {marker}", "echo delayed"], ids=[iid], TimeoutSeconds=120)["CommandId"]
        delayed = wait_invocation(ssm, cid, iid, timeout=30, statuses={"Delayed"})
        assert delayed["StatusDetails"] == "Delayed"
        assert command(ssm, cid)["Status"] == "InProgress"
    finally:
        agent.signal(signal.SIGCONT)
    inv = wait_invocation(ssm, cid, iid, timeout=60)
    assert (inv["Status"], inv["StandardOutputContent"]) == ("Success", "delayed\n"), inv
    assert lines(marker) == ["x"]


@pytest.mark.slow
def test_delivery_timeout_when_the_node_never_comes_back(server, ssm, agent_factory, tmp_path):
    act_id, code = create_activation(ssm, name="ghost", tags={"purpose": "ghost"})
    ghost = agent_factory("ghost", env={"E2E_NODE": "ghost"})
    ghost.register(server.url, act_id, code)
    iid = ghost.instance_id
    ghost.start()
    wait_ping(ssm, iid, "Online", timeout=15)
    ghost.stop()
    wait_ping(ssm, iid, "ConnectionLost", timeout=10)

    marker = tmp_path / "ran"
    t = time.monotonic()
    cid = send(ssm, f"echo x >> {marker}", ids=[iid], TimeoutSeconds=30)["CommandId"]
    time.sleep(25)
    assert invocation(ssm, cid, iid)["Status"] == "Pending"
    inv = wait_invocation(ssm, cid, iid, timeout=25)
    took = time.monotonic() - t
    assert (inv["Status"], inv["StatusDetails"]) == ("TimedOut", "DeliveryTimedOut"), inv
    assert 29 <= took <= 40, f"delivery timed out after {took:.1f}s (TimeoutSeconds=30)"
    c = wait_command(ssm, cid, timeout=10)
    assert c["Status"] == "TimedOut"
    assert (c["CompletedCount"], c["DeliveryTimedOutCount"]) == (1, 1)
    # SSM: ErrorCount is "the number of targets for which the status is Failed or
    # Execution Timed Out"; delivery timeouts are counted apart and not against MaxErrors.
    assert c["ErrorCount"] == 0, c

    # Coming back afterwards, the node does not run the expired command.
    ghost.start()
    wait_ping(ssm, iid, "Online", timeout=20)
    time.sleep(2)
    assert not marker.exists(), "an expired command ran when its node came back"
    assert invocation(ssm, cid, iid)["StatusDetails"] == "DeliveryTimedOut"


def test_deregistered_node_is_undeliverable(server, ssm, agent_factory, tmp_path):
    act_id, code = create_activation(ssm, name="leaver", tags={"purpose": "leaver"})
    leaver = agent_factory("leaver", env={"E2E_NODE": "leaver"})
    leaver.register(server.url, act_id, code)
    iid = leaver.instance_id
    # Never started: the node is registered but offline, so the command waits.
    cid = send(ssm, "echo never", ids=[iid], TimeoutSeconds=300)["CommandId"]
    time.sleep(2)
    assert invocation(ssm, cid, iid)["Status"] == "Pending"
    ssm.deregister_managed_instance(InstanceId=iid)
    inv = wait_invocation(ssm, cid, iid, timeout=15)
    assert (inv["Status"], inv["StatusDetails"]) == ("Failed", "Undeliverable"), inv
    c = wait_command(ssm, cid, timeout=10)
    assert (c["Status"], c["ErrorCount"]) == ("Failed", 1), c


# --------------------------------------------------------------------------- #
# crashes
# --------------------------------------------------------------------------- #


def test_agent_killed_during_a_command(ssm, nodes, tmp_path):
    agent, iid = nodes["n0"], nodes.id("n0")
    marker = tmp_path / "runs"
    duration = unique_sleep(60)  # far longer than the test: only reaping ends it
    pattern = f"sleep {duration}"
    try:
        cid = send(ssm, [f"echo run >> {marker}", f"sleep {duration}", f"echo end >> {marker}"],
                   ids=[iid])["CommandId"]
        wait_until(lambda: "run" in lines(marker), 15, "the script to start")
        agent.kill9()
        wait_ping(ssm, iid, "ConnectionLost", timeout=10)
        assert invocation(ssm, cid, iid)["Status"] == "InProgress"

        assert pgrep(pattern), "the script outlives the killed agent"
        agent.start()
        # The new agent ends what the old one left running.
        wait_until(lambda: not pgrep(pattern), 15, "the orphaned script to be ended")
        inv = wait_invocation(ssm, cid, iid, timeout=30)
        assert inv["Status"] == "Failed", inv
        assert wait_command(ssm, cid, timeout=10)["Status"] == "Failed"
        # Give a second run every chance to show up.
        wait_until(lambda: not pgrep(pattern), 15, "the script to end")
        time.sleep(2)
        assert lines(marker).count("run") == 1, lines(marker)
        assert invocation(ssm, cid, iid)["Status"] == "Failed"
    finally:
        kill_matching(pattern)


@pytest.mark.parametrize(
    "max_concurrency,down",
    [("50", 0.5), ("1", 0.5), ("50", 4.0)],
    ids=["all-running-quick-restart", "one-at-a-time-quick-restart", "all-running-slow-restart"],
)
def test_server_killed_during_a_fan_out(server, ssm, nodes, tmp_path, max_concurrency, down):
    """kill -9 of the server while scripts run (sleep 2); it comes back on the same data dir
    before they end (down 0.5 s) or after (down 4 s). The agents reconnect by themselves."""
    script = [
        f'echo "$E2E_NODE" >> {tmp_path}/"$E2E_NODE".runs',
        "sleep 2",
        'echo "done $E2E_NODE"',
    ]
    cid = send(ssm, script, ids=nodes.ids, MaxConcurrency=max_concurrency)["CommandId"]
    started = 3 if max_concurrency == "50" else 1
    wait_until(lambda: len(list(tmp_path.glob("*.runs"))) >= started, 15, f"{started} script(s) to start")
    server.kill9()
    time.sleep(down)
    server.start()
    ssm = server.ssm()

    c = wait_command(ssm, cid, timeout=60)
    invs = invocations(ssm, cid)
    assert {i: v["Status"] for i, v in invs.items()} == {i: "Success" for i in nodes.ids}
    assert c["Status"] == "Success"
    assert (c["CompletedCount"], c["ErrorCount"]) == (3, 0)
    for name in ("n0", "n1", "n2"):
        assert invocation(ssm, cid, nodes.id(name))["StandardOutputContent"] == f"done {name}\n"
    time.sleep(1)
    runs = {p.name: lines(p) for p in tmp_path.glob("*.runs")}
    assert runs == {f"{n}.runs": [n] for n in ("n0", "n1", "n2")}, runs
    # The agents came back by themselves.
    wait_ping(ssm, nodes.ids, "Online", timeout=60)


# --------------------------------------------------------------------------- #
# parameters and request errors
# --------------------------------------------------------------------------- #


def test_ssm_parameter_references_are_resolved(ssm, nodes, fresh):
    n1 = nodes.id("n1")
    name = fresh("greeting")
    value = "from-parameter-store-" + secrets.token_hex(3)
    ssm.put_parameter(Name=name, Value=value, Type="String")
    cid = send(ssm, f"echo {{{{ssm:{name}}}}}", ids=[n1])["CommandId"]
    wait_command(ssm, cid)
    inv = invocation(ssm, cid, n1)
    assert inv["Status"] == "Success"
    assert inv["StandardOutputContent"] == f"{value}\n"

    secret = fresh("secret")
    ssm.put_parameter(Name=secret, Value="s3cret-value", Type="SecureString")
    with raises_aws("InvalidParameters") as err:
        send(ssm, f"echo {{{{ssm:{secret}}}}}", ids=[n1])
    assert "s3cret-value" not in str(err.value)
    with raises_aws("InvalidParameters"):
        send(ssm, f"echo {{{{ssm:{fresh('missing')}}}}}", ids=[n1])


def test_send_command_request_errors(server, ssm, nodes):
    n0 = nodes.id("n0")
    before = len(collect(ssm.list_commands, "Commands"))

    with raises_aws("InvalidDocument"):
        ssm.send_command(DocumentName="E2E-No-Such-Document", InstanceIds=[n0])
    with raises_aws("InvalidDocument"):
        ssm.send_command(DocumentName="AWS-StartInteractiveCommand", InstanceIds=[n0],
                         Parameters={"command": ["true"]})
    with raises_aws("InvalidParameters"):
        ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[n0])
    with raises_aws("InvalidParameters"):
        ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[n0], Parameters={"commands": []})
    with raises_aws("InvalidParameters"):
        send(ssm, "true", ids=[n0], params={"bogus": ["x"]})
    with raises_aws("InvalidParameters"):
        send(ssm, "true", ids=[n0], params={"executionTimeout": ["0"]})
    with raises_aws("ValidationException"):
        send(ssm, "true", ids=[n0], targets=[("tag:env", ["prod"])])
    with raises_aws("InvalidInstanceId"):
        send(ssm, "true", ids=["mi-00000000000000000"])
    with raises_aws("InvalidInstanceId"):
        send(ssm, "true", ids=[n0, "mi-00000000000000001"])
    loose = server.ssm(validate=False)
    with raises_aws("ValidationException"):
        send(loose, "true", ids=[n0], TimeoutSeconds=10)
    with raises_aws("ValidationException"):
        send(loose, "true", ids=[n0], MaxConcurrency="lots")

    # None of these created a command.
    assert len(collect(ssm.list_commands, "Commands")) == before


def test_unknown_commands_and_invocations(ssm, nodes):
    n0, n1 = nodes.id("n0"), nodes.id("n1")
    with raises_aws("InvocationDoesNotExist"):
        ssm.get_command_invocation(CommandId=str(uuid.uuid4()), InstanceId=n0)
    cid = send(ssm, "true", ids=[n0])["CommandId"]
    with raises_aws("InvocationDoesNotExist"):
        ssm.get_command_invocation(CommandId=cid, InstanceId=n1)
    with raises_aws("InvocationDoesNotExist"):
        ssm.get_command_invocation(CommandId=cid, InstanceId="mi-00000000000000000")
    with raises_aws("InvalidCommandId"):
        ssm.list_commands(CommandId=str(uuid.uuid4()))
    with raises_aws("InvalidCommandId"):
        ssm.cancel_command(CommandId=str(uuid.uuid4()))
    wait_command(ssm, cid)


# --------------------------------------------------------------------------- #
# agent setup
# --------------------------------------------------------------------------- #


def test_agent_with_a_relative_state_dir_runs_commands(server, ssm, agent_factory):
    act_id, code = create_activation(ssm, name="relative", tags={"purpose": "relative"})
    agent = agent_factory("relative", env={"E2E_NODE": "relative"})
    agent.register(server.url, act_id, code, state_dir="state", cwd=agent.base)
    agent.start(state_dir="state", cwd=agent.base)
    try:
        wait_ping(ssm, agent.instance_id, "Online", timeout=15)
        cid = send(ssm, 'echo "ok $E2E_NODE"', ids=[agent.instance_id])["CommandId"]
        inv = wait_invocation(ssm, cid, agent.instance_id, timeout=20)
        assert inv["Status"] == "Success", inv["StandardErrorContent"]
        assert inv["StandardOutputContent"] == "ok relative\n"
    finally:
        agent.close()
