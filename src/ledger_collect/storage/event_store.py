"""The event store's parts as ``Collections`` builds them: each the library's own, or the fast
one from ``ledger_collect.speedups`` while ``Settings.speedups`` leaves that speed-up on.

The fast parts keep the library's contract (its recorder conformance cases and transcoder
cases run on them, and they write what the library writes), so either reads what the other
stored.
"""

from __future__ import annotations

from eventsourcing.persistence import (
    ApplicationRecorder,
    EventStore,
    JSONTranscoder,
    Mapper,
)
from eventsourcing.postgres import PostgresFactory

from ledger_collect.speedups import MAPPER, RECORDER, SAVE, TRANSCODER, Speedups
from ledger_collect.speedups.mapper import FastSealingMapper
from ledger_collect.speedups.recorder import fast_application_recorder
from ledger_collect.speedups.saving import FastEventStore
from ledger_collect.speedups.transcoder import FastJSONTranscoder
from ledger_collect.storage.personal_data import KeyRing, SealingMapper


def recorder(factory: PostgresFactory, speedups: Speedups) -> ApplicationRecorder:
    """The library's PostgreSQL recorder of the application's events table."""
    if speedups.on(RECORDER):
        return fast_application_recorder(factory)
    return factory.application_recorder()


def transcoder(speedups: Speedups) -> JSONTranscoder:
    """The library's JSON format (transcodings are registered by the caller)."""
    return FastJSONTranscoder() if speedups.on(TRANSCODER) else JSONTranscoder()


def mapper(transcoder: JSONTranscoder, keyring: KeyRing, speedups: Speedups) -> SealingMapper:
    """The library's mapper, sealing personal fields with the keys of ``keyring``."""
    made = (FastSealingMapper if speedups.on(MAPPER) else SealingMapper)(transcoder=transcoder)
    made.keyring = keyring
    return made


def event_store(mapper: Mapper, recorder: ApplicationRecorder, speedups: Speedups) -> EventStore:
    """The library's event store over ``mapper`` and ``recorder``."""
    kind = FastEventStore if speedups.on(SAVE) else EventStore
    return kind(mapper=mapper, recorder=recorder)
