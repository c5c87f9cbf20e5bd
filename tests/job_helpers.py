"""What the job tests share: a portfolio of promises whose windows have ended, the settings of a
broker with a namespace of the test's own, and what the database says happened."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
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
    return settings.with_changes(
        broker=kind, broker_url=os.environ.get(MACHINE_BROKERS.get(kind, ""), None) or None,
        queue_prefix=f"lc{uuid.uuid4().hex[:10]}", worker_heartbeat_seconds=2.0,
        job_backoff_seconds=0.2, job_lock_wait_seconds=2.0, **changes)


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
