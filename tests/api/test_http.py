"""GraphQL over HTTP: authentication, methods, media types and status codes."""

from __future__ import annotations

import json
from datetime import timedelta

import jwt
from starlette.testclient import TestClient

from api.helpers import SECRET, TODAY, Api, Portfolio
from ledger_collect.api.auth import issue_token
from ledger_collect.app import create_api
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database

ME = "{ me { id role segments } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def test_health_needs_no_token_and_checks_the_database(api: Api) -> None:
    response = api.client.get("/health")
    assert response.status_code == 200
    body = response.json()  # no read model built yet: the API serves, degraded
    assert (body["status"], body["database"]) == ("degraded", "ok")
    assert {m["status"] for m in body["projections"].values()} == {"not built"}


def test_no_token_is_401_with_a_bearer_challenge(api: Api) -> None:
    response = api.post(ME, user=None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="ledger-collect"'
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Authorization: Bearer" in error["message"]


def test_bad_tokens_are_401(api: Api, api_settings: Settings) -> None:
    forged = issue_token(api_settings.with_changes(jwt_secret="x" * 40), "alice", "admin")
    expired = issue_token(api_settings, "alice", "specialist", ["north"], ttl=-10)
    unknown_role = jwt.encode({"sub": "alice", "role": "king", "iss": "ledger-collect",
                               "iat": 1, "exp": 4102444800}, SECRET, algorithm="HS256")
    for header, words in ((f"Bearer {forged}", "Signature verification failed"),
                          (f"Bearer {expired}", "expired"),
                          (f"Bearer {unknown_role}", "unknown role 'king'"),
                          ("Basic YWxpY2U6c2VjcmV0", "must be 'Bearer <token>'"),
                          ("Bearer not.a.jwt", "not valid")):
        response = api.post(ME, user=None, headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.headers["www-authenticate"].startswith(
            'Bearer realm="ledger-collect", error="invalid_token", error_description="'), header
        assert words in response.json()["errors"][0]["message"], header


def test_a_token_names_the_user_role_and_segments(api: Api) -> None:
    assert api.data(ME, user="alice") == {
        "me": {"id": "alice", "role": "SPECIALIST", "segments": ["north"]}}


def test_query_over_get_is_served(api: Api) -> None:
    response = api.client.get("/graphql", params={"query": ME}, headers={
        "Authorization": f"Bearer {api.token('bob')}", "Accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {"data": {"me": {"id": "bob", "role": "SPECIALIST",
                                               "segments": ["south"]}}}


def test_mutation_over_get_is_405_and_nothing_is_saved(api: Api, portfolio: Portfolio) -> None:
    mutation = "mutation($id: UUID!) { unassignCustomer(input: {customerId: $id}) { __typename } }"
    variables = json.dumps({"id": str(portfolio.north)})
    response = api.client.get("/graphql", params={"query": mutation, "variables": variables},
                              headers={"Authorization": f"Bearer {api.token('root')}"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "mutations are not allowed when using GET" in response.json()["errors"][0]["message"]
    customer = api.data("query($id: UUID!) { customer(id: $id) { specialist } }",
                        {"id": str(portfolio.north)})
    assert customer == {"customer": {"specialist": "alice"}}


def test_other_methods_are_405(api: Api) -> None:
    response = api.client.put("/graphql", json={"query": ME},
                              headers={"Authorization": f"Bearer {api.token('root')}"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_the_client_chooses_the_media_type(api: Api) -> None:
    for accept, expected in (
            (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
            ("application/json", "application/json"),
            (f"application/json;q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
            ("*/*", "application/json"),
            ("text/html, application/json;q=0.9", "application/json")):
        response = api.post(ME, headers={"Accept": accept})
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == f"{expected}; charset=utf-8", accept
    response = api.post(ME, headers={"Accept": "text/plain"})
    assert response.status_code == 406


def test_request_errors_are_400_without_data_under_the_new_media_type(api: Api) -> None:
    response = api.post("{ me { nosuchfield } }")
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert "Cannot query field 'nosuchfield'" in body["errors"][0]["message"]
    legacy = api.post("{ me { nosuchfield } }", headers={"Accept": "application/json"})
    assert legacy.status_code == 200
    assert "data" not in legacy.json()
    syntax = api.post("{ me { id ")
    assert syntax.status_code == 400
    assert "Syntax Error" in syntax.json()["errors"][0]["message"]


def test_unparsable_body_is_400(api: Api) -> None:
    response = api.client.post("/graphql", content=b"{not json", headers={
        "Authorization": f"Bearer {api.token('root')}", "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "Unable to parse request body as JSON" in response.json()["errors"][0]["message"]


def test_graphiql_only_in_development(api_settings: Settings, database: Database) -> None:
    page = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    development = create_api(api_settings.with_changes(development=True), database,
                             today=lambda: TODAY)
    with TestClient(development) as client:
        response = client.get("/graphql", headers=page)
        assert response.status_code == 200
        assert "graphiql" in response.text.lower()
    production = create_api(api_settings, database, today=lambda: TODAY)
    token = issue_token(api_settings, "root", "admin", ttl=timedelta(minutes=1))
    with TestClient(production) as client:
        assert client.get("/graphql", headers=page).status_code == 401
        response = client.get("/graphql", headers={**page, "Authorization": f"Bearer {token}"})
        assert response.status_code == 404
