"""The segment format: events exactly as the hot store holds them, zstandard-compressed.

A segment decompresses to a magic line, one JSON header line (its number, the SHA-256 of the
previous segment as stored, how many events) and the events as length-prefixed binary
records. Personal fields stay sealed with their customer's key, as in the store: erasing a
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
from uuid import UUID

import orjson
import zstandard

MAGIC = b"LCSEG1\n"
GENESIS = "0" * 64  # the previous hash of the first segment
_FIXED = struct.Struct(">16sQI")  # originator id, version, topic length
_STATE = struct.Struct(">I")  # state length
_NOTIFICATION = struct.Struct(">Q")
_LEVEL = 3


class SegmentError(ValueError):
    """A segment that does not decode, or does not match what it claims."""


@dataclass(frozen=True)
class ArchivedEvent:
    """One stored event, as the hot store's row has it (state sealed, as stored)."""

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
    """The decompressed form: magic, header line, records."""
    header = orjson.dumps({"segment": number, "previous_sha256": previous_sha256,
                           "events": len(events)})
    parts = [MAGIC, header, b"\n"]
    for event in events:
        topic = event.topic.encode()
        parts.append(_FIXED.pack(event.originator_id.bytes, event.originator_version,
                                 len(topic)))
        parts.append(topic)
        parts.append(_STATE.pack(len(event.state)))
        parts.append(bytes(event.state))
        parts.append(_NOTIFICATION.pack(event.notification_id))
    return b"".join(parts)


def encode(number: int, previous_sha256: str, events: Sequence[ArchivedEvent]) -> bytes:
    """The segment object as stored."""
    raw = encode_raw(number, previous_sha256, events)
    return zstandard.ZstdCompressor(level=_LEVEL, write_checksum=True).compress(raw)


def decompress(stored: bytes) -> bytes:
    try:
        return zstandard.ZstdDecompressor().decompress(stored)
    except zstandard.ZstdError as exc:
        raise SegmentError(f"does not decompress: {exc}") from None


def decode(stored: bytes) -> Segment:
    return decode_raw(decompress(stored))


def decode_raw(raw: bytes) -> Segment:
    """The header and events of a decompressed segment; SegmentError when anything is off."""
    if not raw.startswith(MAGIC):
        raise SegmentError("not a segment (magic line missing)")
    end = raw.find(b"\n", len(MAGIC))
    if end < 0:
        raise SegmentError("header line missing")
    try:
        header = orjson.loads(raw[len(MAGIC):end])
        number, previous, count = (header["segment"], header["previous_sha256"],
                                   header["events"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise SegmentError("header unreadable") from None
    if type(number) is not int or type(count) is not int or not isinstance(previous, str):
        raise SegmentError("header malformed")
    events = []
    offset = end + 1
    try:
        while offset < len(raw):
            ident, version, topic_length = _FIXED.unpack_from(raw, offset)
            offset += _FIXED.size
            topic = raw[offset:offset + topic_length].decode()
            offset += topic_length
            (state_length,) = _STATE.unpack_from(raw, offset)
            offset += _STATE.size
            state = raw[offset:offset + state_length]
            offset += state_length
            (notification,) = _NOTIFICATION.unpack_from(raw, offset)
            offset += _NOTIFICATION.size
            events.append(ArchivedEvent(UUID(bytes=ident), version, topic, state, notification))
    except (struct.error, UnicodeDecodeError):
        raise SegmentError(f"record unreadable at offset {offset}") from None
    if offset != len(raw):
        raise SegmentError("trailing bytes after the last record")
    if len(events) != count:
        raise SegmentError(f"header says {count} events, {len(events)} found")
    return Segment(number, previous, events)
