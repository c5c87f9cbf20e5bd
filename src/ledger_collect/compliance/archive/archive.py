"""The archive: append a segment, reconcile the index, verify everything, read segments back.

An append goes segment, read-back check, manifest, index — each step only after the one
before it is durable, so a crash anywhere leaves an archive that is still whole: a segment the
manifest does not list yet is an orphan that the next append overwrites, and a manifest entry
the index lacks is indexed by ``reconcile`` (which every append and every verify runs first).
Appends are serialized by an advisory lock of the schema, so two runs never both take the
same segment number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger_collect.compliance.archive import segment_index as index
from ledger_collect.compliance.archive.manifest import Manifest, ManifestError, read_manifest
from ledger_collect.compliance.archive.segment import (
    GENESIS,
    ArchivedEvent,
    Segment,
    SegmentError,
    SegmentInfo,
    columns,
    compress,
    decode,
    decompress,
    encode_raw,
    sha256,
)
from ledger_collect.compliance.archive.segment_storage import Storage
from ledger_collect.storage.database import Database

MANIFEST = "manifest"
SEGMENTS = "segments"
ARCHIVE_LOCK = 0x1ED6A7C1  # pg_advisory_lock key for "ledger-collect archive appends"
_LOCK = "SELECT pg_advisory_{}(%s::integer, hashtext(current_schema()))"


class ArchiveError(RuntimeError):
    """The archive cannot take an append or serve a read: it is broken or tampered with."""


def segment_name(number: int) -> str:
    return f"{SEGMENTS}/{number:08d}.zst"


@dataclass
class VerifyReport:
    segments: int = 0
    events: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # written by an append that crashed

    @property
    def ok(self) -> bool:
        return not self.problems


class Archive:
    def __init__(self, storage: Storage, key: Ed25519PrivateKey | None,
                 public_key: Ed25519PublicKey, database: Database) -> None:
        self.storage = storage
        self._key = key
        self.public_key = public_key
        self.database = database
        self._manifest: Manifest | None = None
        #: Called after each durable step of an append ("segment", "manifest", "indexed"):
        #: crash tests kill the process there.
        self.on_step: Callable[[str], None] | None = None

    # -- the manifest ------------------------------------------------------------------------
    def manifest(self) -> Manifest:
        """The stored manifest, its signature checked (empty when none was written yet)."""
        data = self.storage.get(MANIFEST)
        self._manifest = Manifest() if data is None else read_manifest(data, self.public_key)
        return self._manifest

    def _entry(self, number: int) -> SegmentInfo:
        for manifest in (self._manifest, None):  # the one read last, else a fresh one
            for info in (manifest or self.manifest()).segments:
                if info.number == number:
                    return info
        raise ArchiveError(f"segment {number} is not in the archive's manifest")

    # -- appending ---------------------------------------------------------------------------
    def append_segment(self, events: Sequence[ArchivedEvent]) -> SegmentInfo:
        """Write ``events`` as the next segment, check it, sign it into the manifest and index
        it. Returns the segment as the manifest lists it."""
        if self._key is None:
            raise ArchiveError("this archive was opened for verification only (no key)")
        if not events:
            raise ValueError("a segment holds at least one event")
        events = list(events)
        with self._locked() as conn:
            manifest = self._reconciled(conn)
            last = manifest.last
            number = last.number + 1 if last else 1
            previous = last.sha256 if last else GENESIS
            raw = encode_raw(number, previous, events)
            stored = compress(raw)
            name = segment_name(number)
            self.storage.put(name, stored)
            self._read_back(name, stored, raw, number)
            segment = Segment(number, previous, events)
            self._step("segment")
            info = SegmentInfo(number, sha256(stored), previous, len(events),
                               len(segment.stream_ids), len(stored))
            signed = manifest.appended(info).signed(self._key)
            self.storage.put(MANIFEST, signed)
            if self.manifest().last != info:
                raise ArchiveError("the manifest read back is not the one written")
            self._step("manifest")
            index.index_segment(conn, info, segment)
            self._step("indexed")
            return info

    def _read_back(self, name: str, stored: bytes, raw: bytes, number: int) -> None:
        """The segment as storage returns it must be the bytes written, and decompress to the
        encoding of exactly the events given (the encoding is one-to-one)."""
        back = self.storage.get(name)
        if back is None or sha256(back) != sha256(stored):
            raise ArchiveError(f"segment {number} read back differs from what was written")
        if decompress(back) != raw:
            raise ArchiveError(f"segment {number} read back holds other events")
        columns(raw)  # and it reads as a segment

    def _step(self, name: str) -> None:
        if self.on_step is not None:
            self.on_step(name)

    # -- the index ---------------------------------------------------------------------------
    def reconcile(self) -> None:
        """Index every manifest entry the tables lack (left out by a crash)."""
        with self._locked() as conn:
            self._reconciled(conn)

    def _reconciled(self, conn: Any) -> Manifest:
        manifest = self.manifest()
        indexed = index.indexed_segments(conn)
        unlisted = sorted(set(indexed) - {info.number for info in manifest.segments})
        if unlisted:  # never append after those: their segments would be overwritten
            raise ArchiveError(f"the index lists segments {unlisted} that the signed manifest "
                               f"does not (an older manifest put back?): see `archive verify`")
        for info in manifest.segments:
            if info.number not in indexed:
                index.index_segment(conn, info, self._checked_segment(info))
        return manifest

    def _locked(self) -> Any:
        return _AppendLock(self.database)

    # -- reading -----------------------------------------------------------------------------
    def segments(self) -> Iterator[SegmentInfo]:
        yield from self.manifest().segments

    def read_segment(self, number: int) -> list[ArchivedEvent]:
        """The events of a segment, once its hash matches the signed manifest's."""
        return self._checked_segment(self._entry(number)).events

    def segment_bytes(self, number: int) -> bytes:
        """The decompressed segment as stored (unchecked: a verifier scans tampered ones too)."""
        stored = self.storage.get(segment_name(number))
        if stored is None:
            raise ArchiveError(f"segment {number} is missing from {self.storage.location}")
        return decompress(stored)

    def _checked_segment(self, info: SegmentInfo) -> Segment:
        stored = self.storage.get(segment_name(info.number))
        if stored is None:
            raise ArchiveError(f"segment {info.number} is missing from {self.storage.location}")
        if sha256(stored) != info.sha256:
            raise ArchiveError(f"segment {info.number} does not match its manifest hash")
        return decode(stored)

    # -- verifying ---------------------------------------------------------------------------
    def verify(self, progress: Callable[[int, int], None] | None = None) -> VerifyReport:
        """Check the manifest's signature, every segment's hash, header and counts, every
        chain link, and the index against the manifest; each problem found is listed."""
        from ledger_collect.compliance.archive.archive_verify import verify_archive

        return verify_archive(self, progress)


class _AppendLock:
    """A connection holding the schema's archive lock while inside."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __enter__(self) -> Any:
        self.conn = self.database.connect()
        self.conn.execute(_LOCK.format("lock"), (ARCHIVE_LOCK,))
        return self.conn

    def __exit__(self, *exc: object) -> None:
        try:
            self.conn.execute(_LOCK.format("unlock"), (ARCHIVE_LOCK,))
        finally:
            self.conn.close()


__all__ = ["Archive", "ArchiveError", "ManifestError", "SegmentError", "VerifyReport"]
