"""Dunning letter (lettre de relance): what one reminder announced — its items and the level
each is taken to, its fee and interest — and the collection email that carries it.

Its id derives from the business date and what it is for (the customer and currency, or the
invoice: ``dunning_rules.letter_id``), so a dunning run made twice the same day finds the
letter of the first and issues nothing. Levels are raised by the email's delivery, not here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import CollectionsAggregate
from ledger_collect.domain.dunning_rules import Letter, letter_id


class DunningLetter(CollectionsAggregate):
    TOPIC = "ledger_collect.DunningLetter"

    @staticmethod
    def create_id(business_date: date, key: str, **_: Any) -> UUID:
        return letter_id(business_date, key)

    @classmethod
    def issue(cls, letter: Letter, *, email_id: UUID, actor: str) -> DunningLetter:
        items = [{"invoice_id": line.invoice_id, "document_number": line.document_number,
                  "due_date": line.due_date, "open_amount": line.open_amount,
                  "days_overdue": line.days_overdue, "level": line.level,
                  "interest": line.interest} for line in letter.lines]
        return cls(key=letter.key, customer_id=letter.customer_id, email_id=email_id,
                   procedure=letter.procedure, currency=letter.currency, kind=letter.kind,
                   level=letter.level, items=items, fee=letter.fee, interest=letter.interest,
                   amount=letter.amount, actor=actor, business_date=letter.business_date)

    @event("Issued", topic="ledger_collect.DunningLetter.Issued")
    def __init__(self, key: str, customer_id: UUID, email_id: UUID, procedure: str,
                 currency: str, kind: str, level: int, items: list[dict[str, Any]],
                 fee: Decimal, interest: Decimal, amount: Decimal, actor: str,
                 business_date: date) -> None:
        self.key = key
        self.customer_id = customer_id
        self.email_id = email_id
        self.procedure = procedure
        self.currency = currency
        self.kind = kind
        self.level = level
        self.items = list(items)
        self.fee = fee
        self.interest = interest
        self.amount = amount
        self.issued_on = business_date
