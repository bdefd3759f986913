"""The scheduler's leader lease with two servers on one PostgreSQL schema: exactly one
server leads; an association created through either server runs exactly once, on an
agent connected to the server that does not lead; when the leader is killed (SIGKILL) the
other server takes the lease over (``scheduler/lease`` expires 15 s after its last
renewal) and runs new associations, still exactly once.

PostgreSQL only: SQLite stores cannot be shared by two servers.  The second server opens
the first one's store with the first one's master key, so both serve the same root
account with the same admin keys.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from conftest import Fleet, create_activation, server_pair, start_fleet, wait_until

LEADING = "Scheduler leadership changed. leading=true"
EXTRA = ("--agent-heartbeat", "1", "--test-clock")


@pytest.fixture(scope="module")
def pair(backend, tmp_path_factory):
    """Two running servers sharing one PostgreSQL schema: (first, second)."""
    with server_pair(backend, tmp_path_factory, EXTRA) as servers:
        yield servers


@pytest.fixture(scope="module")
def roles(pair):
    """(leader, follower), from the servers' logs once the lease has settled."""
    a, b = pair

    def settled():
        count = {s: s.log_text().count(LEADING) for s in (a, b)}
        return count if sum(count.values()) >= 1 else None

    wait_until(settled, 20, "a server taking the scheduler lease")
    time.sleep(3)  # give a second leader, if there were one, time to show
    counts = {s: s.log_text().count(LEADING) for s in (a, b)}
    assert sorted(counts.values()) == [0, 1], f"leadership lines per server: {list(counts.values())}"
    leader = a if counts[a] == 1 else b
    follower = b if leader is a else a
    return leader, follower


@pytest.fixture(scope="module")
def fleet(roles, agent_factory) -> Fleet:
    """One node, registered with and connected to the follower."""
    _, follower = roles
    fleet = start_fleet(follower, agent_factory, {"f0": {"role": "leader-test"}}, env_for=lambda n: {"E2E_NODE": n})
    # Let the leader finish its check of the newly registered node before associations are
    # created: an association created during that check runs twice (see the last test).
    time.sleep(3)
    return fleet


TARGETS = [{"Key": "tag:role", "Values": ["leader-test"]}]


def append_once(path: Path, text: str) -> dict:
    return {"commands": [f"echo {text} >> {path}"]}


def executions(ssm, association_id: str) -> list[dict]:
    return ssm.describe_association_executions(AssociationId=association_id)["AssociationExecutions"]


def ran_once(ssm, association_id: str, path: Path, text: str, timeout: float = 40) -> None:
    """The association's single run succeeded and wrote its line once; nothing more follows."""

    def done():
        runs = executions(ssm, association_id)
        return runs if runs and all(r["Status"] == "Success" for r in runs) and path.exists() else None

    wait_until(done, timeout, f"association {association_id} succeeding")
    time.sleep(3)  # a duplicate run would show by now
    runs = executions(ssm, association_id)
    assert len(runs) == 1, runs
    assert runs[0]["Status"] == "Success" and runs[0]["ResourceCountByStatus"] == "{Success=1}", runs
    lines = [l for l in path.read_text().splitlines() if l == text]
    assert len(lines) == 1, path.read_text()


def test_exactly_one_server_leads(pair, roles):
    leader, follower = roles
    assert leader.running and follower.running
    assert LEADING in leader.log_text()
    assert "leading=true" not in follower.log_text()
    # both serve the same account with the same keys
    assert leader.access_key == follower.access_key
    assert leader.ssm().describe_instance_information()["InstanceInformationList"] == []


def test_associations_from_either_server_run_once_on_the_followers_node(roles, fleet, tmp_path):
    leader, follower = roles
    node = fleet.id("f0")
    via_leader = tmp_path / "via-leader"
    via_follower = tmp_path / "via-follower"

    a1 = leader.ssm().create_association(
        Name="AWS-RunShellScript", Targets=TARGETS, Parameters=append_once(via_leader, "one"),
        AssociationName="via-leader",
    )["AssociationDescription"]["AssociationId"]
    a2 = follower.ssm().create_association(
        Name="AWS-RunShellScript", Targets=TARGETS, Parameters=append_once(via_follower, "two"),
        AssociationName="via-follower",
    )["AssociationDescription"]["AssociationId"]

    ran_once(follower.ssm(), a1, via_leader, "one")
    ran_once(follower.ssm(), a2, via_follower, "two")
    for a in (a1, a2):  # both servers tell the same story
        assert [e["ExecutionId"] for e in executions(leader.ssm(), a)] == [
            e["ExecutionId"] for e in executions(follower.ssm(), a)
        ]
    status = follower.ssm().describe_instance_associations_status(InstanceId=node)["InstanceAssociationStatusInfos"]
    assert {s["AssociationId"]: s["Status"] for s in status} == {a1: "Success", a2: "Success"}
    assert "leading=true" not in follower.log_text(), "the follower must not have taken the lease"


def test_the_follower_takes_over_when_the_leader_dies(roles, fleet, tmp_path):
    leader, follower = roles
    ssm = follower.ssm()
    before = {a["AssociationId"]: len(executions(ssm, a["AssociationId"])) for a in ssm.list_associations()["Associations"]}
    assert before and all(n == 1 for n in before.values()), before

    killed_at = time.monotonic()
    leader.kill9()
    wait_until(lambda: LEADING in follower.log_text(), 30, "the follower logging leading=true")
    took = time.monotonic() - killed_at
    assert took < 30, took
    assert follower.log_text().count(LEADING) == 1

    path = tmp_path / "after-failover"
    a3 = ssm.create_association(
        Name="AWS-RunShellScript", Targets=TARGETS, Parameters=append_once(path, "three"),
        AssociationName="after-failover",
    )["AssociationDescription"]["AssociationId"]
    ran_once(ssm, a3, path, "three")

    # no earlier run was repeated by the new leader
    after = {a: len(executions(ssm, a)) for a in before}
    assert after == before
    assert len(executions(ssm, a3)) == 1


def test_an_association_created_as_a_node_registers_runs_once_on_it(roles, agent_factory):
    leader, follower = roles
    server = leader if leader.running else follower
    ssm = server.ssm()
    for attempt in range(8):
        role = "race-" + uuid.uuid4().hex[:8]
        act_id, code = create_activation(ssm, name=role, tags={"role": role}, role="E2ERole-race")
        # registered, never started: its runs wait for delivery, which is all this needs
        agent_factory(role).register(server.url, act_id, code)
        ids = [
            ssm.create_association(
                Name="AWS-RunShellScript", Targets=[{"Key": "tag:role", "Values": [role]}],
                Parameters={"commands": ["true"]},
            )["AssociationDescription"]["AssociationId"]
            for _ in range(6)
        ]
        time.sleep(2)
        counts = [len(executions(ssm, i)) for i in ids]
        for i in ids:
            ssm.delete_association(AssociationId=i)
        assert counts == [1] * len(ids), f"attempt {attempt}: executions per association {counts}"
