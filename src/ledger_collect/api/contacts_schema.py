"""Collection contacts (the people to talk to at a customer) and customer contacts (the
conversations with them). Names, emails, phones and notes are personal data."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Problem, command_mutation
from ledger_collect.api.permissions import Action, Personal, personal_field
from ledger_collect.api.runner import (
    CONTACT_READS,
    arguments,
    on_customer,
    on_record,
    run_command,
)
from ledger_collect.commands import casework_commands as casework
from ledger_collect.commands import receivable_commands as receivables
from ledger_collect.domain.contact import CHANNELS, RESULTS, CustomerContact


@strawberry.type(description="A person to contact at the customer.")
class ContactPerson:
    role: str | None
    is_default: bool
    contact_id: Personal | None = personal_field(
        description="The id the person was added with (it may be chosen by a user: personal).")
    name: Personal | None = personal_field()
    email: Personal | None = personal_field()
    phone: Personal | None = personal_field()

    @classmethod
    def of(cls, contact_id: str, person: dict[str, Any], segment: str, *,
           default: bool) -> ContactPerson:
        return cls(contact_id=Personal(contact_id, segment), role=person.get("role"),
                   is_default=default,
                   name=Personal(person.get("name"), segment),
                   email=Personal(person.get("email"), segment),
                   phone=Personal(person.get("phone"), segment))


@strawberry.input
class AddContactInput:
    customer_id: UUID
    name: str
    email: str | None = None
    phone: str | None = None
    role: str | None = None
    contact_id: str | None = strawberry.field(
        default=None, description="Your own id for the person (e.g. the ERP's); generated "
                                  "when omitted.")


@strawberry.input
class ChangeContactInput:
    customer_id: UUID
    contact_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    role: str | None = None


@strawberry.input
class RemoveContactInput:
    customer_id: UUID
    contact_id: str


@strawberry.input
class SetDefaultContactInput:
    customer_id: UUID
    contact_id: str


@strawberry.input
class RecordContactInput:
    customer_id: UUID
    channel: str = strawberry.field(description=f"One of {', '.join(CHANNELS)}.")
    result: str = strawberry.field(description=f"One of {', '.join(RESULTS)}.")
    contact_person_id: str | None = strawberry.field(
        default=None, description="The collection contact reached, if any.")
    summary: str | None = None
    notes: str | None = None
    contact_date: date | None = strawberry.field(
        default=None, description="When the conversation took place; default today.")


@strawberry.input
class LinkToContactInput:
    contact_id: UUID
    promise_ids: list[UUID] = strawberry.field(default_factory=list)
    dispute_ids: list[UUID] = strawberry.field(default_factory=list)
    resubmission_ids: list[UUID] = strawberry.field(default_factory=list)


@strawberry.interface(description="A contact person of the customer was changed.")
class ContactPersonChanged:
    customer_id: UUID
    contact_id: str


@strawberry.type
class ContactAdded(ContactPersonChanged):
    pass


@strawberry.type
class ContactChanged(ContactPersonChanged):
    pass


@strawberry.type
class ContactRemoved(ContactPersonChanged):
    pass


@strawberry.type
class DefaultContactSet(ContactPersonChanged):
    pass


@strawberry.type
class ContactRecorded:
    contact_id: UUID = strawberry.field(description="The id of the recorded conversation.")
    customer_id: UUID


@strawberry.type
class LinkedToContact:
    contact_id: UUID
    new_links: int = strawberry.field(description="Links not there before (linking is "
                                                  "idempotent).")


async def _on_person(info: Info, function: Callable[..., None], input: Any,
                     answer: type[ContactPersonChanged], **changes: Any) -> Any:
    """Run a command on one contact person of the customer ``input.customer_id``; the answer
    names the person."""
    given = arguments(input, **changes)
    return await run_command(
        info, on_customer(Action.CASEWORK, input.customer_id), function, **given,
        reads=CONTACT_READS,
        answer=lambda saved: answer(customer_id=input.customer_id, contact_id=given["contact_id"]))


@strawberry.type
class ContactMutations:
    @command_mutation(ContactAdded, description="Add a person to contact at the customer.")
    async def add_contact(self, info: Info,
                          input: AddContactInput) -> ContactPersonChanged | Problem:
        return await _on_person(info, receivables.add_contact, input, ContactAdded,
                                contact_id=input.contact_id or uuid.uuid4().hex)

    @command_mutation(ContactChanged,
                      description="Correct a contact person's name, email, phone or role.")
    async def change_contact(self, info: Info,
                             input: ChangeContactInput) -> ContactPersonChanged | Problem:
        return await _on_person(info, receivables.change_contact, input, ContactChanged)

    @command_mutation(ContactRemoved, description="Remove a contact person from the customer.")
    async def remove_contact(self, info: Info,
                             input: RemoveContactInput) -> ContactPersonChanged | Problem:
        return await _on_person(info, receivables.remove_contact, input, ContactRemoved)

    @command_mutation(DefaultContactSet, description="Make this person the one to contact first.")
    async def set_default_contact(self, info: Info,
                                  input: SetDefaultContactInput) -> ContactPersonChanged | Problem:
        return await _on_person(info, receivables.set_default_contact, input, DefaultContactSet)

    @command_mutation(ContactRecorded,
                      description="Record a conversation with the customer; the caller is the "
                                  "specialist who had it.")
    async def record_contact(self, info: Info,
                             input: RecordContactInput) -> ContactRecorded | Problem:
        return await run_command(
            info, on_customer(Action.CASEWORK, input.customer_id), casework.record_contact,
            **arguments(input), reads=CONTACT_READS, answer=lambda saved: ContactRecorded(
                contact_id=saved.result, customer_id=input.customer_id))

    @command_mutation(LinkedToContact,
                      description="Link the promises, disputes and follow-ups that came out of a "
                                  "conversation to it.")
    async def link_to_contact(self, info: Info,
                              input: LinkToContactInput) -> LinkedToContact | Problem:
        return await run_command(
            info, on_record(Action.CASEWORK, CustomerContact, input.contact_id,
                            "customer contact"),
            casework.link_to_contact, **arguments(input), reads=CONTACT_READS,
            answer=lambda saved: LinkedToContact(contact_id=input.contact_id,
                                                 new_links=saved.result))
