"""What the dunning tests share: a procedure, customers with a dunning contact and invoices due
so many days before the business date, the proposal read from the real read models, and the
collection emails the letters' commands created."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger_collect.commands import dunning_commands as dc
from ledger_collect.commands import email_commands as cw
from ledger_collect.commands import receivable_commands as rc
from ledger_collect.commands.application import Collections
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.projections.dunning_proposal import Proposal, propose
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.bulk_reads import unconfirmed_ids

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


class CollectionEmails(Mapping[UUID, dict[str, Any]]):
    """The collection emails in the store, by id, as what a letter gave them (template,
    recipients, language, level, the (invoice, level) pairs, fee and interest): read afresh
    from the events on every look."""

    def __init__(self, app: Collections) -> None:
        self._app = app

    def _read(self) -> dict[UUID, dict[str, Any]]:
        ids = unconfirmed_ids(self._app, "ledger_collect.CollectionEmail.Created", ())
        return {email_id: _given(self._app.repository.get(email_id)) for email_id in ids}

    def __getitem__(self, email_id: UUID) -> dict[str, Any]:
        return self._read()[email_id]

    def __iter__(self) -> Iterator[UUID]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())


def _given(email: CollectionEmail) -> dict[str, Any]:
    return {"template": email.template, "to": email.to, "language": email.language,
            "level": email.level, "dunning": email.dunning, "fee": email.fee,
            "interest": email.interest}


def deliver(app: Collections, email_id: UUID, on: date,
            mark: Callable[..., Any] = cw.mark_email_sent) -> None:
    """The mailer's report: sent (raising the levels is the email commands' part)."""
    app.run(mark, email_id, actor="mailer", business_date=on)
