"""Outbound calls cannot be aimed at the inside: a webhook (or a Run Command notification)
to the cloud metadata address is refused at connection time — the name resolved once and
the address checked — while the same server still delivers to an ordinary receiver; an
operator's ``--outbound-deny`` range is refused; a bad range stops the server."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from conftest import free_port, steward_bin, wait_until
from test_events import Receiver

METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


def change_a_parameter(server) -> str:
    name = f"/outbound/{time.monotonic_ns()}"
    server.ssm().put_parameter(Name=name, Value="v", Type="String")
    return name


def test_metadata_is_refused_and_ordinary_receivers_still_get_events(server_factory):
    ok = Receiver()
    srv = server_factory(extra_args=("--webhook", METADATA, "--webhook", ok.url))
    name = change_a_parameter(srv)
    wait_until(lambda: ok.about(name), 15, "the ordinary receiver gets the event")
    wait_until(
        lambda: "Delivery refused by the outbound rules" in srv.log_text() and "169.254.169.254 is link-local" in srv.log_text(),
        15,
        "the metadata delivery refused, with the reason in the log",
    )


def test_an_operator_deny_range_is_refused(server_factory):
    hook = Receiver()
    srv = server_factory(extra_args=("--webhook", hook.url, "--outbound-deny", "127.0.0.0/8"))
    change_a_parameter(srv)
    wait_until(
        lambda: "127.0.0.1 is in a range the operator denies" in srv.log_text(),
        15,
        "the delivery refused by the operator's range",
    )
    time.sleep(1)
    assert hook.snapshot() == [], "nothing reached the denied receiver"


def test_a_bad_range_stops_the_server(tmp_path: Path):
    proc = subprocess.run(
        [str(steward_bin()), "server", "--data-dir", str(tmp_path / "data"), "--listen",
         f"127.0.0.1:{free_port()}", "--outbound-deny", "10.0.0.0/33"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "bad prefix length" in proc.stderr, proc.stderr
