"""`disputeTrail(disputeId, asOfVersion)` over HTTP: every event of a case in order with actor,
business date and record time, what each recorded, the case's state at any version, the notes
only for those who may see them, and clear answers for unknown cases and versions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from api.helpers import TODAY, Api, Portfolio
from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import (
    add_dispute_note,
    close_dispute,
    open_dispute,
    record_dispute_progress,
    resolve_dispute,
    start_dispute_processing,
)

QUERY = """
query ($id: UUID!, $version: Int) {
  disputeTrail(disputeId: $id, asOfVersion: $version) {
    __typename
    ... on Problem { code message }
    ... on DisputeTrail {
      disputeId customerId currentVersion
      events { version type topic actor businessDate recordedAt
               fields { name value } personalFields { name value } }
      state { version status resolution reason processor currency invoiceIds disputedAmount
              credited paid writtenOff stillDisputed openedOn resolvedOn closedOn notes { noteId text } }
    }
  }
}"""


def when(days_ago: int, actor: str) -> dict[str, Any]:
    return {"actor": actor, "business_date": TODAY - timedelta(days=days_ago)}


@pytest.fixture
def case(app: Collections, portfolio: Portfolio) -> UUID:
    """A dispute over C-1's invoice (segment north) through its whole life."""
    dispute = app.run(open_dispute, portfolio.north, [portfolio.north_invoice],
                      amount=Decimal("300.00"), reason="price", processor="pat",
                      note="unit price is wrong", **when(5, "alice")).result
    app.run(start_dispute_processing, dispute, **when(4, "pat"))
    app.run(record_dispute_progress, dispute, credited=Decimal("100.00"), **when(3, "pat"))
    app.run(add_dispute_note, dispute, "credit request sent", **when(3, "pat"))
    app.run(resolve_dispute, dispute, "accepted", credited=Decimal("50.00"), **when(2, "sue"))
    app.run(close_dispute, dispute, **when(1, "sue"))
    return dispute


def trail(api: Api, user: str, dispute: UUID | str,
          version: int | None = None) -> dict[str, Any]:
    return api.data(QUERY, {"id": str(dispute), "version": version},
                    user=user)["disputeTrail"]


def test_the_auditor_reads_every_event_in_order_with_who_when_and_what(
        api: Api, case: UUID, portfolio: Portfolio) -> None:
    found = trail(api, "audrey", case)
    assert found["__typename"] == "DisputeTrail" and found["currentVersion"] == 6
    assert found["customerId"] == str(portfolio.north)
    events = found["events"]
    assert [(e["version"], e["type"], e["actor"], e["businessDate"]) for e in events] == [
        (1, "Opened", "alice", "2026-11-18"), (2, "ProcessingStarted", "pat", "2026-11-19"),
        (3, "ProgressRecorded", "pat", "2026-11-20"), (4, "NoteAdded", "pat", "2026-11-20"),
        (5, "Resolved", "sue", "2026-11-21"), (6, "Closed", "sue", "2026-11-22")]
    recorded = [e["recordedAt"] for e in events]
    assert recorded == sorted(recorded) and all(r.startswith("20") for r in recorded)
    assert events[0]["topic"] == "ledger_collect.DisputeCase.Opened"
    opened = {f["name"]: f["value"] for f in events[0]["fields"]}
    assert opened == {"amount": "300.00", "currency": "EUR", "customer_id": str(portfolio.north),
                      "invoice_ids": f'["{portfolio.north_invoice}"]', "processor": "pat",
                      "reason": "price"}
    assert events[0]["personalFields"] == [{"name": "note", "value": "unit price is wrong"}]
    assert {f["name"]: f["value"] for f in events[4]["fields"]} == {
        "credited": "50.00", "customer_id": str(portfolio.north), "paid": "0.00",
        "resolution": "accepted", "written_off": "0.00"}
    assert events[3]["personalFields"] == [{"name": "text", "value": "credit request sent"}]
    assert found["state"] == {
        "version": 6, "status": "closed", "resolution": "accepted", "reason": "price",
        "processor": "pat", "currency": "EUR", "invoiceIds": [str(portfolio.north_invoice)],
        "disputedAmount": "300.00", "credited": "150.00", "paid": "0.00",
        "writtenOff": "0.00", "stillDisputed": "150.00", "openedOn": "2026-11-18",
        "resolvedOn": "2026-11-21", "closedOn": "2026-11-22",
        "notes": [{"noteId": "opening", "text": "unit price is wrong"},
                  {"noteId": found["state"]["notes"][1]["noteId"],
                   "text": "credit request sent"}]}
    assert len(found["state"]["notes"][1]["noteId"]) == 32


@pytest.mark.parametrize(("version", "status", "credited", "still", "notes"), [
    (1, "open", "0.00", "300.00", ["unit price is wrong"]),
    (3, "in_process", "100.00", "200.00", ["unit price is wrong"]),
    (4, "in_process", "100.00", "200.00", ["unit price is wrong", "credit request sent"]),
    (5, "resolved", "150.00", "150.00", ["unit price is wrong", "credit request sent"]),
])
def test_the_case_as_it_stood_at_a_version(api: Api, case: UUID, version: int, status: str,
                                           credited: str, still: str,
                                           notes: list[str]) -> None:
    found = trail(api, "audrey", case, version)
    assert found["currentVersion"] == 6
    assert [e["version"] for e in found["events"]] == list(range(1, version + 1))
    state = found["state"]
    assert (state["version"], state["status"], state["credited"], state["stillDisputed"],
            [n["text"] for n in state["notes"]]) == (version, status, credited, still, notes)


def test_another_segments_specialist_reads_the_trail_without_its_notes(
        api: Api, case: UUID) -> None:
    response = api.post(QUERY, {"id": str(case)}, user="bob")
    body = response.json()
    found = body["data"]["disputeTrail"]
    assert [e["type"] for e in found["events"]][:2] == ["Opened", "ProcessingStarted"]
    assert found["events"][0]["personalFields"] == [{"name": "note", "value": None}]
    assert [n["text"] for n in found["state"]["notes"]] == [None, None]
    assert found["state"]["stillDisputed"] == "150.00"
    denied = sorted(".".join(map(str, e["path"])) for e in body["errors"])
    assert denied == ["disputeTrail.events.0.personalFields.0.value",
                      "disputeTrail.events.3.personalFields.0.value",
                      "disputeTrail.state.notes.0.text", "disputeTrail.state.notes.1.text"]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert "unit price" not in response.text and "credit request" not in response.text


@pytest.mark.parametrize("user", ["alice", "sue", "root"])
def test_those_who_see_the_segments_personal_data_read_the_notes(api: Api, case: UUID,
                                                                 user: str) -> None:
    notes = trail(api, user, case)["state"]["notes"]
    assert [n["text"] for n in notes] == ["unit price is wrong", "credit request sent"]


def test_unknown_cases_and_versions_are_clear_answers(api: Api, case: UUID,
                                                      portfolio: Portfolio) -> None:
    stranger = "00000000-0000-0000-0000-000000000009"
    assert trail(api, "audrey", stranger) == {
        "__typename": "NotFound", "code": "NOT_FOUND",
        "message": f"dispute {stranger} does not exist"}
    assert trail(api, "audrey", portfolio.north_invoice)["__typename"] == "NotFound"
    for version in (0, 7):
        assert trail(api, "audrey", case, version) == {
            "__typename": "RuleBroken", "code": "INVALID",
            "message": f"dispute {case} has versions 1 to 6; there is no version {version}"}


def test_a_case_still_open_has_a_short_trail(api: Api, app: Collections,
                                             portfolio: Portfolio) -> None:
    dispute = app.run(open_dispute, portfolio.south, [portfolio.south_invoice],
                      amount=Decimal("10.00"), reason="quantity", processor="bob",
                      **when(0, "bob")).result
    found = trail(api, "bob", dispute)
    assert [e["type"] for e in found["events"]] == ["Opened"]
    assert found["events"][0]["personalFields"] == [{"name": "note", "value": None}]
    assert found["state"]["status"] == "open" and found["state"]["notes"] == []
