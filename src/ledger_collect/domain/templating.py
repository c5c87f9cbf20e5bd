"""Email templates as text: Jinja2 in a sandbox, checked when saved, rendered when sent.

A template is edited by people who are not programmers, and rendered with customers' data: it
runs in Jinja2's ``SandboxedEnvironment`` (no attribute of Python's internals, no call of
anything unsafe) with ``StrictUndefined`` (a misspelt name fails, never renders as blank). A
template is checked before it is saved, so that a letter never fails at sending time for a
typo: its syntax, every variable it reads against ``VARIABLES`` (the documented context), and
a trial rendering on ``SAMPLE`` (a misspelt attribute, a filter given the wrong thing). Each
refusal names the part (subject or body) and the line.

The context (``VARIABLES``) holds plain values: amounts as ``Decimal`` with their two places,
dates as ``date``. ``money`` and ``day`` write them the way the template's language does,
never rounding an amount.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from jinja2 import (
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    Undefined,
    UndefinedError,
    meta,
    nodes,
)
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import pass_context

from ledger_collect.domain.base import ValidationError


class TemplateTextError(ValidationError, code="TEMPLATE_INVALID"):
    """An email template does not parse, reads a variable the context does not have, or fails
    to render on sample data; nothing was saved."""


#: Every variable a template may read, and what it holds (the README shows this list).
VARIABLES: dict[str, str] = {
    "customer": "the customer: .number, .name",
    "contact": "the customer's default collection contact: .name, .email (none without one)",
    "as_of": "the day the email is sent (a date)",
    "language": "the template's language code (en, fr, ...)",
    "dunning_level": "the letter's dunning level (0: pre-due reminder; none outside dunning)",
    "items": ("the open items, oldest due first: .document_number, .posting_date, .due_date, "
              ".days_overdue, .currency, .amount (as invoiced), .open_amount, .dunning_level, "
              ".announced_level (the level this letter raises it to, or none)"),
    "totals": "per currency: .currency, .open_amount, .overdue_amount, .count (of items)",
    "fee": "the dunning fee: .amount, .currency (none when no fee is charged)",
    "interest": "the interest charged: .amount, .currency (none when none is charged)",
}

_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June",
           "July", "August", "September", "October", "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin",
           "juillet", "août", "septembre", "octobre", "novembre", "décembre"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni",
           "Juli", "August", "September", "Oktober", "November", "Dezember"),
}
#: Thousands separator and decimal mark by language; others write amounts as English does.
_NUMBERS = {"en": (",", "."), "fr": ("\u00a0", ","), "de": (".", ",")}


def money(value: Decimal | int | str, language: str = "en") -> str:
    """An amount as ``language`` writes it, with exactly the digits it has (two places)."""
    amount = Decimal(value)
    sign = "-" if amount < 0 else ""
    whole, _, cents = f"{abs(amount):.2f}".partition(".")
    thousands, mark = _NUMBERS.get(language, _NUMBERS["en"])
    groups = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    return sign + thousands.join([whole, *groups]) + mark + cents


def day(value: date, language: str = "en") -> str:
    """A date as ``language`` writes it in a letter (ISO for a language without month names)."""
    months = _MONTHS.get(language)
    if months is None:
        return value.isoformat()
    if language == "en":
        return f"{value.day} {months[value.month - 1]} {value.year}"
    return f"{value.day}{'.' if language == 'de' else ''} {months[value.month - 1]} {value.year}"


def _defined(value: Any) -> Any:
    """The value; for an undefined one, Jinja2's own error (naming what is missing)."""
    if isinstance(value, Undefined):
        str(value)  # a StrictUndefined raises here, naming what is missing
        raise UndefinedError("a value the template names is missing")
    return value


@pass_context
def _money(context: Any, value: Any) -> str:
    return money(_defined(value), context.get("language", "en"))


@pass_context
def _day(context: Any, value: Any) -> str:
    return day(_defined(value), context.get("language", "en"))


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                               keep_trailing_newline=True, trim_blocks=True,
                               lstrip_blocks=True)
    env.filters.update(money=_money, day=_day)
    return env


ENVIRONMENT = _environment()

#: The context the check renders a template on: every variable set, one item.
SAMPLE: dict[str, Any] = {
    "customer": {"number": "C-1", "name": "Sample Ltd"},
    "contact": {"name": "Sam Sample", "email": "ap@sample.example"},
    "as_of": date(2026, 1, 31), "language": "en", "dunning_level": 1,
    "items": [{"document_number": "INV-1", "posting_date": date(2025, 12, 1),
               "due_date": date(2025, 12, 31), "days_overdue": 31, "currency": "EUR",
               "amount": Decimal("1200.00"), "open_amount": Decimal("1000.50"),
               "dunning_level": 0, "announced_level": 1}],
    "totals": [{"currency": "EUR", "open_amount": Decimal("1000.50"),
                "overdue_amount": Decimal("1000.50"), "count": 1}],
    "fee": {"amount": Decimal("5.00"), "currency": "EUR"},
    "interest": {"amount": Decimal("3.21"), "currency": "EUR"},
}
_NAME = "<template>"


def check(part: str, text: str, language: str = "en") -> None:
    """Refuse ``text`` (the ``part`` of a template: subject or body) unless it parses, reads
    only ``VARIABLES`` and renders on ``SAMPLE``; the error names the part and the line."""
    try:
        tree = ENVIRONMENT.parse(text, name=_NAME)
    except TemplateSyntaxError as error:
        raise TemplateTextError(f"{part}, line {error.lineno}: {error.message}") from None
    unknown = meta.find_undeclared_variables(tree) - VARIABLES.keys()
    if unknown:
        name = min(unknown, key=lambda n: (_first_line(tree, n), n))
        raise TemplateTextError(
            f"{part}, line {_first_line(tree, name)}: unknown variable {name!r}; a template may "
            f"use {', '.join(VARIABLES)}")
    try:
        ENVIRONMENT.from_string(text).render({**SAMPLE, "language": language})
    except TemplateError as error:
        raise TemplateTextError(f"{part}, line {_failed_line(error)}: {error.message}") from None
    except Exception as error:  # noqa: BLE001 - a filter given what it cannot take
        raise TemplateTextError(f"{part}, line {_failed_line(error)}: {error}") from None


def _first_line(tree: nodes.Template, name: str) -> int:
    return min((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), default=1)


def _failed_line(error: BaseException) -> int | str:
    """The template's line a rendering failed on: Jinja2 rewrites its tracebacks so that the
    template's frames carry the template's own line numbers."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if frame.filename == _NAME]
    return lines[-1] if lines and lines[-1] is not None else "?"


def render(text: str, context: Mapping[str, Any]) -> str:
    """The text rendered on ``context`` (a checked template renders on any full context)."""
    return ENVIRONMENT.from_string(text).render(dict(context))


def render_subject(text: str, context: Mapping[str, Any]) -> str:
    """A subject is one line: the rendering's whitespace runs (newlines too) become a space."""
    return " ".join(render(text, context).split())
