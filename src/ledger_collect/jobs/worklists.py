"""Worklist generation: each morning, and when a collection strategy is published or activated,
every segment's customers to work are ranked by its active strategy and spread over its team
(``commands.daily_worklist_commands``); the day's lists are recorded in one transaction.

Running it again for the same day records nothing for a segment whose basis — strategy
version, who is present, who is away and who stands in — has not changed; a segment whose
strategy changed, or whose team changed for the day, gets a new version of its list.

The customers and their scores are read from the worklist read model as it stands (a model a
few events behind its log ranks those customers as of those events).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from ledger_collect.commands import daily_worklist_commands as commands
from ledger_collect.domain.distribution import KINDS, UNPLACED
from ledger_collect.projections.worklist.segment_rankings import segment_rankings
from ledger_collect.projections.worklist.strategy_versions import active_strategy_set

#: The job's name (``registry``), and who generations are recorded by.
JOB = ACTOR = "worklist-generation"


def _quiet(done: int, total: int) -> None:
    """No progress to show."""


def generate_worklists(app: Any, *, business_date: date,
                       progress: Callable[[int, int], None] = _quiet, force: bool = False,
                       day: date | None = None) -> dict[str, int]:
    """Generate every segment's worklist of ``day`` (the business date by default). Returns
    counts: segments listed, versions recorded and segments left unchanged, customers listed
    and by where they went (own, substitute, unassigned, owner_away, unplaced), segments
    where some customers were placed with nobody because no specialist was present."""
    day = day or business_date
    with app.database.connect() as conn:
        strategies = active_strategy_set(conn)
        by_segment = segment_rankings(conn, strategies, day)
    rankings = []
    for segment, ranked in by_segment.items():
        strategy = strategies.for_segment(segment)
        rankings.append(commands.SegmentRanking(segment, strategy.code, strategy.version,
                                                ranked))
    progress(0, len(rankings))
    lists = app.run(commands.generate_worklists, rankings, day=day, force=force, actor=ACTOR,
                    business_date=business_date).result
    progress(len(rankings), len(rankings))
    counts = {"segments": len(lists), "generated": sum(s.recorded for s in lists),
              "unchanged": sum(not s.recorded for s in lists),
              "customers": sum(sum(s.counts.values()) for s in lists),
              **{kind: sum(s.counts.get(kind, 0) for s in lists) for kind in KINDS},
              "unstaffed": sum(bool(s.counts.get(UNPLACED)) for s in lists)}
    return counts
