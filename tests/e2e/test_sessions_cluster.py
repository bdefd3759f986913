"""Session Manager with two servers on one PostgreSQL schema: a session started through
the server the node is not connected to is relayed by the server it is connected to
(StartSession hands out that server's advertised URL), and TerminateSession through
either server ends it.

PostgreSQL only: SQLite stores cannot be shared by two servers. The second server opens
the first one's store with the first one's master key, so both serve the same account
with the same admin keys.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from conftest import raises_aws, server_pair, start_fleet, steward_bin, wait_until
from test_sessions import Terminal

EXTRA = ("--agent-heartbeat", "1")


@pytest.fixture(scope="module")
def pair(backend, tmp_path_factory):
    """(front, home): two servers sharing one schema; nodes connect to `home`."""
    with server_pair(backend, tmp_path_factory, EXTRA) as servers:
        yield servers


@pytest.fixture(scope="module")
def fleet(pair, agent_factory):
    _, home = pair
    return start_fleet(home, agent_factory, {"c0": {"role": "cluster"}})


def env_for(server) -> dict:
    env = dict(os.environ)
    env.update(server.env())
    return env


def port_of(url: str) -> int:
    return int(re.search(r"://[^/:]+:(\d+)/", url).group(1))


def test_start_session_through_the_other_server_points_at_the_nodes_server(pair, fleet):
    front, home = pair
    started = front.ssm().start_session(Target=fleet.id("c0"))
    try:
        assert port_of(started["StreamUrl"]) == home.port, started["StreamUrl"]
        assert started["StreamUrl"].startswith("ws://")
        resumed = front.ssm().resume_session(SessionId=started["SessionId"])
        assert port_of(resumed["StreamUrl"]) == home.port
    finally:
        front.ssm().terminate_session(SessionId=started["SessionId"])
    # Through the node's own server, the caller's host as before.
    local = home.ssm().start_session(Target=fleet.id("c0"))
    home.ssm().terminate_session(SessionId=local["SessionId"])
    assert port_of(local["StreamUrl"]) == home.port


def test_exec_through_the_other_server_runs_on_the_node(pair, fleet):
    front, _ = pair
    done = subprocess.run(
        [str(steward_bin()), "session", "exec", "--target", fleet.id("c0"), "--", "sh", "-c", "echo via-$((2*21)); exit 5"],
        env=env_for(front), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 5, done
    assert "via-42" in done.stdout


def test_terminate_through_either_server_ends_a_shell_relayed_by_the_other(pair, fleet):
    front, home = pair
    node = fleet.id("c0")
    term = Terminal([str(steward_bin()), "session", "start", "--target", node], env_for(front))
    try:
        term.read_until(r"Starting session with SessionId: (\S+)")
        session_id = re.search(r"SessionId: (\S+)", term.seen.decode()).group(1)
        term.type("echo up-$((3+4))\r")
        term.read_until(r"up-7")
        started = time.monotonic()
        front.ssm().terminate_session(SessionId=session_id)
        term.wait(timeout=15)
        assert time.monotonic() - started < 15
        assert "Exiting session" in term.seen.decode(errors="replace")
    finally:
        term.close()
    for server in (front, home):
        ended = server.ssm().describe_sessions(
            State="History", Filters=[{"key": "SessionId", "value": session_id}]
        )["Sessions"]
        assert [s["Status"] for s in ended] == ["Terminated"]


def test_a_node_connected_nowhere_is_not_connected_on_either_server(pair, fleet):
    front, home = pair
    node = fleet.id("c0")
    fleet["c0"].stop()
    try:
        def gone():
            try:
                front.ssm().start_session(Target=node)
            except front.ssm().exceptions.ClientError as e:
                return e.response["Error"]["Code"] == "TargetNotConnected"
            return False

        wait_until(gone, 15, "the node counted as gone")
        with raises_aws("TargetNotConnected"):
            home.ssm().start_session(Target=node)
    finally:
        fleet["c0"].start()
