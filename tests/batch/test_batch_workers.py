"""Workers: they exit when their parent dies; their default count heeds memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_fakes import make_images

from morpho.batch import local

HERE = Path(__file__).parent


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if entry.name.isdigit() and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaper is missing


def test_workers_exit_when_the_parent_is_killed(tmp_path):
    make_images(tmp_path / "in", 40)
    command = [sys.executable, str(HERE / "batch_fakes.py"), str(tmp_path / "in"),
               str(tmp_path / "out"), "0.5", "2"]  # fmt: skip
    parent = subprocess.Popen(command)
    deadline = time.monotonic() + 60
    while len(_children(parent.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)  # the workers have started and are working
    workers = _children(parent.pid)
    assert len(workers) >= 2
    os.kill(parent.pid, signal.SIGKILL)  # the parent only, not its group
    parent.wait()
    deadline = time.monotonic() + 15
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)]


def test_default_workers_heed_memory(monkeypatch):
    monkeypatch.setattr(local.os, "sched_getaffinity", lambda _: set(range(8)), raising=False)
    monkeypatch.setattr(local, "available_memory", lambda: 3.0e9)
    assert local.default_workers() == 2  # 8 cores, but memory for 2 workers of ~1.1 GB
    monkeypatch.setattr(local, "available_memory", lambda: 0.5e9)
    assert local.default_workers() == 1
    monkeypatch.setattr(local, "available_memory", lambda: None)
    assert local.default_workers() == 8


def test_an_in_process_run_never_reuses_an_earlier_runs_worker(tmp_path):
    """A second run in the same process whose worker cannot start fails with that cause;
    it does not measure with the first run's worker (model)."""
    from morpho.batch.local import WorkerStartError, run_local

    seen = []
    run_local([[]], lambda: "first run's worker", 1, seen.append)

    def broken():
        raise RuntimeError("model not found")

    with pytest.raises(WorkerStartError, match="model not found"):
        run_local([[]], broken, 1, seen.append)
