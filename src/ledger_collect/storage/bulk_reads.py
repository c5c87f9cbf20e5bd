"""Reading the event store in bulk: many aggregates at once, and the ids of aggregates by the
topics of their events.

The repository loads one aggregate per SELECT: fine for a command, far too slow for an import
of 300,000 records or a job going through thousands of promises. ``load_aggregates`` reads the
events of a whole set of ids in one query and rebuilds the aggregates the way the library's
repository does (the first event's ``mutate(None)`` creates the aggregate, each later one
mutates it). No snapshots are configured, so the events are the whole story.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresRecorder
from eventsourcing.utils import resolve_topic
from psycopg import sql

from ledger_collect.domain.customer import Customer


def _events_table(app: Any) -> sql.Composed:
    recorder = app.recorder
    return sql.SQL("{}.{}").format(sql.Identifier(recorder.datastore.schema or "public"),
                                   sql.Identifier(recorder.events_table_name))


def load_aggregates(app: Any, ids: Iterable[UUID]) -> dict[UUID, Aggregate]:
    """The current state of every aggregate among ``ids`` that exists, in one query (on the
    in-memory store, one lookup each: there is no query to save)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    recorder = app.recorder
    if not isinstance(recorder, PostgresRecorder):
        return _one_by_one(app.repository, wanted)
    query = sql.SQL(
        "SELECT originator_id, originator_version, topic, state FROM {} "
        "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
    ).format(_events_table(app))
    with recorder.datastore.transaction(commit=False) as curs:
        curs.execute(query, (wanted,))
        rows = curs.fetchall()
    _preload_keys(app, rows)
    events: dict[UUID, list[Any]] = defaultdict(list)
    decoded = app.mapper.to_domain_events([
        StoredEvent(originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"], state=bytes(row["state"])) for row in rows])
    for row, event in zip(rows, decoded, strict=True):
        events[row["originator_id"]].append(event)
    found: dict[UUID, Aggregate] = {}
    for aggregate_id, stream in events.items():
        aggregate = None
        for event in stream:
            aggregate = event.mutate(aggregate)
        if aggregate is not None:
            found[aggregate_id] = aggregate
    return found


def _one_by_one(repository: Any, ids: list[UUID]) -> dict[UUID, Aggregate]:
    found: dict[UUID, Aggregate] = {}
    for aggregate_id in ids:
        try:
            found[aggregate_id] = repository.get(aggregate_id)
        except AggregateNotFoundError:
            pass
    return found


def _preload_keys(app: Any, rows: list[dict[str, Any]]) -> None:
    """Fetch the data keys of every subject whose personal data these rows hold in one query,
    instead of one query per subject while unsealing. (Personal events of a Customer have the
    customer itself as subject; the other subjects are fetched, in one query, by
    ``to_domain_events``.) Keys are created where missing: the import will seal with them."""
    subjects = {row["originator_id"] for row in rows if _is_personal(row["topic"])}
    if subjects:
        app.keyring.ensure_keys(subjects)


_PERSONAL: dict[str, bool] = {}


def _is_personal(topic: str) -> bool:
    try:
        return _PERSONAL[topic]
    except KeyError:
        cls = resolve_topic(topic)
        personal = bool(getattr(cls, "PERSONAL", ())) and issubclass(cls, Customer.Event)
        _PERSONAL[topic] = personal
        return personal


def ids_by_topic(app: Any, topics: Iterable[str], chunk: int = 2000,
                 limit: int | None = None) -> Iterator[list[UUID]]:
    """Ids of the aggregates created by an event of one of ``topics``, in chunks."""
    query = sql.SQL(
        "SELECT originator_id FROM {} WHERE originator_version = 1 AND topic = ANY(%s) "
        "ORDER BY notification_id LIMIT %s").format(_events_table(app))
    with app.recorder.datastore.transaction(commit=False) as curs:
        curs.execute(query, (list(topics), limit))
        ids = [row["originator_id"] for row in curs.fetchall()]
    for start in range(0, len(ids), chunk):
        yield ids[start:start + chunk]


def unconfirmed_ids(app: Any, created: str, ended: Iterable[str]) -> list[UUID]:
    """Ids of the aggregates created by an event of topic ``created`` that have no event of
    the ``ended`` topics yet (one scan of the log: for daily jobs, not for requests)."""
    query = sql.SQL(
        "SELECT originator_id FROM {t} WHERE originator_version = 1 AND topic = %s"
        " EXCEPT SELECT originator_id FROM {t} WHERE topic = ANY(%s) ORDER BY 1"
    ).format(t=_events_table(app))
    with app.recorder.datastore.transaction(commit=False) as curs:
        curs.execute(query, (created, list(ended)))
        return [row["originator_id"] for row in curs.fetchall()]
