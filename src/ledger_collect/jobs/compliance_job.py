"""The compliance job: the retention policies applied for a business date, in their order.

Archive first (streams past their hot period go to the archive, then leave the store), then
purge (streams past their retention leave without an archive), then erase (customers whose
contacts' personal data is due: ``erase_customer`` with the policy as its basis), then expire
the restricted copies whose retention ended. Each step is idempotent and resumable, so the job
is too: a second run on the same date finds nothing due, and one killed half-way finishes what
the first began. Each step logs itself (``ComplianceRun``, ``ErasureRequest``); no personal
data in any of it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from ledger_collect.compliance.archiver import ACTOR, READS, archive_run, purge_run
from ledger_collect.projections.engine import catch_up

if TYPE_CHECKING:
    from ledger_collect.commands.application import Collections

Progress = Callable[[int, int], None]


def _quiet(done: int, total: int) -> None:
    pass


def run_compliance(app: Collections, *, business_date: date,
                   progress: Progress = _quiet) -> dict[str, int]:
    """Counts: the archive run's and the purge run's (prefixed ``archive_``, ``purge_``),
    ``erased`` and ``suspended`` customers, ``expired`` restricted records."""
    counts: dict[str, int] = {}
    for name, step in (("archive", archive_run), ("purge", purge_run)):
        done = step(app, business_date=business_date, progress=progress)
        counts.update({f"{name}_{key}": value for key, value in done.items()})
    counts.update(erase_due(app, business_date=business_date, progress=progress))
    from ledger_collect.compliance.erasure import expire_restricted

    counts["expired"] = expire_restricted(app, business_date)
    return counts


def erase_due(app: Collections, *, business_date: date,
              progress: Progress = _quiet) -> dict[str, int]:
    """Erase every customer whose personal data's erasure is due (a held one is suspended)."""
    from ledger_collect.compliance.erasure import erase_customer
    from ledger_collect.compliance.retention import current_policies, due_streams

    catch_up(app, READS)
    policies = current_policies(app)
    erased = suspended = 0
    assert app.database is not None
    with app.database.connect() as conn:
        due = []
        after = None
        while page := due_streams(conn, policies, business_date, "erase", after=after):
            due.extend(page)
            after = page[-1].stream_id
    progress(0, len(due))
    for done, item in enumerate(due, 1):
        policy = policies[item.record_class]
        basis = (f"retention policy {item.record_class}: erase {policy.after} after "
                 f"{policy.trigger}")
        outcome = erase_customer(app, item.customer_id, basis, ACTOR, today=business_date)
        if outcome.status == "suspended":
            suspended += 1
        elif outcome.erased_now:
            erased += 1
        progress(done, len(due))
    return {"erased": erased, "suspended": suspended}
