"""The Collections application: the write side's one service layer.

Every command is a plain function in ``ledger_collect.commands`` that takes a ``Batch`` (the
aggregates the command loads and changes) and the command's arguments. ``Collections.run``
executes one command and saves what it changed in one atomic, version-checked transaction; the
ERP import runs many commands on one batch and saves them together. One way to run a command.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar
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

from ledger_collect.commands import Batch
from ledger_collect.commands.casework import CaseworkCommands
from ledger_collect.commands.promises import PromiseCommands
from ledger_collect.commands.receivables import ReceivableCommands
from ledger_collect.commands.values import Limits
from ledger_collect.config import Settings
from ledger_collect.domain.base import ConflictError
from ledger_collect.speedups import EVENTS, SAVE, saving
from ledger_collect.speedups import events as fast_events
from ledger_collect.storage import event_store
from ledger_collect.storage.database import Database
from ledger_collect.storage.personal_data import KeyRing, SealingMapper, load_master_key

R = TypeVar("R")


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class Collections(ReceivableCommands, PromiseCommands, CaseworkCommands, Application):
    """Commands of the collections domain over the event store (the write side)."""

    name = "Collections"  # pinned: the events table is collections_events

    def __init__(self, database: Database, settings: Settings | None = None) -> None:
        self.settings = settings or database.settings
        self.limits = Limits.of(self.settings)
        self.database = database
        self._master_key = load_master_key(
            self.settings.master_key, self.settings.key_file, create=database.embedded
        )
        speedups = self.settings.speedups
        fast_events.switch(speedups.on(EVENTS))  # for every aggregate of the process
        self._fast_save = speedups.on(SAVE)
        super().__init__(env=database.eventsourcing_env())

    # -- infrastructure (each part the library's, or its speed-up: ``storage.event_store``) --
    def construct_mapper(self) -> SealingMapper:
        keyring = KeyRing(self._master_key, self.factory.datastore)
        return event_store.mapper(self.construct_transcoder(), keyring, self.settings.speedups)

    def construct_transcoder(self) -> Transcoder:
        transcoder = event_store.transcoder(self.settings.speedups)
        self.register_transcodings(transcoder)
        return transcoder

    def construct_recorder(self) -> ApplicationRecorder:
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

    # -- running commands --------------------------------------------------------------------
    def batch(self) -> Batch:
        return Batch(self.repository, self.limits)

    def run(self, function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run one command function on a fresh batch and save what it changed, atomically."""
        batch = self.batch()
        result = function(batch, *args, **kwargs)
        self.commit(batch)
        return result

    def commit(self, batch: Batch) -> int | None:
        """Save every changed aggregate of the batch in one transaction. Returns the last
        notification id written (what read models must reach to show this change), or None
        when the batch changed nothing."""
        return self.commit_aggregates(batch.changed())

    def commit_aggregates(self, changed: list[Aggregate]) -> int | None:
        """``commit`` for aggregates already known to have pending events."""
        try:
            return self._saved(changed, [e for a in changed for e in a.pending_events])
        except ConflictError:
            for aggregate in changed:  # the events were not stored: forget them
                aggregate.collect_events()
            raise

    def commit_events(self, events: list[Any]) -> int | None:
        """Save events already taken from their aggregates, in one transaction, as ``commit``
        saves theirs (the import saves a batch's events while it decides the next batch on
        the same aggregates, in another thread)."""
        return self._saved(events, events)

    def _saved(self, objects: list[Any], events: list[Any]) -> int | None:
        if not events:
            return None
        subjects = _data_subjects(events)
        if subjects:
            self.keyring.ensure_keys(subjects)
        try:
            recordings = self.save(*objects)
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
