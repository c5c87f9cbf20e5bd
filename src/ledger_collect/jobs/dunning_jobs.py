"""The dunning run: the day's proposal turned into letters, each a collection email.

Idempotent by itself. A letter's id derives from the business date and what it is for, so a
second run the same day finds the first run's letters (and the proposal, which keeps items of
letters awaiting delivery out, proposes none of them again). The read models the proposal reads
are caught up first, so that the letters issued by an earlier run are seen.

Each letter issued is handed to its own ``send-email`` job at once, so that the workers send the
morning's letters side by side; a letter whose message is lost is sent by the ``emails`` sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from ledger_collect.commands.dunning_commands import (
    NoDunningAddressError,
    StaleLetterError,
    issue_dunning_letter,
)
from ledger_collect.domain.base import ConflictError, DomainError
from ledger_collect.projections.dunning_proposal import propose
from ledger_collect.projections.engine import catch_up

logger = logging.getLogger("ledger_collect.jobs")

#: The actor of the letters a run issues.
ACTOR = "dunning"
#: The read models the proposal reads.
READS = ("open_items", "customers", "correspondence", "dunning", "agency")


def _quiet(done: int, total: int) -> None:
    """No progress to report."""


def run_dunning(app: Any, *, business_date: date,
                progress: Callable[[int, int], None] = _quiet) -> dict[str, int]:
    """Issue the letters proposed for ``business_date``. Counts: ``proposed`` letters,
    ``issued`` now, ``already`` issued (by a run before, or one running at the same moment),
    ``no_address`` (no dunning contact with an email address: nothing created), ``stale``
    (an item changed since the read models showed it: proposed again next run)."""
    catch_up(app, READS)
    with app.database.connect() as conn:
        proposal = propose(conn, business_date)
    counts = dict.fromkeys(("proposed", "issued", "already", "no_address", "stale", "refused"),
                           0)
    counts["proposed"] = total = len(proposal.letters)
    progress(0, total)
    for done, proposed in enumerate(proposal.letters, start=1):
        counts[_issue(app, proposed.letter, proposed.has_address, business_date)] += 1
        progress(done, total)
    return counts


def _issue(app: Any, letter: Any, has_address: bool, business_date: date) -> str:
    if not has_address:
        return "no_address"
    try:
        outcome = app.run(issue_dunning_letter, letter, actor=ACTOR, business_date=business_date)
    except NoDunningAddressError:
        return "no_address"
    except StaleLetterError:
        return "stale"
    except ConflictError:
        return "already"
    except DomainError as error:
        logger.warning("dunning letter %s of customer %s refused: %s", letter.letter_id,
                       letter.customer_id, error)
        return "refused"
    if outcome.result is None:
        return "already"
    _send_soon(app, outcome.result)
    return "issued"


def _send_soon(app: Any, email_id: Any) -> None:
    # Imported here: the registry imports this module, and the actors the registry.
    from ledger_collect.jobs.actors import job_actors
    from ledger_collect.jobs.registry import SEND_EMAIL

    try:
        job_actors(app).send(SEND_EMAIL, email_id)
    except Exception:  # the letter is saved pending: the sweep sends it
        logger.exception("could not request the sending of dunning letter email %s", email_id)
