"""GraphiQL works without internet: its page names nothing outside the server, the server serves
every file it names, and a real browser that can reach no other host renders the editor and
runs a query with the token given in the page's headers."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import pytest
import uvicorn
from browser import Browser
from starlette.testclient import TestClient

from api.helpers import TODAY
from ledger_collect.api.auth import issue_token
from ledger_collect.app import create_api
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database

PAGE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


class _Links(HTMLParser):
    """Every src and href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def _links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.found


@pytest.fixture
def development(api_settings: Settings) -> Settings:
    return api_settings.with_changes(development=True)


def test_the_page_names_no_other_host_and_the_server_serves_all_it_names(
        development: Settings, database: Database) -> None:
    with TestClient(create_api(development, database, today=lambda: TODAY)) as client:
        page = client.get("/graphql", headers=PAGE)
        assert page.status_code == 200 and "GraphiQL" in page.text
        links = [link for link in _links(page.text) if not link.startswith("data:")]
        assert not re.search(r"(https?:)?//[a-z]", " ".join(links)), links
        assert "unpkg" not in page.text and "jsdelivr" not in page.text
        assert len(links) == 6, links  # react, react-dom, GraphiQL and its explorer: js, css
        for link in links:
            path = urlsplit(urljoin("http://testserver/graphql", link)).path
            assert path.startswith("/graphiql/static/"), link
            asset = client.get(path)
            assert asset.status_code == 200, path
            kind = "text/css" if path.endswith(".css") else "javascript"
            assert kind in asset.headers["content-type"], (path, asset.headers)
            if path.endswith(".css"):  # nor does a style sheet fetch fonts or images elsewhere
                assert not re.search(r"url\((?!data:)|@import", asset.text), path


def test_production_serves_neither_the_page_nor_its_files(api_settings: Settings,
                                                          database: Database) -> None:
    with TestClient(create_api(api_settings, database, today=lambda: TODAY)) as client:
        assert client.get("/graphiql/static/graphiql.min.js").status_code == 404


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(development: Settings, database: Database) -> Iterator[str]:
    """The development API on a real port, in a thread of this process."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_api(development, database, today=lambda: TODAY), host="127.0.0.1", port=port,
        lifespan="on", log_level="warning"))
    thread = threading.Thread(target=server.run, name="graphiql-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


RESPONSE = "document.querySelector('.graphiql-response')?.innerText || ''"


@pytest.mark.slow
def test_a_browser_without_internet_renders_graphiql_and_runs_a_query(
        served: str, development: Settings, tmp_path: Path) -> None:
    token = issue_token(development, "alice", "specialist", ["north"])
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    url = f"{served}/graphql?q={quote('{ me { id role } }')}&headers={quote(headers)}"
    with Browser() as browser:
        browser.open(url)
        browser.wait_for("!!document.querySelector('.graphiql-query-editor .CodeMirror')")
        assert "Loading..." not in browser.evaluate("document.body.innerText")
        editor = browser.evaluate(
            "document.querySelector('.graphiql-query-editor').innerText")
        assert "me" in editor and "role" in editor, editor
        browser.evaluate("document.querySelector('.graphiql-execute-button').click()")
        answer = browser.wait_for(f"(({RESPONSE}).includes('alice') && {RESPONSE})")
        (tmp_path / "graphiql.png").write_bytes(browser.screenshot())
    assert '"id": "alice"' in answer and '"role": "SPECIALIST"' in answer, answer
