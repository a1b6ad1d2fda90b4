"""One error type for every stage: it names the file and the cause."""

from __future__ import annotations

from pathlib import Path


class MorphoError(Exception):
    """A problem with one input, reported as ``error: <file>: <cause>``."""

    def __init__(self, path: str | Path | None, cause: str):
        self.path = str(path) if path is not None else None
        self.cause = cause
        super().__init__(f"{self.path}: {cause}" if self.path else cause)
