"""Sending collection emails: one email (``send_email``, triggered when an email is created or
corrected and re-sent) and the sweep that catches pending emails whose job was lost
(``send_pending_emails``, every few minutes).

Sending an email: make its letter (the customer's account as the open-items model shows it
today), compose the message of its current attempt, hand it to the mail server, and record the
server's answer through the pipeline (``record_email_delivery``). A transient fault records
nothing and raises, so that the job is retried; the email stays pending.

Safe to run twice: an email no longer pending, or whose attempt's outcome is recorded, is left
alone; two workers never send one email at once (a PostgreSQL advisory lock per email, held
while sending). What cannot be excluded: a worker killed after the server accepted the message
and before the outcome was saved sends it again when the job is redelivered — with the same
Message-ID, so the receiving side can tell.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ledger_collect.commands.email_commands import record_email_delivery
from ledger_collect.commands.template_defaults import find_template
from ledger_collect.domain.base import ERASED
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.email import PENDING, CollectionEmail
from ledger_collect.domain.email_template import EmailTemplate
from ledger_collect.jobs.email_message import compose
from ledger_collect.jobs.letters import Letter
from ledger_collect.jobs.smtp_transport import TransientDeliveryError, deliver
from ledger_collect.projections.correspondence import pending_email_ids
from ledger_collect.projections.statements import account

if TYPE_CHECKING:
    from ledger_collect.commands.application import Collections

log = logging.getLogger(__name__)

#: Actor of the outcomes the mailer records.
MAILER = "mailer"
#: The sweep leaves alone an email that changed less than this long ago: its own job has it.
SWEEP_AFTER = timedelta(minutes=5)
#: First key of the advisory locks held while an email is sent (the second: the email's).
_LOCK_CLASS = 0x4D41494C
_LOCAL_LOCKS: dict[UUID, threading.Lock] = {}


def _quiet(done: int, total: int) -> None:
    """No progress to report."""


@contextmanager
def _sending(app: Collections, email_id: UUID) -> Iterator[bool]:
    """Whether this worker may send the email now (no other is sending it); held until the
    outcome is recorded."""
    if app.database is None:  # in memory: one process, a lock per email
        lock = _LOCAL_LOCKS.setdefault(email_id, threading.Lock())
        got = lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                lock.release()
        return
    key = (_LOCK_CLASS, email_id.int & 0x7FFFFFFF)
    with app.database.connect() as conn:  # closing it releases the lock whatever happens
        yield bool(conn.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()[0])


def letter_of(app: Collections, email: CollectionEmail, as_of: date) -> Letter:
    """The facts of the email's letter on ``as_of``."""
    if app.database is None:
        raise RuntimeError("composing an email reads the open-items model: it needs the "
                           "database")
    customer = app.repository.get(email.customer_id)
    assert isinstance(customer, Customer)
    person = customer.contacts.get(customer.default_contact_id or "")
    contact = None if person is None else {"name": person["name"], "email": person["email"]}
    with app.database.connect() as conn:
        facts = account(conn, email.customer_id, as_of)
    return Letter(customer.number, customer.name, customer.currency, contact, email.language,
                  facts, email.level, dict(email.dunning), email.fee, email.interest)


def send_email(app: Collections, *, email_id: UUID,
               business_date: date | None = None) -> dict[str, int]:
    """Send the email's current attempt if it is pending; record the server's answer. Counts
    by what happened: sent, partly_sent, failed; skipped (not pending, or recorded by another
    run), busy (another worker is sending it), erased (its addresses were erased), missing."""
    today = business_date or date.today()
    with _sending(app, email_id) as mine:
        if not mine:
            return {"busy": 1}
        email = _load(app, email_id)
        if not isinstance(email, CollectionEmail):
            return {"missing": 1}
        if email.status != PENDING:
            return {"skipped": 1}
        if ERASED in email.recipients:
            return {"erased": 1}
        template = find_template(lambda tid: _saved_template(app, tid), email.template,
                                 email.language, email.level)
        message = compose(email, template, letter_of(app, email, today),
                          sender=app.settings.smtp_from)
        answer = deliver(app.settings, message, email.recipients)  # transient: raises
        status = app.run(record_email_delivery, email_id, attempt=email.attempt,
                         refused=answer.refused, error=answer.error, actor=MAILER,
                         business_date=today).result
    return {status or "skipped": 1}


def _load(app: Collections, aggregate_id: UUID) -> object | None:
    try:
        return app.repository.get(aggregate_id)
    except AggregateNotFoundError:
        return None


def _saved_template(app: Collections, template_id: UUID) -> EmailTemplate | None:
    found = _load(app, template_id)
    return found if isinstance(found, EmailTemplate) else None


def send_pending_emails(app: Collections, *, business_date: date,
                        progress: Callable[[int, int], None] = _quiet,
                        older_than: timedelta | None = None) -> dict[str, int]:
    """Send every email still pending that changed more than ``older_than`` (``SWEEP_AFTER``)
    ago: its own job was lost, or gave up. An email the server puts off counts as deferred and waits for the
    next sweep; one that fails to be composed counts as broken (and is logged)."""
    if app.database is None:
        raise RuntimeError("the sweep reads the correspondence model: it needs the database")
    with app.database.connect() as conn:
        candidates = pending_email_ids(conn)
    before = datetime.now(UTC) - (SWEEP_AFTER if older_than is None else older_than)
    emails = app.load_aggregates(candidates)
    due = [i for i in candidates if isinstance(emails.get(i), CollectionEmail)
           and emails[i].status == PENDING and emails[i].modified_on <= before]
    counts: Counter[str] = Counter()
    for done, email_id in enumerate(due, 1):
        try:
            counts.update(send_email(app, email_id=email_id, business_date=business_date))
        except TransientDeliveryError as error:
            counts["deferred"] += 1
            log.warning("email %s deferred: %s", email_id, error)
        except Exception:
            counts["broken"] += 1
            log.exception("email %s could not be sent", email_id)
        progress(done, len(due))
    return dict(counts)
