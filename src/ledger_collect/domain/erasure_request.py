"""A data subject's erasure: requested, suspended by a legal hold, or completed.

One ``ErasureRequest`` per customer (its id follows from the customer's): the compliance log of
everything asked and done about erasing that customer's personal data. None of its events holds
personal data: the basis is a legal reference ("GDPR Art. 17(1)(a)", "retention policy
contact P3Y"), the outcome counts the records kept under legal retention and says until when.

A request met by an active legal hold is suspended and may be requested again once the hold is
released. A completed erasure is final: the customer's data key is gone, and requesting again
changes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import CollectionsAggregate, ValidationError, derived_id

#: The longest legal basis accepted: a reference, not a letter.
MAX_BASIS = 200


def basis_of(value: str | None) -> str:
    """The legal basis as given, trimmed; empty, too long or multi-line is refused."""
    basis = (value or "").strip()
    if not basis:
        raise ValidationError("give the legal basis of the erasure (e.g. GDPR Art. 17(1)(a))")
    if len(basis) > MAX_BASIS:
        raise ValidationError(f"the legal basis is a reference of at most {MAX_BASIS} "
                              f"characters, got {len(basis)}")
    if any(ch in basis for ch in "\r\n\x00"):
        raise ValidationError("the legal basis is one line")
    return basis


class ErasureRequest(CollectionsAggregate):
    TOPIC = "ledger_collect.ErasureRequest"

    @staticmethod
    def create_id(customer_id: UUID, **_: Any) -> UUID:
        return derived_id("erasure", str(customer_id))

    @classmethod
    def start(cls, *, customer_id: UUID, basis: str, requested_by: str, actor: str,
              business_date: date) -> ErasureRequest:
        return cls(customer_id=customer_id, basis=basis_of(basis), requested_by=requested_by,
                   actor=actor, business_date=business_date)

    @event("Requested", topic="ledger_collect.ErasureRequest.Requested")
    def __init__(self, customer_id: UUID, basis: str, requested_by: str, actor: str,
                 business_date: date) -> None:
        self.customer_id = customer_id
        self.basis = basis
        self.requested_by = requested_by
        self.requested_on = business_date
        self.status = "requested"  # requested, suspended, completed
        self.hold_reference: str | None = None
        self.erased_on: date | None = None
        self.restricted_records = 0
        self.retained_until: date | None = None

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    def request(self, *, basis: str, requested_by: str, actor: str,
                business_date: date) -> None:
        """Ask again (after a suspension); nothing once completed."""
        if self.completed:
            return
        self._requested(customer_id=self.customer_id, basis=basis_of(basis),
                        requested_by=requested_by, actor=actor, business_date=business_date)

    @event("RequestedAgain", topic="ledger_collect.ErasureRequest.RequestedAgain")
    def _requested(self, customer_id: UUID, basis: str, requested_by: str, actor: str,
                   business_date: date) -> None:
        self.basis = basis
        self.requested_by = requested_by
        self.requested_on = business_date
        self.status = "requested"
        self.hold_reference = None

    def suspend(self, hold_reference: str, *, actor: str, business_date: date) -> None:
        if self.completed or (self.status == "suspended"
                              and self.hold_reference == hold_reference):
            return
        self._suspended(customer_id=self.customer_id, hold_reference=hold_reference,
                        actor=actor, business_date=business_date)

    @event("Suspended", topic="ledger_collect.ErasureRequest.Suspended")
    def _suspended(self, customer_id: UUID, hold_reference: str, actor: str,
                   business_date: date) -> None:
        self.status = "suspended"
        self.hold_reference = hold_reference

    def complete(self, *, restricted_records: int, retained_until: date | None, actor: str,
                 business_date: date) -> None:
        if self.completed:
            return
        self._completed(customer_id=self.customer_id, erased_on=business_date,
                        restricted_records=restricted_records, retained_until=retained_until,
                        actor=actor, business_date=business_date)

    @event("Completed", topic="ledger_collect.ErasureRequest.Completed")
    def _completed(self, customer_id: UUID, erased_on: date, restricted_records: int,
                   retained_until: date | None, actor: str, business_date: date) -> None:
        self.status = "completed"
        self.erased_on = erased_on
        self.restricted_records = restricted_records
        self.retained_until = retained_until
