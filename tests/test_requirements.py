"""Every third-party package the code imports directly is pinned, not left to arrive through another package."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", "var", "node_modules", ".git"}


def _pinned() -> set[str]:
    names = set()
    for req in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / req).read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==", line.strip())
            if match:
                names.add(_normal(match.group(1)))
    return names


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level_modules() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        if SKIP_DIRS & set(path.relative_to(ROOT).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def _local_modules() -> set[str]:
    """Top-level packages of this checkout, and scripts that import their siblings (bench/)."""
    local = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    local |= {p.stem for p in ROOT.glob("bench/*.py")}
    local |= {p.parent.name for p in ROOT.glob("client/*/__init__.py")}  # the Python client, its own package
    return local | {"bench", "tests"}


def test_every_directly_imported_third_party_package_is_pinned() -> None:
    pinned = _pinned()
    distributions = packages_distributions()
    local = _local_modules()
    unpinned = {
        module: sorted(files)[:3]
        for module, files in _imported_top_level_modules().items()
        if module not in sys.stdlib_module_names
        and module != "__future__"
        and module not in local
        and not any(_normal(dist) in pinned for dist in distributions.get(module, []))
    }
    assert unpinned == {}, f"imported but not pinned in requirements*.txt: {unpinned}"
