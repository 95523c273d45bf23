"""runhook serve's metrics directory: prepared in the master before the workers fork."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runhook.events.config import Settings
from runhook.runtime import gunicorn_options, prepare_metrics


def test_metrics_off_prepares_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without RUNHOOK_METRICS no directory is made and the environment is left alone."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert prepare_metrics(Settings()) is None
    assert Settings.from_env().metrics_dir is None


def test_a_fresh_directory_is_made_and_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    """With metrics on and no directory given, a new empty one is made and handed to the
    workers through PROMETHEUS_MULTIPROC_DIR."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # restored after the test
    directory = prepare_metrics(Settings(metrics=True))
    assert directory is not None and Path(directory).is_dir()
    assert list(Path(directory).iterdir()) == []
    assert Settings.from_env().metrics_dir == directory
    shutil.rmtree(directory)


def test_a_given_directory_is_emptied_of_an_earlier_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Counters left by an earlier server would be added to this one's: they are removed."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "keep.txt").write_text("not ours")
    assert prepare_metrics(Settings.from_env(metrics=True)) == str(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_gunicorn_cleans_up_after_each_worker() -> None:
    """The gunicorn options carry the child_exit hook that drops a dead worker's files."""
    assert gunicorn_options(Settings())["child_exit"].__name__ == "child_exit"
