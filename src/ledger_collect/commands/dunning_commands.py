"""Dunning: its procedures (one ``DunningSetup`` record), which procedure a customer follows,
blocks on customers and invoices, and the letters a dunning run issues.

A letter is issued as a collection email (template ``dunning``) that lists the (invoice,
level) pairs it announces; marking that email sent is what raises the levels (the email
commands' part), so nothing here raises a level.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger_collect.commands.email_commands import create_email
from ledger_collect.commands.values import CODE, DATE, UNCHECKED, checked
from ledger_collect.domain.base import DomainError, email_address
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dunning_letter import DunningLetter
from ledger_collect.domain.dunning_procedure import SETUP_ID, DunningSetup, define_procedure
from ledger_collect.domain.dunning_rules import REMINDER, Letter
from ledger_collect.domain.invoice import Invoice

if TYPE_CHECKING:
    from ledger_collect.commands import Batch

#: The collection email template dunning letters are written with.
TEMPLATE = "dunning"


class NoDunningAddressError(DomainError):
    """The customer's contact person for dunning has no email address (or there is none)."""


class StaleLetterError(DomainError):
    """The letter proposed no longer fits its items (paid, blocked, dunned meanwhile)."""


def setup(batch: Batch, *, actor: str, business_date: date) -> DunningSetup:
    """The dunning setup, started on first use."""
    found = batch.find(DunningSetup, SETUP_ID)
    return found if found is not None else batch.add(
        DunningSetup.start(actor=actor, business_date=business_date))


# -- procedures --------------------------------------------------------------------------------
@checked(code=CODE, levels=UNCHECKED, minimum_amount=UNCHECKED, interest_rate=UNCHECKED,
         reminder_days=UNCHECKED, quiet_days=UNCHECKED, per_invoice=UNCHECKED, language=CODE)
def save_dunning_procedure(batch: Batch, *, code: str, levels: Sequence[dict[str, Any]],
                           minimum_amount: Decimal | str = Decimal("0.00"),
                           interest_rate: Decimal | str | None = None,
                           reminder_days: int | None = None, quiet_days: int = 0,
                           per_invoice: bool = False, language: str = "en",
                           description: str = "", actor: str, business_date: date) -> bool:
    """Add or replace a procedure (``dunning_procedure.define_procedure`` checks it);
    False when it was already so defined."""
    procedure = define_procedure(
        code=code, levels=list(levels), minimum_amount=minimum_amount,
        interest_rate=interest_rate, reminder_days=reminder_days, quiet_days=quiet_days,
        per_invoice=per_invoice, language=language, description=description)
    return setup(batch, actor=actor, business_date=business_date).save_procedure(
        procedure, actor=actor, business_date=business_date)


@checked(code=CODE)
def remove_dunning_procedure(batch: Batch, code: str, *, actor: str,
                             business_date: date) -> None:
    setup(batch, actor=actor, business_date=business_date).remove_procedure(
        code, actor=actor, business_date=business_date)


@checked(code=CODE)
def set_default_dunning_procedure(batch: Batch, code: str | None, *, actor: str,
                                  business_date: date) -> None:
    setup(batch, actor=actor, business_date=business_date).set_default(
        code, actor=actor, business_date=business_date)


@checked(code=CODE)
def set_segment_dunning_procedure(batch: Batch, segment: str, code: str | None, *, actor: str,
                                  business_date: date) -> None:
    """The segment's customers follow ``code`` (None: the default)."""
    setup(batch, actor=actor, business_date=business_date).set_segment(
        segment, code, actor=actor, business_date=business_date)


@checked(code=CODE)
def set_customer_dunning_procedure(batch: Batch, customer_id: UUID, code: str | None, *,
                                   actor: str, business_date: date) -> None:
    """The customer follows ``code`` whatever its segment's (None: its segment's again)."""
    customer = batch.get(Customer, customer_id, "customer")
    if code is not None:
        setup(batch, actor=actor, business_date=business_date).procedure(code)
    customer.set_dunning_procedure(code, actor=actor, business_date=business_date)


# -- blocks ------------------------------------------------------------------------------------
@checked(until=DATE)
def block_customer_dunning(batch: Batch, customer_id: UUID, *, reason: str,
                           until: date | None = None, actor: str, business_date: date) -> None:
    batch.get(Customer, customer_id, "customer").block_dunning(
        reason, until, actor=actor, business_date=business_date)


@checked
def release_customer_dunning_block(batch: Batch, customer_id: UUID, *, actor: str,
                                   business_date: date) -> None:
    batch.get(Customer, customer_id, "customer").release_dunning_block(
        actor=actor, business_date=business_date)


@checked(until=DATE)
def block_invoice_dunning(batch: Batch, invoice_id: UUID, *, reason: str,
                          until: date | None = None, actor: str, business_date: date) -> None:
    batch.get(Invoice, invoice_id, "invoice").block_dunning(
        reason, until, actor=actor, business_date=business_date)


@checked
def release_invoice_dunning_block(batch: Batch, invoice_id: UUID, *, actor: str,
                                  business_date: date) -> None:
    batch.get(Invoice, invoice_id, "invoice").release_dunning_block(
        actor=actor, business_date=business_date)


# -- letters -----------------------------------------------------------------------------------
@checked(letter=UNCHECKED)
def issue_dunning_letter(batch: Batch, letter: Letter, *, actor: str,
                         business_date: date) -> UUID | None:
    """Issue a proposed letter: its collection email to the customer's contact person for
    dunning, and the letter's record. None when the letter was issued already (a run made
    again). The proposal is read from read models, so it is checked against the records
    again: each item still open, the customer's, unblocked and below the letter's level."""
    if business_date != letter.business_date:
        raise StaleLetterError(f"the letter was proposed for {letter.business_date}, not "
                               f"{business_date}")
    if batch.find(DunningLetter, letter.letter_id) is not None:
        return None
    customer = batch.get(Customer, letter.customer_id, "customer")
    address = _address(customer)
    batch.load(line.invoice_id for line in letter.lines)
    if customer.dunning_block is not None and customer.dunning_block.holds_on(business_date):
        raise StaleLetterError(f"dunning of customer {customer.number} is blocked")
    for line in letter.lines:
        _check_line(batch.get(Invoice, line.invoice_id, "invoice"), customer, line.level,
                    letter.kind, business_date)
    email_id = _letter_email(batch, customer.id, address, letter, actor=actor,
                             business_date=business_date)
    batch.add(DunningLetter.issue(letter, email_id=email_id, actor=actor))
    return email_id


def _address(customer: Customer) -> str:
    contact = customer.dunning_contact()
    if contact is None or not contact[1]:
        raise NoDunningAddressError(f"customer {customer.number} has no contact person for "
                                    f"dunning with an email address")
    try:
        return email_address(contact[1])
    except DomainError:  # erased personal data reads "[erased]"
        raise NoDunningAddressError(f"the dunning contact of customer {customer.number} has "
                                    f"no usable email address") from None


def _check_line(invoice: Invoice, customer: Customer, level: int, kind: str,
                today: date) -> None:
    what = f"invoice {invoice.document_number}"
    if invoice.customer_id != customer.id or not invoice.is_open or invoice.open_amount <= 0:
        raise StaleLetterError(f"{what} is no longer an open item of customer {customer.number}")
    if invoice.dunning_block is not None and invoice.dunning_block.holds_on(today):
        raise StaleLetterError(f"dunning of {what} is blocked")
    if invoice.agency_case_id is not None:
        raise StaleLetterError(f"{what} is with a collection agency")
    if invoice.dunning_level > 0 if kind == REMINDER else invoice.dunning_level >= level:
        raise StaleLetterError(f"{what} is at dunning level {invoice.dunning_level} already")


def _letter_email(batch: Batch, customer_id: UUID, address: str, letter: Letter, *,
                  actor: str, business_date: date) -> UUID:
    """The collection email carrying the letter: template ``dunning`` at the letter's level in
    the procedure's language, the (invoice, level) pairs it announces, its fee and interest
    (none when nothing is charged)."""
    return create_email(
        batch, customer_id, to=[address], template=TEMPLATE, language=letter.language,
        level=letter.level, dunning=letter.dunning, fee=letter.fee or None,
        interest=letter.interest or None, actor=actor, business_date=business_date)
