"""`morpho report`: HTML screening reports (per subject and per cohort), DICOM SEG and SR,
all from what the batch run stored (tables and ``films/``): no film is decoded or segmented
again, so the originals may have moved."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from morpho.cli.common import console, fail, finish, run_each
from morpho.errors import MorphoError

if TYPE_CHECKING:
    from morpho.report.html import BatchTables

RunArgument = Annotated[
    Path, typer.Argument(metavar="RUN", help="The output folder of a `morpho batch` run.")
]
OutOption = Annotated[Path, typer.Option("--out", help="Report folder.")]
IdentifiersOption = Annotated[
    bool,
    typer.Option("--include-identifiers", help="Show file names and subject ids, and the DICOM "
                 "patient name, id and dates (read from the original headers while they are "
                 "in place; the run keeps none); also into SEG and SR."),
]
SegOption = Annotated[
    bool,
    typer.Option("--dicom-seg", help="Also write each DICOM input's bodies (stored by the run) "
                 "as a DICOM Segmentation referencing its image, one segment per level; "
                 "de-identified, UIDs kept."),
]
SrOption = Annotated[
    bool,
    typer.Option("--dicom-sr", help="Also write each DICOM input's measurements as a DICOM SR "
                 "(TID 1500 measurement report) on its image and its SEG; de-identified, UIDs "
                 "kept."),
]
OnlyFlaggedOption = Annotated[
    bool, typer.Option("--only-flagged", help="Subject reports only for subjects with a flag.")
]


class Subjects(str, Enum):
    all = "all"
    flagged = "flagged"
    none = "none"


SubjectsOption = Annotated[
    Subjects,
    typer.Option("--subjects", help="Which subject reports to write: all (the default), "
                 "flagged (only subjects with a flag, as --only-flagged) or none (cohort.html "
                 "only). A subject page takes milliseconds; a million of them take hours, "
                 "the cohort page minutes: a large programme may write flagged or none."),
]
ModelOption = Annotated[
    Path | None,
    typer.Option("--model", help="Not needed (the run stores its masks): refuse the run unless "
                 "it was made with this ONNX model."),
]


def report(
    run: RunArgument,
    out: OutOption,
    include_identifiers: IdentifiersOption = False,
    dicom_seg: SegOption = False,
    dicom_sr: SrOption = False,
    only_flagged: OnlyFlaggedOption = False,
    subjects: SubjectsOption = Subjects.all,
    model: ModelOption = None,
) -> None:
    """Screening reports of a batch run: one per cohort and one per subject.

    Writes OUT/cohort.html and OUT/subjects/subject-NNNN.html (self-contained files)."""
    from morpho.report.html import BatchTables

    which = "flagged" if only_flagged and subjects == Subjects.all else Subjects(subjects).value
    try:  # the page columns only, unless the SR needs every measurement
        tables = BatchTables.load(run, all_columns=dicom_sr, pages=which != "none")
    except MorphoError as exc:
        fail(exc.cause, exc.path)
    if model is not None:
        _check_model(tables, model)
    if tables.corrections:
        corrected = int(tables.measurements["corrected"].sum())
        console.print(f"{tables.corrections} reader correction(s) applied ({corrected} "
                      f"bod{'y' if corrected == 1 else 'ies'} corrected)")
    written = _write_html(tables, out, include_identifiers, which)
    console.print(f"{written} subject report(s) and cohort.html in {out}")
    if dicom_seg or dicom_sr:
        _write_dicom(tables, out, seg=dicom_seg, sr=dicom_sr,
                     include_identifiers=include_identifiers)  # fmt: skip


def _check_model(tables: BatchTables, model: Path) -> None:
    """One error line unless ``model`` is the ONNX file the run was made with."""
    from morpho.batch.chain import model_sha256

    try:
        digest = model_sha256(model)
    except OSError as exc:
        fail(f"cannot read the model: {exc.strerror or exc}", model)
    made = (tables.record or {}).get("model_sha256") or []
    if digest not in made:
        versions = ", ".join((tables.record or {}).get("model_version") or []) or "unknown"
        fail(f"not the model this run was made with (run: {versions}, sha256 "
             f"{', '.join(h[:12] for h in made) or 'not recorded'}; this: {digest[:12]}); SEG "
             "and SR come from the run's stored masks: leave --model out", model)


def _write_html(tables: BatchTables, out: Path, include_identifiers: bool,
                which: str) -> int:
    from morpho.report import write_cohort_report, write_subject_reports

    try:
        subjects = [] if which == "none" else write_subject_reports(
            tables, out / "subjects", include_identifiers=include_identifiers,
            only_flagged=which == "flagged",
        )  # fmt: skip
        links = [(name, f"subjects/{path.name}") for name, path in subjects]
        write_cohort_report(tables, out / "cohort.html", links=links,
                            include_identifiers=include_identifiers)  # fmt: skip
    except MorphoError as exc:
        fail(exc.cause, exc.path)
    except OSError as exc:  # the report folder cannot be written
        fail(exc.strerror or str(exc), exc.filename or out)
    return len(subjects)


def _write_dicom(tables: BatchTables, out: Path, *, seg: bool, sr: bool,
                 include_identifiers: bool) -> None:
    """OUT/seg and OUT/sr for the measured DICOM inputs; failures listed, exit 1 if any."""
    films = _dicom_films(tables)
    failures = []
    by_file = dict(iter(tables.measurements.groupby("file", sort=False)))
    empty = tables.measurements.iloc[:0]
    if seg:
        failures += run_each(
            films, lambda film: _seg(film, by_file.get(film[1], empty), out, include_identifiers),
            name=lambda film: film[1],
        )  # fmt: skip
    if sr:
        failures += run_each(
            films, lambda film: _sr(film, by_file.get(film[1], empty), out, include_identifiers),
            name=lambda film: film[1],
        )  # fmt: skip
    finish(failures, len(films) * (seg + sr))


def _dicom_films(tables: BatchTables) -> list[tuple[object, str, str]]:
    """(stored film, file key, collision-free output name) of the measured DICOM inputs: those
    whose de-identified header the run stored. The names from the run's file keys mirror the
    input tree and stay inside the output folder."""
    from morpho.io.files import output_names
    from morpho.stored import StoredFilm

    images = tables.images
    names = output_names([str(file) for file in images["file"]])
    films = []
    for row, name in zip(images.to_dict("records"), names, strict=True):
        stored = StoredFilm(tables.folder, row.get("stored"), str(row["file"]))
        unstored = not isinstance(row.get("stored"), str)  # made without stored films
        if row["status"] == "ok" and (unstored or stored.path("source")):
            films.append(((stored, row), str(row["file"]), name))
    return films


def _source(stored: object, row: dict, include_identifiers: bool):
    """The stored header copy, with the original's patient fields when asked for."""
    from morpho.report.dicom_seg import original_identifiers

    source = stored.source()
    if include_identifiers:
        for keyword, value in original_identifiers(row["path"]).items():
            setattr(source, keyword, value)
    return source


def _seg(film: tuple, rows: pd.DataFrame, out: Path, include_identifiers: bool) -> None:
    from morpho.io.files import inside
    from morpho.report.dicom_seg import write_dicom_seg

    (stored, row), _, name = film
    levels = {int(i): str(level) for i, level in zip(rows["index"], rows["level"].fillna(""),
                                                     strict=True)}  # fmt: skip
    write_dicom_seg(_source(stored, row, include_identifiers), stored.labels(),
                    inside(out / "seg", f"{name}_seg.dcm"), str(row["model_version"]),
                    include_identifiers, levels)  # fmt: skip


def _sr(film: tuple, rows: pd.DataFrame, out: Path, include_identifiers: bool) -> None:
    from morpho.io.files import inside
    from morpho.report.dicom_sr import write_dicom_sr

    (stored, row), _, name = film
    seg = inside(out / "seg", f"{name}_seg.dcm")
    write_dicom_sr(_source(stored, row, include_identifiers), rows,
                   inside(out / "sr", f"{name}_sr.dcm"), str(row["model_version"]),
                   seg if seg.is_file() else None, include_identifiers)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("report")(report)
