"""ERP feed records: JSON Lines or CSV in, typed records (or a bad line with its reason) out.

Everything that can be checked on one line alone is checked here — known kind, required
fields, ISO dates, decimal amounts with at most two places, currency codes, the shape of
payment allocations — so that the importer only meets the rules that need the store (unknown
customer, currency of the invoice, overpayment, closed invoice, ...). Each record and each bad
line carries the physical line number where it starts in the file, for the report.

The fields are the same in JSON Lines and CSV (``files`` reads and writes both). See ``FIELDS``
for what each kind needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger_collect.commands import values
from ledger_collect.domain.base import ZERO, DomainError, ValidationError, currency_code, money

#: Required and optional fields per kind (``kind`` and ``source_id`` are always required).
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "customer": (("number", "name", "segment", "risk_class", "credit_limit", "currency"),
                 ("head_office", "date")),
    "contact": (("customer", "name"), ("contact_id", "email", "phone", "role", "date")),
    "invoice": (("customer", "document_number", "amount", "currency", "posting_date",
                 "due_date"), ()),
    "credit_memo": (("customer", "amount", "currency", "date"), ("invoice",)),
    "payment": (("customer", "amount", "currency", "date"), ("allocations",)),
    "payment_reversal": (("invoice", "payment", "date"), ()),
    "clearing": (("invoice", "date"), ()),
    "write_off": (("invoice", "date"), ("reason",)),
    # from a collection agency's file (see the README's agency section)
    "agency_status": (("case", "status", "date"), ("note",)),
    "agency_payment": (("case", "customer", "invoice", "amount", "currency", "date"), ()),
}

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: An amount written as the feeds write them (digits, point, two places) and below
#: ``MAX_AMOUNT``: its Decimal needs no check but the zero one.
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,12}\.[0-9]{2}").fullmatch
#: Dates and currency codes read so far (a feed repeats a few hundred of each): reading one
#: again is a dict lookup. Bounded, for a file of only distinct dates.
_DATES: dict[str, date] = {}
_CURRENCIES: dict[str, str] = {}
_MEMO_LIMIT = 100_000


class RecordError(DomainError, code="BAD_RECORD"):
    """One line of the feed is not a valid record; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str
    source_id: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    kind: str
    line: int
    source_id: str


@dataclass(frozen=True, slots=True)
class CustomerRecord(Record):
    number: str
    name: str
    segment: str
    risk_class: str
    credit_limit: Decimal
    currency: str
    head_office: str | None
    date: date | None


@dataclass(frozen=True, slots=True)
class ContactRecord(Record):
    customer: str
    contact_id: str
    name: str
    email: str | None
    phone: str | None
    role: str | None
    date: date | None


@dataclass(frozen=True, slots=True)
class InvoiceRecord(Record):
    customer: str
    document_number: str
    amount: Decimal
    currency: str
    posting_date: date
    due_date: date


@dataclass(frozen=True, slots=True)
class CreditMemoRecord(Record):
    customer: str
    invoice: str | None  # None: a credit on the customer's account
    amount: Decimal
    currency: str
    date: date


@dataclass(frozen=True, slots=True)
class PaymentRecord(Record):
    customer: str
    amount: Decimal
    currency: str
    date: date
    allocations: tuple[tuple[str, Decimal], ...]
    #: What stays on the customer's account: the amount less its allocations.
    unapplied: Decimal


@dataclass(frozen=True, slots=True)
class PaymentReversalRecord(Record):
    invoice: str
    payment: str  # source id of the payment being reversed
    date: date


@dataclass(frozen=True, slots=True)
class ClearingRecord(Record):
    invoice: str
    date: date


@dataclass(frozen=True, slots=True)
class WriteOffRecord(Record):
    invoice: str
    reason: str
    date: date


@dataclass(frozen=True, slots=True)
class AgencyStatusRecord(Record):
    case: UUID
    status: str
    note: str | None
    date: date


@dataclass(frozen=True, slots=True)
class AgencyPaymentRecord(Record):
    case: UUID
    customer: str
    invoice: str
    amount: Decimal
    currency: str
    date: date


# -- field parsers ------------------------------------------------------------------------------
def _text(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if type(value) is str and value.isascii():  # the usual case, first
        return value.strip() or None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RecordError(f"field '{name}' must be text, got {json.dumps(value, default=str)}")
    text = str(value).strip()
    if not text.isascii():
        try:
            text.encode("utf-8")  # bytes that were not UTF-8 came in as lone surrogates
        except UnicodeEncodeError:
            raise RecordError(f"field '{name}' is not valid UTF-8") from None
    return text or None


def _required(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if type(value) is str and value.isascii() and (text := value.strip()):  # usual, first
        return text
    text = _text(raw, name)  # type: ignore[assignment]
    if text is None:
        raise RecordError(f"missing field '{name}'")
    return text


def _amount(raw: Mapping[str, Any], name: str, *, zero_ok: bool = False) -> Decimal:
    value = raw.get(name)
    if isinstance(value, float):  # only reachable when a caller parsed JSON with floats
        raise RecordError(f"field '{name}' must be a decimal string such as \"120.50\"")
    text = value if isinstance(value, Decimal) else _required(raw, name)
    return parse_amount(text, name, zero_ok=zero_ok)


def parse_amount(text: str | Decimal, name: str = "amount", *, zero_ok: bool = False) -> Decimal:
    """The amount of field ``name``, by the rule every command applies (``domain.base.money``:
    at most two places, never rounded, at most ``MAX_AMOUNT``), and not negative."""
    if type(text) is str and _PLAIN_AMOUNT(text):
        amount = Decimal(text)
        if amount or zero_ok:
            return amount
    try:
        amount = money(text, f"field '{name}'")
    except ValidationError as error:
        raise RecordError(str(error)) from None
    if amount < 0 or (amount == 0 and not zero_ok):
        raise RecordError(f"field '{name}' must be greater than zero, got {text}")
    return amount


def _date(raw: Mapping[str, Any], name: str) -> date:
    text = _required(raw, name)
    known = _DATES.get(text)
    if known is not None:
        return known
    if len(_DATES) > _MEMO_LIMIT:
        _DATES.clear()
    _DATES[text] = parsed = _parse_date(text, name)
    return parsed


def _parse_date(text: str, name: str) -> date:
    if not _ISO_DATE.match(text):
        raise RecordError(f"field '{name}' is not an ISO date (YYYY-MM-DD): {text!r}")
    try:
        return values.day(date.fromisoformat(text), f"field '{name}'")
    except ValueError:
        raise RecordError(f"field '{name}' is not a valid date: {text!r}") from None
    except ValidationError as error:
        raise RecordError(str(error)) from None


def _optional_date(raw: Mapping[str, Any], name: str) -> date | None:
    return _date(raw, name) if _text(raw, name) is not None else None


def _currency(raw: Mapping[str, Any]) -> str:
    text = _required(raw, "currency")
    known = _CURRENCIES.get(text)
    if known is not None:
        return known
    try:
        code = currency_code(text)
    except DomainError as exc:
        raise RecordError(str(exc)) from None
    if len(_CURRENCIES) > _MEMO_LIMIT:
        _CURRENCIES.clear()
    _CURRENCIES[text] = code
    return code


def _allocations(raw: Mapping[str, Any]) -> tuple[tuple[str, Decimal], ...]:
    """``[{"invoice": "INV-1", "amount": "40.00"}, ...]`` (JSON) or ``INV-1:40.00;INV-2:60.00``."""
    value = raw.get("allocations")
    if value is None or value == "" or value == []:
        return ()
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, str):
        for part in value.split(";"):
            if not part.strip():
                continue
            number, sep, amount = part.rpartition(":")
            if not sep or not number.strip():
                raise RecordError(f"allocation {part.strip()!r} is not INVOICE:AMOUNT")
            pairs.append((number.strip(), amount.strip()))
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, dict) or "invoice" not in item or "amount" not in item:
                raise RecordError('each allocation must be {"invoice": ..., "amount": ...}')
            pairs.append((item["invoice"], item["amount"]))
    else:
        raise RecordError("field 'allocations' must be a list or INV:AMOUNT;INV:AMOUNT")
    allocations: list[tuple[str, Decimal]] = []
    for number, amount in pairs:
        invoice = _required({"invoice": number}, "invoice")
        allocations.append((invoice, _amount({"allocation": amount}, "allocation")))
    seen = [number for number, _ in allocations]
    if len(set(seen)) != len(seen):
        raise RecordError("the payment allocates to the same invoice twice")
    return tuple(allocations)


# -- one record ----------------------------------------------------------------------------------
def parse_record(raw: Mapping[str, Any], line: int) -> Record | BadLine:
    """A typed record, or a BadLine saying what is wrong with it."""
    source_id = None
    try:
        kind = _text(raw, "kind")
        if kind is None:
            raise RecordError("missing field 'kind'")
        if kind not in FIELDS:
            raise RecordError(f"unknown kind {kind!r} (expected one of {', '.join(FIELDS)})")
        source_id = _required(raw, "source_id")
        return _BUILDERS[kind](raw, kind, line, source_id)
    except RecordError as exc:
        return BadLine(line, str(exc), source_id)


def _customer(raw: Mapping[str, Any], kind: str, line: int, source_id: str) -> Record:
    return CustomerRecord(
        kind, line, source_id, number=_required(raw, "number"), name=_required(raw, "name"),
        segment=_required(raw, "segment"), risk_class=_required(raw, "risk_class").upper(),
        credit_limit=_amount(raw, "credit_limit", zero_ok=True), currency=_currency(raw),
        head_office=_text(raw, "head_office"), date=_optional_date(raw, "date"))


def _contact(raw: Mapping[str, Any], kind: str, line: int, source_id: str) -> Record:
    return ContactRecord(
        kind, line, source_id, customer=_required(raw, "customer"),
        contact_id=_text(raw, "contact_id") or source_id, name=_required(raw, "name"),
        email=_text(raw, "email"), phone=_text(raw, "phone"), role=_text(raw, "role"),
        date=_optional_date(raw, "date"))


def _invoice(raw: Mapping[str, Any], kind: str, line: int, source_id: str) -> Record:
    posting, due = _date(raw, "posting_date"), _date(raw, "due_date")
    if due < posting:
        raise RecordError(f"due date {due} is before the posting date {posting}")
    return InvoiceRecord(
        kind, line, source_id, customer=_required(raw, "customer"),
        document_number=_required(raw, "document_number"), amount=_amount(raw, "amount"),
        currency=_currency(raw), posting_date=posting, due_date=due)


def _credit_memo(raw: Mapping[str, Any], kind: str, line: int, source_id: str) -> Record:
    return CreditMemoRecord(
        kind, line, source_id, customer=_required(raw, "customer"),
        invoice=_text(raw, "invoice"), amount=_amount(raw, "amount"), currency=_currency(raw),
        date=_date(raw, "date"))


def _payment(raw: Mapping[str, Any], kind: str, line: int, source_id: str) -> Record:
    customer, amount = _required(raw, "customer"), _amount(raw, "amount")
    currency, day, allocations = _currency(raw), _date(raw, "date"), _allocations(raw)
    allocated = sum((a for _, a in allocations), ZERO)
    if allocated > amount:
        raise RecordError(f"the allocations ({allocated}) exceed the payment amount "
                          f"({amount})")
    return PaymentRecord(kind, line, source_id, customer=customer, amount=amount,
                         currency=currency, date=day, allocations=allocations,
                         unapplied=amount - allocated)


def _reversal(raw: Mapping[str, Any], kind: str, line: int, source_id: str) -> Record:
    return PaymentReversalRecord(kind, line, source_id, invoice=_required(raw, "invoice"),
                                 payment=_required(raw, "payment"),
                                 date=_date(raw, "date"))


def _clearing(raw: Mapping[str, Any], kind: str, line: int, source_id: str) -> Record:
    return ClearingRecord(kind, line, source_id, invoice=_required(raw, "invoice"),
                          date=_date(raw, "date"))


def _write_off(raw: Mapping[str, Any], kind: str, line: int, source_id: str) -> Record:
    return WriteOffRecord(kind, line, source_id, invoice=_required(raw, "invoice"),
                          reason=_text(raw, "reason") or "uncollectible",
                          date=_date(raw, "date"))


def _case(raw: Mapping[str, Any]) -> UUID:
    text = _required(raw, "case")
    try:
        return UUID(text)
    except ValueError:
        raise RecordError(f"field 'case' is not an agency case id: {text!r}") from None


def _agency_status(raw: Mapping[str, Any], kind: str, line: int, source_id: str) -> Record:
    return AgencyStatusRecord(kind, line, source_id, case=_case(raw),
                              status=_required(raw, "status").lower(), note=_text(raw, "note"),
                              date=_date(raw, "date"))


def _agency_payment(raw: Mapping[str, Any], kind: str, line: int, source_id: str) -> Record:
    return AgencyPaymentRecord(kind, line, source_id, case=_case(raw),
                               customer=_required(raw, "customer"),
                               invoice=_required(raw, "invoice"), amount=_amount(raw, "amount"),
                               currency=_currency(raw), date=_date(raw, "date"))


_BUILDERS = {"customer": _customer, "contact": _contact, "invoice": _invoice,
             "credit_memo": _credit_memo, "payment": _payment, "payment_reversal": _reversal,
             "clearing": _clearing, "write_off": _write_off, "agency_status": _agency_status,
             "agency_payment": _agency_payment}
