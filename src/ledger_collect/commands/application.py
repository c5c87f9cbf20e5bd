"""The Collections application: the write side's one service layer, and the one pipeline every
command goes through.

Every command is a plain function in ``ledger_collect.commands`` that takes a ``Batch`` (the
aggregates the command loads and changes) and the command's arguments, the actor and the
business date among them. ``Collections.run`` runs one command on a fresh batch and saves what
it changed in one atomic, version-checked transaction: a GraphQL mutation, the CLI and a job
call it alike. The ERP import runs many commands on one batch (``batch``) and saves them
together (``save_batch``, or ``save_events`` from another thread) with the same pieces.

On PostgreSQL (``Collections(database)``) or on the library's in-memory store
(``Collections.in_memory()``), where domain and command tests run without a database.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, Concatenate, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    ApplicationRecorder,
    EventStore,
    IntegrityError,
    JSONTranscoder,
    Recording,
    Transcoder,
    Transcoding,
)

from ledger_collect.commands import Batch, Outcome
from ledger_collect.commands.values import Limits
from ledger_collect.config import Settings
from ledger_collect.domain.base import ConflictError
from ledger_collect.speedups import EVENTS, SAVE, saving
from ledger_collect.speedups import events as fast_events
from ledger_collect.storage import event_store
from ledger_collect.storage.bulk_reads import load_aggregates
from ledger_collect.storage.database import Database
from ledger_collect.storage.personal_data import (
    InMemoryKeyRing,
    KeyRing,
    PostgresKeyRing,
    SealingMapper,
    load_master_key,
)

R = TypeVar("R")
P = ParamSpec("P")
B = TypeVar("B", bound=Batch)

IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class Collections(Application):
    """Commands of the collections domain over the event store (the write side)."""

    name = "Collections"  # pinned: the events table is collections_events

    def __init__(self, database: Database | None, settings: Settings | None = None) -> None:
        """On ``database`` (its settings unless ``settings`` are given); None: in memory (see
        ``in_memory``)."""
        if settings is None:
            settings = database.settings if database is not None else Settings()
        self.settings = settings
        self.limits = Limits.of(settings)
        self.database = database
        if database is None:
            self._master_key = (base64.b64decode(settings.master_key) if settings.master_key
                                else os.urandom(32))
        else:
            self._master_key = load_master_key(settings.master_key, settings.key_file,
                                               create=database.embedded)
        fast_events.switch(settings.speedups.on(EVENTS))  # for every aggregate of the process
        self._fast_save = settings.speedups.on(SAVE)
        super().__init__(env=IN_MEMORY if database is None else database.eventsourcing_env())

    @classmethod
    def in_memory(cls, settings: Settings | None = None) -> Collections:
        """On the library's in-memory store, with a key ring in memory: events, keys and
        erasures last as long as the application. Without a master key in ``settings``, a
        random one seals the data keys."""
        return cls(None, settings)

    # -- infrastructure (each part the library's, or its speed-up: ``storage.event_store``) --
    def construct_mapper(self) -> SealingMapper:
        keyring: KeyRing
        if self.database is None:
            keyring = InMemoryKeyRing(self._master_key)
        else:
            datastore = self.factory.datastore  # type: ignore[attr-defined]
            keyring = PostgresKeyRing(self._master_key, datastore)
        return event_store.mapper(self.construct_transcoder(), keyring, self.settings.speedups)

    def construct_transcoder(self) -> Transcoder:
        transcoder = event_store.transcoder(self.settings.speedups)
        self.register_transcodings(transcoder)
        return transcoder

    def construct_recorder(self) -> ApplicationRecorder:
        """In memory, the library's own."""
        if self.database is None:
            return super().construct_recorder()
        return event_store.recorder(self.factory, self.settings.speedups)  # type: ignore[arg-type]

    def construct_event_store(self) -> EventStore[UUID]:
        return event_store.event_store(self.mapper, self.recorder, self.settings.speedups)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        if self._fast_save:
            return saving.save(self, *objs, **kwargs)
        return super().save(*objs, **kwargs)

    @property
    def keyring(self) -> KeyRing:
        return self.mapper.keyring  # type: ignore[attr-defined,no-any-return]

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def load_aggregates(self, ids: Iterable[UUID]) -> dict[UUID, Aggregate]:
        """The aggregates among ``ids`` that exist, in one query (``storage.bulk_reads``)."""
        return load_aggregates(self, ids)

    # -- the pipeline ------------------------------------------------------------------------
    def run(self, command: Callable[Concatenate[Batch, P], R], /, *args: P.args,
            **kwargs: P.kwargs) -> Outcome[R]:
        """Run ``command(batch, *args, **kwargs)`` on a fresh batch and save what it changed,
        atomically: its result, and the notification id of the last event saved. A refused
        command (a ``DomainError``) or a conflicting save (``ConflictError``) saves nothing.
        To check who may run it, on the same batch: ``run(guarded(guard, command), ...)``."""
        batch: Batch = self.batch()
        result = command(batch, *args, **kwargs)
        changed = frozenset(aggregate.id for aggregate in batch.changed())
        return Outcome(result, self.save_batch(batch), batch.aggregates, changed)

    def batch(self, kind: type[B] = Batch) -> B:  # type: ignore[assignment]
        """A fresh batch for commands to run on, with this application's settings."""
        return kind(self.repository, self.settings, self.load_aggregates)

    def save_batch(self, batch: Batch) -> int | None:
        """Save every changed aggregate of the batch in one transaction (the notification id
        of the last event, or None when the batch changed nothing)."""
        return self.save_events([e for a in batch.changed() for e in a.collect_events()])

    def save_events(self, events: list[Any]) -> int | None:
        """Save events taken from their aggregates (``collect_events``), in one transaction.
        Taken first, so that the import can decide its next batch on the same aggregates while
        another thread saves these; if the save fails, they are not stored and are gone from
        the aggregates too (reload them to try again)."""
        if not events:
            return None
        subjects = _data_subjects(events)
        if subjects:
            self.keyring.ensure_keys(subjects)
        try:
            recordings = self.save(*events)
        except IntegrityError as exc:
            raise ConflictError(
                "someone else changed this record at the same moment; nothing was saved — "
                "reload it and try again"
            ) from exc
        return recordings[-1].notification.id if recordings else None


def _data_subjects(events: list[Any]) -> set[UUID]:
    """Subjects whose personal data is about to be sealed: their keys are made in one go."""
    return {getattr(event, "customer_id", None) or event.originator_id for event in events
            if getattr(type(event), "PERSONAL", ())}
