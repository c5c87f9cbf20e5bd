"""What every aggregate and event of the collections domain shares.

Events are facts with who and when: each carries the ``actor`` who did it and the
``business_date`` it refers to, beside the record time the library stamps. Topics are pinned
strings so that renaming or moving a class never orphans a stream.

Personal data (names of people, email addresses, phone numbers, free-text notes) is declared
per aggregate in ``PERSONAL`` (an event's name → its fields that hold it), which becomes each
event class's ``PERSONAL``; the mapper in ``personal_data`` seals those fields with the data key
of the event's data subject (the customer), so that erasing that key erases them everywhere.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import uuid
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate

from ledger_collect.speedups import events as fast_events

#: Namespace for ids derived from source keys (ERP document ids): same key, same id, always.
ID_NAMESPACE = uuid.UUID("6f1c8a52-3f7e-4c1e-9b7a-2d0c5e9a7b11")

#: What a personal field reads as once its data subject's key has been erased.
ERASED = "[erased]"


_NAMESPACE_SHA1 = hashlib.sha1(ID_NAMESPACE.bytes, usedforsecurity=False)
#: RFC 4122 version 5 and variant bits, and the mask that clears where they go.
_V5_BITS, _V5_MASK = (5 << 76) | (0x8000 << 48), ~((0xF000 << 64) | (0xC000 << 48))


@functools.lru_cache(maxsize=1 << 17)
def derived_id(kind: str, key: str) -> uuid.UUID:
    """A deterministic aggregate id: ``kind`` keeps customer 42 and invoice 42 apart. It is
    ``uuid.uuid5(ID_NAMESPACE, f"{kind}:{key}")``, made the way ``uuid`` makes its own UUIDs
    but without ``UUID.__init__``'s argument checks (a third of the cost; an import derives
    an id per record)."""
    digest = _NAMESPACE_SHA1.copy()
    digest.update(f"{kind}:{key}".encode())
    value = (int.from_bytes(digest.digest()[:16], "big") & _V5_MASK) | _V5_BITS
    made = object.__new__(uuid.UUID)
    object.__setattr__(made, "int", value)
    object.__setattr__(made, "is_safe", uuid.SafeUUID.unknown)
    return made


class DomainError(Exception):
    """A rule of the domain was broken; the message is meant for a collections specialist.

    ``code`` names the rule for clients, which act on it (the API returns it): the class's name
    without ``Error``, in capitals (``PromiseAmountError``: ``PROMISE_AMOUNT``), unless the
    class names another (``class ValidationError(DomainError, code="INVALID")``)."""

    code: ClassVar[str] = "RULE_BROKEN"

    def __init_subclass__(cls, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = code or _CAPITALS.sub("_", cls.__name__.removesuffix("Error")).upper()


#: Where a name in CamelCase takes an underscore in CAPITALS_WITH_UNDERSCORES.
_CAPITALS = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class NotFoundError(DomainError):
    """A record a command names does not exist (or is not of the kind it names)."""


class ConflictError(DomainError):
    """Somebody else changed the same record at the same moment; reload and try again."""


class ValidationError(DomainError, code="INVALID"):
    """A value given to a command is missing, malformed or out of the range it allows."""


class CurrencyMismatchError(DomainError):
    """Amounts in different currencies would meet: money on an invoice or account, a promise
    on an invoice, the invoices of one dispute."""


class IllegalTransitionError(DomainError):
    """A record (a dispute, an email) cannot go from its status to the one asked for."""


def label(code: str) -> str:
    """A status or kind as a sentence says it: ``written_off`` is "written off"."""
    return code.replace("_", " ")


def check_transition(what: str, status: str, to: str,
                     next_status: Mapping[str, tuple[str, ...]]) -> None:
    """Refuse a change of status that ``next_status`` (where each status may go) does not
    allow, naming both statuses and where ``what`` (the record) may go instead."""
    allowed = next_status[status]
    if to not in allowed:
        raise IllegalTransitionError(
            f"{what} that is {label(status)} cannot become {label(to)}; "
            + (f"it can only become {' or '.join(map(label, allowed))}" if allowed
               else "its outcome is final"))


class _FastCreation(type(Aggregate)):  # type: ignore[misc]
    """``cls(...)`` through the fast path of ``speedups.events`` when it can, else the
    library's own."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        made = None if args else fast_events.create(cls, kwargs)
        return made if made is not None else super().__call__(*args, **kwargs)


class CollectionsAggregate(Aggregate, metaclass=_FastCreation):
    """Base of every aggregate: events carry actor and business date. Events are triggered and
    aggregates created through ``speedups.events`` (the library's steps, worked out once per
    class) while that speed-up is on.

    An aggregate names its pinned ``TOPIC``; its base event class ``Event``, which the library
    wants under a pinned topic too, is made here under the aggregate's topic and ``.Event``."""

    TOPIC = "ledger_collect.CollectionsAggregate"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "Event" not in cls.__dict__:
            cls.Event = type("Event", (cls.Event,), {  # type: ignore[assignment]
                "TOPIC": f"{cls.TOPIC}.Event", "__module__": cls.__module__,
                "__qualname__": f"{cls.__qualname__}.Event"})
        super().__init_subclass__(**kwargs)
        mark_personal(cls)
        fast_events.install(cls)

    class Event(Aggregate.Event):
        TOPIC = "ledger_collect.CollectionsAggregate.Event"
        #: Names of this event's attributes that hold personal data (sealed at rest).
        PERSONAL: ClassVar[tuple[str, ...]] = ()
        actor: str
        business_date: date


def mark_personal(aggregate: type) -> None:
    """Set the ``PERSONAL`` of each event the aggregate's ``PERSONAL`` names; a field the event
    does not have is refused (a misspelt field would otherwise be stored unsealed)."""
    for name, fields in aggregate.__dict__.get("PERSONAL", {}).items():
        event_class = getattr(aggregate, name)
        unknown = set(fields).difference(f.name for f in dataclasses.fields(event_class))
        if unknown:
            raise TypeError(f"{aggregate.__name__}.{name} has no field {', '.join(unknown)}")
        event_class.PERSONAL = fields


#: The largest amount accepted anywhere (a single invoice, payment, credit limit or promise).
MAX_AMOUNT = Decimal("999999999999.99")
#: No money: what a sum of amounts starts from.
ZERO = Decimal("0.00")
_CENT = Decimal("0.01")


def money(value: Decimal | int | str, what: str = "amount") -> Decimal:
    """An amount as a Decimal with two places. Never rounded: more than two decimal places is
    refused, as are floats (they lose cents), infinities and amounts beyond ``MAX_AMOUNT``
    (which also keeps every sum of them exact in Decimal's 28 digits)."""
    if isinstance(value, float):
        raise ValidationError(f"{what} {value!r} must be given as a decimal string, not a float")
    try:
        amount = value if type(value) is Decimal else Decimal(value)
    except Exception as exc:  # decimal.InvalidOperation and friends
        raise ValidationError(f"{what} {value!r} is not a number") from exc
    if not amount.is_finite():
        raise ValidationError(f"{what} {value} is not a finite number")
    if not -MAX_AMOUNT <= amount <= MAX_AMOUNT:
        raise ValidationError(f"{what} {value} is beyond the largest amount accepted, "
                              f"{MAX_AMOUNT:,}")
    exact = amount.quantize(_CENT)
    if exact != amount:
        raise ValidationError(f"{what} {value} has more than two decimal places")
    return exact


def positive(value: Decimal | int | str, what: str = "amount") -> Decimal:
    amount = money(value, what)
    if amount <= 0:
        raise ValidationError(f"{what} must be greater than zero, got {amount}")
    return amount


def currency_code(value: str) -> str:
    code = (value or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValidationError(f"currency {value!r} is not a three-letter ISO code")
    return code


def email_address(value: str, where: str = "") -> str:
    """A plausible address (one @, something on each side, no spaces), stripped. Deliverability
    is the mail server's to judge; this only refuses what is clearly not an address."""
    address = (value or "").strip()
    local, _, domain = address.partition("@")
    if not local or not domain or " " in address or "@" in domain:
        raise ValidationError(f"{value!r}{' in ' + where if where else ''} is not an email address")
    return address
