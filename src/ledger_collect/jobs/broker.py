"""The broker, chosen by the settings (``LEDGER_BROKER``), and the queues' names.

- ``rabbitmq`` (production): messages a worker took and never acknowledged go back to the queue
  the moment its connection closes, a killed worker's included.
- ``redis``: a worker that stops beating (``worker_heartbeat_seconds``) is dead to the others,
  whose upkeep puts its messages back.
- ``postgres`` (the default, and the embedded mode's): dramatiq-postgres keeps the queue in the
  database the events are in, in tables migration 0006 makes; no other server to run, messages
  outlive restarts, and a dead worker's messages are queued again by the same heartbeats.

dramatiq picks a RabbitMQ broker on 127.0.0.1 by itself when an actor is declared with none set;
here every actor is declared on the broker made from the settings (``actors.JobActors``), and
that broker is made the global one too, so that nothing falls back to the default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dramatiq
from dramatiq.broker import Broker

if TYPE_CHECKING:
    from ledger_collect.config import Settings

BROKERS = ("postgres", "rabbitmq", "redis")
#: Connections the postgres broker's pool may open.
POSTGRES_CONNECTIONS = 48
#: The dramatiq-postgres tables in our schema (migrations/0006_jobs.sql).
POSTGRES_PREFIX = "dramatiq_"


class BrokerConfigError(ValueError):
    """The settings name no broker, or one without the address it needs."""


def queue_name(settings: Settings, name: str) -> str:
    """The queue of ``name``: ``<prefix>.<name>`` (one namespace per deployment, or test run)."""
    return f"{settings.queue_prefix}.{name}"


def make_broker(settings: Settings, database_url: str | None = None) -> Broker:
    """A new broker as the settings choose (the PostgreSQL one on ``database_url``, the
    database in use), made dramatiq's global broker as well."""
    kind = settings.broker
    if kind not in BROKERS:
        raise BrokerConfigError(f"LEDGER_BROKER is {kind!r}; it is one of {', '.join(BROKERS)}")
    heartbeat = settings.worker_heartbeat_seconds
    broker: Broker
    if kind == "postgres":
        from dramatiq_postgres import PostgresBroker

        url = database_url or settings.database_url
        if not url:
            raise BrokerConfigError("the postgres broker needs the database's address")
        # Its pool holds a connection per consumer (a queue and its delay queue each): the
        # library's 16 starve a worker of every job's queues, and retries wait behind that.
        url += ("&" if "?" in url else "?") + f"maxconn={POSTGRES_CONNECTIONS}"
        broker = PostgresBroker(url=url, schema=settings.schema, prefix=POSTGRES_PREFIX,
                                results=False, heartbeat_interval=max(heartbeat / 4, 0.5),
                                heartbeat_ttl=heartbeat,
                                maintenance_interval=max(heartbeat / 2, 1.0))
    else:
        if not settings.broker_url:
            raise BrokerConfigError(f"LEDGER_BROKER is {kind}: set LEDGER_BROKER_URL to its "
                                    f"address")
        if kind == "rabbitmq":
            from dramatiq.brokers.rabbitmq import RabbitmqBroker

            broker = RabbitmqBroker(url=settings.broker_url, confirm_delivery=True)
        else:
            from dramatiq.brokers.redis import RedisBroker

            # Upkeep (requeueing a dead worker's messages) on one command in ten: the
            # library's one in a thousand leaves them lying for long on a quiet queue.
            broker = RedisBroker(url=settings.broker_url, namespace=settings.queue_prefix,
                                 heartbeat_timeout=int(heartbeat * 1000),
                                 maintenance_chance=100_000)
    dramatiq.set_broker(broker)
    return broker


def describe(settings: Settings) -> str:
    """Which broker, for logs and the command line (no password)."""
    if settings.broker == "postgres":
        return "postgres (a queue in the database)"
    url = settings.broker_url or ""
    scheme, _, rest = url.partition("://")
    return f"{settings.broker} ({scheme}://{rest.rpartition('@')[2]})"
