"""Dunning procedures (procédures de relance), held as data: how and when overdue items are
reminded, level by level.

A procedure has levels 1..n. An item at level k (0: never dunned) is due for level k+1 once it
is at least ``days_overdue`` days past its due date AND more than ``grace_days`` days have
passed since its previous letter (for level 1: since its due date). So ``grace_days=14``
lets the letter go on the 15th day: days 1..14 are the grace. Each letter must reach the
procedure's ``minimum_amount`` (open amount of its items, in their currency), may carry the
level's ``fee``, and, with an ``interest_rate``, shows the late-payment interest
(``dunning_rules.interest``). ``reminder_days``: a friendly reminder (level 0) goes once, in
the last ``reminder_days`` days before the due date; it never raises the level.
``quiet_days``: no letter to a customer contacted or written to within that many days.
``per_invoice``: one letter per invoice, else one per customer and currency.

Which procedure applies to a customer: its own, else its segment's, else the default; none:
the customer is not dunned. All of that is one aggregate, ``DunningSetup``, so that every
change is an event and a procedure in use cannot be removed under a segment's feet.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import (
    ZERO,
    CollectionsAggregate,
    DomainError,
    NotFoundError,
    ValidationError,
    derived_id,
    money,
)

MAX_LEVELS = 9
MAX_DAYS = 3650
#: Annual interest rates are percentages with at most this many decimal places.
RATE_PLACES = 4
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")


class DunningProcedureError(DomainError):
    """A procedure that cannot work as defined: levels out of order, a negative fee, a rate
    beyond 100 %, ..."""


class UnknownProcedureError(NotFoundError, code="NOT_FOUND"):
    """No dunning procedure has that code."""


class ProcedureInUseError(DomainError):
    """The procedure is the default or a segment's: assign another first."""


@dataclass(frozen=True)
class DunningLevel:
    level: int
    days_overdue: int  # at least this many days past due
    grace_days: int  # more than this many days since the previous letter (level 1: due date)
    fee: Decimal = ZERO


@dataclass(frozen=True)
class DunningProcedure:
    code: str
    levels: tuple[DunningLevel, ...]
    minimum_amount: Decimal = ZERO
    interest_rate: Decimal | None = None  # annual, in percent
    reminder_days: int | None = None
    quiet_days: int = 0
    per_invoice: bool = False
    language: str = "en"
    description: str = ""

    @property
    def top_level(self) -> int:
        return len(self.levels)

    def level(self, number: int) -> DunningLevel:
        return self.levels[number - 1]

    def as_data(self) -> dict[str, Any]:
        """The definition as events and read models keep it (plain values)."""
        data = asdict(self)
        data["levels"] = [asdict(level) for level in self.levels]
        return data

    @classmethod
    def of_data(cls, data: dict[str, Any]) -> DunningProcedure:
        """The procedure an event or a row holds (already checked when it was saved)."""
        def amount(value: Any) -> Decimal:
            return Decimal(str(value))
        levels = tuple(DunningLevel(int(lv["level"]), int(lv["days_overdue"]),
                                    int(lv["grace_days"]), amount(lv["fee"]))
                       for lv in data["levels"])
        rate = data.get("interest_rate")
        return cls(code=data["code"], levels=levels,
                   minimum_amount=amount(data.get("minimum_amount", ZERO)),
                   interest_rate=None if rate is None else amount(rate),
                   reminder_days=data.get("reminder_days"),
                   quiet_days=int(data.get("quiet_days", 0)),
                   per_invoice=bool(data.get("per_invoice", False)),
                   language=data.get("language", "en"), description=data.get("description", ""))


def _days(value: Any, what: str, *, least: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DunningProcedureError(f"{what} must be a whole number of days, got {value!r}")
    if not least <= value <= MAX_DAYS:
        raise DunningProcedureError(f"{what} must be {least} to {MAX_DAYS} days, got {value}")
    return value


def _not_negative(value: Any, what: str) -> Decimal:
    amount = money(value, what)
    if amount < 0:
        raise DunningProcedureError(f"{what} cannot be negative, got {amount}")
    return amount


def _rate(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        raise ValidationError("the interest rate must be given as a decimal string, not a float")
    try:
        rate = Decimal(str(value))
    except Exception as exc:
        raise ValidationError(f"interest rate {value!r} is not a number") from exc
    if not rate.is_finite() or not 0 < rate <= 100:
        raise DunningProcedureError(f"the annual interest rate must be above 0 and at most "
                                    f"100 (percent), got {value}")
    if -rate.as_tuple().exponent > RATE_PLACES:  # type: ignore[operator]
        raise DunningProcedureError(f"the interest rate {value} has more than {RATE_PLACES} "
                                    f"decimal places")
    return rate


def define_procedure(*, code: str, levels: list[dict[str, Any]],
                     minimum_amount: Decimal | str = ZERO,
                     interest_rate: Decimal | str | None = None,
                     reminder_days: int | None = None, quiet_days: int = 0,
                     per_invoice: bool = False, language: str = "en",
                     description: str = "") -> DunningProcedure:
    """A checked procedure. ``levels``: dicts with ``days_overdue``, ``grace_days`` and an
    optional ``fee``, level 1 first; a later level needs at least the days overdue of the one
    before (a letter never climbs to a level it could have reached earlier)."""
    code = (code or "").strip()
    if not _CODE.match(code):
        raise DunningProcedureError(f"procedure code {code!r} must be lower-case letters, "
                                    f"digits, - and _")
    if not levels or len(levels) > MAX_LEVELS:
        raise DunningProcedureError(f"a procedure has 1 to {MAX_LEVELS} levels, got "
                                    f"{len(levels)}")
    made: list[DunningLevel] = []
    for number, given in enumerate(levels, start=1):
        what = f"level {number}"
        unknown = set(given) - {"days_overdue", "grace_days", "fee", "level"}
        if unknown:
            raise DunningProcedureError(f"{what} has no setting {', '.join(sorted(unknown))}")
        if given.get("level", number) != number:
            raise DunningProcedureError(f"levels are numbered 1 to n in order; {what} says "
                                        f"{given['level']}")
        overdue = _days(given.get("days_overdue"), f"days overdue of {what}")
        if made and overdue < made[-1].days_overdue:
            raise DunningProcedureError(
                f"{what} needs {overdue} days overdue, fewer than level {number - 1} "
                f"({made[-1].days_overdue})")
        made.append(DunningLevel(number, overdue,
                                 _days(given.get("grace_days", 0), f"grace days of {what}"),
                                 _not_negative(given.get("fee") or ZERO, f"fee of {what}")))
    if reminder_days is not None:
        reminder_days = _days(reminder_days, "reminder days before due", least=1)
    language = (language or "").strip().lower()
    if not _LANGUAGE.match(language):
        raise DunningProcedureError(f"language {language!r} must be a two-letter code (en, fr)")
    return DunningProcedure(
        code=code, levels=tuple(made),
        minimum_amount=_not_negative(minimum_amount, "minimum amount"),
        interest_rate=_rate(interest_rate), reminder_days=reminder_days,
        quiet_days=_days(quiet_days, "quiet days"), per_invoice=bool(per_invoice),
        language=language, description=(description or "").strip())


class DunningSetup(CollectionsAggregate):
    """Every dunning procedure, the default one and the segments' ones: one record."""

    TOPIC = "ledger_collect.DunningSetup"

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return derived_id("dunning-setup", "the")

    @classmethod
    def start(cls, *, actor: str, business_date: date) -> DunningSetup:
        return cls(actor=actor, business_date=business_date)

    @event("Started", topic="ledger_collect.DunningSetup.Started")
    def __init__(self, actor: str, business_date: date) -> None:
        self.procedures: dict[str, dict[str, Any]] = {}
        self.default: str | None = None
        self.segments: dict[str, str] = {}
        self.agency_criteria: dict[str, Any] | None = None

    def procedure(self, code: str) -> DunningProcedure:
        if code not in self.procedures:
            raise UnknownProcedureError(f"there is no dunning procedure {code!r}")
        return DunningProcedure.of_data(self.procedures[code])

    def applying(self, own: str | None, segment: str) -> DunningProcedure | None:
        """The procedure for a customer: its ``own`` (if it still exists), its segment's, or
        the default; None: not dunned."""
        for code in (own, self.segments.get(segment), self.default):
            if code is not None and code in self.procedures:
                return self.procedure(code)
        return None

    def save_procedure(self, procedure: DunningProcedure, *, actor: str,
                       business_date: date) -> bool:
        """Add or replace a procedure; False when it is already so defined."""
        definition = procedure.as_data()
        if self.procedures.get(procedure.code) == definition:
            return False
        self._procedure_saved(code=procedure.code, definition=definition, actor=actor,
                              business_date=business_date)
        return True

    @event("ProcedureSaved", topic="ledger_collect.DunningSetup.ProcedureSaved")
    def _procedure_saved(self, code: str, definition: dict[str, Any], actor: str,
                         business_date: date) -> None:
        self.procedures[code] = definition

    def remove_procedure(self, code: str, *, actor: str, business_date: date) -> None:
        self.procedure(code)
        users = [f"segment {s}" for s, c in sorted(self.segments.items()) if c == code]
        if self.default == code:
            users.insert(0, "the default")
        if users:
            raise ProcedureInUseError(f"procedure {code} is used by {', '.join(users)}; "
                                      f"assign another procedure there first")
        self._procedure_removed(code=code, actor=actor, business_date=business_date)

    @event("ProcedureRemoved", topic="ledger_collect.DunningSetup.ProcedureRemoved")
    def _procedure_removed(self, code: str, actor: str, business_date: date) -> None:
        del self.procedures[code]

    def set_default(self, code: str | None, *, actor: str, business_date: date) -> None:
        if code is not None:
            self.procedure(code)
        if code != self.default:
            self._default_set(code=code, actor=actor, business_date=business_date)

    @event("DefaultSet", topic="ledger_collect.DunningSetup.DefaultSet")
    def _default_set(self, code: str | None, actor: str, business_date: date) -> None:
        self.default = code

    def set_segment(self, segment: str, code: str | None, *, actor: str,
                    business_date: date) -> None:
        """The segment's procedure; None: the segment follows the default."""
        segment = (segment or "").strip()
        if not segment:
            raise ValidationError("name the segment")
        if code is not None:
            self.procedure(code)
        if self.segments.get(segment) != code:
            self._segment_set(segment=segment, code=code, actor=actor,
                              business_date=business_date)

    @event("SegmentSet", topic="ledger_collect.DunningSetup.SegmentSet")
    def _segment_set(self, segment: str, code: str | None, actor: str,
                     business_date: date) -> None:
        if code is None:
            self.segments.pop(segment, None)
        else:
            self.segments[segment] = code

    def set_agency_criteria(self, minimum_amount: Decimal, days_overdue: int, *, actor: str,
                            business_date: date) -> None:
        """Which customers may be handed to a collection agency (``agency_case``)."""
        criteria = {"minimum_amount": minimum_amount, "days_overdue": days_overdue}
        if criteria != self.agency_criteria:
            self._agency_criteria_set(minimum_amount=minimum_amount, days_overdue=days_overdue,
                                      actor=actor, business_date=business_date)

    @event("AgencyCriteriaSet", topic="ledger_collect.DunningSetup.AgencyCriteriaSet")
    def _agency_criteria_set(self, minimum_amount: Decimal, days_overdue: int, actor: str,
                             business_date: date) -> None:
        self.agency_criteria = {"minimum_amount": minimum_amount, "days_overdue": days_overdue}


SETUP_ID = DunningSetup.create_id()
