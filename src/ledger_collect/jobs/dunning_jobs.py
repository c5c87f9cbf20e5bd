"""The dunning run: the day's proposal turned into letters, each a collection email.

Idempotent by itself. A letter's id derives from the business date and what it is for, so a
second run the same day finds the first run's letters (and the proposal, which keeps items of
letters awaiting delivery out, proposes none of them again). The read models the proposal reads
are caught up first, so that the letters issued by an earlier run are seen.

Letters are issued in chunks, one save each (``issue_dunning_letters``): the chunk's records
loaded in one query, its emails and letters saved in one transaction, a letter refused by a
rule left out of its chunk without spoiling the others. A chunk that meets a letter issued at
the same moment by another run is issued again letter by letter.

The letters issued are handed to their own ``send-email`` jobs once the run has issued them all,
so that the workers send them side by side afterwards instead of composing letters and their
attachments on the same cores while the run still issues the rest. A letter whose message is
lost (the run killed before the hand-over included) is sent by the ``emails`` sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from ledger_collect.commands.dunning_commands import (
    LetterIssue,
    NoDunningAddressError,
    StaleLetterError,
    issue_dunning_letter,
    issue_dunning_letters,
)
from ledger_collect.domain.base import ConflictError, DomainError
from ledger_collect.projections.dunning_proposal import propose
from ledger_collect.projections.engine import catch_up

logger = logging.getLogger("ledger_collect.jobs")

#: The actor of the letters a run issues.
ACTOR = "dunning"
#: The read models the proposal reads.
READS = ("open_items", "customers", "correspondence", "dunning", "agency")
#: Letters issued per save: a few hundred records loaded and a few hundred events saved each.
CHUNK = 200


def _quiet(done: int, total: int) -> None:
    """No progress to report."""


def run_dunning(app: Any, *, business_date: date,
                progress: Callable[[int, int], None] = _quiet,
                chunk: int = CHUNK) -> dict[str, int]:
    """Issue the letters proposed for ``business_date``. Counts: ``proposed`` letters,
    ``issued`` now, ``already`` issued (by a run before, or one running at the same moment),
    ``no_address`` (no dunning contact with an email address: nothing created), ``stale``
    (an item changed since the read models showed it: proposed again next run), ``refused``
    (another rule refused it: logged). ``chunk``: letters issued per save."""
    catch_up(app, READS)
    with app.database.connect() as conn:
        proposal = propose(conn, business_date)
    counts = dict.fromkeys(("proposed", "issued", "already", "no_address", "stale", "refused"),
                           0)
    counts["proposed"] = total = len(proposal.letters)
    progress(0, total)
    done = 0
    issued: list[Any] = []
    for start in range(0, total, max(chunk, 1)):
        proposed = proposal.letters[start:start + max(chunk, 1)]
        counts["no_address"] += sum(not p.has_address for p in proposed)
        letters = [p.letter for p in proposed if p.has_address]
        for issue in _issue_chunk(app, letters, business_date) if letters else ():
            counts[issue.status] += 1
            if issue.status == "refused":
                logger.warning("dunning letter %s refused: %s", issue.letter_id, issue.reason)
            elif issue.email_id is not None:
                issued.append(issue.email_id)
        done += len(proposed)
        progress(done, total)
    for email_id in issued:
        _send_soon(app, email_id)
    return counts


def _issue_chunk(app: Any, letters: list[Any], business_date: date) -> list[LetterIssue]:
    """The chunk's letters issued in one save; one by one when the save meets a letter issued
    at the same moment (a conflict saves nothing of the chunk)."""
    try:
        return app.run(issue_dunning_letters, letters, actor=ACTOR,
                       business_date=business_date).result
    except ConflictError:
        return [_issue(app, letter, business_date) for letter in letters]


def _issue(app: Any, letter: Any, business_date: date) -> LetterIssue:
    try:
        outcome = app.run(issue_dunning_letter, letter, actor=ACTOR, business_date=business_date)
    except NoDunningAddressError as error:
        return LetterIssue(letter.letter_id, "no_address", reason=str(error))
    except StaleLetterError as error:
        return LetterIssue(letter.letter_id, "stale", reason=str(error))
    except ConflictError:
        return LetterIssue(letter.letter_id, "already")
    except DomainError as error:
        return LetterIssue(letter.letter_id, "refused", reason=str(error))
    if outcome.result is None:
        return LetterIssue(letter.letter_id, "already")
    return LetterIssue(letter.letter_id, "issued", outcome.result)


def _send_soon(app: Any, email_id: Any) -> None:
    # Imported here: the registry imports this module, and the actors the registry.
    from ledger_collect.jobs.actors import send_soon
    from ledger_collect.jobs.registry import SEND_EMAIL

    send_soon(app, SEND_EMAIL, email_id)
