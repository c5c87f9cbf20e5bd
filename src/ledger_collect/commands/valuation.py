"""The daily valuation of promises to pay: every unconfirmed promise whose window is over is
valued (kept, partially kept or broken) and frees its invoice, without waiting for a payment
to come and trigger it.

A plain function of the application, for the CLI (``ledger-collect promises value``) and for a
scheduled job alike. It reads the event store, not a read model, so it does not depend on the
projector being up to date. Idempotent: a promise already confirmed, or whose window is not over
on ``as_of``, records nothing, so running it twice a day (or after a missed day) is harmless.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from ledger_collect.commands.promises import value_promises
from ledger_collect.domain.promise import PromiseToPay

#: Actor of the events the daily valuation records.
VALUATION_ACTOR = "promise-valuation"
#: Promises valued (and saved) per transaction.
CHUNK = 500

_ISSUED = "ledger_collect.PromiseToPay.Issued"
#: The events after which a promise is confirmed for good.
_CONFIRMED = ["ledger_collect.PromiseToPay.Valued", "ledger_collect.PromiseToPay.Withdrawn",
              "ledger_collect.PromiseToPay.Closed"]


def value_due_promises(app: Any, *, as_of: date, actor: str = VALUATION_ACTOR,
                       business_date: date | None = None) -> dict[UUID, str]:
    """Value every unconfirmed promise whose window ended before ``as_of`` (``business_date``,
    the day it runs, defaults to ``as_of``). Returns the outcome of each promise valued now."""
    from ledger_collect.feed.bulk_load import load_aggregates, unconfirmed_ids

    business_date = as_of if business_date is None else business_date
    outcomes: dict[UUID, str] = {}
    candidates = unconfirmed_ids(app, _ISSUED, _CONFIRMED)
    for start in range(0, len(candidates), CHUNK):
        ids = candidates[start:start + CHUNK]
        batch = app.batch()
        promises = load_aggregates(app, ids)
        batch.preload(promises.values())
        due = [p.id for p in promises.values() if isinstance(p, PromiseToPay)
               and p.is_unconfirmed and as_of > p.window_end]
        batch.preload(load_aggregates(app, {promises[i].invoice_id for i in due}).values())
        outcomes.update(value_promises(batch, due, as_of=as_of, actor=actor,
                                       business_date=business_date))
        app.commit(batch)
    return outcomes
