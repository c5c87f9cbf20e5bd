"""What the job tests share: a portfolio of promises whose windows have ended, the settings of a
broker with a namespace of the test's own, and what the database says happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from ledger_collect.commands.application import Collections
from ledger_collect.commands.promise_commands import record_promise
from ledger_collect.commands.receivable_commands import post_invoice, register_customer
from ledger_collect.config import Settings

MADE = date(2026, 12, 1)
PROMISED = date(2026, 12, 10)
#: The day the promises' windows (promised date and 2 days' grace) are over.
VALUE_DAY = date(2026, 12, 15)

#: Brokers on machine servers, tested when their address is set; the embedded one always.
MACHINE_BROKERS = {"rabbitmq": "LEDGER_TEST_RABBITMQ_URL", "redis": "LEDGER_TEST_REDIS_URL"}


def brokers() -> list[str]:
    """postgres, and rabbitmq / redis when the environment names a server for them."""
    return ["postgres", *(kind for kind, var in MACHINE_BROKERS.items() if os.environ.get(var))]


def broker_settings(settings: Settings, kind: str, **changes: Any) -> Settings:
    """``settings`` with broker ``kind`` under a queue prefix of the test's own (parallel test
    runs on one machine broker must not take each other's messages), short heartbeats and
    pauses."""
    return settings.with_changes(**{
        "broker": kind, "broker_url": os.environ.get(MACHINE_BROKERS.get(kind, "")) or None,
        "queue_prefix": f"lc{uuid.uuid4().hex[:10]}", "worker_heartbeat_seconds": 2.0,
        "job_backoff_seconds": 0.2, "job_lock_wait_seconds": 2.0, **changes})


def given_promises(app: Collections, count: int) -> list[UUID]:
    """``count`` customers each with one invoice of 100.00 and an unpaid promise for it, whose
    window is over on ``VALUE_DAY``; saved in one batch."""
    batch = app.batch()
    made = {"actor": "erp", "business_date": MADE - timedelta(days=30)}
    promises = []
    for n in range(count):
        number = f"P{n:05d}"
        register_customer(batch, number=number, name=f"Customer {number}", segment="north",
                          credit_limit=Decimal(5000), currency="EUR", risk_class="B",
                          source_id=f"md-{number}", **made)
        invoice = post_invoice(batch, customer_number=number, document_number=f"{number}-1",
                               amount=Decimal("100.00"), currency="EUR",
                               posting_date=MADE - timedelta(days=30),
                               due_date=MADE - timedelta(days=5), source_id=f"inv-{number}",
                               **made)
        promises.append(record_promise(batch, invoice_id=invoice, amount=Decimal("100.00"),
                                       promised_date=PROMISED, tolerance_days=2,
                                       actor="alice", business_date=MADE))
    app.save_batch(batch)
    return promises


def events_table(settings: Settings) -> sql.Composed:
    return sql.SQL("{}.collections_events").format(sql.Identifier(settings.schema))


def count_events(settings: Settings, topic: str, conn: psycopg.Connection | None = None) -> int:
    query = sql.SQL("SELECT count(*) FROM {} WHERE topic = %s").format(events_table(settings))
    if conn is not None:
        return int(conn.execute(query, (f"ledger_collect.{topic}",)).fetchone()[0])
    with psycopg.connect(settings.database_url, autocommit=True) as own:
        return count_events(settings, topic, own)


def valued_per_promise(settings: Settings) -> dict[UUID, int]:
    """Valued events per promise, from the log itself."""
    query = sql.SQL("SELECT originator_id, count(*) FROM {} WHERE topic = %s GROUP BY 1").format(
        events_table(settings))
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        return dict(conn.execute(query, ("ledger_collect.PromiseToPay.Valued",)).fetchall())


def run_events(app: Collections, run_id: UUID) -> list[str]:
    return [type(event).__name__ for event in app.events.get(run_id)]


def forget_queues(broker: Any) -> None:
    """Delete the test's queues from a machine broker (RabbitMQ keeps them, Redis its keys)."""
    kind = type(broker).__name__
    if kind == "RabbitmqBroker":
        from dramatiq.common import dq_name, xq_name

        for queue in list(broker.queues):
            for name in (queue, dq_name(queue), xq_name(queue)):
                broker.channel.queue_delete(name)
    elif kind == "RedisBroker":
        for key in broker.client.scan_iter(f"{broker.namespace}:*"):
            broker.client.delete(key)


@pytest.fixture
def closing_brokers() -> Iterator[None]:
    """Brokers this process opened in the test closed after it, their queues deleted."""
    from ledger_collect.jobs import actors

    yield
    for opened in actors._SHARED.values():
        forget_queues(opened.broker)
    actors.close_job_actors()


def job_environment(settings: Settings) -> dict[str, str]:
    """The environment of a ``ledger-collect`` process on the test's database and broker."""
    env = {**os.environ,
           "LEDGER_DATABASE_URL": str(settings.database_url), "LEDGER_SCHEMA": settings.schema,
           "LEDGER_MASTER_KEY": str(settings.master_key), "LEDGER_DATA_DIR": str(
               settings.data_dir), "LEDGER_BROKER": settings.broker,
           "LEDGER_QUEUE_PREFIX": settings.queue_prefix,
           "LEDGER_WORKER_HEARTBEAT_SECONDS": str(settings.worker_heartbeat_seconds),
           "LEDGER_JOB_BACKOFF_SECONDS": str(settings.job_backoff_seconds),
           "LEDGER_JOB_LOCK_WAIT_SECONDS": str(settings.job_lock_wait_seconds),
           "LEDGER_VALUATION_CHUNK": str(settings.valuation_chunk),
           "LEDGER_TIME_ZONE": settings.time_zone, "LEDGER_JWT_SECRET": "jobs-test-" + "x" * 32}
    env.pop("LEDGER_BROKER_URL", None)
    if settings.broker_url:
        env["LEDGER_BROKER_URL"] = settings.broker_url
    return env


class Process:
    """A ``ledger-collect`` command running as its own process, its output in a file."""

    def __init__(self, settings: Settings, *args: str, log: Path) -> None:
        self.log = log
        self._out = log.open("w")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "ledger_collect.cli", *args], env=job_environment(settings),
            stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def output(self) -> str:
        return self.log.read_text()

    def wait_for_line(self, text: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.output():
            if self.popen.poll() is not None:
                pytest.fail(f"the process ended ({self.popen.returncode}):\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {text!r} within {seconds:.0f} s:\n{self.output()}")
            time.sleep(0.05)

    def kill(self) -> None:
        self.popen.kill()
        self.popen.wait()

    def stop(self, seconds: float = 60) -> int:
        """SIGTERM, and its exit status once it has ended."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=seconds)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
            self._out.close()


def wait_until(check: Callable[[], Any], what: str, seconds: float = 60,
               pause: float = 0.05) -> Any:
    """``check()``'s first true answer, polled; fails after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds:.0f} s: {what}")
        time.sleep(pause)
