"""`morpho batch` against a plain sequential loop, on the same >= 500 files.

    python analysis/batch_benchmark.py [--n 500] [--workers 2] [--baseline-n N] \
        [--before OLD_TREE] [--overlays] [--variants tta=flip-if-uncertain ...]

The files are copies (symlinks) of one synthetic lateral DX film: the bundled sample,
upscaled 2x to 2048x2048 (a typical detector size) and stored as JPEG 2000 lossless DICOM.
Prints, for each mode, end-to-end images/s (process start and model load included), the
peak resident memory of the whole process tree, how busy the CPU cores were (CPU time of
the tree over wall time x cores) and the tree's CPU time per film (what bounds the rate on
a busy machine: cores / CPU time per film), the median ms per film per worker of each
stage (read; segment; label + measure; store = the rest of the worker's time: label map,
display copy, overlay, encodes, header copy; wall time, so with two workers on two cores
each stage also holds the time the other worker and the prefetching read took), then the
ratios, then the decode-only gain of reduced-resolution decoding. ``--variants`` adds a
batch run per variant with a copy of the model whose JSON is changed (``"tta"``:
morpho.segment.infer.TTA_MODES; ``"decode_margin"``: morpho.chain.decode_shape);
``--before`` one with another source tree (the code before a change), side by side.
Needs the default model (morpho.segment.infer).
Timings depend on what else runs on the machine; compare only numbers from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from morpho.batch.chain import decode_shape
from morpho.io import read_radiograph
from morpho.io.reduced import read_reduced
from morpho.io.writer import write_dicom
from morpho.preprocess import PreprocessConfig
from morpho.resources import shared_data_dir

ROOT = Path(__file__).resolve().parents[1]
SEQUENTIAL = """
import sys, time
from pathlib import Path
from morpho.pipeline import measure_image
from morpho.segment.infer import Segmenter
segmenter = Segmenter(sys.argv[3] or None, spine_only=False)
files = sorted(Path(sys.argv[1]).iterdir())[: int(sys.argv[2])]
rows = sum(len(measure_image(f, segmenter=segmenter)[2]) for f in files)
print(f"sequential: {len(files)} files, {rows} vertebrae")
"""

BEFORE = "import sys; from morpho.cli import main; sys.argv[0] = 'morpho'; main()"


def _tree(pid: int) -> dict[int, tuple[int, float]]:
    """(resident bytes, CPU seconds so far) of ``pid`` and all its descendants (/proc)."""
    children: dict[int, list[int]] = {}
    facts: dict[int, tuple[int, float]] = {}
    page, tick = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            cpu = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
            facts[int(entry.name)] = (int(fields[21]) * page, cpu)
        except (OSError, ValueError):
            continue
    tree, stack = {}, [pid]
    while stack:
        current = stack.pop()
        if current in facts:
            tree[current] = facts[current]
        stack.extend(children.get(current, []))
    return tree


def timed_run(command: list[str], env: dict[str, str]) -> tuple[float, int, float, str]:
    """Wall seconds, peak tree RSS (bytes), CPU seconds of the tree (sampled every 0.2 s)
    and the last output line of a command."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    peak, cpu = 0, {}

    def sample() -> None:
        nonlocal peak
        while process.poll() is None:
            tree = _tree(process.pid)
            peak = max(peak, sum(rss for rss, _ in tree.values()))
            cpu.update({pid: seconds for pid, (_, seconds) in tree.items()})
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    sampler.join()
    if process.returncode not in (0, 1):
        sys.exit(f"{command[:3]} failed ({process.returncode}):\n{err[-2000:]}")
    tail = (out + err).strip().splitlines()[-1] if (out + err).strip() else ""
    return seconds, peak, sum(cpu.values()), tail


def make_files(folder: Path, n: int, name: str = "films") -> Path:
    """``folder/name`` with ``n`` symlinks to one 2048x2048 JPEG 2000 lossless lateral film."""
    film = folder / "film.dcm"
    if not film.exists():
        sample = read_radiograph(ROOT / "samples" / "sample_lateral.dcm")
        pixels = cv2.resize(sample.pixels, (2048, 2048), interpolation=cv2.INTER_CUBIC)
        write_dicom(
            film, np.round(np.clip(pixels, 0, 1) * 4095).astype(np.uint16),
            spacing_mm=0.2, view="lateral", facing=sample.facing, age=68, sex="F",
            height_cm=158, bits_stored=12, compression="jpeg2000",
        )  # fmt: skip
    files = folder / name
    files.mkdir()
    for i in range(n):
        (files / f"film{i:04d}.dcm").symlink_to(film)
    return files


def model_config(model: str) -> PreprocessConfig:
    """The network input settings of ``model`` (default: the shipped model)."""
    from morpho.segment.infer import default_model_path

    config = Path(model or default_model_path()).with_suffix(".json")
    return PreprocessConfig.from_dict(json.loads(config.read_text())["preprocess"])


def model_with(folder: Path, model: str, changes: dict) -> str:
    """A copy of ``model`` whose JSON has ``changes``; its path. The ONNX is copied, not
    linked: ``morpho batch`` resolves a model path, and a link would lead it back to the
    original's JSON."""
    from morpho.segment.infer import default_model_path

    source = Path(model or default_model_path()).with_suffix(".onnx")
    target = folder / "-".join(f"{k}={v}" for k, v in changes.items()) / source.name
    target.parent.mkdir()
    shutil.copyfile(source, target)
    config = json.loads(source.with_suffix(".json").read_text())
    target.with_suffix(".json").write_text(json.dumps({**config, **changes}))
    return str(target)


def variant(text: str) -> dict:
    """``tta=flip-if-uncertain,decode_margin=1`` -> the model JSON changes."""
    changes = dict(part.split("=", 1) for part in text.split(","))
    return {k: int(v) if v.isdigit() else v for k, v in changes.items()}


def stage_line(out_dir: Path) -> str:
    """Median ms per film per worker of each stage, from the run's images.parquet."""
    images = pd.read_parquet(out_dir / "images.parquet")
    images = images[images["status"] == "ok"]
    stages = pd.DataFrame({
        "read": images["read_s"], "segment": images["segment_s"],
        "measure": images["measure_s"],
        "store": images["process_s"] - images["segment_s"] - images["measure_s"],
    })  # fmt: skip
    medians = stages.median() * 1000
    total = (stages.sum(axis=1)).median() * 1000
    return ("    median ms per film per worker: " + ", ".join(
        f"{k} {v:.0f}" for k, v in medians.items()) + f"; all {total:.0f} "
        f"(version {images['model_version'].iloc[0]}, "
        f"decode 1/{images['decode_factor'].iloc[0]})")  # fmt: skip


def decode_gain(path: Path, config: PreprocessConfig, repeat: int = 5) -> str:

    def needed(shape: tuple[int, int]) -> tuple[int, int]:
        return decode_shape(shape, config)

    def best(fn) -> float:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    full = best(lambda: read_radiograph(path))
    reduced_result = read_reduced(path, needed)
    if reduced_result is None:
        return f"{path.name}: decoded whole (too small to reduce)"
    small = best(lambda: read_reduced(path, needed))
    shape = reduced_result.reduction.original_shape
    return (f"{path.name} {shape[1]}x{shape[0]}: full decode {full * 1000:.0f} ms, "
            f"1/{reduced_result.reduction.factor} decode {small * 1000:.0f} ms, "
            f"gain x{full / small:.1f}")  # fmt: skip


def batch_modes(args: argparse.Namespace, tmp: Path, files: Path, subset: Path,
                baseline_n: int) -> list[tuple[str, list[str], int]]:
    """(name, command, files) of each run, in the order they run."""
    model = ["--model", args.model] if args.model else []
    batch = ["morpho", "batch", "--workers", str(args.workers), *model, "--out"]
    modes = [("morpho batch", [*batch, f"{tmp}/b", str(files)], args.n)]
    for number, text in enumerate(args.variants):
        copy = ["--model", model_with(tmp, args.model, variant(text))]
        command = ["morpho", "batch", "--workers", str(args.workers), *copy, "--out",
                   f"{tmp}/v{number}", str(files)]  # fmt: skip
        modes.append((f"morpho batch, {text}", command, args.n))
    if args.overlays:
        modes.append(("morpho batch --overlays", [*batch, f"{tmp}/o", str(files), "--overlays"],
                      args.n))  # fmt: skip
    if args.before:
        command = [sys.executable, "-c", BEFORE, "batch", "--workers", str(args.workers),
                   *model, "--out", f"{tmp}/before", str(files)]  # fmt: skip
        modes.insert(0, (f"morpho batch (before: {args.before.name})", command, args.n))
    if not args.skip_full:
        modes.append(("morpho batch --full-resolution",
                      [*batch, f"{tmp}/f", str(subset), "--full-resolution"], baseline_n))
    modes.append(("sequential loop", [sys.executable, "-c", SEQUENTIAL, str(subset),
                                      str(baseline_n), args.model], baseline_n))  # fmt: skip
    return modes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="files for morpho batch")
    parser.add_argument(
        "--baseline-n",
        type=int,
        default=None,
        help="files for the loop and the full-resolution batch (default: --n)",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--skip-full", action="store_true", help="skip --full-resolution run")
    parser.add_argument("--model", default="", help="ONNX model (default: the shipped one)")
    parser.add_argument("--variants", nargs="*", default=[],
                        help="extra batch runs, each with a model copy whose JSON is changed: "
                        "e.g. tta=flip-if-uncertain decode_margin=1,tta=none")  # fmt: skip
    parser.add_argument("--before", type=Path, default=None,
                        help="another source tree of morpho (e.g. `git archive REV | tar -x`): "
                        "one more batch run with its code, side by side")  # fmt: skip
    parser.add_argument("--overlays", action="store_true",
                        help="one more batch run that also stores each film's overlay PNG")
    args = parser.parse_args()
    baseline_n = min(args.baseline_n or args.n, args.n)
    env = {**os.environ}
    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(Path(tmp), args.n)
        subset = make_files(Path(tmp), baseline_n, "subset") if baseline_n < args.n else files
        print(f"{os.cpu_count()} CPU cores; {args.workers} batch workers; 2048x2048 J2K DICOM")
        rows = []
        modes = batch_modes(args, Path(tmp), files, subset, baseline_n)
        for name, command, n in modes:
            before = "(before" in name and args.before
            run_env = {**env, "PYTHONPATH": str(args.before.resolve())} if before else env
            seconds, peak, cpu, last = timed_run(command, run_env)
            rows.append((name, n, seconds, peak))
            busy = cpu / (seconds * (os.cpu_count() or 1))
            print(f"{name:32s} {n:5d} images {seconds:7.1f} s {n / seconds:6.2f} img/s "
                  f"peak RSS {peak / 2**20:6.0f} MiB  CPU busy {busy:4.0%}  "
                  f"CPU {1000 * cpu / n:4.0f} ms/image  ({last})", flush=True)  # fmt: skip
            if "batch" in command and "--full-resolution" not in command:
                print(stage_line(Path(command[command.index("--out") + 1])), flush=True)
        rate = {name: n / s for name, n, s, _ in rows}
        for name in rate:
            if name.startswith("morpho batch") and "full-resolution" not in name:
                print(f"ratio {name} / sequential loop: "
                      f"x{rate[name] / rate['sequential loop']:.2f}")
        if "morpho batch --full-resolution" in rate:
            print(
                f"ratio reduced / full-resolution decode (both batch): "
                f"x{rate['morpho batch'] / rate['morpho batch --full-resolution']:.2f}"
            )
        config = model_config(args.model)
        print(f"decode only, as morpho batch decodes for a {config.height}x{config.width} "
              f"({config.aspect}) network input:")
        print(decode_gain(Path(tmp) / "film.dcm", config))
        real = shared_data_dir() / "dicom" / "dx_chest_pa_j2k.dcm"
        if real.exists():
            print(decode_gain(real, config))


if __name__ == "__main__":
    main()
