"""TLS: the server as its own certificate authority, the operator's own certificate, agents
that learn the authority at registration, and refusals of plain HTTP off loopback.

TLS does not depend on the store, so these tests run on SQLite only.
"""

from __future__ import annotations

import http.client
import os
import ssl
import stat
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from conftest import (
    Agent,
    Server,
    agent_bin,
    create_activation,
    free_port,
    steward_bin,
    wait_ping,
    wait_until,
)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("tls") / "data", tls=True, extra_args=("--agent-heartbeat", "1"))
    srv.start()
    yield srv
    srv.close()


@pytest.fixture
def agent(tmp_path):
    a = Agent(tmp_path, "tls-node")
    yield a
    a.close()


def run_command(ssm, instance_id: str, script: str) -> dict:
    command_id = ssm.send_command(
        InstanceIds=[instance_id], DocumentName="AWS-RunShellScript", Parameters={"commands": [script]}
    )["Command"]["CommandId"]

    def done():
        inv = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        return inv if inv["Status"] not in ("Pending", "InProgress", "Delayed") else None

    return wait_until(done, timeout=30, what="the command to finish")


def test_admin_env_names_https_endpoint_and_ca_bundle(tls_server: Server):
    env = tls_server.admin
    assert env["AWS_ENDPOINT_URL"].startswith("https://127.0.0.1:")
    assert env["AWS_CA_BUNDLE"] == str(tls_server.ca_path.resolve())
    assert stat.S_IMODE(os.stat(tls_server.data_dir / "tls" / "ca.key").st_mode) == 0o600
    assert "PRIVATE KEY" not in tls_server.ca_path.read_text()


def test_aws_cli_and_boto3_work_over_tls(tls_server: Server):
    tls_server.aws("ssm", "put-parameter", "--name", "/tls/cli", "--value", "v1", "--type", "String")
    got = tls_server.aws("ssm", "get-parameter", "--name", "/tls/cli")
    assert got["Parameter"]["Value"] == "v1"
    assert tls_server.ssm().get_parameter(Name="/tls/cli")["Parameter"]["Value"] == "v1"


def test_clients_that_do_not_trust_the_ca_are_refused(tls_server: Server):
    untrusting = boto3.session.Session(
        aws_access_key_id=tls_server.access_key,
        aws_secret_access_key=tls_server.secret_key,
        region_name=tls_server.region,
    ).client("ssm", endpoint_url=tls_server.url, config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(botocore.exceptions.SSLError):
        untrusting.describe_parameters()


def test_plain_http_to_the_tls_port_gets_no_answer(tls_server: Server):
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError, http.client.HTTPException)):
        urllib.request.urlopen(f"http://127.0.0.1:{tls_server.port}/healthz", timeout=5).read()


def test_agent_needs_the_ca_for_first_contact_then_keeps_it(tls_server: Server, agent: Agent):
    ssm = tls_server.ssm()
    activation_id, code = create_activation(ssm, name="tls", limit=2)
    refused = agent.register(tls_server.url, activation_id, code, check=False)
    assert refused.returncode != 0
    assert "UnknownIssuer" in refused.stderr or "certificate" in refused.stderr, refused.stderr

    agent.register(tls_server.url, activation_id, code, ca_file=tls_server.ca_path)
    kept = agent.state_dir / "ca.pem"
    assert kept.read_text() == tls_server.ca_path.read_text()
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    agent.start()
    wait_ping(ssm, agent.instance_id, "Online", timeout=30)
    result = run_command(ssm, agent.instance_id, "echo over tls")
    assert result["Status"] == "Success", result
    assert result["StandardOutputContent"] == "over tls\n"

    # A restart signs a new server certificate under the same authority: the node reconnects.
    tls_server.restart()
    wait_ping(ssm, agent.instance_id, "Online", timeout=60)
    again = run_command(ssm, agent.instance_id, "echo after restart")
    assert again["StandardOutputContent"] == "after restart\n"


def test_agent_refuses_plain_http_to_a_remote_server(tmp_path: Path):
    proc = subprocess.run(
        [str(agent_bin()), "--state-dir", str(tmp_path / "s"), "register",
         "--server", "http://192.0.2.10:7717", "--code", "c", "--id", "i"],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode != 0
    assert "only to a loopback server" in proc.stderr, proc.stderr
    assert not (tmp_path / "s" / "identity.key").exists()


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "own.pem", directory / "own.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=own",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-addext", "extendedKeyUsage=serverAuth"],
        check=True, capture_output=True,
    )
    return cert, key


def test_operator_certificate(tmp_path: Path, agent: Agent):
    cert, key = make_certificate(tmp_path)
    srv = Server(tmp_path / "data", tls=True,
                 extra_args=("--tls-cert", str(cert), "--tls-key", str(key), "--agent-heartbeat", "1"))
    try:
        # The harness trusts data/tls/ca.pem; with the operator's certificate that file is theirs.
        (srv.data_dir / "tls").mkdir(parents=True)
        (srv.data_dir / "tls" / "ca.pem").write_text(cert.read_text())
        srv.start()
        assert not (srv.data_dir / "tls" / "ca.key").exists(), "no authority is made when a certificate is given"
        context = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(f"{srv.url}/healthz", context=context, timeout=5) as resp:
            assert resp.read() == b"ok"
        ssm = srv.ssm()
        activation_id, code = create_activation(ssm, name="own")
        agent.register(srv.url, activation_id, code, ca_file=cert)
        assert (agent.state_dir / "ca.pem").read_text() == cert.read_text()
        agent.start()
        wait_ping(ssm, agent.instance_id, "Online", timeout=30)
        assert run_command(ssm, agent.instance_id, "echo own cert")["Status"] == "Success"
    finally:
        srv.close()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--listen", "0.0.0.0:{port}", "--tls", "off"], "allowed only on a loopback address"),
        (["--tls", "sometimes"], "--tls must be auto, on or off"),
        (["--tls", "on", "--tls-cert", "{cert}"], "--tls-cert and --tls-key go together"),
        (["--tls", "on", "--tls-cert", "{junk}", "--tls-key", "{junk}"], "holds no certificate"),
        (["--tls", "on", "--tls-cert", "{cert}", "--tls-key", "{junk}"], "is not a PEM private key"),
        (["--tls", "on", "--tls-cert", "{cert}", "--tls-key", "{missing}"], "is not a PEM private key"),
        (["--tls", "on", "--tls-cert", "{cert}", "--tls-key", "{other_key}"], "does not match its key"),
    ],
)
def test_bad_tls_configuration_stops_the_server(tmp_path: Path, args: list[str], message: str):
    cert, _ = make_certificate(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, other_key = make_certificate(other)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    filled = [a.format(port=free_port(), cert=cert, junk=junk, other_key=other_key,
                        missing=tmp_path / "missing.key") for a in args]
    if "--listen" not in filled:
        filled += ["--listen", f"127.0.0.1:{free_port()}"]
    proc = subprocess.run(
        [str(steward_bin()), "server", "--data-dir", str(tmp_path / "data"), *filled],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
