"""The morning's dunning on a real broker, worker and mail server: the ``dunning-run`` job
issues the day's letters, each letter's own ``send-email`` job delivers it, and only a
delivered letter raises its invoices' dunning levels.

Customer C-1 owes I-1 (1,234.56 EUR, 45 days overdue); C-2 owes I-2 (100.00, 20 days
overdue) and its dunning contact's server refuses every letter; C-3 owes I-3 (100.00, due in 3
days: a pre-due reminder, level 0)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from uuid import UUID

import pytest
from dunning_helpers import DAY, customer, invoice, standard
from job_helpers import broker_settings, brokers, closing_brokers  # noqa: F401 - a fixture
from mail_server import Inbox, free_port, mail_server

from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.job_run import FINISHED
from ledger_collect.jobs.actors import request_run
from ledger_collect.jobs.registry import SEND_EMAIL
from ledger_collect.jobs.worker import working
from ledger_collect.storage.bulk_reads import unconfirmed_ids
from ledger_collect.storage.database import Database

pytestmark = pytest.mark.usefixtures("closing_brokers")

SENDER = "collections@ledger.example"


@pytest.fixture(params=brokers())
def jobs_app(request: pytest.FixtureRequest, settings: Settings,
             database: Database) -> Iterator[Collections]:
    app = Collections(database, broker_settings(
        settings, request.param, smtp_host="127.0.0.1", smtp_port=free_port(),
        smtp_from=SENDER, smtp_timeout=5.0))
    yield app
    app.close()


def eventually(check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def test_the_morning_letters_are_sent_and_only_delivered_ones_raise_the_level(
        jobs_app: Collections) -> None:
    app = jobs_app
    standard(app)
    ids = {number: customer(app, number) for number in ("C-1", "C-2", "C-3")}
    i1 = invoice(app, "C-1", "I-1", overdue=45, amount="1234.56")
    i2 = invoice(app, "C-2", "I-2", overdue=20)
    i3 = invoice(app, "C-3", "I-3", overdue=-3)
    inbox = Inbox(refuse={"ap@c-2.example": "550 5.1.1 no such mailbox"})
    with mail_server(inbox, app.settings.smtp_port), \
            working(app, threads=2, jobs=["dunning-run", SEND_EMAIL]):
        run_id = request_run(app, "dunning-run", business_date=DAY, actor="test")
        eventually(lambda: app.repository.get(run_id).status == FINISHED)
        eventually(lambda: len(inbox.received) == 2 and _settled(app, ids))
    run = app.repository.get(run_id)
    assert run.counts == {"proposed": 3, "issued": 3, "already": 0, "no_address": 0,
                          "stale": 0, "refused": 0}
    assert sorted(r.recipients[0] for r in inbox.received) == ["ap@c-1.example",
                                                              "ap@c-3.example"]
    letter = next(r.message for r in inbox.received if r.recipients == ["ap@c-1.example"])
    assert letter["From"] == SENDER
    assert "I-1" in letter.get_body(preferencelist=("plain",)).get_content()
    levels = {name: app.repository.get(i).dunning_level for name, i in
              (("I-1", i1), ("I-2", i2), ("I-3", i3))}
    assert levels == {"I-1": 1, "I-2": 0, "I-3": 0}  # refused: no level; reminder: level 0
    statuses = _statuses(app, ids)
    assert statuses == {"C-1": "sent", "C-2": "failed", "C-3": "sent"}


def _emails(app: Collections) -> list[CollectionEmail]:
    ids = unconfirmed_ids(app, "ledger_collect.CollectionEmail.Created", ())
    return [app.repository.get(i) for i in ids]


def _statuses(app: Collections, customers: dict[str, UUID]) -> dict[str, str]:
    number = {cid: n for n, cid in customers.items()}
    return {number[e.customer_id]: e.status for e in _emails(app)}


def _settled(app: Collections, customers: dict[str, UUID]) -> bool:
    statuses = _statuses(app, customers)
    return len(statuses) == 3 and "pending" not in statuses.values()
