"""The GraphQL API under load: a 100,000-customer, million-invoice portfolio served over HTTP.

What it does, in order:

1. Loads the portfolio into a fresh schema (``api_load``): ``demo_records`` at invoice density
   1.9 (~10.7 invoices per customer: 100,000 customers give ~1.06 million invoices and ~2.5
   million ERP records), imported as ``ledger-collect import FILE --jobs 2`` does it; the
   customers shared out to 20 specialists by segment (every tenth left unassigned). That takes
   long (~10 min on a quiet 2-core machine, far more on a busy one): ``--keep`` keeps the
   schema and ``--reuse SCHEMA`` measures it again without loading (a few minutes).
2. Rebuilds every read model from zero, as ``ledger-collect projections rebuild`` does, one
   after the other: events/s per model (the events of the model's topics it went through) and
   for all of them. With ``--reuse``, ``--rebuild [NAMES]`` rebuilds (some) again, timed.
3. Starts ``ledger-collect projector`` and ``ledger-collect api --workers N`` (uvicorn,
   production mode, on a free port; N = the machine's cores unless ``--api-workers`` says
   otherwise) as processes of their own on the schema (LEDGER_DATABASE_URL, LEDGER_SCHEMA,
   LEDGER_MASTER_KEY and a fresh LEDGER_JWT_SECRET in their environment).
4. From a driver process (``api_drive``), 32 HTTP clients per query: closed (each client sends
   again when answered: throughput, latencies at saturation), then paced at the target rate
   (requests due at a fixed rate, latency counted from when a request was due), and, when the
   server cannot take that rate, paced at 80 % of its closed throughput (what it gives when not
   overrun). Queries: ``customerOverview`` of a random customer with what a frontend shows
   (master data, branches, open items, credits, aging, promises, disputes, follow-ups,
   contacts, conversations, 20 timeline entries), by a supervisor who sees personal data;
   a ``worklist`` page of 50 of a random specialist, by that specialist (rank, customer, score,
   amounts, days overdue, markers; not the rule-by-rule ``explanation``, asked for on demand);
   ``agingReport`` of the portfolio or a random segment. Before each: one request alone (the
   coldest, e.g. the day's worklist ranking) and a 3 s warm-up that is not counted.
5. Live projection lag: a steady stream of commands (a conversation, a promise, in turn) run by
   this process on the store; after each commit the customer's timeline is polled through
   GraphQL until the entry shows: commit -> visible (including one poll's round trip), p50/p99.
6. The API's memory: peak RSS per phase (sampled) and VmHWM at the end: its processes (the
   supervisor and its workers) summed, as its CPU is.

Each phase line gives the API's CPU time per request (the least load-dependent figure: one
API process serves at most 1 / that) and how busy the machine was: the driver and
PostgreSQL share the 2 cores with the server, and anything else running skews every figure, so
the run starts by saying whether the machine is quiet. Targets: overview
p99 <= 50 ms at >= 300 req/s; worklist page p99 <= 30 ms; rebuild >= 10,000 events/s; live lag
p99 <= 100 ms; API memory < 400 MB.

    python benchmarks/api_bench.py [--customers 100000] [--keep] [--quick]
    python benchmarks/api_bench.py --reuse SCHEMA [--rebuild [NAMES]] [--seconds 20]
                                   [--api-workers 1]
                                   [--only overview,worklist,aging,lag]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import httpx
from api_drive import (
    AGING,
    OVERVIEW,
    WORKLIST,
    Lag,
    Result,
    Watch,
    Workload,
    drive,
    first_request,
    live_lag,
    memory,
)
from api_load import Loaded, bench_store, head, load, rebuild_all
from common import percentile

from ledger_collect.api.auth import issue_token
from ledger_collect.api.permissions import Role
from ledger_collect.commands.application import Collections
from ledger_collect.storage.database import Database

MB = 1024 * 1024
MIN_MEASURED_EVENTS = 10_000  # a model's rebuild rate counts from this many events on
TARGETS = {"overview_rate": 300, "overview_p99": 0.050, "worklist_p99": 0.030,
           "rebuild": 10_000, "lag_p99": 0.100, "memory": 400 * MB}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the loaded schema")
    parser.add_argument("--reuse", metavar="SCHEMA", help="measure a kept schema, load nothing")
    parser.add_argument("--rebuild", nargs="?", const="all", metavar="NAMES",
                        help="with --reuse: rebuild every read model (or NAMES, comma-separated)"
                             ", timed")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2,000 customers, 4 s phases, 40 commands")
    parser.add_argument("--jobs", type=int, default=2, help="importing processes")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--api-workers", type=int, default=os.cpu_count() or 1,
                        help="processes of `ledger-collect api --workers N`: one per core by "
                             "default, as a production server runs")
    parser.add_argument("--seconds", type=float, default=20.0, help="per measured phase")
    parser.add_argument("--overview-rate", type=float, default=300.0)
    parser.add_argument("--worklist-rate", type=float, default=100.0)
    parser.add_argument("--aging-rate", type=float, default=2.0)
    parser.add_argument("--lag-rate", type=float, default=10.0, help="commands per second")
    parser.add_argument("--lag-commands", type=int, default=300)
    parser.add_argument("--only", default="overview,worklist,aging,lag",
                        help="what to measure over HTTP ('' for nothing: load / rebuild only)")
    args = parser.parse_args()
    args.only = [name for name in args.only.split(",") if name]
    if args.quick:
        args.customers, args.seconds, args.lag_commands = 2_000, 4.0, 40
    return args


# -- the server processes ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def servers(database: Database, secret: str, logs: Path,
            workers: int = 1) -> Iterator[tuple[str, int]]:
    """``ledger-collect projector`` and ``ledger-collect api [--workers N]`` on the schema;
    (URL, API pid: with workers, their supervisor)."""
    settings = database.settings
    env = {**os.environ, "LEDGER_DATABASE_URL": database.url, "LEDGER_SCHEMA": settings.schema,
           "LEDGER_MASTER_KEY": str(settings.master_key), "LEDGER_JWT_SECRET": secret,
           "LEDGER_DATA_DIR": str(settings.data_dir), "LEDGER_DEVELOPMENT": ""}
    port = _free_port()
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for name, extra in (("projector", []),
                            ("api", ["--port", str(port), "--workers", str(workers)])):
            out = (logs / f"{name}.log").open("wb")
            started.append((name, subprocess.Popen(
                [sys.executable, "-m", "ledger_collect.cli", name, *extra], env=env,
                stdout=out, stderr=subprocess.STDOUT)))
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, started, logs)
        print(f"server: `ledger-collect api` pid {started[1][1].pid} at {url}, "
              f"`ledger-collect projector` pid {started[0][1].pid} (logs in {logs})", flush=True)
        yield url, started[1][1].pid
    finally:
        for _, process in reversed(started):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(url: str, started: list[tuple[str, subprocess.Popen[bytes]]],
                  logs: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for name, process in started:
            if process.poll() is not None:
                tail = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"`ledger-collect {name}` exited ({process.returncode}):\n{tail}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the API did not answer /health within 120 s")


# -- what to ask ------------------------------------------------------------------------------
def workloads(database: Database, secret: str) -> tuple[dict[str, Workload], str, dict]:
    """The workloads, the supervisor's token and a sample of the portfolio."""
    settings = database.settings.with_changes(jwt_secret=secret)
    with database.connect() as conn:
        customers = [r[0] for r in conn.execute("SELECT id FROM customers ORDER BY id")]
        staff = conn.execute("SELECT DISTINCT specialist, segment FROM customers"
                             " WHERE specialist IS NOT NULL ORDER BY 1").fetchall()
        invoices = conn.execute(
            "SELECT id, customer_id FROM open_items WHERE status = 'open' AND open_amount > 10"
            " AND open_disputes = 0 ORDER BY md5(id::text) LIMIT 5000").fetchall()
        items, open_items = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE open_amount > 0) FROM open_items").fetchone()
    segments = sorted({segment for _, segment in staff})
    sup = issue_token(settings, "bench-supervisor", Role.SUPERVISOR, segments, timedelta(hours=6))
    specialists = [(issue_token(settings, who, Role.SPECIALIST, [segment], timedelta(hours=6)),
                    {}) for who, segment in staff]
    print(f"portfolio: {len(customers):,} customers, {items:,} invoices "
          f"({open_items:,} still open), "
          f"{head(database):,} events; {len(staff)} specialists", flush=True)
    if len(customers) < 100_000 or items < 1_000_000:
        print("  (smaller than the issue's 100,000 customers and 1,000,000 invoices)")
    found = {
        "overview": Workload("overview", OVERVIEW, [(sup, {"id": str(c)}) for c in customers]),
        "worklist": Workload("worklist", WORKLIST, specialists),
        "aging": Workload("aging", AGING, [(sup, {"segment": s}) for s in [None, *segments]]),
    }
    return found, sup, {"customers": customers, "invoices": invoices}


def _has_query(url: str, token: str, name: str) -> bool:
    answer = httpx.post(f"{url}/graphql", json={"query": '{ __type(name: "Query") '
                                                          '{ fields { name } } }'},
                        headers={"authorization": f"Bearer {token}"}, timeout=30).json()
    return name in {f["name"] for f in answer["data"]["__type"]["fields"]}


# -- measuring --------------------------------------------------------------------------------
def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def _run(args: argparse.Namespace, url: str, pid: int, workload: Workload,
         pool: ProcessPoolExecutor, rate: float | None, label: str) -> Result:
    with Watch(pid) as watch:
        result = pool.submit(drive, url, workload, args.clients, args.seconds, rate).result()
    lat = result.latencies or [float("nan")]
    served = max(1, len(result.latencies) + result.errors)
    digits = 0 if result.throughput >= 10 else 1
    print(f"  {label}: {result.throughput:,.{digits}f} req/s, p50 {_ms(percentile(lat, .5))}, "
          f"p99 {_ms(percentile(lat, .99))}, max {_ms(lat[-1])}, errors {result.errors}"
          f"{' (' + result.first_error + ')' if result.errors else ''}"
          f"{f', {result.unsent:,} never sent (too far behind)' if result.unsent else ''}\n"
          f"    API CPU per request {_ms(watch.api_cores * watch.seconds / served)}; "
          f"cores: API {watch.api_cores:.2f}, driver {result.driver_cpu / watch.seconds:.2f},"
          f" machine {watch.machine_cores:.2f} of {os.cpu_count()}; load {watch.load:.1f}; "
          f"API RSS peak {watch.peak_rss / MB:.0f} MB", flush=True)
    return result


def measure_queries(args: argparse.Namespace, url: str, pid: int, found: dict[str, Workload],
                    pool: ProcessPoolExecutor) -> dict[tuple[str, str], Result]:
    """Per query: closed (throughput), paced at the target rate, and, when the server cannot
    take that rate, paced at 80 % of its throughput (the latencies it gives meanwhile)."""
    rates = {"overview": args.overview_rate, "worklist": args.worklist_rate,
             "aging": args.aging_rate}
    results: dict[tuple[str, str], Result] = {}
    for name, workload in found.items():
        if name not in args.only:
            continue
        print(f"{name}: first request alone {_ms(first_request(url, workload))}", flush=True)
        pool.submit(drive, url, workload, args.clients, min(3.0, args.seconds)).result()
        closed = results[(name, "closed")] = _run(args, url, pid, workload, pool, None,
                                                  f"{args.clients} clients, closed")
        results[(name, "paced")] = _run(args, url, pid, workload, pool, rates[name],
                                        f"paced at {rates[name]:g}/s")
        if closed.throughput < rates[name]:
            within = round(0.8 * closed.throughput, 1)
            results[(name, "within")] = _run(args, url, pid, workload, pool, within,
                                             f"paced at {within:g}/s (80 % of closed)")
    return results


def measure_lag(args: argparse.Namespace, app: Collections, url: str, pid: int, token: str,
                sample: dict) -> Lag:
    print(f"live lag: {args.lag_commands} commands at {args.lag_rate:g}/s ...", flush=True)
    with Watch(pid) as watch:
        lag = live_lag(app, url, token, sample["customers"], sample["invoices"],
                       args.lag_rate, args.lag_commands)
    lags = lag.lags or [float("nan")]
    print(f"  commit -> visible: p50 {_ms(percentile(lags, .5))}, p99 "
          f"{_ms(percentile(lags, .99))}, max {_ms(lags[-1])} over {len(lag.lags)} commands "
          f"({lag.refused} refused{': ' + lag.first_refusal if lag.refused else ''}, "
          f"{lag.late} not visible in 5 s); one poll: p50 "
          f"{_ms(percentile(lag.polls or [0.0], .5))}\n    cores: API {watch.api_cores:.2f}, "
          f"machine {watch.machine_cores:.2f}; load {watch.load:.1f}", flush=True)
    return lag


def _p99(result: Result | None) -> float | None:
    return percentile(result.latencies, .99) if result and result.latencies else None


def summary(loaded: Loaded | None, results: dict[tuple[str, str], Result], lag: Lag | None,
            peak: int, clients: int) -> None:
    """Every figure against its target (``-``: not measured, or shown for information)."""
    rows: list[tuple[str, str, str, str]] = []

    def row(what: str, shown: str | None, target: str = "", ok: bool | None = None) -> None:
        verdict = "-" if shown is None or ok is None else "met" if ok else "MISSED"
        rows.append((what, shown or "not measured", target, verdict))

    closed = results.get(("overview", "closed"))
    row(f"overview throughput, {clients} clients",
        closed and f"{closed.throughput:,.0f} req/s", ">= 300 req/s",
        closed is not None and closed.throughput >= TARGETS["overview_rate"])
    for name in ("overview", "worklist"):
        paced, limit = results.get((name, "paced")), TARGETS[f"{name}_p99"]
        p99 = _p99(paced)
        row(f"{name} p99 at {paced.rate:g} req/s" if paced else f"{name} p99",
            p99 is not None and _ms(p99) or None, f"<= {_ms(limit)}",
            p99 is not None and p99 <= limit and paced.throughput >= 0.95 * paced.rate)
        within = results.get((name, "within"))
        if within and _p99(within) is not None:
            row(f"  (p99 at {within.rate:g} req/s)", _ms(_p99(within)))  # type: ignore[arg-type]
    # A model with a few events only (casework, disputes, correspondence: the demo feed has no
    # casework, only what earlier lag phases recorded) measures a rebuild's fixed cost.
    worked = [(name, events / seconds) for name, events, seconds in
              (loaded.rebuilt if loaded else []) if events >= MIN_MEASURED_EVENTS]
    if loaded and worked:
        name, slowest = min(worked, key=lambda r: r[1])
        events, seconds = (sum(r[i] for r in loaded.rebuilt) for i in (1, 2))
        row(f"rebuild, slowest model ({name})", f"{slowest:,.0f} ev/s", ">= 10,000 ev/s",
            slowest >= TARGETS["rebuild"])
        row("rebuild, all models one after the other", f"{events / seconds:,.0f} ev/s",
            ">= 10,000 ev/s", events / seconds >= TARGETS["rebuild"])
    lag_p99 = percentile(lag.lags, .99) if lag and lag.lags else None
    row("live lag p99 (commit -> visible)", lag_p99 is not None and _ms(lag_p99) or None,
        "<= 100 ms", lag_p99 is not None and lag_p99 <= TARGETS["lag_p99"] and not lag.late)
    row("API memory, peak (VmHWM)", f"{peak / MB:.0f} MB" if peak else None, "< 400 MB",
        peak < TARGETS["memory"])
    print(f"\nsummary ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} now):")
    for what, shown, target, verdict in rows:
        print(f"  {what:<40} {shown:>14}  {'target ' + target if target else '':<22} {verdict}")


def quiet_check() -> None:
    """How busy the machine is before the run: other processes skew every figure."""
    with Watch(os.getpid()) as watch:
        time.sleep(2)
    print(f"machine before the run: {watch.machine_cores:.2f} of {os.cpu_count()} cores busy, "
          f"load average {watch.load:.1f}"
          + ("  (NOT QUIET: the figures will be low)" if watch.machine_cores > 0.3 else ""),
          flush=True)


def serve_and_measure(args: argparse.Namespace, app: Collections, database: Database,
                      logs: Path) -> tuple[dict[tuple[str, str], Result], Lag | None, int]:
    """Start the servers, measure what ``--only`` names; the results, lag and API VmHWM."""
    secret = secrets.token_urlsafe(48)
    found, sup, sample = workloads(database, secret)
    results: dict[tuple[str, str], Result] = {}
    lag: Lag | None = None
    with servers(database, secret, logs, args.api_workers) as (url, pid), \
            ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        if not _has_query(url, sup, "agingReport"):
            print("aging: the server has no agingReport query; not measured")
            found.pop("aging")
        results = measure_queries(args, url, pid, found, pool)
        if "lag" in args.only:
            lag = measure_lag(args, app, url, pid, sup, sample)
        return results, lag, memory(pid).get("VmHWM", 0)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM: unwind as on Ctrl-C, so that the driver's process pool, the servers and the
    embedded PostgreSQL are stopped (killed outright, the driver process drove on alone)."""
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    args = arguments()
    started = time.perf_counter()
    with bench_store(keep=args.keep or bool(args.reuse), reuse=args.reuse,
                     rebuilding=bool(args.rebuild)) as database, \
            tempfile.TemporaryDirectory(prefix="ledger-api-bench-logs-") as logs:
        app = Collections(database)
        try:
            loaded: Loaded | None = None
            if args.reuse is None:
                loaded = load(app, args.customers, date.today(), args.jobs)
            elif args.rebuild:
                loaded = Loaded(events=head(database))
                rebuild_all(app, loaded, None if args.rebuild == "all" else args.rebuild)
            print(f"ready after {time.perf_counter() - started:.0f} s", flush=True)
            results, lag, peak = {}, None, 0
            if args.only:
                quiet_check()
                results, lag, peak = serve_and_measure(args, app, database, Path(logs))
            summary(loaded, results, lag, peak, args.clients)
        finally:
            app.close()
    print(f"run took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
