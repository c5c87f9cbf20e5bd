"""Dunning procedures and the rules they decide by, at the edges, with concrete numbers: the
grace day N against N+1, the minimum amount just under and at it, quiet days, pre-due
reminders, per-invoice letters and the interest to the cent (the README's worked example)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from ledger_collect.domain.base import ValidationError
from ledger_collect.domain.dunning_procedure import (
    DunningProcedure,
    DunningProcedureError,
    define_procedure,
)
from ledger_collect.domain.dunning_rules import (
    Candidate,
    interest,
    letter_id,
    letters_for,
    next_level,
    reminder_due,
)

DAY = date(2026, 3, 17)
CUSTOMER = uuid.UUID(int=7)


def procedure(**changes: object) -> DunningProcedure:
    settings: dict[str, object] = {
        "code": "standard",
        "levels": [{"days_overdue": 1, "grace_days": 14, "fee": "0.00"},
                   {"days_overdue": 30, "grace_days": 10, "fee": "5.00"},
                   {"days_overdue": 45, "grace_days": 10, "fee": "15.00"}],
        "minimum_amount": "50.00", "interest_rate": "8.00", "reminder_days": 5,
        "quiet_days": 3}
    settings.update(changes)
    return define_procedure(**settings)  # type: ignore[arg-type]


def item(n: int = 1, *, due: date, amount: str = "100.00", level: int = 0,
         last: date | None = None, currency: str = "EUR", reminded: bool = False) -> Candidate:
    return Candidate(uuid.UUID(int=1000 + n), f"INV-{n}", currency, Decimal(amount), due, level,
                     last, reminded)


# -- the procedure as data --------------------------------------------------------------------
def test_a_procedure_round_trips_through_its_data() -> None:
    made = procedure(per_invoice=True, language="FR", description=" B2B ")
    assert DunningProcedure.of_data(made.as_data()) == made
    assert made.language == "fr" and made.description == "B2B" and made.top_level == 3
    assert made.level(2).fee == Decimal("5.00")


@pytest.mark.parametrize(("changes", "message"), [
    ({"levels": []}, "1 to 9 levels"),
    ({"levels": [{"days_overdue": 30, "grace_days": 0},
                 {"days_overdue": 29, "grace_days": 0}]}, "fewer than level 1"),
    ({"levels": [{"days_overdue": 1, "grace_days": -1}]}, "grace days of level 1"),
    ({"levels": [{"days_overdue": 1, "grace_days": 0, "fee": "-1.00"}]}, "cannot be negative"),
    ({"levels": [{"days_overdue": 1, "grace_days": 0, "colour": "red"}]}, "no setting colour"),
    ({"interest_rate": "100.01"}, "at most 100"),
    ({"interest_rate": "0"}, "above 0"),
    ({"interest_rate": "8.12345"}, "more than 4 decimal places"),
    ({"reminder_days": 0}, "reminder days"),
    ({"quiet_days": 1.5}, "whole number"),
    ({"code": "Standard!"}, "procedure code"),
    ({"language": "french"}, "two-letter"),
])
def test_a_procedure_that_cannot_work_is_refused(changes: dict[str, object],
                                                 message: str) -> None:
    with pytest.raises(DunningProcedureError, match=message):
        procedure(**changes)


def test_amounts_are_never_rounded() -> None:
    with pytest.raises(ValidationError, match="more than two decimal places"):
        procedure(minimum_amount="50.001")


# -- levels and grace ---------------------------------------------------------------------------
def test_level_one_goes_the_day_after_the_grace() -> None:
    """Grace of 14 days after the due date: day 14 is still grace, day 15 takes level 1."""
    due = DAY - timedelta(days=14)
    assert next_level(procedure(), item(due=due), DAY) is None
    assert next_level(procedure(), item(due=due), DAY + timedelta(days=1)) == 1


def test_the_next_level_waits_for_its_grace_after_the_previous_letter() -> None:
    """Level 2: 30 days overdue and more than 10 days since the level-1 letter."""
    due = DAY - timedelta(days=40)
    dunned = item(due=due, level=1, last=DAY - timedelta(days=10))
    assert next_level(procedure(), dunned, DAY) is None  # grace day 10
    assert next_level(procedure(), dunned, DAY + timedelta(days=1)) == 2  # day 11


def test_the_next_level_waits_for_its_days_overdue() -> None:
    """Level 2 needs 30 days overdue, whatever the grace since the last letter."""
    dunned = item(due=DAY - timedelta(days=29), level=1, last=DAY - timedelta(days=15))
    assert next_level(procedure(), dunned, DAY) is None
    assert next_level(procedure(), dunned, DAY + timedelta(days=1)) == 2


def test_the_top_level_is_the_last() -> None:
    top = item(due=DAY - timedelta(days=200), level=3, last=DAY - timedelta(days=100))
    assert next_level(procedure(), top, DAY) is None


def test_an_item_is_never_dunned_on_its_due_date() -> None:
    eager = procedure(levels=[{"days_overdue": 0, "grace_days": 0}])
    assert next_level(eager, item(due=DAY), DAY) is None
    assert next_level(eager, item(due=DAY), DAY + timedelta(days=1)) == 1


# -- pre-due reminders ----------------------------------------------------------------------------
def test_a_reminder_goes_in_the_last_days_before_due_once() -> None:
    """Five days before due: from the 5th day before through the due date, once, level 0."""
    made = procedure()
    assert not reminder_due(made, item(due=DAY + timedelta(days=6)), DAY)
    assert reminder_due(made, item(due=DAY + timedelta(days=5)), DAY)
    assert reminder_due(made, item(due=DAY), DAY)
    assert not reminder_due(made, item(due=DAY - timedelta(days=1)), DAY)
    assert not reminder_due(made, item(due=DAY + timedelta(days=2), reminded=True), DAY)
    (letter,) = letters_for(CUSTOMER, made, [item(due=DAY + timedelta(days=5))], DAY)
    assert (letter.kind, letter.level, letter.fee, letter.interest) == (
        "reminder", 0, Decimal("0.00"), Decimal("0.00"))
    assert letter.dunning == [(uuid.UUID(int=1001), 0)]


def test_without_reminder_days_no_reminder_goes() -> None:
    assert not reminder_due(procedure(reminder_days=None), item(due=DAY), DAY)


# -- letters: minimum, quiet days, grouping -------------------------------------------------------
def test_the_minimum_amount_counts_the_whole_letter() -> None:
    """Minimum 50.00: a letter of 49.99 does not go, one of 50.00 does."""
    due = DAY - timedelta(days=20)
    assert letters_for(CUSTOMER, procedure(), [item(due=due, amount="49.99")], DAY) == []
    (letter,) = letters_for(CUSTOMER, procedure(), [item(due=due, amount="50.00")], DAY)
    assert letter.amount == Decimal("50.00")
    two = [item(1, due=due, amount="24.99"), item(2, due=due, amount="25.00")]
    assert letters_for(CUSTOMER, procedure(), two, DAY) == []
    two[1] = item(2, due=due, amount="25.01")
    assert len(letters_for(CUSTOMER, procedure(), two, DAY)) == 1


def test_quiet_days_hold_letters_back_through_their_last_day() -> None:
    """Three quiet days: contacted three days ago, no letter; four days ago, a letter."""
    overdue = [item(due=DAY - timedelta(days=20))]
    assert letters_for(CUSTOMER, procedure(), overdue, DAY, DAY - timedelta(days=3)) == []
    assert letters_for(CUSTOMER, procedure(), overdue, DAY, DAY) == []
    assert len(letters_for(CUSTOMER, procedure(), overdue, DAY, DAY - timedelta(days=4))) == 1
    assert len(letters_for(CUSTOMER, procedure(quiet_days=0), overdue, DAY, DAY)) == 1


def test_one_letter_per_customer_and_currency_at_its_highest_level() -> None:
    items = [item(1, due=DAY - timedelta(days=20)),
             item(2, due=DAY - timedelta(days=60), level=1, last=DAY - timedelta(days=30)),
             item(3, due=DAY - timedelta(days=20), currency="USD"),
             item(4, due=DAY + timedelta(days=3))]
    letters = letters_for(CUSTOMER, procedure(), items, DAY)
    assert [(x.currency, x.kind, x.level, len(x.lines)) for x in letters] == [
        ("EUR", "dunning", 2, 2), ("EUR", "reminder", 0, 1), ("USD", "dunning", 1, 1)]
    eur = letters[0]
    assert eur.dunning == [(uuid.UUID(int=1001), 1), (uuid.UUID(int=1002), 2)]  # as given
    assert eur.fee == Decimal("5.00")  # the fee of the letter's level, once per letter
    assert eur.letter_id == letter_id(DAY, f"{CUSTOMER}:EUR:dunning")


def test_per_invoice_letters_each_meet_the_minimum_and_carry_their_fee() -> None:
    made = procedure(per_invoice=True)
    items = [item(1, due=DAY - timedelta(days=20), amount="60.00"),
             item(2, due=DAY - timedelta(days=20), amount="40.00"),
             item(3, due=DAY - timedelta(days=60), level=1, last=DAY - timedelta(days=30))]
    letters = letters_for(CUSTOMER, made, items, DAY)
    assert [(x.key, x.level, x.fee) for x in letters] == [
        (str(uuid.UUID(int=1001)), 1, Decimal("0.00")),
        (str(uuid.UUID(int=1003)), 2, Decimal("5.00"))]


# -- interest -------------------------------------------------------------------------------------
def test_interest_worked_example() -> None:
    """1,234.56 at 8 % a year, 45 days overdue: 1234.56 × 8 / 100 × 45 / 365 = 12.17648…
    → 12.18."""
    assert interest(Decimal("1234.56"), Decimal("8.00"), date(2026, 1, 31),
                    date(2026, 3, 17)) == Decimal("12.18")


@pytest.mark.parametrize(("amount", "rate", "days", "expected"), [
    ("100.00", "10", 0, "0.00"),  # on the due date: nothing yet
    ("100.00", "10", 1, "0.03"),  # 0.0273… up
    ("1000.00", "3.65", 1, "0.10"),  # exactly 0.10
    ("547.50", "1", 1, "0.02"),  # 0.015 exactly: half up
    ("547.49", "1", 1, "0.01"),  # 0.01499…: down
    ("100.00", "8", 366, "8.02"),  # a leap year's 366 days still over 365
])
def test_interest_is_rounded_once_half_up(amount: str, rate: str, days: int,
                                          expected: str) -> None:
    due = date(2024, 1, 1)
    assert interest(Decimal(amount), Decimal(rate), due,
                    due + timedelta(days=days)) == Decimal(expected)


def test_a_letter_adds_up_its_rounded_interest_fee_and_amount() -> None:
    items = [item(1, due=date(2026, 1, 31), amount="1234.56"),
             item(2, due=DAY - timedelta(days=20), amount="100.00")]
    (letter,) = letters_for(CUSTOMER, procedure(), items, DAY)
    assert [line.interest for line in letter.lines] == [Decimal("12.18"), Decimal("0.44")]
    assert letter.interest == Decimal("12.62")
    assert letter.fee == Decimal("0.00")  # level 1 has no fee
    assert letter.total == Decimal("1334.56") + Decimal("12.62")
    assert interest(Decimal("100.00"), None, date(2026, 1, 1), DAY) == Decimal("0.00")
