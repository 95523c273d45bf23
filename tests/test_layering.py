"""The architecture's import rules, checked on the source (STYLE.md's layout)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IO_LIBS = {"flask", "httpx2", "sqlite3", "redis", "boto3", "werkzeug", "gunicorn"}
EDGES = (
    "events/sources/",
    "events/store/",
    "handlers/backends/",
    "handlers/tools/fetch_url.py",
    "handlers/standin/",
    "handlers/cli/",
    "deploy/",
    "events/testing.py",
)


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def sources(*dirs: str) -> list[Path]:
    return [p for d in dirs for p in (REPO / d).rglob("*.py")]


def test_events_never_imports_handlers() -> None:
    """events/ does not import handlers/ (handlers join by registering)."""
    bad = [
        str(p.relative_to(REPO))
        for p in sources("events")
        if any(m.split(".")[0] == "handlers" for m in imports(p))
    ]
    assert bad == []


def test_io_libraries_only_in_edge_modules() -> None:
    """flask, httpx2, sqlite3, redis, boto3, werkzeug and gunicorn appear only in edge modules."""
    bad = []
    for path in sources("events", "handlers"):
        rel = str(path.relative_to(REPO))
        if rel.startswith(EDGES):
            continue
        used = {m.split(".")[0] for m in imports(path)} & IO_LIBS
        if used:
            bad.append((rel, sorted(used)))
    assert bad == []


def test_standin_only_from_cli_and_tests() -> None:
    """Nothing in the production path imports the stand-in."""
    bad = []
    for path in sources("events", "handlers", "deploy"):
        rel = str(path.relative_to(REPO))
        if rel.startswith(("handlers/standin/", "handlers/cli/")):
            continue
        if any(m.startswith("handlers.standin") for m in imports(path)):
            bad.append(rel)
    assert bad == []


def test_environment_read_only_in_config() -> None:
    """os.environ / os.getenv appear only in events/config.py."""
    bad = []
    for path in sources("events", "handlers", "deploy"):
        text = path.read_text()
        if ("os.environ" in text or "os.getenv" in text) and path != REPO / "events/config.py":
            bad.append(str(path.relative_to(REPO)))
    assert bad == []
