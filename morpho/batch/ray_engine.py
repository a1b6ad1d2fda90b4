"""The scale-out engine: Ray Data, with an actor pool that holds one worker per actor."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from morpho.batch.items import BatchItem
from morpho.batch.worker import ImageResult, WorkerFactory, run_chunk

#: Results reach the driver (and the resume store) one block at a time.
CHUNKS_PER_BLOCK = 4


class _RayWorker:
    """A Ray Data actor: builds the worker (loads the model) once, then maps batches."""

    def __init__(self, factory: WorkerFactory):
        self.worker = factory()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        items = [
            BatchItem(key=str(k), path=str(p), subject=str(s) or None, demographics=json.loads(d),
                      settings=json.loads(o))
            for k, p, s, d, o in zip(batch["key"], batch["path"], batch["subject"],
                                     batch["demographics"], batch["settings"], strict=True)
        ]
        results = run_chunk(self.worker, items)
        return {
            "key": [r.key for r in results],
            "status": [r.status for r in results],
            "cause": [r.cause or "" for r in results],
            "facts": [json.dumps(r.facts, default=float) for r in results],
            "measurements": [r.measurements or b"" for r in results],
        }


def run_ray(
    items: Sequence[BatchItem],
    factory: WorkerFactory,
    workers: int,
    chunk_size: int,
    on_results: Callable[[list[ImageResult]], None],
    address: str | None = None,
) -> None:
    """Run ``items`` on Ray (a running instance, ``address``, or a local one started here)."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address,
            num_cpus=None if address else workers,
            include_dashboard=False,
            log_to_driver=False,
        )
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        rows = [
            {
                "key": item.key,
                "path": item.path,
                "subject": item.subject or "",
                "demographics": json.dumps(item.demographics, default=float),
                "settings": json.dumps(item.settings),
            }
            for item in items
        ]
        blocks = math.ceil(len(rows) / (chunk_size * CHUNKS_PER_BLOCK))
        dataset = ray.data.from_items(rows, override_num_blocks=max(1, blocks))
        dataset = dataset.map_batches(
            _RayWorker,
            fn_constructor_args=(factory,),
            batch_size=chunk_size,
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
        )
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            on_results(
                [
                    ImageResult(
                        key=str(key),
                        status=str(status),
                        cause=str(cause) or None,
                        facts=json.loads(facts),
                        measurements=bytes(blob) or None,
                    )
                    for key, status, cause, facts, blob in zip(
                        batch["key"],
                        batch["status"],
                        batch["cause"],
                        batch["facts"],
                        batch["measurements"],
                        strict=True,
                    )
                ]
            )
    finally:
        if started_here:
            ray.shutdown()
