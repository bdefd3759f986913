"""Server lifecycle and durability: data dir layout, restarts, kill -9, secrets at rest.

These tests restart or kill this module's server; an autouse fixture brings it
back up before each test so one failure does not cascade.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ADMIN_ENV_KEYS, REGION, parse_admin_env, raises_aws


@pytest.fixture(autouse=True)
def _running(server):
    server.ensure_running()
    yield


def files_under(root: Path):
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            yield Path(dirpath) / f


def find_bytes(root: Path, needles: dict[str, bytes]) -> list[str]:
    hits = []
    for path in files_under(root):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for label, needle in needles.items():
            if needle and needle in data:
                hits.append(f"{label} found in {path}")
    return hits


def pg_dump_text(server) -> str | None:
    schema = getattr(server, "pg_schema", None)
    if not schema:
        return None
    if not shutil.which("pg_dump"):
        pytest.fail("pg_dump not found; needed to inspect the PostgreSQL schema")
    proc = subprocess.run(
        ["pg_dump", "--data-only", "--schema", schema, server.pg_base],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_data_dir_layout_and_admin_env(server):
    d = server.data_dir
    assert stat.S_IMODE(d.stat().st_mode) == 0o700, oct(d.stat().st_mode)

    key = d / "master.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600, oct(key.stat().st_mode)
    assert key.stat().st_size == 32

    env = parse_admin_env((d / "admin.env").read_text())
    missing = [k for k in ADMIN_ENV_KEYS if not env.get(k)]
    assert not missing, f"admin.env lacks {missing}"
    for line in (d / "admin.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert line.startswith("export "), f"unexpected admin.env line: {line!r}"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_ENDPOINT_URL"] == server.url
    assert env["AWS_ENDPOINT_URL_SSM"] == server.url
    assert env["AWS_ENDPOINT_URL_KMS"] == server.url
    assert len(env["AWS_SECRET_ACCESS_KEY"]) >= 20

    sqlite_files = [p for p in files_under(d) if p.read_bytes()[:16] == b"SQLite format 3\x00"]
    if server.backend == "sqlite":
        assert sqlite_files, f"no SQLite database in {sorted(os.listdir(d))}"
    else:
        assert not sqlite_files, f"postgres backend wrote SQLite files: {sqlite_files}"


def test_restart_persists_everything(server, fresh):
    ssm, kms = server.ssm(), server.kms()
    admin_before = parse_admin_env((server.data_dir / "admin.env").read_text())
    master_before = (server.data_dir / "master.key").read_bytes()

    s, secret, adv = fresh("s"), fresh("secret"), fresh("adv")
    ssm.put_parameter(Name=s, Value="one", Type="String", Tags=[{"Key": "k", "Value": "v"}])
    ssm.put_parameter(Name=s, Value="two", Type="String", Overwrite=True)
    ssm.label_parameter_version(Name=s, ParameterVersion=1, Labels=["first"])
    ssm.put_parameter(Name=secret, Value="restart-secret", Type="SecureString")
    ssm.put_parameter(Name=adv, Value="a" * 5000, Type="String", Tier="Advanced", Description="big")
    key_id = kms.create_key(Description="durable")["KeyMetadata"]["KeyId"]
    alias = f"alias/{fresh.token}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    blob = kms.encrypt(KeyId=alias, Plaintext=b"kms-durable")["CiphertextBlob"]
    custom = fresh("custom")
    ssm.put_parameter(Name=custom, Value="custom-secret", Type="SecureString", KeyId=alias)

    rc = server.restart()
    assert rc == 0, f"graceful shutdown exited {rc}"
    ssm, kms = server.ssm(), server.kms()

    admin_after = parse_admin_env((server.data_dir / "admin.env").read_text())
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        assert admin_after.get(k) == admin_before.get(k), f"{k} changed across a restart"
    assert (server.data_dir / "master.key").read_bytes() == master_before

    p = ssm.get_parameter(Name=s)["Parameter"]
    assert (p["Value"], p["Version"]) == ("two", 2)
    assert ssm.get_parameter(Name=f"{s}:first")["Parameter"]["Value"] == "one"
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=s)["TagList"]
    assert tags == [{"Key": "k", "Value": "v"}]
    assert ssm.get_parameter(Name=secret, WithDecryption=True)["Parameter"]["Value"] == "restart-secret"
    assert ssm.get_parameter(Name=custom, WithDecryption=True)["Parameter"]["Value"] == "custom-secret"
    meta = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [adv]}])["Parameters"]
    assert [(m["Tier"], m["Description"]) for m in meta] == [("Advanced", "big")]
    assert ssm.get_parameter(Name=adv)["Parameter"]["Value"] == "a" * 5000

    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key_id
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kms-durable"


def test_sigint_is_graceful(server, fresh):
    name = fresh("sigint")
    server.ssm().put_parameter(Name=name, Value="before-sigint", Type="String")
    rc = server.stop(signal.SIGINT)
    assert rc == 0, f"SIGINT shutdown exited {rc}"
    server.start()
    assert server.ssm().get_parameter(Name=name)["Parameter"]["Value"] == "before-sigint"


def test_shutdown_is_prompt(server):
    t0 = time.monotonic()
    rc = server.stop(signal.SIGTERM)
    assert rc == 0
    assert time.monotonic() - t0 < 10, "graceful shutdown took more than 10 s"
    server.start()


def test_kill9_keeps_acknowledged_writes(server, fresh):
    ssm, kms = server.ssm(), server.kms()
    names = [fresh(f"k{i:02d}") for i in range(25)]
    for i, n in enumerate(names):
        ssm.put_parameter(Name=n, Value=f"value-{i}", Type="SecureString" if i % 2 else "String")
    ow = fresh("overwritten")
    for i in range(1, 6):
        ssm.put_parameter(Name=ow, Value=f"v{i}", Type="String", Overwrite=i > 1)
    ssm.label_parameter_version(Name=ow, ParameterVersion=3, Labels=["keep"])
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=ow, Tags=[{"Key": "t", "Value": "1"}])
    gone = fresh("deleted")
    ssm.put_parameter(Name=gone, Value="x", Type="String")
    ssm.delete_parameter(Name=gone)
    key_id = kms.create_key(Description="kill9")["KeyMetadata"]["KeyId"]
    last = fresh("last")
    ssm.put_parameter(Name=last, Value="acknowledged-just-before-kill", Type="String")

    server.kill9()
    server.start()
    ssm, kms = server.ssm(), server.kms()

    for i, n in enumerate(names):
        assert ssm.get_parameter(Name=n, WithDecryption=True)["Parameter"]["Value"] == f"value-{i}"
    p = ssm.get_parameter(Name=ow)["Parameter"]
    assert (p["Value"], p["Version"]) == ("v5", 5)
    assert ssm.get_parameter(Name=f"{ow}:keep")["Parameter"]["Version"] == 3
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=ow)["TagList"]
    assert tags == [{"Key": "t", "Value": "1"}]
    with raises_aws("ParameterNotFound"):
        ssm.get_parameter(Name=gone)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert ssm.get_parameter(Name=last)["Parameter"]["Value"] == "acknowledged-just-before-kill"


def test_kill9_repeatedly(server, fresh):
    name = fresh("rep")
    for round_ in range(1, 4):
        server.ssm().put_parameter(Name=name, Value=f"round-{round_}", Type="String", Overwrite=round_ > 1)
        server.kill9()
        server.start()
        p = server.ssm().get_parameter(Name=name)["Parameter"]
        assert (p["Value"], p["Version"]) == (f"round-{round_}", round_)


def test_no_secrets_at_rest_or_in_log(server, fresh):
    ssm, kms = server.ssm(), server.kms()
    plain1 = "PLAINTEXT-" + secrets.token_hex(16)
    plain2 = "PLAINTEXT-" + secrets.token_hex(16)
    plain3 = "PLAINTEXT-" + secrets.token_hex(16)
    kms_plain = "KMSPLAIN-" + secrets.token_hex(16)

    name = fresh("secret")
    ssm.put_parameter(Name=name, Value=plain1, Type="SecureString", Description="not the secret")
    ssm.put_parameter(Name=name, Value=plain2, Type="SecureString", Overwrite=True)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    ssm.put_parameter(Name=fresh("custom"), Value=plain3, Type="SecureString", KeyId=key_id)
    # exercise every read path that decrypts
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == plain2
    ssm.get_parameters(Names=[name], WithDecryption=True)
    ssm.get_parameters_by_path(Path=str(fresh), WithDecryption=True)
    hist = ssm.get_parameter_history(Name=name, WithDecryption=True)["Parameters"]
    assert [h["Value"] for h in hist] == [plain1, plain2]
    blob = kms.encrypt(KeyId=key_id, Plaintext=kms_plain.encode())["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob)
    dk = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"]

    master = (server.data_dir / "master.key").read_bytes()
    needles = {
        "plaintext #1": plain1.encode(),
        "plaintext #2": plain2.encode(),
        "plaintext #3": plain3.encode(),
        "KMS plaintext": kms_plain.encode(),
        "KMS plaintext (base64)": base64.b64encode(kms_plain.encode()),
        "data key": dk,
        "data key (base64)": base64.b64encode(dk),
        "data key (hex)": dk.hex().encode(),
    }
    log_needles = {
        **needles,
        "admin secret key": server.secret_key.encode(),
        "master key (hex)": master.hex().encode(),
        "master key (base64)": base64.b64encode(master),
    }

    # while running (SQLite WAL and all), then after a clean shutdown (checkpointed)
    hits = find_bytes(server.data_dir, needles)
    log = server.log_text().encode()
    hits += [f"{label} found in server output" for label, n in log_needles.items() if n in log]
    assert not hits, hits

    rc = server.stop()
    assert rc == 0
    hits = find_bytes(server.data_dir, needles)
    log = server.log_text().encode()
    hits += [f"{label} found in server output" for label, n in log_needles.items() if n in log]
    assert not hits, hits

    dump = pg_dump_text(server)
    if dump is not None:
        assert "not the secret" in dump or name in dump, "pg_dump did not see this server's data"
        for label, n in needles.items():
            assert n.decode("latin-1") not in dump, f"{label} found in PostgreSQL schema {server.pg_schema}"
        assert master.hex() not in dump
        assert base64.b64encode(master).decode() not in dump

    server.start()
    assert server.ssm().get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == plain2
