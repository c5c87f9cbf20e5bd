"""Customers: the directory (search, master data, contacts, notes) as the customers read
model has it, who works them (assignment) and what specialists note about them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Self
from uuid import UUID

import strawberry

from ledger_collect.api.contacts_schema import ContactPerson
from ledger_collect.api.context import Info
from ledger_collect.api.errors import Problem, command_mutation
from ledger_collect.api.overview_parts import BRANCHES, CONTACT_PERSONS, HEAD_OFFICE, NOTES, Reads
from ledger_collect.api.pages import After, Connection, FirstOrNull, connection, read_page
from ledger_collect.api.permissions import (
    Action,
    Personal,
    User,
    personal_field,
    require,
    require_assignment,
)
from ledger_collect.api.runner import (
    CUSTOMER_READS,
    Guard,
    arguments,
    on_customer,
    run_command,
)
from ledger_collect.commands import Batch
from ledger_collect.commands import receivable_commands as commands
from ledger_collect.domain import customer as domain
from ledger_collect.projections import customers as model
from ledger_collect.projections.disputes import DisputeNoteRecord


@strawberry.type
class WrittenNote:
    """A note as the customer's and the dispute cases' notes show it: its text is personal."""

    note_id: str
    written_on: date
    written_by: str
    text: Personal | None = personal_field()

    @classmethod
    def of(cls, note: model.NoteRecord | DisputeNoteRecord, segment: str) -> Self:
        return cls(note_id=note.note_id, written_on=note.written_on, written_by=note.written_by,
                   text=Personal(note.text, segment))


@strawberry.type(description="A note a specialist wrote about the customer.")
class CustomerNote(WrittenNote):
    pass


@strawberry.type(description="A customer (business partner): master data, assignment, the "
                             "people to contact there and the notes about it.")
class Customer:
    id: UUID
    number: str
    name: str
    segment: str
    specialist: str | None = strawberry.field(description="Assigned specialist; null when "
                                                          "unassigned.")
    currency: str
    credit_limit: Decimal
    risk_class: str
    head_office_id: UUID | None = strawberry.field(
        description="The head office of a branch; null for a head office or a stand-alone "
                    "customer.")
    registered_on: date
    changed_on: date = strawberry.field(description="Business date of the last change.")
    changed_by: str = strawberry.field(description="Who made the last change.")
    changed_at: datetime = strawberry.field(description="When the last change was recorded.")

    @classmethod
    def of(cls, record: model.CustomerRecord) -> Customer:
        return cls(id=record.id, number=record.number, name=record.name,
                   segment=record.segment, specialist=record.specialist,
                   currency=record.currency, credit_limit=record.credit_limit,
                   risk_class=record.risk_class, head_office_id=record.head_office_id,
                   registered_on=record.registered_on, changed_on=record.changed_on,
                   changed_by=record.changed_by, changed_at=record.changed_at)

    @strawberry.field(description="The people to contact at the customer, in the order they "
                                  "were added; one is the default.",
                      extensions=[Reads(CONTACT_PERSONS)])
    async def contacts(self, info: Info) -> list[ContactPerson]:
        people = await info.context.loaders.contact_persons_by_customer.load(self.id)
        return [contact_person(person, self.segment) for person in people
                if person.removed_on is None]

    @strawberry.field(description="Notes about the customer, oldest first.",
                      extensions=[Reads(NOTES)])
    async def notes(self, info: Info) -> list[CustomerNote]:
        notes = await info.context.loaders.notes_by_customer.load(self.id)
        return [CustomerNote.of(note, self.segment) for note in notes]

    @strawberry.field(description="The head office of this branch, if it is one.",
                      extensions=[Reads(HEAD_OFFICE)])
    async def head_office(self, info: Info) -> Customer | None:
        return await customer_by_id(info, self.head_office_id)

    @strawberry.field(description="The branches of this head office, by number.",
                      extensions=[Reads(BRANCHES)])
    async def branches(self, info: Info) -> list[Customer]:
        found = await info.context.loaders.branches_by_customer.load(self.id)
        return [Customer.of(branch) for branch in found]


def contact_person(person: model.ContactPersonRecord, segment: str) -> ContactPerson:
    return ContactPerson.of(person.contact_id, {"name": person.name, "email": person.email,
                                                "phone": person.phone, "role": person.role},
                            segment, default=person.is_default)


async def customer_by_id(info: Info, customer_id: UUID | None) -> Customer | None:
    if customer_id is None:
        return None
    found = await info.context.loaders.customers_by_id.load(customer_id)
    return Customer.of(found) if found is not None else None


async def segments_of(info: Info, customer_ids: Any) -> dict[UUID, str]:
    """The segment of each customer (through the request's loader: listing rows of a page
    and then asking for their customers costs one query, not one per row). A customer the
    read model does not know yet gets no segment, so its personal data stays hidden."""
    ids = list(dict.fromkeys(customer_ids))
    found = await info.context.loaders.customers_by_id.load_many(ids)
    return {i: (c.segment if c is not None else "") for i, c in zip(ids, found, strict=True)}


@strawberry.type
class CustomerQuery:
    @strawberry.field(description="One customer by id; null when there is none.")
    async def customer(self, info: Info, id: UUID) -> Customer | None:
        require(info.context.user, Action.READ)
        return await customer_by_id(info, id)

    @strawberry.field(description="The customer directory by number: customers whose number "
                                  "or name starts with `search` (case and accents ignored), "
                                  "of a segment, of a specialist, or unassigned.")
    async def customers(self, info: Info, search: str | None = None,
                        segment: str | None = None, specialist: str | None = None,
                        unassigned: bool = False,
                        first: FirstOrNull = None,
                        after: After = None) -> Connection[Customer]:
        require(info.context.user, Action.READ)
        page = await read_page(model.search_customers, info.context.pool, search=search,
                               segment=segment, specialist=specialist, unassigned=unassigned,
                               first=first, after=after)
        for record in page.items:  # the page's customers, for resolvers that ask again
            info.context.loaders.customers_by_id.prime(record.id, record)
        return connection(page, [Customer.of(record) for record in page.items])


@strawberry.input
class AssignCustomerInput:
    customer_id: UUID
    specialist: str = strawberry.field(description="User id of the specialist who is to work "
                                                   "the customer.")


@strawberry.input
class UnassignCustomerInput:
    customer_id: UUID


@strawberry.input
class AddCustomerNoteInput:
    customer_id: UUID
    text: str


@strawberry.type
class CustomerAssigned:
    customer_id: UUID
    specialist: str


@strawberry.type
class CustomerUnassigned:
    customer_id: UUID


@strawberry.type
class CustomerNoteAdded:
    customer_id: UUID
    note_id: str


def _assignment(customer_id: UUID, new: str | None) -> Guard:
    def guard(user: User, batch: Batch) -> None:
        require(user, Action.ASSIGN)
        customer = batch.get(domain.Customer, customer_id, "customer")
        require_assignment(user, segment=customer.segment, current=customer.specialist,
                           new=new)

    return guard


@strawberry.type
class CustomerMutations:
    @command_mutation(CustomerAssigned,
                      description="Give the customer to a specialist. Supervisors assign anyone "
                                  "in their segments; a specialist takes only unassigned "
                                  "customers, for themselves.")
    async def assign_customer(self, info: Info,
                              input: AssignCustomerInput) -> CustomerAssigned | Problem:
        specialist = input.specialist.strip()
        return await run_command(
            info, _assignment(input.customer_id, specialist), commands.assign_customer,
            **arguments(input, specialist=specialist), reads=CUSTOMER_READS,
            answer=lambda saved: CustomerAssigned(customer_id=input.customer_id,
                                                  specialist=specialist))

    @command_mutation(CustomerUnassigned,
                      description="Take the customer off its specialist's list.")
    async def unassign_customer(self, info: Info,
                                input: UnassignCustomerInput) -> CustomerUnassigned | Problem:
        return await run_command(
            info, _assignment(input.customer_id, None), commands.unassign_customer,
            **arguments(input), reads=CUSTOMER_READS,
            answer=lambda saved: CustomerUnassigned(customer_id=input.customer_id))

    @command_mutation(CustomerNoteAdded,
                      description="Add a free-text note to the customer (personal data).")
    async def add_customer_note(self, info: Info,
                                input: AddCustomerNoteInput) -> CustomerNoteAdded | Problem:
        note_id = uuid.uuid4().hex
        return await run_command(
            info, on_customer(Action.CASEWORK, input.customer_id), commands.add_customer_note,
            **arguments(input, note_id=note_id), reads=CUSTOMER_READS,
            answer=lambda saved: CustomerNoteAdded(customer_id=input.customer_id,
                                                   note_id=note_id))
