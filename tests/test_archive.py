"""The archive (``compliance.archive``): segments written, read back, chained and signed; every
flipped byte of a segment or of the manifest found by ``verify``; a wrong key found; the index
in PostgreSQL completed after a crash between manifest and index."""

from __future__ import annotations

import base64
import os
import random
import uuid
from pathlib import Path

import pytest

from ledger_collect.compliance.archive import (
    ArchivedEvent,
    ArchiveError,
    archived_stream_ids,
    open_archive,
    segment_name,
)
from ledger_collect.compliance.archive.archive import MANIFEST
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database


def _events(streams: int, versions: int, start: int = 1) -> list[ArchivedEvent]:
    events = []
    notification = start
    for _ in range(streams):
        stream = uuid.uuid4()
        for version in range(1, versions + 1):
            state = os.urandom(random.randint(0, 300))
            events.append(ArchivedEvent(stream, version, f"ledger_collect.domain.x:X.E{version}",
                                        state, notification))
            notification += 1
    return events


def test_round_trip_chain_and_index(settings: Settings, database: Database) -> None:
    archive = open_archive(settings, database)
    first, second = _events(3, 4), _events(2, 5, start=100)
    one = archive.append_segment(first)
    two = archive.append_segment(second)
    assert (one.number, one.events, one.streams) == (1, 12, 3)
    assert (two.number, two.events, two.streams) == (2, 10, 2)
    assert two.previous_sha256 == one.sha256 and one.previous_sha256 == "0" * 64
    assert archive.read_segment(1) == first and archive.read_segment(2) == second
    assert [info.number for info in archive.segments()] == [1, 2]
    assert first[0].state in archive.segment_bytes(1)
    report = archive.verify()
    assert report.ok, report.problems
    assert (report.segments, report.events) == (2, 22)
    hot = uuid.uuid4()
    with database.connect() as conn:
        assert archived_stream_ids(conn, [first[0].originator_id, second[-1].originator_id,
                                          hot]) == {first[0].originator_id,
                                                    second[-1].originator_id}
        rows = conn.execute("SELECT first_version, last_version, event_count, segment_number"
                            " FROM archived_streams WHERE stream_id = %s",
                            (second[0].originator_id,)).fetchall()
    assert rows == [(1, 5, 5, 2)]
    # Opened again (a new process): the same key file, the same archive.
    again = open_archive(settings, database)
    assert again.read_segment(2) == second and again.verify().ok


def test_a_crash_before_indexing_is_reconciled(settings: Settings, database: Database) -> None:
    archive = open_archive(settings, database)
    archive.append_segment(_events(1, 2))

    class Crash(Exception):
        pass

    def crash(step: str) -> None:
        if step == "manifest":
            raise Crash

    archive.on_step = crash
    events = _events(2, 2, start=10)
    with pytest.raises(Crash):
        archive.append_segment(events)
    with database.connect() as conn:
        assert archived_stream_ids(conn, [events[0].originator_id]) == set()
    archive.on_step = None
    report = archive.verify()  # reconciles first
    assert report.ok, report.problems
    with database.connect() as conn:
        assert archived_stream_ids(conn, [events[0].originator_id]) == {events[0].originator_id}


def test_an_orphan_segment_is_overwritten(settings: Settings, database: Database) -> None:
    archive = open_archive(settings, database)
    archive.append_segment(_events(1, 2))

    def crash(step: str) -> None:
        if step == "segment":
            raise KeyboardInterrupt

    archive.on_step = crash
    with pytest.raises(KeyboardInterrupt):
        archive.append_segment(_events(1, 3))
    archive.on_step = None
    report = archive.verify()
    assert report.ok and report.orphans == [segment_name(2)]
    later = _events(4, 1, start=50)
    assert archive.append_segment(later).number == 2
    assert archive.read_segment(2) == later
    report = archive.verify()
    assert report.ok and report.orphans == []


def _flip(path: Path, position: int, bit: int) -> bytes:
    data = path.read_bytes()
    changed = bytearray(data)
    changed[position] ^= 1 << bit
    path.write_bytes(bytes(changed))
    return data


def test_every_flipped_byte_is_detected(settings: Settings, database: Database) -> None:
    archive = open_archive(settings, database)
    for start in (1, 100, 200):
        archive.append_segment(_events(3, 3, start=start))
    assert archive.verify().ok
    root = settings.data_dir / "archive"
    files = [root / MANIFEST] + [root / segment_name(n) for n in (1, 2, 3)]
    rng = random.Random(14)
    for path in files:
        size = path.stat().st_size
        positions = set(rng.sample(range(size), min(size, 60))) | {0, size - 1}
        for position in sorted(positions):
            original = _flip(path, position, rng.randrange(8))
            report = archive.verify()
            assert not report.ok, f"{path.name} byte {position} flipped unnoticed"
            path.write_bytes(original)
    assert archive.verify().ok


def test_a_wrong_key_is_detected(settings: Settings, database: Database) -> None:
    open_archive(settings, database).append_segment(_events(2, 2))
    other = settings.with_changes(archive_key=base64.b64encode(os.urandom(32)).decode())
    archive = open_archive(other, database)
    report = archive.verify()
    assert not report.ok
    assert any("signature" in problem for problem in report.problems)
    with pytest.raises(Exception, match="signature"):
        archive.append_segment(_events(1, 1))
    with pytest.raises(Exception, match="signature"):
        archive.read_segment(1)


def test_read_segment_refuses_an_altered_one(settings: Settings, database: Database) -> None:
    archive = open_archive(settings, database)
    archive.append_segment(_events(1, 3))
    path = settings.data_dir / "archive" / segment_name(1)
    _flip(path, path.stat().st_size // 2, 0)
    with pytest.raises(ArchiveError, match="hash"):
        archive.read_segment(1)
