"""`morpho report`: HTML screening reports (per subject and per cohort) and DICOM-SEG."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from morpho.cli.common import console, fail, finish, run_each
from morpho.errors import MorphoError

if TYPE_CHECKING:
    from morpho.report.html import BatchTables


def report(
    run: Annotated[
        Path, typer.Argument(metavar="RUN", help="The output folder of a `morpho batch` run.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Report folder.")],
    include_identifiers: Annotated[
        bool,
        typer.Option(
            "--include-identifiers",
            help="Show file names, subject ids and DICOM patient name, id and dates.",
        ),
    ] = False,
    dicom_seg: Annotated[
        bool,
        typer.Option(
            "--dicom-seg",
            help="Also write each DICOM input's body mask as a DICOM Segmentation "
            "(it copies the patient module; needs --include-identifiers).",
        ),
    ] = False,
    dicom_sr: Annotated[
        bool,
        typer.Option("--dicom-sr", help="Also write each DICOM input's measurements as a DICOM "
                     "SR (TID 1500 measurement report) on its image and its SEG; without "
                     "--include-identifiers the patient's name, id and dates are left out."),
    ] = False,
    only_flagged: Annotated[
        bool,
        typer.Option("--only-flagged", help="Subject reports only for subjects with a flag."),
    ] = False,
    model: Annotated[
        Path | None, typer.Option("--model", help="ONNX model for --dicom-seg.")
    ] = None,
) -> None:
    """Write OUT/cohort.html and OUT/subjects/subject-NNNN.html (self-contained files)."""
    from morpho.report import write_cohort_report, write_subject_reports
    from morpho.report.html import BatchTables

    if dicom_seg and not include_identifiers:
        fail("--dicom-seg copies the patient's name and id into the SEG; add --include-identifiers")
    try:
        tables = BatchTables.load(run)
        if tables.corrections:
            corrected = int(tables.measurements["corrected"].sum())
            console.print(f"{tables.corrections} reader correction(s) applied ({corrected} "
                          f"bod{'y' if corrected == 1 else 'ies'} corrected)")
        subjects = write_subject_reports(
            tables, out / "subjects", include_identifiers=include_identifiers,
            only_flagged=only_flagged,
        )  # fmt: skip
        links = [(name, f"subjects/{path.name}") for name, path in subjects]
        write_cohort_report(tables, out / "cohort.html", links=links,
                            include_identifiers=include_identifiers)  # fmt: skip
    except MorphoError as exc:
        fail(exc.cause, exc.path)
    except OSError as exc:  # the report folder cannot be written
        fail(exc.strerror or str(exc), exc.filename or out)
    console.print(f"{len(subjects)} subject report(s) and cohort.html in {out}")
    if dicom_seg or dicom_sr:
        _write_dicom(tables, out, seg=dicom_seg, sr=dicom_sr, model=model,
                     include_identifiers=include_identifiers)  # fmt: skip


def _write_dicom(tables: BatchTables, out: Path, *, seg: bool, sr: bool, model: Path | None,
                 include_identifiers: bool) -> None:
    """OUT/seg and OUT/sr for the measured DICOM inputs; failures listed, exit 1 if any."""
    failures, done = [], _measured_dicoms(tables.images)
    if seg:
        failures += _write_segs(done, out / "seg", model, include_identifiers)
    if sr:
        failures += _write_srs(done, tables.measurements, out, include_identifiers)
    finish(failures, len(done) * (seg + sr))


def _measured_dicoms(images: pd.DataFrame) -> list[tuple[object, str]]:
    """(image row, collision-free output name) of the measured inputs; the names from the
    run's file keys mirror the input tree and stay inside the output folder."""
    from morpho.io.files import output_names

    names = output_names([str(file) for file in images["file"]])
    return [(row, name) for row, name in zip(images.itertuples(), names, strict=True)
            if row.status == "ok"]  # fmt: skip


def _write_segs(done: list[tuple[object, str]], folder: Path, model: Path | None,
                include_identifiers: bool) -> list[tuple[str, str]]:
    """``<name>_seg.dcm`` per measured DICOM input (non-DICOM inputs have none)."""
    from morpho.io.files import inside
    from morpho.report.dicom_seg import SegWriter

    try:
        writer = SegWriter(model)
    except MorphoError as exc:
        fail(exc.cause, exc.path)
    return run_each(
        done,
        lambda pair: writer.write(pair[0].path, inside(folder, f"{pair[1]}_seg.dcm"),
                                 include_identifiers),
        name=lambda pair: str(pair[0].file),
    )


def _write_srs(done: list[tuple[object, str]], measurements: pd.DataFrame, out: Path,
               include_identifiers: bool) -> list[tuple[str, str]]:
    """``sr/<name>_sr.dcm`` per measured DICOM input, referencing ``seg/<name>_seg.dcm``
    where that was written."""
    from morpho.io.files import inside
    from morpho.io.reader import file_kind
    from morpho.report.dicom_sr import write_dicom_sr

    by_file = dict(iter(measurements.groupby("file", sort=False)))

    def write(pair: tuple[object, str]) -> None:
        row, name = pair
        if file_kind(row.path) != "dicom":
            return
        seg = inside(out / "seg", f"{name}_seg.dcm")
        film = by_file.get(row.file, measurements.iloc[:0])
        write_dicom_sr(row.path, film, inside(out / "sr", f"{name}_sr.dcm"), row.model_version,
                       seg if seg.is_file() else None, include_identifiers)  # fmt: skip

    return run_each(done, write, name=lambda pair: str(pair[0].file))


def register(app: typer.Typer) -> None:
    app.command("report")(report)
