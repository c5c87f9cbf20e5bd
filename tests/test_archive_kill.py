"""An append killed (SIGKILL, in a real process) after each of its durable steps, or at any
moment, leaves an archive that verifies, and the next append completes it: an orphan segment
is overwritten, a manifest entry the index lacks is indexed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid

import pytest

from ledger_collect.compliance.archive import (
    ArchivedEvent,
    archived_stream_ids,
    open_archive,
    segment_name,
)
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database

pytestmark = pytest.mark.slow

CHILD = """
import os, signal, sys, uuid
from ledger_collect.compliance.archive import ArchivedEvent, open_archive
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database

step, seed = sys.argv[1], int(sys.argv[2])
settings = Settings.from_env()
database = Database(settings).open()
archive = open_archive(settings, database)
if step != "never":
    archive.on_step = lambda name: name == step and os.kill(os.getpid(), signal.SIGKILL)
while True:
    streams = [uuid.UUID(int=seed * 1000 + n) for n in range(50)]
    archive.append_segment([ArchivedEvent(s, v, "t:E", os.urandom(200), 1 + v)
                            for s in streams for v in (1, 2, 3)])
    print("appended", flush=True)
    seed += 1
"""


def _child(settings: Settings, step: str, seed: int) -> subprocess.Popen[str]:
    env = {**os.environ, "LEDGER_DATABASE_URL": settings.database_url or "",
           "LEDGER_SCHEMA": settings.schema, "LEDGER_DATA_DIR": str(settings.data_dir)}
    return subprocess.Popen([sys.executable, "-c", CHILD, step, str(seed)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _first_segment(settings: Settings, database: Database) -> None:
    open_archive(settings, database).append_segment(
        [ArchivedEvent(uuid.uuid4(), 1, "t:E", b"state", 1)])


@pytest.mark.parametrize("step", ["segment", "manifest", "indexed"])
def test_killed_after_a_step(settings: Settings, database: Database, step: str) -> None:
    _first_segment(settings, database)
    child = _child(settings, step, seed=7)
    _, err = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL, err
    killed = {uuid.UUID(int=7000 + n) for n in range(50)}
    archive = open_archive(settings, database)
    listed = [info.number for info in archive.segments()]
    assert listed == ([1] if step == "segment" else [1, 2])
    report = archive.verify()  # reconciles: a listed segment gets indexed
    assert report.ok, report.problems
    assert report.orphans == ([segment_name(2)] if step == "segment" else [])
    with database.connect() as conn:
        found = archived_stream_ids(conn, killed)
    assert found == (set() if step == "segment" else killed)
    after = [ArchivedEvent(uuid.uuid4(), 1, "t:E", b"later", 9)]
    info = archive.append_segment(after)
    assert info.number == (2 if step == "segment" else 3)
    assert archive.read_segment(info.number) == after
    assert archive.verify().ok and archive.verify().orphans == []


def test_killed_at_random_moments(settings: Settings, database: Database) -> None:
    _first_segment(settings, database)
    rng = random.Random(14)
    for round_ in range(4):
        child = _child(settings, "never", seed=100 * (round_ + 1))
        line = child.stdout.readline() if child.stdout else ""
        assert line.startswith("appended"), child.communicate()
        time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
        report = open_archive(settings, database).verify()
        assert report.ok, report.problems
    archive = open_archive(settings, database)
    segments = list(archive.segments())
    assert len(segments) >= 5
    for info in segments:
        assert len(archive.read_segment(info.number)) == info.events
