"""The dunning run on PostgreSQL: the day's letters issued as collection emails to the dunning
contact, once however often it runs, what delivery and failure do to the next proposal, and
the letter's command refusing what no longer holds.

Until the email commands take ``dunning`` (and raise the levels when an email is delivered),
``emails`` reads the collection emails the letters created, from the store."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from dunning_helpers import (
    DAY,
    ERP,
    SUE,
    CollectionEmails,
    customer,
    deliver,
    invoice,
    letters,
    proposal,
    standard,
)

from ledger_collect.commands import casework_commands as cw
from ledger_collect.commands import dunning_commands as dc
from ledger_collect.commands import receivable_commands as rc
from ledger_collect.commands.application import Collections
from ledger_collect.domain.base import NotFoundError
from ledger_collect.domain.dunning_letter import DunningLetter
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.jobs.dunning_jobs import run_dunning
from ledger_collect.projections.engine import catch_up


@pytest.fixture
def emails(app: Collections) -> CollectionEmails:
    return CollectionEmails(app)


def _portfolio(app: Collections) -> dict[str, UUID]:
    standard(app)
    ids = {"C-1": customer(app, "C-1"), "C-2": customer(app, "C-2"),
           "C-3": customer(app, "C-3", email=None)}
    ids["I-1"] = invoice(app, "C-1", "I-1", overdue=45, amount="1234.56")
    ids["I-2"] = invoice(app, "C-1", "I-2", overdue=20)
    ids["I-3"] = invoice(app, "C-2", "I-3", overdue=-3)
    ids["I-4"] = invoice(app, "C-3", "I-4", overdue=20)
    return ids


def test_a_run_issues_the_days_letters_as_collection_emails(
        app: Collections, emails: dict[UUID, dict[str, Any]]) -> None:
    ids = _portfolio(app)
    seen: list[tuple[int, int]] = []
    counts = run_dunning(app, business_date=DAY, progress=lambda *step: seen.append(step))
    assert counts == {"proposed": 3, "issued": 2, "already": 0, "no_address": 1, "stale": 0, "refused": 0}
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    by_customer = {app.repository.get(e).customer_id: (e, kept) for e, kept in emails.items()}
    assert set(by_customer) == {ids["C-1"], ids["C-2"]}
    email_id, kept = by_customer[ids["C-1"]]
    assert (kept["template"], kept["to"], kept["language"]) == ("dunning", ["ap@c-1.example"],
                                                               "en")
    assert kept["dunning"] == [(ids["I-1"], 1), (ids["I-2"], 1)]
    assert (kept["level"], kept["fee"], kept["interest"]) == (1, None, Decimal("12.62"))
    email: CollectionEmail = app.repository.get(email_id)
    assert (email.status, email.to, email.template) == ("pending", ["ap@c-1.example"], "dunning")
    reminder = by_customer[ids["C-2"]][1]
    assert (reminder["dunning"], reminder["level"], reminder["fee"], reminder["interest"]) == (
        [(ids["I-3"], 0)], 0, None, None)
    (letter,) = [a for a in _letters(app) if a.customer_id == ids["C-1"]]
    assert (letter.email_id, letter.level, letter.interest) == (email_id, 1, Decimal("12.62"))


def _letters(app: Collections) -> list[DunningLetter]:
    assert app.database is not None
    catch_up(app, "dunning")
    with app.database.connect() as conn:
        found = [row[0] for row in conn.execute("SELECT id FROM dunning_letters")]
    return [app.repository.get(letter_id) for letter_id in found]


def test_a_second_run_the_same_day_creates_nothing(
        app: Collections, emails: dict[UUID, dict[str, Any]]) -> None:
    _portfolio(app)
    run_dunning(app, business_date=DAY)
    created = dict(emails)
    again = run_dunning(app, business_date=DAY)
    assert again == {"proposed": 1, "issued": 0, "already": 0, "no_address": 1, "stale": 0, "refused": 0}
    assert emails == created


def test_the_same_letter_issued_twice_is_issued_once(
        app: Collections, emails: dict[UUID, dict[str, Any]]) -> None:
    """Two runs at the same moment propose the same letter: the second finds it issued."""
    _portfolio(app)
    (first, *_) = [p.letter for p in proposal(app).letters if p.has_address]
    assert app.run(dc.issue_dunning_letter, first, actor="dunning", business_date=DAY).result
    assert app.run(dc.issue_dunning_letter, first, actor="dunning",
                   business_date=DAY).result is None
    assert len(emails) == 1


def test_delivery_counts_as_the_level_and_failure_frees_the_items(
        app: Collections, emails: dict[UUID, dict[str, Any]]) -> None:
    ids = _portfolio(app)
    run_dunning(app, business_date=DAY)
    by_customer = {app.repository.get(e).customer_id: e for e in emails}
    assert letters(app, DAY + timedelta(days=1)) == [("C-3", 1, ["I-4"])]  # the others wait
    deliver(app, by_customer[ids["C-1"]], DAY)
    # I-1 is at level 1 since DAY: level 2 after 10 days' grace (and 30 days overdue)
    assert ("C-1", 2, ["I-1", "I-2"]) not in letters(app, DAY + timedelta(days=10))
    eleven = letters(app, DAY + timedelta(days=11))
    assert ("C-1", 2, ["I-1", "I-2"]) in eleven
    app.run(cw.mark_email_failed, by_customer[ids["C-2"]], "550 no such user",
            actor="mailer", business_date=DAY)
    assert ("C-2", 0, ["I-3"]) in letters(app, DAY + timedelta(days=1))


def test_a_delivered_reminder_goes_once(app: Collections,
                                        emails: dict[UUID, dict[str, Any]]) -> None:
    ids = _portfolio(app)
    run_dunning(app, business_date=DAY)
    reminder = next(e for e in emails if app.repository.get(e).customer_id == ids["C-2"])
    deliver(app, reminder, DAY)
    assert [x for x in letters(app, DAY + timedelta(days=1)) if x[0] == "C-2"] == []
    # once overdue past its grace, the level-1 letter goes as usual
    assert ("C-2", 1, ["I-3"]) in letters(app, DAY + timedelta(days=18))


def test_a_letter_no_longer_fitting_its_items_is_refused(
        app: Collections, emails: dict[UUID, dict[str, Any]]) -> None:
    ids = _portfolio(app)
    proposed = {p.customer_number: p.letter for p in proposal(app).letters}
    app.run(rc.clear_invoice, source_id="clr-2", invoice_number="I-2", **ERP)
    with pytest.raises(dc.StaleLetterError, match="I-2 is no longer an open item"):
        app.run(dc.issue_dunning_letter, proposed["C-1"], **SUE)
    app.run(dc.block_customer_dunning, ids["C-2"], reason="in talks", **SUE)
    with pytest.raises(dc.StaleLetterError, match="customer C-2 is blocked"):
        app.run(dc.issue_dunning_letter, proposed["C-2"], **SUE)
    with pytest.raises(dc.NoDunningAddressError, match="customer C-3"):
        app.run(dc.issue_dunning_letter, proposed["C-3"], **SUE)
    with pytest.raises(dc.StaleLetterError, match="proposed for"):
        app.run(dc.issue_dunning_letter, proposed["C-3"], actor="x",
                business_date=DAY + timedelta(days=1))
    assert emails == {}


def test_a_refused_letter_does_not_stop_the_run(app: Collections, emails: dict[UUID, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule of the email commands refusing one letter (here: the reminder) is counted and
    logged; the other letters are issued."""
    _portfolio(app)
    create = dc.create_email

    def refusing(batch: Any, customer_id: UUID, **kwargs: Any) -> UUID:
        if kwargs["level"] == 0:
            raise NotFoundError("no template dunning for level 0 in en")
        return create(batch, customer_id, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(dc, "create_email", refusing)
    counts = run_dunning(app, business_date=DAY)
    assert (counts["issued"], counts["refused"]) == (1, 1)
