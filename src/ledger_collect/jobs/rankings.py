"""The morning's worklist rankings as a job (``projections.worklist.day_rankings``): the run's
business date ranked with the active strategies, unless it is ranked already (so a second run
of the day ranks nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from ledger_collect.projections.worklist.day_rankings import build_rankings

if TYPE_CHECKING:
    from ledger_collect.commands.application import Collections


def _quiet(done: int, total: int) -> None:
    pass


def rank_worklists(app: Collections, *, business_date: date,
                   progress: Callable[[int, int], None] = _quiet) -> dict[str, int]:
    """Counts: ``days_ranked``, 1 when the day was ranked now, 0 when it was already."""
    ranked = build_rankings(app, today=business_date)
    progress(1, 1)
    return {"days_ranked": len(ranked)}
