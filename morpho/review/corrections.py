"""A reader's corrections of a batch run: the log ``corrections.csv`` in the run folder, and
the measurements with it applied (points, levels, facing, accepted / not gradable bodies),
re-measured and re-graded.

The log holds one row per action, in order: ``time`` (UTC), ``reader`` (free text),
``file`` (the run's file key), ``index`` (the body), ``action``, ``point``, ``x``, ``y``,
``value``; never anything from the film's header. Actions: ``point`` (move ``point``, e.g.
``ant_sup``, to ``x``, ``y``), ``accept``, ``not_gradable``, ``clear`` (undo either),
``level`` (name the body ``value`` and the bodies below it on from there), ``facing``
(``value`` left/right: anterior and posterior points trade places).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from morpho.atomic import atomic_write
from morpho.errors import MorphoError
from morpho.label.levels import LEVELS
from morpho.measure import POINTS
from morpho.review.remeasure import film_spacing, remeasure_film

CORRECTIONS = "corrections.csv"
COLUMNS = ["time", "reader", "file", "index", "action", "point", "x", "y", "value"]
ACTIONS = ("point", "accept", "not_gradable", "clear", "level", "facing")
REVIEW = {"accept": "accepted", "not_gradable": "not gradable", "clear": ""}
MAX_READER = 80  # characters of the reader's name kept


@dataclass(frozen=True)
class Correction:
    """One reader action on one film (see the module docstring)."""

    file: str
    action: str
    index: int | None = None
    point: str = ""
    x: float = math.nan
    y: float = math.nan
    value: str = ""
    reader: str = ""
    time: str = ""

    def checked(self, film: pd.DataFrame) -> Correction:
        """This correction with its time and a tidy reader name; ValueError when it does not
        fit ``film`` (the file's measurement rows)."""
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")
        if self.action != "facing" and self.index not in set(film["index"]):
            raise ValueError(f"no body {self.index} on this film")
        if self.action == "point" and (self.point not in POINTS
                                       or not all(map(math.isfinite, (self.x, self.y)))):
            raise ValueError(f"a point needs one of {', '.join(POINTS)} and finite x, y")
        if self.action == "level" and self.value not in LEVELS:
            raise ValueError(f"unknown level {self.value!r}")
        if self.action == "facing" and self.value not in ("left", "right"):
            raise ValueError("facing is left or right")
        reader = " ".join(self.reader.split())[:MAX_READER]
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return Correction(**{**asdict(self), "reader": reader, "time": now})


def load_corrections(run: Path) -> pd.DataFrame:
    """The run's correction log (empty when there is none)."""
    path = Path(run) / CORRECTIONS
    if not path.is_file():
        return pd.DataFrame(columns=COLUMNS)
    try:
        table = pd.read_csv(path, dtype={"file": str, "reader": str, "value": str,
                                         "point": str, "action": str}, keep_default_na=False,
                            na_values={"x": [""], "y": [""], "index": [""]})  # fmt: skip
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise MorphoError(path, f"not a readable corrections file: {exc}") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise MorphoError(path, f"not a corrections file (no {', '.join(missing)} column)")
    return table[COLUMNS]


def append_correction(run: Path, log: pd.DataFrame, correction: Correction) -> pd.DataFrame:
    """The log with ``correction`` added, written atomically to the run's corrections.csv."""
    row = pd.DataFrame([asdict(correction)], columns=COLUMNS)
    log = row if log.empty else pd.concat([log, row], ignore_index=True)
    atomic_write(Path(run) / CORRECTIONS, lambda tmp: log.to_csv(tmp, index=False))
    return log


def renamed(levels: list[str], start: int, name: str) -> list[str]:
    """Level names with body ``start`` (a position) named ``name`` and the bodies below it
    named on from there, keeping the steps between their old names (a missing level stays
    skipped), one level a step where an old name is unknown."""
    position, out = LEVELS.index(name), list(levels[:start])
    for k in range(start, len(levels)):
        if k > start:
            old = [LEVELS.index(n) if n in LEVELS else None for n in levels[k - 1 : k + 1]]
            position += old[1] - old[0] if None not in old and old[1] > old[0] else 1
        out.append(LEVELS[position] if position < len(LEVELS) else "")
    return out


def _flip(film: pd.DataFrame, facing: str) -> pd.DataFrame:
    """Anterior and posterior points trade places where the facing changes."""
    if (film["facing"] == facing).all():
        return film
    film = film.copy()
    for end in ("sup", "inf"):
        for xy in ("x", "y"):
            ant, post = f"ant_{end}_{xy}", f"post_{end}_{xy}"
            film[ant], film[post] = film[post].to_numpy(), film[ant].to_numpy()
    film["facing"] = facing
    return film


def correct_film(film: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """One film's rows (cranial to caudal) with its log replayed in order, re-measured."""
    film = film.reset_index(drop=True)
    spacing = film_spacing(film)
    position = {int(i): k for k, i in enumerate(film["index"])}
    touched: set[int] = set()
    moved: set[int] = set()
    review: dict[int, str] = {}
    for c in log.itertuples():
        body = None if pd.isna(c.index) else int(c.index)
        if c.action == "point":
            film.loc[position[body], [f"{c.point}_x", f"{c.point}_y"]] = [c.x, c.y]
            moved.add(body)
        elif c.action in REVIEW:
            review[body] = REVIEW[c.action]
        elif c.action == "level":
            film["level"] = renamed(list(film["level"].fillna("")), position[body], c.value)
            touched |= {i for i in position if i >= body}
        elif c.action == "facing":
            film = _flip(film, c.value)
            touched |= set(position)
        touched |= {body} if body is not None else set()
    return remeasure_film(film, spacing, touched, review, moved)


def apply_corrections(measurements: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """The measurements table with the reader's corrections: each corrected film re-measured
    and re-graded from its corrected points, with ``corrected`` (the reader changed or
    judged this body) and ``review`` ('accepted', 'not gradable' or empty) columns. Films
    without corrections keep their rows; rows keep their order."""
    out = measurements.assign(corrected=False, review="")
    if log.empty:
        return out
    parts = []
    for file, film in out.groupby("file", sort=False):
        entries = log[log["file"] == file]
        parts.append(correct_film(film, entries).set_axis(film.index) if len(entries) else film)
    corrected = pd.concat(parts).loc[out.index]
    return corrected.astype(_table_types(out, corrected))


def _table_types(table: pd.DataFrame, corrected: pd.DataFrame) -> dict:
    """The table's column types, an integer column that a correction left without a value
    (a body marked not gradable in a table where every body had a grade) as nullable."""
    types = table.dtypes.to_dict()
    for column, dtype in types.items():
        if pd.api.types.is_integer_dtype(dtype) and corrected[column].isna().any():
            types[column] = "Int64"
    return types


def write_corrected(run: Path) -> Path:
    """RUN/measurements_corrected.parquet (and .csv): the run's measurements with its
    corrections applied, for ``morpho stats`` and other tools; written atomically."""
    run = Path(run)
    table = apply_corrections(pd.read_parquet(run / "measurements.parquet"), load_corrections(run))
    path = run / "measurements_corrected.parquet"
    atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))
    atomic_write(path.with_suffix(".csv"), lambda tmp: table.to_csv(tmp, index=False))
    return path
