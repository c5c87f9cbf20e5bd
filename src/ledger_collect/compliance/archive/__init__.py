"""The tamper-evident archive: segments of stored events, hash-chained, listed in a signed
manifest, kept in a folder or an S3-compatible bucket, indexed in PostgreSQL."""

from __future__ import annotations

from ledger_collect.compliance.archive.archive import (
    Archive,
    ArchiveError,
    VerifyReport,
    segment_name,
)
from ledger_collect.compliance.archive.manifest import (
    ArchiveKeyError,
    ManifestError,
    load_archive_key,
    load_public_key,
    public_key_base64,
)
from ledger_collect.compliance.archive.reader import EventReader
from ledger_collect.compliance.archive.segment import ArchivedEvent, SegmentError, SegmentInfo
from ledger_collect.compliance.archive.segment_index import archived_stream_ids
from ledger_collect.compliance.archive.segment_storage import ArchiveStorageError, open_storage
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database


def open_archive(settings: Settings, database: Database, *, create_key: bool = True) -> Archive:
    """The archive ``settings`` configure (``LEDGER_ARCHIVE_URL``, ``LEDGER_ARCHIVE_KEY``), on
    the index in ``database``. Without a configured key, the key file in the data directory
    is used, and created on first use unless ``create_key`` is False (a verification must not
    make up a key of its own: it would report every signature as wrong). With only
    ``LEDGER_ARCHIVE_PUBLIC_KEY`` (an auditor's), the archive verifies and reads but takes no
    append."""
    public = (load_public_key(settings.archive_public_key) if settings.archive_public_key
              else None)
    if public is not None and not settings.archive_key \
            and not settings.archive_key_file.exists():
        return Archive(open_storage(settings), None, public, database)
    key = load_archive_key(settings.archive_key, settings.archive_key_file, create=create_key)
    if public is not None and public_key_base64(public) != public_key_base64(key.public_key()):
        raise ArchiveKeyError("LEDGER_ARCHIVE_PUBLIC_KEY is not the public key of the "
                              "archive key")
    return Archive(open_storage(settings), key, key.public_key(), database)


__all__ = [
    "Archive",
    "ArchiveError",
    "ArchiveKeyError",
    "ArchiveStorageError",
    "ArchivedEvent",
    "EventReader",
    "ManifestError",
    "SegmentError",
    "SegmentInfo",
    "VerifyReport",
    "archived_stream_ids",
    "open_archive",
    "segment_name",
]
