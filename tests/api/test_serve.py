"""The real thing: ``serve`` runs uvicorn on 127.0.0.1, answers over TCP, and on SIGTERM stops
gracefully and returns to its caller (whose cleanup then runs) with exit status 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from api.helpers import SECRET
from ledger_collect.api.auth import issue_token
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database

SCRIPT = """
from ledger_collect.app import serve_api
from ledger_collect.config import Settings
serve_api(Settings.from_env(), "127.0.0.1", {port}, log_level="info")
print("serve returned", flush=True)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_serve_answers_over_tcp_and_stops_cleanly_on_sigterm(
        api_settings: Settings, database: Database) -> None:
    port = _free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": database.url, "LEDGER_SCHEMA": api_settings.schema,
           "LEDGER_MASTER_KEY": api_settings.master_key or "", "LEDGER_JWT_SECRET": SECRET,
           "LEDGER_DATA_DIR": str(api_settings.data_dir)}
    process = subprocess.Popen([sys.executable, "-c", SCRIPT.format(port=port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the server did not come up in 30 s"
            time.sleep(0.1)
        token = issue_token(api_settings, "alice", "specialist", ["north"], ttl=60)
        answer = httpx.post(f"{base}/graphql", json={"query": "{ me { id segments } }"},
                            headers={"Authorization": f"Bearer {token}"})
        assert answer.json() == {"data": {"me": {"id": "alice", "segments": ["north"]}}}
        assert httpx.post(f"{base}/graphql", json={"query": "{ me { id } }"}).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "serve returned" in out
    assert "Finished server process" in err
