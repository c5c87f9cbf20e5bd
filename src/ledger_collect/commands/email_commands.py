"""Collection emails and their templates: create an email (a dunning letter among them),
record what the mail server answered, correct and re-send; save a template.

Each command decides every rule before anything is recorded (``Collections.run`` runs them).
An email names its template by key; the template (saved, else shipped) must exist when the
email is created, so that the mailer never meets an email it cannot compose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

from ledger_collect.commands.template_defaults import find_template
from ledger_collect.commands.values import AMOUNT, CODE, KINDS, TEXT, UNCHECKED, checked
from ledger_collect.domain.base import ValidationError
from ledger_collect.domain.contact import CustomerContact
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dispute import WrongCustomerError
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.email_template import EmailTemplate, template_id
from ledger_collect.domain.invoice import Invoice

if TYPE_CHECKING:
    from ledger_collect.commands import Batch


def _email(batch: Batch, email_id: UUID) -> CollectionEmail:
    return batch.get(CollectionEmail, email_id, "email")


def _check_dunning(batch: Batch, email: CollectionEmail, business_date: date) -> None:
    """The invoices a letter announces are the customer's and open; above level 0 (a pre-due
    reminder) they are overdue on the day the letter is written."""
    for invoice_id, level in email.dunning:
        invoice = batch.get(Invoice, invoice_id, "invoice")
        if invoice.customer_id != email.customer_id:
            raise WrongCustomerError(f"invoice {invoice.document_number} belongs to another "
                                     f"customer than the letter")
        invoice.check_open("it cannot be dunned")
        if level > 0 and business_date <= invoice.due_date:
            raise ValidationError(f"invoice {invoice.document_number} is not overdue on "
                                  f"{business_date} (due {invoice.due_date}): a level {level} "
                                  f"letter cannot announce it; level 0 is the pre-due reminder")


@checked(contact_id=UNCHECKED, language=CODE, level=UNCHECKED, dunning=UNCHECKED, fee=AMOUNT,
         interest=AMOUNT)
def create_email(batch: Batch, customer_id: UUID, *, to: Iterable[str], cc: Iterable[str] = (),
                 bcc: Iterable[str] = (), template: str, attachments: Iterable[str] = (),
                 zipped: bool = False, contact_id: UUID | None = None, language: str = "en",
                 level: int | None = None, dunning: Sequence[tuple[UUID, int]] = (),
                 fee: Decimal | str | None = None, interest: Decimal | str | None = None,
                 actor: str, business_date: date) -> UUID:
    """A pending email to the customer (optionally the summary of a recorded conversation),
    composed from the template ``template`` in ``language``. A dunning letter names the
    invoices it announces and their levels (``dunning``), raised when it is delivered; its
    template is the ``level``'s (by default the highest level announced)."""
    batch.get(Customer, customer_id, "customer")
    if contact_id is not None and batch.get(CustomerContact, contact_id,
                                            "customer contact").customer_id != customer_id:
        raise WrongCustomerError(f"customer contact {contact_id} concerns another customer")
    email = CollectionEmail.create(
        customer_id=customer_id, to=to, cc=cc, bcc=bcc, template=template,
        attachments=attachments, zipped=zipped, contact_id=contact_id, language=language,
        level=level, dunning=dunning, fee=fee, interest=interest, actor=actor,
        business_date=business_date)
    find_template(lambda tid: batch.find(EmailTemplate, tid), email.template, email.language,
                  email.level)
    _check_dunning(batch, email, business_date)
    return batch.add(email).id


@checked(attempt=UNCHECKED, refused=KINDS["failures"])
def record_email_delivery(batch: Batch, email_id: UUID, *, attempt: int,
                          refused: Mapping[str, str] | None = None, error: str | None = None,
                          actor: str, business_date: date) -> str | None:
    """Record the mail server's answer to an attempt (see ``CollectionEmail.record_delivery``).
    A letter that reached someone raises the levels it announced, in the same save. Returns
    the status recorded, None when the attempt's outcome was recorded before."""
    email = _email(batch, email_id)
    status = email.record_delivery(attempt=attempt, refused=refused, error=error, actor=actor,
                                   business_date=business_date)
    if status is not None and email.reached_someone:
        for invoice_id, level in email.dunning:
            batch.get(Invoice, invoice_id, "invoice").raise_dunning_level_to(
                level, actor=actor, business_date=business_date)
    return status


@checked
def mark_email_sent(batch: Batch, email_id: UUID, *, actor: str, business_date: date) -> None:
    _email(batch, email_id).mark_sent(actor=actor, business_date=business_date)


@checked
def mark_email_failed(batch: Batch, email_id: UUID, error: str, *, actor: str,
                      business_date: date) -> None:
    _email(batch, email_id).mark_failed(error, actor=actor, business_date=business_date)


@checked
def mark_email_partly_sent(batch: Batch, email_id: UUID, failures: Mapping[str, str], *,
                           actor: str, business_date: date) -> None:
    _email(batch, email_id).mark_partly_sent(failures, actor=actor, business_date=business_date)


@checked
def correct_and_resend_email(batch: Batch, email_id: UUID, *, to: Iterable[str],
                             cc: Iterable[str] = (), bcc: Iterable[str] = (), actor: str,
                             business_date: date) -> None:
    _email(batch, email_id).correct_and_resend(to=to, cc=cc, bcc=bcc, actor=actor,
                                               business_date=business_date)


@checked(key=CODE, language=CODE, level=UNCHECKED, subject=TEXT, body=TEXT)
def save_email_template(batch: Batch, key: str, language: str, *, level: int | None = None,
                        subject: str, body: str, actor: str, business_date: date) -> int:
    """Save the template (key, language, level): a new version when the text changed. Returns
    the version now in force."""
    saved = batch.find(EmailTemplate, template_id(key, language, level))
    if saved is None:
        saved = batch.add(EmailTemplate.save_first(
            key=key, language=language, level=level, subject=subject, body=body, actor=actor,
            business_date=business_date))
    else:
        saved.save(subject=subject, body=body, actor=actor, business_date=business_date)
    return saved.revision
