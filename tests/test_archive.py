"""The archive (``compliance.archive``): segments written, read back, chained and signed; every
flipped byte of a segment or of the manifest found by ``verify``; a wrong key found; the index
in PostgreSQL completed after a crash between manifest and index."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger_collect.cli import cli
from ledger_collect.compliance.archive import (
    ArchivedEvent,
    ArchiveError,
    ArchiveKeyError,
    archived_stream_ids,
    open_archive,
    segment_name,
)
from ledger_collect.compliance.archive.archive import MANIFEST
from ledger_collect.compliance.archive.manifest import (
    Manifest,
    ManifestError,
    load_archive_key,
    public_key_base64,
    read_manifest,
)
from ledger_collect.compliance.archive.segment import SegmentInfo
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


# -- the CLI ---------------------------------------------------------------------------------------
def _cli(settings: Settings, *args: str) -> Result:
    env = {"LEDGER_DATABASE_URL": settings.database_url, "LEDGER_SCHEMA": settings.schema,
           "LEDGER_MASTER_KEY": settings.master_key, "LEDGER_DATA_DIR": str(settings.data_dir),
           "LEDGER_ARCHIVE_KEY": settings.archive_key, "LEDGER_ARCHIVE_URL": None}
    return CliRunner().invoke(cli, ["archive", *args], env=env)


def test_cli_lists_and_verifies_and_exits_1_on_a_problem(settings: Settings,
                                                         database: Database) -> None:
    archive = open_archive(settings, database)
    for start in (1, 100):
        archive.append_segment(_events(2, 3, start=start))
    listed = _cli(settings, "list")
    assert listed.exit_code == 0, listed.output
    assert "2 segments" in listed.output and "6 events" in listed.output
    verified = _cli(settings, "verify")
    assert verified.exit_code == 0, verified.output
    assert "archive verified: 2 segments, 12 events" in verified.output
    _flip(settings.data_dir / "archive" / segment_name(2), 10, 3)
    broken = _cli(settings, "verify")
    assert broken.exit_code == 1
    assert "PROBLEM: segment 2: its hash does not match" in broken.output
    assert "NOT verified" in broken.output


def test_cli_verify_does_not_make_up_a_key(settings: Settings, database: Database) -> None:
    result = _cli(settings.with_changes(data_dir=settings.data_dir / "elsewhere"), "verify")
    assert result.exit_code == 1
    assert "no archive key" in result.output
    assert not (settings.data_dir / "elsewhere" / "archive.key").exists()


def test_every_bit_of_a_signed_manifest_is_covered() -> None:
    """Each of the manifest's bits, flipped alone, fails its reading: the signature line is
    canonical and the signature covers the body's exact bytes."""
    key = Ed25519PrivateKey.generate()
    manifest = Manifest()
    previous = "0" * 64
    for number in (1, 2, 3):
        digest = hashlib.sha256(os.urandom(8)).hexdigest()
        manifest = manifest.appended(SegmentInfo(number, digest, previous, 10, 2, 999))
        previous = digest
    signed = manifest.signed(key)
    assert read_manifest(signed, key.public_key()) == manifest
    for position in range(len(signed)):
        for bit in range(8):
            changed = bytearray(signed)
            changed[position] ^= 1 << bit
            with pytest.raises(ManifestError):
                read_manifest(bytes(changed), key.public_key())
    with pytest.raises(ManifestError, match="another key"):
        read_manifest(signed, Ed25519PrivateKey.generate().public_key())


def test_a_segment_the_manifest_does_not_list_is_a_problem(settings: Settings,
                                                          database: Database) -> None:
    """Only the next segment may be an orphan (an append that crashed); a manifest rolled back
    to an older signed one is caught by the index, and a stray segment by its number."""
    archive = open_archive(settings, database)
    for start in (1, 100, 200):
        archive.append_segment(_events(1, 2, start=start))
    root = settings.data_dir / "archive"
    manifest = root / MANIFEST
    newest = manifest.read_bytes()
    (root / segment_name(7)).write_bytes((root / segment_name(3)).read_bytes())
    report = archive.verify()
    assert report.problems == [f"{segment_name(7)} is in storage but not in the manifest"]
    (root / segment_name(7)).unlink()
    key = load_archive_key(None, settings.archive_key_file, create=False)
    older = Manifest(archive.manifest().segments[:2]).signed(key)  # genuinely signed
    manifest.write_bytes(older)
    report = archive.verify()
    assert "the index lists segments the manifest does not: [3]" in report.problems
    with pytest.raises(ArchiveError, match=r"index lists segments \[3\]"):
        archive.append_segment(_events(1, 1))
    manifest.write_bytes(newest)
    assert archive.verify().ok


def test_an_auditor_verifies_with_the_public_key_alone(settings: Settings,
                                                       database: Database) -> None:
    archive = open_archive(settings, database)
    events = _events(2, 2)
    archive.append_segment(events)
    printed = _cli(settings, "public-key")
    assert printed.exit_code == 0, printed.output
    auditor = settings.with_changes(data_dir=settings.data_dir / "auditor",
                                    archive_url=f"file://{settings.data_dir / 'archive'}",
                                    archive_public_key=printed.output.strip())
    audited = open_archive(auditor, database)
    assert audited.verify().ok and audited.read_segment(1) == events
    with pytest.raises(ArchiveError, match="verification only"):
        audited.append_segment(events)
    stranger = Ed25519PrivateKey.generate().public_key()
    wrong = open_archive(auditor.with_changes(archive_public_key=public_key_base64(stranger)),
                         database)
    assert any("signature" in problem for problem in wrong.verify().problems)
    with pytest.raises(ArchiveKeyError, match="not the public key"):
        open_archive(settings.with_changes(archive_public_key=public_key_base64(stranger)),
                     database)
