"""Load and validate measurements and demographics, and join them on a named key.

Nothing is dropped in silence: structural problems (a missing column, text in a numeric
column, duplicate ids) raise ``MorphoError``; implausible rows (unknown sex code, negative
or impossible age or height, missing covariate, unmatched id) are excluded and counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from morpho.domain import LEVEL_ORDER
from morpho.errors import MorphoError

SEX_CODES = {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F", "O": "O", "OTHER": "O"}
PLAUSIBLE = {"age": (0.0, 120.0), "height_cm": (50.0, 250.0), "weight_kg": (2.0, 400.0)}
HEIGHT_COLUMNS = ("ha", "hm", "hp")
RATIO_COLUMNS = ("wedge_ratio", "biconcave_ratio", "crush_ratio")
MEASUREMENT_COLUMNS = ("image", "level", "ha_px", "hm_px", "hp_px", *RATIO_COLUMNS, "genant_grade")
SPINE_LEVELS = LEVEL_ORDER
NUMERIC_MEASUREMENTS = (
    "ha_px", "hm_px", "hp_px", "ha_mm", "hm_mm", "hp_mm", *RATIO_COLUMNS, "genant_grade",
)  # fmt: skip


def level_order(levels) -> list[str]:
    """Level names cranial to caudal (unknown names last, alphabetically)."""
    rank = {name: i for i, name in enumerate(SPINE_LEVELS)}
    return sorted(map(str, levels), key=lambda name: (rank.get(name, len(rank)), name))


@dataclass
class Exclusions:
    """Rows left out, counted by reason (``order``: every reason checked, even with none)."""

    counts: Counter = field(default_factory=Counter)
    order: list[str] = field(default_factory=list, repr=False, compare=False)

    def add(self, reason: str, n: int) -> None:
        if reason not in self.order:
            self.order.append(reason)
        if n:
            self.counts[reason] += int(n)

    @classmethod
    def merged(cls, parts: list[Exclusions]) -> Exclusions:
        """The counts of several batches added up, reasons in the order first checked."""
        total = cls()
        for reason in dict.fromkeys(r for part in parts for r in part.order):
            total.add(reason, sum(part.counts.get(reason, 0) for part in parts))
        return total

    def lines(self) -> list[str]:
        return [f"{n} {reason}" for reason, n in self.counts.items()]


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet table."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        if path.suffix.lower() in (".csv", ".txt"):
            return pd.read_csv(path, low_memory=False)
    except (OSError, ValueError) as exc:
        raise MorphoError(path, f"cannot read table: {exc}") from exc
    raise MorphoError(path, "not a table: expected .csv or .parquet")


def parse_key(key: str) -> tuple[str, str]:
    """``"image"`` or ``"image=subject_id"``: measurement column and demographics column."""
    left, _, right = key.partition("=")
    return left.strip(), (right or left).strip()


def require_columns(table: pd.DataFrame, columns, source: str | Path) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise MorphoError(source, f"missing column(s): {', '.join(missing)}")


def numeric(table: pd.DataFrame, column: str, source: str | Path) -> pd.Series:
    """The column as floats; text that is not a number is an error naming the rows."""
    if pd.api.types.is_numeric_dtype(table[column]):
        return table[column].astype(float)
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() & table[column].notna()
    bad &= table[column].where(bad, "").astype(str).str.strip() != ""
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:3]
        examples = ", ".join(f"row {r + 1}: {table[column].iloc[r]!r}" for r in rows)
        raise MorphoError(
            source, f"text in numeric column {column!r} ({bad.sum()} rows; {examples})"
        )
    return values.astype(float)


def clean_demographics(
    table: pd.DataFrame,
    key: str,
    covariates: tuple[str, ...],
    exclusions: Exclusions,
    source: str | Path,
) -> pd.DataFrame:
    """Validated covariates, one row per ``key``; bad rows excluded and counted."""
    require_columns(table, [key, *covariates], source)
    table = table.copy()
    ids = table[key]
    if ids.isna().any():
        raise MorphoError(source, f"{ids.isna().sum()} row(s) without {key!r}")
    duplicated = ids.astype(str).duplicated(keep=False)
    if duplicated.any():
        raise MorphoError(
            source,
            f"duplicate {key!r}: {duplicated.sum()} rows share {ids[duplicated].nunique()} ids",
        )
    keep = pd.Series(True, index=table.index)
    for column in covariates:
        if column == "sex":
            codes = table["sex"].astype("string").str.strip().str.upper()
            table["sex"] = codes.map(SEX_CODES)
            missing = codes.isna() | (codes == "")
            exclusions.add("missing sex", (missing & keep).sum())
            unknown = table["sex"].isna() & ~missing
            exclusions.add(
                f"unknown sex code ({', '.join(sorted(codes[unknown].unique()))})",
                (unknown & keep).sum(),
            )
            keep &= table["sex"].notna()
            continue
        if column not in PLAUSIBLE:  # another column the formula names: any type
            exclusions.add(f"missing {column}", (table[column].isna() & keep).sum())
            keep &= table[column].notna()
            continue
        values = numeric(table, column, source)
        table[column] = values
        exclusions.add(f"missing {column}", (values.isna() & keep).sum())
        keep &= values.notna()
        if column == "age":
            exclusions.add("negative age", ((values < 0) & keep).sum())
            keep &= ~(values < 0)
        if column in PLAUSIBLE:
            low, high = PLAUSIBLE[column]
            out = ~values.between(low, high) & keep
            exclusions.add(f"impossible {column} (outside {low:g}-{high:g})", out.sum())
            keep &= ~out
    return table.loc[keep]


def clean_measurements(table: pd.DataFrame, source: str | Path) -> pd.DataFrame:
    """Measurements with numeric columns checked and the scale-free heights added.

    ``ha_rel``, ``hm_rel``, ``hp_rel``: each height over the mean posterior height of the
    image's measured bodies (needs no pixel spacing). An image is a ``file`` where the
    table has one (``morpho batch``), else an ``image``.
    """
    require_columns(table, MEASUREMENT_COLUMNS, source)
    table = table.copy()
    for column in NUMERIC_MEASUREMENTS:
        if column in table.columns:
            table[column] = numeric(table, column, source)
        elif column.endswith("_mm"):
            table[column] = np.nan
    image = "file" if "file" in table else "image"  # batch tables name each file
    duplicated = table.duplicated([image, "level"], keep=False) & table["level"].notna()
    if duplicated.any():
        raise MorphoError(source, f"{duplicated.sum()} rows repeat an ({image}, level) pair")
    mean_hp = table.groupby(image, sort=False)["hp_px"].transform("mean")
    for h in HEIGHT_COLUMNS:
        table[f"{h}_rel"] = table[f"{h}_px"] / mean_hp
    return table


def join(
    measurements: pd.DataFrame,
    demographics: pd.DataFrame,
    key: tuple[str, str],
    exclusions: Exclusions,
    count_unused: bool = True,
) -> pd.DataFrame:
    """Inner join on ``key``; unmatched rows on either side are counted."""
    left, right = key
    demo = demographics.rename(columns={right: left}) if right != left else demographics
    overlap = [c for c in demo.columns if c in measurements.columns and c != left]
    measurements = measurements.drop(columns=overlap)
    if measurements[left].dtype != demo[left].dtype:  # e.g. numeric ids read from one CSV
        measurements = measurements.assign(**{left: measurements[left].astype(str)})
        demo = demo.assign(**{left: demo[left].astype(str)})
    meas_ids, demo_ids = (pd.Index(t[left].to_numpy(dtype=object)) for t in (measurements, demo))
    matched = demo_ids.get_indexer(meas_ids) >= 0  # hash lookups: fast on 10^6 string ids
    exclusions.add("vertebrae without a valid demographics row", (~matched).sum())
    if count_unused:
        unused = meas_ids.unique().get_indexer(demo_ids) < 0
        exclusions.add("demographics rows without measurements", unused.sum())
    return measurements.loc[matched].merge(demo, on=left, how="left")


def load_cohort(
    measurements: str | Path | pd.DataFrame,
    demographics: str | Path | pd.DataFrame | None = None,
    key: str = "image",
    covariates: tuple[str, ...] = ("age", "sex", "height_cm"),
) -> tuple[pd.DataFrame, Exclusions]:
    """Measurements joined to validated covariates, and the exclusion counts.

    Without ``demographics`` the covariates must be columns of the measurements table (as
    ``morpho batch`` writes them per image from the DICOM header).
    """
    exclusions = Exclusions()
    meas_source = measurements if not isinstance(measurements, pd.DataFrame) else "measurements"
    table = measurements if isinstance(measurements, pd.DataFrame) else read_table(measurements)
    table = clean_measurements(table, meas_source)
    meas_key, demo_key = parse_key(key)
    require_columns(table, [meas_key], meas_source)
    if demographics is None:
        if not set(covariates) <= set(table.columns):
            raise MorphoError(
                meas_source,
                f"no demographics given and the measurements lack {', '.join(covariates)}",
            )
        demo = table[[meas_key, *covariates]].drop_duplicates(meas_key)
        demo = clean_demographics(demo, meas_key, covariates, exclusions, meas_source)
        return join(table, demo, (meas_key, meas_key), exclusions, count_unused=False), exclusions
    demo_source = demographics if not isinstance(demographics, pd.DataFrame) else "demographics"
    demo = demographics if isinstance(demographics, pd.DataFrame) else read_table(demographics)
    if demo_key not in demo.columns:
        hint = "name the join MEASUREMENTS_COL=DEMOGRAPHICS_COL, e.g. image=subject_id"
        raise MorphoError(demo_source, f"no id column {demo_key!r}; {hint}")
    demo = clean_demographics(demo, demo_key, covariates, exclusions, demo_source)
    return join(table, demo, (meas_key, demo_key), exclusions), exclusions
