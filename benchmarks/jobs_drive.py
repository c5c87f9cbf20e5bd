"""The jobs benchmark's parts (benchmarks/jobs_bench.py): the morning's work put in the
portfolio, the worker processes, a run timed from its events, the mail server, and the broker's
own drain rate.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import dramatiq

from ledger_collect.app import child_environment
from ledger_collect.commands.application import Collections
from ledger_collect.commands.dunning_commands import (
    save_dunning_procedure,
    set_customer_dunning_procedure,
    set_default_dunning_procedure,
)
from ledger_collect.commands.email_commands import create_email
from ledger_collect.commands.promise_commands import record_promise
from ledger_collect.commands.receivable_commands import apply_payment
from ledger_collect.commands.team_commands import join_team
from ledger_collect.config import Settings
from ledger_collect.domain.job_run import FAILED, FINISHED
from ledger_collect.jobs.broker import make_broker, queue_name
from ledger_collect.projections import select
from ledger_collect.projections.engine import catch_up, rebuild
from ledger_collect.projections.eventlog import StaleProjectionError
from ledger_collect.storage.database import Database

CHUNK = 500  # promises (and payments) saved per transaction
BENCH = "bench"  # the actor of what the benchmark records
PROMISE_DAYS = 30  # a promise is made this many days before the morning it is valued on
#: One customer in this many is dunned: about the letters of a day in a portfolio dunned every
#: day (its customers with overdue items get a letter every 10 to 15 days); all of them at once
#: would be a first dunning run over the whole portfolio.
DUNNED_ONE_IN = 12
CENT = Decimal("0.01")


# -- the morning's work -------------------------------------------------------------------------
def business_day(database: Database) -> date:
    """The day the morning runs for: a day no ranking is kept for yet, so that the rankings
    job ranks it whole — tomorrow, or the day after the latest day ranked (today is the
    projector's to rank: it does when it starts, and at midnight) — and, on a kept schema run
    again, far enough after the last run's that its promises are made after that run's day."""
    with database.connect() as conn:
        ranked, made = conn.execute(
            "SELECT (SELECT max(day) FROM worklist_snapshots WHERE day < 'infinity'),"
            " (SELECT max(issued_on) FROM promises WHERE issued_by = %s)", (BENCH,)).fetchone()
    candidates = [date.today(), ranked or date.today()]
    if made:
        candidates.append(made + timedelta(days=PROMISE_DAYS + 30))
    return max(candidates) + timedelta(days=1)


def due_promises(app: Collections, count: int, day: date) -> dict[str, int]:
    """``count`` customers get a promise made 30 days before ``day`` for 20 days later (2 days'
    grace): over by ``day``. Half of them are half paid within the window, the others not at
    all (a promise paid in full is kept at once: no work for the valuation). An invoice whose
    promise is still open is passed over; one valued by an earlier run may get another. One
    promise per customer, ``CHUNK`` a transaction."""
    made = day - timedelta(PROMISE_DAYS)
    promised, paid_on = made + timedelta(20), made + timedelta(15)
    with app.database.connect() as conn:  # type: ignore[union-attr]
        rows = conn.execute(
            "SELECT DISTINCT ON (o.customer_id) o.id, c.number, o.document_number, o.currency,"
            " o.open_amount FROM open_items o JOIN customers c ON c.id = o.customer_id"
            " WHERE o.status = 'open' AND o.open_amount >= 10 AND o.open_disputes = 0"
            " AND coalesce(o.promise_status, '') NOT IN ('open', 'in_process')"
            " AND o.posting_date <= %s"
            " ORDER BY o.customer_id, o.due_date, o.id", (made,)).fetchall()
    chosen = rows[::max(1, len(rows) // count)][:count] if rows else []
    done = {"promises": 0, "half_paid": 0}
    for start in range(0, len(chosen), CHUNK):
        batch = app.batch()
        for n, (invoice, number, document, currency, open_amount) in enumerate(
                chosen[start:start + CHUNK], start):
            amount = min(open_amount, Decimal("500.00"))
            record_promise(batch, invoice_id=invoice, amount=amount, promised_date=promised,
                           tolerance_days=2, actor=BENCH, business_date=made)
            done["promises"] += 1
            if n % 2 == 0:
                paid = (amount / 2).quantize(CENT)
                apply_payment(batch, source_id=f"bench-pay-{invoice}-{paid_on}",
                              customer_number=number, allocations=[(document, paid)],
                              unapplied=None, currency=currency, payment_date=paid_on,
                              actor="erp", business_date=paid_on)
                done["half_paid"] += 1
        app.save_batch(batch)
    return done


def configure(app: Collections, day: date) -> dict[str, int]:
    """What the morning's other jobs need to have work, where the schema has none yet: each
    segment's team (the specialists its customers are assigned to) for the worklist
    generation, and a dunning procedure (three levels from 1 day overdue, 50.00 at least, 8 %
    interest) that one customer in ``DUNNED_ONE_IN`` follows, for the dunning run. Counts of
    what was added."""
    with app.database.connect() as conn:  # type: ignore[union-attr]
        staff = conn.execute("SELECT DISTINCT segment, specialist FROM customers"
                             " WHERE specialist IS NOT NULL ORDER BY 1, 2").fetchall()
        members = set(conn.execute("SELECT segment, specialist FROM team_members"
                                   " WHERE left_on IS NULL").fetchall())
        default = conn.execute("SELECT code FROM dunning_assignments WHERE segment = ''"
                               ).fetchone()
        following = {r[0] for r in conn.execute(
            "SELECT customer_id FROM dunning_customer_procedures WHERE code = %s", (BENCH,))}
        customers = [r[0] for r in conn.execute("SELECT id FROM customers ORDER BY id")]
    since = {"actor": BENCH, "business_date": day - timedelta(days=PROMISE_DAYS + 30)}
    added = [(segment, who) for segment, who in staff if (segment, who) not in members]
    for segment, who in added:
        app.run(join_team, segment, who, **since)
    app.run(save_dunning_procedure, code=BENCH, levels=[
        {"days_overdue": 1, "grace_days": 14},
        {"days_overdue": 30, "grace_days": 10, "fee": Decimal("5.00")},
        {"days_overdue": 45, "grace_days": 10, "fee": Decimal("15.00")}],
        minimum_amount=Decimal("50.00"), interest_rate=Decimal("8.00"), **since)
    if default and default[0] == BENCH:  # as an earlier version of this benchmark left it
        app.run(set_default_dunning_procedure, None, **since)
    dunned = [c for c in customers[::DUNNED_ONE_IN] if c not in following]
    for start in range(0, len(dunned), CHUNK):
        batch = app.batch()
        for customer in dunned[start:start + CHUNK]:
            set_customer_dunning_procedure(batch, customer, BENCH, **since)
        app.save_batch(batch)
    return {"members": len(added), "dunned": len(dunned)}


def current(app: Collections) -> None:
    """Every read model caught up; one whose definition changed since the schema was kept is
    rebuilt."""
    for model in select():
        try:
            catch_up(app, model.name)
        except StaleProjectionError:
            print(f"  read model {model.name} changed since: rebuilding it ...", flush=True)
            rebuild(app, model.name)


# -- the workers ----------------------------------------------------------------------------------
def environment(database: Database, settings: Settings, **extra: str) -> dict[str, str]:
    """What a `ledger-collect` process on the bench's schema and broker needs."""
    return {**child_environment(settings, database), "LEDGER_DATA_DIR": str(settings.data_dir),
            "LEDGER_BROKER": settings.broker, "LEDGER_BROKER_URL": settings.broker_url or "",
            "LEDGER_QUEUE_PREFIX": settings.queue_prefix, "LEDGER_DEVELOPMENT": "", **extra}


@contextmanager
def processes(commands: list[list[str]], env: dict[str, str], logs: Path) -> Iterator[list[Any]]:
    """``ledger-collect`` processes, each logging to a file of ``logs``; stopped (SIGTERM: the
    workers finish what they hold) on the way out."""
    started = []
    try:
        for n, command in enumerate(commands):
            out = (logs / f"{command[0]}-{n}.log").open("wb")
            started.append(subprocess.Popen([sys.executable, "-m", "ledger_collect.cli",
                                             *command], env=env, stdout=out,
                                            stderr=subprocess.STDOUT))
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(started: list[Any], logs: Path, workers: int, timeout: float = 120) -> None:
    """Until every worker process says it takes messages."""
    deadline = time.monotonic() + timeout
    while sum("queues" in path.read_text(errors="replace")
              for path in logs.glob("worker-*.log")) < workers:
        alive(started, logs)
        if time.monotonic() > deadline:
            raise SystemExit(f"the workers were not ready after {timeout:.0f} s")
        time.sleep(0.2)


def alive(started: list[Any], logs: Path) -> None:
    for process in started:
        if process.poll() is not None:
            tails = "\n".join(p.read_text(errors="replace")[-2000:] for p in logs.glob("*.log"))
            raise SystemExit(f"a `ledger-collect` process ended ({process.returncode}):\n"
                             f"{tails}")


# -- a run, timed -------------------------------------------------------------------------------
@dataclass
class Timed:
    job: str
    run_id: UUID
    counts: dict[str, int] = field(default_factory=dict)
    requested: datetime | None = None
    started: datetime | None = None
    finished: datetime | None = None

    @property
    def seconds(self) -> float:
        """From the request to the end: the queue's wait and the attempt."""
        assert self.requested and self.finished
        return (self.finished - self.requested).total_seconds()


def wait_for_run(app: Collections, job: str, run_id: UUID, started: list[Any], logs: Path,
                 *, timeout: float, every: float = 10.0) -> Timed:
    """Until the run is finished (its times from its events), saying how far it got now and
    then (``job_progress``, as the worker writes it)."""
    deadline, told = time.monotonic() + timeout, time.monotonic()
    while True:
        events = list(app.events.get(run_id))
        last = type(events[-1]).__name__
        if last == "Finished" or (last == "Failed" and events[-1].final):
            break
        alive(started, logs)
        if time.monotonic() > deadline:
            raise SystemExit(f"{job}: run {run_id} not finished after {timeout:.0f} s ({last})")
        if time.monotonic() - told >= every:
            told = time.monotonic()
            print(f"  {job}: {progress_line(app, run_id)}", flush=True)
        time.sleep(0.1)
    run = app.repository.get(run_id)
    if run.status != FINISHED:
        assert run.status == FAILED
        raise SystemExit(f"{job}: run {run_id} failed: {run.error}")
    starts = [e.timestamp for e in events if type(e).__name__ == "Started"]
    return Timed(job, run_id, dict(run.counts), events[0].timestamp, starts[0],
                 events[-1].timestamp)


def progress_line(app: Collections, run_id: UUID) -> str:
    with app.database.connect() as conn:  # type: ignore[union-attr]
        row = conn.execute("SELECT done, total FROM job_progress WHERE run_id = %s",
                           (run_id,)).fetchone()
    if row is None:
        return "waiting for a worker" if app.repository.get(run_id).attempts == 0 else "started"
    done, total = row
    return f"{done:,} of {total:,}" + (f" ({done / total:.0%})" if total else "")


# -- the mail server ------------------------------------------------------------------------------
class Inbox:
    """What the local SMTP server received: messages and recipients, counted."""

    def __init__(self) -> None:
        self.messages = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages += 1
        return "250 OK"


@contextmanager
def mail_server() -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd checks its port by connecting: not port 0
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def create_emails(app: Collections, count: int, day: date) -> list[UUID]:
    """``count`` pending reminders, one per customer, CHUNK a transaction."""
    with app.database.connect() as conn:  # type: ignore[union-attr]
        customers = [r[0] for r in conn.execute(
            "SELECT id FROM customers ORDER BY id LIMIT %s", (count,))]
    ids: list[UUID] = []
    for start in range(0, len(customers), CHUNK):
        batch = app.batch()
        for n, customer in enumerate(customers[start:start + CHUNK], start):
            ids.append(create_email(batch, customer, to=[f"ap-{n}@bench.example"],
                                    template="reminder", actor=BENCH, business_date=day))
        app.save_batch(batch)
    return ids


_OUTCOMES = [f"ledger_collect.CollectionEmail.{name}" for name in ("Sent", "PartlySent",
                                                                   "Failed")]


def delivered(app: Collections, ids: list[UUID]) -> int:
    """How many of the emails have their outcome recorded (sent, partly sent or failed)."""
    with app.database.connect() as conn:  # type: ignore[union-attr]
        row = conn.execute("SELECT count(DISTINCT originator_id) FROM collections_events"
                           " WHERE topic = ANY(%s) AND originator_id = ANY(%s)",
                           (_OUTCOMES, ids)).fetchone()
    return int(row[0]) if row else 0


def settle(inbox: Inbox, started: list[Any], logs: Path, quiet: float = 3.0,
           timeout: float = 600.0) -> int:
    """Until the mail server has received nothing for ``quiet`` seconds (the morning's letters
    delivered); how many it received."""
    deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        alive(started, logs)
        if inbox.messages != last:
            last, since = inbox.messages, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(0.1)
    return inbox.messages


# -- the broker alone -----------------------------------------------------------------------------
def drain_rate(settings: Settings, database_url: str | None, messages: int,
               threads: int) -> tuple[float, float]:
    """Messages a second a dramatiq worker takes off the broker for an actor that does
    nothing: the enqueued ``messages`` drained by ``threads`` threads in this process. Also
    what sending them cost (messages a second)."""
    drained, lock, all_in = [0], threading.Lock(), threading.Event()

    def nothing(n: int) -> None:
        with lock:
            drained[0] += 1
            if drained[0] >= messages:
                all_in.set()

    broker = make_broker(settings, database_url)
    queue = queue_name(settings, "bench-drain")
    try:
        actor = dramatiq.Actor(nothing, broker=broker, actor_name="bench_drain",
                               queue_name=queue, priority=0, options={"max_retries": 0})
        started = time.perf_counter()
        for n in range(messages):
            actor.send(n)
        sent = messages / (time.perf_counter() - started)
        worker = dramatiq.Worker(broker, queues={queue}, worker_threads=threads)
        started = time.perf_counter()
        worker.start()
        try:
            if not all_in.wait(max(60.0, messages / 100)):
                raise SystemExit(f"the broker drained {drained[0]:,} of {messages:,} messages")
            drain = messages / (time.perf_counter() - started)
        finally:
            worker.stop()
        forget_queues(broker)
    finally:
        broker.close()
    return drain, sent


def forget_queues(broker: Any) -> None:
    """Delete the bench's queues from RabbitMQ (which keeps them) or its keys from Redis. A
    connection idle for long is dropped by RabbitMQ: once refused, a new one."""
    kind = type(broker).__name__
    if kind == "RabbitmqBroker":
        from dramatiq.common import dq_name, xq_name
        from pika.exceptions import AMQPError

        names = [n for q in list(broker.queues) for n in (q, dq_name(q), xq_name(q))]
        for attempt in (1, 2):
            try:
                for name in names:
                    broker.channel.queue_delete(name)
                return
            except AMQPError:
                del broker.connection
                if attempt == 2:
                    raise
    elif kind == "RedisBroker":
        for key in broker.client.scan_iter(f"{broker.namespace}:*"):
            broker.client.delete(key)


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min: {five:.1f}) on {os.cpu_count()} cores"
