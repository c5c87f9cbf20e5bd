"""How each event reads in a customer's timeline: which row it adds (type, event, wording,
amount) and what it lets the model remember for later events of the same record.

A description holds no personal data — amounts, dates, document numbers, codes, user ids of
the staff — so it can be shown to anyone who may read the customer; whatever a person wrote or
is called (note texts, summaries, reasons, email addresses) goes to the row's personal part.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger_collect.domain.activity import Activity
from ledger_collect.domain.base import ERASED
from ledger_collect.domain.contact import CustomerContact
from ledger_collect.domain.credit import CustomerCredit
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import PromiseToPay
from ledger_collect.domain.resubmission import Resubmission
from ledger_collect.projections.rows import PageRows

#: The tables the fold writes (``projections.timeline`` declares them): the entries, and what
#: later events of a record do not repeat, remembered from its first event.
ENTRIES, CUSTOMERS, INVOICES, PROMISES, DISPUTES = (
    "timeline", "timeline_customers", "timeline_invoices", "timeline_promises",
    "timeline_disputes")


def add(page: PageRows, e: Any, customer_id: UUID, type_: str, event: str, description: str, *,
        amount: Decimal | None = None, currency: str | None = None,
        personal: str | None = None, occurred: date | None = None) -> None:
    """An entry of the customer's timeline (numbered when written)."""
    page.named[ENTRIES].append((
        customer_id, occurred or e.business_date, e.timestamp, type_, event, e.actor,
        description, amount, currency, personal, e.originator_id, e.originator_version))


def remember(page: PageRows, table: str, key: UUID, values: dict[str, Any]) -> None:
    page.named[table].add({"id": key, **values})


def documents(page: PageRows, invoice_ids: Iterable[UUID]) -> str:
    invoices = page.named[INVOICES].rows
    return ", ".join(invoices[i]["document_number"] if i in invoices else "?"
                     for i in invoice_ids)


def _money(amount: Decimal, currency: str | None) -> str:
    return f"{amount:.2f} {currency or ''}".rstrip()


def _label(code: str) -> str:
    return code.replace("_", " ")


def _text(*parts: Any) -> str | None:
    """The personal part: what people wrote, joined; once erased, one ERASED for the whole
    (what the read model's erasure step writes too)."""
    kept = [str(p) for p in parts if p]
    if any(ERASED in p for p in kept):
        return ERASED
    return "\n".join(kept) or None


def _addresses(to: Any, cc: Any, bcc: Any) -> str | None:
    lists = [(name, value) for name, value in (("to", to), ("cc", cc), ("bcc", bcc)) if value]
    return "; ".join(f"{name}: {', '.join(v) if isinstance(v, list) else ERASED}"
                     for name, v in lists) or None


# -- customers -------------------------------------------------------------------------------
def _registered(page: PageRows, e: Any) -> None:
    remember(page, CUSTOMERS, e.originator_id, {"segment": e.segment})


def _master_data_changed(page: PageRows, e: Any) -> None:
    if "segment" in e.changes:
        remember(page, CUSTOMERS, e.originator_id, {"segment": e.changes["segment"]})


def _customer_note(page: PageRows, e: Any) -> None:
    add(page, e, e.originator_id, "note", "added", "Note added", personal=_text(e.text))


# -- invoices and money ----------------------------------------------------------------------
def _posted(page: PageRows, e: Any) -> None:
    remember(page, INVOICES, e.originator_id, {
        "customer_id": e.customer_id, "document_number": e.document_number,
        "currency": e.currency})
    add(page, e, e.customer_id, "invoice", "posted",
        f"Invoice {e.document_number} posted: {_money(e.amount, e.currency)}, due "
        f"{e.due_date}", amount=e.amount, currency=e.currency)


def _invoice_fact(type_: str, event: str, say: Callable[[Any, str, str], str],
                  personal: Callable[[Any], str | None] = lambda e: None) -> Any:
    def fold(page: PageRows, e: Any) -> None:
        invoice = page.named[INVOICES].rows.get(e.originator_id)
        if invoice is None:  # an invoice this model never saw posted: nothing to tell
            return
        amount = getattr(e, "amount", None)
        add(page, e, invoice["customer_id"], type_, event,
            say(e, invoice["document_number"], invoice["currency"]), amount=amount,
            currency=invoice["currency"] if amount is not None else None,
            personal=personal(e))
    return fold


def _credit_received(page: PageRows, e: Any) -> None:
    money = _money(e.amount, e.currency)
    if e.kind == "unapplied_payment":
        type_, what = "payment", (f"Payment {e.source_id} of {money} received on account "
                                  "(not applied to an invoice)")
    else:
        type_, what = "credit_memo", f"Credit memo {e.source_id} of {money} on account"
    add(page, e, e.customer_id, type_, "on_account", what, amount=e.amount, currency=e.currency)


# -- conversations ---------------------------------------------------------------------------
def _contact(page: PageRows, e: Any) -> None:
    """The person reached is named by an id a user chose (it may be an email address): it goes
    with the summary and notes to the personal part."""
    reached = f"contact {e.contact_person_id}" if e.contact_person_id else None
    add(page, e, e.customer_id, "contact", e.result,
        f"{e.channel[:1].upper()}{e.channel[1:]} conversation by {e.specialist}: "
        f"{_label(e.result)}", personal=_text(reached, e.summary, e.notes),
        occurred=e.contact_date)


# -- promises --------------------------------------------------------------------------------
def _promise_issued(page: PageRows, e: Any) -> None:
    remember(page, PROMISES, e.originator_id, {
        "document_number": e.document_number, "amount": e.amount, "currency": e.currency})
    plan = f", {len(e.instalments)} instalments" if e.instalments else ""
    add(page, e, e.customer_id, "promise", "issued",
        f"Promise to pay {_money(e.amount, e.currency)} by {e.promised_date} on invoice "
        f"{e.document_number} (level {e.level}{plan})", amount=e.amount,
        currency=e.currency)


def _promise_fact(event: Callable[[Any], str], say: Callable[[Any, dict[str, Any]], str],
                  amount: Callable[[Any], Decimal | None] = lambda e: None,
                  personal: Callable[[Any], str | None] = lambda e: None) -> Any:
    def fold(page: PageRows, e: Any) -> None:
        promise = page.named[PROMISES].rows.get(e.originator_id)
        if promise is None:
            return
        value = amount(e)
        add(page, e, e.customer_id, "promise", event(e), say(e, promise), amount=value,
            currency=promise["currency"] if value is not None else None,
            personal=personal(e))
    return fold


def _promised(p: dict[str, Any], *, opening: bool = False) -> str:
    return (f"{'P' if opening else 'p'}romise of {_money(p['amount'], p['currency'])} on "
            f"invoice {p['document_number']}")


# -- disputes --------------------------------------------------------------------------------
def _dispute_opened(page: PageRows, e: Any) -> None:
    remember(page, DISPUTES, e.originator_id, {"currency": e.currency})
    add(page, e, e.customer_id, "dispute", "opened",
        f"Dispute opened over invoice(s) {documents(page, e.invoice_ids)}: "
        f"{_money(e.amount, e.currency)}, reason {_label(e.reason)}, processor "
        f"{e.processor}", amount=e.amount, currency=e.currency, personal=_text(e.note))


def _settlement(e: Any, currency: str) -> str:
    parts = [f"{name} {_money(getattr(e, field), currency)}"
             for name, field in (("credited", "credited"), ("paid", "paid"),
                                 ("written off", "written_off")) if getattr(e, field)]
    return ", ".join(parts)


def _dispute_fact(event: str, say: Callable[[Any, str], str], *, amounts: bool = False,
                  personal: Callable[[Any], str | None] = lambda e: None) -> Any:
    def fold(page: PageRows, e: Any) -> None:
        currency = page.named[DISPUTES].rows.get(e.originator_id, {}).get("currency")
        total = e.credited + e.paid + e.written_off if amounts else None
        add(page, e, e.customer_id, "dispute", event, say(e, currency or ""), amount=total,
            currency=currency if amounts else None, personal=personal(e))
    return fold


def _resolved(e: Any, currency: str) -> str:
    settled = _settlement(e, currency)
    return f"Dispute resolved as {_label(e.resolution)}" + (f": {settled}" if settled else "")


# -- follow-ups, emails, tasks ---------------------------------------------------------------
def _resubmission_created(page: PageRows, e: Any) -> None:
    scope = (f"invoice(s) {documents(page, e.invoice_ids)}" if e.invoice_ids
             else "the customer")
    add(page, e, e.customer_id, "resubmission", "created",
        f"Follow-up of {scope} set for {e.follow_up_date}", personal=_text(e.reason))


def _plain(type_: str, event: str, say: Callable[[Any], str],
           personal: Callable[[Any], str | None] = lambda e: None) -> Any:
    def fold(page: PageRows, e: Any) -> None:
        add(page, e, e.customer_id, type_, event, say(e), personal=personal(e))
    return fold


def _email_created(e: Any) -> str:
    """The template's text and the attachments' names are personal: only their count here."""
    files = len(e.attachments) if isinstance(e.attachments, list) else 0
    attached = f" with {files} attachment{'s' if files != 1 else ''}" if files else ""
    zipped = " (zipped)" if e.zipped and attached else ""
    return f"Email{attached}{zipped} created, pending"


def _email_personal(e: Any) -> str | None:
    files = e.attachments if isinstance(e.attachments, list) else [e.attachments]
    return _text(_addresses(e.to, e.cc, e.bcc), f"template: {e.template}",
                 f"attachments: {', '.join(files)}" if files else None)


def _partly_sent(e: Any) -> str | None:
    if not isinstance(e.failures, dict):
        return ERASED
    return "; ".join(f"{address}: {error}" for address, error in sorted(e.failures.items()))


FOLD: dict[type, Callable[[Any, Any], None]] = {
    Customer.Registered: _registered,
    Customer.MasterDataChanged: _master_data_changed,
    Customer.NoteAdded: _customer_note,
    Invoice.Posted: _posted,
    Invoice.PaymentApplied: _invoice_fact(
        "payment", "applied",
        lambda e, doc, cur: f"Payment {e.source_id} of {_money(e.amount, cur)} applied to "
                            f"invoice {doc}"),
    Invoice.CreditMemoApplied: _invoice_fact(
        "credit_memo", "applied",
        lambda e, doc, cur: f"Credit memo {e.source_id} of {_money(e.amount, cur)} applied to "
                            f"invoice {doc}"),
    Invoice.PaymentReversed: _invoice_fact(
        "reversal", "reversed",
        lambda e, doc, cur: f"Payment {e.payment_source_id} of {_money(e.amount, cur)} "
                            f"reversed on invoice {doc} ({e.source_id})"),
    Invoice.Cleared: _invoice_fact(
        "clearing", "cleared",
        lambda e, doc, cur: f"Invoice {doc} cleared: {_money(e.amount, cur)} settled"),
    Invoice.WrittenOff: _invoice_fact(
        "write_off", "written_off",
        lambda e, doc, cur: f"Invoice {doc} written off: {_money(e.amount, cur)}",
        personal=lambda e: _text(e.reason)),
    Invoice.DunningLevelRaised: _invoice_fact(
        "reminder", "dunning_level_raised",
        lambda e, doc, cur: f"Reminder letter for invoice {doc}: dunning level {e.level}"),
    CustomerCredit.Received: _credit_received,
    CustomerContact.Recorded: _contact,
    PromiseToPay.Issued: _promise_issued,
    PromiseToPay.InstalmentValued: _promise_fact(
        lambda e: f"instalment_{e.status}",
        lambda e, p: f"Instalment {e.number} of the {_promised(p)} {_label(e.status)}: "
                     f"{_money(e.covered, p['currency'])} covered",
        amount=lambda e: e.covered),
    PromiseToPay.Valued: _promise_fact(
        lambda e: e.status,
        lambda e, p: f"{_promised(p, opening=True)} {_label(e.status)}: "
                     f"{_money(e.paid, p['currency'])} paid in time",
        amount=lambda e: e.paid),
    PromiseToPay.Withdrawn: _promise_fact(
        lambda e: "withdrawn", lambda e, p: f"{_promised(p, opening=True)} withdrawn",
        personal=lambda e: _text(e.reason)),
    PromiseToPay.Closed: _promise_fact(
        lambda e: "closed", lambda e, p: f"{_promised(p, opening=True)} closed ({e.reason})"),
    DisputeCase.Opened: _dispute_opened,
    DisputeCase.ProcessingStarted: _dispute_fact(
        "processing_started", lambda e, cur: "Dispute in process"),
    DisputeCase.ProcessorChanged: _dispute_fact(
        "processor_changed", lambda e, cur: f"Dispute handed to {e.processor}"),
    DisputeCase.ProgressRecorded: _dispute_fact(
        "progressed", lambda e, cur: f"Dispute progress: {_settlement(e, cur)}", amounts=True),
    DisputeCase.SettledOnInvoice: _dispute_fact(
        "settled_on_invoice",
        lambda e, cur: f"Dispute settled by money on its invoices: {_settlement(e, cur)}",
        amounts=True),
    DisputeCase.Resolved: _dispute_fact("resolved", _resolved, amounts=True),
    DisputeCase.Closed: _dispute_fact("closed", lambda e, cur: "Dispute closed"),
    DisputeCase.NoteAdded: _dispute_fact(
        "note", lambda e, cur: "Note added to the dispute", personal=lambda e: _text(e.text)),
    Resubmission.Created: _resubmission_created,
    Resubmission.Moved: _plain(
        "resubmission", "moved",
        lambda e: f"Follow-up moved from {e.previous_date} to {e.follow_up_date}",
        personal=lambda e: _text(e.reason)),
    Resubmission.Completed: _plain("resubmission", "completed", lambda e: "Follow-up completed"),
    CollectionEmail.Created: _plain("email", "created", _email_created,
                                    personal=_email_personal),
    CollectionEmail.Sent: _plain("email", "sent", lambda e: "Email sent"),
    CollectionEmail.Failed: _plain("email", "failed", lambda e: "Email could not be sent",
                                   personal=lambda e: _text(e.error)),
    CollectionEmail.PartlySent: _plain(
        "email", "partly_sent",
        lambda e: f"Email refused by {len(e.failures) if isinstance(e.failures, dict) else 'some'}"
                  " of its recipients", personal=_partly_sent),
    CollectionEmail.Corrected: _plain(
        "email", "corrected", lambda e: "Email recipients corrected; sending again",
        personal=lambda e: _addresses(e.to, e.cc, e.bcc)),
    Activity.Created: _plain("activity", "created",
                             lambda e: f"Task for {e.specialist} due {e.due_date}",
                             personal=lambda e: _text(e.description)),
    Activity.Rescheduled: _plain(
        "activity", "rescheduled",
        lambda e: f"Task moved from {e.previous_date} to {e.due_date}"),
    Activity.Closed: _plain("activity", "closed", lambda e: "Task closed",
                            personal=lambda e: _text(e.note)),
}
