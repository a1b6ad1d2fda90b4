"""The resume store: one SQLite database (WAL mode), one row per finished item.

Each chunk of results is committed in one transaction, so a run killed at any moment
(kill -9 included) keeps every committed item and loses only work in flight. Each result
keeps the fingerprint of the file it was made from, so a replaced file runs again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from morpho.batch.items import BatchItem
from morpho.batch.worker import ImageResult
from morpho.errors import MorphoError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    cause TEXT,
    facts TEXT NOT NULL,
    measurements BLOB
);
"""
BLOCK = 8192  # bytes hashed at each end of a file
BUSY_TIMEOUT_S = 30.0


def fingerprint(path: str | os.PathLike) -> str | None:
    """Size, modification time and a hash of the first and last ``BLOCK`` bytes; None for
    a file that cannot be read (it will fail, and be retried next time)."""
    try:
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            digest = hashlib.blake2b(f.read(BLOCK), digest_size=16)
            if stat.st_size > BLOCK:
                f.seek(max(BLOCK, stat.st_size - BLOCK))
                digest.update(f.read(BLOCK))
    except OSError:
        return None
    return f"{stat.st_size}:{stat.st_mtime_ns}:{digest.hexdigest()}"


def item_fingerprint(item: BatchItem) -> str | None:
    """The file's fingerprint and the item's own settings (a manifest row's first level,
    view or facing): a changed row runs again like a replaced file."""
    found = fingerprint(item.path)
    if found is None or not item.settings:
        return found
    return f"{found}:{json.dumps(item.settings, sort_keys=True)}"


class ResultStore:
    """Finished items of a run, keyed by the item key."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(results)")}
        if "fingerprint" not in columns:  # a store from before fingerprints: all run again
            with self._db:
                self._db.execute("ALTER TABLE results ADD COLUMN fingerprint TEXT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Record the run's settings, or refuse to mix results made with other settings."""
        text = json.dumps(settings, sort_keys=True)
        row = self._db.execute("SELECT value FROM meta WHERE name='settings'").fetchone()
        if row is None:
            with self._db:
                self._db.execute("INSERT INTO meta VALUES ('settings', ?)", (text,))
        elif row[0] != text:
            raise MorphoError(
                self.path.parent,
                f"holds results made with other settings ({row[0]}); use another --out folder",
            )

    def done_keys(self, fingerprints: dict[str, str | None]) -> set[str]:
        """Keys measured (status ok) from a file with the same fingerprint as now. Failures
        are never done: they are retried on every resume (the file may have been fixed)."""
        rows = self._db.execute("SELECT key, fingerprint FROM results WHERE status='ok'")
        return {key for key, stored in rows if stored and fingerprints.get(key) == stored}

    def add(self, results: Iterable[ImageResult], fingerprints: dict[str, str | None]) -> None:
        """Commit results, each with its file's fingerprint, in one transaction (a key
        already present is replaced)."""
        rows = [
            (r.key, r.status, r.cause, json.dumps(r.facts, default=_plain), r.measurements,
             fingerprints.get(r.key))
            for r in results
        ]  # fmt: skip
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO results (key, status, cause, facts, measurements, "
                "fingerprint) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def outcomes(self) -> dict[str, ImageResult]:
        """Every stored result without its measurements (small enough for any cohort)."""
        rows = self._db.execute("SELECT key, status, cause, facts FROM results")
        return {k: ImageResult(k, s, c, json.loads(f), None) for k, s, c, f in rows}

    def measurements(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The measurement tables (Parquet bytes) of ``keys`` that have one."""
        marks = ",".join("?" * len(keys))
        query = f"SELECT key, measurements FROM results WHERE key IN ({marks})"
        return {key: blob for key, blob in self._db.execute(query, list(keys)) if blob}


def _plain(value: Any) -> Any:
    """JSON for numpy scalars."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
