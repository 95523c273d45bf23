"""The architecture's import rules, checked on the source (README, "How it flows").

The one import package ``runhook`` is built from three folders (pyproject's ``package-dir``):
handlers/ is ``runhook``, events/ is ``runhook.events`` and standin/ is ``runhook.standin``.
deploy/ holds entry files that import the product and is not part of it.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FOLDERS = {"runhook": "handlers", "runhook.events": "events", "runhook.standin": "standin"}
IO_LIBS = {"flask", "httpx2", "sqlite3", "redis", "boto3", "werkzeug", "gunicorn"}
EDGES = (
    "events/sources/",
    "events/store/",
    "handlers/backends/",
    "handlers/tools/fetch_url.py",
    "handlers/cli/",
    "handlers/runtime.py",
    "standin/",
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
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def sources(*dirs: str) -> list[Path]:
    return [p for d in dirs for p in (REPO / d).rglob("*.py")]


def offenders(dirs: tuple[str, ...], bad: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list:
    """Files under ``dirs`` (but not ``allowed``) importing a module that starts with ``bad``."""
    found = []
    for path in sources(*dirs):
        rel = str(path.relative_to(REPO))
        if rel.startswith(allowed):
            continue
        hits = sorted(m for m in imports(path) if m == bad or m.startswith(bad))
        if hits:
            found.append((rel, hits))
    return found


def test_events_never_imports_the_handlers() -> None:
    """events/ imports nothing of runhook outside runhook.events (handlers join by registering)."""
    bad = []
    for path in sources("events"):
        outside = {
            m
            for m in imports(path)
            if (m == "runhook" or m.startswith("runhook."))
            and not (m == "runhook.events" or m.startswith("runhook.events."))
        }
        if outside:
            bad.append((str(path.relative_to(REPO)), sorted(outside)))
    assert bad == []


def test_the_product_never_imports_deploy() -> None:
    """events/, handlers/ and standin/ never import deploy/: deploy only wires (entry files)."""
    assert offenders(("events", "handlers", "standin"), ("deploy",)) == []


def test_deploy_holds_only_short_entry_files() -> None:
    """Every Python file in deploy/ is an entry file of a few lines that imports runhook."""
    long = {}
    for path in sources("deploy"):
        tree = ast.parse(path.read_text())
        statements = [n for n in tree.body if not isinstance(n, ast.Expr)]  # docstrings
        if len(statements) > 12 or any(isinstance(n, ast.FunctionDef) for n in tree.body):
            long[path.name] = len(statements)
    assert long == {}


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
    """Nothing in the production path imports the stand-in; only the CLI does (``emulator``,
    ``demo``)."""
    assert offenders(("events", "handlers"), ("runhook.standin",), ("handlers/cli/",)) == []


def test_the_app_does_not_wire_sources() -> None:
    """The App holds what handlers need; sources, the worker and the server are wired by the
    composition root (runhook.runtime) and the CLI, never by the App or a handler."""
    wiring = ("runhook.events.sources", "runhook.events.worker", "runhook.runtime")
    handlers = ("handlers/app.py", "handlers/context.py", "handlers/requires_action.py")
    handlers += ("handlers/lifecycle.py", "handlers/tools/", "handlers/backends/")
    found = [
        (rel, hits) for rel, hits in offenders(("handlers",), wiring) if rel.startswith(handlers)
    ]
    assert found == []


#: runhook modules that import an optional extra at their top: imported where the extra is used
NEEDS_AN_EXTRA = {"runhook.events.observability.metrics", "runhook.events.observability.otel"}


def test_no_function_level_imports_of_runhook_in_the_handlers() -> None:
    """Inside handlers/ (the CLI aside, which loads one command at a time), runhook modules are
    imported at the top of the module: a function-level import would hide an import cycle. Only
    a module that needs an optional extra is imported where it is used."""
    bad = []
    for path in sources("handlers"):
        rel = str(path.relative_to(REPO))
        if rel.startswith("handlers/cli/"):
            continue
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                module = node.module if isinstance(node, ast.ImportFrom) else None
                if isinstance(node, ast.Import):
                    module = node.names[0].name
                if module in NEEDS_AN_EXTRA:
                    continue
                if module and (module == "runhook" or module.startswith("runhook.")):
                    bad.append(f"{rel}:{node.lineno} {module}")
    assert bad == []


def test_environment_read_only_in_config() -> None:
    """os.environ / os.getenv appear only in events/config.py."""
    bad = []
    for path in sources("events", "handlers", "deploy"):
        text = path.read_text()
        if ("os.environ" in text or "os.getenv" in text) and path != REPO / "events/config.py":
            bad.append(str(path.relative_to(REPO)))
    assert bad == []


def test_pyproject_packages_list_every_package_folder() -> None:
    """pyproject's ``packages`` names every folder with an ``__init__.py`` under events/,
    handlers/ and standin/, mapped into runhook, so the wheel misses none."""
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert tool["package-dir"] == FOLDERS
    expected = set()
    for package, folder in FOLDERS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(REPO / folder).parts
            expected.add(".".join((package, *parts)))
    assert sorted(tool["packages"]) == sorted(expected)
