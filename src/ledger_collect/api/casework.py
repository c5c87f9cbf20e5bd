"""Casework records as the read models show them: promises, disputes, follow-ups, activities,
collection emails and customer contacts (conversations).

Each type is built with ``<Type>.of(record, segment)`` from a reader's record and the segment of
its customer (``customers.segments_of``), so that its personal fields — reasons, descriptions,
notes, summaries, addresses — go out only through the personal-data guard. The casework lists
(``api.lists``) and the customer overview share these types.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Self
from uuid import UUID

import strawberry

from ledger_collect.api.contacts import ContactPerson
from ledger_collect.api.context import Info
from ledger_collect.api.customers import Customer, contact_person, customer_by_id, segments_of
from ledger_collect.api.overview_parts import CONTACT_PERSONS, CUSTOMER, Reads
from ledger_collect.api.permissions import Personal, personal_field
from ledger_collect.projections.casework import ActivityRecord, PromiseRecord, ResubmissionRecord
from ledger_collect.projections.correspondence import CustomerContactRecord, EmailRecord
from ledger_collect.projections.disputes import DisputeRecord


async def _customer(root: Any, info: Info) -> Customer | None:
    return await customer_by_id(info, root.customer_id)


def customer_field() -> Any:
    return strawberry.field(resolver=_customer, description="The customer (through the "
                                                            "request's loader).",
                            extensions=[Reads(CUSTOMER)])


def _plain(record: Any, cls: type, *personal: str) -> dict[str, Any]:
    """The record's fields that ``cls`` shows as they are (personal ones are wrapped)."""
    shown = set(cls.__annotations__) - set(personal)
    return {name: value for name, value in vars(record).items() if name in shown}


@strawberry.type(description="One instalment of a promise to pay.")
class Instalment:
    number: int
    due_date: date
    amount: Decimal
    status: str = strawberry.field(description="open, kept, partially_kept or broken.")
    covered: Decimal = strawberry.field(description="What counted towards it when valued.")


@strawberry.type(description="A promise to pay: one invoice, an amount by a date.")
class Promise:
    id: UUID
    customer_id: UUID
    invoice_id: UUID
    document_number: str
    currency: str
    amount: Decimal
    paid_amount: Decimal = strawberry.field(description="Received inside its window so far.")
    promised_date: date
    tolerance_days: int
    level: int
    status: str = strawberry.field(description="open, in_process, kept, partially_kept, "
                                               "broken, withdrawn or closed.")
    replaces: UUID | None
    replaced_by: UUID | None
    contact_id: UUID | None = strawberry.field(description="The conversation it was made in.")
    issued_on: date
    issued_by: str
    ended_on: date | None = strawberry.field(description="When it was valued, withdrawn or "
                                                         "closed.")
    closed_reason: str | None
    instalments: list[Instalment]
    withdrawal_reason: Personal | None = personal_field()
    customer: Customer | None = customer_field()

    @classmethod
    def of(cls, record: PromiseRecord, segment: str) -> Self:
        plain = _plain(record, cls, "withdrawal_reason", "instalments")
        return cls(**plain, instalments=[Instalment(**vars(i)) for i in record.instalments],
                   withdrawal_reason=Personal(record.withdrawal_reason, segment))


@strawberry.type(description="A note written on a dispute case.")
class DisputeNote:
    note_id: str
    written_on: date
    written_by: str
    text: Personal | None = personal_field()


@strawberry.type(description="A dispute case over invoices of one customer, its amounts "
                             "tracked separately.")
class Dispute:
    id: UUID
    customer_id: UUID
    invoice_ids: list[UUID]
    currency: str
    reason: str = strawberry.field(description="Reason code: price, quantity, quality, "
                                               "not_delivered, duplicate, ...")
    processor: str
    status: str = strawberry.field(description="open, in_process, resolved or closed.")
    resolution: str | None
    original_amount: Decimal
    still_disputed: Decimal
    credited: Decimal
    paid: Decimal
    written_off: Decimal
    opened_on: date
    opened_by: str
    resolved_on: date | None
    closed_on: date | None
    changed_on: date
    changed_by: str
    changed_at: datetime
    note_count: int
    customer: Customer | None = customer_field()

    @classmethod
    def of(cls, record: DisputeRecord, segment: str) -> Self:
        return cls(**_plain(record, cls), note_count=record.notes)

    @strawberry.field(description="Notes on the case, the opening one first.",
                      extensions=[Reads(CUSTOMER, queries=1)])
    async def notes(self, info: Info) -> list[DisputeNote]:
        found = await info.context.loaders.dispute_notes_by_dispute.load(self.id)
        segment = (await segments_of(info, [self.customer_id]))[self.customer_id]
        return [DisputeNote(note_id=n.note_id, written_on=n.written_on,
                            written_by=n.written_by, text=Personal(n.text, segment))
                for n in found]


@strawberry.type(description="A follow-up (resubmission): not before this date.")
class Resubmission:
    id: UUID
    customer_id: UUID
    invoice_ids: list[UUID] = strawberry.field(description="Empty: the whole customer.")
    follow_up_date: date
    status: str = strawberry.field(description="open or completed.")
    moves: int = strawberry.field(description="How often the date was moved.")
    entered_on: date
    entered_by: str
    completed_on: date | None
    reason: Personal | None = personal_field(description="Why it was entered.")
    move_reason: Personal | None = personal_field(description="Why it was last moved.")
    customer: Customer | None = customer_field()

    @classmethod
    def of(cls, record: ResubmissionRecord, segment: str) -> Self:
        return cls(**_plain(record, cls, "reason", "move_reason"),
                   reason=Personal(record.reason, segment),
                   move_reason=Personal(record.move_reason, segment))


@strawberry.type(description="A task for a specialist about a customer, due on a date.")
class Activity:
    id: UUID
    customer_id: UUID
    specialist: str
    due_date: date
    status: str = strawberry.field(description="open or closed.")
    created_on: date
    created_by: str
    closed_on: date | None
    description: Personal | None = personal_field()
    closing_note: Personal | None = personal_field()
    customer: Customer | None = customer_field()

    @classmethod
    def of(cls, record: ActivityRecord, segment: str) -> Self:
        return cls(**_plain(record, cls, "description", "closing_note"),
                   description=Personal(record.description, segment),
                   closing_note=Personal(record.closing_note, segment))


@strawberry.type(description="A recipient the email did not reach, and why.")
class EmailFailure:
    address: Personal | None = personal_field()
    error: Personal | None = personal_field()


@strawberry.type(description="A collection email (its latest attempt).")
class CollectionEmail:
    id: UUID
    customer_id: UUID
    status: str = strawberry.field(description="pending, sent, failed or partly_sent.")
    attempt: int
    zipped: bool
    contact_id: UUID | None
    created_on: date
    created_by: str
    status_on: date
    to: list[Personal] | None = personal_field()
    cc: list[Personal] | None = personal_field()
    bcc: list[Personal] | None = personal_field()
    template: Personal | None = personal_field()
    attachments: list[Personal] | None = personal_field()
    last_error: Personal | None = personal_field()
    failures: list[EmailFailure] = strawberry.field(default_factory=list)
    customer: Customer | None = customer_field()

    @classmethod
    def of(cls, record: EmailRecord, segment: str) -> Self:
        failures = record.failures
        pairs = (failures.items() if isinstance(failures, dict)
                 else [(failures, failures)] if failures else [])
        return cls(**_plain(record, cls, "to", "cc", "bcc", "template", "attachments",
                            "last_error", "failures"),
                   template=Personal(record.template, segment),
                   attachments=[Personal(a, segment) for a in record.attachments],
                   to=[Personal(a, segment) for a in record.to],
                   cc=[Personal(a, segment) for a in record.cc],
                   bcc=[Personal(a, segment) for a in record.bcc],
                   last_error=Personal(record.last_error, segment),
                   failures=[EmailFailure(address=Personal(a, segment),
                                          error=Personal(e, segment)) for a, e in pairs])


@strawberry.type(description="A conversation with the customer, and what came out of it.")
class CustomerContact:
    id: UUID
    customer_id: UUID
    channel: str
    result: str
    specialist: str
    contact_date: date
    recorded_on: date
    recorded_by: str
    promise_ids: list[UUID]
    dispute_ids: list[UUID]
    resubmission_ids: list[UUID]
    contact_person_id: Personal | None = personal_field(
        description="The id of the collection contact reached (personal: a user may have "
                    "chosen it).")
    summary: Personal | None = personal_field()
    notes: Personal | None = personal_field()
    customer: Customer | None = customer_field()

    @classmethod
    def of(cls, record: CustomerContactRecord, segment: str) -> Self:
        return cls(**_plain(record, cls, "contact_person_id", "summary", "notes"),
                   contact_person_id=None if record.contact_person_id is None
                   else Personal(record.contact_person_id, segment),
                   summary=Personal(record.summary, segment),
                   notes=Personal(record.notes, segment))

    @strawberry.field(description="The collection contact reached (also when removed since).",
                      extensions=[Reads(CONTACT_PERSONS, CUSTOMER)])
    async def person_reached(self, info: Info) -> ContactPerson | None:
        reached = self.contact_person_id.value if self.contact_person_id else None
        if reached is None:
            return None
        people = await info.context.loaders.contact_persons_by_customer.load(self.customer_id)
        segment = (await segments_of(info, [self.customer_id]))[self.customer_id]
        return next((contact_person(p, segment) for p in people
                     if p.contact_id == reached), None)
