"""Where segments and the manifest are kept: a folder, or an S3-compatible bucket.

Both offer the same three operations on named objects. A put replaces the object whole or not
at all (a folder writes a temporary file, syncs it and renames it; an S3 PUT is atomic), so a
crash leaves the old manifest or the new one, never a torn one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from ledger_collect.config import Settings


class ArchiveStorageError(RuntimeError):
    """The archive's storage is misconfigured or cannot be reached."""


class Storage(Protocol):
    location: str

    def get(self, name: str) -> bytes | None: ...
    def put(self, name: str, data: bytes) -> None: ...
    def names(self, prefix: str) -> list[str]: ...


class FolderStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = f"file://{root}"

    def get(self, name: str) -> bytes | None:
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, name: str, data: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
        for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a killed writer
            stale.unlink(missing_ok=True)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def names(self, prefix: str) -> list[str]:
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        return sorted(f"{prefix}/{p.name}" for p in folder.iterdir()
                      if p.is_file() and not p.name.startswith("."))


class S3Storage:
    """Objects under ``prefix`` in ``bucket``; credentials the usual boto3 way (environment,
    profile, instance role), the endpoint of an S3-compatible server from the settings."""

    def __init__(self, bucket: str, prefix: str, endpoint: str | None) -> None:
        try:
            import boto3
        except ImportError:
            raise ArchiveStorageError("an s3:// archive needs boto3: install "
                                      "ledger-collect[s3]") from None
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}"
        self._client: Any = boto3.client("s3", endpoint_url=endpoint)

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def get(self, name: str) -> bytes | None:
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self._key(name))
        except self._client.exceptions.NoSuchKey:
            return None
        return answer["Body"].read()  # type: ignore[no-any-return]

    def put(self, name: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=self._key(name), Body=data)

    def names(self, prefix: str) -> list[str]:
        found = []
        start = self._key(prefix) + "/"
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start)
        for page in pages:
            for item in page.get("Contents", []):
                found.append(f"{prefix}/{item['Key'][len(start):]}")
        return sorted(found)


def open_storage(settings: Settings) -> Storage:
    """The storage ``LEDGER_ARCHIVE_URL`` names; a folder in the data directory by default."""
    url = settings.archive_url
    if not url:
        return FolderStorage(settings.data_dir / "archive")
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ArchiveStorageError(f"LEDGER_ARCHIVE_URL {url}: file:///absolute/path")
        return FolderStorage(Path(unquote(parsed.path)))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ArchiveStorageError(f"LEDGER_ARCHIVE_URL {url}: s3://bucket/prefix")
        return S3Storage(parsed.netloc, unquote(parsed.path), settings.archive_s3_endpoint)
    raise ArchiveStorageError(f"LEDGER_ARCHIVE_URL {url}: file:///path or s3://bucket/prefix")
