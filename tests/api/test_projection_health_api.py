"""What the API says about the read models: ``/health`` (unauthenticated, cheap) and
``projectionStatus``. A failing model leaves the API serving — 200, "degraded", the model's
state, position, lag and error — and only a database the API cannot reach is a 503."""

from __future__ import annotations

import pytest

from api.helpers import Api, Portfolio
from ledger_collect.commands.application import Collections
from ledger_collect.projections import select
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.failures import ModelFailedError
from ledger_collect.storage.database import Database

MODELS = [cls.name for cls in select()]
STATUS = "{ projectionStatus { name state position lag error failedNotification attempts" \
         " failedAt } }"


def test_health_shows_every_model_current(api: Api, app: Collections,
                                          portfolio: Portfolio) -> None:
    catch_up(app)
    response = api.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]) == ("ok", "ok")
    assert {name: (m["status"], m["lag"]) for name, m in body["projections"].items()} == {
        name: ("current", 0) for name in MODELS}


def test_a_failing_model_is_shown_and_the_api_goes_on_serving(
        api: Api, app: Collections, database: Database, portfolio: Portfolio) -> None:
    with database.connect() as conn:  # an invoice's first event, damaged in the store
        broken = conn.execute(
            "SELECT max(notification_id) FROM collections_events WHERE topic = %s",
            ("ledger_collect.Invoice.Posted",)).fetchone()[0]
        conn.execute("UPDATE collections_events SET state = %s WHERE notification_id = %s",
                     (b"{not json", broken))
    with pytest.raises(ModelFailedError, match=f"failed at notification {broken}"):
        catch_up(app)
    response = api.client.get("/health")
    assert response.status_code == 200  # reads may be late, the API still serves
    body = response.json()
    assert (body["status"], body["database"]) == ("degraded", "ok")
    open_items = body["projections"]["open_items"]
    assert open_items["status"] == "failing" and open_items["position"] < broken
    assert open_items["lag"] > 0 and open_items["failedNotification"] == broken
    assert open_items["error"].startswith("MapperDeserialisationError")
    assert open_items["attempts"] == 1 and open_items["failedAt"]
    assert body["projections"]["customers"]["status"] == "current"  # no invoice events

    states = {s["name"]: s for s in api.data(STATUS)["projectionStatus"]}
    assert states["open_items"]["state"] == "failing"
    assert states["open_items"]["failedNotification"] == broken
    assert states["open_items"]["error"] == open_items["error"]
    assert states["open_items"]["position"] == open_items["position"]
    assert (states["customers"]["state"], states["customers"]["error"]) == ("current", None)
