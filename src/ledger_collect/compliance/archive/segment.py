"""The segment format: events exactly as the hot store holds them, zstandard-compressed.

A segment decompresses to a magic line, one JSON header line (its number, the SHA-256 of the
previous segment as stored, how many events, the topics named) and the events' fields column
by column. Personal fields stay sealed with their customer's key, as in the store: erasing a
customer makes the archived copies unreadable too, without rewriting a segment.

The chain hash is taken over the object as stored (compressed): any flipped byte of a
segment changes it, and every segment names its predecessor's, so the signed manifest's
last entry vouches for all of them.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple
from uuid import UUID

import orjson
import zstandard

MAGIC = b"LCSEG2\n"
GENESIS = "0" * 64  # the previous hash of the first segment
_LEVEL = 3


class SegmentError(ValueError):
    """A segment that does not decode, or does not match what it claims."""


class ArchivedEvent(NamedTuple):
    """One stored event, as the hot store's row has it (state sealed, as stored). A named
    tuple: a run builds one per archived event, and a tuple is built from a row at once."""

    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
    notification_id: int


@dataclass(frozen=True)
class SegmentInfo:
    """A segment as the manifest lists it."""

    number: int
    sha256: str
    previous_sha256: str
    events: int
    streams: int
    bytes: int  # stored (compressed) size

    def as_dict(self) -> dict[str, object]:
        return {"number": self.number, "sha256": self.sha256,
                "previous_sha256": self.previous_sha256, "events": self.events,
                "streams": self.streams, "bytes": self.bytes}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> SegmentInfo:
        fields = ("number", "sha256", "previous_sha256", "events", "streams", "bytes")
        if not isinstance(data, dict) or set(data) != set(fields):
            raise SegmentError(f"a manifest entry has other fields than {fields}")
        info = cls(**data)  # type: ignore[arg-type]
        for name in ("number", "events", "streams", "bytes"):
            if type(getattr(info, name)) is not int:
                raise SegmentError(f"a manifest entry's {name} is not a number")
        return info


@dataclass(frozen=True)
class Segment:
    """A decoded segment: its header and its events."""

    number: int
    previous_sha256: str
    events: list[ArchivedEvent]

    @property
    def stream_ids(self) -> set[UUID]:
        return {event.originator_id for event in self.events}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_raw(number: int, previous_sha256: str, events: Sequence[ArchivedEvent]) -> bytes:
    """The decompressed form: magic, header line, then the events column by column (ids,
    versions, notification ids, topic numbers, state lengths, states): packed and unpacked
    a column at a time, not an event at a time."""
    ids, versions, topic_names, states, notifications = (
        zip(*events, strict=True) if events else ((), (), (), (), ()))
    topics = {topic: number for number, topic in enumerate(dict.fromkeys(topic_names))}
    header = orjson.dumps({"segment": number, "previous_sha256": previous_sha256,
                           "events": len(events), "topics": list(topics)})
    count = len(events)
    states = tuple(map(bytes, states))
    return b"".join((
        MAGIC, header, b"\n",
        b"".join([ident.bytes for ident in ids]),
        struct.pack(f">{count}Q", *versions),
        struct.pack(f">{count}Q", *notifications),
        struct.pack(f">{count}I", *map(topics.__getitem__, topic_names)),
        struct.pack(f">{count}I", *map(len, states)),
        *states))


def encode(number: int, previous_sha256: str, events: Sequence[ArchivedEvent]) -> bytes:
    """The segment object as stored."""
    return compress(encode_raw(number, previous_sha256, events))


def compress(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=_LEVEL, write_checksum=True).compress(raw)


def decompress(stored: bytes) -> bytes:
    try:
        return zstandard.ZstdDecompressor().decompress(stored)
    except zstandard.ZstdError as exc:
        raise SegmentError(f"does not decompress: {exc}") from None


def decode(stored: bytes) -> Segment:
    return decode_raw(decompress(stored))


@dataclass(frozen=True)
class Columns:
    """A decompressed segment's header and columns, checked for size but not yet made into
    events (verification counts events and streams from these alone)."""

    number: int
    previous_sha256: str
    topics: list[str]
    ids: bytes
    versions: tuple[int, ...]
    notifications: tuple[int, ...]
    topic_numbers: tuple[int, ...]
    lengths: tuple[int, ...]
    raw: bytes
    states_at: int

    @property
    def stream_count(self) -> int:
        ids = self.ids
        return len({ids[i:i + 16] for i in range(0, len(ids), 16)})


def columns(raw: bytes) -> Columns:
    """The header and columns of a decompressed segment; SegmentError when anything is off."""
    if not raw.startswith(MAGIC):
        raise SegmentError("not a segment (magic line missing)")
    end = raw.find(b"\n", len(MAGIC))
    if end < 0:
        raise SegmentError("header line missing")
    try:
        header = orjson.loads(raw[len(MAGIC):end])
        number, previous, count, topics = (header["segment"], header["previous_sha256"],
                                           header["events"], header["topics"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise SegmentError("header unreadable") from None
    if (type(number) is not int or type(count) is not int or count < 0
            or not isinstance(previous, str) or not isinstance(topics, list)
            or not all(isinstance(topic, str) for topic in topics)):
        raise SegmentError("header malformed")
    offset = end + 1
    ids = raw[offset:offset + 16 * count]
    offset += 16 * count
    try:
        versions = struct.unpack_from(f">{count}Q", raw, offset)
        offset += 8 * count
        notifications = struct.unpack_from(f">{count}Q", raw, offset)
        offset += 8 * count
        topic_numbers = struct.unpack_from(f">{count}I", raw, offset)
        offset += 4 * count
        lengths = struct.unpack_from(f">{count}I", raw, offset)
        offset += 4 * count
    except struct.error:
        raise SegmentError(f"header says {count} events, the columns are shorter") from None
    if offset + sum(lengths) != len(raw):
        raise SegmentError("the states do not fill the segment exactly")
    if topic_numbers and max(topic_numbers) >= len(topics):
        raise SegmentError("an event names a topic the header does not list")
    return Columns(number, previous, topics, ids, versions, notifications, topic_numbers,
                   lengths, raw, offset)


def decode_raw(raw: bytes) -> Segment:
    """The header and events of a decompressed segment."""
    found = columns(raw)
    ids, topics, raw = found.ids, found.topics, found.raw
    uuids: dict[bytes, UUID] = {}
    events = []
    at = found.states_at
    for i, (version, notification, topic, length) in enumerate(zip(
            found.versions, found.notifications, found.topic_numbers, found.lengths,
            strict=True)):
        key = ids[16 * i:16 * i + 16]
        ident = uuids.get(key)
        if ident is None:
            ident = uuids[key] = UUID(bytes=key)
        events.append(ArchivedEvent(ident, version, topics[topic], raw[at:at + length],
                                    notification))
        at += length
    return Segment(found.number, found.previous_sha256, events)
