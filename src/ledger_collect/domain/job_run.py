"""A run of a job (the daily valuation, the morning worklists, a sweep of emails): requested,
started by a worker (once per attempt), then finished with its counts or failed.

Brokers deliver a message at least once and a scheduler may fire twice, so a run's id is derived
from the job and the run's key (the due time of a scheduled run, the business date, or a fresh
key for a run started by hand): requesting it again, or delivering its message again, finds the
same run, and a finished run is never started again. A worker killed mid-run leaves it running;
the redelivered message starts the next attempt of the same run.

A failure is retrying while the broker will deliver the message again, final once it will not.
Its error is a worker's exception text, not something a person wrote about a customer: the run
has no data subject, and nothing in it is sealed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import (
    CollectionsAggregate,
    ValidationError,
    check_transition,
    derived_id,
)

SCHEDULED, CATCH_UP, MANUAL = "scheduled", "catch-up", "manual"
TRIGGERS = (SCHEDULED, CATCH_UP, MANUAL)

REQUESTED, RUNNING, RETRYING, FINISHED, FAILED = (
    "requested", "running", "retrying", "finished", "failed")
#: A run may be started again while running: the worker of the last attempt died in it.
NEXT_STATUS = {REQUESTED: (RUNNING, FAILED), RUNNING: (RUNNING, FINISHED, RETRYING, FAILED),
               RETRYING: (RUNNING, FAILED), FINISHED: (), FAILED: ()}


def checked_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """What a job body returns: things it did, by name, each a whole number ≥ 0."""
    if not isinstance(counts, Mapping):
        raise ValidationError(f"a job's counts are a mapping of names to numbers, got "
                              f"{type(counts).__name__}")
    for name, count in counts.items():
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"a job's count needs a name, got {name!r}")
        if type(count) is not int or count < 0:
            raise ValidationError(f"the count {name} must be a whole number ≥ 0, got {count!r}")
    return dict(counts)


class JobRun(CollectionsAggregate):
    TOPIC = "ledger_collect.JobRun"

    @staticmethod
    def create_id(job: str, run_key: str, **_: Any) -> UUID:
        return derived_id("job-run", f"{job}:{run_key}")

    @classmethod
    def request(cls, *, job: str, run_key: str, trigger: str, actor: str,
                business_date: date) -> JobRun:
        """A run of ``job`` for ``business_date``, keyed by ``run_key``."""
        job, run_key = (job or "").strip(), (run_key or "").strip()
        if not job:
            raise ValidationError("name the job to run")
        if not run_key:
            raise ValidationError(f"a run of {job} needs a key (its due time or date)")
        if trigger not in TRIGGERS:
            raise ValidationError(f"a run is triggered {', '.join(TRIGGERS)}; not {trigger!r}")
        return cls(job=job, run_key=run_key, trigger=trigger, actor=actor,
                   business_date=business_date)

    @event("Requested", topic="ledger_collect.JobRun.Requested")
    def __init__(self, job: str, run_key: str, trigger: str, actor: str,
                 business_date: date) -> None:
        self.job = job
        self.run_key = run_key
        self.trigger = trigger
        self.requested_by = actor
        self.run_date = business_date  # the business date the job runs for
        self.status = REQUESTED
        self.attempts = 0
        self.worker: str | None = None
        self.counts: dict[str, int] = {}
        self.error: str | None = None

    @property
    def is_done(self) -> bool:
        """Finished, or failed for good: no attempt will start again."""
        return self.status in (FINISHED, FAILED)

    def _check_transition(self, to: str) -> None:
        check_transition(f"a run of {self.job}", self.status, to, NEXT_STATUS)

    def start(self, *, worker: str, actor: str, business_date: date) -> int:
        """A worker starts the next attempt; returns its number (1 for the first)."""
        self._check_transition(RUNNING)
        worker = (worker or "").strip()
        if not worker:
            raise ValidationError("name the worker starting the run")
        self._started(attempt=self.attempts + 1, worker=worker, actor=actor,
                      business_date=business_date)
        return self.attempts

    @event("Started", topic="ledger_collect.JobRun.Started")
    def _started(self, attempt: int, worker: str, actor: str, business_date: date) -> None:
        self.attempts = attempt
        self.worker = worker
        self.status = RUNNING
        self.error = None

    def finish(self, counts: Mapping[str, int], *, actor: str, business_date: date) -> None:
        self._check_transition(FINISHED)
        self._finished(counts=checked_counts(counts), actor=actor, business_date=business_date)

    @event("Finished", topic="ledger_collect.JobRun.Finished")
    def _finished(self, counts: dict[str, int], actor: str, business_date: date) -> None:
        self.counts = dict(counts)
        self.status = FINISHED

    def fail(self, error: str, *, final: bool, actor: str, business_date: date) -> None:
        """The attempt under way failed; ``final``: no other attempt will follow."""
        self._check_transition(FAILED if final else RETRYING)
        error = (error or "").strip()
        if not error:
            raise ValidationError(f"say why the run of {self.job} failed")
        self._failed(error=error, attempt=self.attempts, final=bool(final), actor=actor,
                     business_date=business_date)

    @event("Failed", topic="ledger_collect.JobRun.Failed")
    def _failed(self, error: str, attempt: int, final: bool, actor: str,
                business_date: date) -> None:
        self.error = error
        self.status = FAILED if final else RETRYING
