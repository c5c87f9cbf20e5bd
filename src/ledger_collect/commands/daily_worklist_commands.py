"""Generating the day's worklists: for each collection segment, its customers as the strategy
ranked them (read from the worklist read model by the caller, ``jobs.worklists``) are spread
over the segment's team as it stands that day and recorded as the segment's ``DailyWorklist``.

Every segment of a run is saved in one transaction: readers see the day's lists of the run
before it or after it, never some segments of each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from ledger_collect.commands.values import DATE, UNCHECKED, checked
from ledger_collect.domain.daily_worklist import (
    Basis,
    DailyWorklist,
    Ranked,
    check_list_day,
    plan,
)
from ledger_collect.domain.team import Team

if TYPE_CHECKING:
    from ledger_collect.commands import Batch


@dataclass(frozen=True)
class SegmentRanking:
    """A segment's customers to work on the day, in its active strategy's order."""

    segment: str
    strategy_code: str
    strategy_version: int
    ranked: Sequence[Ranked] = field(repr=False)


@dataclass(frozen=True)
class SegmentList:
    """What generating a segment's list did: the version now current, whether this run
    recorded it, and where its customers went (by placement kind)."""

    segment: str
    version: int
    recorded: bool
    counts: dict[str, int]
    present: tuple[str, ...]


@checked(rankings=UNCHECKED, day=DATE, force=UNCHECKED)
def generate_worklists(batch: Batch, rankings: Sequence[SegmentRanking], *, day: date,
                       force: bool = False, actor: str,
                       business_date: date) -> list[SegmentList]:
    """Each segment's list of ``day``, recorded as a new version unless its basis (strategy
    version, presence) is the current version's (``force``: unless the list is the same)."""
    check_list_day(day, business_date)
    segments = [ranking.segment for ranking in rankings]
    if len(set(segments)) != len(segments):
        raise ValueError("each segment is ranked once per generation")
    batch.load([Team.create_id(s) for s in segments]
               + [DailyWorklist.create_id(s, day) for s in segments])
    done = []
    for ranking in rankings:
        team = batch.find(Team, Team.create_id(ranking.segment))
        basis = Basis.of(team, day, ranking.strategy_code, ranking.strategy_version)
        current = batch.find(DailyWorklist, DailyWorklist.create_id(ranking.segment, day))
        if current is not None and not force and current.basis == basis:
            done.append(SegmentList(ranking.segment, current.number, False, current.counts,
                                    basis.present))
            continue  # the list is not even worked out again
        generation = plan(basis, ranking.ranked, day)
        if current is None:
            current = batch.add(DailyWorklist.generate(
                generation, segment=ranking.segment, day=day, actor=actor,
                business_date=business_date))
            recorded = True
        else:
            recorded = current.regenerate(generation, force=force, actor=actor,
                                          business_date=business_date)
        done.append(SegmentList(ranking.segment, current.number, recorded, current.counts,
                                current.basis.present))
    return done
