"""Collection emails: created by specialists (pending), then reported sent, failed or partly
sent by the mailer (the integration role); a failed one can be corrected and re-sent.
Recipients are personal data: answers carry the status, not the addresses."""

from __future__ import annotations

from typing import Annotated, Self
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Conflict, NotFound, RuleBroken
from ledger_collect.api.permissions import Action
from ledger_collect.api.runner import (
    EMAIL_READS,
    Guard,
    on_customer,
    on_record,
    run_command,
    state_of,
)
from ledger_collect.commands import casework as commands
from ledger_collect.domain.email import CollectionEmail


@strawberry.input
class CreateEmailInput:
    customer_id: UUID
    to: list[str]
    template: str
    cc: list[str] = strawberry.field(default_factory=list)
    bcc: list[str] = strawberry.field(default_factory=list)
    attachments: list[str] = strawberry.field(
        default_factory=list, description="Invoice copies, account statement...")
    zipped: bool = False
    contact_id: UUID | None = strawberry.field(
        default=None, description="The conversation this email sums up, if any.")


@strawberry.input
class MarkEmailSentInput:
    email_id: UUID


@strawberry.input
class MarkEmailFailedInput:
    email_id: UUID
    error: str


@strawberry.input
class RecipientFailureInput:
    address: str
    error: str


@strawberry.input
class MarkEmailPartlySentInput:
    email_id: UUID
    failures: list[RecipientFailureInput]


@strawberry.input
class CorrectAndResendEmailInput:
    email_id: UUID
    to: list[str]
    cc: list[str] = strawberry.field(default_factory=list)
    bcc: list[str] = strawberry.field(default_factory=list)


@strawberry.interface(description="A collection email as it stands after the command.")
class EmailState:
    email_id: UUID
    customer_id: UUID
    status: str = strawberry.field(description="pending, sent, failed or partly_sent.")
    attempt: int

    @classmethod
    def of(cls, email: CollectionEmail) -> Self:
        return cls(email_id=email.id, customer_id=email.customer_id, status=email.status,
                   attempt=email.attempt)


@strawberry.type
class EmailCreated(EmailState):
    pass


@strawberry.type
class EmailMarkedSent(EmailState):
    pass


@strawberry.type
class EmailMarkedFailed(EmailState):
    pass


@strawberry.type
class EmailMarkedPartlySent(EmailState):
    pass


@strawberry.type
class EmailCorrected(EmailState):
    pass


CreateEmailResult = Annotated[EmailCreated | NotFound | RuleBroken | Conflict,
                              strawberry.union("CreateEmailResult")]
MarkEmailSentResult = Annotated[EmailMarkedSent | NotFound | RuleBroken | Conflict,
                                strawberry.union("MarkEmailSentResult")]
MarkEmailFailedResult = Annotated[EmailMarkedFailed | NotFound | RuleBroken | Conflict,
                                  strawberry.union("MarkEmailFailedResult")]
MarkEmailPartlySentResult = Annotated[EmailMarkedPartlySent | NotFound | RuleBroken | Conflict,
                                      strawberry.union("MarkEmailPartlySentResult")]
CorrectAndResendEmailResult = Annotated[EmailCorrected | NotFound | RuleBroken | Conflict,
                                        strawberry.union("CorrectAndResendEmailResult")]


def _email(action: Action, email_id: UUID) -> Guard:
    return on_record(action, CollectionEmail, email_id, "email")


@strawberry.type
class EmailMutations:
    @strawberry.mutation(description="Create a pending email to the customer; attachments are "
                                     "made in the background, then it is sent.")
    async def create_email(self, info: Info, input: CreateEmailInput) -> CreateEmailResult:
        return await run_command(
            info, on_customer(Action.CASEWORK, input.customer_id), commands.create_email,
            input.customer_id, to=input.to, cc=input.cc, bcc=input.bcc,
            template=input.template, attachments=input.attachments, zipped=input.zipped,
            contact_id=input.contact_id,
            reads=EMAIL_READS, answer=lambda saved: EmailCreated.of(saved[saved.result]))

    @strawberry.mutation(description="The mailer delivered the email to every recipient.")
    async def mark_email_sent(self, info: Info, input: MarkEmailSentInput) -> MarkEmailSentResult:
        return await run_command(
            info, _email(Action.EMAIL_DELIVERY, input.email_id), commands.mark_email_sent,
            input.email_id, reads=EMAIL_READS, answer=state_of(EmailMarkedSent, input.email_id))

    @strawberry.mutation(description="The mailer could not send the email at all.")
    async def mark_email_failed(self, info: Info,
                                input: MarkEmailFailedInput) -> MarkEmailFailedResult:
        return await run_command(
            info, _email(Action.EMAIL_DELIVERY, input.email_id), commands.mark_email_failed,
            input.email_id, input.error, reads=EMAIL_READS, answer=state_of(EmailMarkedFailed, input.email_id))

    @strawberry.mutation(description="Some recipients refused the email.")
    async def mark_email_partly_sent(
            self, info: Info, input: MarkEmailPartlySentInput) -> MarkEmailPartlySentResult:
        return await run_command(
            info, _email(Action.EMAIL_DELIVERY, input.email_id),
            commands.mark_email_partly_sent, input.email_id,
            {failure.address: failure.error for failure in input.failures},
            reads=EMAIL_READS, answer=state_of(EmailMarkedPartlySent, input.email_id))

    @strawberry.mutation(description="Correct the recipients of a failed email and send it "
                                     "again.")
    async def correct_and_resend_email(
            self, info: Info, input: CorrectAndResendEmailInput) -> CorrectAndResendEmailResult:
        return await run_command(
            info, _email(Action.CASEWORK, input.email_id), commands.correct_and_resend_email,
            input.email_id, to=input.to, cc=input.cc, bcc=input.bcc,
            reads=EMAIL_READS, answer=state_of(EmailCorrected, input.email_id))
