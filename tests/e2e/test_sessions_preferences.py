"""Session Manager preferences: which OS user a session's shell runs as, and whether
what the user types is recorded.

As SSM: with run-as off, a root agent runs shells as `ssm-user`, which it creates with
passwordless sudo; with run-as on in the Session Manager preferences, the caller's
`SSMSessionRunAs` tag names the user, else `runAsDefaultUser`. `recordInput` (a Steward
addition) puts the user's keystrokes in the transcript as asciicast "i" events."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import raises_aws, start_fleet, steward_bin, wait_until

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs a root agent")

TAGS = {"r0": {"role": "runas"}}
PREFERENCES = "SSM-SessionManagerRunShell"
# OS users made for this module (and removed after it).
DEFAULT_OS_USER = "stw-runas-default"
TAGGED_OS_USER = "stw-runas-tagged"


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1"))


@pytest.fixture(scope="module")
def fleet(server, agent_factory):
    return start_fleet(server, agent_factory, TAGS)


@pytest.fixture(scope="module")
def os_users():
    for name in (DEFAULT_OS_USER, TAGGED_OS_USER):
        subprocess.run(["useradd", "--create-home", name], capture_output=True)
    yield
    for name in (DEFAULT_OS_USER, TAGGED_OS_USER):
        subprocess.run(["userdel", "--remove", name], capture_output=True)


def exec_on(
    server, node: str, script: str, *, keys: tuple[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(server.env())
    if keys:
        env.update(AWS_ACCESS_KEY_ID=keys[0], AWS_SECRET_ACCESS_KEY=keys[1])
        env.pop("AWS_SESSION_TOKEN", None)
    return subprocess.run(
        [str(steward_bin()), "session", "exec", "--target", node, "--", "sh", "-c", script],
        env=env, capture_output=True, text=True, timeout=60, input=stdin,
    )


def preferences(**inputs) -> str:
    return json.dumps({
        "schemaVersion": "1.0",
        # Each version's content must differ from every earlier one.
        "description": f"Session Manager preferences {uuid.uuid4().hex[:8]}",
        "sessionType": "Standard_Stream",
        "inputs": {"idleSessionTimeout": "20", "shellProfile": {"linux": "", "windows": ""}, **inputs},
    })


def set_preferences(ssm, **inputs) -> None:
    content = preferences(**inputs)
    try:
        ssm.create_document(Name=PREFERENCES, Content=content, DocumentType="Session")
    except ssm.exceptions.DocumentAlreadyExists:
        version = ssm.update_document(Name=PREFERENCES, Content=content, DocumentVersion="$LATEST")
        number = version["DocumentDescription"]["DocumentVersion"]
        ssm.update_document_default_version(Name=PREFERENCES, DocumentVersion=number)


def user_with_session_rights(server, tags: dict[str, str]) -> tuple[str, str]:
    iam = server.client("iam")
    name = f"e2e-runas-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ssm:StartSession", "ssm:TerminateSession", "ssm:ResumeSession"],
         "Resource": "*"},
    ]}
    iam.put_user_policy(UserName=name, PolicyName="sessions", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


@needs_root
def test_without_run_as_a_root_agent_uses_ssm_user_with_passwordless_sudo(server, fleet):
    done = exec_on(server, fleet.id("r0"), "id -un; echo home=$HOME; pwd; sudo -n id -un")
    assert done.returncode == 0, done
    lines = done.stdout.split()
    assert lines[:3] == ["ssm-user", "home=/home/ssm-user", "/home/ssm-user"], done.stdout
    if shutil.which("sudo"):
        assert lines[3] == "root", done.stdout
    entry = subprocess.run(["getent", "passwd", "ssm-user"], capture_output=True, text=True).stdout
    assert entry.startswith("ssm-user:"), entry


@needs_root
def test_a_second_session_reuses_ssm_user(server, fleet):
    first = exec_on(server, fleet.id("r0"), "id -u")
    second = exec_on(server, fleet.id("r0"), "id -u")
    assert first.returncode == second.returncode == 0
    assert first.stdout.strip() == second.stdout.strip() != "0"


@needs_root
def test_run_as_enabled_with_no_user_is_refused_at_start(server, fleet):
    ssm = server.ssm()
    set_preferences(ssm, runAsEnabled=True, runAsDefaultUser="")
    try:
        with raises_aws("InvalidDocument"):
            ssm.start_session(Target=fleet.id("r0"))
        set_preferences(ssm, runAsEnabled=True, runAsDefaultUser="Not A User")
        with raises_aws("InvalidDocument"):
            ssm.start_session(Target=fleet.id("r0"))
    finally:
        set_preferences(ssm, runAsEnabled=False, runAsDefaultUser="")


@needs_root
def test_run_as_default_user_applies_to_shells_and_commands(server, fleet, os_users):
    ssm = server.ssm()
    set_preferences(ssm, runAsEnabled=True, runAsDefaultUser=DEFAULT_OS_USER)
    try:
        # exec uses AWS-StartNonInteractiveCommand: run-as comes from the preferences.
        done = exec_on(server, fleet.id("r0"), "id -un; echo $HOME")
        assert done.returncode == 0, done
        assert done.stdout.split() == [DEFAULT_OS_USER, f"/home/{DEFAULT_OS_USER}"], done.stdout
    finally:
        set_preferences(ssm, runAsEnabled=False, runAsDefaultUser="")


@needs_root
def test_the_callers_ssm_session_run_as_tag_wins_over_the_default(server, fleet, os_users):
    ssm = server.ssm()
    keys = user_with_session_rights(server, {"SSMSessionRunAs": TAGGED_OS_USER})
    set_preferences(ssm, runAsEnabled=True, runAsDefaultUser=DEFAULT_OS_USER)
    try:
        done = exec_on(server, fleet.id("r0"), "id -un", keys=keys)
        assert done.returncode == 0, done
        assert done.stdout.strip() == TAGGED_OS_USER, done
        # The root of the account has no tag: the default user.
        assert exec_on(server, fleet.id("r0"), "id -un").stdout.strip() == DEFAULT_OS_USER
    finally:
        set_preferences(ssm, runAsEnabled=False, runAsDefaultUser="")


@needs_root
def test_a_run_as_user_missing_on_the_node_fails_the_session_with_a_message(server, fleet):
    ssm = server.ssm()
    keys = user_with_session_rights(server, {"SSMSessionRunAs": "stw-nobody-here"})
    set_preferences(ssm, runAsEnabled=True, runAsDefaultUser="")
    try:
        done = exec_on(server, fleet.id("r0"), "id -un", keys=keys)
        assert done.returncode == 1, done
        assert "stw-nobody-here does not exist" in done.stdout + done.stderr, done
    finally:
        set_preferences(ssm, runAsEnabled=False, runAsDefaultUser="")


@needs_root
def test_run_as_off_again_returns_to_ssm_user(server, fleet):
    ssm = server.ssm()
    set_preferences(ssm, runAsEnabled=False, runAsDefaultUser=DEFAULT_OS_USER)
    assert exec_on(server, fleet.id("r0"), "id -un").stdout.strip() == "ssm-user"


def transcript_events(ssm, node: str) -> list[list]:
    newest = ssm.describe_sessions(State="History", Filters=[{"key": "Target", "value": node}])["Sessions"][0]
    cast = Path(newest["OutputUrl"]["S3OutputUrl"].removeprefix("file://"))
    return [json.loads(line) for line in cast.read_text().splitlines()[1:]]


def test_input_is_recorded_only_when_the_preferences_ask(server, fleet):
    ssm = server.ssm()
    node = fleet.id("r0")
    done = exec_on(server, node, "cat", stdin="unrecorded-keys\n")
    assert "unrecorded-keys" in done.stdout, done
    events = wait_until(lambda: transcript_events(ssm, node) or None, 10, "the transcript")
    assert [e for e in events if e[1] == "i"] == [], events

    set_preferences(ssm, recordInput=True)
    try:
        done = exec_on(server, node, "cat", stdin="typed-and-kept\n")
        assert "typed-and-kept" in done.stdout, done

        def typed():
            events = transcript_events(ssm, node)
            return "".join(e[2] for e in events if e[1] == "i") or None

        assert "typed-and-kept" in wait_until(typed, 10, "input events in the transcript")
    finally:
        set_preferences(ssm)
