"""The library's mapper steps, done with what is learnt once per event class or topic.

Every event of an import passes through ``Mapper.to_stored_event``, and every event of a
rebuild through ``Mapper.to_domain_event``: each call works out the event's topic, class version
and id converter again, and builds the frozen ``StoredEvent`` field by field with
``object.__setattr__``. ``FastSealingMapper`` is ``SealingMapper`` with those steps done from a
table per class (topic, class version, personal fields) and per topic (class, id converter,
class version), and the ``StoredEvent`` made in one step: the same stored events, the same
decoded events.

The steps mirror ``Mapper.to_stored_event`` and ``Mapper.to_domain_event``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import MapperDeserialisationError, StoredEvent, find_id_convertor
from eventsourcing.utils import get_topic, resolve_topic

from ledger_collect.speedups.saving import frozen
from ledger_collect.storage.personal_data import SealingMapper


class FastSealingMapper(SealingMapper):
    """``SealingMapper`` with the library's steps worked out once per class and topic."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._classes: dict[type, tuple[str, tuple[str, ...], int]] = {}
        self._topics: dict[tuple[str, type], tuple[type, Callable[[Any], Any], int]] = {}

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        kind = type(domain_event)
        known = self._classes.get(kind)
        if known is None:
            known = self._classes[kind] = (get_topic(kind), getattr(kind, "PERSONAL", ()),
                                           getattr(kind, "class_version", 1))
        topic, personal, class_version = known
        state = dict(vars(domain_event))
        if personal:
            self._seal(state, personal)
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        if class_version > 1:
            state["class_version"] = class_version
        stored_state = self.transcoder.encode(state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return frozen(StoredEvent, {"originator_id": originator_id,  # type: ignore[no-any-return]
                                    "originator_version": originator_version,
                                    "topic": topic, "state": stored_state})

    def decoded(self, stored: StoredEvent) -> Any:
        if self.cipher or self.compressor:
            return super().decoded(stored)
        topic, originator_id = stored.topic, stored.originator_id
        known = self._topics.get((topic, type(originator_id)))
        if known is None:
            cls = resolve_topic(topic)
            known = self._topics[topic, type(originator_id)] = (
                cls, find_id_convertor(cls, type(originator_id)),
                getattr(cls, "class_version", 1))
        cls, id_convertor, class_version = known
        try:
            state: dict[str, Any] = self.transcoder.decode(stored.state)
        except Exception as e:
            msg = (f"Failed to deserialise state of stored event with topic '{topic}', "
                   f"originator_id '{originator_id}' and originator_version "
                   f"{stored.originator_version}: {e}")
            raise MapperDeserialisationError(msg) from e
        state["originator_id"] = id_convertor(originator_id)
        state["originator_version"] = stored.originator_version
        from_version = state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event

