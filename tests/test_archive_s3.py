"""The archive on S3-compatible storage: a real moto server process stands in for the bucket,
reached over HTTP by boto3 exactly as a production endpoint would be."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import boto3
import httpx
import pytest

from ledger_collect.compliance.archive import ArchivedEvent, open_archive, segment_name
from ledger_collect.compliance.archive.archive import MANIFEST
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the moto server exited"
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the moto server did not come up"
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def s3_settings(settings: Settings, s3_endpoint: str,
                monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    bucket = f"archive-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return settings.with_changes(archive_url=f"s3://{bucket}/ledger/archive",
                                 archive_s3_endpoint=s3_endpoint)


def _events(streams: int, start: int) -> list[ArchivedEvent]:
    return [ArchivedEvent(stream, version, "ledger_collect.domain.x:X.Event",
                          os.urandom(100), start + n * 3 + version)
            for n, stream in enumerate(uuid.uuid4() for _ in range(streams))
            for version in (1, 2, 3)]


def test_s3_round_trip_and_flips(s3_settings: Settings, database: Database) -> None:
    archive = open_archive(s3_settings, database)
    assert archive.storage.location.startswith("s3://")
    first, second = _events(3, 1), _events(2, 100)
    assert archive.append_segment(first).number == 1
    assert archive.append_segment(second).number == 2
    assert open_archive(s3_settings, database).read_segment(1) == first
    assert archive.read_segment(2) == second
    report = archive.verify()
    assert report.ok and report.segments == 2, report.problems
    assert not (s3_settings.data_dir / "archive").exists()  # nothing went to the folder
    storage = archive.storage
    rng = random.Random(3)
    for name in (MANIFEST, segment_name(1), segment_name(2)):
        original = storage.get(name)
        assert original is not None
        for position in rng.sample(range(len(original)), 8):
            changed = bytearray(original)
            changed[position] ^= 1 << rng.randrange(8)
            storage.put(name, bytes(changed))
            assert not archive.verify().ok, f"{name} byte {position} flipped unnoticed"
        storage.put(name, original)
    assert archive.verify().ok


def test_missing_object_is_none_and_listing_is_scoped(s3_settings: Settings,
                                                      database: Database) -> None:
    archive = open_archive(s3_settings, database)
    assert archive.storage.get(MANIFEST) is None
    assert list(archive.segments()) == []
    archive.append_segment(_events(1, 1))
    assert archive.storage.names("segments") == [segment_name(1)]
