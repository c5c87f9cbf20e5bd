"""Collection strategies: the rules that rank a specialist's worklist, held as data, versioned.

A strategy is a list of rules; each rule looks at one fact about a customer on the worklist's
day and, when its condition holds, adds its valuation points. The customer's score is the sum.
The same rule is read two ways, which must agree (a test holds them to it): as an SQL
expression over the worklist read model, so that ranking 100,000 customers is one query, and
in Python, to explain an entry's score rule by rule.

Definition (JSON, stored in ``collection_strategies.definition``)::

    {"dunning_notice_days": 14,   # an item dunned less than this many days ago is left alone
     "recent_days": 90,           # what "recent" means for broken promises
     "rules": [{"name": "large overdue amount", "kind": "overdue_amount",
                "at_least": "10000.00", "points": 30}, ...]}

Kinds and their facts (amounts in the customer's currency; days counted on the worklist's day):

- ``overdue_amount``: open amount of the items due before the day;
- ``days_overdue``: days past due of the oldest open item (0 when none is overdue);
- ``broken_promises``: promises valued broken or partially kept in the last ``within_days``
  days (the strategy's ``recent_days`` unless the rule says);
- ``dunning_level``: the highest dunning level of the open items;
- ``risk_class``: the customer's risk class, compared with ``in: [...]``;
- ``open_disputes`` / ``disputed_amount``: open or in-process dispute cases, and what they
  still dispute.

Numeric rules take exactly one of ``at_least`` (the threshold itself counts) or ``more_than``
(it does not). Unknown keys are refused: a typo must not silently turn a rule off.

How versions are stored, published and read: ``strategy_versions``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ledger_collect.domain.base import ValidationError, money
from ledger_collect.domain.customer import RISK_CLASSES

AMOUNT_KINDS = ("overdue_amount", "disputed_amount")
COUNT_KINDS = ("days_overdue", "broken_promises", "dunning_level", "open_disputes")
KINDS = (*AMOUNT_KINDS, *COUNT_KINDS, "risk_class")
MAX_RULES = 50
MAX_POINTS = 1000
MAX_DAYS = 3660

#: The fact each kind reads, as SQL over ``worklist_customers c``; ``{d}`` is the day.
_FACT_SQL = {
    "overdue_amount": "coalesce(c.open_by_due[width_bucket({d} - 1, c.due_dates)], 0.00)",
    "days_overdue": "coalesce(greatest({d} - c.oldest_due, 0), 0)",
    "broken_promises": ("(width_bucket({d}, c.broken_promises)"
                        " - width_bucket({d} - {w}, c.broken_promises))"),
    "dunning_level": "c.dunning_level",
    "risk_class": "c.risk_class",
    "open_disputes": "c.open_disputes",
    "disputed_amount": "c.disputed_amount",
}


class StrategyError(ValidationError, code="STRATEGY_INVALID"):
    """A worklist strategy's definition is malformed (its rules, kinds, points, names)."""


class UnknownStrategyError(StrategyError, code="NOT_FOUND"):
    """No version of that strategy was published, or no default strategy is active."""


@dataclass(frozen=True)
class Facts:
    """What a strategy scores about one customer on one day."""

    currency: str
    overdue_amount: Decimal
    days_overdue: int
    broken_promise_dates: tuple[date, ...]  # when promises were valued broken, ascending
    dunning_level: int
    risk_class: str
    open_disputes: int
    disputed_amount: Decimal

    def broken_promises(self, as_of: date, within_days: int) -> int:
        """Promises valued broken on a day in (as_of - within_days, as_of]."""
        # Counted in days back from as_of: as_of - within_days may be before the first day
        # a date can hold.
        return sum(0 <= (as_of - day).days < within_days for day in self.broken_promise_dates)


@dataclass(frozen=True)
class Line:
    """One rule's part in a score: the points it gave (0 when its condition failed) and why."""

    rule: str
    points: int
    detail: str


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    points: int
    at_least: Decimal | int | None = None
    more_than: Decimal | int | None = None
    classes: tuple[str, ...] = ()
    within_days: int | None = None

    def condition_sql(self, d: str, recent_days: int) -> str:
        fact = _FACT_SQL[self.kind].format(d=d, w=self.within_days or recent_days)
        if self.kind == "risk_class":
            return f"{fact} IN ({', '.join(_quote(c) for c in self.classes)})"
        if self.at_least is not None:
            return f"{fact} >= {_number(self.at_least)}"
        return f"{fact} > {_number(self.more_than)}"

    def line(self, facts: Facts, as_of: date, recent_days: int) -> Line:
        if self.kind == "risk_class":
            met = facts.risk_class in self.classes
            listed = ", ".join(self.classes)
            detail = f"risk class {facts.risk_class}, {'' if met else 'not '}one of {listed}"
            return Line(self.name, self.points if met else 0, detail)
        value, what = self._fact(facts, as_of, recent_days)
        threshold = self.at_least if self.at_least is not None else self.more_than
        assert threshold is not None
        if self.at_least is not None:
            met = value >= threshold
            compared = "at least" if met else "less than"
        else:
            met = value > threshold
            compared = "more than" if met else "not more than"
        return Line(self.name, self.points if met else 0,
                    f"{what}, {compared} {_show(threshold)}")

    def _fact(self, facts: Facts, as_of: date, recent_days: int) -> tuple[Any, str]:
        if self.kind == "overdue_amount":
            return facts.overdue_amount, f"{_show(facts.overdue_amount)} {facts.currency} overdue"
        if self.kind == "disputed_amount":
            return (facts.disputed_amount,
                    f"{_show(facts.disputed_amount)} {facts.currency} under open disputes")
        if self.kind == "days_overdue":
            return facts.days_overdue, f"oldest item {facts.days_overdue} days overdue"
        if self.kind == "broken_promises":
            days = self.within_days or recent_days
            count = facts.broken_promises(as_of, days)
            return count, f"{count} promise(s) broken in the last {days} days"
        if self.kind == "dunning_level":
            return facts.dunning_level, f"highest dunning level {facts.dunning_level}"
        return facts.open_disputes, f"{facts.open_disputes} open dispute(s)"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "risk_class":
            out["in"] = list(self.classes)
        else:
            key = "at_least" if self.at_least is not None else "more_than"
            value = self.at_least if self.at_least is not None else self.more_than
            out[key] = str(value) if isinstance(value, Decimal) else value
        if self.within_days is not None:
            out["within_days"] = self.within_days
        out["points"] = self.points
        return out


@dataclass(frozen=True)
class Strategy:
    code: str
    version: int
    segment: str | None
    rules: tuple[Rule, ...]
    dunning_notice_days: int = 14
    recent_days: int = 90
    description: str = ""
    active: bool = False
    created_by: str = ""
    created_at: datetime | None = None

    def score_sql(self, d: str) -> str:
        """The score as an SQL expression over ``worklist_customers c`` on day ``d``."""
        if not self.rules:
            return "0"
        return " + ".join(f"(CASE WHEN {rule.condition_sql(d, self.recent_days)}"
                          f" THEN {rule.points} ELSE 0 END)" for rule in self.rules)

    def explain(self, facts: Facts, as_of: date) -> list[Line]:
        return [rule.line(facts, as_of, self.recent_days) for rule in self.rules]

    def score(self, facts: Facts, as_of: date) -> int:
        return sum(line.points for line in self.explain(facts, as_of))

    def definition(self) -> dict[str, Any]:
        return {"dunning_notice_days": self.dunning_notice_days,
                "recent_days": self.recent_days,
                "rules": [rule.as_json() for rule in self.rules]}


@dataclass(frozen=True)
class StrategySet:
    """The strategies a worklist is ranked with: one per segment that has its own, and the
    default for every other segment (or one strategy for everybody, to rank with an older
    version)."""

    default: Strategy
    by_segment: Mapping[str, Strategy] = field(default_factory=dict)

    def for_segment(self, segment: str) -> Strategy:
        return self.by_segment.get(segment, self.default)

    @property
    def all(self) -> list[Strategy]:
        """Default first, then by segment: an entry's strategy is its position in this list."""
        return [self.default, *(self.by_segment[s] for s in sorted(self.by_segment))]

    @property
    def key(self) -> str:
        """Which versions rank which segments, as text: versions never change, so equal keys
        rank alike (the worklist's cached rankings are filed under it)."""
        return json.dumps([["", self.default.code, self.default.version]] + [
            [segment, strategy.code, strategy.version]
            for segment, strategy in sorted(self.by_segment.items())], separators=(",", ":"))

    def per_segment_sql(self, expression: Any) -> str:
        """``expression(strategy)`` for each customer's own strategy (a CASE on its segment)."""
        if not self.by_segment:
            return str(expression(self.default))
        whens = " ".join(f"WHEN {_quote(segment)} THEN ({expression(strategy)})"
                         for segment, strategy in sorted(self.by_segment.items()))
        return f"(CASE c.segment {whens} ELSE ({expression(self.default)}) END)"

    def score_sql(self, d: str) -> str:
        return self.per_segment_sql(lambda s: s.score_sql(d))

    def notice_days_sql(self) -> str:
        return self.per_segment_sql(lambda s: s.dunning_notice_days)

    def index_sql(self) -> str:
        """Which strategy ranked the row: its position in ``all``."""
        position = {id(s): i for i, s in enumerate(self.all)}
        return self.per_segment_sql(lambda s: position[id(s)])


# -- reading and checking a definition ----------------------------------------------------------
def parse_rules(definition: Mapping[str, Any]) -> tuple[int, int, tuple[Rule, ...]]:
    """(dunning_notice_days, recent_days, rules) of a definition, or a StrategyError saying
    what is wrong with it."""
    if not isinstance(definition, Mapping):
        raise StrategyError("a strategy definition is an object with its rules")
    _no_other_keys(definition, {"dunning_notice_days", "recent_days", "rules"}, "the strategy")
    notice = _days(definition.get("dunning_notice_days", 14), "dunning_notice_days", low=0)
    recent = _days(definition.get("recent_days", 90), "recent_days", low=1)
    raw = definition.get("rules")
    if not isinstance(raw, list) or not raw:
        raise StrategyError("a strategy needs a non-empty list of rules")
    if len(raw) > MAX_RULES:
        raise StrategyError(f"a strategy has at most {MAX_RULES} rules, got {len(raw)}")
    rules = tuple(_rule(item, n) for n, item in enumerate(raw, start=1))
    names = [rule.name for rule in rules]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise StrategyError(f"rule names must be distinct; named twice: {', '.join(twice)}")
    return notice, recent, rules


def _rule(item: Any, n: int) -> Rule:
    if not isinstance(item, Mapping):
        raise StrategyError(f"rule {n} must be an object")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 80:
        raise StrategyError(f"rule {n} needs a name of 1 to 80 characters")
    name = name.strip()
    kind = item.get("kind")
    if kind not in KINDS:
        raise StrategyError(f"rule {name!r}: kind {kind!r} is not one of {', '.join(KINDS)}")
    points = item.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or points == 0 \
            or abs(points) > MAX_POINTS:
        raise StrategyError(f"rule {name!r}: points must be a whole number from -{MAX_POINTS} "
                            f"to {MAX_POINTS} other than 0, got {points!r}")
    if kind == "risk_class":
        _no_other_keys(item, {"name", "kind", "points", "in"}, f"rule {name!r}")
        classes = item.get("in")
        if not isinstance(classes, list) or not classes \
                or any(c not in RISK_CLASSES for c in classes):
            raise StrategyError(f"rule {name!r}: 'in' must list risk classes among "
                                f"{', '.join(RISK_CLASSES)}, got {classes!r}")
        return Rule(name, kind, points, classes=tuple(sorted(set(classes))))
    allowed = {"name", "kind", "points", "at_least", "more_than"}
    if kind == "broken_promises":
        allowed.add("within_days")
    _no_other_keys(item, allowed, f"rule {name!r}")
    given = [key for key in ("at_least", "more_than") if key in item]
    if len(given) != 1:
        raise StrategyError(f"rule {name!r} needs exactly one of at_least or more_than")
    threshold = _amount(item[given[0]], name) if kind in AMOUNT_KINDS else _count(
        item[given[0]], name)
    within = item.get("within_days")
    if within is not None:
        within = _days(within, f"rule {name!r}: within_days", low=1)
    return Rule(name, kind, points, within_days=within,
                **{given[0]: threshold})  # type: ignore[arg-type]


def _no_other_keys(item: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise StrategyError(f"{what}: unknown key(s) {', '.join(unknown)}; allowed: "
                            f"{', '.join(sorted(allowed))}")


def _amount(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise StrategyError(f"rule {name!r}: amounts are given as decimal strings, e.g. "
                            f"\"1000.00\", got {value!r}")
    try:
        amount = money(value)
    except ValidationError as error:
        raise StrategyError(f"rule {name!r}: {error}") from None
    if amount < 0:
        raise StrategyError(f"rule {name!r}: a threshold cannot be negative, got {amount}")
    return amount


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise StrategyError(f"rule {name!r}: the threshold is a whole number from 0 to "
                            f"{MAX_DAYS}, got {value!r}")
    return value


def _days(value: Any, what: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_DAYS:
        raise StrategyError(f"{what} must be a whole number of days from {low} to {MAX_DAYS}, "
                            f"got {value!r}")
    return value


def _number(value: Decimal | int | None) -> str:
    if isinstance(value, Decimal):
        return f"{value}::numeric"
    return str(int(value))  # type: ignore[arg-type]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _show(value: Decimal | int) -> str:
    return f"{value:,.2f}" if isinstance(value, Decimal) else str(value)
