"""The day's worklist of a collection segment: a stored, versioned fact.

Each morning (and when a collection strategy is published or activated) the segment's
customers to work are ranked by its active strategy and spread over its team
(``distribution``); the result — who works which customer, in which order, and what the order
was made from — is recorded here, under an id derived from the segment and the day. Each
generation is a new version. What decides a generation is its basis: the strategy version,
the team's presence that day (who is present, who is absent and who stands in). Generating
again on the same basis records nothing, even when payments arrived since: the day's list
stays the one the team started the day with. A forced generation records a new version when
the list itself differs (new customers overdue, reassignments).

Size. A portfolio's list is large (one entry per customer to work), so each version is
recorded as a header and parts of at most ``PART_SIZE`` customers, columns of plain values
(customer ids, numbers, scores, amounts as text, days overdue, indexes into the version's list
of people, one letter per entry for why it went where it did): an event stays near 150 kB
whatever the segment's size. No personal data: customer numbers and specialists' user ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import CollectionsAggregate, ValidationError, derived_id
from ledger_collect.domain.distribution import KINDS, Candidate, Placement, distribute
from ledger_collect.domain.team import Team

#: Customers per part event.
PART_SIZE = 2000
#: How far ahead of the business date a day's list may be generated.
MAX_DAYS_AHEAD = 31
#: One letter per placement kind, in the parts' ``kinds`` text.
LETTERS = dict(zip(KINDS, "osuan", strict=True))
KIND_OF = {letter: kind for kind, letter in LETTERS.items()}


@dataclass(frozen=True, slots=True)
class Ranked(Candidate):
    """A customer as the strategy ranked it on the day, with what the order was made from
    beside the score: the overdue amount, the oldest due date (the day itself when nothing is
    open) and the customer number."""

    number: str
    overdue: Decimal
    oldest_due: date


@dataclass(frozen=True)
class Basis:
    """What a generation is made from, beside the customers' facts."""

    strategy_code: str
    strategy_version: int
    team: bool  # the segment has a team; without one, assignments stand as they are
    present: tuple[str, ...]
    absences: tuple[tuple[str, str | None], ...]  # (absent specialist, substitute)

    @classmethod
    def of(cls, team: Team | None, day: date, strategy_code: str,
           strategy_version: int) -> Basis:
        absent = team.absent_on(day) if team is not None else {}
        return cls(strategy_code, strategy_version, team is not None,
                   tuple(team.present_on(day)) if team is not None else (),
                   tuple(sorted(absent.items())))


@dataclass(frozen=True)
class Generation:
    """A generation worked out, before it is recorded: its basis, its people (everyone who
    owns or works a customer on it, by name) and its columns, one entry per customer."""

    basis: Basis
    people: list[str]
    columns: dict[str, list[Any]]
    kinds: str
    digest: str

    @property
    def size(self) -> int:
        return len(self.kinds)

    def counts(self) -> dict[str, int]:
        return {kind: self.kinds.count(LETTERS[kind]) for kind in KINDS}


def plan(basis: Basis, ranked: Sequence[Ranked], day: date) -> Generation:
    """Place each ranked customer (``distribution.distribute``) and lay the result out as
    columns. ``ranked`` must be in the strategy's order."""
    placed: Placement = distribute(ranked, team=basis.team, present=basis.present,
                                   absent=dict(basis.absences))
    people = sorted({r.owner for r in ranked if r.owner} | {w for w in placed.workers if w})
    index = {name: n for n, name in enumerate(people)}
    columns: dict[str, list[Any]] = {
        "customer_ids": [str(r.customer_id) for r in ranked],
        "numbers": [r.number for r in ranked],
        "scores": [r.score for r in ranked],
        "overdue": [str(r.overdue) for r in ranked],
        "days_overdue": [(day - r.oldest_due).days for r in ranked],
        "owners": [index[r.owner] if r.owner else -1 for r in ranked],
        "workers": [index[w] if w else -1 for w in placed.workers],
    }
    kinds = "".join(LETTERS[kind] for kind in placed.kinds)
    digest = hashlib.sha256(repr((basis, people, columns, kinds)).encode()).hexdigest()
    return Generation(basis, people, columns, kinds, digest)


class DailyWorklist(CollectionsAggregate):
    TOPIC = "ledger_collect.DailyWorklist"

    @staticmethod
    def create_id(segment: str, day: date, **_: Any) -> UUID:
        return derived_id("daily-worklist", f"{segment}\x1f{day.isoformat()}")

    @classmethod
    def generate(cls, generation: Generation, *, segment: str, day: date, actor: str,
                 business_date: date) -> DailyWorklist:
        check_list_day(day, business_date)
        made = cls(segment=segment, day=day, **_header(generation, 1), actor=actor,
                   business_date=business_date)
        made._record_parts(generation, actor, business_date)
        return made

    @event("Generated", topic="ledger_collect.DailyWorklist.Generated")
    def __init__(self, segment: str, day: date, number: int, strategy_code: str,
                 strategy_version: int, team: bool, present: list[str],
                 absences: list[list[str | None]], people: list[str], customers: int,
                 counts: dict[str, int], parts: int, digest: str, actor: str,
                 business_date: date) -> None:
        self.segment = segment
        self.day = day
        self._take(number, strategy_code, strategy_version, team, present, absences, people,
                   customers, counts, parts, digest)

    def _take(self, number: int, strategy_code: str, strategy_version: int, team: bool,
              present: list[str], absences: list[list[str | None]], people: list[str],
              customers: int, counts: dict[str, int], parts: int, digest: str) -> None:
        self.number = number
        self.basis = Basis(strategy_code, strategy_version, team, tuple(present),
                           tuple((a, s) for a, s in absences))  # type: ignore[misc]
        self.people = list(people)
        self.customers = customers
        self.counts = dict(counts)
        self.parts = parts
        self.digest = digest
        self.parts_listed = 0

    def regenerate(self, generation: Generation, *, force: bool = False, actor: str,
                   business_date: date) -> bool:
        """Record ``generation`` as the next version, unless it changes nothing: the same
        basis (or, ``force``, the same list altogether). True when recorded."""
        check_list_day(self.day, business_date)
        if generation.basis == self.basis and (not force or generation.digest == self.digest):
            return False
        self._regenerated(**_header(generation, self.number + 1), actor=actor,
                          business_date=business_date)
        self._record_parts(generation, actor, business_date)
        return True

    @event("Regenerated", topic="ledger_collect.DailyWorklist.Regenerated")
    def _regenerated(self, number: int, strategy_code: str, strategy_version: int,
                     team: bool, present: list[str], absences: list[list[str | None]],
                     people: list[str], customers: int, counts: dict[str, int], parts: int,
                     digest: str, actor: str, business_date: date) -> None:
        self._take(number, strategy_code, strategy_version, team, present, absences, people,
                   customers, counts, parts, digest)

    def _record_parts(self, generation: Generation, actor: str, business_date: date) -> None:
        for part, start in enumerate(range(0, generation.size, PART_SIZE), 1):
            end = start + PART_SIZE
            self._listed(number=self.number, part=part, kinds=generation.kinds[start:end],
                         **{name: values[start:end]
                            for name, values in generation.columns.items()},
                         actor=actor, business_date=business_date)

    @event("Listed", topic="ledger_collect.DailyWorklist.Listed")
    def _listed(self, number: int, part: int, customer_ids: list[str], numbers: list[str],
                scores: list[int], overdue: list[str], days_overdue: list[int],
                owners: list[int], workers: list[int], kinds: str, actor: str,
                business_date: date) -> None:
        self.parts_listed = part


def _header(generation: Generation, number: int) -> dict[str, Any]:
    basis = generation.basis
    return {"number": number, "strategy_code": basis.strategy_code,
            "strategy_version": basis.strategy_version, "team": basis.team,
            "present": list(basis.present), "absences": [list(a) for a in basis.absences],
            "people": generation.people, "customers": generation.size,
            "counts": generation.counts(),
            "parts": -(-generation.size // PART_SIZE), "digest": generation.digest}


def check_list_day(day: date, business_date: date) -> None:
    """A day's list is generated on the day or up to ``MAX_DAYS_AHEAD`` days ahead of it."""
    if day < business_date:
        raise ValidationError(f"the worklist of {day} is history on {business_date}: it is "
                              f"generated on its day or ahead of it")
    if (day - business_date).days > MAX_DAYS_AHEAD:
        raise ValidationError(f"the worklist of {day} is more than {MAX_DAYS_AHEAD} days ahead "
                              f"of {business_date}; generate it nearer the day")
