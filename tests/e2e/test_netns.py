"""A node on another (namespaced) host: its link is cut and restored.

The test builds its own network: a namespace with a veth pair, the server listening on the
host side, one agent running inside the namespace. Cutting the link must turn the node
ConnectionLost and keep a command waiting; restoring it must let the agent reconnect by
itself and run the command. Needs root and iproute2; skipped otherwise.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from conftest import agent_bin, free_port, steward_bin, wait_until

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and iproute2"
)


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture
def netns(tmp_path: Path):
    tag = secrets.token_hex(3)
    ns, host_if, ns_if = f"st{tag}", f"vh{tag}", f"vn{tag}"
    octet = int(tag[:2], 16) % 200 + 20
    host_ip, ns_ip = f"10.231.{octet}.1", f"10.231.{octet}.2"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        sh("ip", "link", "set", ns_if, "netns", ns)
        sh("ip", "addr", "add", f"{host_ip}/24", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ns_ip}/24", "dev", ns_if)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", ns_if, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield {"ns": ns, "host_if": host_if, "host_ip": host_ip}
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def read_admin_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export "):].split("=", 1)
            env[key] = value
    return env


def test_link_cut_and_restored(netns, tmp_path: Path):
    port = free_port()
    # Off loopback the server speaks TLS only, under its own authority.
    endpoint = f"https://{netns['host_ip']}:{port}"
    data = tmp_path / "server"
    server_log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen(
        [str(steward_bin()), "server", "--listen", f"{netns['host_ip']}:{port}", "--data-dir", str(data),
         "--agent-heartbeat", "1"],
        stdout=server_log, stderr=subprocess.STDOUT,
    )
    agent = None
    try:
        wait_until(lambda: (data / "admin.env").exists(), timeout=30, what="admin.env")
        env = read_admin_env(data / "admin.env")
        ssm = boto3.client(
            "ssm", endpoint_url=endpoint, region_name=env["AWS_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"max_attempts": 1}), verify=str(data / "tls" / "ca.pem"),
        )
        wait_until(lambda: _reachable(ssm), timeout=30, what="the API")
        activation = ssm.create_activation(IamRole="NetnsRole", DefaultInstanceName="far")
        state = tmp_path / "agent"
        plain = subprocess.run(
            ["ip", "netns", "exec", netns["ns"], str(agent_bin()), "--state-dir", str(tmp_path / "plain"),
             "register", "--server", endpoint.replace("https://", "http://"),
             "--code", activation["ActivationCode"], "--id", activation["ActivationId"]],
            capture_output=True, text=True,
        )
        assert plain.returncode != 0 and "only to a loopback server" in plain.stderr, plain.stderr
        subprocess.run(
            ["ip", "netns", "exec", netns["ns"], str(agent_bin()), "--state-dir", str(state), "register",
             "--server", endpoint, "--code", activation["ActivationCode"], "--id", activation["ActivationId"],
             "--ca-file", str(data / "tls" / "ca.pem")],
            check=True, capture_output=True,
        )
        instance_id = json.loads((state / "identity.json").read_text())["instance_id"]
        agent_log = open(tmp_path / "agent.log", "wb")
        agent = subprocess.Popen(
            ["ip", "netns", "exec", netns["ns"], str(agent_bin()), "--state-dir", str(state), "run"],
            stdout=agent_log, stderr=subprocess.STDOUT,
        )

        def ping() -> str:
            info = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])
            return info["InstanceInformationList"][0]["PingStatus"]

        wait_until(lambda: ping() == "Online", timeout=30, what="the node Online")
        node = ssm.describe_instance_information()["InstanceInformationList"][0]
        assert node["IPAddress"].startswith("10.231."), node

        sh("ip", "link", "set", netns["host_if"], "down")
        wait_until(lambda: ping() == "ConnectionLost", timeout=30, what="the node ConnectionLost")
        command = ssm.send_command(
            InstanceIds=[instance_id], DocumentName="AWS-RunShellScript",
            Parameters={"commands": ["echo ran behind the link"]}, TimeoutSeconds=300,
        )["Command"]["CommandId"]
        time.sleep(3)
        waiting = ssm.get_command_invocation(CommandId=command, InstanceId=instance_id)
        assert waiting["Status"] == "Pending", waiting

        sh("ip", "link", "set", netns["host_if"], "up")
        wait_until(lambda: ping() == "Online", timeout=90, what="the node back Online")

        def done():
            inv = ssm.get_command_invocation(CommandId=command, InstanceId=instance_id)
            return inv if inv["Status"] not in ("Pending", "InProgress") else None

        final = wait_until(done, timeout=60, what="the command to run after the link came back")
        assert final["Status"] == "Success", final
        assert final["StandardOutputContent"].strip() == "ran behind the link"
    finally:
        if agent is not None:
            agent.kill()
            agent.wait()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def _reachable(ssm) -> bool:
    try:
        ssm.describe_parameters(MaxResults=1)
        return True
    except Exception:
        return False
