"""Automation end to end: runbooks (documents of type Automation) started with boto3 and the
aws CLI, run step by step by the server as whoever started them — branches on parameters,
sleeps, commands on a real agent, approvals by other IAM users, pauses, onFailure paths —
and an execution that survives its server being killed in the middle of a step.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from conftest import Fleet, raises_aws, start_fleet, wait_until
from test_iam import allow, as_user, make_user, policy, uid
from test_sessions import client_env

TAGS = {"a0": {"role": "automation"}}
FINAL = ("Success", "Failed", "TimedOut", "Cancelled")


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, TAGS)


@pytest.fixture(scope="module")
def ssm(server, fleet):
    return server.ssm()


def runbook(ssm, steps: list[dict], parameters: dict | None = None, outputs: list[str] | None = None, **extra) -> str:
    name = f"e2e-runbook-{uid()}"
    content = {"schemaVersion": "0.3", "description": "an e2e runbook", "mainSteps": steps, **extra}
    if parameters:
        content["parameters"] = parameters
    if outputs:
        content["outputs"] = outputs
    ssm.create_document(Name=name, DocumentType="Automation", Content=json.dumps(content))
    return name


def wait_final(ssm, execution_id: str, timeout: float = 60) -> dict:
    def done():
        e = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        return e if e["AutomationExecutionStatus"] in FINAL else None

    return wait_until(done, timeout, f"automation {execution_id} to end", interval=0.3)


def wait_status(ssm, execution_id: str, status: str, timeout: float = 30) -> dict:
    def there():
        e = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        return e if e["AutomationExecutionStatus"] == status else None

    return wait_until(there, timeout, f"automation {execution_id} to be {status}", interval=0.3)


def steps_of(execution: dict) -> list[tuple[str, str]]:
    return [(s["StepName"], s["StepStatus"]) for s in execution["StepExecutions"]]


def branching(ssm, node: str) -> str:
    return runbook(
        ssm,
        [
            {"name": "choose", "action": "aws:branch", "inputs": {
                "Choices": [{"NextStep": "onProd", "Variable": "{{ Env }}", "StringEquals": "prod"}],
                "Default": "onTest"}},
            {"name": "onProd", "action": "aws:runCommand", "nextStep": "done", "inputs": {
                "DocumentName": "AWS-RunShellScript", "InstanceIds": [node],
                "Parameters": {"commands": ["echo deploy-{{ Message }}-{{ automation:EXECUTION_ID }}"]}}},
            {"name": "onTest", "action": "aws:sleep", "nextStep": "done", "inputs": {"Duration": "PT1S"}},
            {"name": "done", "action": "aws:sleep", "isEnd": True, "inputs": {"Duration": "PT0S"}},
        ],
        parameters={
            "Env": {"type": "String", "allowedValues": ["prod", "test"]},
            "Message": {"type": "String", "default": "hello"},
        },
        outputs=["onProd.Output", "onProd.CommandId"],
    )


def test_a_runbook_branches_on_a_parameter_and_runs_a_command(ssm, fleet):
    node = fleet.id("a0")
    name = branching(ssm, node)
    prod = ssm.start_automation_execution(DocumentName=name, Parameters={"Env": ["prod"]})["AutomationExecutionId"]
    e = wait_final(ssm, prod)
    assert e["AutomationExecutionStatus"] == "Success", e
    assert steps_of(e) == [("choose", "Success"), ("onProd", "Success"), ("done", "Success")]
    assert e["Outputs"]["onProd.Output"] == [f"deploy-hello-{prod}\n"], e["Outputs"]
    command_id = e["Outputs"]["onProd.CommandId"][0]
    # The command is a real Run Command command, on the node named.
    inv = ssm.get_command_invocation(CommandId=command_id, InstanceId=node)
    assert inv["Status"] == "Success" and inv["StandardOutputContent"] == f"deploy-hello-{prod}\n"
    assert e["Parameters"] == {"Env": ["prod"], "Message": ["hello"]}
    assert e["ExecutedBy"].endswith(":root") or e["ExecutedBy"].startswith("arn:aws:")

    token = "11111111-2222-3333-4444-" + uid()[:12].rjust(12, "0")
    test = ssm.start_automation_execution(DocumentName=name, Parameters={"Env": ["test"], "Message": ["x"]},
                                          ClientToken=token)
    again = ssm.start_automation_execution(DocumentName=name, Parameters={"Env": ["test"], "Message": ["x"]},
                                           ClientToken=token)
    assert again["AutomationExecutionId"] == test["AutomationExecutionId"]
    with raises_aws("IdempotentParameterMismatch"):
        ssm.start_automation_execution(DocumentName=name, Parameters={"Env": ["prod"]}, ClientToken=token)
    e = wait_final(ssm, test["AutomationExecutionId"])
    assert steps_of(e) == [("choose", "Success"), ("onTest", "Success"), ("done", "Success")]
    branch = e["StepExecutions"][0]
    assert branch["NextStep"] == "onTest" and sorted(branch["ValidNextSteps"]) == ["onProd", "onTest"]

    listed = ssm.describe_automation_executions(Filters=[{"Key": "DocumentNamePrefix", "Values": [name]}])
    assert {m["AutomationExecutionId"] for m in listed["AutomationExecutionMetadataList"]} == {
        prod, test["AutomationExecutionId"]}
    steps = ssm.describe_automation_step_executions(
        AutomationExecutionId=prod, Filters=[{"Key": "StepName", "Values": ["onProd"]}])["StepExecutions"]
    assert [s["Action"] for s in steps] == ["aws:runCommand"]
    assert json.loads(steps[0]["Inputs"]["InstanceIds"]) == [node]


def test_the_aws_cli_starts_and_reads_an_execution(server, ssm, fleet):
    name = branching(ssm, fleet.id("a0"))
    run = lambda *args: json.loads(subprocess.run(  # noqa: E731
        ["aws", "ssm", *args, "--endpoint-url", server.url, "--output", "json"],
        env=client_env(server), capture_output=True, text=True, check=True, timeout=60).stdout)
    started = run("start-automation-execution", "--document-name", name, "--parameters", "Env=test")
    e = wait_final(ssm, started["AutomationExecutionId"])
    assert e["AutomationExecutionStatus"] == "Success"
    got = run("get-automation-execution", "--automation-execution-id", started["AutomationExecutionId"])
    assert got["AutomationExecution"]["DocumentName"] == name


def approving(ssm, approver_arn: str) -> str:
    return runbook(ssm, [
        {"name": "approve", "action": "aws:approve", "inputs": {
            "Approvers": [approver_arn], "MinRequiredApprovals": 1, "Message": "Deploy?"}},
        {"name": "after", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
    ])


def test_an_approval_by_a_second_user_and_not_by_a_third(server, ssm):
    signal_policy = policy(allow(["ssm:SendAutomationSignal", "ssm:GetAutomationExecution"], ["*"]))
    ak, sk, approver_arn = make_user(server, f"approver-{uid()}", signal_policy)
    ak3, sk3, _ = make_user(server, f"bystander-{uid()}", signal_policy)
    approver, bystander = as_user(server, "ssm", ak, sk), as_user(server, "ssm", ak3, sk3)
    name = approving(ssm, approver_arn)

    eid = ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]
    e = wait_status(ssm, eid, "Waiting")
    assert e["CurrentStepName"] == "approve" and e["CurrentAction"] == "aws:approve"
    with raises_aws("InvalidAutomationSignalException") as err:
        bystander.send_automation_signal(AutomationExecutionId=eid, SignalType="Approve")
    assert "not an approver" in str(err.value)
    with raises_aws("InvalidAutomationSignalException"):
        approver.send_automation_signal(AutomationExecutionId=eid, SignalType="Resume")
    approver.send_automation_signal(AutomationExecutionId=eid, SignalType="Approve", Payload={"Comment": ["ship it"]})
    e = wait_final(ssm, eid)
    assert e["AutomationExecutionStatus"] == "Success", e
    approve = e["StepExecutions"][0]
    assert approve["Outputs"]["ApprovalStatus"] == ["Approved"]
    decision = json.loads(approve["Outputs"]["ApproverDecisions"][0])
    assert decision["Approver"] == approver_arn and decision["Comment"] == "ship it"

    rejected = ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]
    wait_status(ssm, rejected, "Waiting")
    approver.send_automation_signal(AutomationExecutionId=rejected, SignalType="Reject")
    e = wait_final(ssm, rejected)
    assert e["AutomationExecutionStatus"] == "Failed"
    assert steps_of(e) == [("approve", "Failed")]
    with raises_aws("InvalidAutomationSignalException"):
        approver.send_automation_signal(AutomationExecutionId=rejected, SignalType="Approve")


def test_on_failure_paths_and_retries(ssm, fleet):
    node = fleet.id("a0")
    failing = {"DocumentName": "AWS-RunShellScript", "InstanceIds": [node], "Parameters": {"commands": ["exit 3"]}}
    name = runbook(ssm, [
        {"name": "breaks", "action": "aws:runCommand", "maxAttempts": 2, "isCritical": False,
         "onFailure": "step:recover", "inputs": failing},
        {"name": "skipped", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
        {"name": "recover", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
    ])
    e = wait_final(ssm, ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"])
    assert e["AutomationExecutionStatus"] == "Success", e
    assert steps_of(e) == [("breaks", "Failed"), ("recover", "Success")]
    assert e["StepExecutions"][0]["Outputs"]["Status"] == ["Failed"]
    # Two attempts: two commands ran on the node.
    commands = ssm.list_commands(InstanceId=node)["Commands"]
    assert sum(1 for c in commands if c["Parameters"].get("commands") == ["exit 3"]) >= 2

    critical = runbook(ssm, [
        {"name": "breaks", "action": "aws:runCommand", "onFailure": "Continue", "inputs": failing},
        {"name": "goesOn", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
    ])
    e = wait_final(ssm, ssm.start_automation_execution(DocumentName=critical)["AutomationExecutionId"])
    assert steps_of(e) == [("breaks", "Failed"), ("goesOn", "Success")]
    assert e["AutomationExecutionStatus"] == "Failed" and "breaks" in e["FailureMessage"]


PYTHON = """
import os

def handler(events, context):
    print("seen", events["text"].strip())
    return {"upper": events["text"].strip().upper(), "uid": os.getuid(),
            "secrets": sorted(k for k in os.environ if k.startswith("AWS") or k.startswith("STEWARD"))}
"""


def test_scripts_run_on_the_previous_steps_output(ssm, fleet):
    """aws:executeScript: Python on a command's output, as an unprivileged user with nothing
    of the server's environment; bash reading its payload; a failing and a runaway script."""
    node = fleet.id("a0")
    name = runbook(ssm, [
        {"name": "first", "action": "aws:runCommand", "inputs": {
            "DocumentName": "AWS-RunShellScript", "InstanceIds": [node], "Parameters": {"commands": ["echo hello"]}}},
        {"name": "shout", "action": "aws:executeScript", "inputs": {
            "Runtime": "python3.11", "Handler": "handler", "Script": PYTHON,
            "InputPayload": {"text": "{{ first.Output }}"}},
         "outputs": [{"Name": "Upper", "Selector": "$.Payload.upper", "Type": "String"},
                     {"Name": "Uid", "Selector": "$.Payload.uid", "Type": "Integer"},
                     {"Name": "Secrets", "Selector": "$.Payload.secrets", "Type": "StringList"}]},
        {"name": "count", "action": "aws:executeScript", "inputs": {
            "Runtime": "bash", "Script": "read -r p; echo \"{\\\"got\\\": $p}\"",
            "InputPayload": {"word": "{{ shout.Upper }}"}},
         "outputs": [{"Name": "Word", "Selector": "$.Payload.got.word", "Type": "String"}]},
    ], outputs=["shout.Upper", "count.Word"])
    e = wait_final(ssm, ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"])
    assert e["AutomationExecutionStatus"] == "Success", e
    assert e["Outputs"] == {"shout.Upper": ["HELLO"], "count.Word": ["HELLO"]}
    shout = e["StepExecutions"][1]["Outputs"]
    assert shout["Uid"] == ["65534"], shout  # nobody, not the server's user
    assert shout.get("Secrets", []) == [], shout  # nothing of the server's environment
    assert "seen hello" in shout["ExecutionLog"][0]

    failing = runbook(ssm, [{"name": "boom", "action": "aws:executeScript", "inputs": {
        "Runtime": "python3.11", "Handler": "h", "Script": "def h(e, c):\n    raise ValueError('no good')\n"}}])
    e = wait_final(ssm, ssm.start_automation_execution(DocumentName=failing)["AutomationExecutionId"])
    assert e["AutomationExecutionStatus"] == "Failed" and "no good" in e["StepExecutions"][0]["FailureMessage"]
    runaway = runbook(ssm, [{"name": "spin", "action": "aws:executeScript", "timeoutSeconds": 2, "inputs": {
        "Runtime": "bash", "Script": "sleep 30"}}])
    e = wait_final(ssm, ssm.start_automation_execution(DocumentName=runaway)["AutomationExecutionId"])
    assert e["AutomationExecutionStatus"] in ("Failed", "TimedOut"), e
    assert e["StepExecutions"][0]["StepStatus"] in ("Failed", "TimedOut")


def test_parameter_store_values_in_steps(ssm):
    """{{ ssm:NAME }} in a step's inputs reads Parameter Store as the execution's principal."""
    name = f"/e2e/automation/{uid()}"
    ssm.put_parameter(Name=name, Value="from-the-store", Type="String")
    book = runbook(ssm, [{"name": "echo", "action": "aws:executeScript", "inputs": {
        "Runtime": "bash", "Script": "cat", "InputPayload": {"v": "{{ ssm:%s }}" % name}},
        "outputs": [{"Name": "V", "Selector": "$.Payload.v", "Type": "String"}]}], outputs=["echo.V"])
    e = wait_final(ssm, ssm.start_automation_execution(DocumentName=book)["AutomationExecutionId"])
    assert e["Outputs"] == {"echo.V": ["from-the-store"]}, e
    missing = runbook(ssm, [{"name": "echo", "action": "aws:sleep", "inputs": {"Duration": "{{ ssm:/e2e/none }}"}}])
    e = wait_final(ssm, ssm.start_automation_execution(DocumentName=missing)["AutomationExecutionId"])
    assert e["AutomationExecutionStatus"] == "Failed" and "does not exist" in e["StepExecutions"][0]["FailureMessage"]


def test_pause_resume_and_cancel(ssm):
    name = runbook(ssm, [
        {"name": "hold", "action": "aws:pause", "inputs": {}},
        {"name": "rest", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
    ])
    eid = ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]
    wait_status(ssm, eid, "Waiting")
    ssm.send_automation_signal(AutomationExecutionId=eid, SignalType="Resume")
    assert steps_of(wait_final(ssm, eid)) == [("hold", "Success"), ("rest", "Success")]

    cancelled = ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]
    wait_status(ssm, cancelled, "Waiting")
    ssm.stop_automation_execution(AutomationExecutionId=cancelled, Type="Cancel")
    e = wait_final(ssm, cancelled)
    assert e["AutomationExecutionStatus"] == "Cancelled" and steps_of(e) == [("hold", "Cancelled")]
    with raises_aws("InvalidAutomationStatusUpdateException"):
        ssm.stop_automation_execution(AutomationExecutionId=cancelled)


def test_bad_input(ssm, fleet):
    name = branching(ssm, fleet.id("a0"))
    with raises_aws("AutomationDefinitionNotFoundException"):
        ssm.start_automation_execution(DocumentName="no-such-runbook")
    with raises_aws("AutomationDefinitionNotFoundException"):
        ssm.start_automation_execution(DocumentName="AWS-RunShellScript")  # a Command document
    with raises_aws("AutomationDefinitionVersionNotFoundException"):
        ssm.start_automation_execution(DocumentName=name, DocumentVersion="9", Parameters={"Env": ["prod"]})
    with raises_aws("InvalidAutomationExecutionParametersException"):
        ssm.start_automation_execution(DocumentName=name)  # Env is required
    for bad in ({"Env": ["staging"]}, {"Env": ["prod"], "Colour": ["blue"]}):
        with raises_aws("InvalidAutomationExecutionParametersException"):
            ssm.start_automation_execution(DocumentName=name, Parameters=bad)
    launching = runbook(ssm, [{"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": "ami-1"}}])
    with raises_aws("InvalidAutomationExecutionParametersException") as err:
        ssm.start_automation_execution(DocumentName=launching)
    assert "aws:runInstances" in str(err.value)
    with raises_aws("ValidationException"):
        ssm.start_automation_execution(DocumentName=name, Parameters={"Env": ["prod"]}, Mode="Manual")
    with raises_aws("AutomationExecutionNotFoundException"):
        ssm.get_automation_execution(AutomationExecutionId="00000000-0000-0000-0000-000000000000")
    with raises_aws("AutomationExecutionNotFoundException"):
        ssm.send_automation_signal(AutomationExecutionId="00000000-0000-0000-0000-000000000000", SignalType="Resume")
    with raises_aws("InvalidFilterValue"):
        ssm.describe_automation_executions(Filters=[{"Key": "StartTimeAfter", "Values": ["yesterday"]}])
    with raises_aws("InvalidNextToken"):
        ssm.describe_automation_executions(NextToken="not-a-token")
    # Runbooks are checked when they are created.
    for steps, words in [
        ([{"name": "a", "action": "aws:sleep", "nextStep": "nowhere", "inputs": {"Duration": "PT1S"}}], "nowhere"),
        ([{"name": "a", "action": "aws:teleport", "inputs": {}}], "aws:teleport"),
        ([{"name": "a", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}},
          {"name": "b", "action": "aws:sleep", "nextStep": "a", "inputs": {"Duration": "PT1S"}}], "loop for ever"),
        ([{"name": "a", "action": "aws:branch", "inputs": {
            "Choices": [{"NextStep": "ghost", "Variable": "x", "StringEquals": "y"}]}}], "ghost"),
        ([{"name": "a", "action": "aws:executeScript", "inputs": {"Runtime": "bash", "Script": "true"},
           "outputs": [{"Name": "n", "Selector": "$.Payload", "Type": "Float"}]}], "Float"),
    ]:
        with raises_aws("InvalidDocumentContent") as err:
            runbook(ssm, steps)
        assert words in str(err.value)


def test_a_limited_user_and_work_done_as_them(server, ssm, fleet):
    name = branching(ssm, fleet.id("a0"))
    ak, sk, _ = make_user(server, f"auto-reader-{uid()}", policy(allow(["ssm:GetAutomationExecution"], ["*"])))
    reader = as_user(server, "ssm", ak, sk)
    with raises_aws("AccessDeniedException"):
        reader.start_automation_execution(DocumentName=name, Parameters={"Env": ["prod"]})
    # Allowed to start runbooks but not to send commands: the command step fails as them.
    ak2, sk2, _ = make_user(server, f"auto-starter-{uid()}", policy(
        allow(["ssm:StartAutomationExecution", "ssm:GetAutomationExecution"], ["*"])))
    starter = as_user(server, "ssm", ak2, sk2)
    eid = starter.start_automation_execution(DocumentName=name, Parameters={"Env": ["prod"]})["AutomationExecutionId"]
    e = wait_final(ssm, eid)
    assert e["AutomationExecutionStatus"] == "Failed"
    failed = e["StepExecutions"][1]
    assert failed["StepName"] == "onProd" and "AccessDenied" in failed["FailureMessage"], failed


def test_an_execution_survives_its_server_killed_mid_sleep(server, ssm, fleet):
    """kill -9 during aws:sleep: after the restart the execution goes on from its record —
    the command step that ran before is not run again, the sleep ends at its time."""
    node = fleet.id("a0")
    name = runbook(ssm, [
        {"name": "first", "action": "aws:runCommand", "inputs": {
            "DocumentName": "AWS-RunShellScript", "InstanceIds": [node],
            "Parameters": {"commands": ["echo once-{{ automation:EXECUTION_ID }}"]}}},
        {"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "PT4S"}},
        {"name": "last", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
    ])
    eid = ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]

    def napping():
        e = ssm.get_automation_execution(AutomationExecutionId=eid)["AutomationExecution"]
        return e if e.get("CurrentStepName") == "nap" else None

    wait_until(napping, 60, "the execution to reach its sleep", interval=0.2)
    server.kill9()
    server.start()
    ssm = server.ssm()
    e = wait_final(ssm, eid, timeout=90)
    assert e["AutomationExecutionStatus"] == "Success", e
    assert steps_of(e) == [("first", "Success"), ("nap", "Success"), ("last", "Success")]
    ran = [c for c in ssm.list_commands(InstanceId=node)["Commands"]
           if c["Parameters"].get("commands") == [f"echo once-{eid}"]]
    assert len(ran) == 1
    nap = e["StepExecutions"][1]
    assert (nap["ExecutionEndTime"] - nap["ExecutionStartTime"]).total_seconds() >= 3.9


def test_an_execution_survives_its_server_killed_during_a_command(server, ssm, fleet):
    """kill -9 while an aws:runCommand step's command runs on the node: after the restart the
    step follows the command it sent (never sends it again) and the execution ends once."""
    node = fleet.id("a0")
    name = runbook(ssm, [
        {"name": "slow", "action": "aws:runCommand", "inputs": {
            "DocumentName": "AWS-RunShellScript", "InstanceIds": [node],
            "Parameters": {"commands": ["sleep 3", "echo ran-{{ automation:EXECUTION_ID }}"]}}},
        {"name": "after", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
    ], outputs=["slow.Output"])
    eid = ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]

    def sent():
        e = ssm.get_automation_execution(AutomationExecutionId=eid)["AutomationExecution"]
        steps = e["StepExecutions"]
        return e if steps and steps[0]["StepStatus"] == "InProgress" and e.get("CurrentStepName") == "slow" else None

    wait_until(sent, 30, "the command step to be running", interval=0.1)
    time.sleep(0.5)  # the command reaches the node
    server.kill9()
    server.start()
    ssm = server.ssm()
    e = wait_final(ssm, eid, timeout=90)
    assert e["AutomationExecutionStatus"] == "Success", e
    assert steps_of(e) == [("slow", "Success"), ("after", "Success")]
    assert e["Outputs"]["slow.Output"] == [f"ran-{eid}\n"], e["Outputs"]
    ran = [c for c in ssm.list_commands(InstanceId=node)["Commands"]
           if c["Parameters"].get("commands", [""])[-1] == f"echo ran-{eid}"]
    assert len(ran) == 1, ran


def test_executions_beyond_the_running_limit_wait_their_turn(ssm):
    """As SSM: 100 executions run at once per account and region; more are queued as
    Pending and start, oldest first, as running ones end. A queued one cancelled ends at once."""
    name = runbook(ssm, [{"name": "hold", "action": "aws:pause", "inputs": {}}])
    running = [ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"] for _ in range(100)]
    queued = [ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"] for _ in range(2)]
    try:
        wait_status(ssm, running[-1], "Waiting")
        time.sleep(1.5)  # scheduler passes: nothing is admitted while 100 run
        for q in queued:
            e = ssm.get_automation_execution(AutomationExecutionId=q)["AutomationExecution"]
            assert e["AutomationExecutionStatus"] == "Pending" and e["StepExecutions"] == [], e
        ssm.stop_automation_execution(AutomationExecutionId=queued[1])
        assert wait_final(ssm, queued[1])["AutomationExecutionStatus"] == "Cancelled"
        ssm.stop_automation_execution(AutomationExecutionId=running[0])
        wait_final(ssm, running[0])
        wait_status(ssm, queued[0], "Waiting")
    finally:
        for eid in running + queued:
            try:
                ssm.stop_automation_execution(AutomationExecutionId=eid)
            except ssm.exceptions.InvalidAutomationStatusUpdateException:
                pass


def api_step(name: str, service: str, api: str, outputs: list[tuple[str, str, str]] = (), action: str = "aws:executeAwsApi",
             **inputs) -> dict:
    step = {"name": name, "action": action, "inputs": {"Service": service, "Api": api, **inputs}}
    if outputs:
        step["outputs"] = [{"Name": n, "Selector": s, "Type": t} for n, s, t in outputs]
    return step


def test_steps_call_the_api_as_the_execution_principal(server, ssm, fleet):
    """aws:executeAwsApi on ssm, sts and iam, aws:waitForAwsResourceProperty on a node's ping
    status and aws:assertAwsResourceProperty: each a real call as the execution's principal,
    audited as made by the service for it."""
    node = fleet.id("a0")
    param = f"/e2e/automation/api/{uid()}"
    book = runbook(ssm, [
        api_step("put", "ssm", "PutParameter", [("Version", "$.Version", "Integer")],
                 Name=param, Value="v-{{ automation:EXECUTION_ID }}", Type="String", Overwrite=True),
        api_step("get", "ssm", "get_parameter", [("Value", "$.Parameter.Value", "String")], Name=param),
        api_step("online", "ssm", "DescribeInstanceInformation", action="aws:waitForAwsResourceProperty",
                 Filters=[{"Key": "InstanceIds", "Values": [node]}],
                 PropertySelector="$.InstanceInformationList[*].PingStatus", DesiredValues=["Online"]),
        api_step("isString", "ssm", "GetParameter", action="aws:assertAwsResourceProperty", Name=param,
                 PropertySelector="$.Parameter.Type", DesiredValues=["String"]),
        api_step("whoami", "sts", "GetCallerIdentity", [("Arn", "$.Arn", "String")]),
        api_step("users", "iam", "ListUsers", [("Names", "$.Users[*].UserName", "StringList")]),
        api_step("keys", "kms", "ListKeys"),
    ], outputs=["put.Version", "get.Value", "whoami.Arn", "users.Names"])
    eid = ssm.start_automation_execution(DocumentName=book)["AutomationExecutionId"]
    e = wait_final(ssm, eid)
    assert e["AutomationExecutionStatus"] == "Success", e
    assert e["Outputs"]["put.Version"] == ["1"] and e["Outputs"]["get.Value"] == [f"v-{eid}"], e["Outputs"]
    assert e["Outputs"]["whoami.Arn"] == [e["ExecutedBy"]], e
    assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == f"v-{eid}"

    # The call is in the audit trail as the starter's, made by the service.
    trail = server.client("cloudtrail")

    def audited():
        for ev in trail.lookup_events(LookupAttributes=[
                {"AttributeKey": "EventName", "AttributeValue": "PutParameter"}])["Events"]:
            body = json.loads(ev["CloudTrailEvent"])
            if (body.get("requestParameters") or {}).get("Name") == param:
                return body
        return None

    event = wait_until(audited, 20, "the runbook's PutParameter in the audit trail")
    assert event["sourceIPAddress"] == "ssm.amazonaws.com" and event["userIdentity"]["arn"] == e["ExecutedBy"], event

    # A property that does not hold: the assertion fails, the wait times out.
    failing = runbook(ssm, [api_step("isSecure", "ssm", "GetParameter", action="aws:assertAwsResourceProperty",
                                     Name=param, PropertySelector="$.Parameter.Type",
                                     DesiredValues=["SecureString"])])
    e = wait_final(ssm, ssm.start_automation_execution(DocumentName=failing)["AutomationExecutionId"])
    assert e["AutomationExecutionStatus"] == "Failed" and "SecureString" in e["StepExecutions"][0]["FailureMessage"]
    waiting = runbook(ssm, [{**api_step("offline", "ssm", "DescribeInstanceInformation",
                                        action="aws:waitForAwsResourceProperty",
                                        Filters=[{"Key": "InstanceIds", "Values": [node]}],
                                        PropertySelector="$.InstanceInformationList[0].PingStatus",
                                        DesiredValues=["ConnectionLost"]), "timeoutSeconds": 3}])
    e = wait_final(ssm, ssm.start_automation_execution(DocumentName=waiting)["AutomationExecutionId"])
    assert e["AutomationExecutionStatus"] == "TimedOut", e
    assert e["StepExecutions"][0]["StepStatus"] == "TimedOut"


def test_api_steps_refuse_what_the_principal_may_not_do_and_bad_calls(server, ssm):
    param = f"/e2e/automation/denied/{uid()}"
    book = runbook(ssm, [api_step("put", "ssm", "PutParameter", Name=param, Value="x", Type="String")])
    ak, sk, _ = make_user(server, f"auto-api-{uid()}", policy(
        allow(["ssm:StartAutomationExecution", "ssm:GetAutomationExecution"], ["*"])))
    limited = as_user(server, "ssm", ak, sk)
    e = wait_final(ssm, limited.start_automation_execution(DocumentName=book)["AutomationExecutionId"])
    assert e["AutomationExecutionStatus"] == "Failed", e
    assert "AccessDenied" in e["StepExecutions"][0]["FailureMessage"], e
    with raises_aws("ParameterNotFound"):
        ssm.get_parameter(Name=param)
    # Made as root, the same call passes IAM but not the model's checks.
    for step, words in [
        (api_step("x", "ec2", "DescribeInstances"), "ec2"),
        (api_step("x", "ssm", "Teleport"), "Teleport"),
        (api_step("x", "ssm", "PutParameter", Name=param, Type="NotAType", Value="x"), "ValidationException"),
        (api_step("x", "ssm", "GetParameter", [("V", "$.Parameter.Nothing", "String")], Name="/e2e/none"),
         "ParameterNotFound"),
        (api_step("x", "ssm", "DeleteParameter", action="aws:waitForAwsResourceProperty", Name=param,
                  PropertySelector="$.X", DesiredValues=["y"]), "changes something"),
    ]:
        e = wait_final(ssm, ssm.start_automation_execution(DocumentName=runbook(ssm, [step]))["AutomationExecutionId"])
        assert e["AutomationExecutionStatus"] == "Failed", e
        assert words in e["StepExecutions"][0]["FailureMessage"], (words, e["StepExecutions"][0])


def children_of(ssm, parent: str) -> list[dict]:
    listed = ssm.describe_automation_executions(Filters=[{"Key": "ParentExecutionId", "Values": [parent]}])
    return listed["AutomationExecutionMetadataList"]


def most_at_once(children: list[dict]) -> int:
    """The most children running at one moment, from their start and end times."""
    edges = sorted([(c["ExecutionStartTime"], 1) for c in children] + [(c["ExecutionEndTime"], -1) for c in children],
                   key=lambda e: (e[0], e[1]))
    now = peak = 0
    for _, d in edges:
        now += d
        peak = max(peak, now)
    return peak


def per_value(ssm) -> str:
    """Sleeps a second for a good value; fails for one starting with `bad`."""
    return runbook(ssm, [
        {"name": "check", "action": "aws:branch", "inputs": {
            "Choices": [{"NextStep": "fail", "Variable": "{{ Value }}", "StartsWith": "bad"}], "Default": "work"}},
        {"name": "work", "action": "aws:sleep", "isEnd": True, "inputs": {"Duration": "PT1S"}},
        {"name": "fail", "action": "aws:executeScript", "inputs": {"Runtime": "bash", "Script": "exit 3"}},
    ], parameters={"Value": {"type": "String"}, "Note": {"type": "String", "default": "n"}})


def test_rate_control_runs_one_child_per_target_a_few_at_a_time(ssm):
    name = per_value(ssm)
    values = ["a", "b", "c", "d", "e"]
    parent = ssm.start_automation_execution(
        DocumentName=name, TargetParameterName="Value", Parameters={"Note": ["shared"]},
        Targets=[{"Key": "ParameterValues", "Values": values}], MaxConcurrency="2")["AutomationExecutionId"]
    e = wait_final(ssm, parent, timeout=90)
    assert e["AutomationExecutionStatus"] == "Success", e
    assert e["ResolvedTargets"] == {"ParameterValues": values, "Truncated": False}
    assert e["TargetParameterName"] == "Value" and e["MaxConcurrency"] == "2" and e["MaxErrors"] == "0"
    assert [s["Action"] for s in e["StepExecutions"]] == ["aws:executeAutomation"] * 5
    assert {s["StepStatus"] for s in e["StepExecutions"]} == {"Success"}
    children = children_of(ssm, parent)
    assert sorted(c["Target"] for c in children) == values
    assert all(c["ParentAutomationExecutionId"] == parent for c in children)
    assert most_at_once(children) <= 2
    one = ssm.get_automation_execution(AutomationExecutionId=children[0]["AutomationExecutionId"])
    assert one["AutomationExecution"]["Parameters"] == {"Value": [children[0]["Target"]], "Note": ["shared"]}

    maps = ssm.start_automation_execution(DocumentName=name, TargetMaps=[{"Value": ["x"]}, {"Value": ["y"], "Note": ["m"]}])
    e = wait_final(ssm, maps["AutomationExecutionId"], timeout=60)
    assert e["AutomationExecutionStatus"] == "Success", e
    params = sorted(
        ssm.get_automation_execution(AutomationExecutionId=c["AutomationExecutionId"])["AutomationExecution"]["Parameters"]
        ["Value"][0] for c in children_of(ssm, maps["AutomationExecutionId"]))
    assert params == ["x", "y"]


def test_rate_control_stops_starting_children_past_max_errors(ssm):
    name = per_value(ssm)
    # Ten targets, one at a time, at most 20% (two) failures: the third failure stops new starts.
    values = ["ok1", "bad1", "ok2", "bad2", "bad3", "ok3", "ok4", "ok5", "ok6", "ok7"]
    parent = ssm.start_automation_execution(
        DocumentName=name, TargetParameterName="Value", MaxConcurrency="1", MaxErrors="20%",
        Targets=[{"Key": "ParameterValues", "Values": values}])["AutomationExecutionId"]
    e = wait_final(ssm, parent, timeout=90)
    assert e["AutomationExecutionStatus"] == "Failed", e
    assert "MaxErrors" in e["FailureMessage"] and "5 were not started" in e["FailureMessage"], e["FailureMessage"]
    children = children_of(ssm, parent)
    assert sorted(c["Target"] for c in children) == sorted(values[:5])
    statuses = {c["Target"]: c["AutomationExecutionStatus"] for c in children}
    assert [statuses[v] for v in values[:5]] == ["Success", "Failed", "Success", "Failed", "Failed"]


def test_rate_control_over_tagged_nodes_and_cancel(ssm, fleet):
    node = fleet.id("a0")
    name = runbook(ssm, [
        {"name": "hello", "action": "aws:runCommand", "inputs": {
            "DocumentName": "AWS-RunShellScript", "InstanceIds": ["{{ InstanceId }}"],
            "Parameters": {"commands": ["echo child-on-{{ InstanceId }}"]}}, "outputs": []},
    ], parameters={"InstanceId": {"type": "String"}})
    parent = ssm.start_automation_execution(DocumentName=name, TargetParameterName="InstanceId",
                                            Targets=[{"Key": "tag:role", "Values": ["automation"]}])
    e = wait_final(ssm, parent["AutomationExecutionId"], timeout=60)
    assert e["AutomationExecutionStatus"] == "Success", e
    assert e["ResolvedTargets"]["ParameterValues"] == [node]
    [child] = children_of(ssm, parent["AutomationExecutionId"])
    c = wait_final(ssm, child["AutomationExecutionId"])
    assert c["StepExecutions"][0]["Outputs"]["Output"] == [f"child-on-{node}\n"]

    holding = runbook(ssm, [{"name": "hold", "action": "aws:pause", "inputs": {}}],
                      parameters={"Value": {"type": "String"}})
    parent = ssm.start_automation_execution(DocumentName=holding, TargetParameterName="Value", MaxConcurrency="2",
                                            Targets=[{"Key": "ParameterValues", "Values": ["1", "2", "3"]}])
    pid = parent["AutomationExecutionId"]
    wait_until(lambda: len(children_of(ssm, pid)) == 2 and all(
        c["AutomationExecutionStatus"] == "Waiting" for c in children_of(ssm, pid)), 30, "two children waiting")
    ssm.stop_automation_execution(AutomationExecutionId=pid)
    e = wait_final(ssm, pid, timeout=30)
    assert e["AutomationExecutionStatus"] == "Cancelled", e
    assert {c["AutomationExecutionStatus"] for c in children_of(ssm, pid)} == {"Cancelled"}


def test_rate_control_bad_input(ssm):
    name = per_value(ssm)
    checked = runbook(ssm, [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}],
                      parameters={"Env": {"type": "String", "allowedValues": ["prod", "test"]}})
    values = [{"Key": "ParameterValues", "Values": ["a"]}]
    for kwargs, words in [
        ({"TargetParameterName": "Colour", "Targets": values}, "Colour"),
        ({"Targets": values}, "TargetParameterName"),
        ({"TargetParameterName": "Value"}, "Targets"),
        ({"TargetParameterName": "Value", "Targets": values, "TargetMaps": [{"Value": ["b"]}]}, "not both"),
        ({"TargetParameterName": "Value", "Targets": [{"Key": "ParameterValues", "Values": ["a"]},
                                                      {"Key": "tag:x", "Values": ["y"]}]}, "combined"),
        ({"TargetParameterName": "Value", "Targets": [{"Key": "Colour", "Values": ["y"]}]}, "Colour"),
    ]:
        with raises_aws("InvalidAutomationExecutionParametersException") as err:
            ssm.start_automation_execution(DocumentName=name, **kwargs)
        assert words in str(err.value), (kwargs, err.value)
    with raises_aws("InvalidAutomationExecutionParametersException") as err:
        ssm.start_automation_execution(DocumentName=checked, TargetParameterName="Env",
                                       Targets=[{"Key": "ParameterValues", "Values": ["prod", "staging"]}])
    assert "staging" in str(err.value)
    for bad in ({"MaxConcurrency": "0"}, {"MaxErrors": "-1"}, {"MaxConcurrency": "101%"}):
        with raises_aws("ValidationException"):
            ssm.start_automation_execution(DocumentName=name, TargetParameterName="Value", Targets=values, **bad)


def test_an_association_runs_a_runbook_over_its_targets(server, ssm, fleet):
    """A State Manager association of a runbook: each run is an automation execution, rate
    controlled over the association's targets (AutomationTargetParameterName), and the
    association takes its outcome."""
    node = fleet.id("a0")
    name = runbook(ssm, [{"name": "hello", "action": "aws:runCommand", "inputs": {
        "DocumentName": "AWS-RunShellScript", "InstanceIds": ["{{ InstanceId }}"],
        "Parameters": {"commands": ["echo assoc-{{ InstanceId }}"]}}}],
        parameters={"InstanceId": {"type": "String"}})
    assoc = ssm.create_association(Name=name, Targets=[{"Key": "tag:role", "Values": ["automation"]}],
                                   AutomationTargetParameterName="InstanceId", MaxConcurrency="1",
                                   MaxErrors="0")["AssociationDescription"]

    def settled():
        d = ssm.describe_association(AssociationId=assoc["AssociationId"])["AssociationDescription"]
        return d if d["Overview"]["Status"] in ("Success", "Failed") else None

    d = wait_until(settled, 60, "the association's run to end", interval=0.5)
    assert d["Overview"]["Status"] == "Success", d
    runs = ssm.describe_association_executions(AssociationId=assoc["AssociationId"])["AssociationExecutions"]
    assert len(runs) == 1 and runs[0]["Status"] == "Success", runs
    parents = ssm.describe_automation_executions(Filters=[{"Key": "DocumentNamePrefix", "Values": [name]}])
    parent = next(e for e in parents["AutomationExecutionMetadataList"] if "ParentAutomationExecutionId" not in e)
    assert parent["ResolvedTargets"]["ParameterValues"] == [node] and parent["TargetParameterName"] == "InstanceId"
    [child] = children_of(ssm, parent["AutomationExecutionId"])
    out = ssm.get_automation_execution(AutomationExecutionId=child["AutomationExecutionId"])["AutomationExecution"]
    assert out["StepExecutions"][0]["Outputs"]["Output"] == [f"assoc-{node}\n"]

    # Without AutomationTargetParameterName the runbook runs once per run, with the parameters.
    once = runbook(ssm, [{"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}],
                   parameters={"Note": {"type": "String"}})
    plain = ssm.create_association(Name=once, Parameters={"Note": ["hi"]})["AssociationDescription"]
    d = wait_until(lambda: (lambda x: x if x["Overview"]["Status"] in ("Success", "Failed") else None)(
        ssm.describe_association(AssociationId=plain["AssociationId"])["AssociationDescription"]), 60, "one run")
    assert d["Overview"]["Status"] == "Success", d

    # Checked when created: the parameter, the targets, the runbook's own parameters, IAM.
    with raises_aws("InvalidParameters"):
        ssm.create_association(Name=name, Targets=[{"Key": "tag:role", "Values": ["automation"]}],
                               AutomationTargetParameterName="Nope")
    with raises_aws("InvalidTarget"):
        ssm.create_association(Name=name, AutomationTargetParameterName="InstanceId")
    with raises_aws("InvalidParameters"):
        ssm.create_association(Name=once, Parameters={"Colour": ["blue"]})
    ak, sk, _ = make_user(server, f"assoc-runbook-{uid()}", policy(allow(["ssm:CreateAssociation"], ["*"])))
    with raises_aws("AccessDeniedException"):
        as_user(server, "ssm", ak, sk).create_association(Name=once, Parameters={"Note": ["x"]})
    for a in (assoc, plain):
        ssm.delete_association(AssociationId=a["AssociationId"])


def test_interactive_mode_runs_each_step_when_told(ssm):
    name = runbook(ssm, [
        {"name": "first", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
        {"name": "long", "action": "aws:sleep", "inputs": {"Duration": "PT60S"}},
        {"name": "last", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
    ])
    eid = ssm.start_automation_execution(DocumentName=name, Mode="Interactive")["AutomationExecutionId"]
    e = wait_status(ssm, eid, "Waiting")
    assert e["Mode"] == "Interactive" and e["StepExecutions"] == [], e
    time.sleep(1.5)  # nothing starts by itself
    assert ssm.get_automation_execution(AutomationExecutionId=eid)["AutomationExecution"]["StepExecutions"] == []

    def signal(kind: str, **payload):
        ssm.send_automation_signal(AutomationExecutionId=eid, SignalType=kind,
                                   Payload={k: [v] for k, v in payload.items()})

    signal("StartStep", StepName="long")  # any step, in any order
    e = wait_until(lambda: (lambda x: x if x["StepExecutions"] and x["StepExecutions"][-1]["StepStatus"] == "InProgress"
                            else None)(ssm.get_automation_execution(AutomationExecutionId=eid)["AutomationExecution"]),
                   20, "the long step to run")
    with raises_aws("InvalidAutomationSignalException"):
        signal("StartStep", StepName="first")  # one at a time
    signal("StopStep", StepExecutionId=e["StepExecutions"][-1]["StepExecutionId"])
    e = wait_status(ssm, eid, "Waiting")
    assert steps_of(e) == [("long", "Cancelled")]
    signal("StartStep", StepName="first")
    wait_until(lambda: steps_of(ssm.get_automation_execution(AutomationExecutionId=eid)["AutomationExecution"])
               == [("long", "Cancelled"), ("first", "Success")], 20, "the first step to run")
    signal("StartStep", StepName="last")
    e = wait_final(ssm, eid)
    assert e["AutomationExecutionStatus"] == "Success", e
    assert steps_of(e) == [("long", "Cancelled"), ("first", "Success"), ("last", "Success")]

    with raises_aws("InvalidAutomationSignalException"):
        signal("StartStep", StepName="first")  # it ended
    auto = ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]
    with raises_aws("InvalidAutomationSignalException"):
        ssm.send_automation_signal(AutomationExecutionId=auto, SignalType="StartStep",
                                   Payload={"StepName": ["first"]})
    ssm.stop_automation_execution(AutomationExecutionId=auto)
    again = ssm.start_automation_execution(DocumentName=name, Mode="Interactive")["AutomationExecutionId"]
    wait_status(ssm, again, "Waiting")
    for payload in ({"Payload": {"StepName": ["ghost"]}}, {}):
        with raises_aws("InvalidAutomationSignalException"):
            ssm.send_automation_signal(AutomationExecutionId=again, SignalType="StartStep", **payload)
    with raises_aws("InvalidAutomationSignalException"):
        ssm.send_automation_signal(AutomationExecutionId=again, SignalType="StopStep",
                                   Payload={"StepExecutionId": ["00000000-0000-0000-0000-000000000000"]})
    with raises_aws("ValidationException"):
        ssm.start_automation_execution(DocumentName=name, Mode="Interactive", TargetParameterName="X",
                                       Targets=[{"Key": "ParameterValues", "Values": ["a"]}])
    ssm.stop_automation_execution(AutomationExecutionId=again)


def test_a_step_runs_another_runbook_and_tags_resources(ssm, fleet):
    node = fleet.id("a0")
    inner = runbook(ssm, [{"name": "say", "action": "aws:executeScript", "inputs": {
        "Runtime": "python3.11", "Handler": "handler", "InputPayload": {"m": "{{ Msg }}"},
        "Script": "def handler(events, context):\n    return {'echo': events['m']}\n"},
        "outputs": [{"Name": "Echo", "Selector": "$.Payload.echo", "Type": "String"}]}],
        parameters={"Msg": {"type": "String"}}, outputs=["say.Echo"])
    outer = runbook(ssm, [
        {"name": "call", "action": "aws:executeAutomation", "inputs": {
            "DocumentName": inner, "RuntimeParameters": {"Msg": "hello-{{ automation:EXECUTION_ID }}"}}},
        {"name": "tag", "action": "aws:createTags", "inputs": {
            "ResourceType": "ManagedInstance", "ResourceIds": [node],
            "Tags": [{"Key": "touched-by", "Value": "{{ automation:EXECUTION_ID }}"}]}},
    ], outputs=["call.ExecutionId", "call.Output", "call.Status"])
    eid = ssm.start_automation_execution(DocumentName=outer)["AutomationExecutionId"]
    e = wait_final(ssm, eid)
    assert e["AutomationExecutionStatus"] == "Success", e
    child = e["Outputs"]["call.ExecutionId"][0]
    assert e["Outputs"]["call.Status"] == ["Success"]
    assert json.loads(e["Outputs"]["call.Output"][0]) == {"say.Echo": [f"hello-{eid}"]}
    inner_run = ssm.get_automation_execution(AutomationExecutionId=child)["AutomationExecution"]
    assert inner_run["DocumentName"] == inner and inner_run["AutomationExecutionStatus"] == "Success"
    tags = ssm.list_tags_for_resource(ResourceType="ManagedInstance", ResourceId=node)["TagList"]
    assert {"Key": "touched-by", "Value": eid} in tags

    # A runbook starting itself stops at the nesting limit instead of filling the account.
    name = f"e2e-runbook-self-{uid()}"
    ssm.create_document(Name=name, DocumentType="Automation", Content=json.dumps({
        "schemaVersion": "0.3", "mainSteps": [{"name": "again", "action": "aws:executeAutomation",
                                                "inputs": {"DocumentName": name}}]}))
    e = wait_final(ssm, ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"], timeout=90)
    assert e["AutomationExecutionStatus"] == "Failed", e
    runs = ssm.describe_automation_executions(Filters=[{"Key": "DocumentNamePrefix", "Values": [name]}])
    runs = runs["AutomationExecutionMetadataList"]
    assert len(runs) == 6, [r["AutomationExecutionStatus"] for r in runs]
    assert any("at most 5 deep" in (r.get("FailureMessage") or "") for r in runs)

    ec2 = runbook(ssm, [{"name": "tag", "action": "aws:createTags", "inputs": {
        "ResourceType": "EC2", "ResourceIds": ["i-0123"], "Tags": [{"Key": "a", "Value": "b"}]}}])
    e = wait_final(ssm, ssm.start_automation_execution(DocumentName=ec2)["AutomationExecutionId"])
    assert e["AutomationExecutionStatus"] == "Failed" and "EC2" in e["StepExecutions"][0]["FailureMessage"]
