"""The package's layers import downwards only, as the README's architecture section draws them.

Each top-level package (or module) of ``ledger_collect`` has a rank; a module may import from its
own layer and from layers ranked below it, never from one above. ``speedups`` plugs into the
layer whose library part it replaces, so it is outside the ranking in both directions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ledger_collect

LAYERS = ["config", "domain", "storage", "commands", "projections", "compliance", "jobs", "api",
          "app", "feed", "cli"]
#: runtime (the collector, worker lifetime) is used from every layer that runs long work.
BESIDE = {"speedups", "runtime"}
ROOT = Path(ledger_collect.__file__).parent


def _layer(module: Path) -> str:
    return module.relative_to(ROOT).parts[0].removesuffix(".py")


def _imported_layers(module: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "ledger_collect" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_layer_imports_only_from_below() -> None:
    upward = []
    for module in sorted(ROOT.rglob("*.py")):
        layer = _layer(module)
        if layer in BESIDE or layer == "__init__":
            continue
        for used in _imported_layers(module) - BESIDE - {layer}:
            if used in LAYERS and LAYERS.index(used) > LAYERS.index(layer):
                upward.append(f"{module.relative_to(ROOT)} imports {used}")
    assert upward == []


def test_every_package_has_a_layer() -> None:
    """A new top-level package or module must be given its place here (and in the README)."""
    tops = {_layer(path) for path in ROOT.iterdir()
            if path.suffix == ".py" or (path / "__init__.py").exists()}
    assert tops - {"__init__"} == set(LAYERS) | BESIDE


def test_every_module_name_is_unique() -> None:
    """A module's name says what it holds wherever it is imported or named in a traceback: no
    two modules share one (packages' ``__init__`` and ``__main__`` aside)."""
    seen: dict[str, list[str]] = {}
    for module in ROOT.rglob("*.py"):
        if module.stem not in {"__init__", "__main__"}:
            seen.setdefault(module.stem, []).append(str(module.relative_to(ROOT)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
