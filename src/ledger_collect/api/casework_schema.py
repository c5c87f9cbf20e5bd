"""Casework records as the read models show them: promises, disputes, follow-ups, activities,
collection emails and customer contacts (conversations).

Each type is built with ``<Type>.of(record, segment)`` from a reader's record and the segment of
its customer (``customers.segments_of``), so that its personal fields — reasons, descriptions,
notes, summaries, addresses — go out only through the personal-data guard. The casework lists
(``api.lists``) and the customer overview share these types.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Self, get_type_hints
from uuid import UUID

import strawberry

from ledger_collect.api.contacts_schema import ContactPerson
from ledger_collect.api.context import Info
from ledger_collect.api.customers_schema import (
    Customer,
    WrittenNote,
    contact_person,
    customer_by_id,
    segments_of,
)
from ledger_collect.api.overview_parts import CONTACT_PERSONS, CUSTOMER, Reads
from ledger_collect.api.permissions import Personal, personal_field
from ledger_collect.projections.casework import (
    ActivityRecord,
    InstalmentRecord,
    PromiseRecord,
    ResubmissionRecord,
)
from ledger_collect.projections.correspondence import CustomerContactRecord, EmailRecord
from ledger_collect.projections.disputes import DisputeRecord


async def _customer(root: Any, info: Info) -> Customer | None:
    return await customer_by_id(info, root.customer_id)


def customer_field() -> Any:
    return strawberry.field(resolver=_customer, description="The customer (through the "
                                                            "request's loader).",
                            extensions=[Reads(CUSTOMER)])


def record_fields(record: type, *, leave_out: Collection[str] = (), **descriptions: str) -> Any:
    """A base for the strawberry type of a read model's record: the record's fields, typed
    and ordered as the record declares them, but those in ``leave_out`` (which the type shows
    in its own way, as personal data, or not at all), with ``descriptions`` for the schema.
    ``shown(record)`` gives those fields' values, to build the type with."""
    names = tuple(f.name for f in dataclasses.fields(record) if f.name not in leave_out)
    if unknown := set(descriptions) - set(names):
        raise TypeError(f"{record.__name__} shows no field {', '.join(sorted(unknown))}")
    hints = get_type_hints(record)  # without the tables' marks: a Key is a str here

    def shown(cls: type, row: Any) -> dict[str, Any]:
        return {name: getattr(row, name) for name in names}

    return strawberry.type(type(f"{record.__name__}Fields", (), {
        "__annotations__": {name: hints[name] for name in names},
        **{name: strawberry.field(description=text) for name, text in descriptions.items()},
        "shown": classmethod(shown)}))


def _plain(record: Any, cls: type) -> dict[str, Any]:
    """The record's fields that ``cls`` declares, for a type that orders them otherwise."""
    shown = cls.__annotations__
    return {name: value for name, value in vars(record).items() if name in shown}


def _personal(record: Any, segment: str, *names: str) -> dict[str, Personal]:
    """The record's personal fields ``names``, each behind its customer's segment's guard."""
    return {name: Personal(getattr(record, name), segment) for name in names}


@strawberry.type(description="One instalment of a promise to pay.")
class Instalment(record_fields(InstalmentRecord,
                               status="open, kept, partially_kept or broken.",
                               covered="What counted towards it when valued.")):
    pass


@strawberry.type(description="A promise to pay: one invoice, an amount by a date.")
class Promise(record_fields(
        PromiseRecord, leave_out=("withdrawal_reason", "instalment_dates", "instalment_amounts",
                                  "instalment_statuses", "instalment_covered"),
        paid_amount="Received inside its window so far.",
        status="open, in_process, kept, partially_kept, broken, withdrawn or closed.",
        contact_id="The conversation it was made in.",
        ended_on="When it was valued, withdrawn or closed.")):
    instalments: list[Instalment]
    withdrawal_reason: Personal | None = personal_field()
    customer: Customer | None = customer_field()

    @classmethod
    def of(cls, record: PromiseRecord, segment: str) -> Self:
        return cls(**cls.shown(record),
                   instalments=[Instalment(**Instalment.shown(i)) for i in record.instalments],
                   withdrawal_reason=Personal(record.withdrawal_reason, segment))


@strawberry.type(description="A note written on a dispute case.")
class DisputeNote(WrittenNote):
    pass


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
        return [DisputeNote.of(note, segment) for note in found]


@strawberry.type(description="A follow-up (resubmission): not before this date.")
class Resubmission(record_fields(ResubmissionRecord, leave_out=("reason", "move_reason"),
                                 invoice_ids="Empty: the whole customer.",
                                 status="open or completed.",
                                 moves="How often the date was moved.")):
    reason: Personal | None = personal_field(description="Why it was entered.")
    move_reason: Personal | None = personal_field(description="Why it was last moved.")
    customer: Customer | None = customer_field()

    @classmethod
    def of(cls, record: ResubmissionRecord, segment: str) -> Self:
        return cls(**cls.shown(record), **_personal(record, segment, "reason", "move_reason"))


@strawberry.type(description="A task for a specialist about a customer, due on a date.")
class Activity(record_fields(ActivityRecord, leave_out=("description", "closing_note"),
                             status="open or closed.")):
    description: Personal | None = personal_field()
    closing_note: Personal | None = personal_field()
    customer: Customer | None = customer_field()

    @classmethod
    def of(cls, record: ActivityRecord, segment: str) -> Self:
        return cls(**cls.shown(record),
                   **_personal(record, segment, "description", "closing_note"))


@strawberry.type(description="A recipient the email did not reach, and why.")
class EmailFailure:
    address: Personal | None = personal_field()
    error: Personal | None = personal_field()


@strawberry.type(description="A collection email (its latest attempt).")
class CollectionEmail(record_fields(
        EmailRecord, leave_out=("template", "recipients", "attachments", "last_error", "failures"),
        status="pending, sent, failed or partly_sent.")):
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
        return cls(**cls.shown(record), **_personal(record, segment, "template", "last_error"),
                   attachments=[Personal(a, segment) for a in record.attachments],
                   to=[Personal(a, segment) for a in record.to],
                   cc=[Personal(a, segment) for a in record.cc],
                   bcc=[Personal(a, segment) for a in record.bcc],
                   failures=[EmailFailure(address=Personal(a, segment),
                                          error=Personal(e, segment)) for a, e in pairs])


@strawberry.type(description="A conversation with the customer, and what came out of it.")
class CustomerContact(record_fields(CustomerContactRecord,
                                    leave_out=("contact_person_id", "summary", "notes"))):
    contact_person_id: Personal | None = personal_field(
        description="The id of the collection contact reached (personal: a user may have "
                    "chosen it).")
    summary: Personal | None = personal_field()
    notes: Personal | None = personal_field()
    customer: Customer | None = customer_field()

    @classmethod
    def of(cls, record: CustomerContactRecord, segment: str) -> Self:
        return cls(**cls.shown(record), **_personal(record, segment, "summary", "notes"),
                   contact_person_id=None if record.contact_person_id is None
                   else Personal(record.contact_person_id, segment))

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
