"""Accounts: `steward account create` makes an isolated account with its own root key,
usable at once by a running server; `steward account list` shows every account."""

from __future__ import annotations

import re
import subprocess

import boto3
import pytest
from botocore.config import Config

from conftest import raises_aws, steward_bin


def account_cli(server, *args: str) -> subprocess.CompletedProcess:
    argv = [str(steward_bin()), "account", *args, "--data-dir", str(server.data_dir)]
    if server.store_url:
        argv += ["--store", server.store_url]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def parse_exports(text: str) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(\S+)$", text, re.M))


def client(server, service: str, env: dict[str, str]):
    return boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=server.region,
    ).client(service, endpoint_url=server.url, config=Config(retries={"total_max_attempts": 1}))


def test_new_account_is_isolated_and_usable_at_once(server):
    made = account_cli(server, "create")
    assert made.returncode == 0, made.stderr
    env = parse_exports(made.stdout)
    account = env["STEWARD_ACCOUNT_ID"]
    assert re.fullmatch(r"\d{12}", account) and account != server.account_id
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", env["AWS_ACCESS_KEY_ID"])

    other = client(server, "ssm", env)
    other.put_parameter(Name="/accounts/only-mine", Value="b", Type="String")
    identity = client(server, "sts", env).get_caller_identity()
    assert identity["Account"] == account
    assert identity["Arn"] == f"arn:aws:iam::{account}:root"

    # The first account sees nothing of the second, and the other way round.
    server.ssm().put_parameter(Name="/accounts/first", Value="a", Type="String")
    with raises_aws("ParameterNotFound"):
        server.ssm().get_parameter(Name="/accounts/only-mine")
    with raises_aws("ParameterNotFound"):
        other.get_parameter(Name="/accounts/first")

    listed = account_cli(server, "list")
    assert listed.returncode == 0, listed.stderr
    assert {server.account_id, account} <= set(listed.stdout.split())


def test_account_create_refusals(server, tmp_path):
    fixed = "210987654321"
    first = account_cli(server, "create", "--account-id", fixed)
    assert first.returncode == 0, first.stderr
    again = account_cli(server, "create", "--account-id", fixed)
    assert again.returncode != 0 and "already exists" in again.stderr
    bad = account_cli(server, "create", "--account-id", "12ab")
    assert bad.returncode != 0 and "12 digits" in bad.stderr
    argv = [str(steward_bin()), "account", "create", "--data-dir", str(server.data_dir),
            "--master-key-file", str(tmp_path / "missing.key")]
    if server.store_url:
        argv += ["--store", server.store_url]
    no_key = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert no_key.returncode != 0 and "master key" in no_key.stderr


@pytest.fixture
def server(server_factory):
    return server_factory()
