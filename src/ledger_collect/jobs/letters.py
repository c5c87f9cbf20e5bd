"""A letter's facts: what one collection email tells its customer, read once when it is
composed and shared by its text (the template's context) and its attachments.

The facts are the customer's (number, name, default collection contact), its account as the
open-items model shows it on the day (``projections.statements``), and what the email itself
says (language, dunning level, the invoices it announces, fee and interest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger_collect.domain.base import ZERO
from ledger_collect.projections.statements import Account


@dataclass(frozen=True)
class Letter:
    customer_number: str
    customer_name: str
    currency: str  # the customer's: fee and interest are charged in it
    contact: Mapping[str, Any] | None  # name, email of the default collection contact
    language: str
    account: Account
    level: int | None = None
    announced: Mapping[UUID, int] = field(default_factory=dict)  # invoice id -> level
    fee: Decimal | None = None
    interest: Decimal | None = None

    @property
    def as_of(self) -> date:
        return self.account.as_of

    def totals(self) -> list[dict[str, Any]]:
        """Open and overdue amounts of the open items, per currency (in order of currency)."""
        found: dict[str, dict[str, Any]] = {}
        for item in self.account.open_items:
            total = found.setdefault(item.currency, {"currency": item.currency,
                                                     "open_amount": ZERO,
                                                     "overdue_amount": ZERO, "count": 0})
            total["open_amount"] += item.open_amount
            total["count"] += 1
            if item.days_overdue(self.as_of) > 0:
                total["overdue_amount"] += item.open_amount
        return [found[c] for c in sorted(found)]


def context(letter: Letter) -> dict[str, Any]:
    """The template's context (``domain.templating.VARIABLES`` documents it)."""
    def charge(amount: Any) -> dict[str, Any] | None:
        return None if amount is None else {"amount": amount, "currency": letter.currency}

    return {
        "customer": {"number": letter.customer_number, "name": letter.customer_name},
        "contact": dict(letter.contact) if letter.contact else None,
        "as_of": letter.as_of, "language": letter.language, "dunning_level": letter.level,
        "items": [{"document_number": i.document_number, "posting_date": i.posting_date,
                   "due_date": i.due_date, "days_overdue": i.days_overdue(letter.as_of),
                   "currency": i.currency, "amount": i.amount, "open_amount": i.open_amount,
                   "dunning_level": i.dunning_level,
                   "announced_level": letter.announced.get(i.id)}
                  for i in letter.account.open_items],
        "totals": letter.totals(),
        "fee": charge(letter.fee), "interest": charge(letter.interest),
    }
