"""The email jobs on a real broker and worker: ``send-email`` retried while the mail server is
down and sent once it is up; requested by ``createEmail`` itself; the ``emails`` sweep run as a
recorded job."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from api.helpers import SECRET, Api
from job_helpers import broker_settings, brokers, closing_brokers  # noqa: F401 - a fixture
from mail_server import Inbox, free_port, mail_server
from starlette.testclient import TestClient
from test_email_delivery import SENDER, TODAY, Acme, email_to

from ledger_collect.app import create_api
from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.domain.job_run import FINISHED
from ledger_collect.jobs import emails
from ledger_collect.jobs.actors import job_actors, request_run
from ledger_collect.jobs.registry import SEND_EMAIL
from ledger_collect.jobs.worker import working
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.database import Database

pytestmark = pytest.mark.usefixtures("closing_brokers")


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture(params=brokers())
def jobs_app(request: pytest.FixtureRequest, settings: Settings, database: Database,
             port: int) -> Iterator[Collections]:
    app = Collections(database, broker_settings(
        settings, request.param, smtp_host="127.0.0.1", smtp_port=port, smtp_from=SENDER,
        smtp_timeout=5.0, jwt_secret=SECRET, read_wait_seconds=0.0))
    yield app
    app.close()


def eventually(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.05)


def test_send_email_is_retried_while_the_server_is_down_then_sent_once(
        jobs_app: Collections, port: int) -> None:
    inbox = Inbox()
    email_id = email_to(jobs_app, Acme(jobs_app), attachments=["statement.csv"])
    job_actors(jobs_app).send(SEND_EMAIL, email_id)
    with working(jobs_app, threads=2, jobs=[SEND_EMAIL]):
        time.sleep(1.0)  # a try or two against a closed port
        assert jobs_app.repository.get(email_id).status == "pending"
        with mail_server(inbox, port):
            eventually(lambda: jobs_app.repository.get(email_id).status == "sent")
        job_actors(jobs_app).send(SEND_EMAIL, email_id)  # a message too many
        time.sleep(0.5)
    assert len(inbox.received) == 1
    assert [e.topic.rsplit(".", 1)[1] for e in jobs_app.recorder.select_events(email_id)] == [
        "Created", "Sent"]


def test_create_email_requests_its_sending(jobs_app: Collections, database: Database,
                                           port: int) -> None:
    inbox = Inbox()
    acme = Acme(jobs_app)
    catch_up(jobs_app)
    with TestClient(create_api(jobs_app.settings, database, today=lambda: TODAY),
                    base_url="http://127.0.0.1") as client:
        api = Api(client, jobs_app.settings)
        made = api.data("""mutation ($input: CreateEmailInput!) { createEmail(input: $input) {
            ... on EmailState { emailId status } } }""", {"input": {
            "customerId": str(acme.id), "to": ["ap@acme.example"], "template": "reminder"}})
    email_id = made["createEmail"]["emailId"]
    with mail_server(inbox, port), working(jobs_app, threads=1, jobs=[SEND_EMAIL]):
        eventually(lambda: len(inbox.received) == 1)
    assert inbox.received[0].message["Message-ID"].startswith(f"<{email_id.replace('-', '')}.1@")
    assert inbox.received[0].message["Subject"] == "Payment reminder C-100"


def test_the_sweep_runs_as_a_recorded_job(jobs_app: Collections, port: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = Inbox()
    email_to(jobs_app, Acme(jobs_app), attachments=[])
    catch_up(jobs_app)
    monkeypatch.setattr(emails, "SWEEP_AFTER", timedelta(0))
    run_id = request_run(jobs_app, "emails", business_date=TODAY, actor="sue")
    with mail_server(inbox, port), working(jobs_app, threads=1, jobs=["emails"]):
        eventually(lambda: jobs_app.repository.get(run_id).status == FINISHED)
    assert jobs_app.repository.get(run_id).counts == {"sent": 1}
    assert len(inbox.received) == 1
