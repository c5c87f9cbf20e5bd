"""The HTTP edge: what a request may bring (body, strings, media types), what an error may echo,
and that no query — however large — fills a worker's memory or holds up the others."""

from __future__ import annotations

import gc
import json
import socket
import threading
import time
from collections.abc import Iterator
from uuid import uuid4

import jwt
import pytest
import uvicorn
from graphql import Source
from starlette.testclient import TestClient

from api.helpers import SECRET, TODAY, Api, Portfolio
from ledger_collect.api.auth import issue_token
from ledger_collect.api.limits import ECHO_LENGTH, MAX_STRING_LENGTH
from ledger_collect.api.memos import HELD, HELD_BYTES
from ledger_collect.api.schema import MAX_ALIASES, MAX_TOKENS, make_schema
from ledger_collect.api.schema import schema as default_schema
from ledger_collect.app import create_api
from ledger_collect.config import Settings
from ledger_collect.speedups import Speedups
from ledger_collect.speedups.documents import CACHED_DOCUMENT_LENGTH, PARSED_BYTES
from ledger_collect.storage.database import Database

ME = "query Edge { me { id } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.fixture
def small_bodies(api_settings: Settings, database: Database) -> Iterator[Api]:
    """The API accepting bodies of at most 10,000 bytes."""
    settings = api_settings.with_changes(max_body_bytes=10_000)
    with TestClient(create_api(settings, database, today=lambda: TODAY)) as client:
        yield Api(client, settings)


def test_the_body_limit_is_a_megabyte_unless_configured() -> None:
    assert Settings().max_body_bytes == 1_048_576
    assert Settings.from_env({"LEDGER_MAX_BODY_BYTES": "2000000"}).max_body_bytes == 2_000_000


def test_a_body_beyond_the_limit_is_413_whatever_it_holds(small_bodies: Api) -> None:
    empty = json.dumps({"query": ME, "variables": {"p": ""}}, separators=(",", ":"))
    padding = "x" * (10_000 - len(empty))  # the body as the client sends it: compact JSON
    exactly = small_bodies.post(ME, {"p": padding})
    assert exactly.status_code == 200, exactly.text  # 10,000 bytes: at the limit
    response = small_bodies.post(ME, {"p": padding + "x"})  # 10,001 bytes
    assert response.status_code == 413
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    [error] = response.json()["errors"]
    assert error == {"message": "the request body is larger than 10000 bytes, the most this "
                                "server accepts (LEDGER_MAX_BODY_BYTES)",
                     "extensions": {"code": "PAYLOAD_TOO_LARGE"}}


def test_a_body_in_chunks_without_a_length_is_413_beyond_the_limit(small_bodies: Api) -> None:
    def chunks(size: int) -> Iterator[bytes]:
        body = b'{"query": "' + b" " * size + b'{ me { id } }"}'
        for start in range(0, len(body), 1000):
            yield body[start:start + 1000]

    headers = {"Authorization": f"Bearer {small_bodies.token('root')}",
               "Content-Type": "application/json"}
    fits = small_bodies.client.post("/graphql", content=chunks(5_000), headers=headers)
    assert fits.status_code == 200, fits.text
    response = small_bodies.client.post("/graphql", content=chunks(20_000), headers=headers)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


def test_form_posts_are_told_which_content_types_are_accepted(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token('root')}"}
    form = api.client.post("/graphql", data={"query": ME}, headers=headers)
    multipart = api.client.post("/graphql", files={"query": ("q.graphql", ME.encode())},
                                headers=headers)
    text = api.client.post("/graphql", content=ME.encode(),
                           headers={**headers, "Content-Type": "text/plain"})
    for response in (form, multipart, text):
        assert response.status_code == 415, response.request.headers["content-type"]
        assert response.headers["accept-post"] == "application/json"
        [error] = response.json()["errors"]
        assert error["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}
        assert "send a POST body as application/json" in error["message"]
        assert f"answers come as {GRAPHQL_RESPONSE} or application/json" in error["message"]


def test_a_string_literal_beyond_the_limit_is_bad_user_input(api: Api) -> None:
    def type_named(name: str) -> str:
        return f'{{ __type(name: "{name}") {{ name }} }}'

    assert api.data(type_named("a" * MAX_STRING_LENGTH)) == {"__type": None}
    response = api.post(type_named("a" * (MAX_STRING_LENGTH + 1)))
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["message"] == (f"A string in the query document is {MAX_STRING_LENGTH + 1} "
                                f"characters long; at most {MAX_STRING_LENGTH} are accepted")
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}


def test_a_variable_string_beyond_the_limit_is_bad_user_input(api: Api) -> None:
    query = "query($s: String!) { __type(name: $s) { name } }"
    assert api.data(query, {"s": "a" * MAX_STRING_LENGTH}) == {"__type": None}
    response = api.post(query, {"s": "a" * (MAX_STRING_LENGTH + 1)})
    assert response.status_code == 400
    assert response.json() == {"errors": [{
        "message": f"Variable '$s' holds a string of {MAX_STRING_LENGTH + 1} characters; at "
                   f"most {MAX_STRING_LENGTH} are accepted",
        "extensions": {"code": "BAD_USER_INPUT"}}]}
    nested = api.post("mutation($i: CreateEmailInput!) { createEmail(input: $i) { "
                      "__typename } }", {"i": {"to": ["b" * (MAX_STRING_LENGTH + 1)]}})
    assert nested.json()["errors"][0]["message"].startswith("Variable '$i' holds a string")


def test_every_limit_error_has_a_code(api_settings: Settings, database: Database) -> None:
    aliases = " ".join(f"a{i}: me {{ id }}" for i in range(MAX_ALIASES + 1))
    schema = make_schema(max_depth=2, speedups=api_settings.speedups)
    app = create_api(api_settings, database, today=lambda: TODAY, schema=schema)
    with TestClient(app) as client:
        api = Api(client, api_settings)
        for query, words in ((f"{{ {aliases} }}", "aliases found"),
                             ("{ customers { nodes { contacts { contactId } } } }",
                              "exceeds maximum operation depth of 2"),
                             ("{ me { " + "id " * MAX_TOKENS + "} }",
                              f"Document contains more than {MAX_TOKENS} tokens")):
            response = api.post(query)
            assert response.status_code == 400, query
            [error] = response.json()["errors"]
            assert words in error["message"]
            assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX"}


def test_errors_echo_at_most_a_short_prefix_of_the_input(api: Api) -> None:
    long = "z" * 50_000
    echoed = "z" * ECHO_LENGTH + "…"
    for query, variables, words in (
            (f"{{ me {{ {long} }} }}", None, f"Cannot query field '{echoed}' on type"),
            (f'{{ customer(id: "{long}") {{ number }} }}', None,
             f'Value cannot represent a UUID: "{echoed}"'),
            ("query($id: UUID!) { customer(id: $id) { number } }", {"id": long},
             f'Variable \'$id\' has invalid value: Value cannot represent a UUID: "{echoed}"')):
        response = api.post(query, variables)
        [error] = response.json()["errors"]
        assert words in error["message"]
        assert len(error["message"]) < 300, error["message"][:300]
        assert len(response.content) < 1000


def _large_sources(prefix: str) -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, Source)
               and len(o.body) > CACHED_DOCUMENT_LENGTH and o.body.startswith(prefix))


def test_long_documents_are_not_kept_after_their_request(api: Api,
                                                         portfolio: Portfolio) -> None:
    """Counted once the threads that parsed and validated them have returned: such a thread
    still holds its document in its frame until it has handed its result to the event loop,
    which may answer the request first (on a loaded machine the thread then waits for the
    interpreter's lock, for a moment). A document kept beyond that is kept for good."""
    prefix = f"# long document {uuid4()} "  # this test's documents, no other's
    for number in range(15):  # distinct, each above what is cached, below the body limit
        comment = f"{prefix}{number} " + "x" * 200_000 + "\n"
        assert api.data(comment + ME) == {"me": {"id": "root"}}
        assert api.data(comment + "{ customers { pageInfo { hasNextPage } } }")["customers"]
    deadline = time.monotonic() + 5.0
    while True:
        gc.collect()
        kept = _large_sources(prefix)
        if kept == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # lets a thread that has answered return
    assert kept == 0


def test_kept_documents_are_bounded_by_their_size(fast_api: Api) -> None:
    documents = default_schema.documents
    sizes = []
    for number in range(40):  # each about 3 MB once parsed: they cannot all be kept
        comment = f"# {number} " + "x" * (CACHED_DOCUMENT_LENGTH - 100) + "\n"
        assert fast_api.data(comment + ME) == {"me": {"id": "root"}}
        sizes.append(documents.parsed.total_bytes)
    assert max(sizes) <= PARSED_BYTES
    assert 0 < len(documents.parsed) < 40
    assert documents.validated.total_bytes <= documents.validated.max_bytes
    assert 0 < HELD.total_bytes <= HELD_BYTES


def test_a_long_query_does_not_hold_up_the_others(api_settings: Settings,
                                                   database: Database) -> None:
    """A document too long to be kept is parsed and validated in a thread (the ``documents``
    speed-up, on here)."""
    settings = api_settings.with_changes(max_body_bytes=16_000_000, speedups=Speedups())
    with TestClient(create_api(settings, database, today=lambda: TODAY)) as client:
        api = Api(client, settings)
        api.data(ME)  # warm: the small query's document is cached
        long_name = "{ me { " + "x" * 14_000_000 + " } }"  # seconds to read, token by token
        took: dict[str, float] = {}
        ended: dict[str, float] = {}

        def long_query() -> None:
            started = time.monotonic()
            api.post(long_name)
            ended["long"] = time.monotonic()
            took["long"] = ended["long"] - started

        thread = threading.Thread(target=long_query)
        thread.start()
        time.sleep(0.3)  # the long one is being read
        started = time.monotonic()
        assert api.data(ME) == {"me": {"id": "root"}}
        ended["small"] = time.monotonic()
        took["small"] = ended["small"] - started
        thread.join(timeout=60)
        assert "long" in took, "the long query did not finish"
    # Answered while the long one was still being read: not queued behind it. (The small one
    # shares the interpreter with the thread reading the long one, so it is not instant.)
    assert ended["small"] < ended["long"] and took["small"] < took["long"] / 2, took


def _signed(claims: dict[str, object], **header: object) -> str:
    return jwt.encode({"iss": "ledger-collect", "role": "admin", **claims}, SECRET,
                      algorithm="HS256", headers=header or None)


def test_refused_tokens_are_401_with_an_ascii_challenge(api: Api) -> None:
    now = int(time.time())
    day = 86_400
    for token, words in (
            (_signed({"sub": "alice", "iat": now, "exp": now + 60}, crit=["\u2603snow"]),
             "Unsupported critical extension"),
            (_signed({"sub": "", "iat": now, "exp": now + 60}), "names no user"),
            (_signed({"sub": "  ", "iat": now, "exp": now + 60}), "names no user"),
            (_signed({"sub": "alice", "iat": now}), 'Token is missing the "exp" claim'),
            (_signed({"sub": "alice", "iat": now, "exp": now + day + 1}),
             f"valid for {day + 1} seconds; at most {day} are accepted")):
        response = api.post(ME, user=None, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, words
        assert words in response.json()["errors"][0]["message"]
        challenge = response.headers["www-authenticate"]
        assert challenge.isascii() and challenge.isprintable(), challenge
    a_day = _signed({"sub": "alice", "iat": now, "exp": now + day})
    assert api.post(ME, user=None, headers={"Authorization": f"Bearer {a_day}"}).json() == {
        "data": {"me": {"id": "alice"}}}


def test_the_token_lifetime_is_configured_and_tokens_are_issued_within_it(
        api_settings: Settings) -> None:
    assert Settings().max_token_lifetime == 86_400
    hour = Settings.from_env({"LEDGER_MAX_TOKEN_LIFETIME": "3600"})
    assert hour.max_token_lifetime == 3600
    shorter = api_settings.with_changes(max_token_lifetime=3600)
    assert issue_token(shorter, "alice", "admin", ttl=3600)
    with pytest.raises(ValueError, match="at most 3600 seconds"):
        issue_token(shorter, "alice", "admin", ttl=3601)


def test_a_server_refuses_tokens_longer_than_its_lifetime(api_settings: Settings,
                                                          database: Database) -> None:
    settings = api_settings.with_changes(max_token_lifetime=3600)
    token = issue_token(api_settings, "alice", "admin", ttl=3601)
    with TestClient(create_api(settings, database, today=lambda: TODAY)) as client:
        response = client.post("/graphql", json={"query": ME},
                               headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "at most 3600 are accepted" in response.json()["errors"][0]["message"]


@pytest.fixture
def served(api_settings: Settings, database: Database) -> Iterator[int]:
    """The port of the API with bodies of at most 10,000 bytes, served by uvicorn."""
    settings = api_settings.with_changes(max_body_bytes=10_000)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_api(settings, database, today=lambda: TODAY),
                                           host="127.0.0.1", port=port, lifespan="on",
                                           log_level="warning"))
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _answer_to(port: int, head: bytes, body: bytes) -> bytes:
    """What the server answers to a request of which only ``body`` is sent (the rest never
    is): its status line and headers, or nothing if it waits for the rest."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(head + body)
        try:
            return conn.recv(65536)
        except TimeoutError:
            return b""


def test_a_body_is_refused_while_it_is_sent(served: int, api_settings: Settings) -> None:
    token = issue_token(api_settings, "root", "admin", ttl=60)
    head = (b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n")
    announced = _answer_to(served, head + b"Content-Length: 50000000\r\n\r\n", b"{")
    assert announced.startswith(b"HTTP/1.1 413 "), announced
    chunk = b"3e8\r\n" + b" " * 1000 + b"\r\n"  # 1,000 bytes a chunk, and no last chunk
    chunked = _answer_to(served, head + b"Transfer-Encoding: chunked\r\n\r\n", chunk * 11)
    assert chunked.startswith(b"HTTP/1.1 413 "), chunked


def test_a_query_string_beyond_the_body_limit_is_414(small_bodies: Api) -> None:
    headers = {"Authorization": f"Bearer {small_bodies.token('root')}"}
    padded = "query Edge " + " " * (10_000 - 40) + "{ me { id } }"
    fits = small_bodies.client.get("/graphql", params={"query": padded}, headers=headers)
    assert fits.json() == {"data": {"me": {"id": "root"}}}
    response = small_bodies.client.get("/graphql", params={"query": padded + " " * 100},
                                       headers=headers)
    assert response.status_code == 414
    assert response.json()["errors"][0]["extensions"]["code"] == "URI_TOO_LONG"
