"""What the dunning tests share: a procedure, customers with a dunning contact and invoices due
so many days before the business date, the proposal read from the real read models, and the
collection email that a letter's command creates until the email commands take ``dunning``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from ledger_collect.commands import casework_commands as cw
from ledger_collect.commands import dunning_commands as dc
from ledger_collect.commands import receivable_commands as rc
from ledger_collect.commands.application import Collections
from ledger_collect.projections.dunning_proposal import Proposal, propose
from ledger_collect.projections.engine import catch_up

DAY = date(2026, 3, 17)
ERP: dict[str, Any] = {"actor": "erp", "business_date": DAY - timedelta(days=120)}
SUE: dict[str, Any] = {"actor": "sue", "business_date": DAY}
STANDARD: dict[str, Any] = {
    "code": "standard",
    "levels": [{"days_overdue": 1, "grace_days": 14},
               {"days_overdue": 30, "grace_days": 10, "fee": Decimal("5.00")},
               {"days_overdue": 45, "grace_days": 10, "fee": Decimal("15.00")}],
    "minimum_amount": Decimal("50.00"), "interest_rate": Decimal("8.00"), "reminder_days": 5,
    "quiet_days": 3}


def standard(app: Collections, **changes: Any) -> None:
    """The standard procedure, the default of every segment."""
    app.run(dc.save_dunning_procedure, **{**STANDARD, **changes}, **SUE)
    app.run(dc.set_default_dunning_procedure, STANDARD["code"] if "code" not in changes
            else changes["code"], **SUE)


def customer(app: Collections, number: str, *, segment: str = "north",
             email: str | None = "ap@{}.example") -> UUID:
    cid: UUID = app.run(rc.register_customer, number=number, name=f"Customer {number}",
                        segment=segment, credit_limit=Decimal("10000.00"), currency="EUR",
                        risk_class="B", source_id=f"md-{number}", **ERP).result
    app.run(rc.add_contact, cid, "p1", name="Paul", role="dunning",
            email=email.format(number.lower()) if email else None, **ERP)
    return cid


def invoice(app: Collections, number: str, document: str, *, overdue: int,
            amount: str = "100.00", currency: str = "EUR") -> UUID:
    """An invoice ``overdue`` days past due on ``DAY`` (negative: due later)."""
    due = DAY - timedelta(days=overdue)
    iid: UUID = app.run(rc.post_invoice, customer_number=number, document_number=document,
                        amount=Decimal(amount), currency=currency,
                        posting_date=min(due, DAY) - timedelta(days=30), due_date=due,
                        source_id=f"inv-{document}", **ERP).result
    return iid


def proposal(app: Collections, on: date = DAY, segment: str | None = None) -> Proposal:
    catch_up(app)
    assert app.database is not None
    with app.database.connect() as conn:
        return propose(conn, on, segment)


def letters(app: Collections, on: date = DAY, segment: str | None = None,
            ) -> list[tuple[str, int, list[str]]]:
    """(customer, level, documents) of each letter proposed."""
    return [(p.customer_number, p.letter.level, [line.document_number for line in p.letter.lines])
            for p in proposal(app, on, segment).letters]


def kept_emails(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[UUID, dict[str, Any]]]:
    """For a fixture: the real ``create_email``, given what the email commands do not take
    yet (``language``, ``level``, ``dunning``, ``fee``, ``interest``), which is kept here by
    email id for the tests to read."""
    kept: dict[UUID, dict[str, Any]] = {}

    def create_email(batch: Any, customer_id: UUID, *, dunning: Any = (), language: str = "en",
                     level: int | None = None, fee: Any = None, interest: Any = None,
                     **kwargs: Any) -> UUID:
        email_id: UUID = cw.create_email(batch, customer_id, **kwargs)
        kept[email_id] = {"dunning": list(dunning), "language": language, "level": level,
                          "fee": fee, "interest": interest, **kwargs}
        return email_id

    monkeypatch.setattr(dc, "create_email", create_email)
    yield kept


def deliver(app: Collections, email_id: UUID, on: date,
            mark: Callable[..., Any] = cw.mark_email_sent) -> None:
    """The mailer's report: sent (raising the levels is the email commands' part)."""
    app.run(mark, email_id, actor="mailer", business_date=on)
