"""Bearer tokens: JWTs signed with HS256 and the configured secret.

Claims: ``sub`` (the user, who becomes the actor of their commands; never empty), ``role`` (one
of ``permissions.Role``), ``segments`` (the collection segments the user works in), ``iat``,
``exp`` and ``iss``. A token valid for longer than ``Settings.max_token_lifetime`` (from ``iat``
to ``exp``) is refused: a leaked token must not serve for months. The secret comes from
LEDGER_JWT_SECRET, else from a key file; in embedded mode the file is generated on first use,
like the master key, so ``ledger-collect token`` and the server agree without configuration.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import jwt

from ledger_collect.api.permissions import Role, User
from ledger_collect.config import Settings

ISSUER = "ledger-collect"
ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash


class AuthenticationError(Exception):
    """The request carries no valid bearer token; the message says what is wrong."""


class TokenSecretError(RuntimeError):
    pass


def token_secret(settings: Settings) -> bytes:
    """The signing secret: configured, or read from (in embedded mode: created in) the key file."""
    if settings.jwt_secret:
        secret = settings.jwt_secret.encode()
    else:
        secret = _secret_from_file(settings.jwt_key_file, create=not settings.database_url)
    if len(secret) < MIN_SECRET_BYTES:
        raise TokenSecretError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes "
                               f"long (LEDGER_JWT_SECRET)")
    return secret


def _secret_from_file(path: Path, *, create: bool) -> bytes:
    if path.exists():
        return path.read_text().strip().encode()
    if not create:
        raise TokenSecretError(f"no token secret: set LEDGER_JWT_SECRET (at least "
                               f"{MIN_SECRET_BYTES} characters) or create {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text().strip().encode()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip().encode()


def issue_token(settings: Settings, user: str, role: Role | str, segments: list[str] | tuple[str, ...] = (),
                ttl: timedelta | int = timedelta(hours=8)) -> str:
    """A signed bearer token for ``user`` (``ttl`` a timedelta or seconds)."""
    role = Role(role)
    if not user.strip():
        raise ValueError("a token needs a user")
    now = datetime.now(UTC)
    lifetime = ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)
    if lifetime.total_seconds() > settings.max_token_lifetime:
        raise ValueError(f"a token may be valid for at most {settings.max_token_lifetime} "
                         f"seconds (LEDGER_MAX_TOKEN_LIFETIME)")
    claims = {"sub": user, "role": role.value, "segments": sorted(set(segments)), "iss": ISSUER,
              "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, token_secret(settings), algorithm=ALGORITHM)


def read_token(token: str, secret: bytes,
               max_lifetime: float = Settings.max_token_lifetime) -> User:
    """The user a token speaks for; ``AuthenticationError`` when it is not valid.

    A token's signature and claims are checked once (a client sends the same token with every
    request; checking costs more than a small query): after that, only its expiry."""
    user, expires = _checked(token, secret, max_lifetime)
    if expires <= _clock():
        raise AuthenticationError("the bearer token has expired; get a new one")
    return user


_clock = time.time  # what expiry is measured against (tests move it)


@lru_cache(maxsize=4096)
def _checked(token: str, secret: bytes, max_lifetime: float) -> tuple[User, float]:
    """A valid token's user and expiry (``exp``); raises for an invalid one (never cached)."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["sub", "exp", "iat", "iss"]})
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("the bearer token has expired; get a new one") from None
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError(f"the bearer token is not valid: {exc}") from None
    try:
        role = Role(claims.get("role"))
    except ValueError:
        raise AuthenticationError(f"the bearer token names an unknown role "
                                  f"{claims.get('role')!r}") from None
    segments = claims.get("segments", [])
    if not isinstance(segments, list) or not all(isinstance(s, str) for s in segments):
        raise AuthenticationError("the bearer token's segments must be a list of names")
    if not str(claims["sub"]).strip():
        raise AuthenticationError("the bearer token names no user (its sub is empty)")
    lifetime = float(claims["exp"]) - float(claims["iat"])
    if lifetime > max_lifetime:
        raise AuthenticationError(f"the bearer token is valid for {lifetime:.0f} seconds; at "
                                  f"most {max_lifetime:.0f} are accepted: get a new one")
    user = User(id=str(claims["sub"]), role=role, segments=frozenset(segments))
    return user, float(claims["exp"])


def authenticate(authorization: str | None, secret: bytes,
                 max_lifetime: float = Settings.max_token_lifetime) -> User:
    """The user of an ``Authorization: Bearer <token>`` header; ``max_lifetime``: the longest
    a token may be valid, in seconds (``Settings.max_token_lifetime``)."""
    if not authorization:
        raise AuthenticationError("authentication required: send an Authorization: Bearer "
                                  "<token> header (`ledger-collect token` issues one)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return read_token(token.strip(), secret, max_lifetime)
