"""Where the token secret comes from, and what a token says."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from ledger_collect.api import auth
from ledger_collect.api.auth import (
    AuthenticationError,
    TokenSecretError,
    authenticate,
    issue_token,
    token_secret,
)
from ledger_collect.api.permissions import Role, User
from ledger_collect.config import Settings


def test_embedded_mode_makes_a_secret_file_once_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(database_url=None, data_dir=tmp_path / "data")
    first = token_secret(settings)
    key_file = tmp_path / "data" / "jwt.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(first) >= 32
    assert token_secret(settings) == first
    token = issue_token(settings, "alice", "supervisor", ["south", "north", "north"])
    assert authenticate(f"Bearer {token}", first) == User(
        id="alice", role=Role.SUPERVISOR, segments=frozenset({"north", "south"}))


def test_a_server_of_its_own_needs_a_configured_secret(tmp_path: Path) -> None:
    external = Settings(database_url="postgresql://db.example/ledger", data_dir=tmp_path)
    with pytest.raises(TokenSecretError, match="set LEDGER_JWT_SECRET"):
        token_secret(external)
    with pytest.raises(TokenSecretError, match="at least 32 bytes"):
        token_secret(external.with_changes(jwt_secret="short"))
    (tmp_path / "jwt.key").write_text("k" * 40 + "\n")
    assert token_secret(external) == b"k" * 40


def test_settings_read_the_token_secret_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({"LEDGER_JWT_SECRET": "s" * 32, "LEDGER_DEVELOPMENT": "yes",
                                  "LEDGER_JWT_SECRET_FILE": str(tmp_path / "k"),
                                  "LEDGER_READ_WAIT_SECONDS": "0.5"})
    assert (settings.jwt_secret, settings.development, settings.jwt_key_file,
            settings.read_wait_seconds) == ("s" * 32, True, tmp_path / "k", 0.5)


def test_tokens_name_a_known_role_and_a_user(tmp_path: Path) -> None:
    settings = Settings(jwt_secret="s" * 32, data_dir=tmp_path)
    with pytest.raises(ValueError, match="'king' is not a valid Role"):
        issue_token(settings, "alice", "king")
    with pytest.raises(ValueError, match="a token needs a user"):
        issue_token(settings, " ", "admin")
    with pytest.raises(AuthenticationError, match="authentication required"):
        authenticate(None, b"s" * 32)


def test_a_token_checked_once_is_still_refused_once_it_expires(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The signature and claims are checked on first sight only: expiry must still be read on
    # every request, at the second the token says.
    settings = Settings(jwt_secret="s" * 32, data_dir=tmp_path)
    secret = token_secret(settings)
    token = issue_token(settings, "alice", "specialist", ["north"], ttl=600)
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert authenticate(f"Bearer {token}", secret).id == "alice"
    monkeypatch.setattr(auth, "_clock", lambda: expires - 0.5)
    assert authenticate(f"Bearer {token}", secret).id == "alice"
    monkeypatch.setattr(auth, "_clock", lambda: float(expires))
    with pytest.raises(AuthenticationError, match="has expired"):
        authenticate(f"Bearer {token}", secret)
    # A token signed with another secret is refused, whatever was cached for this one.
    with pytest.raises(AuthenticationError, match="Signature verification failed"):
        authenticate(f"Bearer {token}", b"t" * 32)
