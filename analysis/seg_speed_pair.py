"""Per-image onnxruntime time of two or more ONNX segmenters, side by side, same inputs.

    python analysis/seg_speed_pair.py models/vertebra_unet.onnx runs/cand/int8.onnx \
        [--threads 1] [--size 512 512] [--batch 1 4] [--repeats 7]

Runs round-robin so that load from other processes hits every model alike; prints the
median ms per image and the ratio to the first model, plus each file's size.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from morpho.segment.infer import session_options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--size", type=int, nargs=2, default=(512, 512))
    parser.add_argument("--batch", type=int, nargs="+", default=(1, 4))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    sessions = {m: ort.InferenceSession(str(m), session_options(args.threads))
                for m in args.models}
    rng = np.random.default_rng(0)
    print(f"input {args.size[0]}x{args.size[1]}, {args.threads} thread(s), "
          f"median of {args.repeats} rounds")
    for batch in args.batch:
        x = rng.random((batch, 1, *args.size), dtype=np.float32)
        times: dict[Path, list[float]] = {m: [] for m in sessions}
        for session in sessions.values():
            session.run(None, {"image": x})  # warm up
        for _ in range(args.repeats):
            for model, session in sessions.items():
                start = time.perf_counter()
                session.run(None, {"image": x})
                times[model].append((time.perf_counter() - start) / batch * 1000)
        base = statistics.median(times[args.models[0]])
        for model, values in times.items():
            ms = statistics.median(values)
            size = model.stat().st_size / 1e6
            print(f"batch {batch}  {ms:7.1f} ms/image  {ms / base:5.2f}x  {size:5.1f} MB  {model}")


if __name__ == "__main__":
    main()
