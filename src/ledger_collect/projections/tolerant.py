"""What lets a read model take whatever an event can hold, without costing the usual page.

Text. PostgreSQL text cannot hold NUL, and a string with a lone surrogate cannot be encoded at
all, yet an event may carry either (written before the command boundary refused them). Rather
than inspect every string of every page, ``apply_events`` applies the page inside a savepoint
and, only when the database or the encoder refuses such a character, applies it again with
the page's events cleaned: NUL removed, lone surrogates replaced by U+FFFD. Whatever the page
boundaries, a string is stored cleaned exactly when it could not be stored as it is.

Keys. A btree index entry holds at most about 2,700 bytes. Values that read models index
(customer numbers, contact ids, specialists, processors, currencies) are declared with the
column type ``key`` (see ``projections.upsert``): one longer than ``KEY_CHARS`` characters is
stored as its first ``KEY_CHARS - 33`` characters, ``…`` and an md5 of the whole, so distinct
values stay distinct. Commands refuse values anywhere near that long, so every value a
client can ask for is stored, and looked up, exactly as it was written.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

import psycopg

from ledger_collect.projections import forgetting, purged

#: The longest key stored as it is: 4 bytes a character at most keeps an entry under the
#: btree limit even beside a uuid and a date.
KEY_CHARS = 500
_KEPT = KEY_CHARS - 33  # the clipped form: kept characters, "…", 32 hex digits


def clip_keys(values: Sequence[Any]) -> Sequence[Any]:
    """``values`` with every string longer than ``KEY_CHARS`` clipped to a distinct shorter
    one (the same list when none is: one pass in C for the usual page)."""
    if max(map(len, filter(None, values)), default=0) <= KEY_CHARS:
        return values
    return [clip_key(v) for v in values]


def clip_key(value: Any) -> Any:
    if value is None or len(value) <= KEY_CHARS:
        return value
    digest = hashlib.md5(value.encode("utf-8", "surrogatepass"), usedforsecurity=False)
    return f"{value[:_KEPT]}…{digest.hexdigest()}"


def apply_events(conn: psycopg.Connection[Any], projection: Any, events: Sequence[Any]) -> None:
    """``projection.apply(conn, events)``, again with the events cleaned if the first attempt
    met a character text cannot hold (inside the caller's transaction). Customers whose
    erasure completes in the page are forgotten after it (``forgetting``)."""
    events, erased = forgetting.split(events)
    try:
        with conn.transaction():  # a savepoint: the failed attempt leaves nothing behind
            purged.apply_page(conn, projection, events)
    except (psycopg.DataError, UnicodeEncodeError) as error:
        if not _unstorable_text(error):
            raise
        purged.apply_page(conn, projection, [cleaned(event) for event in events])
    forgetting.forget(conn, projection, erased)


def _unstorable_text(error: Exception) -> bool:
    if isinstance(error, UnicodeEncodeError):
        return True
    message = str(error)
    return (isinstance(error, (psycopg.errors.CharacterNotInRepertoire,
                               psycopg.errors.UntranslatableCharacter))
            or "0x00" in message or "NUL" in message)


def cleaned(event: Any) -> Any:
    """The event, or a copy of it whose strings text can hold (nested ones too)."""
    changes = {}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        fixed = _clean(value)
        if fixed is not value:
            changes[field.name] = fixed
    if not changes:
        return event
    copied = copy.copy(event)
    for name, value in changes.items():
        object.__setattr__(copied, name, value)  # events are frozen dataclasses
    return copied


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        text = value.replace("\x00", "") if "\x00" in value else value
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return value if text == value else text
    if isinstance(value, (list, tuple)):
        items = [_clean(v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items) if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        fixed = {k: _clean(v) for k, v in value.items()}
        return value if all(fixed[k] is value[k] for k in value) else fixed
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return cleaned(value)
    return value
