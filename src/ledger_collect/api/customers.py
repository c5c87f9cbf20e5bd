"""Customers: who works them (assignment) and what specialists note about them."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import strawberry

from ledger_collect.api.contacts import ContactPerson
from ledger_collect.api.context import Info
from ledger_collect.api.errors import Conflict, NotFound, RuleBroken
from ledger_collect.api.permissions import (
    Action,
    Personal,
    User,
    personal_field,
    require,
    require_assignment,
)
from ledger_collect.api.runner import Guard, on_customer, run_command
from ledger_collect.commands import Batch
from ledger_collect.commands import receivables as commands
from ledger_collect.domain import customer as domain


@strawberry.type(description="A note a specialist wrote about the customer.")
class CustomerNote:
    note_id: str
    text: Personal | None = personal_field()


@strawberry.type(description="A customer (business partner) and the people to contact there.")
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
    head_office_id: UUID | None
    contacts: list[ContactPerson]
    notes: list[CustomerNote]

    @classmethod
    def of(cls, customer: domain.Customer) -> Customer:
        segment = customer.segment
        return cls(
            id=customer.id, number=customer.number, name=customer.name, segment=segment,
            specialist=customer.specialist, currency=customer.currency,
            credit_limit=customer.credit_limit, risk_class=customer.risk_class,
            head_office_id=customer.head_office_id,
            contacts=[ContactPerson.of(contact_id, person, segment,
                                       default=contact_id == customer.default_contact_id)
                      for contact_id, person in customer.contacts.items()],
            notes=[CustomerNote(note_id=note_id, text=Personal(text, segment))
                   for note_id, text in customer.notes.items()])


@strawberry.type
class CustomerQuery:
    @strawberry.field(description="One customer by id; null when there is none.")
    async def customer(self, info: Info, id: UUID) -> Customer | None:
        require(info.context.user, Action.READ)
        found = await info.context.loaders.customers_by_id.load(id)
        return Customer.of(found) if found is not None else None


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


AssignCustomerResult = Annotated[CustomerAssigned | NotFound | RuleBroken | Conflict,
                                 strawberry.union("AssignCustomerResult")]
UnassignCustomerResult = Annotated[CustomerUnassigned | NotFound | RuleBroken | Conflict,
                                   strawberry.union("UnassignCustomerResult")]
AddCustomerNoteResult = Annotated[CustomerNoteAdded | NotFound | RuleBroken | Conflict,
                                  strawberry.union("AddCustomerNoteResult")]


def _assignment(customer_id: UUID, new: str | None) -> Guard:
    def guard(user: User, batch: Batch) -> None:
        require(user, Action.ASSIGN)
        customer = batch.get(domain.Customer, customer_id, "customer")
        require_assignment(user, segment=customer.segment, current=customer.specialist,
                           new=new)

    return guard


@strawberry.type
class CustomerMutations:
    @strawberry.mutation(description="Give the customer to a specialist. Supervisors assign "
                                     "anyone in their segments; a specialist takes only "
                                     "unassigned customers, for themselves.")
    async def assign_customer(self, info: Info,
                              input: AssignCustomerInput) -> AssignCustomerResult:
        specialist = input.specialist.strip()
        return await run_command(
            info, _assignment(input.customer_id, specialist), commands.assign_customer,
            input.customer_id, specialist,
            answer=lambda saved: CustomerAssigned(customer_id=input.customer_id,
                                                     specialist=specialist))

    @strawberry.mutation(description="Take the customer off its specialist's list.")
    async def unassign_customer(self, info: Info,
                                input: UnassignCustomerInput) -> UnassignCustomerResult:
        return await run_command(
            info, _assignment(input.customer_id, None), commands.unassign_customer,
            input.customer_id,
            answer=lambda saved: CustomerUnassigned(customer_id=input.customer_id))

    @strawberry.mutation(description="Add a free-text note to the customer (personal data).")
    async def add_customer_note(self, info: Info,
                                input: AddCustomerNoteInput) -> AddCustomerNoteResult:
        note_id = uuid.uuid4().hex
        return await run_command(
            info, on_customer(Action.CASEWORK, input.customer_id), commands.add_customer_note,
            input.customer_id, note_id, input.text,
            answer=lambda saved: CustomerNoteAdded(customer_id=input.customer_id,
                                                      note_id=note_id))
