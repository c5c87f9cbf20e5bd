"""The compliance log: one run of an action of the retention policies (archive, purge, erase)
for a business date, and what it did.

A run's id follows from its action and date, so a run killed half-way and started again carries
on in the same stream: its log shows the attempt that died and the one that finished. Nothing
in it is personal: stream and customer ids, record classes, counts, segment numbers.

``StreamsPurged`` is written in the very transaction that deletes the streams from the store
(``compliance.purge``): a stream is gone exactly when an event says so, and read models drop its
rows when they meet that event (``projections.purged``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import CollectionsAggregate, ValidationError, derived_id
from ledger_collect.domain.job_run import checked_counts

ARCHIVE, PURGE, ERASE, EXPIRE = "archive", "purge", "erase", "expire"
ACTIONS = (ARCHIVE, PURGE, ERASE, EXPIRE)


class ComplianceRun(CollectionsAggregate):
    TOPIC = "ledger_collect.ComplianceRun"

    @staticmethod
    def create_id(action: str, run_date: date, **_: Any) -> UUID:
        return derived_id("compliance-run", f"{action}:{run_date.isoformat()}")

    @classmethod
    def start(cls, *, action: str, run_date: date, actor: str) -> ComplianceRun:
        if action not in ACTIONS:
            raise ValidationError(f"a compliance run is one of {', '.join(ACTIONS)}; "
                                  f"not {action!r}")
        return cls(action=action, run_date=run_date, actor=actor, business_date=run_date)

    @event("Started", topic="ledger_collect.ComplianceRun.Started")
    def __init__(self, action: str, run_date: date, actor: str, business_date: date) -> None:
        self.action = action
        self.run_date = run_date
        self.attempts = 1
        self.finished = False
        self.segments: list[int] = []
        self.purged = 0

    def resume(self, *, actor: str) -> None:
        """Another attempt of the same run (the last one died, or the run is asked again)."""
        self._resumed(attempt=self.attempts + 1, actor=actor, business_date=self.run_date)

    @event("Resumed", topic="ledger_collect.ComplianceRun.Resumed")
    def _resumed(self, attempt: int, actor: str, business_date: date) -> None:
        self.attempts = attempt
        self.finished = False

    def segment_written(self, *, segment: int, streams: Mapping[str, int], events: int,
                        actor: str) -> None:
        """Segment ``segment`` of the archive holds ``events`` events of ``streams`` streams
        (by record class), verified."""
        self._segment_written(segment=segment, streams=checked_counts(streams), events=events,
                              actor=actor, business_date=self.run_date)

    @event("SegmentWritten", topic="ledger_collect.ComplianceRun.SegmentWritten")
    def _segment_written(self, segment: int, streams: dict[str, int], events: int, actor: str,
                         business_date: date) -> None:
        self.segments.append(segment)

    def streams_purged(self, *, stream_ids: Sequence[UUID], events: int, actor: str,
                       last_activity: Mapping[UUID, date] | None = None) -> None:
        """These streams (``events`` events in all) left the store. ``last_activity``: per
        customer, the latest business date of its purged streams — a customer's last activity
        counts them still, and a rebuild, which no longer sees their events, reads it here."""
        if not stream_ids:
            raise ValidationError("a purge names the streams it deleted")
        self._streams_purged(stream_ids=list(stream_ids), events=events, actor=actor,
                             business_date=self.run_date,
                             last_activity={str(k): v for k, v in
                                            sorted((last_activity or {}).items())})

    @event("StreamsPurged", topic="ledger_collect.ComplianceRun.StreamsPurged")
    def _streams_purged(self, stream_ids: list[UUID], events: int, actor: str,
                        business_date: date, last_activity: dict[str, date] | None = None,
                        ) -> None:
        self.purged += len(stream_ids)

    def finish(self, counts: Mapping[str, int], *, actor: str) -> None:
        self._finished(counts=checked_counts(counts), actor=actor, business_date=self.run_date)

    @event("Finished", topic="ledger_collect.ComplianceRun.Finished")
    def _finished(self, counts: dict[str, int], actor: str, business_date: date) -> None:
        self.finished = True
        self.counts = dict(counts)
