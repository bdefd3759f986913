"""End-to-end harness for the steward server.

Starts the real ``steward`` binary (``$STEWARD_BIN`` or ``<repo>/target/debug/steward``)
on a free loopback port with its own data directory, and talks to it with boto3,
the ``aws`` CLI and raw signed HTTP requests.

One server is started per test module and per storage backend (``sqlite`` and
``postgres``; the latter only when ``STEWARD_TEST_PG_URL`` is set).  Tests that
share a server keep out of each other's way by using the ``fresh`` fixture to
build unique parameter names.

Managed-node tests also start ``steward-agent`` processes (``$STEWARD_AGENT_BIN`` or
``<repo>/target/debug/steward-agent``), each with its own state directory, through the
``agent_factory`` fixture; every agent (and any script it left running) is stopped at
module end, and at interpreter exit as a last resort.

Helpers meant for test modules (``Server``, ``Agent``, ``raises_aws``, ``collect`` ...)
live in this file; test modules import them with ``from conftest import ...``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
BACKENDS = ["sqlite", "postgres"]
PG_ENV = "STEWARD_TEST_PG_URL"

ADMIN_ENV_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ENDPOINT_URL_KMS",
)

# The three-node fleet the fleet and command modules share: tags differ so targeting can
# pick subsets; a one-second heartbeat keeps ping-status transitions quick.
FLEET_HEARTBEAT = 1
FLEET_TAGS = {
    "n0": {"env": "prod", "role": "web", "team": "alpha"},
    "n1": {"env": "dev", "role": "web"},
    "n2": {"env": "prod", "role": "db"},
}

STARTUP_TIMEOUT = float(os.environ.get("STEWARD_TEST_STARTUP_TIMEOUT", "60"))
SHUTDOWN_TIMEOUT = 20.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: waits on server-side timers (parameter policies, command delivery timeouts); still runs by default"
    )


# --------------------------------------------------------------------------- #
# binary / ports / postgres
# --------------------------------------------------------------------------- #


def steward_bin() -> Path:
    env = os.environ.get("STEWARD_BIN")
    return Path(env) if env else REPO_ROOT / "target" / "debug" / "steward"


def agent_bin() -> Path:
    env = os.environ.get("STEWARD_AGENT_BIN")
    return Path(env) if env else REPO_ROOT / "target" / "debug" / "steward-agent"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_base_url() -> str | None:
    url = os.environ.get(PG_ENV, "").strip()
    return url or None


def pg_store_url(base: str, schema: str) -> str:
    return f"{base}{'&' if '?' in base else '?'}schema={schema}"


def psql(base: str, sql: str, *, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["psql", base, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"psql failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


# --------------------------------------------------------------------------- #
# admin.env
# --------------------------------------------------------------------------- #


def parse_admin_env(text: str) -> dict[str, str]:
    """Parse ``export KEY=VALUE`` lines without executing anything."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        key, sep, value = line.partition("=")
        if not sep:
            continue
        parts = shlex.split(value) if value else [""]
        out[key.strip()] = parts[0] if parts else ""
    return out


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #


class AwsCliError(Exception):
    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str):
        self.cli_args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(f"aws {' '.join(args)} exited {returncode}: {stderr.strip()}")


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_status(exc: ClientError) -> int:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


def check_client_error(exc: BaseException, *codes: str, status: int = 400) -> ClientError:
    assert isinstance(exc, ClientError), f"expected a ClientError, got {type(exc).__name__}: {exc}"
    code = error_code(exc)
    st = error_status(exc)
    msg = exc.response.get("Error", {}).get("Message", "")
    assert code in codes, f"expected error code in {codes}, got {code!r} (HTTP {st}): {msg}"
    assert st == status, f"expected HTTP {status} for {code}, got {st}: {msg}"
    return exc


@contextlib.contextmanager
def raises_aws(*codes: str, status: int = 400) -> Iterator[Any]:
    """``with raises_aws("ParameterNotFound"): ssm.get_parameter(...)``.

    Asserts a botocore ClientError whose code is one of ``codes`` and whose HTTP
    status is ``status`` (400 by default: bad input must never produce a 5xx).
    """
    with pytest.raises(ClientError) as excinfo:
        yield excinfo
    check_client_error(excinfo.value, *codes, status=status)


def collect(
    method: Callable[..., dict],
    result_key: str,
    *,
    token_in: str = "NextToken",
    token_out: str = "NextToken",
    max_pages: int = 2000,
    **kwargs: Any,
) -> list:
    """Follow pagination tokens and concatenate ``result_key`` lists."""
    items: list = []
    token = None
    for _ in range(max_pages):
        args = dict(kwargs)
        if token:
            args[token_in] = token
        page = method(**args)
        items.extend(page.get(result_key, []))
        token = page.get(token_out)
        if not token:
            return items
    raise AssertionError(f"pagination did not terminate after {max_pages} pages")


# --------------------------------------------------------------------------- #
# the server
# --------------------------------------------------------------------------- #

_LIVE: set["Server"] = set()


@atexit.register
def _kill_leftovers() -> None:
    for srv in list(_LIVE):
        with contextlib.suppress(Exception):
            srv.kill9()


class Server:
    """One steward process bound to one data directory (and optional store URL).

    The process can be stopped, killed and started again on the same data
    directory, store and port.  Server output (stdout and stderr) is appended to
    ``<data_dir>/server.log`` once the server has created its data directory
    (lines printed before that are kept in memory and written first).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        backend: str = "sqlite",
        store_url: str | None = None,
        dev: bool = False,
        account_id: str = ACCOUNT_ID,
        region: str = REGION,
        extra_args: tuple[str, ...] = (),
        on_close: Callable[[], None] | None = None,
        tls: bool = False,
    ):
        self.data_dir = Path(data_dir)
        self.tls = tls
        self.backend = backend
        self.store_url = store_url
        self.dev = dev
        self.account_id = account_id
        self.region = region
        self.extra_args = tuple(extra_args)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.admin: dict[str, str] = {}
        self._on_close = on_close
        self._log_lock = threading.Lock()
        self._pending: list[bytes] = []
        self._all_output: list[bytes] = []
        self._reader: threading.Thread | None = None
        self._clients: dict[tuple, Any] = {}
        # config files that must not exist, so the user's ~/.aws never leaks in
        self._no_config = self.data_dir.parent / f".{self.data_dir.name}-no-aws-config"

    # ----------------------------------------------------------------- paths
    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def admin_env_path(self) -> Path:
        return self.data_dir / "admin.env"

    @property
    def url(self) -> str:
        assert self.port is not None, "server was never started"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def ca_path(self) -> Path:
        """The server's own certificate authority (written when TLS is on)."""
        return self.data_dir / "tls" / "ca.pem"

    def _ssl_context(self):
        import ssl

        return ssl.create_default_context(cafile=str(self.ca_path)) if self.tls else None

    @property
    def access_key(self) -> str:
        return self.admin["AWS_ACCESS_KEY_ID"]

    @property
    def secret_key(self) -> str:
        return self.admin["AWS_SECRET_ACCESS_KEY"]

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        cmd = [
            str(steward_bin()),
            "server",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--data-dir",
            str(self.data_dir),
            "--account-id",
            self.account_id,
            "--region",
            self.region,
        ]
        if self.store_url:
            cmd += ["--store", self.store_url]
        if self.dev:
            cmd.append("--dev")
        if self.tls:
            cmd += ["--tls", "on"]
        cmd += list(self.extra_args)
        return cmd

    # ------------------------------------------------------------------- log
    def _pump(self, stream) -> None:
        for line in iter(stream.readline, b""):
            with self._log_lock:
                self._all_output.append(line)
                self._pending.append(line)
                self._flush_pending()
        with self._log_lock:
            self._flush_pending(force=False)
        stream.close()

    def _flush_pending(self, force: bool = False) -> None:
        if not self._pending:
            return
        if not self.data_dir.is_dir():
            if not force:
                return
            self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as f:
            f.writelines(self._pending)
        self._pending.clear()

    def log_text(self) -> str:
        with self._log_lock:
            self._flush_pending()
            return b"".join(self._all_output).decode("utf-8", "replace")

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def _write_marker(self, text: str) -> None:
        line = f"----- e2e harness: {text} -----\n".encode()
        with self._log_lock:
            self._all_output.append(line)
            self._pending.append(line)
            self._flush_pending()

    # ------------------------------------------------------------- lifecycle
    def start(self, timeout: float = STARTUP_TIMEOUT) -> "Server":
        binary = steward_bin()
        if not binary.exists():
            raise RuntimeError(
                f"steward binary not found at {binary}; build it (cargo build) or set STEWARD_BIN"
            )
        assert not self.running, "server already running"
        if self.port is None:
            self.port = free_port()
        try:
            self._spawn_and_wait(timeout)
        except _EarlyExit:
            # most likely the port was taken while we were down: try a new one once
            self.port = free_port()
            self._spawn_and_wait(timeout)
        return self

    def _spawn_and_wait(self, timeout: float) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.setdefault("RUST_BACKTRACE", "1")
        self._write_marker(f"start {' '.join(shlex.quote(c) for c in self.command())}")
        self._clients.clear()
        self.proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        _LIVE.add(self)
        self._reader = threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True)
        self._reader.start()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        last_err = "no attempt"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self._join_reader()
                tail = self.log_tail()
                if time.monotonic() - started < 5 and "addr" in tail.lower() and "in use" in tail.lower():
                    raise _EarlyExit(tail)
                raise RuntimeError(f"steward exited with code {rc} during startup; log:\n{tail}")
            try:
                context = self._ssl_context() if self.tls and self.ca_path.exists() else None
                if self.tls and context is None:
                    time.sleep(0.05)
                    continue
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2, context=context) as resp:
                    if resp.status == 200 and self._load_admin_env():
                        return
                    last_err = f"healthz {resp.status}, admin.env present: {self.admin_env_path.exists()}"
            except (urllib.error.URLError, ConnectionError, OSError) as e:
                last_err = str(e)
            time.sleep(0.05)
        self.kill9()
        raise RuntimeError(
            f"steward not ready after {timeout}s ({last_err}); log:\n{self.log_tail()}"
        )

    def _load_admin_env(self) -> bool:
        try:
            text = self.admin_env_path.read_text()
        except FileNotFoundError:
            return False
        parsed = parse_admin_env(text)
        if not all(parsed.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")):
            return False
        self.admin = parsed
        return True

    def _join_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = SHUTDOWN_TIMEOUT) -> int:
        """Graceful stop; returns the exit code.  Fails if it does not exit in time."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self._write_marker(f"sending signal {sig}")
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._after_exit()
                raise AssertionError(
                    f"steward did not exit within {timeout}s of signal {sig}; log:\n{self.log_tail()}"
                )
        return self._after_exit()

    def kill9(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._write_marker("killed with SIGKILL")
        return self._after_exit()

    def _after_exit(self) -> int:
        rc = self.proc.returncode if self.proc else 0
        self._join_reader()
        _LIVE.discard(self)
        self._clients.clear()
        return rc

    def restart(self, sig: int = signal.SIGTERM) -> int:
        rc = self.stop(sig)
        self.start()
        return rc

    def ensure_running(self) -> None:
        if not self.running:
            if self.proc is not None:
                self._after_exit()
            self.start()

    def close(self) -> None:
        try:
            if self.running:
                self.stop()
        except AssertionError:
            pass
        finally:
            if self.proc is not None and self.proc.poll() is None:
                self.kill9()
            if self._on_close:
                self._on_close()

    # ------------------------------------------------------------- clients
    def env(self, *, admin_env_only: bool = False) -> dict[str, str]:
        """Environment for subprocesses (aws CLI) talking to this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.admin)
        if not admin_env_only:
            env.update(
                AWS_ENDPOINT_URL=self.url,
                AWS_ENDPOINT_URL_SSM=self.url,
                AWS_ENDPOINT_URL_KMS=self.url,
                AWS_REGION=self.region,
                AWS_DEFAULT_REGION=self.region,
            )
        if self.tls:
            env["AWS_CA_BUNDLE"] = str(self.ca_path)
        env.update(
            AWS_CONFIG_FILE=str(self._no_config),
            AWS_SHARED_CREDENTIALS_FILE=str(self._no_config),
            AWS_EC2_METADATA_DISABLED="true",
            AWS_PAGER="",
            AWS_MAX_ATTEMPTS="1",
            AWS_RETRY_MODE="standard",
        )
        return env

    def client(
        self,
        service: str,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        validate: bool = True,
    ):
        key = (service, access_key, secret_key, validate, self.port)
        if key not in self._clients:
            self._clients[key] = boto3.session.Session(
                aws_access_key_id=access_key or self.access_key,
                aws_secret_access_key=secret_key or self.secret_key,
                region_name=self.region,
            ).client(
                service,
                endpoint_url=self.url,
                verify=str(self.ca_path) if self.tls else None,
                config=Config(
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    connect_timeout=10,
                    read_timeout=60,
                    parameter_validation=validate,
                ),
            )
        return self._clients[key]

    def ssm(self, **kw):
        return self.client("ssm", **kw)

    def kms(self, **kw):
        return self.client("kms", **kw)

    def aws(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Any:
        """Run the real aws CLI against this server; parsed JSON output (None if empty)."""
        argv = [str(a) for a in args]
        proc = subprocess.run(
            ["aws", *argv, "--output", "json"],
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise AwsCliError(argv, proc.returncode, proc.stdout, proc.stderr)
        out = proc.stdout.strip()
        return json.loads(out) if out else None

    def advance_clock(self, seconds: float) -> int:
        """Moves the server's clock forward (servers started with ``--test-clock``, which only
        the test build has); returns the server's new time in epoch milliseconds."""
        body = json.dumps({"advance_seconds": int(seconds)}).encode()
        req = urllib.request.Request(
            f"{self.url}/steward-test/clock", data=body, headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10, context=self._ssl_context()) as resp:
                return json.loads(resp.read())["now_ms"]
        except urllib.error.HTTPError as e:
            raise AssertionError(
                f"the test clock answered {e.code}: start the server with --test-clock, from a "
                "binary built by `make build` (the test-clock feature)"
            ) from e

    def __repr__(self) -> str:
        return f"<Server {self.backend} {self.url if self.port else '-'} {self.data_dir}>"


class _EarlyExit(Exception):
    pass


# --------------------------------------------------------------------------- #
# agents
# --------------------------------------------------------------------------- #

_LIVE_AGENTS: set["Agent"] = set()

REGISTERED_RE = re.compile(r"Registered as (mi-[0-9a-f]{17}) in account (\d{12}) \(([a-z0-9-]+)\)\.")


@atexit.register
def _kill_leftover_agents() -> None:
    for agent in list(_LIVE_AGENTS):
        with contextlib.suppress(Exception):
            agent.close()


def wait_until(
    predicate: Callable[[], Any], timeout: float, what: str, *, interval: float = 0.2
) -> Any:
    """Polls ``predicate`` until it returns something truthy (returned) or fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def pgrep(pattern: str) -> list[int]:
    """Pids whose full command line contains ``pattern`` (a fixed string, not a regex)."""
    proc = subprocess.run(
        ["pgrep", "-f", re.escape(pattern)], capture_output=True, text=True, timeout=10
    )
    return [int(x) for x in proc.stdout.split() if x.strip().isdigit() and int(x) != os.getpid()]


class Agent:
    """One ``steward-agent`` identity: a state directory, and at most one ``run`` process.

    ``register`` runs ``steward-agent register``; ``start`` runs ``steward-agent run`` in the
    background with its log (stdout and stderr) appended to ``<base>/agent.log``.  ``env``
    adds environment variables to the agent process, which the scripts it runs inherit.
    """

    def __init__(self, base_dir: Path, name: str, *, env: dict[str, str] | None = None):
        self.name = name
        self.base = Path(base_dir)
        self.state_dir = self.base / "state"
        self.log_path = self.base / "agent.log"
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        # The binary ``start`` runs (default: the build's); agent-update tests run a copy.
        self.binary: Path | None = None
        self.instance_id: str | None = None
        self.account: str | None = None
        self.region: str | None = None

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AWS_") and not k.startswith("STEWARD_AGENT")
        }
        env.update(self.extra_env)
        return env

    def _log(self, text: str) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as f:
            f.write(f"----- e2e harness: {text} -----\n")

    # ------------------------------------------------------------ register
    def register(
        self,
        server_url: str,
        activation_id: str,
        code: str,
        *,
        check: bool = True,
        state_dir: str | Path | None = None,
        cwd: Path | None = None,
        timeout: float = 60,
        ca_file: str | Path | None = None,
    ) -> subprocess.CompletedProcess:
        """``steward-agent --state-dir DIR register``; sets ``instance_id`` on success."""
        argv = [
            str(agent_bin()),
            "--state-dir",
            str(state_dir if state_dir is not None else self.state_dir),
            "register",
            "--server",
            server_url,
            "--code",
            code,
            "--id",
            activation_id,
        ]
        if ca_file is not None:
            argv += ["--ca-file", str(ca_file)]
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env=self.env(),
            cwd=cwd,
        )
        self._log(f"register exited {proc.returncode}: {proc.stdout.strip()} {proc.stderr.strip()}")
        if proc.returncode == 0:
            m = REGISTERED_RE.search(proc.stdout)
            assert m, f"unexpected register output: {proc.stdout!r}"
            self.instance_id, self.account, self.region = m.group(1), m.group(2), m.group(3)
        elif check:
            raise AssertionError(
                f"steward-agent register exited {proc.returncode}: {proc.stdout}{proc.stderr}"
            )
        return proc

    # ------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, *, state_dir: str | Path | None = None, cwd: Path | None = None) -> "Agent":
        binary = self.binary or agent_bin()
        if not binary.exists():
            raise RuntimeError(
                f"steward-agent binary not found at {binary}; build it or set STEWARD_AGENT_BIN"
            )
        assert not self.running, f"agent {self.name} already running"
        argv = [
            str(binary),
            "--state-dir",
            str(state_dir if state_dir is not None else self.state_dir),
            "run",
        ]
        self._log(f"start {' '.join(shlex.quote(a) for a in argv)}")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(),
                cwd=cwd,
                start_new_session=True,
            )
        _LIVE_AGENTS.add(self)
        return self

    def wait_exit(self, timeout: float) -> int | None:
        """The exit code, or None if still running after ``timeout``."""
        if self.proc is None:
            return None
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._log(f"exited with {rc}")
        _LIVE_AGENTS.discard(self)
        return rc

    def signal(self, sig: int) -> None:
        assert self.running, f"agent {self.name} is not running"
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM (SIGKILL if it lingers); returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self._log("sending SIGTERM")
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGCONT)
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        _LIVE_AGENTS.discard(self)
        return self.proc.returncode

    def kill9(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self._log("sending SIGKILL")
            self.proc.kill()
            self.proc.wait()
        _LIVE_AGENTS.discard(self)
        return self.proc.returncode

    def orphans(self) -> list[int]:
        """Pids of processes (scripts) whose working directory is under this agent's state dir."""
        root = str(self.state_dir.resolve())
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if cwd == root or cwd.startswith(root + "/"):
                pids.append(int(entry.name))
        return pids

    def kill_orphans(self) -> None:
        """Kills the scripts this agent started that outlived it (they run in their own groups)."""
        for pid in self.orphans():
            if self.running and pid == self.proc.pid:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self.kill_orphans()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def __repr__(self) -> str:
        return f"<Agent {self.name} {self.instance_id or '-'} {self.state_dir}>"


def instance_info(ssm, instance_id: str) -> dict | None:
    """The node's DescribeInstanceInformation entry, or None."""
    page = ssm.describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": [instance_id]}]
    )
    for info in page.get("InstanceInformationList", []):
        if info["InstanceId"] == instance_id:
            return info
    return None


def wait_ping(ssm, instance_ids: list[str] | str, status: str, timeout: float = 20) -> None:
    """Waits until every node's PingStatus is ``status``."""
    ids = [instance_ids] if isinstance(instance_ids, str) else list(instance_ids)
    last: dict = {}

    def probe():
        nonlocal last
        last = {i: (instance_info(ssm, i) or {}).get("PingStatus") for i in ids}
        return all(v == status for v in last.values())

    try:
        wait_until(probe, timeout, f"PingStatus {status} of {ids}", interval=0.2)
    except AssertionError:
        raise AssertionError(f"PingStatus not {status} within {timeout}s: {last}") from None


def create_activation(ssm, *, name: str, tags: dict[str, str] | None = None, limit: int = 1,
                      role: str = "E2ENodeRole", **kw) -> tuple[str, str]:
    """CreateActivation; returns (ActivationId, ActivationCode)."""
    args: dict[str, Any] = dict(IamRole=role, RegistrationLimit=limit, DefaultInstanceName=name, **kw)
    if tags:
        args["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    out = ssm.create_activation(**args)
    return out["ActivationId"], out["ActivationCode"]


class Fleet:
    """Connected nodes for a test module: one activation and one running agent per name."""

    def __init__(self) -> None:
        self.agents: list[Agent] = []
        self.by_name: dict[str, Agent] = {}
        self.activation: dict[str, str] = {}
        self.role: dict[str, str] = {}
        self.registered: dict[str, tuple[float, float]] = {}
        self.register_stdout: dict[str, str] = {}

    def __getitem__(self, name: str) -> Agent:
        return self.by_name[name]

    def id(self, name: str) -> str:
        return self.by_name[name].instance_id

    @property
    def ids(self) -> list[str]:
        return [a.instance_id for a in self.agents]

    def name_of(self, instance_id: str) -> str:
        return next(a.name for a in self.agents if a.instance_id == instance_id)

    def ensure_up(self, ssm, timeout: float = 30) -> None:
        """Restarts any agent a failed test left stopped (or frozen); waits until all are Online."""
        for a in self.agents:
            if a.proc is not None and a.proc.poll() is not None:
                a.start()
            elif a.running:
                a.proc.send_signal(signal.SIGCONT)
        wait_ping(ssm, self.ids, "Online", timeout=timeout)


def start_fleet(
    server: "Server",
    agent_factory: Callable[..., Agent],
    tags_by_name: dict[str, dict[str, str]],
    *,
    env_for: Callable[[str], dict[str, str]] | None = None,
) -> Fleet:
    """Registers and starts one agent per name (activation ``e2e-NAME``, role ``E2ERole-NAME``,
    the given tags) and waits until all are Online."""
    ssm = server.ssm()
    fleet = Fleet()
    for name, tags in tags_by_name.items():
        role = f"E2ERole-{name}"
        act_id, code = create_activation(
            ssm, name=f"e2e-{name}", tags=tags, role=role, Description=f"fleet node {name}"
        )
        agent = agent_factory(name, env=env_for(name) if env_for else None)
        before = time.time()
        proc = agent.register(server.url, act_id, code)
        after = time.time()
        fleet.agents.append(agent)
        fleet.by_name[name] = agent
        fleet.activation[name] = act_id
        fleet.role[name] = role
        fleet.registered[name] = (before, after)
        fleet.register_stdout[name] = proc.stdout
        agent.start()
    wait_ping(ssm, fleet.ids, "Online", timeout=30)
    return fleet


# --------------------------------------------------------------------------- #
# server construction for fixtures
# --------------------------------------------------------------------------- #


def make_server(backend: str, base_dir: Path, **kwargs: Any) -> Server:
    """Build (not start) a server for ``backend`` whose data dir is ``base_dir/data``.

    The data directory itself is left for the server to create.
    """
    data_dir = Path(base_dir) / "data"
    if backend == "sqlite":
        return Server(data_dir, backend=backend, **kwargs)
    if backend == "postgres":
        base = pg_base_url()
        if not base:
            pytest.skip(f"PostgreSQL backend skipped: {PG_ENV} is not set")
        if not shutil.which("psql"):
            pytest.fail(f"{PG_ENV} is set but psql is not installed (needed to drop test schemas)")
        schema = "t_" + secrets.token_hex(6)

        def drop() -> None:
            psql(base, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', check=False)

        srv = Server(
            data_dir, backend=backend, store_url=pg_store_url(base, schema), on_close=drop, **kwargs
        )
        srv.pg_schema = schema  # type: ignore[attr-defined]
        srv.pg_base = base  # type: ignore[attr-defined]
        return srv
    raise ValueError(f"unknown backend {backend}")


@contextlib.contextmanager
def server_pair(backend: str, tmp_path_factory, extra_args: tuple[str, ...]) -> Iterator[tuple[Server, Server]]:
    """Two running servers sharing one PostgreSQL schema: (first, second). The second opens
    the first one's store with the first one's master key, so both serve the same root
    account with the same admin keys. Skips on SQLite, whose store two servers cannot share."""
    if backend != "postgres":
        pytest.skip("two servers can share a PostgreSQL store only")
    first = make_server(backend, tmp_path_factory.mktemp("pair-a"), extra_args=extra_args)
    second: Server | None = None
    try:
        first.start()
        second = Server(
            Path(tmp_path_factory.mktemp("pair-b")) / "data",
            backend=backend,
            store_url=first.store_url,
            extra_args=extra_args + ("--master-key-file", str(first.data_dir / "master.key")),
        )
        second.start()
        yield first, second
    finally:
        if second is not None:
            second.close()
        first.close()  # drops the schema


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the tail of each involved server's log to a failing test's report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        agents: list[Agent] = []
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, Server) and value.port is not None:
                state = "running" if value.running else "NOT RUNNING"
                rep.sections.append(
                    (f"steward log tail ({name}, {value.backend}, {state})", value.log_tail(40))
                )
            if isinstance(value, Agent):
                agents.append(value)
            for a in getattr(value, "agents", ()) or ():
                if isinstance(a, Agent):
                    agents.append(a)
        seen: set[int] = set()
        for a in agents:
            # only agents that ran (registration-only agents have nothing to say)
            if id(a) in seen or a.proc is None or len(seen) >= 8:
                continue
            seen.add(id(a))
            state = "running" if a.running else "not running"
            rep.sections.append((f"agent log tail ({a.name}, {a.instance_id}, {state})", a.log_tail(25)))


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request) -> str:
    if request.param == "postgres" and not pg_base_url():
        pytest.skip(
            f"PostgreSQL backend skipped: set {PG_ENV} (e.g. postgres://postgres@127.0.0.1:5432/test)"
        )
    return request.param


@pytest.fixture(scope="module")
def server_factory(backend, tmp_path_factory, request):
    """Start extra servers (same backend as ``server``); all are closed at module end."""
    started: list[Server] = []
    mod = request.module.__name__.rsplit(".", 1)[-1]

    def factory(**kwargs: Any) -> Server:
        base = tmp_path_factory.mktemp(f"{mod}-{backend}-extra")
        srv = make_server(backend, base, **kwargs)
        started.append(srv)
        return srv.start()

    yield factory
    for srv in reversed(started):
        srv.close()


@pytest.fixture(scope="module")
def agent_factory(backend, tmp_path_factory, request):
    """``agent_factory(name, env=None)`` makes an ``Agent`` (not registered, not started).

    Every agent made here is stopped, and the scripts it left behind killed, at module end.
    ``agent_factory.agents`` lists them (their logs are attached to failure reports).
    """
    made: list[Agent] = []
    mod = request.module.__name__.rsplit(".", 1)[-1]

    def factory(name: str, env: dict[str, str] | None = None) -> Agent:
        base = tmp_path_factory.mktemp(f"{mod}-{backend}-agent-{name}")
        agent = Agent(base, name, env=env)
        made.append(agent)
        return agent

    factory.agents = made  # type: ignore[attr-defined]
    yield factory
    for agent in reversed(made):
        with contextlib.suppress(Exception):
            agent.close()


@pytest.fixture(scope="module")
def server(server_factory) -> Server:
    """The module's server (one per module and backend)."""
    return server_factory()


@pytest.fixture
def ssm(server):
    return server.ssm()


@pytest.fixture
def kms(server):
    return server.kms()


class Fresh(str):
    """A unique top-level parameter path such as ``/e2e3f9a0c1b2d``.

    ``fresh("a", "b")`` gives ``/e2e3f9a0c1b2d/a/b``; ``fresh.plain("x")`` gives a
    name without slashes, ``e2e3f9a0c1b2d-x``; ``fresh.token`` is the bare token.
    """

    token: str

    def __new__(cls) -> "Fresh":
        token = "e2e" + secrets.token_hex(5)
        obj = super().__new__(cls, "/" + token)
        obj.token = token
        return obj

    def __call__(self, *parts: str) -> str:
        return "/".join([str(self), *parts])

    def plain(self, suffix: str = "") -> str:
        return f"{self.token}-{suffix}" if suffix else self.token


@pytest.fixture
def fresh() -> Fresh:
    return Fresh()


@pytest.fixture
def make_fresh() -> Callable[[], Fresh]:
    return Fresh
