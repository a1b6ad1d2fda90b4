"""Driver memory of handing a million batch items to Ray (`morpho.batch.ray_engine`).

    python analysis/ray_input_memory.py [--n 1000000]

Each way runs in its own process on a local Ray instance (1 CPU, 2 GB object store); it
prints the driver's resident memory (private ``RssAnon``; and the peak, ``ru_maxrss``)
after each stage, and the seconds the stage took. Nothing is run on the items: this is the
cost of the input list alone.

- ``before``: the engine until 2026-12-06: a dict row per item, then ``ray.data.from_items``
  (rows and blocks built in the driver);
- ``slabs``: ``put_items``: Arrow slabs of 16,384 items ``ray.put`` in the object store, and a
  dataset of block numbers (the rows never exist as Python objects);
- ``slabs-lazy``: the same, fed from a generator, as a runner that never holds the whole
  list would (today ``morpho.batch.runner`` builds the list of items and their
  fingerprints before any engine runs).

Measured 2026-12-06 (2-core machine, Ray 2.60, 1,000,000 items, chunk size 4: 62,500 blocks
of 16 items); the driver after ``ray.init``: RssAnon 0.14 GiB, peak 0.25 GiB; the list of
items adds 0.62 GiB (RssAnon 0.76 GiB, 4-5 s):

| way        | making the dataset | peak RSS | RssAnon after the list is dropped |
|------------|--------------------|----------|-----------------------------------|
| before     | 78 s               | 1.58 GiB | 0.39 GiB                          |
| slabs      | 59 s               | 1.24 GiB | 0.34 GiB                          |
| slabs-lazy | 63 s               | 0.62 GiB | 0.35 GiB                          |

The 0.20 GiB left beside Ray's own is the 62,500 blocks of block numbers (``from_items``).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

MODES = ("before", "slabs", "slabs-lazy")


def rss() -> str:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    anon = int(fields["RssAnon"].split()[0]) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return f"RssAnon {anon:5.2f} GiB, peak RSS {peak:5.2f} GiB"


def items(n: int):
    from morpho.batch.items import BatchItem

    for i in range(n):
        key = f"site{i % 40:02d}/2026/{i // 1000:04d}/film{i:07d}.dcm"
        yield BatchItem(key=key, path=f"/data/screening/{key}", subject=f"S{i // 2:07d}",
                        demographics={"age": 40 + i % 50, "sex": "MF"[i % 2]})  # fmt: skip


def one(mode: str, n: int, count: bool) -> None:
    import ray

    from morpho.batch.ray_engine import CHUNKS_PER_BLOCK, put_items

    ray.init(num_cpus=1, object_store_memory=2 * 10**9, include_dashboard=False,
             log_to_driver=False)  # fmt: skip
    ray.data.DataContext.get_current().enable_progress_bars = False
    block_rows = 4 * CHUNKS_PER_BLOCK  # chunk_size 4, the CLI's default
    print(f"{mode}: ray started                     {rss()}", flush=True)
    start = time.perf_counter()
    source = items(n) if mode == "slabs-lazy" else list(items(n))
    if mode != "slabs-lazy":
        print(f"{mode}: {n} BatchItems in a list        {rss()} "
              f"({time.perf_counter() - start:.1f} s)", flush=True)  # fmt: skip
    start = time.perf_counter()
    if mode == "before":
        rows = [{"key": item.key, "path": item.path, "subject": item.subject or "",
                 "demographics": json.dumps(item.demographics, default=float),
                 "settings": json.dumps(item.settings)} for item in source]  # fmt: skip
        dataset = ray.data.from_items(rows, override_num_blocks=math.ceil(n / block_rows))
        del rows
    else:
        dataset = put_items(source, block_rows)
    print(f"{mode}: dataset made                    {rss()} "
          f"({time.perf_counter() - start:.1f} s)", flush=True)  # fmt: skip
    del source
    print(f"{mode}: item list dropped               {rss()}", flush=True)
    if count:
        start = time.perf_counter()
        rows = dataset.count()  # runs the fetch step as tasks (in a batch run it is fused
        # into the workers' actors)
        print(f"{mode}: counted {rows} rows          {rss()} "
              f"({time.perf_counter() - start:.1f} s)", flush=True)  # fmt: skip
    ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--mode", choices=MODES)
    parser.add_argument("--count", action="store_true", help="also count the rows (slow)")
    options = parser.parse_args()
    if options.mode:
        one(options.mode, options.n, options.count)
        return
    for mode in MODES:
        count = ["--count"] if options.count else []
        subprocess.run([sys.executable, __file__, "--n", str(options.n), "--mode", mode, *count],
                       check=False)  # fmt: skip


if __name__ == "__main__":
    main()
