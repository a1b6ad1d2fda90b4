"""Time and peak memory of `morpho stats fit | score | summary` (and the cohort report) on a
synthetic `morpho batch` run of N films x 12 levels.

    python analysis/stats_scale_benchmark.py [--n 1000000] [--run DIR] [--keep]
        [--limit-gb 10] [--report] [--report-only] [--compare-sample]

The run folder holds what `morpho batch` writes, without images: measurements.parquet
(``file``, the measure columns, ``subject`` and covariates, in row groups; from
``morpho.synth.cohort.simulate_cohort`` 50,000 films at a time), images.parquet, an empty
failures.csv and a run.json (no stored films). Each step runs as its own process (the CLI,
as a user runs it); its wall time and peak resident memory (``ru_maxrss`` from
``os.wait4``) are printed. A watchdog kills a step whose resident memory passes
``--limit-gb`` (the machine is shared), and says so.

``--report`` also times the cohort part of `morpho report` (``BatchTables.load`` and
``write_cohort_report``, not the million subject pages), printing the peak after each stage.
``--report-only`` (with ``--run``, after a ``--report`` run kept with ``--keep``) times only
that report part; ``--tables cohort`` loads the tables as ``morpho report --subjects none``
does (the cohort page's columns only). ``--compare-sample`` fits the reference on all bodies
too (``--sample 0``) and compares it with the default subsampled fit: expected values and SDs
on the scored rows, flags.

Measured 2026-12-06 on the shared 2-core machine (one core busy training a model, other
sessions' test suites running: wall times are loaded ones), Parquet streamed in batches of
262,144 rows, OLS default formula, 9 measures x 12 levels; peak RSS of each process:

| films (vertebrae) | stats fit       | stats score     | stats summary  | report, cohort part |
|-------------------|-----------------|-----------------|----------------|---------------------|
| 100,000 (1.2 M)   | 33 s, 1.40 GiB  | 39 s, 1.40 GiB  | 16 s, 1.07 GiB | 19 s, 3.14 GiB      |
| 200,000 (2.4 M)   | 56 s, 1.83 GiB  | 31 s, 1.77 GiB  | 20 s, 1.34 GiB | 56 s, 4.93 GiB      |
| 1,000,000 (12 M)  | 413 s, 5.33 GiB | 237 s, 3.87 GiB | 90 s, 5.21 GiB | killed at 9.0 GiB   |

The report's cohort part after ``BatchTables.load`` read only the columns the pages show
(same machine, same runs, report only; "pages": the tables for subject pages too, the
default; "cohort": ``--tables cohort``, as ``morpho report --subjects none``):

| films     | before                   | after, pages     | after, cohort    |
|-----------|--------------------------|------------------|------------------|
| 100,000   | 44.5 s, 2.69 GiB         | 5.8 s, 1.31 GiB  | 6.1 s, 1.04 GiB  |
| 200,000   | 42.3-111 s, 5.05 GiB     | 13.6 s, 2.06 GiB | 7.8 s, 1.64 GiB  |
| 1,000,000 | killed at 9.0 GiB (27 s) | 65.7 s, 7.80 GiB | 42.6 s, 4.82 GiB |

(wall times vary with the load: the 200k "before" took 42 s in one run and 111 s in
another.) Before, the cohort report (``morpho.report.html``) loaded
measurements.parquet and scores.parquet whole, all columns: ``BatchTables.load`` alone
peaked at 2.67 GiB (100k) and 4.93 GiB
(200k), about 2.3 GiB per 100,000 films, so about 23 GiB at 1M; at 1M it passed the 9 GiB
limit 23 s into ``BatchTables.load``. (At 200k: reading measurements.parquet whole, 54
columns, 1.14 GiB as pandas, peaked at 2.7 GiB; scores.parquet whole, 76 columns, 1.5 GiB
as pandas, took the peak to 4.7 GiB.)

Subsampled fit (default ``--sample 250000`` bodies per level, about a quarter of each
level at 1M) against all bodies (``--sample 0``), 1M films, every scored vertebra: largest
difference of a z-score 0.028 (wedge), 0.032 (biconcave), 0.035 (hp_rel), 0.037 (ha_mm);
of an expected value 0.08-0.12 %; 317,243 vertebrae flagged against 317,150, the same call
on 99.998 % of the 12 M. The fit took 413 s against 462 s (OLS: the time is mostly reading
and cleaning; the subsample pays off with ``rlm`` and ``quantreg``).
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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from morpho.batch.outputs import IMAGE_COLUMNS
from morpho.measure import EXTRA_COLUMNS, MEASUREMENT_COLUMNS
from morpho.synth.cohort import LEVELS, simulate_cohort

CHUNK = 50_000  # films simulated and written at a time
CLI = "import sys; from morpho.cli import main; sys.argv[0] = 'morpho'; main()"
REPORT = """
import resource, sys, time
from pathlib import Path
from morpho.report.html import BatchTables, write_cohort_report
def peak(stage, start):
    gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"  report {stage:<28} {time.perf_counter() - start:7.1f} s  peak {gib:5.2f} GiB",
          flush=True)
start = time.perf_counter()
tables = BatchTables.load(Path(sys.argv[1]), pages=sys.argv[3] == "pages")
peak("BatchTables.load", start)
write_cohort_report(tables, Path(sys.argv[2]) / "cohort.html")
peak("write_cohort_report", start)
"""


def films(n: int, offset: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` films' measurements (batch columns and order) and image rows."""
    demo, meas = simulate_cohort(n, seed=seed, levels=LEVELS[1:])  # T5-L4: 12 levels
    number = meas["image"].str[3:].astype(int) + offset
    image = "f" + number.astype(str).str.zfill(7)
    rng = np.random.default_rng(seed)
    m = len(meas)
    extra = {
        "suggested_level": meas["level"], "suggested_confidence": rng.uniform(0.5, 1, m),
        "facing_source": "anatomy", "view": "lateral", "depth_px": rng.normal(160, 10, m),
        "aspect": rng.normal(0.8, 0.05, m), "neighbour_ratio": rng.normal(1, 0.05, m),
        "plausible": True, "confidence": rng.uniform(0.5, 1, m),
        "expected_wedge": rng.normal(0.9, 0.02, m), "expected_biconcave": rng.normal(0.92, 0.02, m),
        "wedge_z": rng.normal(0, 1, m), "biconcave_z": rng.normal(0, 1, m),
        "crush_z": rng.normal(0, 1, m), "height_loss": rng.uniform(0, 0.1, m),
        "points_source": "outline",
    }  # fmt: skip
    meas = meas.assign(image=image, **extra)
    demo = demo.assign(file="films/" + image.iloc[::12].to_numpy() + ".dcm",
                       image=image.iloc[::12].to_numpy()).drop(columns="subject_id")  # fmt: skip
    demo["subject"] = demo["image"]
    meas.insert(0, "file", "films/" + image + ".dcm")
    meas = meas.merge(demo[["image", "subject", "age", "sex", "height_cm", "weight_kg"]],
                      on="image")  # fmt: skip
    meas = meas[["file", *MEASUREMENT_COLUMNS, *EXTRA_COLUMNS, "subject", "age", "sex",
                 "height_cm", "weight_kg"]]  # fmt: skip
    worst = meas.groupby("file", sort=False)["genant_grade"].max().to_numpy()
    images = demo.assign(
        path="/data/" + demo["file"], status="ok", cause=None, rows=2048, cols=2048,
        decode_factor=4, read_s=0.1, process_s=0.3, segment_s=0.24, measure_s=0.05,
        model_version="synthetic", spacing_source="dicom", view="lateral", qa="ok",
        n_vertebrae=12, gradable=True, plausible=True, worst_grade=worst,
        any_grade2=worst >= 2, sdi=0.0, driver=None, driver_type=None,
    )  # fmt: skip
    return meas, images.reindex(columns=IMAGE_COLUMNS)


def synthesise(run: Path, n: int) -> None:
    """measurements.parquet, images.parquet and failures.csv of ``n`` films."""
    run.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    writer, schema, images = None, None, []
    for seed, offset in enumerate(range(0, n, CHUNK)):
        meas, image_rows = films(min(CHUNK, n - offset), offset, seed)
        table = pa.Table.from_pandas(meas, preserve_index=False)
        if writer is None:
            schema = table.schema
            writer = pq.ParquetWriter(run / "measurements.parquet", schema)
        writer.write_table(table.cast(schema))
        images.append(image_rows)
    writer.close()
    pd.concat(images, ignore_index=True).to_parquet(run / "images.parquet", index=False)
    pd.DataFrame(columns=["file", "cause"]).to_csv(run / "failures.csv", index=False)
    record = {"morpho_version": "synthetic", "settings": {}, "model_version": ["synthetic"],
              "model_sha256": [], "stored": {"format": 1, "folder": "films", "films": 0}}
    (run / "run.json").write_text(json.dumps(record, indent=2))  # as `morpho batch` writes
    size = (run / "measurements.parquet").stat().st_size / 2**30
    rows = pq.ParquetFile(run / "measurements.parquet").metadata.num_rows
    print(f"synthesised {n} films, {rows} vertebrae ({size:.2f} GiB parquet) "
          f"in {time.perf_counter() - start:.0f} s")  # fmt: skip


def step(label: str, args: list[str], limit_gb: float) -> bool:
    """Run one process; print its wall time and peak RSS; kill it past ``limit_gb``."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    killed = []

    def watch() -> None:  # never reaps the child (os.wait4 below does, for its peak)
        status = Path(f"/proc/{process.pid}/status")
        while True:
            try:  # a finished (zombie) process has no VmRSS line
                rss = next(int(line.split()[1]) for line in status.read_text().splitlines()
                           if line.startswith("VmRSS"))  # fmt: skip
            except (OSError, StopIteration):
                return
            if rss > limit_gb * 2**20:
                killed.append(rss)
                process.kill()
                return
            time.sleep(0.1)

    threading.Thread(target=watch, daemon=True).start()
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    peak = usage.ru_maxrss / 2**20
    note = f"KILLED at {killed[0] / 2**20:.1f} GiB RSS (limit {limit_gb:g})" if killed else (
        "ok" if process.returncode == 0 else f"exit {process.returncode}")
    print(f"{label:<34} {wall:8.1f} s  peak RSS {peak:6.2f} GiB  {note}", flush=True)
    lines = [line for line in output.splitlines() if line.strip()]
    for line in lines[-12:] if process.returncode else [x for x in lines if "report " in x]:
        print(f"    {line}")
    return process.returncode == 0


def compare(run: Path, sampled: Path, full: Path) -> None:
    """The default (subsampled) reference against the all-bodies one, on the scored rows."""
    measures = ("wedge_ratio", "biconcave_ratio", "hp_rel", "ha_mm")
    columns = ["flagged", *(f"{m}_{s}" for m in measures for s in ("expected", "z"))]
    a = pd.read_parquet(sampled / "scores.parquet", columns=columns)
    b = pd.read_parquet(full / "scores.parquet", columns=columns)
    for m in measures:
        dz = np.nanmax(np.abs(a[f"{m}_z"] - b[f"{m}_z"]))
        de = np.nanmax(np.abs(a[f"{m}_expected"] / b[f"{m}_expected"] - 1))
        print(f"  {m:<16} max |z(sample) - z(all)| {dz:.4f}; max relative diff of the "
              f"expected value {de:.2e}")
    agree = (a["flagged"] == b["flagged"]).mean()
    print(f"  flagged: {int(a['flagged'].sum())} (sample) vs {int(b['flagged'].sum())} (all); "
          f"same call on {agree:.5%} of vertebrae")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--run", type=Path, default=None, help="reuse or create this run")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic run")
    parser.add_argument("--limit-gb", type=float, default=10.0)
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--compare-sample", action="store_true")
    parser.add_argument("--tables", choices=("pages", "cohort"), default="pages",
                        help="the report's tables as for subject pages too (the default) or "
                             "for the cohort page alone (`morpho report --subjects none`)")
    parser.add_argument("--report-only", action="store_true",
                        help="time only the report's cohort part on a --run already scored")
    options = parser.parse_args()
    run = options.run or Path(tempfile.mkdtemp(prefix="morpho-stats-scale-"))
    work = run / "bench"
    try:
        if not (run / "measurements.parquet").exists():
            synthesise(run, options.n)
        work.mkdir(exist_ok=True)
        m = str(run / "measurements.parquet")
        limit = options.limit_gb
        if options.report_only and (run / "scores.parquet").exists():
            step("report (cohort part)", ["-c", REPORT, str(run), str(work / "report"),
                                          options.tables], limit)  # fmt: skip
            return
        step("stats fit", ["-c", CLI, "stats", "fit", m, "--key", "file",
                           "-o", str(work / "ref.json")], limit)  # fmt: skip
        step("stats score (--parquet)", ["-c", CLI, "stats", "score", m, "--key", "file", "-r",
                                        str(work / "ref.json"), "-o", str(work / "scores"),
                                        "--parquet"], limit)  # fmt: skip
        step("stats summary", ["-c", CLI, "stats", "summary", str(work / "scores" /
             "scores.parquet"), "--key", "file", "-o", str(work / "summary")], limit)  # fmt: skip
        if options.compare_sample:
            step("stats fit --sample 0 (all bodies)", ["-c", CLI, "stats", "fit", m, "--key",
                 "file", "--sample", "0", "-o", str(work / "ref-all.json")], limit)  # fmt: skip
            step("stats score (all-bodies ref)", ["-c", CLI, "stats", "score", m, "--key",
                 "file", "-r", str(work / "ref-all.json"), "-o", str(work / "scores-all"),
                 "--parquet"], limit)  # fmt: skip
            compare(run, work / "scores", work / "scores-all")
        if options.report:
            for name in ("scores.parquet", "subjects.parquet"):  # a scored run, as --reference
                shutil.copy(work / "scores" / name, run / name)
            step("report (cohort part)", ["-c", REPORT, str(run), str(work / "report"),
                                          options.tables], limit)  # fmt: skip
    finally:
        if not options.keep and options.run is None:
            shutil.rmtree(run, ignore_errors=True)


if __name__ == "__main__":
    main()
