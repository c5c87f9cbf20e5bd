"""The daily valuation of promises as a job (``commands.valuation``): every promise whose window
ended before the run's business date is valued, a chunk of them per transaction.

At least once is enough: a promise valued by an attempt that died later is confirmed, so the
next attempt passes over it; each promise is valued once whatever the number of attempts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from ledger_collect.commands.valuation import daily_valuation

if TYPE_CHECKING:
    from ledger_collect.commands.application import Collections


def _quiet(done: int, total: int) -> None:
    pass


def value_open_promises(app: Collections, *, business_date: date,
                        progress: Callable[[int, int], None] = _quiet) -> dict[str, int]:
    """Counts: ``valued`` and each outcome (``kept``, ``partially_kept``, ``broken``)."""
    outcomes = daily_valuation(app, as_of=business_date, business_date=business_date,
                               chunk=app.settings.valuation_chunk, progress=progress)
    return {"valued": len(outcomes), **Counter(outcomes.values())}
