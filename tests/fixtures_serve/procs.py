"""Start and stop the processes the serve tests need; every start has a matching stop."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
DEMO_CASE = REPO / "evals" / "cases" / "demo" / "shop-bad-deploy"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
TOKENS = {
    "admin": "admin-token-0123456789abcdef",
    "alice": "alice-approver-token-0123456789",
    "victor": "victor-viewer-token-0123456789",
    "alertmanager": "am-responder-token-0123456789",
}
TOKEN_ENV = "admin:admin:{admin},alice:approver:{alice},victor:viewer:{victor},alertmanager:responder:{alertmanager}".format(**TOKENS)


def auth(name: str) -> dict[str, str]:
    """The Authorization header of one of the test tokens."""
    return {"Authorization": f"Bearer {TOKENS[name]}"}


def decision_body(pending: dict, decision: str = "approve", comment: str = "") -> dict:
    """An approval body bound to the pending gate (what the web console sends)."""
    return {"decision": decision, "gate_id": pending["gate_id"], "params_hash": pending["params_hash"], "comment": comment}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll `check()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class ServerProcess:
    """A `python -m lumos.app.server` subprocess on a loopback port."""

    def __init__(self, home: Path, *, env: dict[str, str] | None = None, port: int | None = None, log: Path | None = None,
                 config: Path | None = None):
        self.config = config
        """When given, the server is started as `lumos serve --config FILE` (the CLI) instead of `python -m lumos.app.server`."""
        self.home = home
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or home.parent / f"serve-{self.port}.log"
        self.env = {**os.environ, "LUMOS_HOME": str(home), "LUMOS_API_TOKENS": TOKEN_ENV, "LUMOS_POLL_S": "0.1", **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "ServerProcess":
        """Start and wait until /healthz answers."""
        handle = open(self.log, "ab")
        listen = ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        command = ([sys.executable, "-c", "from lumos.app.cli import main; main()", "serve", "--config", str(self.config), *listen]
                   if self.config else [sys.executable, "-m", "lumos.app.server", *listen])
        self.proc = subprocess.Popen(
            command,
            env=self.env, stdout=handle, stderr=subprocess.STDOUT, cwd=str(REPO), start_new_session=True,
        )
        handle.close()

        def healthy() -> bool:
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200

        wait_until(healthy, timeout, what=f"server on {self.url}")
        return self

    def kill9(self) -> None:
        """SIGKILL the server (no shutdown handlers run)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop within 15 s."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()


def postgres_missing() -> str | None:
    """Why a private Postgres cannot be started here, or None."""
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL 15 is not installed ({PG_BIN}/initdb missing; apt-get install postgresql-15)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser is needed to run Postgres as user postgres"
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
        import langgraph.checkpoint.postgres  # noqa: F401
    except ImportError as exc:
        return f"Postgres client libraries missing: {exc} (pip install psycopg[binary] psycopg-pool langgraph-checkpoint-postgres)"
    return None


@contextmanager
def private_postgres() -> Iterator[str]:
    """An initdb cluster in a fresh /tmp folder on a free loopback port; yields its URL, then stops and removes it."""
    base = Path(tempfile.mkdtemp(prefix="lumos-pg-"))
    os.chmod(base, 0o755)
    data, sock = base / "pgdata", base / "pgsock"
    sock.mkdir(exist_ok=True)
    as_pg: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    log = base / "postgres.log"
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off -c max_connections=200"
    try:
        _run([*as_pg, str(PG_BIN / "initdb"), "-D", str(data), "-U", "lumos", "--auth=trust", "-E", "UTF8"], 60)
        _run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"], 90)
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    try:
        url = f"postgresql://lumos@127.0.0.1:{port}/postgres"
        yield url
    finally:
        subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _run(cmd: list[str], timeout: float) -> None:
    """Run a command; on failure raise with its output."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stdout[-1500:]} {done.stderr[-1500:]}")


def reset_postgres(url: str) -> None:
    """Drop every table (a clean database between tests)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
