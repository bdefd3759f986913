"""Automation loops, webhooks, previews and stops end to end: aws:loop over a list (a
command on a real agent per item) and while a script says so, with MaxIterations and
failures inside a pass; aws:invokeWebhook posting to a webhook integration kept as a
SecureString parameter — read as the execution's principal, sent through the outbound
rules, never to a metadata address; StartExecutionPreview/GetExecutionPreview counting a
runbook's steps and targets without running anything; stopping a step or an execution
stopping the command or script it had running; scripts run from zip files attached to the
runbook; an approval step telling its SNS topic; and change requests — a change template's
approvals, then its runbook, reported with SSM's change statuses.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import random
import threading
import time
import urllib.request
import zipfile

import pytest

from conftest import Fleet, pgrep, raises_aws, start_fleet, wait_until
from test_automation import runbook, steps_of, wait_final, wait_status
from test_distributor import FileServer
from test_events import read_body, serve_in_background
from test_iam import allow, as_user, make_user, policy, uid

INTEGRATIONS = "/d9d01087-4a3f-49e0-b0b4-d568d7826553/ssm/integrations/webhook/"


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, {"l0": {"role": "loops"}})


@pytest.fixture(scope="module")
def ssm(server, fleet):
    return server.ssm()


def start(ssm, name: str, **params) -> dict:
    parameters = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    extra = {"Parameters": parameters} if parameters else {}
    eid = ssm.start_automation_execution(DocumentName=name, **extra)["AutomationExecutionId"]
    return wait_final(ssm, eid, timeout=90)


def test_a_loop_runs_a_command_for_each_item(ssm, fleet):
    node = fleet.id("l0")
    name = runbook(ssm, [
        {"name": "each", "action": "aws:loop", "inputs": {
            "Iterators": "{{ Words }}",
            "Steps": [
                {"name": "say", "action": "aws:runCommand", "inputs": {
                    "DocumentName": "AWS-RunShellScript", "InstanceIds": [node],
                    "Parameters": {"commands": ["echo pass-{{ each.CurrentIteration }}-{{ each.CurrentIteratorValue }}"]}}},
                {"name": "upper", "action": "aws:executeScript", "inputs": {
                    "Runtime": "python3.11", "Handler": "h", "InputPayload": {"out": "{{ say.Output }}"},
                    "Script": "def h(e, c):\n    return {'u': e['out'].strip().upper()}\n"},
                 "outputs": [{"Name": "U", "Selector": "$.Payload.u", "Type": "String"}]},
            ]}},
        {"name": "after", "action": "aws:executeScript", "inputs": {
            "Runtime": "bash", "Script": "cat", "InputPayload": {"last": "{{ upper.U }}", "n": "{{ each.CurrentIteration }}"}},
         "outputs": [{"Name": "Last", "Selector": "$.Payload.last", "Type": "String"},
                     {"Name": "N", "Selector": "$.Payload.n", "Type": "String"}]},
    ], parameters={"Words": {"type": "StringList"}}, outputs=["after.Last", "after.N"])
    e = start(ssm, name, Words=["red", "green", "blue"])
    assert e["AutomationExecutionStatus"] == "Success", e
    assert steps_of(e) == [("each", "Success")] + [("say", "Success"), ("upper", "Success")] * 3 + [("after", "Success")]
    outputs = [s["Outputs"].get("U") for s in e["StepExecutions"] if s["StepName"] == "upper"]
    assert outputs == [["PASS-1-RED"], ["PASS-2-GREEN"], ["PASS-3-BLUE"]]
    assert e["Outputs"] == {"after.Last": ["PASS-3-BLUE"], "after.N": ["3"]}
    loop = e["StepExecutions"][0]
    assert loop["Action"] == "aws:loop" and loop["Outputs"]["CurrentIteration"] == ["3"], loop

    # Nothing to iterate over: the loop ends at once and the runbook goes on.
    e = start(ssm, name, Words=[])
    assert steps_of(e) == [("each", "Success"), ("after", "Success")], e


COUNTER = """
def h(events, context):
    n = int(events['n'])
    return {'again': n < 3, 'n': n}
"""


def test_a_loop_repeats_while_its_condition_holds(ssm):
    def until(max_iterations: int, always: bool = False) -> str:
        variable = "true" if always else "{{ count.Again }}"
        return runbook(ssm, [{"name": "repeat", "action": "aws:loop", "inputs": {
            "MaxIterations": max_iterations,
            "LoopCondition": {"Variable": variable, "BooleanEquals": True},
            "Steps": [{"name": "count", "action": "aws:executeScript", "inputs": {
                "Runtime": "python3.11", "Handler": "h", "Script": COUNTER,
                "InputPayload": {"n": "{{ repeat.CurrentIteration }}"}},
                "outputs": [{"Name": "Again", "Selector": "$.Payload.again", "Type": "Boolean"},
                            {"Name": "N", "Selector": "$.Payload.n", "Type": "Integer"}]}]}}],
            outputs=["count.N", "repeat.CurrentIteration"])

    e = start(ssm, until(10))
    assert e["AutomationExecutionStatus"] == "Success", e
    assert steps_of(e) == [("repeat", "Success")] + [("count", "Success")] * 3
    assert e["Outputs"] == {"count.N": ["3"], "repeat.CurrentIteration": ["3"]}
    # A condition that always holds stops at MaxIterations.
    e = start(ssm, until(2, always=True))
    assert steps_of(e) == [("repeat", "Success"), ("count", "Success"), ("count", "Success")], e


def test_failures_inside_a_loop(ssm):
    def failing(on_failure: str) -> str:
        return runbook(ssm, [
            {"name": "each", "action": "aws:loop", "inputs": {"Iterators": ["1", "0", "2"], "Steps": [
                {"name": "check", "action": "aws:executeScript", "onFailure": on_failure, "inputs": {
                    "Runtime": "bash", "Script": "exit $(( 1 - {{ each.CurrentIteratorValue }} > 0 ))"}},
                {"name": "noted", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}]}},
            {"name": "after", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}])

    e = start(ssm, failing("Abort"))
    assert e["AutomationExecutionStatus"] == "Failed", e
    assert steps_of(e) == [("each", "Failed"), ("check", "Success"), ("noted", "Success"), ("check", "Failed")], e
    e = start(ssm, failing("Continue"))
    assert e["AutomationExecutionStatus"] == "Failed", e  # a critical step failed on the way
    assert [s for s, _ in steps_of(e)] == ["each"] + ["check", "noted"] * 3 + ["after"], e
    assert steps_of(e)[0] == ("each", "Success")

    # Iterators that are not a list, as the runbook resolves them, fail the loop step.
    bad = runbook(ssm, [{"name": "each", "action": "aws:loop", "inputs": {"Iterators": "{{ gone.Output }}", "Steps": [
        {"name": "inner", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}]}}])
    e = start(ssm, bad)
    assert e["AutomationExecutionStatus"] == "Failed" and "not a list" in e["StepExecutions"][0]["FailureMessage"], e


def test_malformed_loops_are_refused_at_create_document(ssm):
    def doc(inputs: dict, extra: list | None = None) -> str:
        return json.dumps({"schemaVersion": "0.3", "mainSteps": [
            {"name": "each", "action": "aws:loop", "inputs": inputs}, *(extra or [])]})

    inner = [{"name": "inner", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}]
    cases = {
        "neither": doc({"Steps": inner}),
        "both": doc({"Iterators": ["a"], "LoopCondition": {"Variable": "x", "StringEquals": "y"}, "Steps": inner}),
        "no steps": doc({"Iterators": ["a"], "Steps": []}),
        "too many": doc({"Iterators": [str(i) for i in range(101)], "Steps": inner}),
        "max 0": doc({"Iterators": ["a"], "MaxIterations": 0, "Steps": inner}),
        "nested": doc({"Iterators": ["a"], "Steps": [{"name": "deeper", "action": "aws:loop", "inputs": {
            "Iterators": ["b"], "Steps": [{"name": "x", "action": "aws:sleep", "inputs": {}}]}}]}),
        "jumps out": doc({"Iterators": ["a"], "Steps": [dict(inner[0], nextStep="outside")]},
                         [{"name": "outside", "action": "aws:sleep", "inputs": {}}]),
        "name twice": doc({"Iterators": ["a"], "Steps": [dict(inner[0], name="each")]}),
        "unknown action": doc({"Iterators": ["a"], "Steps": [{"name": "x", "action": "aws:teleport", "inputs": {}}]}),
    }
    for why, content in cases.items():
        with raises_aws("InvalidDocumentContent"):
            ssm.create_document(Name=f"e2e-bad-loop-{uid()}", DocumentType="Automation", Content=content)
            pytest.fail(f"accepted a loop that is {why}")


class Hook:
    """A webhook on 127.0.0.1 that records each POST and answers with `status` and text."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = read_body(self)
                with hook._lock:
                    hook.posts.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    n = len(hook.posts)
                answer = json.dumps({"ok": hook.status < 300, "n": n}).encode()
                self.send_response(hook.status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.httpd = serve_in_background(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/steward"


def integration(ssm, url: str, **extra) -> str:
    name = f"e2e-hook-{uid()}"
    value = {"description": "an e2e webhook", "url": url, **extra}
    ssm.put_parameter(Name=INTEGRATIONS + name, Type="SecureString", DataType="aws:ssm:integration",
                      Value=json.dumps(value))
    return name


def notify(ssm, name: str, body: str | None = "run {{ automation:EXECUTION_ID }}") -> str:
    inputs = {"IntegrationName": name}
    if body is not None:
        inputs["Body"] = json.dumps({"text": body})
    return runbook(ssm, [{"name": "notify", "action": "aws:invokeWebhook", "inputs": inputs}],
                   outputs=["notify.Response", "notify.ResponseCode"])


def test_a_runbook_calls_a_webhook_integration(ssm):
    hook = Hook()
    try:
        name = integration(ssm, hook.url, headers=[{"key": "Authorization", "value": "Bearer e2e-token"}],
                           payload=json.dumps({"text": "default payload"}))
        e = start(ssm, notify(ssm, name))
        assert e["AutomationExecutionStatus"] == "Success", e
        path, headers, body = hook.posts[-1]
        assert path == "/hooks/steward" and headers["authorization"] == "Bearer e2e-token"
        assert headers["content-type"] == "application/json"
        assert json.loads(body) == {"text": f"run {e['AutomationExecutionId']}"}
        assert e["Outputs"]["notify.ResponseCode"] == ["200"]
        assert json.loads(e["Outputs"]["notify.Response"][0]) == {"ok": True, "n": 1}
        # No Body: the integration's payload. And once per pass of a loop.
        looped = runbook(ssm, [{"name": "each", "action": "aws:loop", "inputs": {"Iterators": ["a", "b"], "Steps": [
            {"name": "tell", "action": "aws:invokeWebhook", "inputs": {
                "IntegrationName": name, "Body": "{{ each.CurrentIteratorValue }}"}}]}},
            {"name": "plain", "action": "aws:invokeWebhook", "inputs": {"IntegrationName": name}}])
        e = start(ssm, looped)
        assert e["AutomationExecutionStatus"] == "Success", e
        assert [p[2] for p in hook.posts[1:]] == [b"a", b"b", json.dumps({"text": "default payload"}).encode()]
        # The stored value is ciphertext to anyone reading without decryption.
        raw = ssm.get_parameter(Name=INTEGRATIONS + name)["Parameter"]["Value"]
        assert "e2e-token" not in raw

        hook.status = 500
        e = start(ssm, notify(ssm, name))
        step = e["StepExecutions"][0]
        assert e["AutomationExecutionStatus"] == "Failed" and "HTTP 500" in step["FailureMessage"], e
        assert step["Outputs"]["ResponseCode"] == ["500"]
    finally:
        hook.httpd.shutdown()


def test_webhooks_that_must_not_be_sent(server, ssm):
    cases = {
        "There is no integration named": "e2e-hook-missing",
        "link-local": integration(ssm, "https://169.254.169.254/latest/meta-data/"),
        "cloud metadata": integration(ssm, "https://[fd00:ec2::254]/latest/"),
        "only to a loopback address": integration(ssm, "http://10.1.2.3/hook"),
        "not usable": None,
    }
    broken = f"e2e-hook-{uid()}"
    ssm.put_parameter(Name=INTEGRATIONS + broken, Type="SecureString", DataType="aws:ssm:integration",
                      Value="not json")
    cases["not usable"] = broken
    for why, name in cases.items():
        e = start(ssm, notify(ssm, name))
        message = e["StepExecutions"][0].get("FailureMessage", "")
        assert e["AutomationExecutionStatus"] == "Failed" and why in message, (why, message)
    with raises_aws("ValidationException", "InvalidRequest"):
        ssm.put_parameter(Name=INTEGRATIONS + f"e2e-plain-{uid()}", Type="String",
                          DataType="aws:ssm:integration", Value="{}")

    # A user who may start runbooks but not read the integration: the step fails as them.
    hook = Hook()
    try:
        name = integration(ssm, hook.url)
        book = notify(ssm, name)
        ak, sk, _ = make_user(server, f"hook-starter-{uid()}", policy(
            allow(["ssm:StartAutomationExecution", "ssm:GetAutomationExecution"], ["*"])))
        limited = as_user(server, "ssm", ak, sk)
        eid = limited.start_automation_execution(DocumentName=book)["AutomationExecutionId"]
        e = wait_final(ssm, eid)
        assert e["AutomationExecutionStatus"] == "Failed", e
        assert "AccessDenied" in e["StepExecutions"][0]["FailureMessage"], e
        assert hook.posts == []
    finally:
        hook.httpd.shutdown()


def test_an_unknown_integration_name_shape_is_refused(ssm):
    e = start(ssm, notify(ssm, "../../etc"))
    assert e["AutomationExecutionStatus"] == "Failed"
    assert "must name an integration" in e["StepExecutions"][0]["FailureMessage"]


def test_a_preview_counts_steps_and_targets_and_runs_nothing(server, ssm, fleet):
    node = fleet.id("l0")
    name = runbook(ssm, [
        {"name": "rest", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
        {"name": "look", "action": "aws:executeAwsApi", "inputs": {
            "Service": "ssm", "Api": "DescribeInstanceInformation"}},
        {"name": "run", "action": "aws:runCommand", "inputs": {
            "DocumentName": "AWS-RunShellScript", "InstanceIds": ["{{ Node }}"], "Parameters": {"commands": ["true"]}}},
        {"name": "think", "action": "aws:executeScript", "inputs": {"Runtime": "bash", "Script": "true"}},
        {"name": "each", "action": "aws:loop", "inputs": {"Iterators": ["a"], "Steps": [
            {"name": "tag", "action": "aws:createTags", "inputs": {
                "ResourceIds": ["{{ Node }}"], "Tags": [{"Key": "k", "Value": "{{ each.CurrentIteratorValue }}"}]}}]}},
    ], parameters={"Node": {"type": "String", "allowedPattern": "^mi-[0-9a-f]+$"}})

    def preview(**inputs) -> dict:
        pid = ssm.start_execution_preview(DocumentName=name, ExecutionInputs={"Automation": inputs})["ExecutionPreviewId"]
        return ssm.get_execution_preview(ExecutionPreviewId=pid)

    p = preview(TargetParameterName="Node", Targets=[{"Key": "tag:role", "Values": ["loops"]}])
    assert p["Status"] == "Success", p
    auto = p["ExecutionPreview"]["Automation"]
    assert auto["StepPreviews"] == {"Mutating": 2, "NonMutating": 2, "Undetermined": 1}, auto
    assert auto["TargetPreviews"] == [{"Count": 1, "TargetType": "AWS::SSM::ManagedInstance"}]
    assert auto["Regions"] == ["us-east-1"] and auto["TotalAccounts"] == 1
    assert "EndedAt" in p
    p = preview(Parameters={"Node": [node]})
    assert p["Status"] == "Success" and p["ExecutionPreview"]["Automation"]["TargetPreviews"] == [], p
    runs = ssm.describe_automation_executions(Filters=[{"Key": "DocumentNamePrefix", "Values": [name]}])
    assert runs["AutomationExecutionMetadataList"] == [], "a preview starts nothing"

    # What a start would refuse, the preview reports as Failed.
    p = preview(Parameters={"Node": ["not-a-node"]})
    assert p["Status"] == "Failed" and "pattern" in p["StatusMessage"].lower(), p
    p = preview(TargetParameterName="Missing", Targets=[{"Key": "ParameterValues", "Values": ["x"]}])
    assert p["Status"] == "Failed" and "Missing" in p["StatusMessage"], p
    with raises_aws("ValidationException"):
        ssm.start_execution_preview(DocumentName=f"e2e-none-{uid()}")
    with raises_aws("ValidationException"):
        ssm.start_execution_preview(DocumentName=name, ExecutionInputs={"Automation": {
            "TargetLocations": [{"Accounts": ["111122223333"], "Regions": ["eu-west-1"]}]}})
    for missing in ("00000000-0000-0000-0000-000000000000", "not-an-id-but-thirty-six-characters!"):
        with raises_aws("ResourceNotFoundException", "ValidationException"):
            ssm.get_execution_preview(ExecutionPreviewId=missing)
    ak, sk, _ = make_user(server, f"previewer-{uid()}", policy(allow(["ssm:GetExecutionPreview"], ["*"])))
    with raises_aws("AccessDeniedException"):
        as_user(server, "ssm", ak, sk).start_execution_preview(DocumentName=name)


def command_running(ssm, node: str, marker: str) -> dict:
    def found():
        for c in ssm.list_commands(InstanceId=node)["Commands"]:
            if marker in json.dumps(c.get("Parameters", {})) and c["Status"] == "InProgress":
                return c
        return None

    return wait_until(found, 30, f"the command running {marker}", interval=0.3)


def command_status(ssm, command_id: str) -> str:
    return ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"]


def test_stopping_a_step_or_an_execution_stops_its_command_and_script(ssm, fleet):
    node = fleet.id("l0")
    marker = f"sleep 61.{random.randint(1000, 9999)}"
    name = runbook(ssm, [{"name": "long", "action": "aws:runCommand", "inputs": {
        "DocumentName": "AWS-RunShellScript", "InstanceIds": [node], "Parameters": {"commands": [marker]}}}])
    eid = ssm.start_automation_execution(DocumentName=name, Mode="Interactive")["AutomationExecutionId"]
    wait_status(ssm, eid, "Waiting")
    ssm.send_automation_signal(AutomationExecutionId=eid, SignalType="StartStep", Payload={"StepName": ["long"]})
    command = command_running(ssm, node, marker)
    step = ssm.get_automation_execution(AutomationExecutionId=eid)["AutomationExecution"]["StepExecutions"][-1]
    ssm.send_automation_signal(AutomationExecutionId=eid, SignalType="StopStep",
                               Payload={"StepExecutionId": [step["StepExecutionId"]]})
    wait_until(lambda: command_status(ssm, command["CommandId"]) == "Cancelled", 30, "the step's command to stop")
    ssm.stop_automation_execution(AutomationExecutionId=eid)

    # Cancelling the execution cancels the command of its running step.
    marker = f"sleep 62.{random.randint(1000, 9999)}"
    name = runbook(ssm, [{"name": "long", "action": "aws:runCommand", "inputs": {
        "DocumentName": "AWS-RunShellScript", "InstanceIds": [node], "Parameters": {"commands": [marker]}}}])
    eid = ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]
    command = command_running(ssm, node, marker)
    ssm.stop_automation_execution(AutomationExecutionId=eid, Type="Cancel")
    assert wait_final(ssm, eid)["AutomationExecutionStatus"] == "Cancelled"
    wait_until(lambda: command_status(ssm, command["CommandId"]) == "Cancelled", 30, "the command to stop")

    # And kills its script, with what the script started.
    marker = f"63.{random.randint(1000, 9999)}"
    name = runbook(ssm, [{"name": "spin", "action": "aws:executeScript", "inputs": {
        "Runtime": "bash", "Script": f"sleep {marker} & wait"}}])
    eid = ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]
    wait_until(lambda: pgrep(f"sleep {marker}"), 30, "the script's sleep to run")
    ssm.stop_automation_execution(AutomationExecutionId=eid)
    assert wait_final(ssm, eid)["AutomationExecutionStatus"] == "Cancelled"
    wait_until(lambda: not pgrep(f"sleep {marker}"), 15, "the script's sleep to be killed")


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def attached_runbook(ssm, source: str, archive: bytes, steps: list[dict], outputs: list[str] | None = None) -> str:
    name = f"e2e-attached-{uid()}"
    content = {"schemaVersion": "0.3", "mainSteps": steps,
               "files": {"tool.zip": {"checksums": {"sha256": hashlib.sha256(archive).hexdigest()}}}}
    if outputs:
        content["outputs"] = outputs
    ssm.create_document(Name=name, DocumentType="Automation", Content=json.dumps(content),
                        Attachments=[{"Key": "SourceUrl", "Values": [source]}])
    return name


def test_scripts_run_from_files_attached_to_the_runbook(ssm, tmp_path):
    tool = zipped({
        "tool.py": "import helper\n\ndef main(events, context):\n    return {'v': helper.shout(events['w'])}\n",
        "helper.py": "def shout(text):\n    return text.upper() + '!'\n",
        "data/words.txt": "from the attachment\n",
    })
    escaping = zipped({"../escape.py": "x = 1\n"})
    (tmp_path / "tool.zip").write_bytes(tool)
    (tmp_path / "escape").mkdir()
    (tmp_path / "escape" / "tool.zip").write_bytes(escaping)
    files = FileServer(tmp_path)
    try:
        name = attached_runbook(ssm, files.url, tool, [
            {"name": "module", "action": "aws:executeScript", "inputs": {
                "Runtime": "python3.11", "Handler": "tool.main", "Attachment": "tool.zip", "InputPayload": {"w": "hi"}},
             "outputs": [{"Name": "V", "Selector": "$.Payload.v", "Type": "String"}]},
            {"name": "inline", "action": "aws:executeScript", "inputs": {
                "Runtime": "bash", "Attachment": "tool.zip", "Script": "cat data/words.txt"},
             "outputs": [{"Name": "Words", "Selector": "$.Payload", "Type": "String"}]},
        ], outputs=["module.V", "inline.Words"])
        doc = ssm.describe_document(Name=name)["Document"]
        assert [a["Name"] for a in doc["AttachmentsInformation"]] == ["tool.zip"], doc
        e = start(ssm, name)
        assert e["AutomationExecutionStatus"] == "Success", [s.get("FailureMessage") for s in e["StepExecutions"]]
        assert e["Outputs"] == {"module.V": ["HI!"], "inline.Words": ["from the attachment"]}, e

        # An archive with an entry outside its folder is refused when the step unpacks it.
        bad = attached_runbook(ssm, files.url + "/escape", escaping, [{"name": "s", "action": "aws:executeScript",
            "inputs": {"Runtime": "python3.11", "Handler": "escape.x", "Attachment": "tool.zip"}}])
        e = start(ssm, bad)
        assert e["AutomationExecutionStatus"] == "Failed", e
        assert "outside its folder" in e["StepExecutions"][0]["FailureMessage"], e

        # Files that are not what the runbook lists, or steps naming files it does not list.
        with raises_aws("InvalidDocumentContent"):
            attached_runbook(ssm, files.url, escaping + b"tampered", [{"name": "s", "action": "aws:executeScript",
                "inputs": {"Runtime": "python3.11", "Handler": "tool.main", "Attachment": "tool.zip"}}])
        with raises_aws("InvalidDocumentContent"):
            attached_runbook(ssm, files.url, tool, [{"name": "s", "action": "aws:executeScript",
                "inputs": {"Runtime": "python3.11", "Handler": "tool.main", "Attachment": "other.zip"}}])
        with raises_aws("InvalidDocumentContent"):
            attached_runbook(ssm, files.url, tool, [{"name": "s", "action": "aws:sleep",
                "inputs": {"Duration": "PT0S", "Attachment": "tool.zip"}}])
        with raises_aws("InvalidDocumentContent"):
            attached_runbook(ssm, "http://169.254.169.254/files", tool, [{"name": "s", "action": "aws:executeScript",
                "inputs": {"Runtime": "python3.11", "Handler": "tool.main", "Attachment": "tool.zip"}}])
    finally:
        files.close()


def test_an_approval_step_tells_its_topic(server, ssm):
    sns = server.client("sns")
    hook = Hook()
    try:
        topic = sns.create_topic(Name=f"e2e-approvals-{uid()}")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url)
        confirmation = wait_until(lambda: hook.posts and json.loads(hook.posts[0][2]), 20, "the confirmation")
        urllib.request.urlopen(confirmation["SubscribeURL"], timeout=10).read()
        name = runbook(ssm, [{"name": "ask", "action": "aws:approve", "inputs": {
            "Approvers": ["arn:aws:iam::123456789012:root"],
            "Message": "Restart the web tier?", "NotificationArn": topic}}])
        eid = ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]
        wait_status(ssm, eid, "Waiting")
        note = wait_until(lambda: next((json.loads(p[2]) for p in hook.posts[1:]
                                         if json.loads(p[2]).get("Type") == "Notification"), None),
                          20, "the approval notification")
        assert eid in note["Subject"], note
        body = json.loads(note["Message"])
        assert body["AutomationExecutionId"] == eid and body["Message"] == "Restart the web tier?", body
        ssm.stop_automation_execution(AutomationExecutionId=eid)

        # A topic that does not exist fails the step, saying so.
        gone = runbook(ssm, [{"name": "ask", "action": "aws:approve", "inputs": {
            "Approvers": ["nobody"], "NotificationArn": topic + "-gone"}}])
        e = start(ssm, gone)
        assert e["AutomationExecutionStatus"] == "Failed" and "could not be told" in e["StepExecutions"][0]["FailureMessage"]
    finally:
        hook.httpd.shutdown()


def change_template(ssm, approver: str, runbooks: list[str] | None = None, **extra) -> str:
    name = f"e2e-template-{uid()}"
    content = {"schemaVersion": "0.3", "templateInformation": "# Restarts\nApproved by the on-call lead.",
               "mainSteps": [{"name": "cab", "action": "aws:approve", "timeoutSeconds": 3600, "inputs": {
                   "Message": "Restart?", "EnhancedApprovals": {"Approvers": [
                       {"approver": approver, "type": "IamUser", "minRequiredApprovals": 1}]}}}], **extra}
    if runbooks is not None:
        content["executableRunBooks"] = [{"name": r} for r in runbooks]
    ssm.create_document(Name=name, DocumentType="Automation.ChangeTemplate", Content=json.dumps(content))
    return name


def shown(ssm, eid: str) -> dict:
    return ssm.get_automation_execution(AutomationExecutionId=eid)["AutomationExecution"]


def wait_shown(ssm, eid: str, status: str, timeout: float = 60) -> dict:
    return wait_until(lambda: (lambda e: e if e["AutomationExecutionStatus"] == status else None)(shown(ssm, eid)),
                      timeout, f"change request {eid} to be {status}", interval=0.3)


def test_a_change_request_waits_for_approval_then_runs_its_runbook(server, ssm, fleet):
    node = fleet.id("l0")
    target = runbook(ssm, [{"name": "say", "action": "aws:runCommand", "inputs": {
        "DocumentName": "AWS-RunShellScript", "InstanceIds": ["{{ Node }}"],
        "Parameters": {"commands": ["echo changed-{{ Node }}"]}}}], parameters={"Node": {"type": "String"}})
    lead = f"cab-lead-{uid()}"
    ak, sk, _ = make_user(server, lead, policy(allow(["ssm:SendAutomationSignal", "ssm:GetAutomationExecution"], ["*"])))
    cab = as_user(server, "ssm", ak, sk)
    template = change_template(ssm, lead, runbooks=[target])

    def request(**extra) -> str:
        return ssm.start_change_request_execution(
            DocumentName=template, ChangeRequestName="restart the web tier",
            Runbooks=[{"DocumentName": target, "Parameters": {"Node": [node]}}], **extra)["AutomationExecutionId"]

    eid = request()
    e = wait_shown(ssm, eid, "PendingApproval")
    assert e["AutomationSubtype"] == "ChangeRequest" and e["ChangeRequestName"] == "restart the web tier", e
    assert e["Runbooks"][0]["DocumentName"] == target
    listed = ssm.describe_automation_executions(Filters=[{"Key": "AutomationSubtype", "Values": ["ChangeRequest"]},
                                                         {"Key": "ExecutionStatus", "Values": ["PendingApproval"]}])
    assert eid in [x["AutomationExecutionId"] for x in listed["AutomationExecutionMetadataList"]]
    cab.send_automation_signal(AutomationExecutionId=eid, SignalType="Approve", Payload={"Comment": ["go"]})
    e = wait_shown(ssm, eid, "CompletedWithSuccess", timeout=90)
    run = e["StepExecutions"][-1]
    assert run["Action"] == "aws:executeAutomation" and run["StepStatus"] == "Success", run
    child = shown(ssm, run["Outputs"]["ExecutionId"][0])
    assert child["DocumentName"] == target and child["AutomationExecutionStatus"] == "Success"
    assert f"changed-{node}" in child["StepExecutions"][0]["Outputs"]["Output"][0]

    eid = request()
    wait_shown(ssm, eid, "PendingApproval")
    cab.send_automation_signal(AutomationExecutionId=eid, SignalType="Reject")
    assert wait_shown(ssm, eid, "Rejected")["StepExecutions"][-1]["StepName"] == "cab"

    # A template that allows it skips the approval; a scheduled change waits for its time.
    quick = change_template(ssm, lead, autoApprovable=True)
    eid = ssm.start_change_request_execution(
        DocumentName=quick, AutoApprove=True, ScheduledTime=time.time() + 3600,
        Runbooks=[{"DocumentName": target, "Parameters": {"Node": [node]}}])["AutomationExecutionId"]
    wait_shown(ssm, eid, "Scheduled")
    e = wait_until(lambda: (lambda x: x if x["StepExecutions"] else None)(shown(ssm, eid)), 20, "the wait to begin")
    assert [s["StepName"] for s in e["StepExecutions"]] == ["WaitForScheduledTime"], e
    assert e["AutomationExecutionStatus"] == "Scheduled" and e["ScheduledTime"], e
    ssm.stop_automation_execution(AutomationExecutionId=eid)
    assert wait_shown(ssm, eid, "Cancelled")

    with raises_aws("InvalidAutomationExecutionParametersException"):
        ssm.start_change_request_execution(DocumentName=template, AutoApprove=True,
                                           Runbooks=[{"DocumentName": target, "Parameters": {"Node": [node]}}])
    other = runbook(ssm, [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}])
    with raises_aws("InvalidAutomationExecutionParametersException"):
        ssm.start_change_request_execution(DocumentName=template, Runbooks=[{"DocumentName": other}])
    with raises_aws("AutomationDefinitionNotFoundException"):
        ssm.start_change_request_execution(DocumentName=other, Runbooks=[{"DocumentName": other}])
    with raises_aws("InvalidAutomationExecutionParametersException"):
        ssm.start_change_request_execution(DocumentName=quick, Runbooks=[{"DocumentName": target}])  # Node missing
    with raises_aws("InvalidDocumentContent"):
        ssm.create_document(Name=f"e2e-template-{uid()}", DocumentType="Automation.ChangeTemplate", Content=json.dumps(
            {"schemaVersion": "0.3", "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}))
    with raises_aws("AccessDeniedException"):
        cab.start_change_request_execution(DocumentName=template,
                                           Runbooks=[{"DocumentName": target, "Parameters": {"Node": [node]}}])


def test_a_cancelled_step_hands_over_to_its_cleanup_step(ssm):
    name = runbook(ssm, [
        {"name": "long", "action": "aws:sleep", "onCancel": "step:cleanup", "inputs": {"Duration": "PT10M"}},
        {"name": "never", "action": "aws:sleep", "isEnd": True, "inputs": {"Duration": "PT0S"}},
        {"name": "cleanup", "action": "aws:executeScript", "isEnd": True, "inputs": {
            "Runtime": "bash", "Script": "echo '{\"cleaned\": true}'"},
         "outputs": [{"Name": "Cleaned", "Selector": "$.Payload.cleaned", "Type": "Boolean"}]},
    ])
    eid = ssm.start_automation_execution(DocumentName=name)["AutomationExecutionId"]
    wait_until(lambda: steps_of(shown(ssm, eid)) == [("long", "InProgress")], 20, "the long step to run")
    ssm.stop_automation_execution(AutomationExecutionId=eid)
    e = wait_final(ssm, eid)
    assert e["AutomationExecutionStatus"] == "Cancelled", e
    assert steps_of(e) == [("long", "Cancelled"), ("cleanup", "Success")], e
    assert e["StepExecutions"][1]["Outputs"]["Cleaned"] == ["true"]
    with raises_aws("InvalidDocumentContent"):
        runbook(ssm, [{"name": "long", "action": "aws:sleep", "onCancel": "step:wait", "inputs": {"Duration": "PT1S"}},
                      {"name": "wait", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}])
