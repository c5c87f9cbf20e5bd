"""Retention: set a record class's policy, place and release legal holds.

Every rule (known classes, triggers and actions, ISO periods, no purge before the legal
retention ends; one active hold per subject) is the aggregates'; a refused command records
nothing. A hold is placed on a customer or a dispute that exists.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from ledger_collect.commands.values import CODE, DATE, UNCHECKED, checked
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.legal_hold import CUSTOMER, DISPUTE, LegalHold, LegalHoldError
from ledger_collect.domain.retention_policy import POLICIES_ID, RetentionPolicies

if TYPE_CHECKING:
    from ledger_collect.commands import Batch

_POLICY = dict.fromkeys(("record_class", "trigger", "action", "after", "retain"), CODE)


@checked(**_POLICY)
def set_retention_policy(batch: Batch, record_class: str, *, trigger: str, action: str,
                         after: str, retain: str, actor: str, business_date: date) -> bool:
    """Set the record class's policy; False when it is already so."""
    policies = batch.find(RetentionPolicies, POLICIES_ID)
    if policies is None:
        policies = batch.add(RetentionPolicies.start(actor=actor, business_date=business_date))
    return policies.set_policy(record_class.strip(), trigger.strip(), action.strip(),
                               after, retain, actor=actor, business_date=business_date)


def _subject(batch: Batch, subject_kind: str, subject_id: UUID) -> None:
    """Refuse a hold on something that does not exist."""
    if subject_kind == CUSTOMER:
        batch.get(Customer, subject_id, "customer")
    elif subject_kind == DISPUTE:
        batch.get(DisputeCase, subject_id, "dispute")
    else:
        raise LegalHoldError(f"a legal hold is placed on a customer or a dispute, not on "
                             f"{subject_kind!r}")


@checked(subject_kind=CODE, subject_id=UNCHECKED, reference=CODE, placed_on=DATE)
def place_legal_hold(batch: Batch, subject_kind: str, subject_id: UUID, *, reference: str,
                     placed_on: date | None = None, actor: str, business_date: date) -> UUID:
    """Hold the customer or dispute under the matter ``reference`` from ``placed_on`` (the
    business date unless given): nothing of it is purged or erased until released. Returns
    the hold's id."""
    _subject(batch, subject_kind, subject_id)
    hold = batch.find(LegalHold, LegalHold.create_id(subject_id))
    if hold is None:
        hold = batch.add(LegalHold.open(subject_kind=subject_kind, subject_id=subject_id,
                                        actor=actor, business_date=business_date))
    hold.place(reference, placed_on=placed_on or business_date, actor=actor,
               business_date=business_date)
    return hold.id


@checked(subject_id=UNCHECKED, released_on=DATE)
def release_legal_hold(batch: Batch, subject_id: UUID, *, released_on: date | None = None,
                       actor: str, business_date: date) -> UUID:
    hold = batch.find(LegalHold, LegalHold.create_id(subject_id))
    if hold is None:
        raise LegalHoldError(f"{subject_id} is not under a legal hold")
    hold.release(released_on=released_on or business_date, actor=actor,
                 business_date=business_date)
    return hold.id
