"""``Archive.verify``: every check, every problem listed, nothing raised for a broken archive.

The manifest's signature vouches for the list of segments and their hashes; each segment's
hash, header and counts, and each chain link, are checked against it; the index in the
database must say what the manifest says. When the manifest itself is broken, the segments the
index knows are still checked, so that one report shows everything that is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ledger_collect.compliance.archive import segment_index as index
from ledger_collect.compliance.archive.manifest import ManifestError, read_manifest
from ledger_collect.compliance.archive.segment import (
    GENESIS,
    SegmentError,
    SegmentInfo,
    columns,
    decompress,
    sha256,
)

if TYPE_CHECKING:
    from ledger_collect.compliance.archive.archive import Archive, VerifyReport


def verify_archive(archive: Archive, progress: Callable[[int, int], None] | None
                   ) -> VerifyReport:
    from ledger_collect.compliance.archive.archive import (
        MANIFEST,
        SEGMENTS,
        VerifyReport,
        segment_name,
    )

    report = VerifyReport()
    problems = report.problems
    with archive.database.connect() as conn:
        indexed = index.indexed_segments(conn)
    data = archive.storage.get(MANIFEST)
    entries: list[SegmentInfo] | None = None
    if data is None:
        if indexed:
            problems.append("the manifest is missing but the index lists segments")
        entries = []
    else:
        try:
            entries = list(read_manifest(data, archive.public_key).segments)
        except ManifestError as exc:
            problems.append(f"manifest: {exc}")
    if entries is not None and not problems:
        try:
            archive.reconcile()
        except Exception as exc:  # a broken segment the index lacks: listed below as well
            problems.append(f"index: could not add the manifest's missing entries: {exc}")
    with archive.database.connect() as conn:
        indexed = index.indexed_segments(conn)
        stream_counts = index.indexed_stream_counts(conn)
    listed = entries if entries is not None else [indexed[n] for n in sorted(indexed)]
    previous = GENESIS
    for position, info in enumerate(listed, start=1):
        where = f"segment {info.number}"
        if info.number != position:
            problems.append(f"{where}: listed at position {position}")
        if info.previous_sha256 != previous:
            problems.append(f"{where}: chain broken (its previous hash is not the hash of "
                            f"segment {position - 1})")
        previous = info.sha256
        stored = archive.storage.get(segment_name(info.number))
        if stored is None:
            problems.append(f"{where}: missing from {archive.storage.location}")
        else:
            report.bytes += len(stored)
            _check_segment(info, stored, problems)
        row = indexed.get(info.number)
        if entries is not None and row != info:
            problems.append(f"{where}: the index says {row} but the manifest {info}")
        if stream_counts.get(info.number, 0) != info.streams:
            problems.append(f"{where}: the index lists {stream_counts.get(info.number, 0)} "
                            f"streams, the manifest {info.streams}")
        report.segments += 1
        report.events += info.events
        if progress is not None:
            progress(position, len(listed))
    if entries is not None:
        extra = sorted(set(indexed) - {info.number for info in entries})
        if extra:
            problems.append(f"the index lists segments the manifest does not: {extra}")
        known = {segment_name(info.number) for info in entries}
        unlisted = [name for name in archive.storage.names(SEGMENTS) if name not in known]
        # A crashed append leaves at most the next segment; any other is not ours to ignore.
        expected = segment_name(len(entries) + 1)
        report.orphans = [name for name in unlisted if name == expected]
        problems.extend(f"{name} is in storage but not in the manifest"
                        for name in unlisted if name != expected)
    return report


def _check_segment(info: SegmentInfo, stored: bytes, problems: list[str]) -> None:
    where = f"segment {info.number}"
    if sha256(stored) != info.sha256:
        problems.append(f"{where}: its hash does not match the manifest's (altered)")
    if len(stored) != info.bytes:
        problems.append(f"{where}: {len(stored)} bytes, the manifest says {info.bytes}")
    try:
        segment = columns(decompress(stored))
    except SegmentError as exc:
        problems.append(f"{where}: {exc}")
        return
    if segment.number != info.number:
        problems.append(f"{where}: its header says segment {segment.number}")
    if segment.previous_sha256 != info.previous_sha256:
        problems.append(f"{where}: its header names another previous segment than the manifest")
    if len(segment.versions) != info.events:
        problems.append(f"{where}: {len(segment.versions)} events, the manifest says "
                        f"{info.events}")
    if segment.stream_count != info.streams:
        problems.append(f"{where}: {segment.stream_count} streams, the manifest says "
                        f"{info.streams}")
