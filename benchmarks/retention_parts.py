"""What the retention benchmark measures, called as the program calls it: one place per part.

The policies' due streams, the archive run, the archive's verification and the erasure are
each called here and nowhere else in the benchmark, so that the bench measures the program's
own calls (those of ``ledger-collect archive run``, ``archive verify`` and ``erase``), not a
copy of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from uuid import UUID

from ledger_collect.commands.application import Collections
from ledger_collect.compliance.archive import open_archive
from ledger_collect.compliance.archiver import archive_run as run_archive
from ledger_collect.compliance.erasure import erase_customer
from ledger_collect.compliance.retention import current_policies, due_streams

BASIS = "GDPR Art. 17(1)(a) (benchmark)"
FAR = date(2100, 1, 1)
PAGE = 20_000


def archive_schedule(app: Collections) -> list[tuple[date, UUID]]:
    """Every stream the archive policies will select one day, with that day, in day order."""
    policies = current_policies(app)
    found: list[tuple[date, UUID]] = []
    after: UUID | None = None
    with app.database.connect() as conn:
        while page := due_streams(conn, policies, FAR, "archive", after=after, limit=PAGE):
            found += [(due.due_on, due.stream_id) for due in page]
            after = page[-1].stream_id
    return sorted(found)


def archive_run(app: Collections, today: date, progress: Callable[[int, int], None],
                max_hold: float | None = None) -> dict[str, int]:
    """``ledger-collect archive run --date today``: its counts. ``max_hold``: the purge's
    longest hold of the writers' lock, if not the program's."""
    held = {} if max_hold is None else {"max_hold": max_hold}
    return run_archive(app, business_date=today, progress=progress, **held)


def archived_events(app: Collections) -> int:
    archive = open_archive(app.settings, app.database)
    return sum(segment.events for segment in archive.segments())


def archived_but_hot(app: Collections) -> int:
    """Events still in the hot store of streams the archive holds: none once a run is done."""
    with app.database.connect() as conn:
        return int(conn.execute(
            "SELECT count(*) FROM collections_events e WHERE e.originator_id IN"
            " (SELECT stream_id FROM archived_streams)").fetchone()[0])


def verify(app: Collections, progress: Callable[[int, int], None]) -> tuple[list[str], int]:
    """``ledger-collect archive verify``: the problems found, and the segments' stored bytes."""
    archive = open_archive(app.settings, app.database)
    report = archive.verify(progress)
    stored = sum(segment.bytes for segment in archive.segments())
    return [str(problem) for problem in report.problems], stored


def erase(app: Collections, customer_id: UUID) -> None:
    """``ledger-collect erase CUSTOMER --basis ...``."""
    erase_customer(app, customer_id, BASIS, "bench-compliance")
