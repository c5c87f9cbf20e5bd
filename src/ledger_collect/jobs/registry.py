"""Every job the workers know, one line each.

A run job's body is ``body(app, *, business_date, progress) -> counts``: it calls the command
pipeline only and is idempotent by itself (run twice for one business date, it changes nothing
the second time). Each run of it is recorded (``runs``). A per-item job (one email to send) is
``body(app, **{item: id}) -> counts``, run once per message and recorded by its own aggregate, not
as a run. Registering a job is adding its line to ``JOBS``; its schedule, if it has one, is a
line in ``schedule.SCHEDULE``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ledger_collect.domain.base import NotFoundError
from ledger_collect.jobs.compliance_job import run_compliance
from ledger_collect.jobs.dunning_jobs import run_dunning
from ledger_collect.jobs.emails import send_email, send_pending_emails
from ledger_collect.jobs.promise_valuation import value_open_promises
from ledger_collect.jobs.rankings import rank_worklists
from ledger_collect.jobs.worklists import generate_worklists

Body = Callable[..., dict[str, int]]
#: The per-item job that sends one email: requested when an email is created or re-sent.
SEND_EMAIL = "send-email"


class UnknownJobError(NotFoundError, code="NOT_FOUND"):
    """No job of that name is registered (or it runs per item, not as a run)."""


@dataclass(frozen=True)
class Job:
    name: str
    body: Body
    description: str
    item: str | None = None  # per-item jobs: the keyword argument the id goes in
    queue: str | None = None  # default: a queue of the job's own, named after it
    time_limit_seconds: int = 3600  # an attempt running longer is interrupted and retried
    priority: int = 0  # lower first, when a worker holds messages of several jobs

    @property
    def queue_key(self) -> str:
        return self.queue or self.name


def _table(*jobs: Job) -> dict[str, Job]:
    table = {job.name: job for job in jobs}
    if len(table) != len(jobs):
        raise ValueError("two jobs have the same name")
    return table


JOBS: dict[str, Job] = _table(
    Job("promise-valuation", value_open_promises,
        "value every promise whose window has ended: kept, partially kept or broken"),
    Job("worklist-rankings", rank_worklists,
        "rank the day's worklists with the active strategies"),
    Job("worklist-generation", generate_worklists,
        "generate each segment's worklist of the day, spread over the specialists present"),
    Job(SEND_EMAIL, send_email, "send one collection email over SMTP and record the answer",
        item="email_id", time_limit_seconds=300),
    Job("emails", send_pending_emails,
        "send the collection emails still pending whose own job was lost or gave up"),
    Job("dunning-run", run_dunning,
        "issue the day's dunning letters and pre-due reminders, each a collection email"),
    Job("compliance", run_compliance,
        "apply the retention policies: archive, purge, erase, expire restricted data",
        time_limit_seconds=6 * 3600),
)


def job(name: str, *, per_item: bool | None = False) -> Job:
    """The job named ``name``; ``per_item``: False, a run job only; True, a per-item job only;
    None, either."""
    found = JOBS.get(name)
    if found is None or (per_item is not None and (found.item is not None) != per_item):
        kind = [] if per_item is None else [j for j in JOBS.values()
                                            if (j.item is not None) == per_item]
        known = ", ".join(sorted(j.name for j in kind or JOBS.values()))
        raise UnknownJobError(f"there is no job {name!r} to run; the jobs are {known}")
    return found
