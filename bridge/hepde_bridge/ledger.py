"""The bridge's durable ledger of idempotency keys (SQLite, one file on local disk).

One row per action key: what the action was (a digest of its content), where it is
(``acting`` → ``done``/``failed``), how many attempts were made, its final result and whether that
result was reported to the cloud.  Every state change is committed (``synchronous=FULL``, WAL)
before the bridge goes on, so after a crash or a restart the ledger says exactly what was finished:

* ``done``/``failed`` with ``reported = 0`` — the result is re-reported, then the message deleted;
* ``acting`` — the bridge may have died mid-action: the action is *checked against the schedd*
  (its key is stamped on the jobs it created) before anything is done again;
* no row — a new action (or a ledger lost with its disk: the schedd check still applies to submits).

Rows of finished, reported actions are pruned after ``retention`` seconds, which must exceed the
SQS message retention period (at most 14 days) so a redelivery can always be recognised.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hepde.actions import ActionResult
from hepde.errors import DEError

ACTING, DONE, FAILED = "acting", "done", "failed"
FINAL = (DONE, FAILED)
#: default retention of finished entries: 15 days (SQS keeps a message at most 14 days)
DEFAULT_RETENTION = 15 * 86400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    key         TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    first_seen  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    last_error  TEXT,
    result      TEXT,
    reported    INTEGER NOT NULL DEFAULT 0,
    tried       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS actions_unreported ON actions(reported, state);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
SCHEMA_VERSION = "1"


def digest(action: Any) -> str:
    """A digest of an action's content, without the fields a publisher retry legitimately changes."""
    data = action.model_dump(mode="json", exclude={"created_at", "expires_at", "reason"})
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    key: str
    kind: str
    digest: str
    state: str
    attempts: int
    first_seen: float
    updated_at: float
    last_error: str | None
    result: ActionResult | None
    reported: bool
    #: the side-effecting call (submit, act, advertise) was made at least once
    tried: bool = False

    @property
    def final(self) -> bool:
        return self.state in FINAL


class LedgerError(DEError):
    """The ledger cannot be opened, read or written (disk full, permissions, a corrupt file or row):
    the bridge must not act; the CLI prints it as one line."""


class Ledger:
    """See the module docstring.  Safe to share between threads of one process."""

    def __init__(self, path: str | Path, *, clock: Any = time.time) -> None:
        self.path = str(path)
        self.clock = clock
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta(name, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
                )
            elif row[0] != SCHEMA_VERSION:
                raise LedgerError(
                    f"ledger {self.path} has schema version {row[0]}, this bridge expects {SCHEMA_VERSION}"
                )
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open the ledger {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger {self.path}: {exc}") from exc

    def _entry(self, row: tuple[Any, ...]) -> Entry:
        try:
            return self._parse_entry(row)
        except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise LedgerError(f"ledger {self.path}: corrupt entry {str(row[0])[:80]!r}: {first}") from exc

    @staticmethod
    def _parse_entry(row: tuple[Any, ...]) -> Entry:
        key, kind, dig, state, attempts, first, updated, err, result, reported, tried = row
        return Entry(
            key,
            kind,
            dig,
            state,
            int(attempts),
            float(first),
            float(updated),
            err,
            ActionResult.model_validate_json(result) if result else None,
            bool(reported),
            bool(tried),
        )

    _COLS = "key, kind, digest, state, attempts, first_seen, updated_at, last_error, result, reported, tried"

    def get(self, key: str) -> Entry | None:
        rows = self._exec(f"SELECT {self._COLS} FROM actions WHERE key = ?", (key,))
        return self._entry(rows[0]) if rows else None

    def begin(self, key: str, kind: str, dig: str) -> Entry:
        """Record an attempt (state ``acting``, attempts + 1), durably, before acting; return the entry."""
        now = self.clock()
        self._exec(
            "INSERT INTO actions(key, kind, digest, state, attempts, first_seen, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET attempts = attempts + 1, updated_at = excluded.updated_at "
            "WHERE state = 'acting'",
            (key, kind, dig, ACTING, now, now),
        )
        entry = self.get(key)
        assert entry is not None
        return entry

    def mark_tried(self, key: str) -> None:
        """Record, durably, that the side-effecting call is about to be made."""
        self._exec("UPDATE actions SET tried = 1, updated_at = ? WHERE key = ?", (self.clock(), key))

    def note_error(self, key: str, error: str) -> None:
        self._exec(
            "UPDATE actions SET last_error = ?, updated_at = ? WHERE key = ?",
            (error[:2000], self.clock(), key),
        )

    def finish(self, key: str, kind: str, dig: str, result: ActionResult) -> None:
        """Record the final result (``done`` if the effect exists, else ``failed``), not yet reported."""
        state = DONE if result.effective else FAILED
        now = self.clock()
        self._exec(
            "INSERT INTO actions(key, kind, digest, state, attempts, first_seen, updated_at, result, reported) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) "
            "ON CONFLICT(key) DO UPDATE SET state = excluded.state, result = excluded.result, "
            "updated_at = excluded.updated_at, reported = 0",
            (key, kind, dig, state, result.attempts, now, now, result.model_dump_json()),
        )

    def mark_reported(self, key: str) -> None:
        self._exec("UPDATE actions SET reported = 1, updated_at = ? WHERE key = ?", (self.clock(), key))

    def unreported(self, limit: int = 100) -> list[Entry]:
        rows = self._exec(
            f"SELECT {self._COLS} FROM actions WHERE reported = 0 AND state IN ('done', 'failed') "
            "ORDER BY updated_at LIMIT ?",
            (limit,),
        )
        return [self._entry(r) for r in rows]

    def entries(self, limit: int = 100, state: str | None = None) -> list[Entry]:
        if state:
            rows = self._exec(
                f"SELECT {self._COLS} FROM actions WHERE state = ? ORDER BY updated_at DESC LIMIT ?",
                (state, limit),
            )
        else:
            rows = self._exec(f"SELECT {self._COLS} FROM actions ORDER BY updated_at DESC LIMIT ?", (limit,))
        return [self._entry(r) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._exec("SELECT state, reported, COUNT(*) FROM actions GROUP BY state, reported")
        out = {ACTING: 0, DONE: 0, FAILED: 0, "unreported": 0}
        for state, reported, n in rows:
            out[state] = out.get(state, 0) + int(n)
            if not reported and state in FINAL:
                out["unreported"] += int(n)
        return out

    def prune(self, retention: float = DEFAULT_RETENTION) -> int:
        """Delete finished, reported entries older than ``retention`` seconds; return how many."""
        cutoff = self.clock() - retention
        with self._lock:
            try:
                cur = self._db.execute(
                    "DELETE FROM actions WHERE reported = 1 AND state IN ('done', 'failed') AND updated_at < ?",
                    (cutoff,),
                )
                return int(cur.rowcount)
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger {self.path}: {exc}") from exc

    def writable(self) -> bool:
        try:
            self._exec(
                "INSERT OR REPLACE INTO meta(name, value) VALUES ('heartbeat', ?)", (str(self.clock()),)
            )
            return True
        except LedgerError:
            return False
