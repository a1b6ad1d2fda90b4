"""Segmentation speed at the model's input size: eager PyTorch vs onnxruntime, same run.

    python analysis/seg_benchmark.py [--model models/vertebra_unet] [--threads 2]

Times the same network (weights from ``<model>.safetensors``) through eager torch (fp32) and
through onnxruntime (fp32 ONNX, and with --int8 a static int8 copy calibrated on random
images: speed only; its Dice is checked by analysis/seg_quantize.py), batch 1 and a
larger batch, measured round-robin so that load from other processes hits every variant alike.
Prints images per second and the ratio to eager torch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from morpho.resources import models_dir
from morpho.segment.export import export_onnx, load_torch_model
from morpho.segment.infer import session_options
from morpho.segment.quantize import quantize_int8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=models_dir() / "vertebra_unet")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--int8", action="store_true", help="also time a static int8 copy")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model, config = load_torch_model(args.model)
    shape = (config["preprocess"]["height"], config["preprocess"]["width"])
    tmp = Path(tempfile.mkdtemp())
    onnx_path = export_onnx(args.model, tmp / "model.onnx")
    sessions = {"onnxruntime fp32": ort.InferenceSession(str(onnx_path),
                                                         session_options(args.threads))}
    if args.int8:
        calibration = list(np.random.default_rng(0).random((8, *shape), dtype=np.float32))
        int8 = quantize_int8(onnx_path, tmp / "int8.onnx", calibration)
        sessions["onnxruntime int8"] = ort.InferenceSession(str(int8),
                                                            session_options(args.threads))

    def run_torch(x: np.ndarray) -> None:
        with torch.inference_mode():
            model(torch.from_numpy(x))

    runners = {"torch eager fp32": run_torch}
    for name, session in sessions.items():
        runners[name] = lambda x, s=session: s.run(None, {"image": x})
    rng = np.random.default_rng(0)
    results: dict[tuple[str, int], list[float]] = {}
    for batch in (1, args.batch):
        x = rng.random((batch, 1, *shape), dtype=np.float32)
        for run in runners.values():
            run(x)  # warm up
        for _ in range(args.repeats):
            for name, run in runners.items():
                start = time.perf_counter()
                run(x)
                results.setdefault((name, batch), []).append(batch / (time.perf_counter() - start))
    print(f"input {shape[0]}x{shape[1]}, {args.threads} threads, median of {args.repeats} runs,"
          f" {json.dumps(config['model'])}")  # fmt: skip
    print(f"{'variant':<20} {'batch':>5} {'images/s':>9} {'vs torch':>9}")
    for (name, batch), values in results.items():
        speed = statistics.median(values)
        base = statistics.median(results[("torch eager fp32", batch)])
        print(f"{name:<20} {batch:>5} {speed:>9.2f} {speed / base:>8.2f}x")


if __name__ == "__main__":
    main()
