"""What the benchmarks share: a fresh store to measure on, and how figures are printed.

The store is the one the program itself would use: the embedded PostgreSQL in LEDGER_DATA_DIR
when LEDGER_DATABASE_URL is not set, else that server. Each run gets a schema of its own,
migrated as in production and dropped at the end (``--keep`` keeps it), so runs never see
each other's events. Without LEDGER_MASTER_KEY an ephemeral master key seals the (generated)
personal data: nothing the benchmark writes is meant to be read again.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from ledger_collect.app import open_database
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database, redact


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--keep", action="store_true",
                        help="keep the benchmark's schema instead of dropping it at the end")
    return parser


@contextmanager
def fresh_store(prefix: str, *, keep: bool = False) -> Iterator[Database]:
    """A migrated, empty schema on the configured (or embedded) PostgreSQL."""
    base = Settings.from_env()
    settings = base.with_changes(
        schema=f"{prefix}_{uuid.uuid4().hex[:8]}",
        master_key=base.master_key or base64.b64encode(os.urandom(32)).decode(),
    )
    with open_database(settings, migrate=True) as database:
        where = redact(database.url) if settings.database_url else (
            f"embedded PostgreSQL in {settings.data_dir}")
        print(f"store: {where}, schema {settings.schema}")
        print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
        try:
            yield database
        finally:
            if not keep:
                _drop_schema(database)


def _drop_schema(database: Database) -> None:
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            sql.Identifier(database.schema)))


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values."""
    rank = max(1, -(-len(sorted_values) * fraction // 1))  # ceil(n * fraction), at least 1
    return sorted_values[int(rank) - 1]
