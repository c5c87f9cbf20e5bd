"""Legal hold: a customer or a dispute under a litigation or an inquiry keeps everything it has,
whatever the retention policies say, until the hold is released. No purge, archive-and-purge or
erasure touches it meanwhile; placing it again after a release is allowed.

One aggregate per subject (its id derived from the subject's), so that an erasure reading the
hold and an officer placing it meet on one record. ``reference`` is the matter's reference (a
case or file number), not personal data.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import CollectionsAggregate, DomainError, derived_id

CUSTOMER, DISPUTE = "customer", "dispute"
SUBJECT_KINDS = (CUSTOMER, DISPUTE)


class LegalHoldError(DomainError):
    """The subject is already held under another reference, or is not held at all."""


class LegalHold(CollectionsAggregate):
    TOPIC = "ledger_collect.LegalHold"

    @staticmethod
    def create_id(subject_id: UUID, **_: Any) -> UUID:
        return derived_id("legal-hold", str(subject_id))

    @classmethod
    def open(cls, *, subject_kind: str, subject_id: UUID, actor: str,
             business_date: date) -> LegalHold:
        if subject_kind not in SUBJECT_KINDS:
            raise LegalHoldError(f"a legal hold is placed on a {' or a '.join(SUBJECT_KINDS)}, "
                                 f"not on {subject_kind!r}")
        return cls(subject_kind=subject_kind, subject_id=subject_id, actor=actor,
                   business_date=business_date)

    @event("Opened", topic="ledger_collect.LegalHold.Opened")
    def __init__(self, subject_kind: str, subject_id: UUID, actor: str,
                 business_date: date) -> None:
        self.subject_kind = subject_kind
        self.subject_id = subject_id
        self.reference: str | None = None  # while held
        self.placed_on: date | None = None

    @property
    def active(self) -> bool:
        return self.reference is not None

    def place(self, reference: str, *, placed_on: date, actor: str, business_date: date) -> bool:
        """Hold the subject under ``reference``; False when it is already held under it."""
        reference = (reference or "").strip()
        if not reference:
            raise LegalHoldError("give the matter's reference the hold is placed for")
        if self.reference == reference:
            return False
        if self.active:
            raise LegalHoldError(f"the {self.subject_kind} is already held under "
                                 f"{self.reference} (since {self.placed_on}); release it first")
        self._placed(subject_kind=self.subject_kind, subject_id=self.subject_id,
                     reference=reference, placed_on=placed_on, actor=actor,
                     business_date=business_date)
        return True

    @event("Placed", topic="ledger_collect.LegalHold.Placed")
    def _placed(self, subject_kind: str, subject_id: UUID, reference: str, placed_on: date,
                actor: str, business_date: date) -> None:
        self.reference = reference
        self.placed_on = placed_on

    def release(self, *, released_on: date, actor: str, business_date: date) -> None:
        if not self.active:
            raise LegalHoldError(f"the {self.subject_kind} is not under a legal hold")
        if self.placed_on is not None and released_on < self.placed_on:
            raise LegalHoldError(f"a hold placed on {self.placed_on} cannot be released "
                                 f"before, on {released_on}")
        self._released(released_on=released_on, actor=actor, business_date=business_date)

    @event("Released", topic="ledger_collect.LegalHold.Released")
    def _released(self, released_on: date, actor: str, business_date: date) -> None:
        self.reference = None
        self.placed_on = None
