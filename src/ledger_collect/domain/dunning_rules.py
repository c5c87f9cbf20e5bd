"""What a dunning procedure decides for one customer on one business date: which of its items
are due for which level, which letters that makes, with what fee and interest. Pure: the
proposal reads the candidates from the read models, these rules decide.

Interest (``interest``): simple interest on the item's open amount, from the day after the due
date up to and including the business date (days overdue = business date − due date), actual
days over a 365-day year whatever the year, at the procedure's annual rate in percent:
``open amount × rate / 100 × days / 365``, computed exactly and rounded once, the result, to the
cent (half up). Fees bear no interest. A letter's interest is the sum of its items' (each
rounded), so the letter adds up line by line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple
from uuid import UUID

from ledger_collect.domain.base import ZERO, derived_id
from ledger_collect.domain.dunning_procedure import DunningProcedure

_CENT = Decimal("0.01")
DAYS_IN_YEAR = 365
REMINDER, DUNNING = "reminder", "dunning"


def interest(amount: Decimal, annual_rate: Decimal | None, due_date: date, on: date) -> Decimal:
    """Late-payment interest on ``amount`` due on ``due_date``, as of ``on`` (module doc)."""
    days = (on - due_date).days
    if annual_rate is None or days <= 0 or amount <= 0:
        return ZERO
    exact = amount * annual_rate * days / (100 * DAYS_IN_YEAR)
    return exact.quantize(_CENT, rounding=ROUND_HALF_UP)


class Candidate(NamedTuple):
    """An open item that nothing keeps out of dunning (no block, promise, dispute, agency,
    pending letter): what the rules need of it. ``level`` and ``last_letter_on``: its dunning
    level and the day its last letter went, as far as anything recorded shows."""

    invoice_id: UUID
    document_number: str
    currency: str
    open_amount: Decimal
    due_date: date
    level: int
    last_letter_on: date | None
    reminded: bool  # a pre-due reminder already went


class LetterLine(NamedTuple):
    invoice_id: UUID
    document_number: str
    due_date: date
    open_amount: Decimal
    days_overdue: int
    level: int  # the level this letter takes the item to (0: a reminder)
    interest: Decimal


@dataclass(frozen=True)
class Letter:
    letter_id: UUID  # derived from the business date and the key: a run again finds it
    key: str
    customer_id: UUID
    procedure: str
    language: str
    currency: str
    kind: str  # reminder or dunning
    level: int  # the highest of its lines' levels
    lines: tuple[LetterLine, ...]
    fee: Decimal
    business_date: date

    @property
    def amount(self) -> Decimal:
        """What its items still have open."""
        return sum((line.open_amount for line in self.lines), ZERO)

    @property
    def interest(self) -> Decimal:
        return sum((line.interest for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.amount + self.fee + self.interest

    @property
    def dunning(self) -> list[tuple[UUID, int]]:
        """(invoice, level) pairs: what sending the letter raises each item to."""
        return [(line.invoice_id, line.level) for line in self.lines]


def letter_id(business_date: date, key: str) -> UUID:
    return derived_id("dunning-letter", f"{business_date.isoformat()}:{key}")


def next_level(procedure: DunningProcedure, item: Candidate, on: date) -> int | None:
    """The level the item is due for on ``on``, or None (not overdue enough, still in its
    grace, or at the procedure's top level already)."""
    levels = procedure.levels
    if item.level >= len(levels):
        return None
    level = levels[item.level]  # the next one: levels are numbered from 1
    overdue = (on - item.due_date).days
    if overdue < max(1, level.days_overdue):
        return None
    since = item.last_letter_on if item.level and item.last_letter_on else item.due_date
    if (on - since).days <= level.grace_days:
        return None
    return level.level


def reminder_due(procedure: DunningProcedure, item: Candidate, on: date) -> bool:
    """A pre-due reminder is due: the procedure sends them, the item was never dunned nor
    reminded, and it falls due within the next ``reminder_days`` days (today included)."""
    if procedure.reminder_days is None or item.level or item.reminded:
        return False
    return 0 <= (item.due_date - on).days <= procedure.reminder_days


def is_quiet(procedure: DunningProcedure, last_contact_on: date | None, on: date) -> bool:
    """The customer was contacted or written to within the procedure's quiet days."""
    return (procedure.quiet_days > 0 and last_contact_on is not None
            and (on - last_contact_on).days <= procedure.quiet_days)


def letters_for(customer_id: UUID, procedure: DunningProcedure, items: Iterable[Candidate],
                on: date, last_contact_on: date | None = None) -> list[Letter]:
    """The letters the customer gets on ``on``: per invoice, or per currency (reminders
    apart from dunning letters), each reaching the procedure's minimum amount. A letter
    lists its items in the order given (the proposal gives them by due date)."""
    if is_quiet(procedure, last_contact_on, on):
        return []
    groups: dict[str, list[LetterLine]] = {}
    kinds: dict[str, tuple[str, str]] = {}
    for item in items:
        level = next_level(procedure, item, on)
        kind = DUNNING
        if level is None:
            if not reminder_due(procedure, item, on):
                continue
            level, kind = 0, REMINDER
        key = (str(item.invoice_id) if procedure.per_invoice
               else f"{customer_id}:{item.currency}:{kind}")
        groups.setdefault(key, []).append(LetterLine(
            item.invoice_id, item.document_number, item.due_date, item.open_amount,
            max(0, (on - item.due_date).days), level,
            interest(item.open_amount, procedure.interest_rate, item.due_date, on)
            if kind == DUNNING else ZERO))
        kinds[key] = (kind, item.currency)
    letters = []
    for key, lines in groups.items():
        if sum((line.open_amount for line in lines), ZERO) < procedure.minimum_amount:
            continue
        kind, currency = kinds[key]
        top = max(line.level for line in lines)
        letters.append(Letter(
            letter_id(on, key), key, customer_id, procedure.code, procedure.language, currency,
            kind, top, tuple(lines),
            procedure.level(top).fee if top else ZERO, on))
    return sorted(letters, key=lambda letter: letter.key)


def summed(letters: Sequence[Letter]) -> dict[str, int]:
    """How many letters and items a proposal holds, by kind."""
    return {"letters": len(letters),
            "reminders": sum(1 for letter in letters if letter.kind == REMINDER),
            "items": sum(len(letter.lines) for letter in letters)}
