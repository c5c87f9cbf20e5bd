"""Where the SQL folders are: inside the installed wheel, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # ledger_collect/


def sql_folder(name: str) -> Path:
    """``migrations``, ``projections`` or ``schema``."""
    bundled = _PACKAGE / "_sql" / name
    if bundled.is_dir():
        return bundled
    checkout = _PACKAGE.parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"the {name}/ folder is missing from this installation")
