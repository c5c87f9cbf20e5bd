"""The record of job runs: requested (by the scheduler, a catch-up, or someone by hand), started
by a worker, finished with counts or failed (``domain.job_run``).

A request names the run by its job and key, so requesting it twice records it once; starting a
run that is done records nothing and says so (None), which is how a redelivered message of a
finished run is recognised.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from ledger_collect.commands.values import CODE, UNCHECKED, checked
from ledger_collect.domain.job_run import JobRun

if TYPE_CHECKING:
    from ledger_collect.commands import Batch

_RULES = {"job": CODE, "run_key": CODE, "trigger": CODE, "worker": CODE, "run_id": UNCHECKED,
          "counts": UNCHECKED, "final": UNCHECKED}


def _run(batch: Batch, run_id: UUID) -> JobRun:
    return batch.get(JobRun, run_id, "job run")


@checked(**_RULES)
def request_job_run(batch: Batch, *, job: str, run_key: str, trigger: str, actor: str,
                    business_date: date) -> UUID:
    """The run of ``job`` keyed ``run_key`` for ``business_date``: its id, recorded as
    requested unless it was requested before (then nothing is recorded)."""
    run_id = JobRun.create_id(job, run_key)
    if batch.find(JobRun, run_id) is None:
        batch.add(JobRun.request(job=job, run_key=run_key, trigger=trigger, actor=actor,
                                 business_date=business_date))
    return run_id


@checked(**_RULES)
def start_job_run(batch: Batch, run_id: UUID, *, worker: str, actor: str,
                  business_date: date) -> int | None:
    """Start the run's next attempt; its number, or None when the run is done (nothing
    recorded)."""
    run = _run(batch, run_id)
    if run.is_done:
        return None
    return run.start(worker=worker, actor=actor, business_date=business_date)


@checked(**_RULES)
def finish_job_run(batch: Batch, run_id: UUID, *, counts: Mapping[str, int], actor: str,
                   business_date: date) -> None:
    _run(batch, run_id).finish(counts, actor=actor, business_date=business_date)


@checked(**_RULES)
def fail_job_run(batch: Batch, run_id: UUID, *, error: str, final: bool, actor: str,
                 business_date: date) -> None:
    """The attempt under way failed; ``final``: no other attempt follows."""
    _run(batch, run_id).fail(error, final=final, actor=actor, business_date=business_date)
