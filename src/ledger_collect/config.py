"""Settings read once from the environment into a frozen object that is passed around.

Nothing else in the package reads ``os.environ``: one settings object, one place to look.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs

from ledger_collect.speedups import Speedups


def default_data_dir() -> Path:
    """Where the embedded PostgreSQL and the master key live when nothing is configured.

    As root the data must sit where the unprivileged PostgreSQL user can reach it without us
    opening up folders such as /root: /var/lib is the usual home of a service's state.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/ledger-collect")
    return Path(platformdirs.user_data_dir("ledger-collect"))


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the environment variable that sets it."""

    database_url: str | None = None  # LEDGER_DATABASE_URL: use this server, start nothing
    data_dir: Path = field(default_factory=default_data_dir)  # LEDGER_DATA_DIR
    database_name: str = "ledger_collect"  # LEDGER_DATABASE_NAME (embedded mode)
    schema: str = "public"  # LEDGER_SCHEMA: the PostgreSQL schema holding all tables
    master_key: str | None = None  # LEDGER_MASTER_KEY: base64 32 bytes; else a key file
    master_key_file: Path | None = None  # LEDGER_MASTER_KEY_FILE (default <data_dir>/master.key)
    promise_tolerance_days: int = 3  # LEDGER_PROMISE_TOLERANCE_DAYS: grace after promised date
    connect_timeout: int = 5  # LEDGER_CONNECT_TIMEOUT seconds
    lock_timeout: int = 5  # LEDGER_LOCK_TIMEOUT seconds
    statement_timeout: int = 30  # LEDGER_STATEMENT_TIMEOUT seconds: the API's longest read
    pool_size: int = 5  # LEDGER_POOL_SIZE
    jwt_secret: str | None = None  # LEDGER_JWT_SECRET: signs API bearer tokens (HS256)
    jwt_secret_file: Path | None = None  # LEDGER_JWT_SECRET_FILE (default <data_dir>/jwt.key)
    # LEDGER_DEVELOPMENT: serve GraphiQL, log more. None (unset): off, except that `serve`
    # turns it on with the embedded database; set to 0, it is off for `serve` too.
    development: bool | None = None
    read_wait_seconds: float = 2.0  # LEDGER_READ_WAIT_SECONDS: mutation waits for read models
    max_code_length: int = 100  # LEDGER_MAX_CODE_LENGTH: ids, numbers, codes (characters)
    max_name_length: int = 200  # LEDGER_MAX_NAME_LENGTH: names, addresses, phone numbers
    max_text_length: int = 10_000  # LEDGER_MAX_TEXT_LENGTH: notes, reasons, email templates
    promise_horizon_days: int = 730  # LEDGER_PROMISE_HORIZON_DAYS: furthest promised date
    max_body_bytes: int = 1_048_576  # LEDGER_MAX_BODY_BYTES: larger API requests get 413
    max_token_lifetime: int = 86_400  # LEDGER_MAX_TOKEN_LIFETIME seconds from iat to exp
    # LEDGER_SPEEDUPS: on (all), off (the libraries' plain paths), or those to turn off:
    # -execution,-documents (names in ``speedups.SPEEDUPS``)
    speedups: Speedups = field(default_factory=Speedups)
    # -- jobs (``ledger_collect.jobs``) --
    # LEDGER_BROKER: postgres (a queue in the database itself: no other server, the embedded
    # mode's), rabbitmq (production) or redis
    broker: str = "postgres"
    broker_url: str | None = None  # LEDGER_BROKER_URL: amqp://… or redis://… (not postgres)
    queue_prefix: str = "ledger"  # LEDGER_QUEUE_PREFIX: queues are <prefix>.<job>
    # LEDGER_WORKER_HEARTBEAT_SECONDS: a worker silent this long is dead and its messages are
    # delivered again (redis, postgres; RabbitMQ sees the connection close)
    worker_heartbeat_seconds: float = 60.0
    job_retries: int = 5  # LEDGER_JOB_RETRIES: a failed run is tried again this many times
    job_backoff_seconds: float = 15.0  # LEDGER_JOB_BACKOFF_SECONDS: first pause, then doubling
    # LEDGER_JOB_LOCK_WAIT_SECONDS: how long a worker waits for another attempt of the same
    # run to end before it sends its message round again
    job_lock_wait_seconds: float = 10.0
    valuation_chunk: int = 500  # LEDGER_VALUATION_CHUNK: promises valued per transaction
    # LEDGER_TIME_ZONE: where the schedule's times are read (an IANA name), unless an entry
    # names its own; a scheduled run's business date is its due day there
    time_zone: str = "UTC"
    # -- the mail server collection emails are sent through (jobs.smtp_transport) ----------
    smtp_host: str = "localhost"  # LEDGER_SMTP_HOST
    smtp_port: int | None = None  # LEDGER_SMTP_PORT; default 25, 587 (starttls), 465 (tls)
    smtp_security: str = "none"  # LEDGER_SMTP_SECURITY: none, starttls or tls
    smtp_username: str | None = None  # LEDGER_SMTP_USERNAME: log in when set
    smtp_password: str | None = None  # LEDGER_SMTP_PASSWORD
    smtp_from: str = "collections@localhost"  # LEDGER_SMTP_FROM: the emails' sender
    smtp_timeout: float = 30.0  # LEDGER_SMTP_TIMEOUT seconds per connection and reply
    smtp_ca_file: Path | None = None  # LEDGER_SMTP_CA_FILE: trust this CA (else the system's)
    # -- the archive (compliance.archive) --
    archive_url: str | None = None  # LEDGER_ARCHIVE_URL: file:///path or s3://bucket/prefix
    archive_key: str | None = None  # LEDGER_ARCHIVE_KEY: base64 Ed25519 seed; else archive.key
    # LEDGER_ARCHIVE_PUBLIC_KEY: base64 Ed25519 public key; verify without the signing key
    archive_public_key: str | None = None
    archive_s3_endpoint: str | None = None  # LEDGER_ARCHIVE_S3_ENDPOINT: S3-compatible server

    @property
    def key_file(self) -> Path:
        return self.master_key_file or self.data_dir / "master.key"

    @property
    def jwt_key_file(self) -> Path:
        return self.jwt_secret_file or self.data_dir / "jwt.key"

    @property
    def archive_key_file(self) -> Path:
        return self.data_dir / "archive.key"

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        base = cls()
        return cls(
            database_url=env.get("LEDGER_DATABASE_URL") or None,
            data_dir=Path(env["LEDGER_DATA_DIR"]).expanduser()
            if env.get("LEDGER_DATA_DIR")
            else base.data_dir,
            database_name=env.get("LEDGER_DATABASE_NAME", base.database_name),
            schema=env.get("LEDGER_SCHEMA", base.schema),
            master_key=env.get("LEDGER_MASTER_KEY") or None,
            master_key_file=Path(env["LEDGER_MASTER_KEY_FILE"])
            if env.get("LEDGER_MASTER_KEY_FILE")
            else None,
            promise_tolerance_days=int(
                env.get("LEDGER_PROMISE_TOLERANCE_DAYS", base.promise_tolerance_days)
            ),
            connect_timeout=int(env.get("LEDGER_CONNECT_TIMEOUT", base.connect_timeout)),
            lock_timeout=int(env.get("LEDGER_LOCK_TIMEOUT", base.lock_timeout)),
            statement_timeout=int(env.get("LEDGER_STATEMENT_TIMEOUT", base.statement_timeout)),
            pool_size=int(env.get("LEDGER_POOL_SIZE", base.pool_size)),
            jwt_secret=env.get("LEDGER_JWT_SECRET") or None,
            jwt_secret_file=Path(env["LEDGER_JWT_SECRET_FILE"])
            if env.get("LEDGER_JWT_SECRET_FILE")
            else None,
            development=_switch(env.get("LEDGER_DEVELOPMENT")),
            read_wait_seconds=float(env.get("LEDGER_READ_WAIT_SECONDS", base.read_wait_seconds)),
            max_code_length=int(env.get("LEDGER_MAX_CODE_LENGTH", base.max_code_length)),
            max_name_length=int(env.get("LEDGER_MAX_NAME_LENGTH", base.max_name_length)),
            max_text_length=int(env.get("LEDGER_MAX_TEXT_LENGTH", base.max_text_length)),
            promise_horizon_days=int(
                env.get("LEDGER_PROMISE_HORIZON_DAYS", base.promise_horizon_days)),
            max_body_bytes=int(env.get("LEDGER_MAX_BODY_BYTES", base.max_body_bytes)),
            max_token_lifetime=int(env.get("LEDGER_MAX_TOKEN_LIFETIME",
                                           base.max_token_lifetime)),
            speedups=Speedups.parse(env.get("LEDGER_SPEEDUPS")),
            broker=env.get("LEDGER_BROKER", base.broker).strip().lower(),
            broker_url=env.get("LEDGER_BROKER_URL") or None,
            queue_prefix=env.get("LEDGER_QUEUE_PREFIX", base.queue_prefix),
            worker_heartbeat_seconds=float(env.get("LEDGER_WORKER_HEARTBEAT_SECONDS",
                                                   base.worker_heartbeat_seconds)),
            job_retries=int(env.get("LEDGER_JOB_RETRIES", base.job_retries)),
            job_backoff_seconds=float(env.get("LEDGER_JOB_BACKOFF_SECONDS",
                                              base.job_backoff_seconds)),
            job_lock_wait_seconds=float(env.get("LEDGER_JOB_LOCK_WAIT_SECONDS",
                                                base.job_lock_wait_seconds)),
            valuation_chunk=int(env.get("LEDGER_VALUATION_CHUNK", base.valuation_chunk)),
            time_zone=env.get("LEDGER_TIME_ZONE", base.time_zone),
            smtp_host=env.get("LEDGER_SMTP_HOST") or base.smtp_host,
            smtp_port=int(env["LEDGER_SMTP_PORT"]) if env.get("LEDGER_SMTP_PORT") else None,
            smtp_security=(env.get("LEDGER_SMTP_SECURITY") or base.smtp_security).lower(),
            smtp_username=env.get("LEDGER_SMTP_USERNAME") or None,
            smtp_password=env.get("LEDGER_SMTP_PASSWORD") or None,
            smtp_from=env.get("LEDGER_SMTP_FROM") or base.smtp_from,
            smtp_timeout=float(env.get("LEDGER_SMTP_TIMEOUT", base.smtp_timeout)),
            smtp_ca_file=Path(env["LEDGER_SMTP_CA_FILE"]) if env.get("LEDGER_SMTP_CA_FILE")
            else None,
            archive_url=env.get("LEDGER_ARCHIVE_URL") or None,
            archive_key=env.get("LEDGER_ARCHIVE_KEY") or None,
            archive_public_key=env.get("LEDGER_ARCHIVE_PUBLIC_KEY") or None,
            archive_s3_endpoint=env.get("LEDGER_ARCHIVE_S3_ENDPOINT") or None,
        )


def _switch(value: str | None) -> bool | None:
    """On for 1/true/yes/on, None when unset or empty, off for anything else."""
    if value is None or not value.strip():
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")
