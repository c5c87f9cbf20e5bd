"""Publishing collection strategies over HTTP: a supervisor's segment, the admin's default
strategy, a bad rule refused with nothing stored, roll-back to an earlier version."""

from __future__ import annotations

from typing import Any

import pytest
from test_worklist_model import Book

from api.helpers import Api
from api.test_worklist_api import numbers, three, worklist
from ledger_collect.api import strategies_schema as strategies
from ledger_collect.commands.application import Collections
from ledger_collect.storage.database import Database

__all__ = ["three"]  # the fixture, used by name

PUBLISH = """mutation ($input: PublishCollectionStrategyInput!) { publishCollectionStrategy(input: $input) {
  __typename
  ... on StrategyPublished { strategy { code version segment active createdBy
                                        rules { name kind points atLeast riskClasses } } }
  ... on Problem { code message } } }"""
ACTIVATE = """mutation ($code: String!, $version: Int!) {
  activateCollectionStrategy(input: {code: $code, version: $version}) {
    __typename ... on StrategyActivated { strategy { code version active } }
    ... on Problem { code message } } }"""
VERSIONS = "query ($code: String) { collectionStrategies(code: $code) { code version active } }"
SMALL_FIRST = [{"name": "small first", "kind": "overdue_amount", "moreThan": "100.00",
                "points": -10}]


def publish(api: Api, user: str, **fields: Any) -> dict[str, Any]:
    response = api.post(PUBLISH, {"input": fields}, user=user).json()
    assert "errors" not in response, response
    return response["data"]["publishCollectionStrategy"]  # type: ignore[no-any-return]


def test_a_supervisor_publishes_their_segments_strategy(api: Api, app: Collections,
                                                       three: Book) -> None:
    assert numbers(worklist(api, app)) == ["BIG", "MID", "SMALL"]  # alice's, north
    rules = [{"name": "risky", "kind": "risk_class", "riskClasses": ["D"], "points": 50},
             *SMALL_FIRST]
    published = publish(api, "sue", code="north", segment="north", rules=rules,
                        description="small debts first, risky ones above all")
    assert published == {"__typename": "StrategyPublished", "strategy": {
        "code": "north", "version": 1, "segment": "north", "active": True, "createdBy": "sue",
        "rules": [{"name": "risky", "kind": "risk_class", "points": 50, "atLeast": None,
                   "riskClasses": ["D"]},
                  {"name": "small first", "kind": "overdue_amount", "points": -10,
                   "atLeast": None, "riskClasses": []}]}}
    ranked = worklist(api, app)
    assert [(n["number"], n["score"], n["strategyCode"]) for n in ranked["nodes"]] == [
        ("BIG", 40, "north"), ("SMALL", 0, "north"), ("MID", -10, "north")]
    again = publish(api, "sue", code="north", segment="north", rules=SMALL_FIRST)
    assert again["strategy"]["version"] == 2
    assert api.data(VERSIONS, {"code": "north"})["collectionStrategies"] == [
        {"code": "north", "version": 2, "active": True},
        {"code": "north", "version": 1, "active": False}]


def test_a_bad_rule_is_refused_and_nothing_is_stored(api: Api, three: Book) -> None:
    for rules, message in (
            ([{"name": "odd", "kind": "shoe_size", "points": 5, "atLeast": "1"}],
             "rule 'odd': kind 'shoe_size' is not one of"),
            ([{"name": "zero", "kind": "days_overdue", "points": 0, "atLeast": "30"}],
             "points must be a whole number from"),
            ([{"name": "both", "kind": "days_overdue", "points": 5, "atLeast": "30",
               "moreThan": "10"}], "needs exactly one of at_least or more_than"),
            ([], "a strategy needs a non-empty list of rules")):
        refused = publish(api, "sue", code="north", segment="north", rules=rules)
        assert refused["__typename"] == "RuleBroken" and refused["code"] == "STRATEGY_INVALID"
        assert message in refused["message"]
    assert api.data(VERSIONS, {"code": "north"})["collectionStrategies"] == []


def test_who_may_publish_what(api: Api) -> None:
    for user, segment, message in (
            ("sue", "south", ("may not publish collection strategies for customers of "
                             "segment south")),
            ("sue", None, "may not publish collection strategies for the default strategy"),
            ("alice", "north", "a user with role specialist may not publish"),
            ("audrey", "north", "a user with role auditor may not publish")):
        errors = api.errors(PUBLISH, {"input": {"code": "x", "segment": segment,
                                                "rules": SMALL_FIRST}}, user=user)
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
        assert message in errors[0]["message"]
    for user in ("sue", "alice"):
        errors = api.errors(ACTIVATE, {"code": "default", "version": 1}, user=user)
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert [v["version"] for v in api.data(VERSIONS, {"code": "default"})[
        "collectionStrategies"]] == [1]


def test_the_admin_changes_the_default_strategy_and_rolls_it_back(
        api: Api, app: Collections, three: Book) -> None:
    assert publish(api, "root", code="default", rules=SMALL_FIRST)["strategy"]["version"] == 2
    assert numbers(worklist(api, app)) == ["SMALL", "BIG", "MID"]
    rolled = api.data(ACTIVATE, {"code": "default", "version": 1})["activateCollectionStrategy"]
    assert rolled == {"__typename": "StrategyActivated",
                      "strategy": {"code": "default", "version": 1, "active": True}}
    assert numbers(worklist(api, app)) == ["BIG", "MID", "SMALL"]
    missing = api.data(ACTIVATE, {"code": "default", "version": 9})["activateCollectionStrategy"]
    assert missing == {"__typename": "NotFound", "code": "NOT_FOUND",
                       "message": "there is no version 9 of strategy default"}


def test_a_publication_that_waits_too_long_for_another_is_a_conflict(
        api: Api, database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strategies, "LOCK_WAIT", "200ms")
    with database.connect(autocommit=False) as other:  # another change, not yet committed
        other.execute("LOCK TABLE collection_strategies IN SHARE ROW EXCLUSIVE MODE")
        waited = publish(api, "sue", code="north", segment="north", rules=SMALL_FIRST)
    assert waited == {"__typename": "Conflict", "code": "CONFLICT", "message": (
        "another strategy change held the strategies for more than 200ms; try again")}
    assert publish(api, "sue", code="north", segment="north",
                   rules=SMALL_FIRST)["strategy"]["version"] == 1
