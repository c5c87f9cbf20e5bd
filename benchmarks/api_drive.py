"""Driving the API over HTTP: concurrent clients and their latencies, live projection lag, and
what the processes use meanwhile (CPU, the API's memory).

``drive`` runs in a process of its own (the API benchmark starts it with a spawn pool), so the
clients' Python work does not share a GIL with the server nor with the benchmark's own work.
Every client holds one keep-alive HTTP/1.1 connection (``Connection``: requests written as
prepared bytes, answers read by their length). The driver shares the machine's two cores with
the server: httpx, used until 2026-11-23, spent 2.8 ms of CPU a request (0.36 of a core at 125
overviews/s) that the server then did not have; this client spends a tenth of that. Two modes:

* closed: each client sends its next request when the last one answered — the most the
  server does with that many clients (throughput), and the latencies at that saturation;
* paced: requests are due at a fixed rate (request i at start + i / rate) and go out on the
  first free client; a latency runs from when the request was due, so a server that falls
  behind shows it in the latencies instead of quietly being sent fewer requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import resource
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Self
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import orjson

from ledger_collect.commands.casework_commands import record_contact
from ledger_collect.commands.promise_commands import record_promise
from ledger_collect.domain.base import DomainError

OVERVIEW = """query Overview($id: UUID!) { customerOverview(id: $id) {
  id currency creditLimit openAmount availableCredit
  customer { number name segment specialist riskClass headOfficeId }
  headOffice { number name } branches { nodes { id number name } }
  openItems { nodes { id documentNumber currency amount openAmount dueDate daysOverdue
                      dunningLevel promiseStatus promiseAmount promiseDate openDisputes
                      disputedAmount } pageInfo { hasNextPage endCursor } }
  creditMemos { nodes { sourceId amount currency documentDate } }
  unappliedPayments { nodes { sourceId amount currency documentDate } }
  aging { asOf buckets rows { currency total cells { bucket amount items } } }
  promises { nodes { id documentNumber amount promisedDate status level } }
  disputes { nodes { id reason status stillDisputed openedOn } }
  resubmissions { nodes { id followUpDate status reason } }
  contacts { contactId role isDefault name email phone }
  conversations { nodes { id channel result contactDate specialist summary } }
  timeline(first: 20) { nodes { occurred type event actor description amount currency details }
                        pageInfo { hasNextPage endCursor } } } }"""

WORKLIST = """query Worklist { worklist(first: 50) {
  specialist asOf pageInfo { hasNextPage endCursor }
  nodes { rank customerId number name segment currency riskClass score strategyCode
          overdueAmount amountToCollect openAmount oldestDueDate daysOverdue brokenPromises
          highestDunningLevel openDisputes processedToday nextFollowUp } } }"""

_BALANCE = ("customerId customer { number name } currency openAmount overdueAmount items"
            " oldestDueDate daysOverdue")
AGING = f"""query Aging($segment: String) {{ agingReport(segment: $segment, top: 20) {{
  asOf buckets rows {{ currency total cells {{ bucket amount items }} }}
  topBalances {{ {_BALANCE} }} oldestBalances {{ {_BALANCE} }} }} }}"""

POLL = """query Poll($id: UUID!) { timeline(customerId: $id, types: [CONTACT, PROMISE], first: 5) {
  nodes { objectId } } }"""


@dataclass
class Workload:
    """One query, and the (token, variables) pairs a request picks from at random."""

    name: str
    query: str
    choices: list[tuple[str, dict[str, Any]]]


@dataclass
class Result:
    name: str
    mode: str  # closed or paced
    rate: float | None  # the paced rate asked for
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, sorted, successes only
    errors: int = 0
    first_error: str = ""
    unsent: int = 0  # paced requests still due when the phase ran twice its time: given up
    driver_cpu: float = 0.0  # the driver's CPU seconds over the phase

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds


# -- the driver process -----------------------------------------------------------------------
class HttpError(Exception):
    """An answer this client cannot read (no length, a broken status line)."""


class Connection:
    """One keep-alive HTTP/1.1 connection to the server: POST a body, read the status and
    body of the answer (by ``Content-Length``, or chunked). Reopened after the server closes it."""

    def __init__(self, url: str) -> None:
        address = urlsplit(url)
        self.host, self.port = address.hostname or "127.0.0.1", address.port or 80
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        reused = self._streams is not None
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{head}"
                     f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body)
        try:
            answered = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError) as error:
            await self.close()
            if reused and not getattr(error, "partial", b""):
                # The server had closed the idle connection (uvicorn does after 5 s without a
                # request: a slow phase's clients wait longer than that) before it read this
                # request: send it again on a new one, as HTTP clients do.
                return await self.post(path, body, headers)
            raise
        status_line, *lines = answered[:-4].split(b"\r\n")
        try:
            status = int(status_line.split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpError(f"not an HTTP status line: {status_line[:80]!r}") from None
        fields = {}
        for line in lines:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        if b"content-length" in fields:
            answer = await reader.readexactly(int(fields[b"content-length"]))
        elif b"chunked" in fields.get(b"transfer-encoding", b""):
            answer = await self._chunked(reader)
        else:
            raise HttpError(f"an answer without a length (HTTP {status})")
        if fields.get(b"connection") == b"close":
            await self.close()
        return status, answer

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")  # the (empty) trailer
        return b"".join(parts)

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def drive(url: str, workload: Workload, clients: int, seconds: float,
          rate: float | None = None, seed: int = 1) -> Result:
    """Run one phase (closed when ``rate`` is None, else paced) and return what it measured."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = asyncio.run(_phase(url, workload, clients, seconds, rate, random.Random(seed)))
    after = resource.getrusage(resource.RUSAGE_SELF)
    result.driver_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result.latencies.sort()
    return result


async def _phase(url: str, workload: Workload, clients: int, seconds: float,
                 rate: float | None, rng: random.Random) -> Result:
    result = Result(workload.name, "closed" if rate is None else "paced", rate, seconds)
    body = workload.query

    async def one(client: Connection, due: float) -> None:
        token, variables = rng.choice(workload.choices)
        status, content = await client.post("/graphql", orjson.dumps(
            {"query": body, "variables": variables}), {"content-type": "application/json",
                                                       "authorization": f"Bearer {token}"})
        ended = time.perf_counter()
        problem = f"HTTP {status}" if status != 200 else ""
        answer = orjson.loads(content) if content else {}
        if problem or answer.get("errors") or not answer.get("data"):
            result.errors += 1
            result.first_error = result.first_error or (
                f"{problem} {str(answer.get('errors') or content)[:300]}")
        else:
            result.latencies.append(ended - due)

    started = time.perf_counter() + 0.05
    deadline = started + seconds
    due_times = itertools.count() if rate is not None else None

    async def client() -> None:
        http = Connection(url)
        try:
            while True:
                if due_times is None:
                    due = time.perf_counter()
                else:
                    due = started + next(due_times) / rate  # type: ignore[operator]
                if due >= deadline:
                    return
                if due > time.perf_counter():
                    await asyncio.sleep(due - time.perf_counter())
                if time.perf_counter() > deadline + seconds:  # hopelessly behind
                    result.unsent += 1
                    continue
                await asyncio.wait_for(one(http, due), 60.0)
        finally:
            await http.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    result.seconds = max(time.perf_counter(), deadline) - started
    return result


def first_request(url: str, workload: Workload) -> float:
    """The latency of one request on its own (e.g. the day's first worklist, which ranks)."""
    token, variables = workload.choices[0]
    started = time.perf_counter()
    response = httpx.post(f"{url}/graphql", json={"query": workload.query, "variables": variables},
                          headers={"authorization": f"Bearer {token}"}, timeout=300)
    response.raise_for_status()
    return time.perf_counter() - started


# -- live projection lag ----------------------------------------------------------------------
@dataclass
class Lag:
    lags: list[float] = field(default_factory=list)  # commit -> visible, seconds, sorted
    polls: list[float] = field(default_factory=list)  # one poll's round trip, seconds
    refused: int = 0
    first_refusal: str = ""
    late: int = 0  # never visible within the bound


def live_lag(app: Any, url: str, token: str, customers: list[UUID],
             invoices: list[tuple[UUID, UUID]], rate: float, count: int,
             bound: float = 5.0, seed: int = 2) -> Lag:
    """Commands at ``rate`` per second (conversations and promises in turn, run by this
    process on the store, as the API's mutations run them); after each commit, poll the
    customer's timeline through GraphQL until the new entry shows. A lag ends when the answer
    that shows it arrives, so it includes one poll's round trip (``polls``)."""
    rng, lag, today = random.Random(seed), Lag(), date.today()
    with httpx.Client(base_url=url, timeout=30.0,
                      headers={"authorization": f"Bearer {token}"}) as http:
        started = time.perf_counter()
        for i in range(count):
            pause = started + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            try:
                if i % 2:
                    invoice, customer = rng.choice(invoices)
                    made = app.run(record_promise, invoice_id=invoice, amount=Decimal("1.00"),
                                   promised_date=today + timedelta(days=7),
                                   actor="bench", business_date=today).result
                else:
                    customer = rng.choice(customers)
                    made = app.run(record_contact, customer, channel="phone", result="no_answer",
                                   actor="bench", business_date=today).result
            except DomainError as refusal:
                lag.refused += 1
                lag.first_refusal = lag.first_refusal or str(refusal)
                continue
            committed = time.perf_counter()
            while True:
                sent = time.perf_counter()
                response = http.post("/graphql", json={"query": POLL,
                                                       "variables": {"id": str(customer)}})
                seen = time.perf_counter()
                lag.polls.append(seen - sent)
                nodes = response.json()["data"]["timeline"]["nodes"]
                if any(node["objectId"] == str(made) for node in nodes):
                    lag.lags.append(seen - committed)
                    break
                if seen - committed > bound:
                    lag.late += 1
                    break
    lag.lags.sort()
    lag.polls.sort()
    return lag


# -- watching the processes -------------------------------------------------------------------
def _machine_ticks() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def _tree(pid: int) -> list[int]:
    """The process and its children: ``ledger-collect api --workers N`` serves from children."""
    found = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):  # ended meanwhile
                continue
    return found


def _process_ticks(pid: int) -> int:
    """CPU ticks (user + system) of the process and its living children."""
    ticks = 0
    for member in _tree(pid):
        try:
            with open(f"/proc/{member}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of the process and its children, summed, in bytes."""
    found: dict[str, int] = {"VmRSS": 0, "VmHWM": 0}
    for member in _tree(pid):
        try:
            with open(f"/proc/{member}/status") as status:
                for line in status:
                    name, _, value = line.partition(":")
                    if name in found:
                        found[name] += int(value.split()[0]) * 1024
        except OSError:
            continue
    return found


class Watch:
    """While a phase runs: the peak RSS of the API process, its CPU and the machine's (in
    cores), and the load average, sampled every 100 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_rss = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Self:
        self._began = (time.monotonic(), _process_ticks(self.pid), _machine_ticks())
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak_rss = max(self.peak_rss, memory(self.pid).get("VmRSS", 0))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        wall, api, (busy, total) = self._began
        hz = os.sysconf("SC_CLK_TCK")
        self.seconds = time.monotonic() - wall
        self.api_cores = (_process_ticks(self.pid) - api) / hz / self.seconds
        now_busy, now_total = _machine_ticks()
        self.machine_cores = (now_busy - busy) / max(1, now_total - total) * (os.cpu_count() or 1)
        self.load = os.getloadavg()[0]
