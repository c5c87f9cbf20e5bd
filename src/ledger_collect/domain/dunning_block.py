"""Dunning blocks (blocages de relance) on a customer or an invoice: no letter while one holds.

A block has a reason (free text a specialist writes: personal data, sealed) and optionally an
end date: it holds through that date and is over the day after, with no event needed (the
proposal compares dates). Blocking again replaces the block (a new reason or end date);
releasing ends it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ledger_collect.domain.base import DomainError, ValidationError

#: The role of the contact person dunning letters go to (else the customer's default contact).
DUNNING_ROLE = "dunning"


class NotBlockedError(DomainError):
    """There is no dunning block to release."""


@dataclass(frozen=True)
class DunningBlock:
    reason: str
    until: date | None  # the last day it holds; None: until released
    since: date
    by: str = ""

    @classmethod
    def of(cls, reason: str | None, until: date | None, today: date) -> DunningBlock:
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError("say why dunning is blocked")
        if until is not None and until < today:
            raise ValidationError(f"a block ending on {until} would be over already on {today}")
        return cls(reason, until, today)

    def holds_on(self, day: date) -> bool:
        return self.until is None or day <= self.until


def check_blocked(block: DunningBlock | None, today: date, what: str) -> None:
    if block is None:
        raise NotBlockedError(f"dunning of {what} is not blocked")
