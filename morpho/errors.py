"""One error type for every stage: it names the file and the cause."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

#: An absolute path inside a message (POSIX, or a Windows drive or share).
ABSOLUTE_PATH = re.compile(r"""(?<![\w.~-])(?:[A-Za-z]:)?[/\\][^\s'"<>|,;()]*[^\s'"<>|,;().:]""")


class MorphoError(Exception):
    """A problem with one input, reported as ``error: <file>: <cause>``."""

    def __init__(self, path: str | Path | None, cause: str):
        self.path = str(path) if path is not None else None
        self.cause = cause
        super().__init__(f"{self.path}: {cause}" if self.path else cause)


def scrub(cause: str, names: Iterable[str], replacement: str = "<file>") -> str:
    """A failure cause without the file's names (its path, its key, its file name: libraries
    such as Pillow quote the absolute path, folder names included) and without any other
    absolute path, for outputs that must not identify anyone."""
    for name in sorted({str(n) for n in names if n}, key=len, reverse=True):
        cause = cause.replace(name, replacement)
    return ABSOLUTE_PATH.sub("<path>", cause)
