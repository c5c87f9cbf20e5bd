"""One attempt at a job run, as every run actor makes it: load the run; a finished one is left
alone (its message was delivered again); otherwise record the attempt started, call the job's
body, and record it finished with the body's counts, or failed — retrying while the broker will
send the message round again, final when it will not.

Attempts of one run never overlap: an attempt holds a PostgreSQL advisory lock named after the
run for as long as it lasts, on a connection of its own, so a message delivered twice (a worker
thought dead, a run requested twice at once) waits for the attempt under way and then finds
the run finished. A killed worker's connection closes with it, and with it the lock.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

import psycopg
from dramatiq.middleware import Interrupt
from eventsourcing.application import AggregateNotFoundError

from ledger_collect.commands.job_commands import fail_job_run, finish_job_run, start_job_run
from ledger_collect.domain.base import ConflictError, DomainError, NotFoundError
from ledger_collect.domain.job_run import JobRun
from ledger_collect.jobs.progress import recording_progress
from ledger_collect.storage.outage import first_line

if TYPE_CHECKING:
    from ledger_collect.commands.application import Collections
    from ledger_collect.jobs.registry import Job

log = logging.getLogger(__name__)

#: Who records a run's attempts.
JOBS_ACTOR = "jobs"
#: What a failure keeps of the error: its type and message, this long at most.
ERROR_LENGTH = 2000
FINISHED, ALREADY_DONE = "finished", "already done"
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


class RunBusyError(Exception):
    """Another attempt of the run holds it; this message comes round again later."""


def retried(retries: int, error: BaseException, max_retries: int) -> bool:
    """Whether a message that failed with ``error`` after ``retries`` retries is sent round
    again: not when a rule of the domain refused the work (a conflict aside: it passes), nor
    once ``max_retries`` are spent. dramatiq's Retries middleware asks this (``retry_when``),
    and the failure recorded says the same."""
    if isinstance(error, DomainError) and not isinstance(error, ConflictError):
        return False
    return retries < max_retries


def load_run(app: Collections, run_id: UUID) -> JobRun:
    try:
        run = app.repository.get(run_id)
    except AggregateNotFoundError:
        run = None
    if not isinstance(run, JobRun):
        raise NotFoundError(f"job run {run_id} does not exist")
    return run


@contextmanager
def attempt_lock(app: Collections, run_id: UUID) -> Iterator[None]:
    """Hold the run for one attempt (see the module's docstring); ``RunBusyError`` when another
    attempt keeps it longer than ``job_lock_wait_seconds``. In memory: no lock (one process)."""
    if app.database is None:
        yield
        return
    wait_ms = max(int(app.settings.job_lock_wait_seconds * 1000), 1)
    with app.database.connect() as conn:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{wait_ms}ms",))
        try:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))",
                         (f"ledger-collect job run:{app.settings.schema}:{run_id}",))
        except psycopg.errors.LockNotAvailable:
            raise RunBusyError(f"another attempt of job run {run_id} is under way") from None
        yield  # closing the connection releases the lock


def run_attempt(app: Collections, job: Job, run_id: UUID, *, worker: str,
                retry: Callable[[BaseException], bool] = lambda error: False,
                progress: Callable[[int, int], None] | None = None) -> str:
    """One attempt at the run (``FINISHED``), or nothing when the run is done already
    (``ALREADY_DONE``). The body's error is recorded, then raised again for the broker to
    retry; ``retry(error)`` says whether it will (the failure is final when not)."""
    run = load_run(app, run_id)
    if run.is_done:
        return ALREADY_DONE
    day = run.run_date
    with attempt_lock(app, run_id):
        attempt = app.run(start_job_run, run_id, worker=worker, actor=JOBS_ACTOR,
                          business_date=day).result
        if attempt is None:
            return ALREADY_DONE
        log.info("%s: run %s for %s, attempt %d, started", job.name, run_id, day, attempt)
        try:
            with recording_progress(app, run_id, attempt,
                                    progress or progress_log(job.name, run_id)) as told:
                counts = job.body(app, business_date=day, progress=told)
        except (Exception, Interrupt) as error:
            _record_failure(app, job, run_id, day, error, final=not retry(error))
            raise
        app.run(finish_job_run, run_id, counts=counts, actor=JOBS_ACTOR, business_date=day)
        log.info("%s: run %s finished: %s", job.name, run_id,
                 ", ".join(f"{k} {v}" for k, v in counts.items()) or "nothing to do")
        return FINISHED


def without_addresses(text: str) -> str:
    """An error's text without the email addresses it quotes (a recipient named twice, a
    server's refusal): a run has no data subject, so its events are not sealed, and an erasure
    could not reach an address kept there."""
    return _ADDRESS.sub("<address>", text)


def _record_failure(app: Collections, job: Job, run_id: UUID, day: date, error: BaseException,
                    *, final: bool) -> None:
    text = without_addresses(
        f"{type(error).__name__}: {first_line(error) or 'no message'}")[:ERROR_LENGTH]
    log.error("%s: run %s failed (%s): %s", job.name, run_id,
              "final" if final else "to be retried", text)
    try:
        app.run(fail_job_run, run_id, error=text, final=final, actor=JOBS_ACTOR,
                business_date=day)
    except Exception as unrecorded:  # noqa: BLE001 - the database is down too: logged
        log.error("%s: the failure of run %s could not be recorded: %s", job.name, run_id,
                  first_line(unrecorded))


def progress_log(job: str, run_id: UUID, every: float = 5.0) -> Callable[[int, int], None]:
    """A body's progress, logged at most every ``every`` seconds (and at the end)."""
    last = [time.monotonic()]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= every:
            last[0] = now
            log.info("%s: run %s: %d of %d", job, run_id, done, total)

    return report
