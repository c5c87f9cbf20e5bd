"""``ledger-collect worker``, ``scheduler`` and ``jobs``: the job system's processes, and a job
run by hand (in this process, through the same wrapper as a worker's).

The worker and the scheduler run until SIGTERM or Ctrl-C, then stop cleanly: the worker lets
the attempts under way finish and puts the messages it had not begun back.
"""

from __future__ import annotations

import getpass
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import date, datetime
from types import FrameType

import click

from ledger_collect.app import child_environment, open_collections
from ledger_collect.config import Settings
from ledger_collect.domain.job_run import MANUAL

_DAY = click.DateTime(formats=["%Y-%m-%d"])


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)  # a line per socket otherwise


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (instead of ending the process at once)."""
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("stopping (signal %d)", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def _wait(stop: threading.Event) -> None:
    while not stop.wait(0.5):  # wakes for signals now and then
        pass


@click.command()
@click.option("--processes", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes (about one per core).")
@click.option("--threads", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Threads per process, each running one job at a time.")
@click.option("--job", "jobs", multiple=True,
              help="Take only this job's queue (repeatable) [every job's].")
@click.option("--parent", type=int, hidden=True)
def worker(processes: int, threads: int, jobs: tuple[str, ...], parent: int | None) -> None:
    """Run the jobs' actors: take messages off the broker's queues until SIGTERM."""
    from ledger_collect.jobs.actors import close_job_actors
    from ledger_collect.jobs.worker import run_worker

    _logging()
    stop = _stop_on_signals()
    if parent is not None:
        from ledger_collect.runtime.lifetime import end_with_parent

        end_with_parent(parent, signal.SIGTERM)
    settings = Settings.from_env()
    with open_collections(settings) as app:
        try:
            if processes == 1:
                run_worker(app, stop, threads=threads, jobs=jobs)
            else:
                assert app.database is not None
                _supervise(child_environment(settings, app.database), processes, threads,
                           jobs, stop)
        finally:
            close_job_actors()


def _supervise(env: dict[str, str], processes: int, threads: int, jobs: tuple[str, ...],
               stop: threading.Event) -> None:
    """Run ``processes`` workers as child processes until ``stop``; then stop them (SIGTERM)."""
    command = [sys.executable, "-m", "ledger_collect.cli", "worker", "--threads", str(threads),
               "--parent", str(os.getpid()), *(f"--job={job}" for job in jobs)]
    children = [subprocess.Popen(command, env=env) for _ in range(processes)]
    try:
        while not stop.wait(0.5):
            for child in children:
                if child.poll() is not None:
                    raise click.ClickException(f"worker process {child.pid} ended "
                                               f"(exit {child.returncode})")
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait()


@click.command()
def scheduler() -> None:
    """Request the scheduled runs as they fall due (one scheduler leads; others stand by)."""
    from ledger_collect.jobs.actors import close_job_actors
    from ledger_collect.jobs.scheduler import Scheduler

    _logging()
    stop = _stop_on_signals()
    with open_collections(Settings.from_env()) as app:
        try:
            Scheduler(app).run(stop)
        finally:
            close_job_actors()


@click.group()
def jobs() -> None:
    """The jobs: their schedule, and a run by hand."""


@jobs.command("list")
def list_jobs() -> None:
    """The schedule with each job's next due time, and the jobs run on request only."""
    from ledger_collect.jobs.registry import JOBS
    from ledger_collect.jobs.scheduler import next_due_times

    settings = Settings.from_env()
    scheduled = next_due_times(settings.time_zone, datetime.now().astimezone())
    for due, following in scheduled:
        zone = due.time_zone or settings.time_zone
        when = following.strftime("%Y-%m-%d %H:%M %Z") if following else "never again"
        click.echo(f"{due.job:<22} {due.cron:<16} {zone:<16} {due.group:<10} next {when}")
    for name, job in JOBS.items():
        if name not in {due.job for due, _ in scheduled}:
            kind = f"per {job.item}" if job.item else "on request"
            click.echo(f"{name:<22} {kind}")


@jobs.command("run")
@click.argument("name")
@click.option("--date", "day", type=_DAY, help="The business date to run it for [today].")
def run_job(name: str, day: datetime | None) -> None:
    """Run job NAME now, in this process, recorded as a manual run."""
    from ledger_collect.jobs.actors import request_run
    from ledger_collect.jobs.registry import job
    from ledger_collect.jobs.runs import load_run, run_attempt

    business_date = day.date() if day is not None else date.today()
    found = job(name)
    with open_collections(Settings.from_env()) as app:
        run_id = request_run(app, name, business_date=business_date, trigger=MANUAL,
                             actor=f"cli:{getpass.getuser()}", send=False)
        with click.progressbar(length=1, label=f"{name} {business_date}",
                               file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            try:
                run_attempt(app, found, run_id, progress=progress,
                            worker=f"cli:{socket.gethostname()}:{os.getpid()}")
            except Exception as error:  # noqa: BLE001 - recorded as the run's final failure
                raise click.ClickException(f"{name} failed (run {run_id}): {error}") from None
        counts = load_run(app, run_id).counts
    click.echo(f"{name} for {business_date}: finished (run {run_id})"
               + "".join(f"\n  {key}: {value}" for key, value in counts.items()))
