"""Self-contained HTML screening reports from a batch run's tables.

Per subject (or per image when the run has no subject ids) and per cohort. Pictures are
inlined as base64 PNG; nothing is fetched when a report opens. Without
``include_identifiers`` a report names images and subjects by number only: no file names,
subject ids or DICOM patient fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

import jinja2
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.progress import track

from morpho import __version__
from morpho.atomic import atomic_write
from morpho.errors import MorphoError, scrub
from morpho.grade import subject_calls
from morpho.report.dicom_seg import original_identifiers
from morpho.report.overlay import data_uri, overlay_png
from morpho.report.plots import cohort_plots, stats_plots
from morpho.stats.score import FLAG_SD
from morpho.stats.summary import HEIGHTS_MM, HEIGHTS_REL

Z_COLUMN = re.compile(r"(^z_|_z$|zscore)")
#: z-scores of a body's shape against its own film's bodies (measure): shown, not flagged
#: (the Genant grade already uses them); reference z-scores (stats) flag below -FLAG_SD
FILM_Z = {"wedge_z", "biconcave_z", "crush_z"}
TEXT_COLUMNS = {"level", "type", "QA"}
#: The table of a frontal (AP) film: its three heights are left, middle and right, and it is
#: not graded (Genant needs a lateral view), as ``morpho measure`` records it.
FRONTAL_HEIGHTS = (("ha", "left"), ("hm", "middle"), ("hp", "right"))
RERUN = ("made by a morpho that kept no films (no run.json): run morpho batch INPUT --out "
         "NEWRUN again, then report NEWRUN")

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("morpho.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)

#: A bracket holding a number, left out where causes and reasons are counted by kind.
NUMBERED = r"\s*\([^()]*\d[^()]*\)"


#: The measurement columns the pages read (tables, flags, film calls); ``load`` reads these
#: (and the shown z-scores) only, plus the body outline points where the run stored films to
#: draw them on. ``load(..., all_columns=True)`` reads every column (DICOM SR).
PAGE_COLUMNS = ("file", "image", "index", "level", "ha_px", "hm_px", "hp_px", "ha_mm", "hm_mm",
                "hp_mm", "wedge_ratio", "biconcave_ratio", "crush_ratio", "genant_grade",
                "genant_type", "qa", "view", "height_loss")  # fmt: skip
POINT_COLUMNS = tuple(f"{p}_{e}_{a}" for p in ("ant", "mid", "post") for e in ("sup", "inf")
                      for a in ("x", "y"))  # fmt: skip
#: The scores columns the cohort page's ``morpho stats`` plots read (``plots.stats_plots``).
#: (the relative heights are read too where the mm heights are missing: ``height_measures``)
PLOT_COLUMNS = ("file", "level", "sex", "age", "height_cm", "flagged", "ratio_rules",
                "ratio_flag", "genant_flag", "genant_grade", "ha_mm", "hm_mm", "hp_mm",
                "wedge_ratio", "biconcave_ratio", "crush_ratio", "wedge_ratio_z",
                "biconcave_ratio_z", "crush_ratio_z")  # fmt: skip
#: The measurement columns the cohort page alone reads (``load(..., pages=False)``).
COHORT_COLUMNS = ("file", "index", "level", "genant_grade", "wedge_ratio", "biconcave_ratio",
                  "crush_ratio")  # fmt: skip

IMAGE_FIELDS = ("file", "path", "subject", "status", "cause", "read_s", "process_s",
                "model_version", "spacing_source", "age", "sex", "rows", "cols")  # fmt: skip
MEASUREMENT_FIELDS = ("file", "index", "level", "genant_grade")


def _table(folder: Path, name: str, columns: Sequence[str],
           read: Sequence[str] | None = None) -> pd.DataFrame:
    """One table of a batch run, with the columns the reports read (of a Parquet table only
    those in ``read`` where given, as far as it has them); a missing, empty or corrupt file
    is one MorphoError that says what to do."""
    path = folder / name
    if not path.is_file():
        unfinished = (folder / "state.sqlite").exists()
        cause = ("an unfinished batch run: run morpho batch into it again to finish it"
                 if unfinished else "not a morpho batch run folder")  # fmt: skip
        if not unfinished and (folder / "measurements.csv").is_file():
            cause += ("; `morpho measure` writes tables only: run `morpho batch INPUT --out "
                      "RUN` (the same measurements, and what reports need), then report RUN")
        raise MorphoError(folder, f"{cause} ({name} missing)")
    try:
        if not name.endswith(".parquet"):
            table = pd.read_csv(path)
        elif read is None:
            table = pd.read_parquet(path)
        else:  # in the file's column order; Arrow buffers freed as they are converted
            names = pq.read_schema(path).names
            wanted = {*read, *columns}
            table = pq.read_table(path, columns=[c for c in names if c in wanted]).to_pandas(
                split_blocks=True, self_destruct=True)
    except Exception as exc:  # noqa: BLE001 - pyarrow and pandas raise many kinds
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MorphoError(path, f"empty or corrupt ({first}); run morpho batch again") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise MorphoError(path, f"not a morpho batch table (no {', '.join(missing)} column)")
    return table


@dataclass
class BatchTables:
    """The tables a ``morpho batch`` run wrote."""

    images: pd.DataFrame
    measurements: pd.DataFrame
    failures: pd.DataFrame
    scores: pd.DataFrame | None = None  # when the run was scored (--reference)
    corrections: int = 0  # readers' corrections applied (``morpho review``)
    folder: Path | None = None  # the run folder: its stored films (``morpho.stored``)
    record: dict | None = None  # its run.json

    @classmethod
    def load(cls, folder: Path, *, all_columns: bool = False, pages: bool = True) -> BatchTables:
        """The tables of a batch folder, with the readers' corrections (RUN/corrections.csv)
        applied: corrected films re-measured and re-graded (``corrected`` column). z-scores
        are added when it holds ``scores.parquet``, except for corrected bodies (made from
        the uncorrected heights). A missing, unfinished or damaged run, or one made before
        runs kept their films (no run.json), is one MorphoError.

        Of measurements.parquet and scores.parquet only the columns the HTML pages read are
        loaded (``PAGE_COLUMNS``, ``PLOT_COLUMNS``, the shown z-scores), unless
        ``all_columns``: the pages are the same, in a fraction of the memory. Without
        ``pages``, only what the cohort page reads (``COHORT_COLUMNS``, no z-scores joined):
        no subject page can be written from the tables."""
        folder = Path(folder)
        if not folder.is_dir():
            raise MorphoError(folder, "no such run folder")
        images = _table(folder, "images.parquet", IMAGE_FIELDS)
        scored = (folder / "scores.parquet").exists()
        read = None if all_columns else _page_columns(folder, images, scored)
        if not (pages or all_columns):
            read = list(COHORT_COLUMNS)
        tables = cls(
            images,
            _table(folder, "measurements.parquet", MEASUREMENT_FIELDS, read),
            _table(folder, "failures.csv", ("file", "cause")),
            folder=folder, record=_run_record(folder),
        )
        tables.corrections = _apply_corrections(tables, folder, full=all_columns)
        m = tables.measurements  # a display label: the level, else the position
        level = m["level"].fillna("").astype(str)
        unnamed = (level == "").to_numpy()
        label = level.copy()
        label[unnamed] = "#" + m.loc[unnamed, "index"].astype(str)
        m["label"] = label
        if scored:
            tables._add_scores(folder, all_columns, pages)
        if tables.corrections:
            m = tables.measurements
            m.loc[m["corrected"], [c for c in m.columns if c.endswith("_z")]] = float("nan")
        return tables

    def _add_scores(self, folder: Path, all_columns: bool, pages: bool = True) -> None:
        """``scores`` and the z-scores of scores.parquet joined to the measurements (as
        ``merge`` on file and index names them: a z column both tables hold becomes
        ``_x`` / ``_y``, shown by neither)."""
        names = _parquet_columns(folder / "scores.parquet")
        z_columns = [c for c in names if c.endswith("_z")]
        m = self.measurements
        if all_columns:
            scores = self.scores = _table(folder, "scores.parquet", ("file", "index"))
            self.measurements = m.merge(scores[["file", "index", *z_columns]],
                                        on=["file", "index"], how="left")  # fmt: skip
            return
        held = {*m.columns, *_parquet_columns(folder / "measurements.parquet")}
        shown = [c for c in z_columns if c not in held] if pages else []
        read = ["file", "index", *shown, *PLOT_COLUMNS]
        scores = _table(folder, "scores.parquet", ("file", "index"), read)
        if not all(c in scores for c in HEIGHTS_MM) or not scores["hp_mm"].notna().any():
            rel = _table(folder, "scores.parquet", (), HEIGHTS_REL)
            scores = scores.assign(**{c: rel[c].to_numpy() for c in HEIGHTS_REL if c in rel})
        if _same_rows(scores, m):  # as `stats score` writes them: no join
            for column in shown:
                m[column] = scores[column].to_numpy()
        else:
            self.measurements = m.merge(scores[["file", "index", *shown]],
                                        on=["file", "index"], how="left")  # fmt: skip
        plotted = {*PLOT_COLUMNS, *HEIGHTS_REL}
        keep = [c for c in scores.columns if c in plotted or c not in (*shown, "index")]
        self.scores = scores[keep] if len(keep) < len(scores.columns) else scores

    def units(self) -> list[pd.DataFrame]:
        """Image rows grouped per subject (input order), or one image per unit."""
        return list(self.iter_units())

    def iter_units(self) -> Iterator[pd.DataFrame]:
        """``units`` one at a time (a million subjects are not held as a million frames)."""
        images = self.images.reset_index(drop=True).assign(number=lambda t: t.index + 1)
        if not images["subject"].notna().any():
            for i in range(len(images)):
                yield images.iloc[[i]]
            return
        keys = images["subject"].fillna(images["file"])
        for rows in _positions(keys):
            yield images.iloc[rows]

    def unit_count(self) -> int:
        subject = self.images["subject"]
        if not subject.notna().any():
            return len(self.images)
        return int(subject.fillna(self.images["file"]).nunique())


def _sorted_groups(keys: pd.Series) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """The keys in order of first appearance (as ``groupby(keys, sort=False)`` orders its
    groups), and the row positions of key k, ``order[bounds[k]:bounds[k + 1]]``, in input
    order (missing keys left out), from one stable sort."""
    codes, uniques = pd.factorize(keys)
    order = np.argsort(codes, kind="stable")
    return pd.Index(uniques), order, np.searchsorted(codes[order], np.arange(len(uniques) + 1))


def _positions(keys: pd.Series) -> Iterator[np.ndarray]:
    """The row positions of each key, group by group (``_sorted_groups``)."""
    _, order, bounds = _sorted_groups(keys)
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        yield order[start:stop]


class _RowsByFile:
    """Each file's measurement rows, as ``dict(groupby("file", sort=False))`` gives them,
    sliced on demand from one stable sort (no frame per file is held)."""

    def __init__(self, measurements: pd.DataFrame) -> None:
        self.table = measurements
        self.files, self.order, self.bounds = _sorted_groups(measurements["file"])

    def of(self, files: pd.Series) -> list[pd.DataFrame]:
        """The rows of each of ``files`` (none for a file without measurements)."""
        out = []
        for k in self.files.get_indexer(files):
            rows = self.order[self.bounds[k] : self.bounds[k + 1]] if k >= 0 else []
            out.append(self.table.iloc[rows])
        return out


def _run_record(folder: Path) -> dict:
    """The run's run.json (its settings, model and stored films), or one MorphoError."""
    import json

    path = folder / "run.json"
    if not path.is_file():
        raise MorphoError(folder, RERUN)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MorphoError(path, f"empty or corrupt ({exc}); run morpho batch again") from None


def _same_rows(a: pd.DataFrame, b: pd.DataFrame, step: int = 1_000_000) -> bool:
    """The same file and index in every row, compared a million rows at a time (a text
    column's values become Python strings when compared: 12 M of them take GiBs)."""
    if len(a) != len(b):
        return False
    return all(
        np.array_equal(a[key].iloc[i : i + step].to_numpy(), b[key].iloc[i : i + step].to_numpy())
        for key in ("file", "index")
        for i in range(0, len(a), step)
    )


def _parquet_columns(path: Path) -> list[str]:
    try:
        return list(pq.read_schema(path).names)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MorphoError(path, f"empty or corrupt ({first}); run morpho batch again") from None


def _page_columns(folder: Path, images: pd.DataFrame, scored: bool) -> list[str]:
    """The measurement columns the pages read: ``PAGE_COLUMNS``, the z-scores (those that
    scores.parquet also holds are not shown, see ``_add_scores``), and the outline points
    where some film is stored (its overlay is drawn)."""
    names = _parquet_columns(folder / "measurements.parquet")
    scores = set(_parquet_columns(folder / "scores.parquet")) if scored else set()
    stored = "stored" in images and images["stored"].map(lambda v: isinstance(v, str)).any()
    points = POINT_COLUMNS if stored else ()
    z_columns = [c for c in names if Z_COLUMN.search(c) and c not in scores]
    return [*PAGE_COLUMNS, *points, *z_columns]


def _apply_corrections(tables: BatchTables, folder: Path, full: bool = True) -> int:
    """Apply the run's readers' corrections to ``tables.measurements``; their number. Unless
    ``full`` (every column loaded), the corrected films are re-measured from all their
    columns (read for them alone) and their rows replace those loaded."""
    from morpho.review import apply_corrections, load_corrections

    log = load_corrections(folder)
    if log.empty:
        return 0
    m = tables.measurements
    if full:
        tables.measurements = apply_corrections(m, log)
        return len(log)
    files = sorted({str(f) for f in log["file"]})
    hit = m["file"].isin(files).to_numpy()
    whole = pq.read_table(folder / "measurements.parquet",
                          filters=[("file", "in", files)]).to_pandas()  # fmt: skip
    keys = m.loc[hit, ["file", "index"]].reset_index(drop=True)
    if not whole[["file", "index"]].equals(keys):  # another order: the plain way
        whole = pd.read_parquet(folder / "measurements.parquet")
        tables.measurements = apply_corrections(whole, log)[[*m.columns, "corrected", "review"]]
        return len(log)
    fixed = apply_corrections(whole, log)
    out = m.assign(corrected=False, review="")
    for column in out.columns:
        values = out[column].copy()
        values[hit] = fixed[column].to_numpy()
        out[column] = values
    tables.measurements = out
    return len(log)


def _fmt(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


def _frontal(table: pd.DataFrame, image: pd.Series | None = None) -> bool:
    """A film measured as frontal (AP): heights only, never graded."""
    if image is not None and str(image.get("view") or "") == "ap":
        return True
    return "view" in table and len(table) > 0 and bool((table["view"] == "ap").all())


def _frontal_table(table: pd.DataFrame, unit: str) -> tuple[list[str], list[dict]]:
    """A frontal film's vertebrae: left, middle and right heights, no ratios or grades."""
    names = [f"{side} ({unit})" for _, side in FRONTAL_HEIGHTS]
    rows = []
    for row in table.to_dict("records"):
        cells = {"level": row["label"], "QA": _fmt(row.get("qa") or "")}
        cells |= {name: _fmt(row.get(f"{key}_{unit}"), 1)
                  for (key, _), name in zip(FRONTAL_HEIGHTS, names, strict=True)}  # fmt: skip
        rows.append({"cells": cells, "grade_class": "ap"})
    return ["level", *names, "QA"], rows


def _level_table(table: pd.DataFrame, frontal: bool = False) -> tuple[list[str], list[dict]]:
    """Display columns and rows of one image's vertebrae (``_frontal_table`` for AP)."""
    unit = "mm" if table[["ha_mm", "hm_mm", "hp_mm"]].notna().any(axis=None) else "px"
    if frontal:
        return _frontal_table(table, unit)
    z_columns = [c for c in table.columns if Z_COLUMN.search(c)]
    columns = ["level", f"Ha ({unit})", f"Hm ({unit})", f"Hp ({unit})", "wedge", "biconcave",
               "crush", "grade", "type", *z_columns, "QA"]  # fmt: skip
    rows = []
    for row in table.to_dict("records"):
        grade = row.get("genant_grade")
        cells = {
            "level": row["label"],
            f"Ha ({unit})": _fmt(row.get(f"ha_{unit}"), 1),
            f"Hm ({unit})": _fmt(row.get(f"hm_{unit}"), 1),
            f"Hp ({unit})": _fmt(row.get(f"hp_{unit}"), 1),
            "wedge": _fmt(row.get("wedge_ratio")),
            "biconcave": _fmt(row.get("biconcave_ratio")),
            "crush": _fmt(row.get("crush_ratio")),
            "grade": _fmt(None if pd.isna(grade) else int(grade)),
            "type": _fmt(row.get("genant_type") or None),
            "QA": _fmt(row.get("qa") or ""),
            **{c: _fmt(row.get(c)) for c in z_columns},
        }
        rows.append({"cells": cells, "grade_class": 0 if pd.isna(grade) else int(grade)})
    return columns, rows


def _cause(cause: object, file: object, path: object, identifiers: bool) -> str:
    """A failure cause fit for a report: no absolute path; the file's relative name only
    with ``identifiers`` (else '<file>')."""
    if identifiers:
        return scrub(str(cause), [str(path)], replacement=str(file))
    return scrub(str(cause), [str(path), str(file), PurePath(str(file)).name])


def _flags(image: pd.Series, table: pd.DataFrame, identifiers: bool = False) -> list[dict]:
    flags = []
    if image["status"] != "ok":
        cause = _cause(image["cause"], image["file"], image["path"], identifiers)
        return [{"kind": "bad", "text": f"not measured: {cause}"}]
    if _frontal(table, image):  # heights only: nothing is graded, nothing to flag
        return _quality(image)
    for row in table.to_dict("records"):
        grade = row.get("genant_grade")
        if pd.notna(grade) and grade >= 1:
            kind = "warn" if grade == 1 else "bad"
            shape = f", {row['genant_type']}" if row.get("genant_type") else ""
            flags.append(
                {"kind": kind, "text": f"{row['label']}: Genant grade {int(grade)}{shape}"}
            )
        for column in (c for c in table.columns if Z_COLUMN.search(c) and c not in FILM_Z):
            if pd.notna(row.get(column)) and row[column] < -FLAG_SD:
                flags.append(
                    {"kind": "warn", "text": f"{row['label']}: {column} {row[column]:.1f}"}
                )
    ungraded = int(table["genant_grade"].isna().sum()) if len(table) else 0
    if ungraded:
        text = f"{ungraded} of {len(table)} vertebrae could not be graded"
        flags.append({"kind": "warn", "text": text})
    return flags + _quality(image)


def _quality(image: pd.Series) -> list[dict]:
    if isinstance(image.get("qa"), str) and image["qa"] not in ("", "ok"):
        return [{"kind": "warn", "text": f"quality: {image['qa']}"}]
    return []


def _overlay(image: pd.Series, table: pd.DataFrame, run: Path | None) -> str | None:
    """The overlay drawn on the run's stored film copy (with the readers' corrections), or
    None where the run kept no copy (``--no-pictures``). The original is never read."""
    from morpho.stored import StoredFilm

    if run is None:
        return None
    film = StoredFilm(run, image.get("stored"), str(image["file"])).film()
    if film is None:
        return None
    shape = (int(image["rows"]), int(image["cols"]))
    return data_uri(overlay_png(film, table, shape))


def _film_result(table: pd.DataFrame, frontal: bool = False) -> dict[str, str]:
    """The film-level call (``grade.subject_calls``): gradable bodies and what drives it."""
    if table.empty or "image" not in table:
        return {}
    if frontal:
        return {"film result": "frontal (AP) film: heights only, not graded (Genant needs a "
                "lateral view)"}
    calls = subject_calls(table.assign(image=0)).iloc[0]
    result = "no moderate or severe deformity (grade >= 2)"
    if calls["any_grade2"]:
        result = (f"deformity grade {int(calls['worst_grade'])} ({calls['driver_type']}) at "
                  f"{calls['driver']}")  # fmt: skip
    elif calls["gradable"] == 0:
        result = "not assessable: no gradable vertebra"
    return {"gradable vertebrae": f"{int(calls['gradable'])} of {int(calls['bodies'])}",
            "film result": result}  # fmt: skip


def _image_section(image: pd.Series, table: pd.DataFrame, identifiers: bool,
                   run: Path | None = None) -> dict:
    spacing = "unknown"
    if isinstance(image.get("spacing_source"), str) and image["spacing_source"] != "none":
        spacing = image["spacing_source"]
    facts = {
        "view": _fmt(image.get("view")),
        "age": _fmt(image.get("age"), 0),
        "sex": _fmt(image.get("sex")),
        "height (cm)": _fmt(image.get("height_cm"), 0),
        "pixel spacing": spacing,
        "model version": _fmt(image.get("model_version")),
        "vertebrae measured": str(len(table)),
        **_film_result(table, _frontal(table, image)),
    }
    if identifiers:
        facts = {"file": image["file"], **facts, **original_identifiers(image["path"])}
    frontal = _frontal(table, image)
    columns, rows = _level_table(table, frontal) if len(table) else ([], [])
    return {
        "heading": f"Image {image['number']}" + (f" ({image['file']})" if identifiers else ""),
        "overlay": _overlay(image, table, run) if image["status"] == "ok" else None,
        "frontal": frontal,
        "facts": facts,
        "flags": _flags(image, table, identifiers),
        "columns": columns,
        "table": rows,
    }


def _render(template: str, path: Path, **context: object) -> Path:
    text = _templates.get_template(template).render(morpho_version=__version__, **context)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def write_subject_reports(
    tables: BatchTables,
    out_dir: Path,
    *,
    include_identifiers: bool = False,
    only_flagged: bool = False,
    progress: bool = True,
) -> list[tuple[str, Path]]:
    """One HTML report per subject (or image); returns (name, path) pairs in input order.

    With ``only_flagged``, only subjects with a flag (a deformity, a low z-score, a quality
    note or a failed image) get a report; numbering stays that of the whole run.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_file = _RowsByFile(tables.measurements)
    written = []
    units = track(tables.iter_units(), "reports", total=tables.unit_count(),
                  disable=not progress)  # fmt: skip
    for number, unit in enumerate(units, start=1):
        tables_of = by_file.of(unit["file"])
        if only_flagged and not any(
            _flags(image, table)
            for (_, image), table in zip(unit.iterrows(), tables_of, strict=True)
        ):
            continue
        subject = unit["subject"].iloc[0]
        name = f"Subject {number}"
        if include_identifiers:
            name = str(subject) if pd.notna(subject) else str(unit["file"].iloc[0])
        sections = [
            _image_section(image, table, include_identifiers, tables.folder)
            for (_, image), table in zip(unit.iterrows(), tables_of, strict=True)
        ]
        path = _render("subject.html.j2", out_dir / f"subject-{number:04d}.html",
                       title=f"morpho screening: {name}", heading=name, images=sections,
                       identifiers={}, text_columns=TEXT_COLUMNS)  # fmt: skip
        written.append((name, path))
    return written


def _prevalence(tables: BatchTables) -> tuple[str, str, str]:
    """HTML tables: per image, per level, per sex and age band."""
    m, images = tables.measurements, tables.images
    ok = images[images["status"] == "ok"]
    worst = m.groupby("file")["genant_grade"].max().reindex(ok["file"]).fillna(0)
    overall = pd.DataFrame(
        {
            "images measured": [len(ok)],
            "any grade >= 1": [f"{(worst >= 1).mean():.1%}" if len(ok) else "–"],
            "any grade >= 2": [f"{(worst >= 2).mean():.1%}" if len(ok) else "–"],
            "vertebrae measured": [len(m)],
            "vertebrae graded": [f"{m['genant_grade'].notna().mean():.1%}" if len(m) else "–"],
            "vertebrae grade >= 1": [f"{(m['genant_grade'] >= 1).mean():.1%}" if len(m) else "–"],
        }
    )
    grades = m.assign(graded=m["genant_grade"].notna())
    by_level = grades.groupby("label", sort=False).agg(
        measured=("file", "size"),
        graded=("graded", "sum"),
        grade_1=("genant_grade", lambda g: int((g == 1).sum())),
        grade_2=("genant_grade", lambda g: int((g == 2).sum())),
        grade_3=("genant_grade", lambda g: int((g == 3).sum())),
    )
    by_level["deformed"] = (
        by_level[["grade_1", "grade_2", "grade_3"]].sum(axis=1) / by_level["graded"]
    ).map(lambda v: f"{v:.1%}" if np.isfinite(v) else "–")
    group_html = ""
    if ok["sex"].notna().any() and ok["age"].notna().any():
        bands = pd.cut(ok["age"], [0, 50, 60, 70, 80, 200], right=False,
                       labels=["<50", "50-59", "60-69", "70-79", "80+"])  # fmt: skip
        frame = pd.DataFrame({"sex": ok["sex"].values, "age band": bands.values,
                              "deformed": (worst.values >= 1)})  # fmt: skip
        grouped = frame.groupby(["sex", "age band"], observed=True)["deformed"].agg(
            images="size", prevalence="mean"
        )
        grouped["prevalence"] = grouped["prevalence"].map("{:.1%}".format)
        group_html = grouped.reset_index().to_html(index=False, border=0)
    return (
        overall.to_html(index=False, border=0),
        by_level.rename_axis("level").reset_index().to_html(index=False, border=0),
        group_html,
    )


def _not_gradable(folder: Path | None) -> str:
    """HTML table: vertebrae not graded, by the first reason their ``qa`` gives (numbers in
    brackets left out), as measured (before readers' corrections). Read from
    measurements.parquet in batches, so any cohort size fits in memory."""
    path = None if folder is None else folder / "measurements.parquet"
    if path is None or not path.is_file():
        return ""
    file = pq.ParquetFile(path)
    if not {"genant_grade", "qa"} <= set(file.schema_arrow.names):
        return ""
    counts: dict[str, int] = {}
    measured = 0
    for batch in file.iter_batches(columns=["genant_grade", "qa"], batch_size=1 << 18):
        measured += batch.num_rows
        qa = pc.fill_null(batch.column("qa").filter(pc.is_null(batch.column("genant_grade"))), "")
        reason = pc.struct_field(pc.extract_regex(qa, r"ungradable: (?P<r>[^;]*)"), "r")
        reason = pc.utf8_trim_whitespace(pc.replace_substring_regex(
            pc.fill_null(reason, "no reason recorded"), NUMBERED, ""))
        for row in pc.value_counts(reason).to_pylist():
            counts[row["values"]] = counts.get(row["values"], 0) + row["counts"]
    if not counts:
        return ""
    table = pd.Series(counts, name="vertebrae").sort_values(ascending=False)
    frame = table.rename_axis("first reason").reset_index()
    frame["share of measured"] = (frame["vertebrae"] / measured).map("{:.1%}".format)
    return frame.to_html(index=False, border=0)


def write_cohort_report(
    tables: BatchTables,
    path: Path,
    *,
    links: Sequence[tuple[str, str]] = (),
    include_identifiers: bool = False,
) -> Path:
    """The cohort HTML report: counts, failure rates, deformity prevalence, plots."""
    images, failures = tables.images, tables.failures
    total = len(images)
    failed = int((images["status"] != "ok").sum())
    cards = [("images", total), ("measured", total - failed),
             ("failed", f"{failed} ({failed / total:.1%})" if total else "0"),
             ("vertebrae", len(tables.measurements))]  # fmt: skip
    if images["subject"].notna().any():
        cards.append(("subjects", int(images["subject"].nunique())))
    seconds = (images["read_s"] + images["process_s"]).median()
    facts = {
        "model version": ", ".join(sorted(images["model_version"].dropna().astype(str).unique()))
        or "–",
        "median time per image": f"{seconds:.2f} s" if pd.notna(seconds) else "–",
        "pixel spacing": "; ".join(
            f"{source}: {n}" for source, n in images["spacing_source"].value_counts().items()
        )
        or "–",
    }
    failure_html = ""
    if len(failures):
        paths = dict(zip(images["file"], images["path"], strict=False))
        failures = failures.assign(cause=[
            _cause(c, f, paths.get(f, ""), include_identifiers)
            for f, c in zip(failures["file"], failures["cause"], strict=True)
        ])  # fmt: skip
        if include_identifiers:
            failure_html = failures.to_html(index=False, border=0)
        else:
            # one row per kind of cause: the film's own numbers left out (as a frontal
            # look's symmetry, a column's confidence)
            causes = failures["cause"]
            for _ in range(2):  # innermost brackets first
                causes = causes.str.replace(NUMBERED, "", regex=True)
            counts = causes.str.strip().value_counts().rename_axis("cause").reset_index()
            failure_html = counts.to_html(index=False, border=0)
    prevalence, by_level, by_group = _prevalence(tables)
    not_gradable = _not_gradable(tables.folder)
    positional = tables.measurements["label"].astype(str).str.startswith("#")
    level_note = (
        ""
        if not positional.any()
        else (
            "Bodies without a level name are listed by position from the top (#1, #2, ...), "
            "which need not be the same level in every image."
        )
    )
    plots = cohort_plots(tables.images, tables.measurements)
    plot_notes: list[str] = []
    if tables.scores is not None:
        more, plot_notes = stats_plots(tables.scores)
        plots += more
    return _render(
        "cohort.html.j2", Path(path), title="morpho cohort screening report", cards=cards,
        facts=facts, prevalence=prevalence, by_level=by_level, by_group=by_group,
        level_note=level_note, not_gradable=not_gradable,
        plots=[data_uri(png) for png in plots], plot_notes=plot_notes,
        failures=failure_html, links=list(links),
    )  # fmt: skip
