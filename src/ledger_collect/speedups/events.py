"""Triggering events and creating aggregates without the library's per-call introspection.

On every call of an ``@event`` method, and for every aggregate it creates, eventsourcing works
out what could be worked out once per class: it binds a fresh decorator object, turns the
arguments into keywords from the method's signature, filters them against the event's fields,
builds the frozen event field by field with ``object.__setattr__``, resolves the aggregate's
topic back to its class and filters the event's fields again for ``__init__``. That is most of
an ERP import's time in the domain.

``install(cls)`` (called for every ``CollectionsAggregate`` subclass) replaces each ``@event``
method by a plain function doing the same steps with what was worked out when the class was
defined, and ``create(cls, kwargs)`` (called by the aggregates' metaclass for ``cls(...)``)
builds a created event and its aggregate likewise. The result is what the library makes: the
same event class, the same fields in the same order with the same values, the method's body run
on the aggregate as the library runs it (after the event is built, before the version moves),
the event appended to the pending list. Anything unusual takes the library's own path: a
positional argument, a missing or extra keyword, an explicit id, a class whose events mutate or
apply otherwise. ``switch(False)`` sends every call the library's way (``library_path()`` for a
while, so that tests can compare the two).

The steps mirror ``BoundCommandMethodDecorator.trigger``, ``BaseAggregate.trigger_event``,
``CanMutateAggregate.mutate``, ``DecoratedFuncCaller.apply``, ``MetaAggregate.__call__``,
``BaseAggregate._create`` and ``CanInitAggregate.mutate``.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing import domain as library
from eventsourcing.domain import (
    BaseAggregate,
    BoundCommandMethodDecorator,
    CanInitAggregate,
    CanMutateAggregate,
    CommandMethodDecorator,
    DecoratedFuncCaller,
)
from eventsourcing.utils import get_topic, resolve_topic

_BASE_FIELDS = ("originator_id", "originator_version", "timestamp")
_state = {"fast": True}
_creators: dict[type, Callable[[dict[str, Any]], Any] | None] = {}


def switch(on: bool) -> None:
    """The fast path on or off, for every aggregate of the process (``Settings.speedups``)."""
    _state["fast"] = on


@contextmanager
def library_path() -> Iterator[None]:
    """Run the library's own code for events and creation meanwhile (tests compare)."""
    before = _state["fast"]
    _state["fast"] = False
    try:
        yield
    finally:
        _state["fast"] = before


def _event_fields(event_class: type) -> tuple[str, ...]:
    """The event's fields in the order its dataclass ``__init__`` sets them."""
    return tuple(f.name for f in dataclasses.fields(event_class) if f.init)


def _params(function: Callable[..., Any]) -> tuple[str, ...] | None:
    """The function's parameters after ``self``, or None if any is not a plain keyword."""
    names = []
    for name, param in list(inspect.signature(function).parameters.items())[1:]:
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            return None
        names.append(name)
    return tuple(names)


# -- @event methods ------------------------------------------------------------------------------
def install(cls: type) -> None:
    """Replace the class's own ``@event`` methods by fast triggers (where the library's event
    classes behave as the fast path assumes)."""
    if cls.trigger_event is not BaseAggregate.trigger_event:  # type: ignore[attr-defined]
        return
    for name, attribute in list(vars(cls).items()):
        if (isinstance(attribute, CommandMethodDecorator) and attribute.decorated_property is None
                and attribute.decorated_func.__name__ not in ("__init__", "_")):
            trigger = _fast_trigger(attribute)
            if trigger is not None:
                setattr(cls, name, trigger)


def _template(fields: tuple[str, ...]) -> dict[str, None]:
    """A dict with the event's fields in order: a copy updated with the values keeps that order
    (cheaper than building the dict field by field)."""
    return dict.fromkeys(fields)


def _fast_trigger(decorator: CommandMethodDecorator) -> Callable[..., None] | None:
    event_class = library.decorated_func_callers.get(decorator)
    function = decorator.decorated_func
    params = _params(function)
    if (event_class is None or params is None
            or event_class.mutate is not CanMutateAggregate.mutate
            or event_class.apply is not DecoratedFuncCaller.apply
            or library.decorated_funcs.get(event_class) is not function):
        return None
    fields = _event_fields(event_class)
    if set(fields) != set(params) | set(_BASE_FIELDS):  # an event field the method lacks
        return None
    library._check_explicit_topic_is_registered(event_class)
    keys, template = frozenset(params), _template(fields)
    new, set_attribute, now, state = object.__new__, object.__setattr__, \
        event_class.create_timestamp, _state

    def trigger(self: Any, *args: Any, **kwargs: Any) -> None:
        if args or kwargs.keys() != keys or not state["fast"]:
            BoundCommandMethodDecorator(decorator, self)(*args, **kwargs)
            return
        values = template.copy()
        values.update(kwargs)
        values["originator_id"] = self.id
        values["originator_version"] = version = self.version + 1
        values["timestamp"] = timestamp = now()
        event = new(event_class)
        set_attribute(event, "__dict__", values)
        function(self, **kwargs)  # the library's apply: the method's body, then the version
        self.version = version
        self.modified_on = timestamp
        self.pending_events.append(event)

    trigger.__name__ = function.__name__
    trigger.__qualname__ = function.__qualname__
    trigger.__doc__ = function.__doc__
    trigger.__wrapped__ = function  # type: ignore[attr-defined]
    trigger.event_decorator = decorator  # type: ignore[attr-defined]
    return trigger


# -- created events ------------------------------------------------------------------------------
def creator(cls: type) -> Callable[[dict[str, Any]], Any] | None:
    """A function making a new aggregate of ``cls`` and its created event from the keywords of
    ``cls(...)``, as ``MetaAggregate.__call__`` and ``BaseAggregate._create`` make them; None
    when the class is unusual (the library's path then does it). The function returns None
    when the keywords are not exactly the ``__init__``'s or the id is not a UUID."""
    created = library._created_event_classes.get(cls, [])
    init = cls.__init__  # the decorated __init__ itself (the decorator hands it out)
    params = _params(init)
    if (len(created) != 1 or params is None or cls in library._init_mentions_id
            or cls in library._annotations_mention_id
            or created[0].mutate is not CanInitAggregate.mutate
            or created[0].apply is not CanMutateAggregate.apply
            or cls.__base_init__ is not BaseAggregate.__base_init__  # type: ignore[attr-defined]
            or cls.__new__ is not object.__new__):
        return None
    event_class = created[0]
    topic = get_topic(cls)
    if resolve_topic(topic) is not cls:
        return None
    if getattr(cls, "TOPIC", None):
        library._check_explicit_topic_is_registered(event_class)
    fields = _event_fields(event_class)
    if set(fields) != set(params) | {*_BASE_FIELDS, "originator_topic"}:
        return None
    keys, template = frozenset(params), _template(fields)
    id_names = tuple(k for k in params if k in library._create_id_param_names[cls])
    create_id, now, version = cls.create_id, event_class.create_timestamp, cls.INITIAL_VERSION  # type: ignore[attr-defined]
    new, set_attribute, state = object.__new__, object.__setattr__, _state

    def make(kwargs: dict[str, Any]) -> Any:
        if kwargs.keys() != keys or not state["fast"]:
            return None
        originator_id = create_id(**{name: kwargs[name] for name in id_names})
        if type(originator_id) is not UUID:
            return None  # the library raises its own error for it
        values = template.copy()
        values.update(kwargs)
        values["originator_id"] = originator_id
        values["originator_version"] = version
        values["timestamp"] = timestamp = now()
        values["originator_topic"] = topic
        event = new(event_class)
        set_attribute(event, "__dict__", values)
        aggregate = new(cls)
        aggregate.__base_init__(originator_id, version, timestamp)
        init(aggregate, **kwargs)
        aggregate.pending_events.append(event)
        return aggregate

    return make


def create(cls: type, kwargs: dict[str, Any]) -> Any | None:
    """``cls(**kwargs)`` by the class's creator; None when the library's path must do it."""
    try:
        make = _creators[cls]
    except KeyError:
        make = _creators[cls] = creator(cls)
    return None if make is None else make(kwargs)
