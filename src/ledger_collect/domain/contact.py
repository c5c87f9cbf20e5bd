"""Customer contact (contact client): one conversation of a specialist with a customer.

It names the collection contact reached by id only (the person's name and phone stay in the
Customer's own sealed events), and keeps the summary and notes as personal data. Promises,
disputes and follow-ups agreed during the conversation are linked to it afterwards, so the
contact history shows what came out of each call.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import CollectionsAggregate, ValidationError
from ledger_collect.domain.customer import UnknownContactError

if TYPE_CHECKING:
    from ledger_collect.domain.customer import Customer

CHANNELS = ("phone", "email", "letter", "meeting", "portal")
RESULTS = ("reached", "left_message", "no_answer", "promised", "disputed", "refused")
#: Results that mean somebody at the customer answered: the contact reached must be named.
SOMEONE_REACHED = ("reached", "promised", "disputed", "refused")
#: What can come out of a conversation, by the kind a link names.
LINK_KINDS = ("promise", "dispute", "resubmission")


class CustomerContact(CollectionsAggregate):
    TOPIC = "ledger_collect.CustomerContact"
    #: The person reached is named by an id a user may have chosen (an email address...).
    PERSONAL = {"Recorded": ("summary", "notes", "contact_person_id")}

    @classmethod
    def record(cls, *, customer: Customer, contact_person_id: str | None, channel: str,
               result: str, specialist: str, summary: str | None, notes: str | None,
               contact_date: date, actor: str, business_date: date) -> CustomerContact:
        if channel not in CHANNELS:
            raise ValidationError(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
        if result not in RESULTS:
            raise ValidationError(f"result {result!r} is not one of {', '.join(RESULTS)}")
        if contact_person_id is not None:
            if contact_person_id not in customer.contacts:
                raise UnknownContactError(
                    f"customer {customer.number} has no collection contact {contact_person_id}")
        elif result in SOMEONE_REACHED:
            raise ValidationError(
                f"a conversation with result {result.replace('_', ' ')} reached somebody: name "
                f"the collection contact of customer {customer.number} who was reached")
        specialist = (specialist or "").strip()
        if not specialist:
            raise ValidationError("name the specialist who had the conversation")
        if contact_date > business_date:
            raise ValidationError(
                f"a conversation on {contact_date} has not happened yet on {business_date}")
        return cls(customer_id=customer.id, contact_person_id=contact_person_id,
                   channel=channel, result=result, specialist=specialist,
                   summary=(summary or "").strip() or None, notes=(notes or "").strip() or None,
                   contact_date=contact_date, actor=actor, business_date=business_date)

    @event("Recorded", topic="ledger_collect.CustomerContact.Recorded")
    def __init__(self, customer_id: UUID, contact_person_id: str | None, channel: str,
                 result: str, specialist: str, summary: str | None, notes: str | None,
                 contact_date: date, actor: str, business_date: date) -> None:
        self.customer_id = customer_id
        self.contact_person_id = contact_person_id
        self.channel = channel
        self.result = result
        self.specialist = specialist
        self.summary = summary
        self.notes = notes
        self.contact_date = contact_date
        self.promise_ids: list[UUID] = []
        self.dispute_ids: list[UUID] = []
        self.resubmission_ids: list[UUID] = []

    def linked(self, kind: str) -> list[UUID]:
        if kind not in LINK_KINDS:
            raise ValidationError(f"{kind!r} is not one of {', '.join(LINK_KINDS)}")
        return getattr(self, f"{kind}_ids")  # type: ignore[no-any-return]

    def link(self, *, promise_ids: Iterable[UUID] = (), dispute_ids: Iterable[UUID] = (),
             resubmission_ids: Iterable[UUID] = (), actor: str, business_date: date) -> int:
        """Link what came out of this conversation; links made before are skipped. The caller
        checks that each id is a record of that kind for this customer. Returns how many are new."""
        new = {kind: [i for i in dict.fromkeys(ids) if i not in self.linked(kind)]
               for kind, ids in (("promise", promise_ids), ("dispute", dispute_ids),
                                 ("resubmission", resubmission_ids))}
        count = sum(len(ids) for ids in new.values())
        if count:
            self._linked(customer_id=self.customer_id, promise_ids=new["promise"],
                         dispute_ids=new["dispute"], resubmission_ids=new["resubmission"],
                         actor=actor, business_date=business_date)
        return count

    @event("Linked", topic="ledger_collect.CustomerContact.Linked")
    def _linked(self, customer_id: UUID, promise_ids: list[UUID], dispute_ids: list[UUID],
                resubmission_ids: list[UUID], actor: str, business_date: date) -> None:
        self.promise_ids.extend(promise_ids)
        self.dispute_ids.extend(dispute_ids)
        self.resubmission_ids.extend(resubmission_ids)
