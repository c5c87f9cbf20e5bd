"""Personal data sealed per data subject (crypto-shredding).

Every customer (the data subject) gets a random 256-bit data key, stored in ``subject_keys``
(in memory with the in-memory event store) sealed by the master key from configuration. Fields
an event class lists in ``PERSONAL`` are encrypted with AES-GCM under that key before the event
is stored, and opened again when it is read. Erasing a customer deletes the key: every copy of
those fields, in events, snapshots, backups and archives, becomes unreadable at once, while
amounts and dates stay readable and the aggregates still load (the fields then read as
``ERASED``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import os
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, StoredEvent
from psycopg import sql

from ledger_collect.domain.base import ERASED

SEALED_PREFIX = "sealed:v1:"
NONCE_BYTES = 12
_ASYNC_COMMIT = sql.SQL("SET LOCAL synchronous_commit TO OFF")
#: How often (seconds) a process asks which subjects were erased elsewhere: a key another
#: process deleted stops opening data here within about that long.
RECHECK_SECONDS = 1.0
#: Erasures stamped this long before the last check are asked for again: a transaction's
#: ``now()`` is its start, and it may commit after a check that ran meanwhile.
RECHECK_OVERLAP = timedelta(minutes=5)


class MasterKeyError(RuntimeError):
    pass


def load_master_key(value: str | None, key_file: Path, *, create: bool) -> bytes:
    """The key that seals the data keys: from configuration, else from a file outside the
    database (generated there on first run in embedded mode)."""
    if value:
        raw = _decoded(value.strip(), "LEDGER_MASTER_KEY")
    elif key_file.exists():
        raw = _decoded(key_file.read_text().strip(), f"the master key file {key_file}")
    elif create:
        raw = AESGCM.generate_key(bit_length=256)
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(raw).decode() + "\n")
    else:
        raise MasterKeyError(
            f"no master key: set LEDGER_MASTER_KEY (base64 of 32 bytes) or create {key_file}"
        )
    if len(raw) != 32:
        raise MasterKeyError("the master key must be 32 bytes (base64-encoded)")
    return raw


def _decoded(text: str, source: str) -> bytes:
    """The bytes of a base64 key; anything else is a configuration error, told in one line."""
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise MasterKeyError(f"{source} is not base64: the master key is 32 bytes in base64 "
                             "(e.g. `openssl rand -base64 32`)") from None


class KeyRing:
    """Data keys per subject, cached in memory, kept sealed by the master key in a store of
    keys and erasures: ``PostgresKeyRing``'s tables, or ``InMemoryKeyRing``'s dictionaries for
    the in-memory event store. Both erase alike: once a subject's key is deleted, it never gets
    another one."""

    def __init__(self, master_key: bytes) -> None:
        self._master = AESGCM(master_key)
        self._cache: dict[UUID, AESGCM | None] = {}  # None: erased
        self._lock = threading.Lock()
        self._next_check = 0.0  # time.monotonic() of the next look at erasures made elsewhere
        self._checked_from: datetime | None = None  # the store's clock at the last look

    # -- the store, by kind ----------------------------------------------------------------
    def _fetch(self, subjects: list[UUID]) -> tuple[dict[UUID, bytes], set[UUID]]:
        """The sealed keys stored for ``subjects``, and which of the others were erased."""
        raise NotImplementedError

    def _offer(self, offered: dict[UUID, bytes]) -> dict[UUID, bytes | None]:
        """Store the offered keys of subjects that have none and were not erased; returns what
        is stored for each subject (None: erased), as far as this store can see it."""
        raise NotImplementedError

    def _delete(self, subject: UUID, reason: str) -> bool:
        """Delete the subject's key and record its erasure; False when it had no key."""
        raise NotImplementedError

    def _erased_since(self, since: datetime | None) -> tuple[list[UUID], datetime | None]:
        """The subjects erased at or after ``since`` (none when None), and the store's clock.
        A store only this process writes to has nothing to tell."""
        return [], None

    # -- keys ------------------------------------------------------------------------------
    def _seal_key(self, subject: UUID, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._master.encrypt(nonce, key, subject.bytes)

    def _open_key(self, subject: UUID, sealed: bytes) -> AESGCM:
        try:
            key = self._master.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], subject.bytes)
        except InvalidTag as exc:
            raise MasterKeyError(
                f"the data key of subject {subject} does not open with the configured master key"
            ) from exc
        return AESGCM(key)

    def _recheck(self) -> None:
        """Drop from the cache, at most once a second, the keys other processes deleted: the
        API, the workers and the projector each cache keys, and an erasure is made in one of
        them only."""
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + RECHECK_SECONDS
        erased, clock = self._erased_since(self._checked_from)
        self._checked_from = None if clock is None else clock - RECHECK_OVERLAP
        if erased:
            with self._lock:
                for subject in erased:
                    if subject in self._cache:
                        self._cache[subject] = None

    def load(self, subjects: Iterable[UUID]) -> None:
        """Fetch the stored keys (or erasures) of the subjects not cached, at once."""
        self._recheck()
        wanted = [s for s in dict.fromkeys(subjects) if s not in self._cache]
        if not wanted:
            return
        sealed, erased = self._fetch(wanted)
        found = {subject: self._open_key(subject, key) for subject, key in sealed.items()}
        with self._lock:
            self._cache.update(found)
            self._cache.update({s: None for s in erased})

    def ensure_keys(self, subjects: Iterable[UUID]) -> None:
        """Make sure each subject has a key: new keys for the subjects not cached are offered,
        stored where missing, and every subject's stored key (or its erasure) read back."""
        self._recheck()
        wanted = [s for s in dict.fromkeys(subjects) if s not in self._cache]
        if not wanted:
            return
        stored = self._offer({s: self._seal_key(s, AESGCM.generate_key(bit_length=256))
                              for s in wanted})
        found: dict[UUID, AESGCM | None] = {
            subject: None if key is None else self._open_key(subject, key)
            for subject, key in stored.items()}
        with self._lock:
            self._cache.update(found)
        # A subject whose key another process stored meanwhile may not be in what the store
        # could see: read it now that it is there.
        self.load([s for s in wanted if s not in found])

    def cipher_for(self, subject: UUID, *, create: bool) -> AESGCM | None:
        """The subject's cipher, or None when the subject was erased (or has no key)."""
        self._recheck()
        if subject not in self._cache:
            if create:
                self.ensure_keys([subject])
            else:
                self.load([subject])
        return self._cache.get(subject)

    def erase(self, subject: UUID, reason: str) -> bool:
        """Delete the subject's key for good. Returns False when it was already erased."""
        deleted = self._delete(subject, reason)
        with self._lock:
            self._cache[subject] = None
        return deleted

    def forget_keys(self, subjects: Iterable[UUID]) -> bool:
        """Drop the cached keys of subjects erased elsewhere (another process deleted them):
        True when one was cached."""
        with self._lock:
            dropped = [self._cache.pop(subject, None) for subject in subjects]
        return any(key is not None for key in dropped)

    def forget_cache(self) -> None:
        with self._lock:
            self._cache.clear()


class PostgresKeyRing(KeyRing):
    """The key ring in the ``subject_keys`` and ``erased_subjects`` tables."""

    def __init__(self, master_key: bytes, datastore: Any) -> None:
        super().__init__(master_key)
        self._datastore = datastore  # eventsourcing's PostgresDatastore: one pool for all
        schema = sql.Identifier(datastore.schema or "public")
        self._keys_table = sql.SQL("{}.subject_keys").format(schema)
        self._erased_table = sql.SQL("{}.erased_subjects").format(schema)
        # Keys offered for subjects (the erased ones get none), inserted where missing, and
        # what is stored for each: the inserted rows come back by RETURNING (the statement's
        # snapshot does not show them), the others by the join, erasures as a NULL key.
        self._ensure_statement = sql.SQL(
            "WITH offered (subject_id, sealed_key) AS ("
            " SELECT * FROM unnest(%(ids)s::uuid[], %(keys)s::bytea[])),"
            " erased AS (SELECT e.subject_id FROM {erased} e JOIN offered o USING (subject_id)),"
            " inserted AS (INSERT INTO {keys} (subject_id, sealed_key)"
            "  SELECT subject_id, sealed_key FROM offered"
            "  WHERE subject_id NOT IN (SELECT subject_id FROM erased)"
            "  ON CONFLICT DO NOTHING RETURNING subject_id, sealed_key)"
            " SELECT subject_id, sealed_key FROM inserted"
            " UNION ALL SELECT k.subject_id, k.sealed_key FROM {keys} k"
            "  JOIN offered o USING (subject_id)"
            " UNION ALL SELECT subject_id, NULL FROM erased"
        ).format(keys=self._keys_table, erased=self._erased_table)

    def _fetch(self, subjects: list[UUID]) -> tuple[dict[UUID, bytes], set[UUID]]:
        """In one transaction: the keys, then the erasures of the subjects without one."""
        with self._datastore.transaction(commit=False) as curs:
            curs.execute(sql.SQL("SELECT subject_id, sealed_key FROM {} WHERE subject_id = "
                                 "ANY(%s)").format(self._keys_table), (subjects,))
            found = {row["subject_id"]: row["sealed_key"] for row in curs.fetchall()}
            missing = [s for s in subjects if s not in found]
            erased: set[UUID] = set()
            if missing:
                curs.execute(sql.SQL("SELECT subject_id FROM {} WHERE subject_id = "
                                     "ANY(%s)").format(self._erased_table), (missing,))
                erased = {row["subject_id"] for row in curs.fetchall()}
        return found, erased

    def _offer(self, offered: dict[UUID, bytes]) -> dict[UUID, bytes | None]:
        """One statement of one transaction (three before: read, insert, read again)."""
        with self._datastore.transaction(commit=True) as curs:
            # No wait for the disk: a key is only used to seal events, and their commit, later
            # in the one write-ahead log, makes it durable with them.
            curs.execute(_ASYNC_COMMIT)
            curs.execute(self._ensure_statement,
                         {"ids": list(offered), "keys": list(offered.values())})
            return {row["subject_id"]: row["sealed_key"] for row in curs.fetchall()}

    def _delete(self, subject: UUID, reason: str) -> bool:
        with self._datastore.transaction(commit=True) as curs:
            curs.execute(
                sql.SQL("DELETE FROM {} WHERE subject_id = %s").format(self._keys_table),
                (subject,),
            )
            deleted = curs.rowcount > 0
            curs.execute(
                sql.SQL(
                    "INSERT INTO {} (subject_id, reason) VALUES (%s, %s) ON CONFLICT DO NOTHING"
                ).format(self._erased_table),
                (subject, reason),
            )
        return deleted


    def _erased_since(self, since: datetime | None) -> tuple[list[UUID], datetime | None]:
        with self._datastore.transaction(commit=False) as curs:
            curs.execute(sql.SQL(
                "SELECT now() AS clock, ARRAY(SELECT subject_id FROM {} WHERE erased_at >="
                " %s::timestamptz) AS erased").format(self._erased_table), (since,))
            row = curs.fetchone()
        return list(row["erased"]), row["clock"]


class InMemoryKeyRing(KeyRing):
    """The key ring of the in-memory event store (the library's POPO persistence): its keys
    and erasures live as long as the application, as its events do."""

    def __init__(self, master_key: bytes) -> None:
        super().__init__(master_key)
        self.sealed_keys: dict[UUID, bytes] = {}
        self.erasures: dict[UUID, str] = {}  # subject -> reason

    def _fetch(self, subjects: list[UUID]) -> tuple[dict[UUID, bytes], set[UUID]]:
        with self._lock:
            return ({s: self.sealed_keys[s] for s in subjects if s in self.sealed_keys},
                    {s for s in subjects if s in self.erasures})

    def _offer(self, offered: dict[UUID, bytes]) -> dict[UUID, bytes | None]:
        with self._lock:
            for subject, key in offered.items():
                if subject not in self.erasures:
                    self.sealed_keys.setdefault(subject, key)
            return {s: None if s in self.erasures else self.sealed_keys[s] for s in offered}

    def _delete(self, subject: UUID, reason: str) -> bool:
        with self._lock:
            self.erasures.setdefault(subject, reason)
            return self.sealed_keys.pop(subject, None) is not None


def _aad(subject: UUID, field: str) -> bytes:
    return subject.bytes + field.encode()


class SealingMapper(Mapper[UUID]):
    """The library's mapper, plus sealing of each event's personal fields per data subject.

    The subject is the event's ``customer_id`` attribute when it has one, else the aggregate
    itself (a Customer's own events). An event is stored as the library stores it, from a copy
    whose personal fields are sealed; it is read as the library reads it (``decoded``), then
    unsealed. ``speedups.mapper`` does the library's steps faster.
    """

    keyring: KeyRing

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        personal = getattr(type(domain_event), "PERSONAL", ())
        if personal:
            state = dict(vars(domain_event))
            self._seal(state, personal)
            domain_event = copy.copy(domain_event)  # events are frozen: the copy's state
            vars(domain_event).update(state)  # is set as the library sets a decoded one's
        return super().to_stored_event(domain_event)

    def _seal(self, state: dict[str, Any], personal: tuple[str, ...]) -> None:
        subject = state.get("customer_id") or state["originator_id"]
        cipher = self.keyring.cipher_for(subject, create=True)
        for field in personal:
            value = state.get(field)
            if value is None:
                continue
            if cipher is None:
                state[field] = ERASED
                continue
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, orjson.dumps(value), _aad(subject, field))
            state[field] = SEALED_PREFIX + base64.b64encode(nonce + sealed).decode()

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return self.to_domain_events([stored_event])[0]

    def to_domain_events(self, stored_events: Sequence[StoredEvent]) -> list[Any]:
        """Many events at once: the data keys of every subject they need are fetched in one
        query (a rebuild meets each customer's key once: one query per customer made key
        lookups most of a customers-model rebuild)."""
        events = [self.decoded(stored) for stored in stored_events]
        sealed: list[tuple[Any, tuple[str, ...], UUID]] = []
        for event in events:
            personal = getattr(type(event), "PERSONAL", ())
            if personal:
                state = event.__dict__
                sealed.append((state, personal, state.get("customer_id") or state["originator_id"]))
        if sealed:
            self.keyring.load(subject for _, _, subject in sealed)
            for state, personal, subject in sealed:
                self._unseal(state, personal, subject)
        return events

    def decoded(self, stored: StoredEvent) -> Any:
        """The event as the library's mapper decodes it, its personal fields still sealed."""
        return super().to_domain_event(stored)

    def _unseal(self, state: dict[str, Any], personal: tuple[str, ...], subject: UUID) -> None:
        cipher: AESGCM | None = None
        looked_up = False
        for field in personal:
            value = state.get(field)
            if not (isinstance(value, str) and value.startswith(SEALED_PREFIX)):
                continue
            if not looked_up:
                cipher = self.keyring.cipher_for(subject, create=False)
                looked_up = True
            if cipher is None:
                state[field] = ERASED
                continue
            blob = base64.b64decode(value[len(SEALED_PREFIX):])
            try:
                plain = cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(subject, field))
            except InvalidTag:
                state[field] = ERASED
                continue
            state[field] = orjson.loads(plain)
