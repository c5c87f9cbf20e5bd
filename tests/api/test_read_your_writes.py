"""A mutation answers once the read models it names have reached its notification id, or
after ``read_wait_seconds`` at the latest."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from starlette.testclient import TestClient

from api.helpers import TODAY
from ledger_collect.api.context import Context, Loaders
from ledger_collect.api.permissions import Role, User
from ledger_collect.api.runner import wait_for_read_models
from ledger_collect.app import create_api
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database


@pytest.fixture
def context(api_settings: Settings, database: Database) -> Iterator[tuple[TestClient, Context]]:
    settings = api_settings.with_changes(read_wait_seconds=1.0)
    with database.connect() as conn:  # the projection runner's table (migrations/0003)
        conn.execute("CREATE TABLE IF NOT EXISTS projection_positions (name text PRIMARY KEY,"
                     " position bigint NOT NULL DEFAULT 0, checksum text NOT NULL,"
                     " updated_at timestamptz NOT NULL DEFAULT now())")
        conn.execute("INSERT INTO projection_positions (name, position, checksum) VALUES"
                     " ('open_items', 7, 'x'), ('worklist', 3, 'x')")
    with TestClient(create_api(settings, database, today=lambda: TODAY)) as client:
        state = client.app.state  # type: ignore[attr-defined]
        yield client, Context(user=User("root", Role.ADMIN), collections=state.collections,
                              settings=settings, business_date=TODAY,
                              loaders=Loaders.for_request(state.collections, state.keyed_pool),
                              pool=state.pool, read_models=state.read_models)


def wait(client: TestClient, context: Context, position: int, *names: str) -> bool:
    assert client.portal is not None
    return client.portal.call(wait_for_read_models, context, position, names)  # type: ignore


def test_reached_models_answer_at_once(context: tuple[TestClient, Context]) -> None:
    started = time.monotonic()
    assert wait(*context, 7, "open_items") is True
    assert wait(*context, 3, "open_items", "worklist") is True
    assert time.monotonic() - started < 0.2


def test_a_model_behind_or_unknown_times_out(context: tuple[TestClient, Context]) -> None:
    started = time.monotonic()
    assert wait(*context, 4, "open_items", "worklist") is False
    assert wait(*context, 1, "timeline") is False
    assert 2.0 <= time.monotonic() - started < 3.5


def test_waits_for_the_model_to_catch_up(context: tuple[TestClient, Context],
                                         settings: Settings) -> None:
    def catch_up() -> None:
        time.sleep(0.1)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("UPDATE {} SET position = 9 WHERE name = 'worklist'").format(
                sql.Identifier(settings.schema, "projection_positions")))

    follower = threading.Thread(target=catch_up)
    follower.start()
    started = time.monotonic()
    assert wait(*context, 9, "worklist") is True
    assert 0.1 <= time.monotonic() - started < 1.0
    follower.join()
