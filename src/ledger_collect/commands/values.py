"""The rules every value given to a command meets, whoever gives it: the API, the ERP import, a job.

Whatever a command accepts goes into the event log for good and into read models that index it,
so a value is refused before anything is recorded when it could not be stored or read back:
text with control characters (PostgreSQL cannot hold NUL), strings longer than their kind
allows (codes and ids, names, free text; indexed columns have a size limit), dates outside
``EARLIEST``..``LATEST``, a promise further ahead than the promise horizon, and amounts the
domain would have to round (``domain.base.money``). Every refusal is a ``ValidationError``
naming the field.

``checked`` applies the rules to a command function's arguments by their names (``KINDS``): a
command whose parameter has no kind cannot be defined, so no argument escapes the rules. The
limits a team may need larger come from ``Settings`` (``Limits.of``).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar, overload

from ledger_collect.config import Settings
from ledger_collect.domain.base import MAX_AMOUNT, ValidationError, money

R = TypeVar("R")
P = ParamSpec("P")

#: Business dates, due dates, promised dates and query dates lie in this window.
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)

_CENT = Decimal("0.01")
#: Control characters (C0, DEL, C1) and lone surrogates (bytes that were not UTF-8).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: The same, less tab, newline and carriage return: free text may have lines.
_FORBIDDEN_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class Limits:
    """How long each kind of string may be, in characters, and how far ahead a promise may be
    (their defaults are the settings')."""

    code_length: int  # ids, numbers, codes, user ids, segments
    name_length: int  # names, email addresses, phone numbers, roles, file names
    text_length: int  # notes, reasons, summaries, email templates
    promise_horizon_days: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(code_length=settings.max_code_length, name_length=settings.max_name_length,
                   text_length=settings.max_text_length,
                   promise_horizon_days=settings.promise_horizon_days)


DEFAULT_LIMITS = Limits.of(Settings())


def _string(value: Any, label: str, limit: int, forbidden: re.Pattern[str], lines: bool) -> str:
    if type(value) is not str:
        raise ValidationError(f"{label} must be text, got {type(value).__name__}")
    if len(value) > limit:
        raise ValidationError(f"{label} is {len(value):,} characters long; at most {limit:,} "
                              f"are allowed")
    if not value.isprintable():  # the usual case needs no search
        found = forbidden.search(value)
        if found is not None:
            allowed = " other than newlines and tabs" if lines else ""
            raise ValidationError(f"{label} must not contain control characters{allowed}; "
                                  f"found U+{ord(found.group()):04X} at character "
                                  f"{found.start() + 1}")
    return value


def code(value: Any, label: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """An id, number or code: one line, no control characters, at most ``code_length``."""
    return _string(value, label, limits.code_length, _FORBIDDEN, False)


def name(value: Any, label: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """A name (or address, phone number, role): one line, at most ``name_length``."""
    return _string(value, label, limits.name_length, _FORBIDDEN, False)


def text(value: Any, label: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """Free text: lines and tabs allowed, no other control character, at most ``text_length``."""
    return _string(value, label, limits.text_length, _FORBIDDEN_IN_TEXT, True)


def day(value: Any, label: str) -> date:
    """A date in ``EARLIEST``..``LATEST``."""
    if not isinstance(value, date):
        raise ValidationError(f"{label} must be a date, got {type(value).__name__}")
    if not EARLIEST <= value <= LATEST:
        raise ValidationError(f"{label} {value} is outside the dates accepted, {EARLIEST} to "
                              f"{LATEST}")
    return value


def promised_day(value: Any, label: str, today: date, limits: Limits = DEFAULT_LIMITS) -> date:
    """A date a customer promises to pay by: in the window, and at most the promise horizon
    after ``today`` (a promise years ahead is no promise; its window must fit the calendar)."""
    day(value, label)
    furthest = today + timedelta(days=min(limits.promise_horizon_days, (LATEST - today).days))
    if value > furthest:
        raise ValidationError(f"{label} {value} is more than {limits.promise_horizon_days} days "
                              f"after {today}; the furthest a promise may reach is {furthest}")
    return value


def amount(value: Any, label: str) -> Decimal:
    """An amount with at most two decimal places, never rounded (``domain.base.money``)."""
    return money(value, label)


# -- the rules of a command's arguments, by parameter name -----------------------------------
#: ``check(value, label, limits, today)``; None (an optional argument left out) always passes.
Check = Callable[[Any, str, Limits, date], Any]


def CODE(value: Any, label: str, limits: Limits, today: date) -> None:
    if value is not None:
        code(value, label, limits)


def NAME(value: Any, label: str, limits: Limits, today: date) -> None:
    if value is not None:
        name(value, label, limits)


def TEXT(value: Any, label: str, limits: Limits, today: date) -> None:
    if value is not None:
        text(value, label, limits)


def DATE(value: Any, label: str, limits: Limits, today: date) -> None:
    if value is not None:
        day(value, label)


def PROMISED_DATE(value: Any, label: str, limits: Limits, today: date) -> None:
    if value is not None:
        promised_day(value, label, today, limits)


def AMOUNT(value: Any, label: str, limits: Limits, today: date) -> None:
    if value is not None:
        money(value, label)


def UNCHECKED(value: Any, label: str, limits: Limits, today: date) -> None:
    """Typed by the caller: ids as UUIDs, flags, whole numbers the domain checks."""


def _each(check: Check) -> Check:
    def every(values: Any, label: str, limits: Limits, today: date) -> None:
        for n, value in enumerate(values or (), 1):
            check(value, f"{label} {n}", limits, today)
    return every


def _pairs(first: Check, second: Check, names: tuple[str, str]) -> Check:
    """A list of pairs (an invoice and an amount, a date and an amount)."""
    def every(values: Any, label: str, limits: Limits, today: date) -> None:
        for n, (one, other) in enumerate(values or (), 1):
            first(one, f"{label} {n}: {names[0]}", limits, today)
            second(other, f"{label} {n}: {names[1]}", limits, today)
    return every


def _mapping(key: Check, value: Check) -> Check:
    def every(values: Mapping[Any, Any] | None, label: str, limits: Limits,
              today: date) -> None:
        for one, other in (values or {}).items():
            key(one, label, limits, today)
            value(other, f"{label} of {one}", limits, today)
    return every


KINDS: dict[str, Check] = {
    **dict.fromkeys(("actor", "number", "segment", "risk_class", "specialist", "source_id",
                     "currency", "customer_number", "head_office_number", "document_number",
                     "invoice_number", "payment_source_id", "contact_id", "contact_person_id",
                     "note_id", "processor", "channel", "result", "resolution"), CODE),
    **dict.fromkeys(("name", "email", "phone", "role"), NAME),
    **dict.fromkeys(("text", "note", "notes", "summary", "reason", "description", "template",
                     "error"), TEXT),
    **dict.fromkeys(("business_date", "posting_date", "due_date", "payment_date",
                     "document_date", "follow_up_date", "contact_date", "as_of"), DATE),
    "promised_date": PROMISED_DATE,
    **dict.fromkeys(("amount", "credit_limit", "credited", "paid", "written_off", "unapplied"),
                    AMOUNT),
    **dict.fromkeys(("to", "cc", "bcc", "attachments"), _each(NAME)),
    "allocations": _pairs(CODE, AMOUNT, ("invoice", "amount")),
    "instalments": _pairs(PROMISED_DATE, AMOUNT, ("due date", "amount")),
    "failures": _mapping(NAME, TEXT),
    "assignments": _mapping(UNCHECKED, CODE),
    **dict.fromkeys(("customer_id", "invoice_id", "promise_id", "dispute_id", "resubmission_id",
                     "activity_id", "email_id", "invoice_ids", "promise_ids", "dispute_ids",
                     "resubmission_ids", "zipped", "tolerance_days"), UNCHECKED),
}


#: The usual value of a rule, told apart without calling the rule: a string within its length
#: and printable, a date in the window, an amount with two places. ``{}`` is the argument.
_SHORT_WAYS = {
    CODE: "type({0}) is str and len({0}) <= limits.code_length and {0}.isprintable()",
    NAME: "type({0}) is str and len({0}) <= limits.name_length and {0}.isprintable()",
    TEXT: "type({0}) is str and len({0}) <= limits.text_length and {0}.isprintable()",
    DATE: "type({0}) is date and EARLIEST <= {0} <= LATEST",
    AMOUNT: ("type({0}) is Decimal and {0}.is_finite() and -MAX_AMOUNT <= {0} <= MAX_AMOUNT "
             "and {0} == {0}.quantize(CENT)"),
}


@overload
def checked(function: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def checked(**overrides: Check) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def checked(function: Callable[P, R] | None = None, /,
            **overrides: Check) -> Any:
    """Check every argument of the command function ``(batch, ...)`` before it runs, by the
    rule of its parameter's name in ``KINDS`` (or in ``overrides``), with the batch's limits
    and the ``business_date`` as today (checked first). Used as ``@checked`` or
    ``@checked(name=RULE)``.

    The ERP import runs a command per record, so the check is written out as a function with
    the command's own signature, one line per argument, as ``dataclasses`` writes ``__init__``:
    a loop over the arguments by name cost several times more."""
    if function is None:
        return lambda given: checked(given, **overrides)
    rules = {**KINDS, **overrides}
    parameters = list(inspect.signature(function).parameters.values())[1:]
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY) for p in parameters):
        raise TypeError(f"{function.__qualname__}: a command names each of its arguments")
    unknown = [p.name for p in parameters if p.name not in rules]
    if unknown:
        raise TypeError(f"{function.__qualname__}: no value rule for {', '.join(unknown)}")
    scope: dict[str, Any] = {"function": function, "date": date, "Decimal": Decimal,
                             "EARLIEST": EARLIEST, "LATEST": LATEST, "MAX_AMOUNT": MAX_AMOUNT,
                             "CENT": _CENT}
    signature, passed, checks = [], [], []
    today = "business_date" if any(p.name == "business_date" for p in parameters) else "None"
    for parameter in sorted(parameters, key=lambda p: p.name != "business_date"):
        rule, name = rules[parameter.name], parameter.name
        if rule is UNCHECKED:
            continue
        scope[f"rule_{name}"] = rule
        whole = f"rule_{name}({name}, {name.replace('_', ' ')!r}, limits, {today})"
        usual = _SHORT_WAYS.get(rule)
        checks.append(f"    if {name} is not None and not ({usual.format(name)}):\n        {whole}"
                      if usual else f"    {whole}")
    keyword_only = False
    for parameter in parameters:
        if parameter.kind is parameter.KEYWORD_ONLY and not keyword_only:
            signature.append("*")
            keyword_only = True
        default = ""
        if parameter.default is not parameter.empty:
            scope[f"default_{parameter.name}"] = parameter.default
            default = f"=default_{parameter.name}"
        signature.append(parameter.name + default)
        passed.append(f"{parameter.name}={parameter.name}" if keyword_only else parameter.name)
    source = (f"def {function.__name__}(batch, {', '.join(signature)}):\n"
              f"    limits = batch.limits\n" + "".join(line + "\n" for line in checks) +
              f"    return function(batch, {', '.join(passed)})\n")
    exec(source, scope)  # noqa: S102 - our own text, made from the function's signature

    return functools.wraps(function)(scope[function.__name__])
