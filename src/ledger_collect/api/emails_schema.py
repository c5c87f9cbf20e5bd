"""Collection emails: created by specialists (pending), sent by the mailer job over SMTP, which
records them sent, failed or partly sent (an outside mailer with the integration role may
report the same by hand); a failed one can be corrected and re-sent. Recipients are personal
data: answers carry the status, not the addresses.

Once an email is created, or corrected to be re-sent, its ``send-email`` job is requested. The
email is saved whatever happens to that request: one that cannot be sent is logged, and the
``emails`` sweep sends the email a few minutes later.
"""

from __future__ import annotations

from typing import Self
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Problem, command_mutation
from ledger_collect.api.permissions import Action
from ledger_collect.api.runner import EMAIL_READS, RecordCommands
from ledger_collect.commands import email_commands as commands
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.jobs.actors import send_soon
from ledger_collect.jobs.registry import SEND_EMAIL


@strawberry.input(description="An invoice a dunning letter announces, at a level (0: pre-due).")
class DunningItemInput:
    invoice_id: UUID
    level: int


@strawberry.input
class CreateEmailInput:
    customer_id: UUID
    to: list[str]
    template: str = strawberry.field(description="The template's key: statement, reminder, "
                                                  "dunning...")
    cc: list[str] = strawberry.field(default_factory=list)
    bcc: list[str] = strawberry.field(default_factory=list)
    attachments: list[str] = strawberry.field(
        default_factory=list, description="open-items.pdf, open-items.csv, statement.pdf, "
                                          "statement.csv: made when the email is sent.")
    zipped: bool = False
    contact_id: UUID | None = strawberry.field(
        default=None, description="The conversation this email sums up, if any.")
    language: str = strawberry.field(default="en", description="The template's language.")
    level: int | None = strawberry.field(
        default=None, description="A dunning letter's level (its template's); by default the "
                                  "highest level it announces.")
    dunning: list[DunningItemInput] = strawberry.field(
        default_factory=list, description="The invoices a dunning letter announces, and at "
                                          "which level: raised when it is delivered.")


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


_EMAIL = RecordCommands(CollectionEmail, "email_id", "email", EMAIL_READS)


@strawberry.type
class EmailMutations:
    @command_mutation(EmailCreated,
                      description="Create a pending email to the customer; attachments are made "
                                  "in the background, then it is sent.")
    async def create_email(self, info: Info, input: CreateEmailInput) -> EmailState | Problem:
        made = await _EMAIL.create(info, commands.create_email, input, answer=EmailCreated,
                                   dunning=[(d.invoice_id, d.level) for d in input.dunning])
        return await _send_soon(info, made)

    @command_mutation(EmailMarkedSent,
                      description="The mailer delivered the email to every recipient.")
    async def mark_email_sent(self, info: Info, input: MarkEmailSentInput) -> EmailState | Problem:
        return await _EMAIL.change(info, commands.mark_email_sent, input,
                                   action=Action.EMAIL_DELIVERY, answer=EmailMarkedSent)

    @command_mutation(EmailMarkedFailed, description="The mailer could not send the email at all.")
    async def mark_email_failed(self, info: Info,
                                input: MarkEmailFailedInput) -> EmailState | Problem:
        return await _EMAIL.change(info, commands.mark_email_failed, input,
                                   action=Action.EMAIL_DELIVERY, answer=EmailMarkedFailed)

    @command_mutation(EmailMarkedPartlySent, description="Some recipients refused the email.")
    async def mark_email_partly_sent(self, info: Info,
                                     input: MarkEmailPartlySentInput) -> EmailState | Problem:
        return await _EMAIL.change(
            info, commands.mark_email_partly_sent, input, action=Action.EMAIL_DELIVERY,
            failures={failure.address: failure.error for failure in input.failures},
            answer=EmailMarkedPartlySent)

    @command_mutation(EmailCorrected,
                      description="Correct the recipients of a failed email and send it again.")
    async def correct_and_resend_email(self, info: Info,
                                       input: CorrectAndResendEmailInput) -> EmailState | Problem:
        corrected = await _EMAIL.change(info, commands.correct_and_resend_email, input,
                                        answer=EmailCorrected)
        return await _send_soon(info, corrected)


async def _send_soon(info: Info, answer: EmailState | Problem) -> EmailState | Problem:
    """Request the sending of the email just saved pending (a refused command: nothing)."""
    if isinstance(answer, EmailState) and answer.status == "pending":
        await run_in_threadpool(send_soon, info.context.collections, SEND_EMAIL,
                                answer.email_id)
    return answer
