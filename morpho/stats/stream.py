"""Out-of-core cohorts: a Parquet measurements table read in row batches, needed columns only.

``morpho batch`` on a million films writes 12 million vertebra rows; loading them whole
(and the copies that cleaning, joining and scoring make) takes tens of GiB. Here the table
is read twice, a batch of rows at a time:

1. a scan of the id columns (and the covariates when the measurements carry them): checks
   that each image's rows are contiguous (as ``batch`` and ``measure`` write them), counts
   repeated (image, level) pairs, and builds and validates the demographics once;
2. the batches themselves, each cut at an image boundary (the rows of the last image are
   held back for the next batch, so per-image values such as ``hp_rel`` see all its
   bodies), cleaned and joined exactly as ``inputs.load_cohort`` does on a whole table.

The joined batches are what ``load_cohort`` returns, in the same order (a test holds the
two paths to equal tables and counts). Tables whose images are not contiguous, and CSV
files, go the in-memory way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from morpho.errors import MorphoError
from morpho.stats.inputs import (
    MEASUREMENT_COLUMNS,
    Exclusions,
    clean_demographics,
    clean_measurements,
    join,
    parse_key,
    require_columns,
)

#: Rows per batch: about 0.3 GB of a batch run's measurement columns while it is scored.
BATCH_ROWS = 262_144


def streamable(source: object) -> bool:
    """A Parquet file (not a DataFrame, not CSV)."""
    return isinstance(source, str | Path) and Path(source).suffix.lower() == ".parquet"


def table_columns(path: str | Path) -> list[str]:
    try:
        return list(pq.read_schema(path).names)
    except (OSError, pa.ArrowException) as exc:
        raise MorphoError(path, f"cannot read table: {exc}") from exc


def read_batches(
    path: str | Path, columns: list[str] | None = None, batch_rows: int = BATCH_ROWS
) -> Iterator[pd.DataFrame]:
    """The table ``batch_rows`` rows at a time (pandas dtypes as ``pd.read_parquet`` gives)."""
    try:
        source = pq.ParquetFile(path)
        for batch in source.iter_batches(batch_size=batch_rows, columns=columns):
            yield pa.Table.from_batches([batch]).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise MorphoError(path, f"cannot read table: {exc}") from exc


def whole_groups(frames: Iterable[pd.DataFrame], column: str) -> Iterator[pd.DataFrame]:
    """The frames re-cut so that no run of equal ``column`` values spans two of them."""
    carry = None
    for frame in frames:
        if carry is not None:
            frame = pd.concat([carry, frame], ignore_index=True)
        if frame.empty:
            continue
        values = frame[column]
        starts = (values != values.shift()).to_numpy().nonzero()[0]
        last = int(starts[-1])
        if last:
            yield frame.iloc[:last].reset_index(drop=True)
        carry = frame.iloc[last:].reset_index(drop=True)
    if carry is not None:
        yield carry


class CohortStream:
    """``load_cohort`` over a Parquet file, as an iterable of joined batches.

    ``exclusions`` is complete once the batches have been iterated. ``contiguous`` is False
    when some image's rows are split up; callers then load the table whole instead.
    """

    def __init__(
        self,
        measurements: str | Path,
        demographics: str | Path | pd.DataFrame | None = None,
        key: str = "image",
        covariates: tuple[str, ...] = ("age", "sex", "height_cm"),
        drop: Iterable[str] = (),
        batch_rows: int = BATCH_ROWS,
        named_only: bool = False,
    ):
        self.path, self.batch_rows, self.named_only = Path(measurements), batch_rows, named_only
        self.key = parse_key(key)
        names = table_columns(self.path)
        require_columns(pd.DataFrame(columns=names), MEASUREMENT_COLUMNS, self.path)
        require_columns(pd.DataFrame(columns=names), [self.key[0]], self.path)
        self.image = "file" if "file" in names else "image"
        self.columns = [c for c in names if c not in set(drop) - {self.key[0], self.image}]
        self.parts: list[Exclusions] = []
        self._prepare(demographics, covariates, names)

    def _prepare(self, demographics, covariates: tuple[str, ...], names: list[str]) -> None:
        """The scan (pass 1): contiguity, repeats, and the cleaned demographics."""
        from morpho.stats.inputs import read_table

        meas_key, demo_key = self.key
        carried = demographics is None
        if carried and not set(covariates) <= set(names):
            lacking = ", ".join(covariates)
            raise MorphoError(
                self.path, f"no demographics given and the measurements lack {lacking}"
            )
        carried_columns = [*covariates] if carried else []
        scan = list(dict.fromkeys([self.image, "level", meas_key, *carried_columns]))
        firsts, seen, previous, repeats = [], set(), None, 0
        self.contiguous = True
        for frame in self._read(scan):
            if frame.empty:
                continue
            images = frame[self.image]
            starts = (images != images.shift()).to_numpy().copy()
            starts[0] = previous is None or images.iloc[0] != previous
            previous = images.iloc[-1]
            new = images[starts]
            if new.duplicated().any() or new.isin(seen).any():
                self.contiguous = False
                return
            seen.update(new)
            repeated = frame.duplicated([self.image, "level"]) & frame["level"].notna()
            repeats += int(repeated.sum())
            firsts.append(frame[[meas_key, *carried_columns]].drop_duplicates(meas_key))
        if not firsts:
            firsts.append(pd.DataFrame(columns=[meas_key, *carried_columns]))
        if repeats:
            raise MorphoError(self.path, f"{repeats} rows repeat an ({self.image}, level) pair")
        ids = pd.concat(firsts, ignore_index=True).drop_duplicates(meas_key)
        self.demo_exclusions = Exclusions()
        if carried:
            self.demo = clean_demographics(
                ids, meas_key, covariates, self.demo_exclusions, self.path
            )
            self.key = (meas_key, meas_key)
            self.unused = Exclusions()
            return
        source = demographics if not isinstance(demographics, pd.DataFrame) else "demographics"
        demo = demographics if isinstance(demographics, pd.DataFrame) else read_table(demographics)
        if demo_key not in demo.columns:
            hint = "name the join MEASUREMENTS_COL=DEMOGRAPHICS_COL, e.g. image=subject_id"
            raise MorphoError(source, f"no id column {demo_key!r}; {hint}")
        self.demo = clean_demographics(demo, demo_key, covariates, self.demo_exclusions, source)
        # the join's count of demographics rows without measurements, on the ids alone
        probe = Exclusions()
        join(ids[[meas_key]], self.demo[[demo_key]], self.key, probe)
        self.unused = Exclusions()
        reason = "demographics rows without measurements"
        self.unused.add(reason, probe.counts.get(reason, 0))

    def __iter__(self) -> Iterator[pd.DataFrame]:
        if not self.contiguous:
            raise MorphoError(self.path, "rows of an image are not contiguous: load it whole")
        for frame in whole_groups(self._read(self.columns), self.image):
            table = clean_measurements(frame, self.path)
            part = Exclusions()
            self.parts.append(part)
            yield join(table, self.demo, self.key, part, count_unused=False)

    def _read(self, columns: list[str]) -> Iterator[pd.DataFrame]:
        """The batches; with ``named_only`` the rows with a level name only."""
        for frame in read_batches(self.path, columns, self.batch_rows):
            if self.named_only:
                frame = frame.loc[frame["level"].fillna("").astype(str) != ""]
                frame = frame.reset_index(drop=True)
            yield frame

    @property
    def exclusions(self) -> Exclusions:
        return Exclusions.merged([self.demo_exclusions, *self.parts, self.unused])
