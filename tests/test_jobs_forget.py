"""What the jobs store keeps no personal data: not the broker's queue in PostgreSQL (a failed
attempt's traceback, which dramatiq puts into the message it stores again to retry it, or
rejected for good, quotes the exception's text, and a mail server's refusal names the
recipient), nor a run's recorded failure (its events are not sealed: a run has no data
subject)."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import psycopg
import pytest
from job_helpers import broker_settings, closing_brokers  # noqa: F401 - a fixture
from mail_server import Inbox, free_port, mail_server
from psycopg import sql
from test_email_delivery import SENDER, TODAY, Acme, email_to

from ledger_collect.commands.application import Collections
from ledger_collect.commands.job_commands import request_job_run
from ledger_collect.config import Settings
from ledger_collect.domain.base import ValidationError
from ledger_collect.jobs.actors import job_actors
from ledger_collect.jobs.registry import SEND_EMAIL, Job
from ledger_collect.jobs.runs import load_run, run_attempt
from ledger_collect.jobs.worker import working
from ledger_collect.storage.database import Database

pytestmark = pytest.mark.usefixtures("closing_brokers")

ADDRESS = "jeanne.martin@acme.example"


@pytest.fixture
def port() -> int:
    return free_port()


def _mailer(settings: Settings, database: Database, port: int, retries: int,
            backoff: float) -> Collections:
    return Collections(database, broker_settings(
        settings, "postgres", smtp_host="127.0.0.1", smtp_port=port, smtp_from=SENDER,
        smtp_timeout=5.0, job_retries=retries, job_backoff_seconds=backoff))


def _stored(database: Database, settings: Settings) -> list[tuple[str, dict]]:
    with psycopg.connect(database.url) as conn:
        return conn.execute(sql.SQL("SELECT state::text, message FROM {}").format(
            sql.Identifier(settings.schema, "dramatiq_queue"))).fetchall()


@pytest.mark.parametrize(("retries", "stored_as"), [(0, "rejected"), (3, "queued")])
def test_a_failed_sending_is_stored_without_its_traceback(
        settings: Settings, database: Database, port: int, retries: int,
        stored_as: str) -> None:
    """Rejected for good (no retries), or queued again (the retry's pause is long)."""
    app = _mailer(settings, database, port, retries, backoff=60.0)
    inbox = Inbox(refuse={ADDRESS: f"450 4.2.1 <{ADDRESS}>: mailbox busy, try later"})
    email_id = email_to(app, Acme(app), to=[ADDRESS], cc=[], bcc=[], attachments=[])
    try:
        job_actors(app).send(SEND_EMAIL, email_id)
        with mail_server(inbox, port), working(app, threads=1, jobs=[SEND_EMAIL]):
            deadline = time.monotonic() + 30
            while not any(message["options"].get("retries")
                          for _, message in _stored(database, settings)):
                assert time.monotonic() < deadline, "the attempt never failed"
                time.sleep(0.05)
        rows = _stored(database, settings)
        assert [state for state, _ in rows] == [stored_as]
        assert rows[0][1]["options"]["retries"] == 1
        assert "traceback" not in rows[0][1]["options"]
        assert ADDRESS not in str(rows)
        assert app.repository.get(email_id).status == "pending"
    finally:
        app.close()


def test_a_run_records_its_failure_without_the_addresses_the_error_quotes(
        app: Collections, database: Database) -> None:
    def body(app: Collections, *, business_date: date, progress: Any) -> dict[str, int]:
        raise ValidationError(f"{ADDRESS} is named twice among the recipients (<{ADDRESS}>)")

    run_id = app.run(request_job_run, job="quoting", run_key="k", trigger="manual", actor="sue",
                     business_date=TODAY).result
    with pytest.raises(ValidationError):
        run_attempt(app, Job("quoting", body, "quotes"), run_id, worker="w")
    assert load_run(app, run_id).error == (
        "ValidationError: <address> is named twice among the recipients (<<address>>)")
    with database.connect() as conn:
        states = [bytes(row[0]) for row in conn.execute("SELECT state FROM collections_events")]
    assert states and not any(ADDRESS.encode() in state for state in states)
