"""SQLite store: the default, durable on one host and shared by all its worker processes.

Layout: one table, one row per record, in a file (``RUNHOOK_STORE=sqlite:///runhook.db``)::

    records(key TEXT PRIMARY KEY, status TEXT, token TEXT, lease_until REAL,
            expires_at REAL NULL, queue TEXT NULL, payload BLOB NULL,
            payload_hash TEXT NULL, attempts INTEGER, outcome TEXT NULL)
    records_due     ON (queue, lease_until) WHERE queue IS NOT NULL AND status <> 'completed'
    records_expiry  ON (expires_at) WHERE expires_at IS NOT NULL

``PRAGMA user_version`` holds the schema version so that a later runhook can migrate the file.

Group commit: within one process, writes issued while another thread of the process is
committing wait for it and are then committed together, in the order they came, in one
transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) by the first of them; each caller returns once its
own statement is committed, so a write is never acknowledged before it is in the file, and a
batch holding any durable write is committed ``synchronous=FULL``: one fsync for the batch
instead of one per write, and one contender for the write lock per process instead of one per
thread. A failed batch fails every write in it (``StoreError``; nothing of it was committed).

Concurrency: the file is in WAL mode (readers never wait for the writer). A write that finds
the write lock taken retries after a short random pause (0.2–2 ms) until ``busy_timeout_s``:
SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25… ms between tries, so under contention
its waiters slept while the lock was already free again. Each thread of each process has its
own connection in autocommit mode, and every primitive is one SQL statement, hence atomic
(alone or inside a group's transaction):
``INSERT … ON CONFLICT DO NOTHING``, ``UPDATE … WHERE key = ? AND token = ?`` and
``DELETE … WHERE key = ? AND token = ?``. A connection is never used in a process other than
the one that opened it: after ``fork()`` the child notices the new pid (or ``reopen()`` is
called from gunicorn's ``post_fork``) and opens its own, leaving the inherited ones untouched
(SQLite forbids using, and it is unsafe to close, a connection across ``fork()``).

Everything survives a restart of the process. Durable writes (an accepted event, a Responses
wait's checkpoint: see ``runhook.events.store.base``) are committed with ``synchronous=FULL``,
so they survive power loss too; the others (claims, renewals, completions, releases) with
``synchronous=NORMAL``: in WAL mode such a commit is on disk for every other process at once
but is synced only by the next FULL commit (which syncs the whole log) or a WAL checkpoint, so
under load one fsync covers many of them, and only an OS crash or power loss can undo the last
few. Forgotten records (``expires_at`` passed) are deleted in small batches at most once a
minute, piggy-backed on inserts, which are what makes the table grow.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from runhook.events.errors import ConfigError, StoreError
from runhook.events.store.base import Store
from runhook.events.store.bell import Bell, SocketBell, SocketRinger, socket_name
from runhook.events.store.records import Record, Status

log = logging.getLogger("runhook.store")

SCHEMA_VERSION = 1
"""Value of ``PRAGMA user_version`` in a file this module created."""

_SCHEMA = (
    """CREATE TABLE records (
        key TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        token TEXT NOT NULL,
        lease_until REAL NOT NULL,
        expires_at REAL,
        queue TEXT,
        payload BLOB,
        payload_hash TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        outcome TEXT
    )""",
    # Partial: completed records (most of the table) stay out, and the scan needs no sort.
    """CREATE INDEX records_due ON records (queue, lease_until)
        WHERE queue IS NOT NULL AND status <> 'completed'""",
    "CREATE INDEX records_expiry ON records (expires_at) WHERE expires_at IS NOT NULL",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

_COLUMNS = (
    "key, status, token, lease_until, expires_at, queue, payload, payload_hash, attempts, outcome"
)
_GET = f"SELECT {_COLUMNS} FROM records WHERE key = ?"
_PUT = f"INSERT INTO records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING"
_PUT_UNLESS = (
    f"INSERT INTO records ({_COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
    "WHERE NOT EXISTS (SELECT 1 FROM records WHERE key = ?) ON CONFLICT (key) DO NOTHING"
)
_CAS = (
    "UPDATE records SET status = ?, token = ?, lease_until = ?, expires_at = ?, queue = ?, "
    "payload = ?, payload_hash = ?, attempts = ?, outcome = ? WHERE key = ? AND token = ?"
)
_DELETE = "DELETE FROM records WHERE key = ? AND token = ?"
_SCAN_DUE = (
    "SELECT key FROM records WHERE queue = ? AND status <> 'completed' AND lease_until <= ? "
    "AND (expires_at IS NULL OR expires_at > ?) ORDER BY lease_until LIMIT ?"
)
_PURGE = (
    "DELETE FROM records WHERE rowid IN (SELECT rowid FROM records WHERE expires_at <= ? LIMIT ?)"
)

#: sqlite3 error name prefix -> what the operator should do about it
_HINTS = {
    "SQLITE_BUSY": "another connection held the write lock longer than the busy timeout; "
    "look for a long-running transaction on this file or raise busy_timeout_s",
    "SQLITE_LOCKED": "another connection held the write lock; retry",
    "SQLITE_READONLY": "make the file, its -wal and -shm files and their directory writable "
    "by this user",
    "SQLITE_CANTOPEN": "check that the directory exists and is writable by this user",
    "SQLITE_FULL": "the disk is full; free some space",
    "SQLITE_IOERR": "the disk failed a read or write; check it, and keep the file on a local "
    "filesystem (not NFS)",
    "SQLITE_NOTADB": "the file is not a SQLite database; point RUNHOOK_STORE at another file",
    "SQLITE_CORRUPT": "the file is damaged; move it aside (runhook starts a new, empty one) "
    "or restore a backup",
}


@dataclass
class _Op:
    """One write statement waiting for its group commit (``SQLiteStore._write``)."""

    sql: str
    params: tuple[Any, ...]
    durable: bool
    rowcount: int = -1
    error: Exception | None = None
    done: bool = False
    gate: threading.Lock | None = None
    """Held while the write waits; its committer (or the leader before) opens it."""


@dataclass
class _Handle:
    """One thread's connection and the process that opened it."""

    conn: sqlite3.Connection
    pid: int
    durable: bool = True
    """The connection's ``synchronous`` setting: FULL (True) or NORMAL."""


class SQLiteStore(Store):
    """Records in one SQLite file, safe across threads and worker processes.

    Args:
        path: the database file; its directory must exist. A relative path is resolved
            against the working directory once, here.
        clock: returns unix seconds; injectable so tests can move time.
        busy_timeout_s: how long a write waits for another process's write to finish
            before failing with ``StoreError``.

    Raises:
        StoreError: the directory does not exist, or the file cannot be opened or is not a
            runhook store.
    """

    #: delete forgotten records at most this often (seconds of ``clock``), per process
    purge_interval_s: float = 60.0
    #: and at most this many per purge, so that an insert is never held up for long
    purge_batch: int = 500

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(clock=clock)
        self.path = os.path.abspath(os.fspath(path))
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._group = threading.Lock()  # guards _pending and _leading
        self._pending: list[_Op] = []  # writes waiting for the group commit in progress
        self._leading = False  # a thread of this process is committing a group
        self._group_pid = os.getpid()
        self._handles: dict[int, _Handle] = {}  # by thread ident
        self._inherited: list[_Handle] = []  # opened by a parent process: never touched
        self._pid = os.getpid()
        self._closed = False
        self._next_purge = float("-inf")
        self._ringer = SocketRinger()
        self._check_directory()
        self._initialise()

    @classmethod
    def from_url(cls, url: str, *, clock: Callable[[], float] = time.time) -> SQLiteStore:
        """Open the store named by ``sqlite:///relative/path.db`` or ``sqlite:////abs/path.db``.

        Raises:
            ConfigError: the URL is not of that form.
            StoreError: see the class.
        """
        forms = "use sqlite:///relative/path.db or sqlite:////absolute/path.db"
        prefix = "sqlite:///"
        if not url.startswith(prefix):
            raise ConfigError(f"RUNHOOK_STORE={url!r} is not a SQLite store URL: {forms}")
        rest = url[len(prefix) :]
        if "?" in rest or "#" in rest:
            raise ConfigError(
                f"RUNHOOK_STORE={url!r}: a SQLite store URL takes no query or fragment; {forms}"
            )
        path = unquote(rest)
        if not path:
            raise ConfigError(f"RUNHOOK_STORE={url!r} names no file: {forms}")
        if path == ":memory:":
            raise ConfigError(
                f"RUNHOOK_STORE={url!r}: an in-memory SQLite database is not shared between "
                "threads or worker processes; use RUNHOOK_STORE=memory: for an in-process "
                f"store, or a file: {forms}"
            )
        return cls(path, clock=clock)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # -- primitives -----------------------------------------------------------------------------

    def _get(self, key: str) -> Record | None:
        with self._errors("read"):
            conn = self._connection()
            row = self._retrying(lambda: conn.execute(_GET, (key,))).fetchone()
        return None if row is None else _record(row)

    def _put_if_absent(
        self, record: Record, *, durable: bool = True, unless: str | None = None
    ) -> bool | None:
        with self._errors("insert"):
            if unless is None:
                inserted = self._write(_PUT, _row(record), durable=durable) == 1
            else:
                inserted = self._write(_PUT_UNLESS, (*_row(record), unless), durable=durable) == 1
                if not inserted and self._get(unless) is not None:
                    return None  # which of the two keys stopped it: asked only when one did
        self._maybe_purge()
        return inserted

    def _compare_and_set(
        self, key: str, token: str, record: Record, *, durable: bool = True
    ) -> bool:
        with self._errors("update"):
            return self._write(_CAS, (*_row(record)[1:], key, token), durable=durable) == 1

    def _delete(self, key: str, token: str, *, durable: bool = True) -> bool:
        with self._errors("delete"):
            return self._write(_DELETE, (key, token), durable=durable) == 1

    def _write(self, sql: str, params: tuple[Any, ...], *, durable: bool) -> int:
        """Run one write statement; return the rows it changed.

        Group commit: the writes that this process's threads issue while another of its
        threads is committing wait for it, then go together, in order, in one transaction
        (one fsync when any of them is durable) committed by the first of them (see the
        module docstring). Each call returns once its own statement is committed.

        Each waiting write sleeps on its own gate, which the committing thread opens when the
        write is committed, or when the write is to lead the next group: a commit wakes the
        threads whose writes it holds and the next leader, no other.
        """
        op = _Op(sql, params, durable)
        if self._group_pid != os.getpid():
            self._reset_group()  # forked while a parent's thread was committing
        with self._group:
            if self._leading:
                op.gate = threading.Lock()
                op.gate.acquire()
                self._pending.append(op)
            else:
                self._leading = True
        if op.gate is not None:
            op.gate.acquire()  # opened once committed, or to lead the next group
        if not op.done:
            self._lead(op)
        if op.error is not None:
            raise op.error
        return op.rowcount

    def _lead(self, op: _Op) -> None:
        """Commit ``op`` with every write waiting behind it, then wake their threads and hand
        the lead to the first write that came meanwhile (or give it up)."""
        with self._group:
            batch, self._pending = [op, *self._pending], []
        try:
            self._commit(batch)
        finally:
            for each in batch:
                each.done = True
            with self._group:
                after = self._pending.pop(0) if self._pending else None
                self._leading = after is not None
            for each in batch[1:]:
                assert each.gate is not None
                each.gate.release()
            if after is not None:
                assert after.gate is not None
                after.gate.release()

    def _reset_group(self) -> None:
        self._group = threading.Lock()
        self._pending, self._leading, self._group_pid = [], False, os.getpid()

    def _commit(self, batch: list[_Op]) -> None:
        """Commit ``batch`` on this thread's connection, synced if any of it is durable; each
        op gets its row count, or every op the error that undid the transaction."""
        try:
            conn = self._writer(any(op.durable for op in batch))
            if len(batch) == 1:  # one statement is its own transaction (autocommit)
                op = batch[0]
                op.rowcount = int(self._retrying(lambda: conn.execute(op.sql, op.params)).rowcount)
                return
            self._retrying(lambda: conn.execute("BEGIN IMMEDIATE"))
            try:
                for op in batch:
                    op.rowcount = int(conn.execute(op.sql, op.params).rowcount)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except Exception as exc:
            for op in batch:
                op.error = exc
        except BaseException:
            for op in batch:
                op.error = sqlite3.OperationalError("the group commit was interrupted")
            raise

    def _retrying(self, statement: Callable[[], sqlite3.Cursor]) -> sqlite3.Cursor:
        """Run ``statement``; while another connection holds the lock, try again after
        0.2–2 ms, up to ``busy_timeout_s`` (a statement that failed with SQLITE_BUSY changed
        nothing)."""
        deadline = time.monotonic() + self.busy_timeout_s
        while True:
            try:
                return statement()
            except sqlite3.OperationalError as exc:
                busy = str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_BUSY")
                if not busy or time.monotonic() >= deadline:
                    raise
                time.sleep(random.uniform(0.0002, 0.002))

    def _scan_due(self, queue: str, now: float, limit: int) -> list[str]:
        with self._errors("scan"):
            conn = self._connection()
            args = (queue, now, now, limit)
            rows = self._retrying(lambda: conn.execute(_SCAN_DUE, args)).fetchall()
        return [str(row[0]) for row in rows]

    def _ping(self) -> None:
        with self._errors("ping"):
            self._connection().execute("SELECT 1 FROM records LIMIT 1").fetchall()

    # -- bells and syncing ----------------------------------------------------------------------

    def ring(self, queue: str) -> None:
        """A datagram to the process on this host listening on ``queue`` (see ``bell``)."""
        self._ringer.ring(socket_name(self.path, queue))

    def bell(self, queue: str) -> Bell:
        """Listen for rings of ``queue`` on an abstract Unix socket named after this file
        (Linux; one listener per host, file and queue: any other gets a bell that only
        sleeps, and scans). See ``runhook.events.store.bell``."""
        return SocketBell.listen(socket_name(self.path, queue), f"rings of {self.path} {queue}")

    def sync(self) -> None:
        """fsync the write-ahead log: what a ``synchronous=FULL`` commit does, for every
        commit this process made before (a checkpoint has synced the main file already for
        anything it moved there).

        Raises:
            StoreError: the log could not be synced.
        """
        target = self.path + "-wal"
        try:
            try:
                fd = os.open(target, os.O_RDONLY)
            except FileNotFoundError:  # no log: everything is in the main file
                target = self.path
                fd = os.open(target, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreError(
                f"SQLite store {self.path}: syncing {target} failed: {exc}; check the disk"
            ) from exc

    # -- housekeeping ---------------------------------------------------------------------------

    def purge_forgotten(self, *, limit: int | None = None) -> int:
        """Delete records whose ``expires_at`` has passed; return how many were deleted.

        Forgotten records already count as absent, so this only reclaims space. It runs by
        itself from inserts; call it from a maintenance job to purge everything at once.
        """
        with self._errors("purge"):
            conn, args = self._connection(), (self.clock(), -1 if limit is None else limit)
            cursor = self._retrying(lambda: conn.execute(_PURGE, args))
        return max(cursor.rowcount, 0)

    def _maybe_purge(self) -> None:
        now = self.clock()
        if now < self._next_purge:
            return
        self._next_purge = now + self.purge_interval_s
        try:
            deleted = self.purge_forgotten(limit=self.purge_batch)
        except StoreError as exc:  # the insert succeeded; space can be reclaimed next time
            log.warning("purging forgotten records failed: %s", exc)
            return
        if deleted >= self.purge_batch:  # a backlog: keep going on the next insert
            self._next_purge = now

    def close(self) -> None:
        """Close this process's connections; using the store afterwards raises ``StoreError``."""
        with self._lock:
            self._closed = True
            handles, self._handles = self._handles, {}
        for handle in handles.values():
            if handle.pid == os.getpid():
                handle.conn.close()
        self._ringer.close()

    def reopen(self) -> None:
        """Drop connections inherited across ``fork()``; each thread opens a new one lazily.

        Call it in the child (gunicorn's ``post_fork``) while no other thread uses the store.
        A store that was closed becomes usable again.
        """
        with self._lock:
            self._closed = False
            self._drop_connections()
        self._reset_group()

    # -- connections ----------------------------------------------------------------------------

    def _writer(self, durable: bool) -> sqlite3.Connection:
        """This thread's connection, its ``synchronous`` set for the write that follows."""
        conn = self._connection()
        handle = self._handles[threading.get_ident()]
        if handle.durable != durable:
            mode = "FULL" if durable else "NORMAL"
            self._retrying(lambda: conn.execute(f"PRAGMA synchronous = {mode}"))
            handle.durable = durable
        return conn

    def _connection(self) -> sqlite3.Connection:
        pid = os.getpid()
        handle = self._handles.get(threading.get_ident())
        if handle is not None and handle.pid == pid:
            return handle.conn
        with self._lock:
            if self._closed:
                raise StoreError(f"SQLite store {self.path} is closed; open a new store")
            if self._pid != pid:
                self._drop_connections()
            threading.current_thread()  # registers a foreign thread, so that it counts as alive
            conn = self._connect()
            self._forget_dead_threads()
            self._handles[threading.get_ident()] = _Handle(conn, pid)
        return conn

    def _connect(self) -> sqlite3.Connection:
        # Autocommit (isolation_level=None): each primitive is one statement, one transaction.
        conn = sqlite3.connect(
            self.path,
            # SQLite's own handler waits at most 1 ms (one try); _write() retries after that
            timeout=0.001,
            isolation_level=None,
            check_same_thread=False,  # only its own thread uses it; close() may run elsewhere
        )
        try:
            # _writer() lowers it for lazy writes
            self._retrying(lambda: conn.execute("PRAGMA synchronous = FULL"))
        except BaseException:
            conn.close()
            raise
        return conn

    def _drop_connections(self) -> None:
        """Close this process's connections and set aside (never close) a parent's ones."""
        pid = os.getpid()
        for handle in self._handles.values():
            if handle.pid == pid:
                handle.conn.close()
            else:
                self._inherited.append(handle)
        self._handles = {}
        self._pid = pid

    def _forget_dead_threads(self) -> None:
        alive = {thread.ident for thread in threading.enumerate()}
        for ident in [i for i in self._handles if i not in alive]:
            self._handles.pop(ident).conn.close()

    def _check_directory(self) -> None:
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise StoreError(
                f"cannot open the SQLite store {self.path}: the directory {directory} does not "
                "exist; create it, or point RUNHOOK_STORE at a file in an existing directory"
            )
        if os.path.isdir(self.path):
            raise StoreError(
                f"cannot open the SQLite store {self.path}: it is a directory; point "
                "RUNHOOK_STORE at a file such as sqlite:///runhook.db"
            )

    def _initialise(self) -> None:
        """Switch the file to WAL and create the schema, with a connection closed right after.

        Nothing stays open, so a gunicorn master that builds the store before forking hands no
        connection to its workers.
        """
        with self._errors("open"):
            conn = self._connect()
            try:
                mode = self._switch_to_wal(conn)
                if mode != "wal":
                    raise StoreError(
                        f"SQLite store {self.path}: cannot switch to WAL mode (got {mode!r}); "
                        "keep the file on a local filesystem"
                    )
                self._retrying(lambda: conn.execute("BEGIN IMMEDIATE"))
                try:
                    self._create_schema(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                conn.close()

    def _switch_to_wal(self, conn: sqlite3.Connection) -> str:
        """Set WAL mode and return the mode in force, retrying while others switch too
        (SQLite answers SQLITE_BUSY at once when several processes change the journal mode
        of a new file together)."""
        cursor = self._retrying(lambda: conn.execute("PRAGMA journal_mode = WAL"))
        return str(cursor.fetchone()[0]).lower()

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"SQLite store {self.path} has schema version {version}, written by a newer "
                f"runhook (this one knows {SCHEMA_VERSION}); upgrade runhook or use another file"
            )
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        if int(tables.fetchone()[0]) > 0:
            raise StoreError(
                f"SQLite file {self.path} already holds other tables and is not a runhook "
                "store; point RUNHOOK_STORE at a new file"
            )
        for statement in _SCHEMA:
            conn.execute(statement)

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn ``sqlite3.Error`` into ``StoreError`` naming the file and the fix."""
        try:
            yield
        except sqlite3.Error as exc:
            name = getattr(exc, "sqlite_errorname", "") or ""
            hint = next(
                (text for prefix, text in _HINTS.items() if name.startswith(prefix)),
                "check the file and the disk",
            )
            label = f" ({name})" if name else ""
            raise StoreError(
                f"SQLite store {self.path}: {doing} failed: {exc}{label}; {hint}"
            ) from exc


def _row(record: Record) -> tuple[Any, ...]:
    return (
        record.key,
        record.status.value,
        record.token,
        record.lease_until,
        record.expires_at,
        record.queue,
        record.payload,
        record.payload_hash,
        record.attempts,
        record.outcome,
    )


def _record(row: tuple[Any, ...]) -> Record:
    key, status, token, lease_until, expires_at, queue, payload, payload_hash, attempts, outcome = (
        row
    )
    return Record(
        key=key,
        status=Status(status),
        token=token,
        lease_until=float(lease_until),
        expires_at=None if expires_at is None else float(expires_at),
        queue=queue,
        payload=None if payload is None else bytes(payload),
        payload_hash=payload_hash,
        attempts=int(attempts),
        outcome=outcome,
    )
