"""The daily valuation of promises to pay: every unconfirmed promise whose window is over is
valued (kept, partially kept or broken) and frees its invoice, without waiting for a payment
to come and trigger it.

For the CLI (``ledger-collect promises value``) and a scheduled job alike: the candidates are
read from the event store, not from a read model, so the valuation does not depend on the
projector being up to date; each chunk of them is one ``value_due_promises`` command run by the
pipeline. Idempotent: a promise already confirmed, or whose window is not over on ``as_of``,
records nothing, so running it twice a day (or after a missed day) is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from ledger_collect.commands.promise_commands import value_due_promises
from ledger_collect.storage.bulk_reads import unconfirmed_ids

if TYPE_CHECKING:
    from ledger_collect.commands.application import Collections

#: Actor of the events the daily valuation records.
VALUATION_ACTOR = "promise-valuation"
#: Promises valued (and saved) per transaction.
CHUNK = 500

_ISSUED = "ledger_collect.PromiseToPay.Issued"
#: The events after which a promise is confirmed for good.
_CONFIRMED = ["ledger_collect.PromiseToPay.Valued", "ledger_collect.PromiseToPay.Withdrawn",
              "ledger_collect.PromiseToPay.Closed"]


def _quiet(done: int, total: int) -> None:
    pass


def daily_valuation(app: Collections, *, as_of: date, business_date: date | None = None,
                    chunk: int = CHUNK,
                    progress: Callable[[int, int], None] = _quiet) -> dict[UUID, str]:
    """Value every unconfirmed promise whose window ended before ``as_of`` (``business_date``,
    the day it runs, defaults to ``as_of``), ``chunk`` promises per transaction; ``progress``
    hears of the candidates gone through after each. Returns the outcome of each promise
    valued now."""
    business_date = as_of if business_date is None else business_date
    outcomes: dict[UUID, str] = {}
    candidates = unconfirmed_ids(app, _ISSUED, _CONFIRMED)
    for start in range(0, len(candidates), chunk):
        outcomes.update(app.run(value_due_promises, candidates[start:start + chunk], as_of=as_of,
                                actor=VALUATION_ACTOR, business_date=business_date).result)
        progress(min(start + chunk, len(candidates)), len(candidates))
    return outcomes
