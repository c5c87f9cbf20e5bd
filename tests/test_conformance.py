"""The eventsourcing library's own persistence conformance cases, run on our PostgreSQL with our
settings.

The library proves its PostgreSQL recorders with these cases on a server it configures itself.
What we need to know is that they still hold on the server the suite uses (the embedded one by
default, the machine's server when LEDGER_TEST_DATABASE_URL is set) with the datastore built
exactly as ``Collections`` builds it: ``Database.eventsourcing_env()`` read by the library's own
factory (connect and lock timeouts of seconds, table lock on every write, never the
database-functions mode). Each test gets a fresh schema, dropped afterwards.

The cases are imported through their module (``conformance.ApplicationRecorderTestCase``) so
that pytest does not collect the abstract bases themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from eventsourcing.tests import persistence as conformance
from eventsourcing.utils import Environment
from psycopg import sql

from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database

POOL_SIZE = 12  # the concurrency cases run 10 writers and 2 readers at once


class OnOurPostgres:
    """Gives each test ``self.factory``: the library's PostgreSQL factory built from our
    application's settings, on a fresh schema of the suite's server."""

    migrated = False  # True: the tables come from migrations/, as in production
    factory: PostgresFactory
    database: Database

    @pytest.fixture(autouse=True)
    def _our_postgres(self, server_url: str) -> Iterator[None]:
        schema = f"conf_{uuid.uuid4().hex[:12]}"
        settings = Settings(database_url=server_url, schema=schema, pool_size=POOL_SIZE)
        self.database = Database(settings)
        if self.migrated:
            self.database.migrate()
        else:
            with self.database.connect() as conn:
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        env = Environment(Collections.name, self.database.eventsourcing_env())
        factory = InfrastructureFactory.construct(env)
        assert isinstance(factory, PostgresFactory)
        self.factory = factory
        try:
            yield
        finally:
            factory.close()
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )

    def application_recorder(self) -> PostgresApplicationRecorder:
        recorder = self.factory.application_recorder()
        assert isinstance(recorder, PostgresApplicationRecorder)
        if not self.migrated:
            recorder.create_table()
        return recorder


class ApplicationRecorderCases(OnOurPostgres):
    """Not a TestCase itself, so pytest collects only the two concrete classes below."""

    def create_recorder(self) -> PostgresApplicationRecorder:
        return self.application_recorder()

    def test_insert_subscribe(self) -> None:
        # Optional in the base class; our read models follow the store through subscriptions.
        self.optional_test_insert_subscribe()


class TestApplicationRecorder(
    ApplicationRecorderCases, conformance.ApplicationRecorderTestCase[Any]
):
    """Tables created by the library, as in its own suite."""


class TestApplicationRecorderOnMigratedTables(
    ApplicationRecorderCases, conformance.ApplicationRecorderTestCase[Any]
):
    """Tables created by migrations/0001_event_store.sql and the library told not to create any
    (CREATE_TABLE=n): our DDL must be what the library's recorder expects."""

    migrated = True


class TestNonInterleavingNotificationIDs(
    OnOurPostgres, conformance.NonInterleavingNotificationIDsBaseCase
):
    """Two concurrent saves get contiguous notification ids: what a tailing reader relies on
    not to skip an event (the guarantee the database-functions mode would lose)."""

    migrated = True

    def create_recorder(self) -> PostgresApplicationRecorder:
        return self.application_recorder()


class TestTrackingRecorder(OnOurPostgres, conformance.TrackingRecorderTestCase):
    def create_recorder(self) -> PostgresTrackingRecorder:
        recorder = self.factory.tracking_recorder()
        recorder.create_table()
        return recorder


class TestProcessRecorder(OnOurPostgres, conformance.ProcessRecorderTestCase):
    def create_recorder(self) -> PostgresProcessRecorder:
        recorder = self.factory.process_recorder()
        assert isinstance(recorder, PostgresProcessRecorder)
        recorder.create_table()
        return recorder


class TestTheCasesRunWithOurSettings(OnOurPostgres):
    """The cases above prove something about production only if the datastore they got is
    configured like the application's; this pins that down."""

    def test_datastore_is_configured_like_the_application(self) -> None:
        datastore = self.factory.datastore
        settings = self.database.settings
        assert datastore.schema == settings.schema
        assert datastore.enable_db_functions is False
        assert datastore.lock_timeout == settings.lock_timeout == 5
        assert datastore.pool.timeout == settings.connect_timeout == 5
        assert datastore.pool.min_size == POOL_SIZE
        assert self.factory.env_create_table() is False
        with datastore.transaction(commit=False) as curs:
            curs.execute("SELECT current_setting('idle_in_transaction_session_timeout') AS t")
            row = curs.fetchone()
        assert row is not None
        assert row["t"] == "1min"
