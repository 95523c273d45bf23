"""One errors module per package, its whole tree drawn in its docstring; shared types in one place."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

import runhook.errors
import runhook.events.errors
import runhook.standin.errors

REPO = Path(__file__).resolve().parent.parent
#: modules allowed an exception class of their own: the worker's warm-shutdown signal (a
#: BaseException, not an error)
OWN_EXCEPTIONS = {"events/worker.py": {"WarmShutdown"}}
ERRORS_MODULES = ("events/errors.py", "handlers/errors.py", "standin/errors.py")


def _classes(module: ModuleType) -> list[type[BaseException]]:
    return [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, BaseException) and obj.__module__ == module.__name__
    ]


@pytest.mark.parametrize("module", [runhook.events.errors, runhook.errors, runhook.standin.errors])
def test_docstring_tree_names_every_class(module: ModuleType) -> None:
    """Each errors module's docstring tree names every exception class the module defines."""
    doc = module.__doc__ or ""
    missing = [
        cls.__name__
        for cls in _classes(module)
        if not re.search(rf"^[\s│├└─]*{cls.__name__}\b", doc, re.MULTILINE)
    ]
    assert missing == []


def test_exception_classes_live_in_the_errors_modules() -> None:
    """No module of events/, handlers/ or standin/ but the errors modules defines an exception
    class."""
    found: dict[str, set[str]] = {}
    for path in [p for d in ("events", "handlers", "standin") for p in (REPO / d).rglob("*.py")]:
        rel = str(path.relative_to(REPO))
        if rel in ERRORS_MODULES:
            continue
        names = {
            node.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ClassDef) and any(_is_exception(base) for base in node.bases)
        }
        if names - OWN_EXCEPTIONS.get(rel, set()):
            found[rel] = names
    assert found == {}


def _is_exception(base: ast.expr) -> bool:
    name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
    known = {cls.__name__ for cls in _classes(runhook.events.errors) + _classes(runhook.errors)}
    return name.endswith(("Error", "Exception")) or name in known


def test_old_homes_re_export_the_same_objects() -> None:
    """The old import paths still give the very errors and call types the new homes define."""
    from runhook import calls
    from runhook.backends import base
    from runhook.tools import runner, schema

    assert base.RunExpired is runhook.errors.RunExpired
    assert base.RunMovedOn is runhook.errors.RunMovedOn
    assert base.SubmitUnknown is runhook.errors.SubmitUnknown
    assert runner.ToolError is runhook.errors.ToolError
    assert schema.ArgumentError is runhook.errors.ArgumentError
    assert (base.ToolCall, base.ToolOutput) == (calls.ToolCall, calls.ToolOutput)
    from runhook.events.sources import gcf

    assert gcf.RetryDelivery is runhook.events.errors.RetryDelivery
