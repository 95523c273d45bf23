"""What the SQLite store adds to the contract: URLs, the file, restarts, fork, errors, purging."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runhook.events.errors import ConfigError, StoreError
from runhook.events.store import Enqueued, Status, open_store
from runhook.events.store.sqlite import SCHEMA_VERSION, SQLiteStore
from tests.plugins.stores import (
    FakeClock,
    StoreSpec,
    race_in_processes,
    race_in_threads,
    run_in_fork,
)

LEASE_S = 30.0
TTL_S = 10.0
PROCESSES = 8


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's database file goes."""
    return tmp_path / "runhook.db"


@pytest.fixture
def store(db_path: Path, store_clock: FakeClock) -> Iterator[SQLiteStore]:
    """A SQLite store on a fresh file."""
    store = SQLiteStore(db_path, clock=store_clock)
    try:
        yield store
    finally:
        store.close()


def raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection to look at the file from outside the store."""
    return sqlite3.connect(path, isolation_level=None)


def count_rows(path: Path) -> int:
    """How many records the file holds, forgotten ones included."""
    conn = raw(path)
    try:
        return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])
    finally:
        conn.close()


class TestFromUrl:
    def test_relative(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """sqlite:///name.db is a file in the working directory, resolved once at opening."""
        monkeypatch.chdir(tmp_path)
        store = SQLiteStore.from_url("sqlite:///runhook.db")
        store.close()
        assert store.path == str(tmp_path / "runhook.db")
        assert (tmp_path / "runhook.db").is_file()

    def test_absolute(self, db_path: Path) -> None:
        """sqlite:////abs/path.db (four slashes) is an absolute path."""
        store = SQLiteStore.from_url(f"sqlite:///{db_path}")
        store.close()
        assert str(db_path).startswith("/") and store.path == str(db_path)

    def test_percent_encoded(self, tmp_path: Path) -> None:
        """A percent-encoded path is decoded."""
        store = SQLiteStore.from_url(f"sqlite:///{tmp_path}/my%20store.db")
        store.close()
        assert (tmp_path / "my store.db").is_file()

    def test_open_store(self, db_path: Path) -> None:
        """open_store() hands sqlite: URLs to SQLiteStore with the given clock."""
        clock = FakeClock()
        store = open_store(f"sqlite:///{db_path}", clock=clock)
        store.close()
        assert isinstance(store, SQLiteStore) and store.clock is clock

    @pytest.mark.parametrize(
        "url",
        ["sqlite:///", "sqlite://", "sqlite:relative.db", "sqlite:///x.db?timeout=5"],
    )
    def test_malformed(self, url: str) -> None:
        """A URL that names no file, or in another form, is a ConfigError showing the forms."""
        with pytest.raises(ConfigError, match=r"sqlite:////absolute/path\.db"):
            SQLiteStore.from_url(url)

    def test_memory_refused(self) -> None:
        """sqlite:///:memory: is refused: it would not be shared; the error names memory:."""
        with pytest.raises(ConfigError, match="RUNHOOK_STORE=memory:"):
            SQLiteStore.from_url("sqlite:///:memory:")


class TestOpening:
    def test_wal_and_schema(self, store: SQLiteStore, db_path: Path) -> None:
        """The file is in WAL mode, with the schema version and the due-queue index."""
        conn = raw(db_path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            plan = conn.execute(
                "EXPLAIN QUERY PLAN SELECT key FROM records WHERE queue = 'inbox' "
                "AND status <> 'completed' AND lease_until <= 1 ORDER BY lease_until"
            ).fetchall()
        finally:
            conn.close()
        assert "records_due" in str(plan) and "TEMP B-TREE" not in str(plan)

    def test_missing_directory(self, tmp_path: Path) -> None:
        """A file in a directory that does not exist is a StoreError naming it and the fix."""
        missing = tmp_path / "nope"
        with pytest.raises(StoreError, match=f"directory {missing} does not exist; create it"):
            SQLiteStore(missing / "runhook.db")
        assert not missing.exists()

    def test_directory_as_file(self, tmp_path: Path) -> None:
        """A path that is a directory is a StoreError saying so."""
        with pytest.raises(StoreError, match="it is a directory"):
            SQLiteStore(tmp_path)

    def test_not_a_database(self, db_path: Path) -> None:
        """A file that is not SQLite is a StoreError naming the file and the fix."""
        db_path.write_bytes(b"this is not a database, " * 100)
        with pytest.raises(StoreError, match=rf"{db_path}.*point RUNHOOK_STORE at another file"):
            SQLiteStore(db_path)

    def test_foreign_database(self, db_path: Path) -> None:
        """A SQLite file holding other tables is not taken over."""
        conn = raw(db_path)
        conn.execute("CREATE TABLE users (id INTEGER)")
        conn.close()
        with pytest.raises(StoreError, match="not a runhook store"):
            SQLiteStore(db_path)

    def test_newer_schema(self, db_path: Path) -> None:
        """A file written by a newer runhook is refused rather than misread."""
        SQLiteStore(db_path).close()
        conn = raw(db_path)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.close()
        with pytest.raises(StoreError, match="newer runhook"):
            SQLiteStore(db_path)


class TestRestart:
    def test_records_survive(self, db_path: Path, store_clock: FakeClock) -> None:
        """A new store on the same file (a restarted server) sees every record as it was."""
        before = SQLiteStore(db_path, clock=store_clock)
        before.enqueue("evt:queued", b"body", queue="inbox")
        leased = before.claim("wait:leased", LEASE_S)
        done = before.claim("wait:done", LEASE_S)
        assert leased is not None and done is not None
        before.complete(done, TTL_S)
        before.close()

        after = SQLiteStore(db_path, clock=store_clock)
        try:
            assert after.due("inbox") == ["evt:queued"]
            assert after.enqueue("evt:queued", b"body", queue="inbox") is Enqueued.DUPLICATE
            assert after.claim("wait:leased", LEASE_S) is None
            assert after.claim("wait:done", LEASE_S) is None
            assert after.complete(leased, TTL_S) is True
            record = after.get("wait:done")
            assert record is not None and record.status is Status.COMPLETED
        finally:
            after.close()


class TestProcesses:
    def test_processes_create_the_file_together(self, db_path: Path) -> None:
        """Worker processes that open a new file at the same moment all succeed."""
        spec = StoreSpec("sqlite", f"sqlite:///{db_path}")
        results = race_in_processes(spec, FakeClock().now, "open", "evt:1", PROCESSES)
        assert sorted(results) == ["duplicate"] * (PROCESSES - 1) + ["new"]


class TestFork:
    def test_child_detects_fork(self, store: SQLiteStore) -> None:
        """A forked child using the parent's store gets its own connection and works."""
        store.enqueue("evt:parent", b"body", queue="inbox")  # the parent has a connection now
        assert run_in_fork(lambda: store.claim("wait:child", LEASE_S)) == 0
        assert store.claim("wait:child", LEASE_S) is None
        assert store.due("inbox") == ["evt:parent"]

    def test_reopen_in_child(self, store: SQLiteStore) -> None:
        """reopen() in the child (gunicorn post_fork) leaves the parent's connection working."""
        store.enqueue("evt:parent", b"body", queue="inbox")

        def child() -> bool:
            store.reopen()
            return store.enqueue("evt:child", b"body", queue="inbox") is Enqueued.NEW

        assert run_in_fork(child) == 0
        assert store.due("inbox") == ["evt:parent", "evt:child"]


class TestErrors:
    def test_write_lock_held_too_long(self, db_path: Path, store_clock: FakeClock) -> None:
        """A write that waits past the busy timeout is a StoreError; reads do not wait."""
        store = SQLiteStore(db_path, clock=store_clock, busy_timeout_s=0.05)
        store.enqueue("evt:1", b"body", queue="inbox")
        blocker = raw(db_path)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match=rf"{db_path}: insert failed.*busy timeout"):
                store.claim("wait:1", LEASE_S)
            assert store.due("inbox") == ["evt:1"]  # WAL: readers go on while a write waits
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert store.claim("wait:1", LEASE_S) is not None
        store.close()

    def test_closed(self, db_path: Path) -> None:
        """A closed store refuses work with a StoreError; reopen() makes it usable again."""
        store = SQLiteStore(db_path)
        store.close()
        with pytest.raises(StoreError, match="is closed"):
            store.ping()
        store.reopen()
        store.ping()
        store.close()


class BatchRecordingStore(SQLiteStore):
    """A SQLite store that records the size of each group it commits (then commits it)."""

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.batches: list[int] = []

    def _commit(self, batch: list[Any]) -> None:
        self.batches.append(len(batch))
        super()._commit(batch)


def outcome(write: Callable[[], object]) -> object:
    """What ``write()`` returned, or the exception it raised (for ``race_in_threads``)."""
    try:
        return write()
    except Exception as exc:
        return exc


class TestGroupCommit:
    def test_writes_waiting_for_the_lock_go_in_one_group_each_with_its_answer(
        self, db_path: Path, store_clock: FakeClock
    ) -> None:
        """Writes that queue while another commit waits for the lock are committed together,
        and each gets its own answer: a new key NEW, a known one DUPLICATE, in one group."""
        store = BatchRecordingStore(db_path, clock=store_clock)
        for i in range(0, 16, 2):
            store.enqueue(f"evt:{i}", b"body", queue="inbox")
        store.batches.clear()
        blocker = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        blocker.execute("BEGIN IMMEDIATE")  # released from a timer thread, below
        threading.Timer(0.4, blocker.execute, args=("ROLLBACK",)).start()
        try:
            results = race_in_threads(
                16, lambda i: store.enqueue(f"evt:{i}", b"body", queue="inbox")
            )
        finally:
            blocker.close()
        assert results == [Enqueued.DUPLICATE if i % 2 == 0 else Enqueued.NEW for i in range(16)]
        assert sum(store.batches) == 16
        assert max(store.batches) >= 8, store.batches  # grouped, not one commit per write
        assert count_rows(db_path) == 16
        store.close()

    def test_a_failed_group_fails_its_writes_and_the_next_group_commits(
        self, db_path: Path, store_clock: FakeClock
    ) -> None:
        """While another connection holds the lock past the busy timeout, every waiting write
        fails with a StoreError (none is left waiting: each failed group hands on the lead);
        once the lock is free, the next writes all commit."""
        store = SQLiteStore(db_path, clock=store_clock, busy_timeout_s=0.2)
        blocker = raw(db_path)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            failed = race_in_threads(
                8, lambda i: outcome(lambda: store.enqueue(f"evt:{i}", b"x", queue="inbox"))
            )
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert all(isinstance(r, StoreError) for r in failed), failed
        assert count_rows(db_path) == 0
        done = race_in_threads(8, lambda i: store.enqueue(f"evt:{i}", b"x", queue="inbox"))
        assert done == [Enqueued.NEW] * 8
        assert count_rows(db_path) == 8
        store.close()


class TestSync:
    def test_syncs_the_log_or_the_file_when_there_is_no_log(self, db_path: Path) -> None:
        """sync() fsyncs the write-ahead log; with no log (every connection closed, so SQLite
        moved it into the file and removed it) it syncs the file itself."""
        store = SQLiteStore(db_path)
        store.enqueue("watch:run_1", b"entry", queue="watch", durable=False)
        assert Path(f"{db_path}-wal").exists()
        store.sync()
        store.close()
        assert not Path(f"{db_path}-wal").exists()
        reader = SQLiteStore(db_path)
        reader.sync()
        assert reader.get("watch:run_1") is not None
        reader.close()

    def test_a_failed_sync_is_a_store_error_naming_the_file(self, tmp_path: Path) -> None:
        directory = tmp_path / "gone"
        directory.mkdir()
        store = SQLiteStore(directory / "runhook.db")
        store.close()
        for name in os.listdir(directory):
            os.remove(directory / name)
        directory.rmdir()
        with pytest.raises(StoreError, match=rf"{directory}/runhook.db: syncing .* failed"):
            store.sync()


class TestPurge:
    def forget(self, store: SQLiteStore, clock: FakeClock, n: int) -> None:
        """Complete ``n`` claims and let their TTL pass."""
        for i in range(n):
            claim = store.claim(f"wait:{i}", LEASE_S)
            assert claim is not None
            store.complete(claim, TTL_S)
        clock.advance(TTL_S)

    def test_purge_forgotten(
        self, store: SQLiteStore, store_clock: FakeClock, db_path: Path
    ) -> None:
        """purge_forgotten() deletes only records whose TTL has passed."""
        self.forget(store, store_clock, 3)
        store.claim("wait:live", LEASE_S)
        store.enqueue("evt:queued", b"body", queue="inbox")
        assert store.purge_forgotten() == 3
        assert count_rows(db_path) == 2

    def test_inserts_purge_now_and_then(
        self, store: SQLiteStore, store_clock: FakeClock, db_path: Path
    ) -> None:
        """Inserts purge forgotten records once per interval, not on every insert."""
        self.forget(store, store_clock, 3)
        store.enqueue("evt:1", b"body", queue="inbox")  # within the interval of the first purge
        assert count_rows(db_path) == 4
        store_clock.advance(store.purge_interval_s)
        store.enqueue("evt:2", b"body", queue="inbox")
        assert count_rows(db_path) == 2

    def test_backlog_is_purged_in_batches(
        self, store: SQLiteStore, store_clock: FakeClock, db_path: Path
    ) -> None:
        """A backlog larger than one batch keeps being purged, a batch per insert."""
        store.purge_batch = 2
        self.forget(store, store_clock, 5)
        store_clock.advance(store.purge_interval_s)
        store.enqueue("evt:1", b"body", queue="inbox")
        assert count_rows(db_path) == 4
        store.enqueue("evt:2", b"body", queue="inbox")
        assert count_rows(db_path) == 3
        store.enqueue("evt:3", b"body", queue="inbox")
        assert count_rows(db_path) == 3
