"""The README's first command, end to end in a real process: `ledger-collect serve` loads the
demo portfolio, follows the read models and serves GraphQL; a newcomer's first session —
find a customer, open the overview, record a promise, see it in the overview and the timeline
at once — works over HTTP; SIGTERM stops it cleanly (exit 0)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from servers import wait_healthy

from ledger_collect.api.auth import issue_token
from ledger_collect.commands.receivable_commands import post_invoice, register_customer
from ledger_collect.feed.demo import SEGMENTS
from ledger_collect.projections.engine import catch_up

SECRET = "serve-test-secret-" + "x" * 32

OVERVIEW = """query($id: UUID!) { customerOverview(id: $id) {
  openItems { nodes { id openAmount currency } }
  promises { nodes { id amount status } }
  timeline(first: 5) { nodes { type event } } } }"""
RECORD = """mutation($input: RecordPromiseInput!) { recordPromise(input: $input) {
  __typename ... on PromiseRecorded { promiseId status } ... on Problem { message } } }"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(settings, *args: str, **environ: str) -> tuple[subprocess.Popen, str]:
    """Run `ledger-collect ARGS --port P` on the test database (the embedded one in
    ``settings.data_dir`` when it has no URL); return it once healthy."""
    port = _free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": settings.database_url or "",
           "LEDGER_SCHEMA": settings.schema, "LEDGER_MASTER_KEY": settings.master_key,
           "LEDGER_DATA_DIR": str(settings.data_dir), "LEDGER_JWT_SECRET": SECRET, **environ}
    server = subprocess.Popen([sys.executable, "-m", "ledger_collect.cli", *args, "--port",
                               str(port)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, server)
    return server, base


@pytest.mark.slow
def test_the_api_alone_serves_and_stops_on_sigterm(database, settings):
    server, base = _start(settings, "api")
    try:
        answer = httpx.post(f"{base}/graphql", json={"query": "{ me { id } }"})
        assert answer.status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err


def _workers(pid: int) -> set[int]:
    """The processes ``pid`` spawned with multiprocessing (uvicorn's workers)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rpartition(")")[2].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    spawned = b"spawn_main" in cmdline.read()
            except OSError:  # ended meanwhile
                continue
            if parent == pid and spawned:
                found.add(int(entry))
    return found


ESTABLISHED, LISTEN = "01", "0A"  # TCP states as /proc/net/tcp writes them


def _both_workers(pid: int) -> set[int]:
    workers = _workers(pid)
    deadline = time.monotonic() + 30
    while len(workers) < 2 and time.monotonic() < deadline:  # the second may still start
        time.sleep(0.2)
        workers = _workers(pid)
    assert len(workers) == 2
    return workers


def _sockets_of(pids: set[int], port: int, state: str) -> dict[int, set[str]]:
    """The TCP sockets on local ``port`` in ``state`` that each process holds, by inode (from
    /proc: the sockets among its descriptors, matched to /proc/net/tcp)."""
    found = set()
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
                found.add(fields[9])
    held = {}
    for pid in pids:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        held[pid] = {link[8:-1] for link in links if link.startswith("socket:[")} & found
    return held


def _hold_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` clients that connect together, each asking once and keeping its connection."""
    clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    for client in clients:
        client.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    for client in clients:
        assert client.recv(4096).startswith(b"HTTP/1.1 200")
    return clients


@pytest.mark.slow
def test_the_api_serves_from_several_workers_and_stops_them_on_sigterm(app, settings):
    catch_up(app)  # the read models the overview reads
    server, base = _start(settings, "api", "--workers", "2", LEDGER_SPEEDUPS="on")
    try:
        workers = _both_workers(server.pid)
        token = issue_token(settings.with_changes(jwt_secret=SECRET), "alice", "specialist",
                            [segment for segment, _, _ in SEGMENTS])
        query = f'{{ me {{ id }} customerOverview(id: "{uuid.uuid4()}") {{ id }} }}'
        answers = [httpx.post(f"{base}/graphql", json={"query": query},  # the database too
                              headers={"Authorization": f"Bearer {token}"}) for _ in range(20)]
        assert {a.status_code for a in answers} == {200}
        assert [a.json()["data"] for a in answers] == [
            {"me": {"id": "alice"}, "customerOverview": None}] * 20
        assert httpx.post(f"{base}/graphql", json={"query": "{ me { id } }"}).status_code == 401
        # each worker listens on a socket of its own (uvicorn's would share one), and clients
        # that connect together are spread over them: 32 at once, dealt by address hash, each
        # worker holds at least 4 but for a chance of about 3 in a million
        port = int(base.rpartition(":")[2])
        listening = _sockets_of(workers, port, LISTEN)
        assert all(len(own) == 1 for own in listening.values()), listening
        assert len(set.union(*listening.values())) == 2
        clients = _hold_connections(port, 32)
        try:
            held = [len(own) for own in _sockets_of(workers, port, ESTABLISHED).values()]
            assert sum(held) == 32 and min(held) >= 4, held
        finally:
            for client in clients:
                client.close()
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]


@pytest.mark.slow
def test_with_the_sockets_speedup_off_the_workers_share_uvicorns_one_socket(database, settings):
    """uvicorn's own way (``LEDGER_SPEEDUPS=-sockets``): one socket, the supervisor's, listened
    on by every worker; both answer."""
    server, base = _start(settings, "api", "--workers", "2", LEDGER_SPEEDUPS="-sockets")
    try:
        workers = _both_workers(server.pid)
        token = issue_token(settings.with_changes(jwt_secret=SECRET), "alice", "admin")
        answers = [httpx.post(f"{base}/graphql", json={"query": "{ me { id } }"},
                              headers={"Authorization": f"Bearer {token}"}) for _ in range(10)]
        assert [a.json()["data"] for a in answers] == [{"me": {"id": "alice"}}] * 10
        port = int(base.rpartition(":")[2])
        listening = _sockets_of(workers, port, LISTEN)
        assert all(len(own) == 1 for own in listening.values()), listening
        assert len(set.union(*listening.values())) == 1  # the same socket in both
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err


def _printed_token(server: subprocess.Popen) -> str:
    """The development token `serve` printed (the line after the one announcing it), after
    the API's address."""
    seen = []
    for line in server.stdout:
        if line.startswith("development token"):
            assert any(s.startswith("GraphQL API: http://127.0.0.1:") for s in seen), seen
            return server.stdout.readline().strip()
        seen.append(line)
    pytest.fail(f"serve printed no development token: {seen}")


def _readme_worklist_example() -> str:
    """The first query of the README's GraphQL example: the worklist."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = readme.split("```graphql\n", 1)[1].split("```", 1)[0]
    first = example.split("\nquery ", 1)[0]
    return "\n".join(line for line in first.splitlines() if not line.startswith("#"))


@pytest.mark.slow
def test_serve_answers_a_newcomers_first_session_and_stops_on_sigterm(database, settings):
    server, base = _start(settings, "serve", "--demo-customers", "30", "--development")
    try:
        token = _printed_token(server)
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                              timeout=10)

        def gql(query: str, **variables: object) -> dict:
            answer = client.post("/graphql", json={"query": query, "variables": variables})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert "errors" not in body, body
            return body["data"]

        # the README's worklist example shows the printed user's demo customers
        worklist = gql(_readme_worklist_example())["worklist"]["nodes"]
        assert worklist, "the printed user has no worklist in the demo"
        assert all(entry["explanation"] for entry in worklist)
        customers = gql("{ customers(first: 30) { nodes { id number } } }")["customers"]["nodes"]
        assert len(customers) == 30
        for customer in customers:
            overview = gql(OVERVIEW, id=customer["id"])["customerOverview"]
            item = next((i for i in overview["openItems"]["nodes"]
                         if float(i["openAmount"]) >= 1), None)
            if item is not None:
                break
        else:
            pytest.fail("no demo customer has an open item")
        promised = (date.today() + timedelta(days=7)).isoformat()
        recorded = gql(RECORD, input={"invoiceId": item["id"], "amount": "1.00",
                                      "promisedDate": promised})["recordPromise"]
        assert recorded["__typename"] == "PromiseRecorded", recorded
        seen = gql(OVERVIEW, id=customer["id"])["customerOverview"]  # no sleep: read-your-writes
        assert recorded["promiseId"] in [p["id"] for p in seen["promises"]["nodes"]]
        assert seen["timeline"]["nodes"][0] == {"type": "PROMISE", "event": "issued"}
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err


def _stop(server: subprocess.Popen) -> str:
    server.send_signal(signal.SIGTERM)
    out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    return out


GRAPHIQL_PAGE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.mark.slow
def test_serve_in_production_prints_no_token_and_serves_no_graphiql(database, settings):
    server, base = _start(settings, "serve", "--demo-customers", "0", "--production")
    try:
        page = httpx.get(f"{base}/graphql", headers=GRAPHIQL_PAGE)
        assert page.status_code == 401 and "graphiql" not in page.text.lower()
    finally:
        out = _stop(server)
    assert "GraphQL API: http://127.0.0.1:" in out
    assert "token" not in out and "GraphiQL" not in out


@pytest.mark.slow
def test_ledger_development_0_turns_the_embedded_servers_development_mode_off(settings):
    """`serve` on the embedded database is in development mode unless LEDGER_DEVELOPMENT=0."""
    data = Path(tempfile.mkdtemp(prefix="lc-serve-", dir="/tmp"))  # PostgreSQL's user gets in
    data.chmod(0o755)
    try:
        for switch, development in (("0", False), ("", True)):
            server, base = _start(settings.with_changes(database_url=None, data_dir=data),
                                  "serve", "--demo-customers", "0",
                                  LEDGER_DEVELOPMENT=switch)
            try:
                page = httpx.get(f"{base}/graphql", headers=GRAPHIQL_PAGE)
                assert (page.status_code == 200) is development, page.status_code
            finally:
                out = _stop(server)
            assert ("development token" in out) is development, out
    finally:
        shutil.rmtree(data, ignore_errors=True)


@pytest.mark.slow
def test_serve_starts_with_a_failing_read_model_and_health_names_it(app, database, settings):
    app.run(register_customer, number="F-1", name="Failing SA", segment="north",
            credit_limit=Decimal("1000.00"), currency="EUR", risk_class="B",
            source_id="md-F-1", actor="erp", business_date=date(2026, 11, 2))
    app.run(post_invoice, customer_number="F-1", document_number="F-1-I1", amount=Decimal("10.00"),
            currency="EUR", posting_date=date(2026, 11, 2),
            due_date=date(2026, 12, 2), source_id="inv-F-1", actor="erp",
            business_date=date(2026, 11, 2))
    with database.connect() as conn:  # the invoice's event, damaged in the store
        broken = conn.execute(
            "SELECT max(notification_id) FROM collections_events WHERE topic = %s",
            ("ledger_collect.Invoice.Posted",)).fetchone()[0]
        conn.execute("UPDATE collections_events SET state = %s WHERE notification_id = %s",
                     (b"{not json", broken))
    server, base = _start(settings, "serve", "--demo-customers", "0")
    try:
        body = httpx.get(f"{base}/health", timeout=5).json()
        assert (body["status"], body["database"]) == ("degraded", "ok")
        open_items = body["projections"]["open_items"]
        assert (open_items["status"], open_items["failedNotification"]) == ("failing", broken)
        assert body["projections"]["customers"]["status"] == "current"
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert f"warning: read model open_items failed at notification {broken}" in err
