"""The manifest: every segment in order, signed with the archive's Ed25519 key.

Stored as one object: a first line ``LCMANIFEST1 <signature hex>`` and then the body, a JSON
document whose exact bytes are signed. The first line must be the one its own signature
would give (lower-case hex, one space): a flipped bit there is caught like one in the body.

The key is a 32-byte seed from ``LEDGER_ARCHIVE_KEY`` (base64), else ``<data dir>/archive.key``,
created on first run like the master key. Verification needs only the public key.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger_collect.compliance.archive.segment import SegmentError, SegmentInfo

HEADER = b"LCMANIFEST1 "
FORMAT = 1


class ArchiveKeyError(RuntimeError):
    """The archive key is missing or malformed."""


class ManifestError(ValueError):
    """A manifest that does not read, or whose signature does not hold."""


def load_archive_key(value: str | None, key_file: Path, *, create: bool) -> Ed25519PrivateKey:
    """The signing key: from configuration, else from its file (generated when allowed)."""
    if value:
        seed = _decoded(value.strip(), "LEDGER_ARCHIVE_KEY")
    elif key_file.exists():
        seed = _decoded(key_file.read_text().strip(), f"the archive key file {key_file}")
    elif create:
        seed = os.urandom(32)
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(seed).decode() + "\n")
    else:
        raise ArchiveKeyError(f"no archive key: set LEDGER_ARCHIVE_KEY (base64 of a 32-byte "
                              f"Ed25519 seed) or create {key_file}")
    if len(seed) != 32:
        raise ArchiveKeyError("the archive key must be a 32-byte seed (base64-encoded)")
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_public_key(value: str) -> Ed25519PublicKey:
    """A public key given alone (base64 of its 32 raw bytes), for verifying without the seed."""
    raw = _decoded(value.strip(), "LEDGER_ARCHIVE_PUBLIC_KEY")
    if len(raw) != 32:
        raise ArchiveKeyError("the archive's public key must be 32 bytes (base64-encoded)")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_base64(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def _decoded(text: str, source: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ArchiveKeyError(f"{source} is not base64 (e.g. `openssl rand -base64 32`)") from None


def public_key_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


@dataclass(frozen=True)
class Manifest:
    segments: tuple[SegmentInfo, ...] = ()

    @property
    def last(self) -> SegmentInfo | None:
        return self.segments[-1] if self.segments else None

    def appended(self, info: SegmentInfo) -> Manifest:
        return Manifest((*self.segments, info))

    def body(self, public_key: Ed25519PublicKey) -> bytes:
        return orjson.dumps({"format": FORMAT, "public_key": public_key_hex(public_key),
                             "segments": [s.as_dict() for s in self.segments]},
                            option=orjson.OPT_INDENT_2)

    def signed(self, key: Ed25519PrivateKey) -> bytes:
        body = self.body(key.public_key())
        return HEADER + key.sign(body).hex().encode() + b"\n" + body


def read_manifest(data: bytes, public_key: Ed25519PublicKey) -> Manifest:
    """The manifest, once its signature holds under ``public_key``; ManifestError otherwise."""
    end = data.find(b"\n")
    if not data.startswith(HEADER) or end < 0:
        raise ManifestError("the manifest's first line is not a signature line")
    try:
        signature = bytes.fromhex(data[len(HEADER):end].decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise ManifestError("the manifest's signature is not hex") from None
    if HEADER + signature.hex().encode() != data[:end]:
        raise ManifestError("the manifest's signature line is not in its canonical form")
    body = data[end + 1:]
    try:
        public_key.verify(signature, body)
    except InvalidSignature:
        raise ManifestError("the manifest's signature does not verify with the archive's "
                            "public key (tampered, or signed with another key)") from None
    try:
        document = orjson.loads(body)
        if document["format"] != FORMAT:
            raise ManifestError(f"manifest format {document['format']!r} is not {FORMAT}")
        segments = tuple(SegmentInfo.from_dict(entry) for entry in document["segments"])
    except (orjson.JSONDecodeError, KeyError, TypeError, SegmentError) as exc:
        raise ManifestError(f"the manifest is signed but unreadable: {exc}") from None
    return Manifest(segments)
