"""The morning's jobs on a real broker over a 100,000-customer portfolio: customers a second.

What it does, in order:

1. The portfolio: generated and imported as ``api_bench.py`` loads it (``api_load``: 100,000
   customers, ~1.06 million invoices, shared out to 20 specialists, every read model built),
   or a schema kept by either benchmark (``--keep``, then ``--reuse SCHEMA``).
2. The morning's work: each segment gets a team (the specialists its customers are assigned
   to), and one customer in 12 a dunning procedure (three levels from 1 day overdue, 50.00 at
   least: about a day's letters in a portfolio dunned daily), where the schema has none; a
   fifth of the customers get a promise made 30 days before the run's business date and over
   by then (half of them half paid within their window, the others not at all), so that the
   valuation has work; every read model catches up (one whose definition changed since the
   schema was kept is rebuilt). The business date is tomorrow, or the day after the latest the
   worklist is ranked for: a day the rankings job ranks whole (today is the projector's,
   ranked here beforehand as it would be at its start); on a kept schema run again, two months
   after the last run's promises were made, so that new ones (on invoices whose promise was
   valued, too) come after it.
3. On the broker (RabbitMQ at 127.0.0.1:5672 by default; ``--broker redis`` or ``postgres``),
   ``--workers`` `ledger-collect worker` processes and a `ledger-collect projector`, as in
   production; once the workers take messages, the broker's own drain rate (5.); then every
   job the schedule table puts in the morning group is requested in the order it is due and
   waited for, one after the other: each job's time from its request to its end (its events'
   record times), and the morning's, in customers a second. Target: the whole morning for
   100,000 customers in under 2 minutes.
4. Emails, if the job sending one email is registered (the workers then send to a local SMTP
   server, aiosmtpd, started for the run): once the morning's own letters (each dunning
   letter goes to its own send-email job) are delivered, ``--emails`` pending reminders are
   created and each handed to its job; emails a second from the first message to the last
   outcome recorded. Otherwise it says "not registered".
5. The broker's own drain rate: ``--drain`` messages of an actor that does nothing, taken off
   the same broker by one process of ``--threads`` threads: what the broker alone allows.

    python benchmarks/jobs_bench.py [--customers 100000] [--keep] [--broker rabbitmq]
    python benchmarks/jobs_bench.py --reuse SCHEMA [--workers 2] [--threads 4] [--emails 1000]
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from api_load import bench_store, load
from jobs_drive import (
    Timed,
    alive,
    business_day,
    configure,
    create_emails,
    current,
    delivered,
    drain_rate,
    due_promises,
    environment,
    forget_queues,
    machine_load,
    mail_server,
    processes,
    settle,
    wait_for_run,
    wait_ready,
)

from ledger_collect.commands.application import Collections
from ledger_collect.domain.job_run import SCHEDULED
from ledger_collect.jobs import registry
from ledger_collect.jobs.actors import close_job_actors, job_actors, request_run
from ledger_collect.jobs.schedule import SCHEDULE, Due
from ledger_collect.projections.worklist.day_rankings import build_rankings
from ledger_collect.storage.database import Database

BROKER_URLS = {"rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
               "redis": "redis://127.0.0.1:6379/0", "postgres": ""}
TARGET_SECONDS = 120
MORNING = "morning"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the loaded schema")
    parser.add_argument("--reuse", metavar="SCHEMA", help="a kept schema: load nothing")
    parser.add_argument("--import-jobs", type=int, default=2, help="importing processes")
    parser.add_argument("--broker", choices=sorted(BROKER_URLS), default="rabbitmq")
    parser.add_argument("--broker-url", help="default: the machine's server of that kind")
    parser.add_argument("--workers", type=int, default=2, help="`ledger-collect worker` "
                                                               "processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker process")
    parser.add_argument("--promises", type=int, help="promises over by the business date "
                                                     "(default: a fifth of the customers)")
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--drain", type=int, default=20_000, help="trivial messages drained")
    parser.add_argument("--no-projector", action="store_true",
                        help="no `ledger-collect projector` while the jobs run")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a run may take")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    return parser.parse_args()


def morning_group(zone: str) -> list[Due]:
    """The schedule's morning lines in the order they fall due in a day."""
    lines = [due for due in SCHEDULE if due.group == MORNING]
    midnight = datetime.combine(datetime.now(UTC).date(), day_time(), ZoneInfo(zone))
    return sorted(lines, key=lambda due: (due.next_due(midnight, zone) or midnight).timetz())


def email_job() -> registry.Job | None:
    """The job sending one email, if registered (a per-item job taking an email's id)."""
    return next((job for job in registry.JOBS.values() if job.item == "email_id"), None)


@contextmanager
def store(args: argparse.Namespace) -> Iterator[tuple[Database, int]]:
    """The portfolio's schema and its number of customers."""
    with bench_store(keep=args.keep or bool(args.reuse), reuse=args.reuse) as database:
        database.migrate()  # a kept schema may predate the jobs' tables
        if args.reuse is None:
            loading = Collections(database)
            try:
                load(loading, args.customers, datetime.now().date(), args.import_jobs)
            finally:
                loading.close()
        with database.connect() as conn:
            customers = int(conn.execute("SELECT count(*) FROM customers").fetchone()[0])
        yield database, customers


def run_morning(app: Collections, day: Any, started: list[Any], logs: Path,
                timeout: float) -> list[Timed]:
    timed = []
    for due in morning_group(app.settings.time_zone):
        run_id = request_run(app, due.job, business_date=day, trigger=SCHEDULED, actor="bench",
                             run_key=f"bench:{uuid.uuid4()}")
        print(f"{due.job}: requested (run {run_id})", flush=True)
        timed.append(wait_for_run(app, due.job, run_id, started, logs, timeout=timeout))
        done = timed[-1]
        print(f"{due.job}: {done.seconds:.1f} s, "
              + ", ".join(f"{k} {v:,}" for k, v in done.counts.items()), flush=True)
    return timed


def send_emails(app: Collections, job: registry.Job, inbox: Any, count: int, day: Any,
                started: list[Any], logs: Path) -> tuple[int, float]:
    """Emails created, then each handed to its job: (sent, seconds from the first message to
    the last outcome recorded), once the morning's own letters are delivered."""
    letters = settle(inbox, started, logs)
    print(f"emails: the morning's letters delivered ({letters:,} at the SMTP server)",
          flush=True)
    ids = create_emails(app, count, day)
    before = inbox.messages
    print(f"emails: {len(ids):,} created; sending ...", flush=True)
    actors = job_actors(app)
    begun = time.perf_counter()
    for email_id in ids:
        actors.send(job.name, email_id)
    deadline, done = begun + max(120.0, count / 5), 0
    while done < len(ids) and time.perf_counter() < deadline:
        alive(started, logs)
        time.sleep(0.2)
        done = delivered(app, ids)
    seconds = time.perf_counter() - begun
    print(f"emails: {done:,} sent in {seconds:.1f} s ({inbox.messages - before:,} received)",
          flush=True)
    return done, seconds


def report(customers: int, timed: list[Timed], emails: tuple[int, float] | str,
           drain: tuple[float, float], args: argparse.Namespace) -> None:
    print(f"\nsummary: {customers:,} customers, broker {args.broker}, {args.workers} worker "
          f"processes x {args.threads} threads; {machine_load()} now")
    rows = []
    for t in timed:
        counts = ", ".join(f"{k} {v:,}" for k, v in t.counts.items() if v) or "nothing to do"
        rows.append((t.job, f"{t.seconds:.1f} s", f"{customers / t.seconds:,.0f} customers/s",
                     counts))
    if timed:
        whole = (max(t.finished for t in timed) - min(t.requested for t in timed)).total_seconds()
        verdict = "met" if whole < TARGET_SECONDS and customers >= 100_000 else (
            "MISSED" if whole >= TARGET_SECONDS else "-")
        rows.append((f"morning ({len(timed)} jobs)", f"{whole:.1f} s",
                     f"{customers / whole:,.0f} customers/s",
                     f"target < {TARGET_SECONDS} s: {verdict}"))
    if isinstance(emails, str):
        rows.append(("emails", "", "", emails))
    else:
        sent, seconds = emails
        rows.append(("emails (SMTP)", f"{seconds:.1f} s", f"{sent / seconds:,.0f} emails/s",
                     f"{sent:,} of {args.emails:,} sent"))
    rows.append((f"broker drain ({args.threads} threads)", "",
                 f"{drain[0]:,.0f} messages/s",
                 f"{args.drain:,} trivial messages; sent at {drain[1]:,.0f}/s"))
    for row in rows:
        print(f"  {row[0]:<28} {row[1]:>8}  {row[2]:<22} {row[3]}")


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM: unwind as on Ctrl-C, so that the workers, the projector and the embedded
    PostgreSQL are stopped and the schema dropped."""
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    args = arguments()
    started_at = time.perf_counter()
    url = args.broker_url if args.broker_url is not None else os.environ.get(
        "LEDGER_BROKER_URL") or BROKER_URLS[args.broker]
    with store(args) as (database, customers), ExitStack() as stack:
        settings = database.settings.with_changes(
            broker=args.broker, broker_url=url or None,
            queue_prefix=f"bench{uuid.uuid4().hex[:8]}")
        app = Collections(database, settings)
        stack.callback(app.close)
        stack.callback(close_job_actors)
        stack.callback(lambda: forget_queues(job_actors(app).broker))  # the workers stopped
        logs = args.logs or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="ledger-jobs-bench-")))
        logs.mkdir(parents=True, exist_ok=True)
        current(app)
        day = business_day(database)
        added = configure(app, day)
        if any(added.values()):
            print(f"added {added['members']} team members; {added['dunned']:,} more customers "
                  f"follow the bench's dunning procedure", flush=True)
        asked = args.promises or customers // 5
        made = due_promises(app, asked, day)
        print(f"business date {day}: {made['promises']:,} promises over ({made['half_paid']:,} "
              f"half paid); read models catching up ...", flush=True)
        if made["promises"] < asked:
            print(f"  (fewer than the {asked:,} asked: too few customers have an invoice open "
                  f"without an open promise)", flush=True)
        current(app)
        build_rankings(app)  # today's, as the projector would at its start
        sender = email_job()
        extra: dict[str, str] = {}
        inbox = None
        if sender is not None and args.emails:
            inbox, port = stack.enter_context(mail_server())
            extra = {"LEDGER_SMTP_HOST": "127.0.0.1", "LEDGER_SMTP_PORT": str(port)}
        commands = [["worker", "--threads", str(args.threads)]] * args.workers
        if not args.no_projector:
            commands.append(["projector"])
        print(f"machine before the morning: {machine_load()}", flush=True)
        started = stack.enter_context(processes(commands, environment(database, settings,
                                                                      **extra), logs))
        wait_ready(started, logs, args.workers)
        drain = drain_rate(settings, database.url, args.drain, args.threads)
        print(f"broker drain: {drain[0]:,.0f} trivial messages/s", flush=True)
        timed = run_morning(app, day, started, logs, args.timeout)
        emails: tuple[int, float] | str = "not registered (no job sends one email)"
        if sender is not None and inbox is not None:
            emails = send_emails(app, sender, inbox, args.emails, day, started, logs)
        report(customers, timed, emails, drain, args)
    print(f"run took {time.perf_counter() - started_at:.0f} s")


if __name__ == "__main__":
    main()
