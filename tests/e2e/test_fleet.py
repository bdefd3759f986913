"""Managed nodes: activations, agent registration and its refusals, the fleet inventory
(DescribeInstanceInformation), ping status, deregistration, role updates, node tags.

One server per backend (``--agent-heartbeat 1``) and three agents that stay connected for
the whole module, each registered through an activation of its own so each has different
tags (activation tags become node tags):

    n0  env=prod role=web team=alpha
    n1  env=dev  role=web
    n2  env=prod role=db

Tests that break an identity (deregistration, tampered keys) or only need registrations use
agents of their own; they never use the tag keys above, so tag filters can be exact.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import secrets
import signal
import socket
import stat
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import (
    FLEET_HEARTBEAT,
    FLEET_TAGS,
    ACCOUNT_ID,
    REGION,
    Agent,
    Fleet,
    agent_bin,
    collect,
    create_activation,
    instance_info,
    raises_aws,
    start_fleet,
    wait_ping,
    wait_until,
)

HEARTBEAT = FLEET_HEARTBEAT
NODE_TAGS = FLEET_TAGS
MI_ID = r"^mi-[0-9a-f]{17}$"


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", str(HEARTBEAT)))


@pytest.fixture(scope="module")
def fleet(server, agent_factory) -> Fleet:
    return start_fleet(server, agent_factory, NODE_TAGS)


@pytest.fixture
def nodes(fleet, server) -> Fleet:
    server.ensure_running()
    fleet.ensure_up(server.ssm())
    return fleet


def describe_ids(ssm, **kw) -> list[str]:
    items = collect(ssm.describe_instance_information, "InstanceInformationList", **kw)
    return [i["InstanceId"] for i in items]


def all_ids(ssm) -> set[str]:
    return set(describe_ids(ssm))


def activation(ssm, act_id: str) -> dict | None:
    found = ssm.describe_activations(Filters=[{"FilterKey": "ActivationIds", "FilterValues": [act_id]}])
    items = [a for a in found["ActivationList"] if a["ActivationId"] == act_id]
    return items[0] if items else None


def post_register(server, body: bytes) -> tuple[int, dict | None]:
    req = urllib.request.Request(
        f"{server.url}/agent/v1/register",
        data=body,
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def agent_version() -> str:
    out = subprocess.run([str(agent_bin()), "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.split()[-1]


def os_release(key: str) -> str | None:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith(key + "="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------- #
# registration
# --------------------------------------------------------------------------- #


def test_register_prints_identity_and_keeps_the_key_private(server, nodes):
    for name, agent in nodes.by_name.items():
        out = nodes.register_stdout[name].strip()
        assert out == f"Registered as {agent.instance_id} in account {ACCOUNT_ID} ({REGION}).", out
        assert re.match(MI_ID, agent.instance_id)
        sd = agent.state_dir
        assert stat.S_IMODE(sd.stat().st_mode) == 0o700, oct(sd.stat().st_mode)
        key = sd / "identity.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, oct(key.stat().st_mode)
        ident_file = sd / "identity.json"
        assert stat.S_IMODE(ident_file.stat().st_mode) == 0o600, oct(ident_file.stat().st_mode)
        ident = json.loads(ident_file.read_text())
        assert ident["instance_id"] == agent.instance_id
        assert ident["account"] == ACCOUNT_ID
        assert ident["region"] == REGION
        assert ident["server"].rstrip("/") == server.url

    assert len(set(nodes.ids)) == 3, nodes.ids

    # The private key never reaches the server: not in any file of its data dir.
    needles = []
    for agent in nodes.agents:
        raw = (agent.state_dir / "identity.key").read_bytes()
        needles += [raw, raw.hex().encode()]
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for n in needles:
                assert n not in data, f"an agent's private key is in {path}"


def test_run_without_registration_fails(agent_factory):
    agent = agent_factory("unregistered")
    agent.start()
    rc = agent.wait_exit(15)
    assert rc is not None, "an unregistered agent kept running"
    assert rc != 0
    assert "register" in agent.log_text()


def test_activation_via_cli_and_describe_activations(server, nodes, agent_factory):
    env_name = "e2e-cli-" + secrets.token_hex(3)
    created = server.aws(
        "ssm", "create-activation",
        "--iam-role", "CliRole",
        "--registration-limit", "2",
        "--default-instance-name", env_name,
        "--description", "from the cli",
        "--tags", "Key=origin,Value=cli", "Key=batch,Value=" + env_name,
    )
    act_id, code = created["ActivationId"], created["ActivationCode"]
    uuid.UUID(act_id)
    assert len(code) >= 20

    now = time.time()
    listed = server.aws(
        "ssm", "describe-activations", "--filters", f"FilterKey=ActivationIds,FilterValues={act_id}"
    )["ActivationList"]
    assert len(listed) == 1, listed
    a = listed[0]
    assert a["ActivationId"] == act_id
    assert a["Description"] == "from the cli"
    assert a["DefaultInstanceName"] == env_name
    assert a["IamRole"] == "CliRole"
    assert a["RegistrationLimit"] == 2
    assert a["RegistrationsCount"] == 0
    assert a["Expired"] is False
    assert {(t["Key"], t["Value"]) for t in a["Tags"]} == {("origin", "cli"), ("batch", env_name)}
    assert abs(a["CreatedDate"] - now) < 60
    # default expiry: 24 hours
    assert abs(a["ExpirationDate"] - (now + 86400)) < 120, a["ExpirationDate"] - now

    agent = agent_factory("cli-reg")
    agent.register(server.url, act_id, code)
    a = activation(server.ssm(), act_id)
    assert a["RegistrationsCount"] == 1

    # The fleet's activations each counted their one registration.
    ssm = server.ssm()
    every = {x["ActivationId"]: x for x in collect(ssm.describe_activations, "ActivationList", MaxResults=1)}
    for name in NODE_TAGS:
        x = every[nodes.activation[name]]
        assert (x["RegistrationsCount"], x["RegistrationLimit"]) == (1, 1)
        assert x["DefaultInstanceName"] == f"e2e-{name}"
        assert {t["Key"]: t["Value"] for t in x["Tags"]} == NODE_TAGS[name]
    assert act_id in every

    # other filters
    by_name = ssm.describe_activations(
        Filters=[{"FilterKey": "DefaultInstanceName", "FilterValues": [env_name]}]
    )["ActivationList"]
    assert [x["ActivationId"] for x in by_name] == [act_id]
    by_role = ssm.describe_activations(
        Filters=[{"FilterKey": "IamRole", "FilterValues": ["E2ERole-n1"]}]
    )["ActivationList"]
    assert [x["ActivationId"] for x in by_role] == [nodes.activation["n1"]]


def test_registration_refused_wrong_code(server, agent_factory):
    ssm = server.ssm()
    act_id, code = create_activation(ssm, name="wrong-code", limit=5)
    agent = agent_factory("wrong-code")
    wrong = ("X" if code[0] != "X" else "Y") + code[1:]
    proc = agent.register(server.url, act_id, wrong, check=False)
    assert proc.returncode != 0
    assert "InvalidActivationCode" in proc.stderr, proc.stderr
    assert not (agent.state_dir / "identity.json").exists()
    assert not (agent.state_dir / "identity.key").exists()
    assert activation(ssm, act_id)["RegistrationsCount"] == 0

    # The refused attempt did not use a registration; the right code still works.
    agent.register(server.url, act_id, code)
    assert activation(ssm, act_id)["RegistrationsCount"] == 1


def test_registration_refused_unknown_activation(server, agent_factory):
    agent = agent_factory("unknown-act")
    proc = agent.register(server.url, str(uuid.uuid4()), "A" * 20, check=False)
    assert proc.returncode != 0
    assert "InvalidActivation" in proc.stderr, proc.stderr
    assert not (agent.state_dir / "identity.json").exists()


def test_registration_refused_when_limit_reached(server, agent_factory):
    ssm = server.ssm()
    act_id, code = create_activation(ssm, name="limit-one", limit=1)
    first = agent_factory("limit-first")
    first.register(server.url, act_id, code)
    second = agent_factory("limit-second")
    proc = second.register(server.url, act_id, code, check=False)
    assert proc.returncode != 0
    assert "RegistrationLimitReached" in proc.stderr, proc.stderr
    assert not (second.state_dir / "identity.json").exists()
    a = activation(ssm, act_id)
    assert (a["RegistrationsCount"], a["RegistrationLimit"]) == (1, 1)
    assert describe_ids(ssm, Filters=[{"Key": "ActivationIds", "Values": [act_id]}]) == [first.instance_id]


def test_registration_refused_after_activation_deleted(server, agent_factory):
    ssm = server.ssm()
    act_id, code = create_activation(ssm, name="deleted-act", limit=5)
    before = agent_factory("deleted-before")
    before.register(server.url, act_id, code)

    server.aws("ssm", "delete-activation", "--activation-id", act_id)
    assert activation(ssm, act_id) is None

    after = agent_factory("deleted-after")
    proc = after.register(server.url, act_id, code, check=False)
    assert proc.returncode != 0
    assert "InvalidActivation" in proc.stderr, proc.stderr
    assert not (after.state_dir / "identity.json").exists()

    # Nodes already registered stay.
    info = instance_info(ssm, before.instance_id)
    assert info is not None and info["ActivationId"] == act_id

    with raises_aws("InvalidActivationId"):
        ssm.delete_activation(ActivationId=act_id)
    with raises_aws("InvalidActivationId"):
        ssm.delete_activation(ActivationId=str(uuid.uuid4()))


def test_registration_refused_after_expiry(server, agent_factory):
    ssm = server.ssm()
    with raises_aws("ValidationException"):
        ssm.create_activation(
            IamRole="R", ExpirationDate=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
        )
    act_id, code = create_activation(
        ssm, name="expiring", limit=5,
        ExpirationDate=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=3),
    )
    assert activation(ssm, act_id)["Expired"] is False
    wait_until(lambda: activation(ssm, act_id)["Expired"] is True, 15, "the activation to expire")
    agent = agent_factory("expired")
    proc = agent.register(server.url, act_id, code, check=False)
    assert proc.returncode != 0
    assert "ActivationExpired" in proc.stderr, proc.stderr
    assert activation(ssm, act_id)["RegistrationsCount"] == 0


def test_registration_refuses_garbage_keys_and_bodies(server):
    ssm = server.ssm()
    act_id, code = create_activation(ssm, name="garbage", limit=5)
    platform = {
        "platform_name": "x", "platform_version": "1", "platform_type": "Linux",
        "agent_version": "0", "ip_address": "127.0.0.1", "computer_name": "x",
    }

    def body(public_key):
        return json.dumps({
            "activation_id": act_id, "activation_code": code,
            "public_key": public_key, "platform": platform,
        }).encode()

    for key in ["not-hex-at-all", "ab" * 31, "ab" * 33, "", "zz" * 32]:
        status, answer = post_register(server, body(key))
        assert status == 400, (key, status, answer)
        assert answer and answer.get("code") == "InvalidPublicKey", (key, answer)
    for raw in [b"", b"{", b"[]", b'{"activation_id": 5}', b"\xff\xfe"]:
        status, answer = post_register(server, raw)
        assert status == 400, (raw, status, answer)
        assert answer and answer.get("code"), (raw, answer)
    # A well-formed key (RFC 8032, test 1) with the right code works; none of the garbage
    # used a registration.
    rfc8032_public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    status, answer = post_register(server, body(rfc8032_public))
    assert status == 200, answer
    assert re.match(MI_ID, answer["instance_id"])
    assert activation(ssm, act_id)["RegistrationsCount"] == 1


def test_concurrent_registrations_respect_the_limit_and_describe_pages(server, agent_factory):
    ssm = server.ssm()
    batch = "b" + secrets.token_hex(4)
    act_id, code = create_activation(ssm, name="batch", limit=7, tags={"batch": batch})
    agents = [agent_factory(f"batch{i}") for i in range(10)]
    results: dict[int, subprocess.CompletedProcess] = {}

    def reg(i: int) -> None:
        results[i] = agents[i].register(server.url, act_id, code, check=False)

    threads = [threading.Thread(target=reg, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    ok = [agents[i] for i, p in results.items() if p.returncode == 0]
    refused = [p for p in results.values() if p.returncode != 0]
    assert len(results) == 10
    assert len(ok) == 7, [(p.returncode, p.stderr) for p in results.values()]
    for p in refused:
        assert "RegistrationLimitReached" in p.stderr, p.stderr
    registered = {a.instance_id for a in ok}
    assert len(registered) == 7
    assert activation(ssm, act_id)["RegistrationsCount"] == 7

    # Paging: 5 + 2, no duplicates, nothing lost.
    filt = [{"Key": "ActivationIds", "Values": [act_id]}]
    p1 = ssm.describe_instance_information(Filters=filt, MaxResults=5)
    assert len(p1["InstanceInformationList"]) == 5
    assert p1.get("NextToken")
    p2 = ssm.describe_instance_information(Filters=filt, MaxResults=5, NextToken=p1["NextToken"])
    assert len(p2["InstanceInformationList"]) == 2
    assert not p2.get("NextToken")
    paged = [i["InstanceId"] for i in p1["InstanceInformationList"] + p2["InstanceInformationList"]]
    assert sorted(paged) == sorted(registered)

    assert set(describe_ids(ssm, Filters=[{"Key": "tag:batch", "Values": [batch]}], MaxResults=5)) == registered
    # The legacy filter list.
    legacy = describe_ids(
        ssm, InstanceInformationFilterList=[{"key": "ActivationIds", "valueSet": [act_id]}], MaxResults=5
    )
    assert sorted(legacy) == sorted(registered)
    # Never connected: ConnectionLost.
    lost = set(describe_ids(ssm, Filters=[{"Key": "PingStatus", "Values": ["ConnectionLost"]}]))
    assert registered <= lost
    online = set(describe_ids(ssm, Filters=[{"Key": "PingStatus", "Values": ["Online"]}]))
    assert not registered & online


# --------------------------------------------------------------------------- #
# inventory
# --------------------------------------------------------------------------- #


def test_describe_instance_information_fields(server, nodes):
    ssm = server.ssm()
    version = agent_version()
    infos = {i["InstanceId"]: i for i in collect(ssm.describe_instance_information, "InstanceInformationList")}
    now = time.time()
    for name, agent in nodes.by_name.items():
        info = infos[agent.instance_id]
        assert info["PingStatus"] == "Online"
        assert info["ResourceType"] == "ManagedInstance"
        assert info["PlatformType"] == "Linux"
        if os_release("NAME"):
            assert info["PlatformName"] == os_release("NAME")
        else:
            assert info["PlatformName"]
        if os_release("VERSION_ID"):
            assert info["PlatformVersion"] == os_release("VERSION_ID")
        assert info["AgentVersion"] == version
        ipaddress.ip_address(info["IPAddress"])
        assert info["ComputerName"] == socket.gethostname() or info["ComputerName"].startswith(
            socket.gethostname() + "."
        ), info["ComputerName"]
        assert info["Name"] == f"e2e-{name}"
        assert info["ActivationId"] == nodes.activation[name]
        assert info["IamRole"] == nodes.role[name]
        before, after = nodes.registered[name]
        reg = info["RegistrationDate"].timestamp()
        assert before - 5 <= reg <= after + 5, (before, reg, after)
        last = info["LastPingDateTime"].timestamp()
        assert now - 10 <= last <= now + 5, (last, now)

    # The same through the aws CLI.
    out = server.aws("ssm", "describe-instance-information", "--filters",
                     f"Key=InstanceIds,Values={nodes.id('n0')}")
    [cli] = out["InstanceInformationList"]
    assert cli["InstanceId"] == nodes.id("n0")
    assert cli["PingStatus"] == "Online"
    assert cli["Name"] == "e2e-n0"


def test_describe_instance_information_filters(server, nodes):
    ssm = server.ssm()
    n0, n1, n2 = nodes.id("n0"), nodes.id("n1"), nodes.id("n2")

    def ids(filters=None, legacy=None):
        kw = {}
        if filters is not None:
            kw["Filters"] = [{"Key": k, "Values": v} for k, v in filters]
        if legacy is not None:
            kw["InstanceInformationFilterList"] = [{"key": k, "valueSet": v} for k, v in legacy]
        return set(describe_ids(ssm, **kw))

    assert ids([("InstanceIds", [n0, n1])]) == {n0, n1}
    assert ids([("InstanceIds", [n2, "mi-00000000000000000"])]) == {n2}
    assert {n0, n1, n2} <= ids([("PingStatus", ["Online"])])
    assert not {n0, n1, n2} & ids([("PingStatus", ["ConnectionLost"])])
    assert {n0, n1, n2} <= ids([("PlatformTypes", ["Linux"])])
    assert not {n0, n1, n2} & ids([("PlatformTypes", ["Windows"])])
    assert ids([("tag:role", ["web"])]) == {n0, n1}
    assert ids([("tag:env", ["prod"])]) == {n0, n2}
    assert ids([("tag:env", ["prod", "dev"])]) == {n0, n1, n2}
    assert ids([("tag:env", ["prod"]), ("tag:role", ["web"])]) == {n0}
    assert ids([("tag:env", ["staging"])]) == set()
    assert ids([("tag-key", ["team"])]) == {n0}
    assert ids([("tag-key", ["env"])]) == {n0, n1, n2}
    assert ids([("InstanceIds", [n0, n1, n2]), ("tag:role", ["web"])]) == {n0, n1}
    assert ids([("ActivationIds", [nodes.activation["n1"]])]) == {n1}
    assert ids([("ResourceType", ["ManagedInstance"]), ("InstanceIds", [n2])]) == {n2}

    assert ids(legacy=[("InstanceIds", [n1])]) == {n1}
    assert {n0, n1, n2} <= ids(legacy=[("PingStatus", ["Online"])])
    assert ids(legacy=[("InstanceIds", [n0, n1, n2]), ("PlatformTypes", ["Linux"])]) == {n0, n1, n2}


def test_node_tags_come_from_the_activation(server, nodes):
    ssm = server.ssm()
    for name, tags in NODE_TAGS.items():
        got = ssm.list_tags_for_resource(ResourceType="ManagedInstance", ResourceId=nodes.id(name))
        assert {t["Key"]: t["Value"] for t in got["TagList"]} == tags


# --------------------------------------------------------------------------- #
# ping status
# --------------------------------------------------------------------------- #


def test_ping_status_transitions(server, nodes):
    ssm = server.ssm()
    agent = nodes["n1"]
    iid = agent.instance_id

    # Heartbeats move LastPingDateTime while Online.
    first = instance_info(ssm, iid)["LastPingDateTime"]
    wait_until(
        lambda: instance_info(ssm, iid)["LastPingDateTime"] > first, 10, "LastPingDateTime to advance"
    )

    # The agent stops: its channel closes, the node is ConnectionLost at once.
    agent.stop()
    wait_ping(ssm, iid, "ConnectionLost", timeout=5)
    assert iid in describe_ids(ssm, Filters=[{"Key": "PingStatus", "Values": ["ConnectionLost"]}])
    assert iid not in describe_ids(ssm, Filters=[{"Key": "PingStatus", "Values": ["Online"]}])

    # Back with the same identity: Online, same id, no new node.
    agent.start()
    wait_ping(ssm, iid, "Online", timeout=15)
    assert describe_ids(ssm, Filters=[{"Key": "ActivationIds", "Values": [nodes.activation["n1"]]}]) == [iid]

    # A frozen agent keeps its TCP connection but misses heartbeats: ConnectionLost after
    # three heartbeat periods, not before about two.
    agent.signal(signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        time.sleep(0.5)
        assert instance_info(ssm, iid)["PingStatus"] == "Online"
        wait_ping(ssm, iid, "ConnectionLost", timeout=3 * HEARTBEAT + 8)
        elapsed = time.monotonic() - stopped
        assert elapsed >= 2 * HEARTBEAT - 0.5, f"ConnectionLost after only {elapsed:.1f}s"
    finally:
        agent.signal(signal.SIGCONT)
    # It notices, reconnects by itself, and is Online again.
    wait_ping(ssm, iid, "Online", timeout=20)
    assert agent.running


# --------------------------------------------------------------------------- #
# deregistration and role
# --------------------------------------------------------------------------- #


def test_deregistration_stops_the_agent_and_kills_the_identity(server, nodes, agent_factory):
    ssm = server.ssm()
    act_id, code = create_activation(ssm, name="dereg", tags={"purpose": "dereg"})
    agent = agent_factory("dereg")
    agent.register(server.url, act_id, code)
    agent.start()
    iid = agent.instance_id
    wait_ping(ssm, iid, "Online", timeout=15)

    server.aws("ssm", "deregister-managed-instance", "--instance-id", iid)
    rc = agent.wait_exit(15)
    assert rc is not None, "the agent kept running after its node was deregistered"
    assert rc != 0
    assert iid not in all_ids(ssm)
    assert describe_ids(ssm, Filters=[{"Key": "InstanceIds", "Values": [iid]}]) == []

    # Restarted with the same identity: refused, exits, never comes back.
    agent.start()
    rc = agent.wait_exit(20)
    assert rc is not None, "a deregistered identity kept running (reconnecting?)"
    assert rc != 0
    assert iid not in all_ids(ssm)

    with raises_aws("InvalidInstanceId"):
        ssm.deregister_managed_instance(InstanceId=iid)
    with raises_aws("InvalidInstanceId"):
        ssm.update_managed_instance_role(InstanceId=iid, IamRole="X")
    with raises_aws("InvalidInstanceId"):
        ssm.send_command(
            DocumentName="AWS-RunShellScript", InstanceIds=[iid], Parameters={"commands": ["true"]}
        )
    # The others were not disturbed.
    wait_ping(ssm, nodes.ids, "Online", timeout=5)


def test_update_managed_instance_role(server, nodes):
    ssm = server.ssm()
    n2 = nodes.id("n2")
    new_role = "E2ERole-updated-" + secrets.token_hex(3)
    ssm.update_managed_instance_role(InstanceId=n2, IamRole=new_role)
    assert instance_info(ssm, n2)["IamRole"] == new_role
    assert describe_ids(ssm, Filters=[{"Key": "IamRole", "Values": [new_role]}]) == [n2]
    # The node keeps running and stays Online.
    wait_ping(ssm, n2, "Online", timeout=5)
    assert instance_info(ssm, n2)["IamRole"] == new_role
    # Other nodes keep theirs.
    assert instance_info(ssm, nodes.id("n0"))["IamRole"] == nodes.role["n0"]

    with raises_aws("InvalidInstanceId"):
        ssm.update_managed_instance_role(InstanceId="mi-00000000000000000", IamRole="X")
    with raises_aws("InvalidInstanceId"):
        ssm.deregister_managed_instance(InstanceId="mi-00000000000000000")


# --------------------------------------------------------------------------- #
# tampered identities
# --------------------------------------------------------------------------- #


def _registered(server, agent_factory, name: str) -> Agent:
    act_id, code = create_activation(server.ssm(), name=name, tags={"purpose": name})
    agent = agent_factory(name)
    agent.register(server.url, act_id, code)
    return agent


def test_agent_with_a_foreign_key_is_refused(server, agent_factory):
    ssm = server.ssm()
    agent = _registered(server, agent_factory, "forged-key")
    (agent.state_dir / "identity.key").write_bytes(secrets.token_bytes(32))
    agent.start()
    rc = agent.wait_exit(20)
    assert rc is not None, "an agent holding the wrong key kept running"
    assert rc != 0
    assert instance_info(ssm, agent.instance_id)["PingStatus"] == "ConnectionLost"


def test_agent_with_a_damaged_key_file_fails(server, agent_factory):
    agent = _registered(server, agent_factory, "damaged-key")
    (agent.state_dir / "identity.key").write_bytes(b"garbage")
    agent.start()
    rc = agent.wait_exit(15)
    assert rc is not None and rc != 0
    assert "key" in agent.log_text().lower()


def test_agent_cannot_impersonate_another_node(server, nodes, agent_factory):
    ssm = server.ssm()
    agent = _registered(server, agent_factory, "impostor")
    victim = nodes.id("n0")
    ident_path = agent.state_dir / "identity.json"
    ident = json.loads(ident_path.read_text())
    ident["instance_id"] = victim
    ident_path.write_text(json.dumps(ident))
    agent.start()
    rc = agent.wait_exit(20)
    assert rc is not None, "an agent claiming another node's id kept running"
    assert rc != 0
    # The real n0 is undisturbed.
    time.sleep(1)
    assert instance_info(ssm, victim)["PingStatus"] == "Online"
    assert nodes["n0"].running
