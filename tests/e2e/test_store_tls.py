"""The server on PostgreSQL over TLS: ``sslmode=require`` encrypts every connection it
holds (as the database sees them), ``verify-full`` with a root that did not sign the
database's certificate stops the server with a clear message instead of falling back to
plain TCP, and an unknown ``sslmode`` is refused."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from conftest import Server, free_port, pg_base_url, pg_store_url, psql, steward_bin


def tls_on(base: str) -> bool:
    out = subprocess.run(["psql", base, "-X", "-At", "-c", "SHOW ssl"], capture_output=True, text=True, timeout=30)
    return out.returncode == 0 and out.stdout.strip() == "on"


@pytest.fixture
def pg_base():
    base = pg_base_url()
    if not base:
        pytest.skip("PostgreSQL is not configured (STEWARD_TEST_PG_URL)")
    if not tls_on(base):
        pytest.skip("the test PostgreSQL server has no TLS")
    return base


def connections(base: str) -> tuple[int, int]:
    """(encrypted, all) client connections to the database, besides psql's own."""
    sql = (
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s "
        "JOIN pg_stat_activity a ON a.pid = s.pid "
        "WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()"
    )
    out = subprocess.run(["psql", base, "-X", "-At", "-c", sql], capture_output=True, text=True, timeout=30)
    encrypted, total = (int(x) for x in out.stdout.strip().split("|"))
    return encrypted, total


def test_the_server_runs_over_tls_when_the_store_url_asks(tmp_path: Path, pg_base: str):
    schema = "t_" + secrets.token_hex(6)
    url = pg_store_url(pg_base, schema) + "&sslmode=require"
    srv = Server(tmp_path / "data", backend="postgres", store_url=url,
                 on_close=lambda: psql(pg_base, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', check=False))
    before, _ = connections(pg_base)
    try:
        srv.start()
        ssm = srv.ssm()
        ssm.put_parameter(Name="/tls/check", Value="over tls", Type="SecureString")
        assert ssm.get_parameter(Name="/tls/check", WithDecryption=True)["Parameter"]["Value"] == "over tls"
        encrypted, total = connections(pg_base)
        assert encrypted > before, (before, encrypted, total)
    finally:
        srv.close()


@pytest.mark.parametrize(
    "suffix, message",
    [
        ("&sslmode=verify-full&sslrootcert={other}", "invalid peer certificate"),
        ("&sslmode=verify-full", "need sslrootcert"),
        ("&sslmode=sometimes", "is not one of disable, prefer, require, verify-ca, verify-full"),
    ],
)
def test_bad_tls_store_urls_stop_the_server(tmp_path: Path, pg_base: str, suffix: str, message: str):
    other = Path(__file__).parents[2] / "crates" / "store" / "src" / "testdata" / "other-ca.pem"
    schema = "t_" + secrets.token_hex(6)
    url = pg_store_url(pg_base, schema) + suffix.format(other=other)
    proc = subprocess.run(
        [str(steward_bin()), "server", "--data-dir", str(tmp_path / "data"), "--listen",
         f"127.0.0.1:{free_port()}", "--store", url],
        capture_output=True, text=True, timeout=60,
    )
    psql(pg_base, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', check=False)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
