"""One reader for hot and archived events alike, for the auditor's replay.

A stream is in the hot store, in the archive, or — between an archive run's append and its
purge — in both; the reader gives the same domain events in every case, decoded by the
application's mapper so that personal fields unseal, or read ``ERASED`` once the customer's
key is gone. A hot stream that starts at version 1 is whole and needs no archive lookup.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, project_aggregate
from eventsourcing.persistence import StoredEvent

from ledger_collect.compliance.archive import segment_index
from ledger_collect.compliance.archive.archive import Archive
from ledger_collect.compliance.archive.segment import ArchivedEvent

_CACHED_SEGMENTS = 4


class EventReader:
    def __init__(self, app: Any, archive: Archive) -> None:
        self.app = app
        self.archive = archive
        self._segments: OrderedDict[int, dict[UUID, list[ArchivedEvent]]] = OrderedDict()

    def events(self, stream_id: UUID) -> list[Any]:
        """The stream's domain events in version order; [] for a stream never stored."""
        stored = {event.originator_version: event
                  for event in self.app.recorder.select_events(stream_id)}
        if 1 not in stored:
            for event in self._archived(stream_id):
                stored.setdefault(event.originator_version, StoredEvent(
                    originator_id=event.originator_id,
                    originator_version=event.originator_version,
                    topic=event.topic, state=event.state))
        return list(self.app.mapper.to_domain_events([stored[v] for v in sorted(stored)]))

    def aggregate(self, stream_id: UUID) -> Any:
        """The aggregate replayed from all its events, wherever they are."""
        aggregate = project_aggregate(None, self.events(stream_id))
        if aggregate is None:
            raise AggregateNotFoundError(stream_id)
        return aggregate

    def _archived(self, stream_id: UUID) -> list[ArchivedEvent]:
        with self.archive.database.connect() as conn:
            numbers = segment_index.segments_of(conn, stream_id)
        found: list[ArchivedEvent] = []
        for number in numbers:
            found.extend(self._segment(number).get(stream_id, []))
        return found

    def _segment(self, number: int) -> dict[UUID, list[ArchivedEvent]]:
        """A segment's events by stream; the last few segments read are kept (an auditor reads
        the streams of one customer, archived together)."""
        if number in self._segments:
            self._segments.move_to_end(number)
            return self._segments[number]
        by_stream: dict[UUID, list[ArchivedEvent]] = {}
        for event in self.archive.read_segment(number):
            by_stream.setdefault(event.originator_id, []).append(event)
        self._segments[number] = by_stream
        while len(self._segments) > _CACHED_SEGMENTS:
            self._segments.popitem(last=False)
        return by_stream
