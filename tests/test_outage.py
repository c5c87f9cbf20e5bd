"""The API's database and projector failing, with a real API process. A database outage (on a
PostgreSQL the test starts and stops itself): queries and mutations answer DATABASE_UNAVAILABLE
within the connect timeout instead of hanging (or an internal error), and everything works again
once the database is back, without a restart. A stopped projector: mutations wait their bounded
time for the read models, but hold no read connection, so queries and /health stay prompt."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from servers import wait_healthy

from ledger_collect.api.auth import issue_token
from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import register_customer
from ledger_collect.config import Settings
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.database import Database
from ledger_collect.storage.embedded import EmbeddedPostgres
from ledger_collect.storage.outage import DatabaseUnavailableError

SECRET = "outage-test-secret-" + "x" * 32
CONNECT_TIMEOUT = 3
NOTE = """mutation($id: UUID!) { addCustomerNote(input: {customerId: $id, text: "called"}) {
  __typename ... on CustomerNoteAdded { noteId } } }"""
CUSTOMERS = "{ customers(first: 5) { nodes { id } } }"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ask(base: str, token: str, query: str, **variables: object) -> tuple[dict, float]:
    started = time.monotonic()
    answer = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables},
                        headers={"Authorization": f"Bearer {token}"}, timeout=120)
    return answer.json(), time.monotonic() - started


def code_of(answer: dict) -> str | None:
    errors = answer.get("errors") or [{}]
    return errors[0].get("extensions", {}).get("code")


@pytest.mark.slow
def test_an_outage_is_answered_database_unavailable_promptly_and_passes_without_a_restart(
        own_server: EmbeddedPostgres, tmp_path: Path) -> None:
    settings = Settings(database_url=own_server.url("outage"), data_dir=tmp_path,
                        schema="public", master_key=base64.b64encode(os.urandom(32)).decode(),
                        pool_size=2, jwt_secret=SECRET, connect_timeout=CONNECT_TIMEOUT)
    with Database(settings) as database:
        database.migrate()
        app = Collections(database)
        customer = app.run(register_customer, number="C1", name="Ada", segment="north",
                           credit_limit=Decimal("1000.00"), currency="EUR", risk_class="B",
                           source_id="c1", actor="erp",
                           business_date=date(2026, 11, 23)).result
        catch_up(app)  # the read models the customers query reads
        app.close()
    port = free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": settings.database_url,
           "LEDGER_MASTER_KEY": settings.master_key, "LEDGER_JWT_SECRET": SECRET,
           "LEDGER_DATA_DIR": str(tmp_path), "LEDGER_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
           "LEDGER_READ_WAIT_SECONDS": "0.2"}  # no projector: the notes show later
    api = subprocess.Popen([sys.executable, "-m", "ledger_collect.cli", "api", "--port",
                            str(port)], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    token = issue_token(settings, "root", "admin")
    try:
        wait_healthy(base, api, seconds=60)
        answer, _ = ask(base, token, NOTE, id=str(customer))
        assert answer["data"]["addCustomerNote"]["__typename"] == "CustomerNoteAdded"

        own_server.stop()  # the only user: a fast shutdown ends every session
        for query, variables in ((NOTE, {"id": str(customer)}), (CUSTOMERS, {})):
            answer, seconds = ask(base, token, query, **variables)
            assert code_of(answer) == "DATABASE_UNAVAILABLE", answer
            assert seconds < CONNECT_TIMEOUT + 2, (query, seconds)
            assert "unavailable" in answer["errors"][0]["message"]
        assert httpx.get(f"{base}/health", timeout=5).status_code == 503

        own_server.start()
        deadline = time.monotonic() + 20
        while True:
            note, _ = ask(base, token, NOTE, id=str(customer))
            listed, _ = ask(base, token, CUSTOMERS)
            if "errors" not in note and "errors" not in listed:
                break
            if time.monotonic() > deadline:
                api.kill()
                pytest.fail(f"{note} {listed} {api.communicate()[1][-3000:]}")
            time.sleep(0.5)
        assert note["data"]["addCustomerNote"]["__typename"] == "CustomerNoteAdded"
        assert httpx.get(f"{base}/health", timeout=5).status_code == 200
    finally:
        _stop(api)


@pytest.mark.slow
def test_mutations_waiting_for_a_stopped_projector_leave_queries_and_health_prompt(
        app: Collections, settings: Settings) -> None:
    customers = [app.run(register_customer, number=f"C{n}", name="Ada", segment="north",
                         credit_limit=Decimal("1000.00"), currency="EUR", risk_class="B",
                         source_id=f"c{n}", actor="erp",
                         business_date=date(2026, 11, 23)).result
                 for n in range(8)]  # one each: notes on one customer at once would conflict
    catch_up(app)  # then no projector: every mutation waits its whole bound
    port = free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": settings.database_url,
           "LEDGER_SCHEMA": settings.schema, "LEDGER_MASTER_KEY": settings.master_key,
           "LEDGER_JWT_SECRET": SECRET, "LEDGER_DATA_DIR": str(settings.data_dir),
           "LEDGER_POOL_SIZE": "2", "LEDGER_READ_WAIT_SECONDS": "4"}
    api = subprocess.Popen([sys.executable, "-m", "ledger_collect.cli", "api", "--port",
                            str(port)], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    token = issue_token(settings.with_changes(jwt_secret=SECRET), "root", "admin")
    try:
        wait_healthy(base, api, seconds=60)
        with ThreadPoolExecutor(8) as pool:
            mutations = [pool.submit(ask, base, token, NOTE, id=str(customer))
                         for customer in customers]
            time.sleep(1.0)  # every mutation saved by now, all of them waiting
            assert not any(m.done() for m in mutations)
            for _ in range(3):
                started = time.monotonic()
                health = httpx.get(f"{base}/health", timeout=10)
                listed, _ = ask(base, token, CUSTOMERS)
                assert health.status_code == 200, health.text
                assert time.monotonic() - started < 1.0
                assert len(listed["data"]["customers"]["nodes"]) == 5
            answers = [m.result() for m in mutations]
        for answer, seconds in answers:
            assert answer["data"]["addCustomerNote"]["__typename"] == "CustomerNoteAdded"
            assert 3.5 < seconds < 6  # its bounded wait, no more
    finally:
        _stop(api)


def test_the_store_reports_a_stopped_database_within_the_connect_timeout_then_recovers(
        own_server: EmbeddedPostgres, tmp_path: Path) -> None:
    settings = Settings(database_url=own_server.url("outage"), data_dir=tmp_path,
                        master_key=base64.b64encode(os.urandom(32)).decode(), connect_timeout=1)
    with Database(settings) as database:
        database.migrate()
        app = Collections(database)
        try:
            unknown = uuid.uuid4()
            own_server.stop()
            for attempt in (lambda: app.repository.get(unknown),
                            lambda: app.recorder.max_notification_id()):
                started = time.monotonic()
                with pytest.raises(DatabaseUnavailableError, match="did not answer within 1 s"):
                    attempt()
                assert time.monotonic() - started < 2  # not ten connect timeouts
            own_server.start()
            deadline = time.monotonic() + 20
            while True:  # the pool reconnects by itself
                try:
                    assert app.recorder.max_notification_id() in (None, 0)
                    break
                except DatabaseUnavailableError:
                    assert time.monotonic() < deadline
        finally:
            app.close()


def _stop(api: subprocess.Popen[str]) -> None:
    """SIGTERM, as an operator stops it; killed if it does not end in time."""
    api.send_signal(signal.SIGTERM)
    try:
        api.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        api.kill()
        api.communicate()
