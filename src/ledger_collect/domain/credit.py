"""Customer credit: money the customer has on account that is not (yet) allocated to an
invoice — an unapplied payment or an unallocated credit memo. The overview lists them and a
specialist can point them out to the customer."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import CollectionsAggregate, ValidationError, derived_id, positive

UNAPPLIED_PAYMENT, CREDIT_MEMO = "unapplied_payment", "credit_memo"


class CustomerCredit(CollectionsAggregate):
    TOPIC = "ledger_collect.CustomerCredit"

    @staticmethod
    def create_id(source_id: str, **_: Any) -> UUID:
        return derived_id("credit", source_id)

    @classmethod
    def receive(cls, *, source_id: str, customer_id: UUID, kind: str, amount: Decimal,
                currency: str, document_date: date, actor: str,
                business_date: date) -> CustomerCredit:
        if kind not in (UNAPPLIED_PAYMENT, CREDIT_MEMO):
            raise ValidationError(f"unknown kind of customer credit {kind!r}")
        amount = positive(amount, f"{kind.replace('_', ' ')} amount")
        return cls(source_id=source_id, customer_id=customer_id, kind=kind, amount=amount,
                   currency=currency, document_date=document_date, actor=actor,
                   business_date=business_date)

    @event("Received", topic="ledger_collect.CustomerCredit.Received")
    def __init__(self, source_id: str, customer_id: UUID, kind: str, amount: Decimal,
                 currency: str, document_date: date, actor: str, business_date: date) -> None:
        self.source_id = source_id
        self.customer_id = customer_id
        self.kind = kind
        self.amount = amount
        self.currency = currency
        self.document_date = document_date
