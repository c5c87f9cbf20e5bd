"""The actors: one per registered job, declared on the broker the settings choose, and the one
way to request a run (``request_run``: record it, then send its id).

Messages carry ids only: a run's id (the run says which job, for which business date), or the
item's id of a per-item job. Every run actor goes through ``runs.run_attempt``; dramatiq's Retries
middleware sends a failed message round again with a doubling pause, ``job_retries`` times at
most (``runs.retried`` decides, and the failure recorded says the same).

Actors are declared per broker, not when a module is imported, so a process holds the broker of
its settings (its queue prefix too) and never dramatiq's default. The worker hands its
``Collections`` over (``serve``); a process that only sends never needs one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import dramatiq
from dramatiq.broker import Broker
from dramatiq.middleware import CurrentMessage

from ledger_collect.commands.job_commands import request_job_run
from ledger_collect.domain.job_run import MANUAL
from ledger_collect.jobs import registry
from ledger_collect.jobs.broker import make_broker, queue_name
from ledger_collect.jobs.runs import retried, run_attempt

if TYPE_CHECKING:
    from ledger_collect.commands.application import Collections
    from ledger_collect.config import Settings

log = logging.getLogger(__name__)


class JobActors:
    """Every registered job's actor on ``broker``."""

    def __init__(self, settings: Settings, broker: Broker) -> None:
        self.settings = settings
        self.broker = broker
        self.app: Collections | None = None
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        if not any(isinstance(m, CurrentMessage) for m in broker.middleware):
            broker.add_middleware(CurrentMessage())
        self.actors = {job.name: self._declare(job) for job in registry.JOBS.values()}

    def _declare(self, job: registry.Job) -> dramatiq.Actor[Any, Any]:
        max_retries = self.settings.job_retries
        backoff = max(int(self.settings.job_backoff_seconds * 1000), 1)

        def retry_when(retries: int, error: BaseException) -> bool:
            return retried(retries, error, max_retries)

        def perform(ident: str) -> None:
            self._perform(job, ident, max_retries)

        perform.__name__ = perform.__qualname__ = job.name.replace("-", "_")
        return dramatiq.Actor(
            perform, broker=self.broker, actor_name=job.name,
            queue_name=queue_name(self.settings, job.queue_key), priority=job.priority,
            options={"max_retries": max_retries, "min_backoff": backoff,
                     "max_backoff": backoff * 2 ** max_retries, "retry_when": retry_when,
                     "time_limit": job.time_limit_seconds * 1000})

    def _perform(self, job: registry.Job, ident: str, max_retries: int) -> None:
        app = self.app
        if app is None:
            raise RuntimeError("this process sends jobs but does not run them (no worker)")
        if job.item is not None:
            job.body(app, **{job.item: UUID(ident)})
            return
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message is not None else 0
        run_attempt(app, job, UUID(ident), worker=f"{self.worker_id}:{threading.get_ident()}",
                    retry=lambda error: retried(retries, error, max_retries))

    # -- what other processes use ------------------------------------------------------------
    def serve(self, app: Collections) -> None:
        """The application the actors run their jobs on (the worker's)."""
        self.app = app

    def send(self, job: str, ident: UUID) -> None:
        """A message for ``job`` carrying ``ident`` (a run's id, or a per-item job's item)."""
        self.actors[job].send(str(ident))

    def queues(self, jobs: Iterable[str] = ()) -> set[str]:
        """The queues of ``jobs`` (all jobs' when none are named)."""
        chosen = [registry.job(name, per_item=None) for name in jobs] or registry.JOBS.values()
        return {queue_name(self.settings, job.queue_key) for job in chosen}

    def close(self) -> None:
        self.broker.close()


_SHARED: dict[tuple[Any, ...], JobActors] = {}
_SHARED_LOCK = threading.Lock()


def job_actors(app: Collections) -> JobActors:
    """The actors (and broker) of ``app``'s settings in this process, made on first use."""
    settings = app.settings
    url = app.database.url if app.database is not None else settings.database_url
    key = (settings.broker, settings.broker_url, settings.queue_prefix, url, settings.schema)
    with _SHARED_LOCK:
        found = _SHARED.get(key)
        if found is None:
            found = _SHARED[key] = JobActors(settings, make_broker(settings, url))
        return found


def send_soon(app: Collections, job: str, ident: UUID) -> None:
    """Send ``job``'s message for ``ident`` (a per-item job: what it works on is saved already).
    A broker that refuses is logged, not raised: the saved item waits for its sweep."""
    try:
        job_actors(app).send(job, ident)
    except Exception:  # the item is saved; its sweep does it
        log.exception("could not request %s for %s", job, ident)


def close_job_actors() -> None:
    """Close every broker this process opened (at its end; tests after each)."""
    with _SHARED_LOCK:
        for actors in _SHARED.values():
            actors.close()
        _SHARED.clear()


def request_run(app: Collections, job: str, *, business_date: date, trigger: str = MANUAL,
                actor: str, run_key: str | None = None, send: bool = True) -> UUID:
    """Request a run of ``job`` for ``business_date`` and send its message; the run's id.

    ``run_key`` names the run: the scheduler gives the due time, so that firing twice finds
    the same run; by default a manual run gets a fresh key (a run of its own, however many
    there were that day), any other the business date. A run requested before is not recorded
    again, and its message is sent again unless it is done (a message too many finds it
    finished, or waits for the attempt under way). ``send=False``: recorded only, for the
    caller to run it (``ledger-collect jobs run``)."""
    registry.job(job)
    key = run_key or (f"manual:{uuid4()}" if trigger == MANUAL else business_date.isoformat())
    outcome = app.run(request_job_run, job=job, run_key=key, trigger=trigger, actor=actor,
                      business_date=business_date)
    run_id: UUID = outcome.result
    if send and not outcome[run_id].is_done:
        job_actors(app).send(job, run_id)
    return run_id
