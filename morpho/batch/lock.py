"""One batch run per output folder: an exclusive lock on ``OUT/.morpho-batch.lock``.

The lock is the kernel's (``flock``): it goes with the process that holds it, kill -9
included, so a stopped run never blocks the next one. The file names the holder (pid, host,
start time; nothing about the patients) for the error a second run prints.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from morpho.errors import MorphoError

LOCK_NAME = ".morpho-batch.lock"


class RunLock:
    """Held from ``__enter__`` to ``__exit__``; a second holder is refused with one line."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 256, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            raise MorphoError(
                self.path.parent,
                f"another morpho batch is running into this folder ({holder or 'just started'})"
                "; wait for it to finish or give another --out",
            ) from None
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, started {started}".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None
