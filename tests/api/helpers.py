"""What the API tests share: who is who, the small portfolio, and a GraphQL client that speaks
as one of those people over real HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
from starlette.testclient import TestClient

from ledger_collect.api.auth import issue_token
from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import (
    create_activity,
    create_email,
    create_resubmission,
    open_dispute,
    record_contact,
)
from ledger_collect.commands.promise_commands import record_promise
from ledger_collect.config import Settings

TODAY = date(2026, 11, 23)
SECRET = "test-secret-of-at-least-thirty-two-bytes!"

#: Who is who in the tests: user -> (role, segments).
PEOPLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "alice": ("specialist", ("north",)),
    "anna": ("specialist", ("north",)),
    "bob": ("specialist", ("south",)),
    "sue": ("supervisor", ("north",)),
    "audrey": ("auditor", ()),
    "carl": ("compliance", ()),
    "erp": ("integration", ()),
    "root": ("admin", ()),
}


@dataclass
class Portfolio:
    """C-1 (north, assigned to alice, one contact person, one note), C-2 (south): one open
    invoice each, due ten days ago."""

    north: UUID
    south: UUID
    north_invoice: UUID
    south_invoice: UUID


class Api:
    """A GraphQL client speaking as one of ``PEOPLE``."""

    def __init__(self, client: TestClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def token(self, user: str) -> str:
        role, segments = PEOPLE[user]
        return issue_token(self.settings, user, role, list(segments), timedelta(minutes=5))

    def post(self, query: str, variables: dict[str, Any] | None = None, *,
             user: str | None = "root", headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {"Accept": "application/graphql-response+json"}
        if user is not None:
            sent["Authorization"] = f"Bearer {self.token(user)}"
        sent.update(headers or {})
        return self.client.post("/graphql", json={"query": query, "variables": variables or {}},
                                headers=sent)

    def data(self, query: str, variables: dict[str, Any] | None = None, *,
             user: str = "root") -> dict[str, Any]:
        """The response's data, after checking it came without any error."""
        response = self.post(query, variables, user=user)
        body = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body["errors"]
        return body["data"]  # type: ignore[no-any-return]

    def errors(self, query: str, variables: dict[str, Any] | None = None, *,
               user: str = "root") -> list[dict[str, Any]]:
        body = self.post(query, variables, user=user).json()
        assert body.get("errors"), body
        return body["errors"]  # type: ignore[no-any-return]


def when(days_ago: int = 1, actor: str = "alice") -> dict[str, Any]:
    return {"actor": actor, "business_date": TODAY - timedelta(days=days_ago)}


def casework(app: Collections, customer: Any, invoice: Any, tag: str, person: str) -> None:
    """One of each kind of casework on ``invoice`` of ``customer``."""
    app.run(record_contact, customer, channel="phone", result="promised", contact_person_id=person,
            summary=f"{tag}: will pay", **when())
    app.run(record_promise, invoice_id=invoice, amount=Decimal("100.00"),
            promised_date=TODAY + timedelta(days=7), **when())
    app.run(open_dispute, customer, [invoice], amount=Decimal("50.00"), reason="price",
            processor="alice", note=f"{tag}: price too high", **when())
    app.run(create_resubmission, customer, follow_up_date=TODAY + timedelta(days=3),
            reason=f"{tag}: call back", **when())
    app.run(create_activity, customer, specialist="alice", due_date=TODAY + timedelta(days=2),
            description=f"{tag}: check the delivery", **when())
    app.run(create_email, customer, to=[f"ap@{tag}.example"], template="reminder", **when())
