"""Faults that must end on their own, in real processes: an import's or an API supervisor's
parent killed takes its workers with it; a second API on a port already served is refused;
`serve` starts its embedded PostgreSQL again when the postmaster was killed."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from click.testing import CliRunner
from servers import wait_healthy

from ledger_collect.api.auth import issue_token
from ledger_collect.cli import cli
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database


def ledger_collect(settings: Settings, *args: str,
                   application: str = "ledger-collect") -> subprocess.Popen[str]:
    """``ledger-collect ARGS`` on the test's store; ``application``: the application_name of
    its (and its workers') psycopg connections, to tell them from other sessions."""
    env = {**os.environ, "LEDGER_DATABASE_URL": settings.database_url or "",
           "LEDGER_SCHEMA": settings.schema, "LEDGER_MASTER_KEY": settings.master_key or "",
           "LEDGER_DATA_DIR": str(settings.data_dir), "LEDGER_JWT_SECRET": "s" * 40,
           "PGAPPNAME": application}
    return subprocess.Popen([sys.executable, "-m", "ledger_collect.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def spawned_children(pid: int) -> set[int]:
    """The processes ``pid`` started with multiprocessing's spawn."""
    found = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent = int(Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()[1])
            spawned = b"spawn_main" in Path(f"/proc/{entry}/cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if parent == pid and spawned:
            found.add(int(entry))
    return found


def running(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies left to a container's init do not count)."""
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            alive.add(pid)
    return alive


def wait_until_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while running(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return running(pids)


def connections_of(url: str, application: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            (application,)).fetchone()[0]


def events(database: Database) -> int:
    with database.connect() as conn:
        return conn.execute("SELECT count(*) FROM collections_events").fetchone()[0]


# -- the import ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_killing_a_parallel_import_late_ends_its_workers_and_their_connections(
        database: Database, settings: Settings, tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    assert CliRunner().invoke(cli, ["demo-data", "--customers", "600", "--as-of", "2026-11-23",
                                    "--output", str(feed)]).exit_code == 0
    whole = ledger_collect(settings, "import", str(feed), "--jobs", "2")
    whole.communicate(timeout=180)
    final = events(database)
    with database.connect() as conn:  # the same store again, empty
        conn.execute("TRUNCATE collections_events")

    application = f"lc-import-{uuid.uuid4().hex[:8]}"
    victim = ledger_collect(settings, "import", str(feed), "--jobs", "2", "--batch-size", "50",
                            application=application)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        while victim.poll() is None and time.monotonic() < deadline:
            workers |= spawned_children(victim.pid)
            if events(database) >= final * 0.9:  # late: a part may be done, its worker waiting
                held = connections_of(settings.database_url, application)
                victim.kill()
                break
            time.sleep(0.01)
        assert victim.wait(timeout=30) == -signal.SIGKILL, "the import ended before the kill"
        assert len(workers) == 2 and held >= 3  # the parent's and each worker's

        assert wait_until_gone(workers, 5) == set()
        deadline = time.monotonic() + 5
        while connections_of(settings.database_url, application) and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        assert connections_of(settings.database_url, application) == 0
    finally:
        for pid in running(workers):  # a failed test leaves no orphan behind
            os.kill(pid, signal.SIGKILL)


# -- the API -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_a_second_api_on_a_served_port_is_refused_and_killing_the_first_ends_its_workers(
        database: Database, settings: Settings) -> None:
    port = free_port()
    first = ledger_collect(settings, "api", "--workers", "2", "--port", str(port))
    workers: set[int] = set()
    try:
        wait_healthy(f"http://127.0.0.1:{port}", first)
        deadline = time.monotonic() + 30
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = spawned_children(first.pid)
            time.sleep(0.2)
        assert len(workers) == 2

        for args in (("--workers", "2"), ()):
            second = ledger_collect(settings, "api", *args, "--port", str(port))
            try:
                _, err = second.communicate(timeout=30)
            finally:
                second.kill()
            assert second.returncode != 0, err
            assert "address already in use" in err.lower(), err

        first.kill()  # no chance to stop anyone
        first.wait(timeout=10)
        assert wait_until_gone(workers, 10) == set()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    finally:
        first.kill()
        for pid in running(workers):
            os.kill(pid, signal.SIGKILL)


# -- the embedded server under serve --------------------------------------------------------------
def _postmaster(data: Path) -> int:
    return int((data / "pgdata" / "postmaster.pid").read_text().split()[0])


@pytest.mark.slow
def test_serve_starts_its_embedded_postgres_again_when_the_postmaster_is_killed() -> None:
    data = Path(tempfile.mkdtemp(prefix="lc-serve-", dir="/tmp"))  # reachable by its user
    data.chmod(0o755)
    port = free_port()
    env = {**os.environ, "LEDGER_DATA_DIR": str(data), "LEDGER_JWT_SECRET": "s" * 40}
    env.pop("LEDGER_DATABASE_URL", None)
    serve = subprocess.Popen([sys.executable, "-m", "ledger_collect.cli", "serve", "--port",
                              str(port), "--demo-customers", "0"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    token = issue_token(Settings(jwt_secret="s" * 40), "root", "admin")
    query = {"query": "{ customers(first: 1) { nodes { id } } }"}
    try:
        wait_healthy(base, serve)
        postmaster = _postmaster(data)
        os.kill(postmaster, signal.SIGKILL)
        time.sleep(0.5)
        first = httpx.get(f"{base}/health", timeout=5).status_code
        # /health queries the database: 503 while it is down; 200 only once a new postmaster
        # answers (on a loaded machine the restart can beat the first look)
        assert first == 503 or (first == 200 and _postmaster(data) != postmaster), first

        deadline = time.monotonic() + 30
        while True:
            answer = httpx.post(f"{base}/graphql", json=query, timeout=10,
                                headers={"Authorization": f"Bearer {token}"})
            health = httpx.get(f"{base}/health", timeout=5)
            if health.status_code == 200 and "errors" not in answer.json():
                break
            assert time.monotonic() < deadline, (health.text, answer.text)
            time.sleep(0.5)
        assert answer.json() == {"data": {"customers": {"nodes": []}}}
        assert _postmaster(data) != postmaster
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            _, err = serve.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
            _, err = serve.communicate()
        pid_file = data / "pgdata" / "postmaster.pid"
        if pid_file.exists():  # a failed test must not leak a server
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
                time.sleep(1)
        shutil.rmtree(data, ignore_errors=True)
    assert serve.returncode == 0, err
