"""The built wheel: one import package, typed, with its command, in a fresh virtualenv.

Builds the wheel from this checkout with pip (as a user's ``pip install .`` would), reads what
it holds, installs it with its dependencies into a new virtualenv and uses it from there.
"""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("runhook-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with the wheel and its dependencies installed; returns its python."""
    home = tmp_path_factory.mktemp("fresh") / "venv"
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return python


def test_wheel_holds_runhook_alone(wheel: Path) -> None:
    """Every file of the wheel is under runhook/ or its dist-info: no events, handlers, deploy,
    tests or bench at the top of site-packages."""
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"runhook", wheel.name.split("-py3")[0] + ".dist-info"}
    for needed in (
        "runhook/py.typed",
        "runhook/__init__.py",
        "runhook/runtime.py",
        "runhook/events/__init__.py",
        "runhook/events/store/sqlite.py",
        "runhook/standin/app.py",
    ):
        assert needed in names
    # every module of the three folders is in it, under its runhook name
    for folder, package in (("handlers", "runhook"), ("events", "runhook/events")):
        for source in (REPO / folder).rglob("*.py"):
            assert f"{package}/{source.relative_to(REPO / folder)}" in names
    for source in (REPO / "standin").rglob("*.py"):
        assert f"runhook/standin/{source.relative_to(REPO / 'standin')}" in names


def test_installed_package_imports_and_runs(fresh: Path) -> None:
    """In the fresh venv: ``from runhook import App, ToolError`` works, the generic names the
    old layout installed are not there, and the ``runhook`` command prints its version."""
    probe = (
        "import importlib.util, runhook, runhook.events, runhook.standin\n"
        "from runhook import App, ToolError\n"
        "print(runhook.__version__)\n"
        "print(runhook.__file__)\n"
        "print([n for n in ('events', 'handlers', 'deploy') if importlib.util.find_spec(n)])\n"
    )
    done = subprocess.run(
        [str(fresh), "-c", probe], capture_output=True, text=True, timeout=60, cwd=fresh.parent
    )
    assert done.returncode == 0, done.stderr
    version, location, generic = done.stdout.splitlines()
    assert "site-packages/runhook/__init__.py" in location
    assert generic == "[]"
    command = fresh.parent / "runhook"
    shown = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=60)
    assert shown.stdout.strip() == f"runhook {version}"


def test_installed_package_is_typed(fresh: Path, tmp_path: Path) -> None:
    """py.typed ships: a type checker run against the fresh venv sees runhook's own types (a
    wrong use is an error naming them, not an untyped import)."""
    user = tmp_path / "user.py"
    user.write_text(
        "from runhook import App\n\napp = App()\nsettings: int = app.settings\n",
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--python-executable", str(fresh), str(user)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stdout
    assert 'expression has type "Settings", variable has type "int"' in done.stdout
    assert "import-untyped" not in done.stdout and "import-not-found" not in done.stdout
