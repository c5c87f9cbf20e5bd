"""What protects the server: operation limits, masked internal errors, concurrent writers."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg
import pytest
from psycopg import sql
from starlette.testclient import TestClient

from api.helpers import TODAY, Api, Portfolio
from ledger_collect.api.schema import MAX_ALIASES, MAX_TOKENS, make_schema
from ledger_collect.app import create_api
from ledger_collect.config import Settings
from ledger_collect.speedups import documents
from ledger_collect.storage.database import Database


def test_too_many_aliases_are_refused_before_execution(api: Api) -> None:
    allowed = " ".join(f"a{i}: me {{ id }}" for i in range(MAX_ALIASES))
    assert len(api.data(f"{{ {allowed} }}")) == MAX_ALIASES
    for _ in range(2):  # the second time from the validation cache
        response = api.post(f"{{ {allowed} one_more: me {{ id }} }}")
        assert response.status_code == 400
        assert response.json()["errors"][0]["message"] == (
            f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}")


def test_too_long_a_document_is_refused(api: Api) -> None:
    response = api.post("{ me { " + "id " * MAX_TOKENS + "} }")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == (
        f"Syntax Error: Document contains more than {MAX_TOKENS} tokens. Parsing aborted.")


def test_too_deep_a_query_is_refused(api_settings: Settings, database: Database,
                                     portfolio: Portfolio) -> None:
    schema = make_schema(max_depth=1, speedups=api_settings.speedups)
    app = create_api(api_settings, database, today=lambda: TODAY, schema=schema)
    api = Api(TestClient(app), api_settings)
    with api.client:
        north = {"id": str(portfolio.north)}
        shallow = api.data("query($id: UUID!) { customer(id: $id) { number } me { id } }", north)
        assert shallow == {"customer": {"number": "C-1"}, "me": {"id": "root"}}
        response = api.post("query Overview($id: UUID!) { customer(id: $id) { number "
                            "contacts { contactId } } }", north)
        assert response.status_code == 400
        assert response.json()["errors"][0]["message"] == (
            "'Overview' exceeds maximum operation depth of 1")


def test_internal_errors_are_masked_and_logged_with_an_id(
        api: Api, portfolio: Portfolio, settings: Settings,
        caplog: pytest.LogCaptureFixture) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:  # an outage
        conn.execute(sql.SQL("ALTER TABLE {}.customers RENAME TO gone").format(
            sql.Identifier(settings.schema)))
    with caplog.at_level(logging.ERROR, logger="ledger_collect.api"):
        response = api.post("query($id: UUID!) { customer(id: $id) { number } }",
                            {"id": str(portfolio.north)})
    assert response.status_code == 200
    body = response.json()
    [error] = body["errors"]
    error_id = error["extensions"]["errorId"]
    assert error == {
        "message": f"Internal server error (id {error_id}). It has been logged; quote the id "
                   f"when reporting it.",
        "locations": [{"line": 1, "column": 21}], "path": ["customer"],
        "extensions": {"code": "INTERNAL_SERVER_ERROR", "errorId": error_id}}
    assert '"customers"' not in response.text
    [record] = [r for r in caplog.records if error_id in r.getMessage()]
    assert "user root" in record.getMessage()
    assert '"customers"' in record.getMessage() + str(record.exc_info)


def test_concurrent_changes_to_one_invoice_one_wins_the_other_gets_conflict(
        api: Api, portfolio: Portfolio, settings: Settings) -> None:
    """Both requests load the invoice while the event table is locked, then both try to save
    its next version: exactly one may."""
    query = """mutation($input: RecordPromiseInput!) { recordPromise(input: $input) {
        __typename ... on Problem { code message } } }"""
    answers: list[dict[str, Any]] = []

    def promise(amount: str) -> None:
        answers.append(api.data(query, {"input": {
            "invoiceId": str(portfolio.north_invoice), "amount": amount,
            "promisedDate": "2026-12-01"}}, user="alice")["recordPromise"])

    events = sql.Identifier(settings.schema, "collections_events")
    with psycopg.connect(settings.database_url) as locker:
        locker.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(events))
        threads = [threading.Thread(target=promise, args=(a,)) for a in ("100", "200")]
        for thread in threads:
            thread.start()
        _wait_for_lock_waiters(locker, 2)
        locker.commit()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(answer["__typename"] for answer in answers) == ["Conflict", "PromiseRecorded"]
    [conflict] = [answer for answer in answers if answer["__typename"] == "Conflict"]
    assert conflict["code"] == "CONFLICT"
    assert conflict["message"].startswith("someone else changed this record at the same moment")


def _wait_for_lock_waiters(conn: psycopg.Connection[Any], count: int) -> None:
    deadline = time.monotonic() + 4  # below the 5 s lock timeout of the writers
    with psycopg.connect(conn.info.dsn, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND "
                                      "locktype = 'relation'").fetchone()
            if waiting and waiting[0] >= count:
                return
            time.sleep(0.01)
    raise AssertionError(f"expected {count} writers waiting for the table lock")


def test_a_query_text_is_validated_once(fast_api: Api,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    validated: list[Any] = []
    original = documents.validate_document

    def counting(schema: Any, document: Any, rules: Any) -> Any:
        validated.append(rules)
        return original(schema, document, rules)

    monkeypatch.setattr(documents, "validate_document", counting)
    query = "query Me($with: Boolean!) { me { id role @include(if: $with) } }"
    for shown in (True, False, True):
        assert fast_api.data(query, {"with": shown})["me"] == (
            {"id": "root", "role": "ADMIN"} if shown else {"id": "root"})
    assert len(validated) == 1  # then from the cache, whatever the variables
    assert fast_api.data("{ me { id } }")["me"]["id"] == "root"
    assert len(validated) == 2  # another text: validated
    # with the depth and alias limits among the rules, every time the same rule classes
    assert validated[0] == validated[1] and any("Depth" in r.__name__ for r in validated[0])
