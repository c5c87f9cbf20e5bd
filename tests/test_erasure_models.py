"""Read models forget an erased customer at once: a live follower shows the personal fields
erased within a second, amounts and dates unchanged, and every model equals its rebuild."""

from __future__ import annotations

import threading
import time

from model_helpers import TODAY, head, positions, rows, write_casework
from psycopg import sql

from ledger_collect.commands.application import Collections
from ledger_collect.compliance.erasure import erase_customer
from ledger_collect.domain.base import ERASED, derived_id
from ledger_collect.projections import select
from ledger_collect.projections.engine import build, catch_up
from ledger_collect.projections.live import follow

#: Per table, the personal columns and the columns that must not change.
PERSONAL = {
    "contact_persons": ("name", "email", "phone"), "customer_notes": ("text",),
    "promises": ("withdrawal_reason",), "resubmissions": ("reason", "move_reason"),
    "activities": ("description", "closing_note"), "dispute_notes": ("text",),
    "collection_emails": ("template", "last_error"),
    "customer_contacts": ("contact_person_id", "summary", "notes"), "timeline": ("personal",),
    "dunning_blocks": ("reason",)}
KEPT = {"promises": ("amount", "paid_amount", "promised_date", "status"),
        "timeline": ("amount", "occurred", "type", "event"),
        "collection_emails": ("status", "created_on"), "activities": ("due_date", "status")}


def _rows(database, table: str, customer_id, columns) -> list[tuple]:
    with database.connect() as conn:
        return conn.execute(sql.SQL("SELECT {} FROM {} WHERE customer_id = %s ORDER BY {}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table),
            sql.Identifier("seq" if table == "timeline" else "id")), (customer_id,)).fetchall()


def test_live_models_forget_within_a_second_and_equal_their_rebuild(app, database):
    write_casework(app, 12, seed=3)
    catch_up(app)
    customer = derived_id("customer", "K3-0004")
    other = derived_id("customer", "K3-0005")
    before = {t: _rows(database, t, customer, PERSONAL[t] + KEPT.get(t, ())) for t in PERSONAL}
    others = {t: _rows(database, t, other, PERSONAL[t]) for t in PERSONAL}
    assert sum(len(rows) for rows in before.values()) > 10
    names = [cls.name for cls in select()]
    stop = threading.Event()
    follower = threading.Thread(target=follow, args=(Collections(database), stop, names))
    follower.start()
    try:
        erase_customer(app, customer, "GDPR Art. 17(1)(a)", "carol", today=TODAY)
        erased_at, last = time.monotonic(), head(database)
        while min(positions(database, names).values()) < last:
            assert time.monotonic() - erased_at < 1.0, positions(database, names)
            time.sleep(0.01)
    finally:
        stop.set()
        follower.join(timeout=10)
    for table, columns in PERSONAL.items():
        after = _rows(database, table, customer, columns + KEPT.get(table, ()))
        assert len(after) == len(before[table]), table
        for old, new in zip(before[table], after, strict=True):
            for i, column in enumerate(columns):
                assert new[i] == (None if old[i] is None else ERASED), (table, column)
            assert new[len(columns):] == old[len(columns):], table
        assert _rows(database, table, other, columns) == others[table], table
    for cls in select():
        assert_rebuild_equal(app, database, cls)


def assert_rebuild_equal(app, database, cls) -> None:
    """The model's tables, caches aside (a snapshot's build time), equal a fresh build's."""
    tables = [t.name for t in cls.declared] or list(cls.tables)
    live = rows(database, cls.name)
    other = f"{database.schema}_eq"
    try:
        build(app, cls.name, other)
        rebuilt = rows(database, cls.name, other)
    finally:
        with database.connect() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(other)))
    for table in tables:
        assert live[table] == rebuilt[table], (cls.name, table)


def test_every_event_still_loads_after_erasure(app, database):
    write_casework(app, 4, seed=5)
    catch_up(app)
    customer = derived_id("customer", "K5-0001")
    erase_customer(app, customer, "GDPR Art. 17(1)(a)", "carol", today=TODAY)
    fresh = Collections(database)
    try:
        with database.connect() as conn:
            ids = [r[0] for r in conn.execute(
                "SELECT DISTINCT originator_id FROM collections_events").fetchall()]
        loaded = fresh.load_aggregates(ids)
        assert set(loaded) == set(ids)
        for aggregate_id in ids:
            fresh.repository.get(aggregate_id)
    finally:
        fresh.close()
