"""The erasure request's record: requested (with the customer's queued emails cancelled) or
suspended by a legal hold, then completed (``compliance.erasure`` runs the whole erasure with
these two commands)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from ledger_collect.commands.values import UNCHECKED, checked
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.email import PENDING, CollectionEmail
from ledger_collect.domain.erasure_request import ErasureRequest

if TYPE_CHECKING:
    from ledger_collect.commands import Batch

#: What a queued email of an erased customer fails with (before the key goes: the reason is
#: sealed like every delivery error, and reads erased afterwards, as the addresses do).
CANCELLED = "cancelled: the customer's personal data is being erased"

_RULES = {"customer_id": UNCHECKED, "basis": UNCHECKED, "hold_reference": UNCHECKED,
          "restricted_records": UNCHECKED, "retained_until": UNCHECKED,
          "email_ids": UNCHECKED}


def _request(batch: Batch, customer_id: UUID) -> ErasureRequest:
    return batch.get(ErasureRequest, ErasureRequest.create_id(customer_id), "erasure request")


@checked(**_RULES)
def request_erasure(batch: Batch, customer_id: UUID, basis: str, *,
                    hold_reference: str | None = None, email_ids: Sequence[UUID] = (),
                    actor: str, business_date: date) -> UUID:
    """Record that the customer's personal data is to be erased, on ``basis`` (a legal
    reference): suspended at once under ``hold_reference`` (an active legal hold), else with
    the customer's pending emails among ``email_ids`` cancelled (none goes out after the
    erasure). Asking again after a suspension records it again, after completion nothing.
    Returns the request's id."""
    batch.get(Customer, customer_id, "customer")
    request = batch.find(ErasureRequest, ErasureRequest.create_id(customer_id))
    if request is None:
        request = batch.add(ErasureRequest.start(
            customer_id=customer_id, basis=basis, requested_by=actor, actor=actor,
            business_date=business_date))
    elif not request.completed:
        request.request(basis=basis, requested_by=actor, actor=actor,
                        business_date=business_date)
    if request.completed:
        return request.id
    if hold_reference is not None:
        request.suspend(hold_reference, actor=actor, business_date=business_date)
    else:
        _cancel_queued_emails(batch, customer_id, email_ids, actor, business_date)
    return request.id


@checked(**_RULES)
def complete_erasure(batch: Batch, customer_id: UUID, *, restricted_records: int,
                     retained_until: date | None, actor: str, business_date: date) -> UUID:
    request = batch.get(ErasureRequest, ErasureRequest.create_id(customer_id),
                        "erasure request")
    request.complete(restricted_records=restricted_records, retained_until=retained_until,
                     actor=actor, business_date=business_date)
    return request.id


def _cancel_queued_emails(batch: Batch, customer_id: UUID, email_ids: Sequence[UUID],
                          actor: str, business_date: date) -> None:
    batch.load(email_ids)
    for email_id in email_ids:
        email = batch.find(CollectionEmail, email_id)
        if email is not None and email.customer_id == customer_id and email.status == PENDING:
            email.mark_failed(CANCELLED, actor=actor, business_date=business_date)
