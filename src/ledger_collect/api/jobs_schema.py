"""Job runs and the schedule: what ran, how it went, what is due next; and a run by hand.

Everyone who may read sees runs with their status, times, counts and progress: a run holds no
customer's data. Who asked for a run, which worker ran it and its error texts are details
for supervisors, auditors, compliance and admins (``Action.JOB_DETAILS``): an exception's text
may quote what a job was working on, so a specialist gets ``null`` and a ``FORBIDDEN`` error
there. Supervisors and admins may run a job by hand (``Action.RUN_JOBS``, everywhere: a job
works on every segment), for today or an earlier business date, never a later one (valuing
promises as of a day to come would call them broken before their time).

A page of runs costs two queries whatever its size: the runs, and the progress of those
running (``jobs.progress``: written by the worker, not by the projector).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.extensions import FieldExtension

from ledger_collect.api.casework_schema import record_fields
from ledger_collect.api.context import Info
from ledger_collect.api.errors import Forbidden, Problem, RuleBroken, command_mutation, problem
from ledger_collect.api.pages import After, Connection, FirstOrNull, connection, read_page
from ledger_collect.api.permissions import Action, require
from ledger_collect.api.runner import wait_for_read_models
from ledger_collect.commands import values
from ledger_collect.domain.base import DomainError, ValidationError
from ledger_collect.domain.job_run import MANUAL, RUNNING
from ledger_collect.jobs import registry
from ledger_collect.jobs.actors import request_run
from ledger_collect.jobs.progress import RunProgress, progress_by_run
from ledger_collect.jobs.runs import load_run
from ledger_collect.jobs.schedule import SCHEDULE
from ledger_collect.projections.job_runs import (
    JobRunRecord,
    RunFilter,
    job_runs_by_id,
    last_runs,
    list_job_runs,
)

JOB_READS = ("job_runs",)
FUTURE_DATE = "BUSINESS_DATE_IN_FUTURE"


@strawberry.type(description="Something a job run did, and how many times.")
class JobCount:
    name: str
    count: int


@strawberry.type(description="An attempt of the run that failed.")
class JobRunFailure:
    attempt: int
    error: str
    final: bool = strawberry.field(description="True: no attempt followed (or will).")
    failed_at: datetime


@strawberry.type(description="How far the attempt under way has got, as its worker last said "
                             "(at most a second or so behind).")
class JobProgress:
    attempt: int
    done: int
    total: int
    updated_at: datetime

    @strawberry.field(description="done / total, from 0 to 1 (null while total is 0).")
    def fraction(self) -> float | None:
        return min(self.done / self.total, 1.0) if self.total else None


class JobDetails(FieldExtension):
    """The field's value for those who may see a run's details; null and a FORBIDDEN error
    at its path for the others."""

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        _require_details(info)
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any,
                            info: Info, **kwargs: Any) -> Any:
        _require_details(info)
        return await next_(source, info, **kwargs)


def _require_details(info: Info) -> None:
    user = info.context.user
    if not user.may(Action.JOB_DETAILS):
        raise Forbidden(f"a user with role {user.role} sees a job run's status, times and "
                        f"counts, not its details")


def details_field(description: str) -> Any:
    return strawberry.field(description=description, default=None, extensions=[JobDetails()])


@strawberry.type(description="A run of a job: requested (by the schedule, a catch-up or a "
                             "person), its attempts, then finished with its counts or failed.")
class JobRun(record_fields(
        JobRunRecord, leave_out=("requested_by", "worker", "counts", "error", "failures"),
        run_key="What names the run: the due time of a scheduled run, the business date, or "
                "manual:<id>.",
        status="requested, running, retrying (an attempt failed, another follows), finished "
               "or failed.",
        trigger="scheduled, catch-up or manual.",
        business_date="The day the job runs for.",
        started_at="The first attempt's start.",
        attempt_started_at="The latest attempt's start.",
        ended_at="Finished, or failed for good.")):
    counts: list[JobCount] = strawberry.field(description="What the run did (once finished).")
    progress: JobProgress | None = strawberry.field(
        description="While it runs: how far the attempt under way has got.")
    requested_by: str | None = details_field("Who asked for it: the scheduler, or a person.")
    worker: str | None = details_field("The worker of the latest attempt "
                                       "(host:process:thread).")
    error: str | None = details_field("The error of the latest attempt, if it failed.")
    errors: list[JobRunFailure] | None = details_field("Every failed attempt, in order.")

    @classmethod
    def of(cls, record: JobRunRecord, progress: RunProgress | None = None) -> JobRun:
        shown = (JobProgress(attempt=progress.attempt, done=progress.done, total=progress.total,
                             updated_at=progress.updated_at)
                 if progress is not None and record.status == RUNNING else None)
        return cls(**cls.shown(record), progress=shown,
                   counts=[JobCount(name=k, count=v) for k, v in record.counts.items()],
                   requested_by=record.requested_by, worker=record.worker, error=record.error,
                   errors=[JobRunFailure(attempt=f["attempt"], error=f["error"],
                                         final=f["final"],
                                         failed_at=datetime.fromisoformat(f["at"]))
                           for f in record.failures])


async def _runs(info: Info, records: list[JobRunRecord]) -> list[JobRun]:
    """The runs with the progress of those running: one query, none when none runs."""
    running = [r.id for r in records if r.status == RUNNING]
    progress = await progress_by_run(info.context.pool, running) if running else {}
    return [JobRun.of(r, progress.get(r.id)) for r in records]


@strawberry.type(description="A line of the schedule: a job and when it is due.")
class ScheduledJob:
    job: str
    description: str
    cron: str = strawberry.field(description="minute hour day month day-of-week, read in "
                                             "timeZone.")
    time_zone: str
    group: str = strawberry.field(description="The runs that belong together, e.g. morning.")
    next_due: datetime | None = strawberry.field(description="Null: never again.")
    last_run: JobRun | None = strawberry.field(description="The latest run, whatever its "
                                                           "trigger.")

    @strawberry.field(description="The latest run's status.")
    def last_status(self) -> str | None:
        return self.last_run.status if self.last_run else None


Job = Annotated[str | None, strawberry.argument(description="Runs of this job only.")]
Statuses = Annotated[list[str] | None, strawberry.argument(
    description="Runs in any of these statuses.")]
Since = Annotated[date | None, strawberry.argument(
    description="Runs for this business date or later.")]


@strawberry.type
class JobQuery:
    @strawberry.field(description="Job runs, the latest requested first.")
    async def job_runs(self, info: Info, job: Job = None, status: Statuses = None,
                       since: Since = None, first: FirstOrNull = None,
                       after: After = None) -> Connection[JobRun]:
        require(info.context.user, Action.READ)
        page = await read_page(list_job_runs, info.context.pool,
                               RunFilter(job=job, statuses=status, since=since),
                               first=first, after=after)
        return connection(page, await _runs(info, page.items))

    @strawberry.field(description="One job run.")
    async def job_run(self, info: Info, id: UUID) -> JobRun | None:
        require(info.context.user, Action.READ)
        found = (await job_runs_by_id(info.context.pool, [id])).get(id)
        return None if found is None else (await _runs(info, [found]))[0]

    @strawberry.field(description="The schedule: each periodic job, when it is next due and "
                                  "how its latest run went.")
    async def scheduled_jobs(self, info: Info) -> list[ScheduledJob]:
        require(info.context.user, Action.READ)
        zone, now = info.context.settings.time_zone, datetime.now(UTC)
        latest = await last_runs(info.context.pool, [due.job for due in SCHEDULE])
        shown = dict(zip(latest, await _runs(info, list(latest.values())), strict=True))
        return [ScheduledJob(job=due.job, description=registry.JOBS[due.job].description,
                             cron=due.cron, time_zone=due.time_zone or zone, group=due.group,
                             next_due=due.next_due(now, zone), last_run=shown.get(due.job))
                for due in SCHEDULE]


@strawberry.input
class RunJobInput:
    job: str = strawberry.field(description="A job of `scheduledJobs`, or one run on request.")
    business_date: date | None = strawberry.field(
        default=None, description="The day it runs for: today (the default) or earlier.")


@strawberry.type(description="The run is requested; a worker takes it up (`jobRun(id)` "
                             "follows it).")
class JobRunRequested:
    job_run_id: UUID
    job: str
    business_date: date
    status: str = strawberry.field(description="As the answer left: requested, or already "
                                               "running.")


@strawberry.type
class JobMutations:
    @command_mutation(JobRunRequested,
                      description="Run a job now, for a business date (supervisors, admins).")
    async def run_job(self, info: Info, input: RunJobInput) -> JobRunRequested | Problem:
        context = info.context
        require(context.user, Action.RUN_JOBS)
        day = input.business_date or context.business_date
        try:
            values.code(input.job, "job", context.collections.limits)
            values.day(day, "businessDate")
        except ValidationError as error:
            return RuleBroken(message=str(error), code=error.code)
        if day > context.business_date:
            return RuleBroken(message=f"a job runs for today ({context.business_date}) or an "
                                      f"earlier day, not for {day}", code=FUTURE_DATE)

        def request() -> tuple[JobRunRequested, int | None]:
            app = context.collections
            run_id = request_run(app, input.job, business_date=day, trigger=MANUAL,
                                 actor=context.user.id)
            run = load_run(app, run_id)
            return (JobRunRequested(job_run_id=run_id, job=run.job, business_date=run.run_date,
                                    status=run.status), app.recorder.max_notification_id())

        try:
            answer, head = await run_in_threadpool(request)
        except DomainError as error:  # an unknown job: NotFound
            return problem(error)
        if head is not None:  # the log as it stood after the request: the run is in it
            await wait_for_read_models(context, head, JOB_READS)
        return answer
