"""Saving aggregates as ``Application.save`` does, without its per-object Protocol checks.

The library's ``save()`` recognises what it is given by two ``typing.Protocol`` isinstance checks
per object, which walk the protocol's members each time; its event store then builds two frozen
dataclasses per saved event (the recording and its notification) field by field with
``object.__setattr__``. ``save`` recognises aggregates by their class, then records exactly as
the library's ``save()`` does, through ``FastEventStore``, which makes the same recordings in
one step each.

``save`` mirrors ``Application.save`` and ``ProcessingEvent.collect_events``; ``FastEventStore``
mirrors ``EventStore.put``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.persistence import EventStore, Notification, Recording


def frozen(cls: type[Any], values: dict[str, Any]) -> Any:
    """An instance of a frozen (not slotted) dataclass holding ``values``, its fields in their
    order, as its ``__init__`` would make it but without a ``object.__setattr__`` per field."""
    instance = object.__new__(cls)
    object.__setattr__(instance, "__dict__", values)
    return instance


class FastEventStore(EventStore[UUID]):
    """The library's event store; ``put`` makes the same ``Recording`` and ``Notification``
    objects by ``frozen`` (two a saved event)."""

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> list[Recording[UUID]]:
        stored_events = list(map(self.mapper.to_stored_event, domain_events))
        notification_ids = self.recorder.insert_events(stored_events, **kwargs)
        if not notification_ids:
            return []
        assert len(notification_ids) == len(stored_events)
        return [frozen(Recording, {"domain_event": d, "notification": frozen(Notification, {
            "originator_id": s.originator_id, "originator_version": s.originator_version,
            "topic": s.topic, "state": s.state, "id": n_id})})
            for d, s, n_id in zip(domain_events, stored_events, notification_ids, strict=True)]


class _CollectedEvents(ProcessingEvent[UUID]):
    """Recognises aggregates by class (a C-speed check) before the library's Protocol checks,
    which stay in charge of anything else (domain events passed directly, other objects)."""

    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        events = self.events
        for obj in objs:
            if isinstance(obj, Aggregate):
                events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            elif isinstance(obj, DomainEvent):  # one the library's Protocol check accepts
                events.append(obj)
            elif obj is not None:
                super().collect_events(obj)
        self.saved_kwargs.update(kwargs)


def save(app: Application, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
    """``app.save(*objs, **kwargs)``, the library's steps with the events collected above."""
    processing_event = _CollectedEvents()
    processing_event.collect_events(*objs, **kwargs)
    recordings = app._record(processing_event)
    app._take_snapshots(processing_event)
    app._notify(recordings)
    app.notify(processing_event.events)  # the library's deprecated hook, called as it does
    return recordings
