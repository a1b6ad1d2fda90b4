"""Fit a normative reference per vertebral level and measure, and save or load it.

Each (level, measure) gets a statsmodels fit of ``measure ~ formula`` (OLS, robust RLM or
median QuantReg with 5 % / 95 % centile curves) after iterative 3-SD trimming in the style
of EVOS and McCloskey-Kanis: fit, drop bodies whose residual lies beyond 3 SD, refit, until
the kept set is stable. Stratified tables (age band x sex x height band) describe the kept
bodies; cells under ``min_n`` subjects are marked insufficient and a height-pooled cell is
always given beside them.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from jsonschema import Draft202012Validator
from rich.console import Console
from rich.progress import track
from scipy import stats

from morpho import __version__
from morpho.atomic import atomic_write
from morpho.errors import MorphoError
from morpho.stats.design import check_formula, design, freeze, rhs, variables
from morpho.stats.inputs import Exclusions, level_order
from morpho.stats.schema import REFERENCE_SCHEMA

FORMAT = "morpho-reference"
FORMAT_VERSION = 1
DEFAULT_FORMULA = "age + C(sex) + height_cm"
METHODS = ("ols", "rlm", "quantreg")
MM_MEASURES = ("ha_mm", "hm_mm", "hp_mm")
SCALE_FREE = ("wedge_ratio", "biconcave_ratio", "crush_ratio", "ha_rel", "hm_rel", "hp_rel")
QUANTILES = (0.05, 0.5, 0.95)
MIN_CELL_N = 30
TRIM_SD = 3.0
MAX_ITERATIONS = 20
#: Most bodies per level a model is fitted on (a stratified random subsample beyond).
FIT_SAMPLE = 250_000
AGE_EDGES = (0, 40, 50, 60, 70, 80, 200)
HEIGHT_EDGES = (0, 160, 170, 180, 400)


@dataclass
class MeasureFit:
    """One level's fit of one measure: the frozen design and its coefficients."""

    level: str
    measure: str
    formula: str
    columns: list[str]
    params: list[float]
    cov: list[list[float]]
    resid_sd: float
    n: int
    n_used: int
    iterations: int
    ranges: dict[str, list[float]]
    categories: dict[str, list[str]]
    quantile_params: dict[str, list[float]] | None = None


@dataclass
class Reference:
    """A saved normative reference (see ``save`` for the file layout)."""

    formula: str
    method: str
    fits: list[MeasureFit]
    cells: pd.DataFrame
    exclusions: dict[str, int] = field(default_factory=dict)
    min_n: int = MIN_CELL_N
    trim_sd: float = TRIM_SD
    morpho_version: str = __version__
    created: str = ""

    @property
    def measures(self) -> list[str]:
        return list(dict.fromkeys(f.measure for f in self.fits))

    @property
    def prediction_columns(self) -> list[str]:
        """``expected`` and ``sd``, and for quantile regression the ``p5`` and ``p95`` curves."""
        return ["expected", "sd", *(["p5", "p95"] if self.method == "quantreg" else [])]

    def save(self, path: str | Path) -> None:
        """Write a versioned JSON file, atomically."""
        body = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            **{k: v for k, v in asdict(self).items() if k not in ("fits", "cells")},
            "fits": [asdict(f) for f in self.fits],
            "cells": json.loads(self.cells.to_json(orient="split", index=False)),
        }
        text = json.dumps(body, indent=1)
        atomic_write(Path(path), lambda p: p.write_text(text))

    @classmethod
    def load(cls, path: str | Path) -> Reference:
        try:
            body = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise MorphoError(path, f"cannot read reference: {exc}") from exc
        if not isinstance(body, dict) or body.get("format") != FORMAT \
                or body.get("format_version") != FORMAT_VERSION:
            raise MorphoError(path, f"not a {FORMAT} file of version {FORMAT_VERSION}")
        validate_reference(body, path)
        cells = body.pop("cells")
        fits = [MeasureFit(**f) for f in body.pop("fits")]
        body = {k: v for k, v in body.items() if k not in ("format", "format_version")}
        return cls(fits=fits, cells=pd.DataFrame(cells["data"], columns=cells["columns"]), **body)

    def predict(self, table: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], Exclusions]:
        """Per measure, the expected value and SD of every row (NaN where not scorable).

        Quantile-regression references also give the fitted 5 % and 95 % centiles.
        """
        notes = Exclusions()
        out = {
            m: pd.DataFrame(np.nan, index=table.index, columns=self.prediction_columns)
            for m in self.measures
        }
        fitted_levels = {f.level for f in self.fits}
        notes.add(
            "vertebrae at levels without a reference", (~table["level"].isin(fitted_levels)).sum()
        )
        designs: dict[str, np.ndarray] = {}
        for level, rows in table.groupby("level", sort=False):
            level_fits = [f for f in self.fits if f.level == level]
            if not level_fits:
                continue
            scorable = _scorable(rows, level_fits[0], notes)
            rows = rows.loc[scorable]
            if rows.empty:
                continue
            for fit in level_fits:
                if fit.formula not in designs:
                    designs[fit.formula] = np.asarray(design(fit.formula, rows, fit.categories))
                X = designs[fit.formula]
                out[fit.measure].loc[rows.index, "expected"] = X @ np.asarray(fit.params)
                out[fit.measure].loc[rows.index, "sd"] = fit.resid_sd
                for q, params in (fit.quantile_params or {}).items():
                    if q != "0.5":
                        out[fit.measure].loc[rows.index, f"p{float(q) * 100:g}"] = X @ params
            designs.clear()
        return out, notes


def fit_reference(
    cohort: pd.DataFrame,
    formula: str = DEFAULT_FORMULA,
    method: str = "ols",
    measures: list[str] | None = None,
    min_n: int = MIN_CELL_N,
    trim_sd: float = TRIM_SD,
    exclusions: Exclusions | None = None,
    progress: bool = False,
    sample: int | None = FIT_SAMPLE,
) -> Reference:
    """Fit ``measure ~ formula`` per level and measure on a joined cohort table.

    ``cohort`` comes from ``morpho.stats.inputs.load_cohort``. ``measures`` defaults to the
    mm heights (where any are known) and the scale-free ratios and relative heights.
    A level with more than ``sample`` bodies is fitted on a stratified random subsample
    (sex x age band, proportional, seeded by the level name) of that size; the trimming
    that follows, and the stratified cells, use all its bodies (None: fit on all).
    """
    if method not in METHODS:
        raise MorphoError(None, f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    exclusions = exclusions or Exclusions()
    measures = measures or default_measures(cohort)
    covariates = variables(formula)
    missing = [c for c in covariates if c not in cohort]
    if missing:
        raise MorphoError(None, f"formula {formula!r}: no column {', '.join(map(repr, missing))}")
    table = fit_rows(cohort, covariates, measures, exclusions)
    fits, cells = [], []
    positions = table.groupby("level").indices
    for level in track(level_order(positions), "fitting", disable=not progress,
                       console=Console(stderr=True)):  # fmt: skip
        rows = table.iloc[positions[level]]
        if len(rows) < min_n:
            exclusions.add(f"vertebrae at levels with fewer than {min_n} bodies", len(rows))
            continue
        kept = np.full((len(rows), len(measures)), np.nan)
        for j, fit, used, keep in _fit_level(level, rows, formula, covariates, measures,
                                             method, min_n, trim_sd, sample):  # fmt: skip
            fits.append(fit)
            kept[np.flatnonzero(used)[keep], j] = rows[fit.measure].to_numpy(float)[used][keep]
        covariate_frame = rows[[c for c in ("level", "sex", "age", "height_cm") if c in rows]]
        kept = pd.DataFrame(kept, index=rows.index, columns=measures)
        cells.append(_level_cells(covariate_frame.join(kept), measures))
    if not fits:
        raise MorphoError(None, f"nothing to fit: no level has {min_n} usable bodies")
    return Reference(
        formula=rhs(formula),
        method=method,
        fits=fits,
        cells=_finish_cells(cells, min_n),
        exclusions=dict(exclusions.counts),
        min_n=min_n,
        trim_sd=trim_sd,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def fit_rows(cohort: pd.DataFrame, covariates: list[str], measures: list[str],
             exclusions: Exclusions) -> pd.DataFrame:
    """The named, graded bodies with every covariate, and the columns a fit reads (the
    table itself when it holds nothing else; a table without grades was chosen so before)."""
    graded = cohort["genant_grade"] if "genant_grade" in cohort else pd.Series(0, cohort.index)
    ungradable = graded.isna()  # `morpho measure` grades every gradable body
    exclusions.add("ungradable vertebrae (not used in the fit)", ungradable.sum())
    unnamed = cohort["level"].isna() & ~ungradable
    exclusions.add("vertebrae without a level name (not used in the fit)", unnamed.sum())
    used = list(dict.fromkeys(["level", *covariates, "age", "sex", "height_cm", *measures]))
    columns = [c for c in used if c in cohort]
    keep = ~ungradable & ~unnamed & cohort[covariates].notna().all(axis=1)
    if keep.all() and list(cohort.columns) == columns:
        return cohort
    table = cohort[columns]  # columns first: cheaper row take
    return table.loc[keep.to_numpy()]


def _fit_level(level: str, rows: pd.DataFrame, formula: str, covariates: list[str],
               measures: list[str], method: str, min_n: int, trim_sd: float,
               sample: int | None = None):
    """Yield (measure index, MeasureFit, rows with a value, rows kept by the trimming) for
    each measure of one level with enough values."""
    X = design(formula, rows)
    frozen = freeze(X.design_info)
    ranges = {c: [float(rows[c].min()), float(rows[c].max())] for c in covariates
              if pd.api.types.is_numeric_dtype(rows[c])}  # fmt: skip
    categories = {c: sorted(map(str, rows[c].unique())) for c in covariates if c not in ranges}
    names, X = X.design_info.column_names, np.asarray(X)
    chosen = _subsample(rows, sample, level) if sample and len(rows) > sample else None
    for j, measure in enumerate(measures):
        y = rows[measure].to_numpy(dtype=float)
        valid = np.isfinite(y)
        enough = max(min_n, 2 * X.shape[1])
        if valid.sum() < enough:
            continue
        try:
            if chosen is not None and (chosen & valid).sum() >= enough:
                fit, _ = _fit_one(X[chosen & valid], y[chosen & valid], method, trim_sd)
                residual = y[valid] - X[valid] @ np.asarray(fit["params"])
                keep = np.abs(residual) <= trim_sd * fit["resid_sd"]
                fit["n_used"] = int(keep.sum())
            else:
                fit, keep = _fit_one(X[valid], y[valid], method, trim_sd)
        except np.linalg.LinAlgError as exc:
            raise MorphoError(None, f"{level} {measure}: singular design ({exc})") from exc
        fit["columns"] = names
        yield j, MeasureFit(level=level, measure=measure, formula=frozen, ranges=ranges,
                            categories=categories, n=int(valid.sum()), **fit), valid, keep


def _subsample(rows: pd.DataFrame, size: int, level: str) -> np.ndarray:
    """A stratified random subsample (sex x age band, proportional allocation) of about
    ``size`` rows, as a mask; the same rows on every run (seeded by the level name)."""
    strata = pd.DataFrame(index=np.arange(len(rows)))
    if "sex" in rows:
        strata["sex"] = rows["sex"].astype(str).to_numpy()
    if "age" in rows:
        strata["age_band"] = bands(rows["age"], AGE_EDGES).to_numpy()
    if strata.columns.empty:
        strata["all"] = 0
    seed = zlib.crc32(str(level).encode())
    picked = strata.groupby(list(strata.columns), sort=True).sample(
        frac=size / len(rows), random_state=seed
    )
    chosen = np.zeros(len(rows), bool)
    chosen[picked.index.to_numpy()] = True
    return chosen


def validate_reference(body: dict, path: str | Path) -> None:
    """Refuse a reference file that is not data of the saved shape, before anything runs.

    The whole file is checked against ``REFERENCE_SCHEMA`` (types, required and unknown
    keys), then every formula against the formula whitelist (``check_formula``).
    """
    error = next(iter(Draft202012Validator(REFERENCE_SCHEMA).iter_errors(body)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "top level"
        raise MorphoError(path, f"not a valid reference file ({where}: {error.message[:200]})")
    for formula in [body["formula"], *(fit["formula"] for fit in body["fits"])]:
        try:
            check_formula(formula)
        except MorphoError as exc:
            raise MorphoError(path, f"refused: {exc.cause}") from None


def default_measures(cohort: pd.DataFrame) -> list[str]:
    mm = [m for m in MM_MEASURES if m in cohort and cohort[m].notna().any()]
    return mm + [m for m in SCALE_FREE if m in cohort]


def _fit_one(X: np.ndarray, y: np.ndarray, method: str, trim_sd: float):
    """Iteratively trimmed fit; returns the MeasureFit fields and the kept mask.

    OLS iterates until the kept set is stable; the robust fits barely move when outliers
    go, so they trim once and refit.
    """
    keep = np.ones(len(y), bool)
    consistency = _truncated_sd(trim_sd)
    cap = MAX_ITERATIONS if method == "ols" else 2
    for iteration in range(1, cap + 1):
        params, sd, cov = _centre_fit(X[keep], y[keep], method)
        if method == "ols" and iteration > 1:
            sd /= consistency  # SD of a normal trimmed at trim_sd SD is this much smaller
        new_keep = np.abs(y - X @ params) <= trim_sd * sd
        if iteration == cap or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    if cov is None:  # OLS: statsmodels once, for the covariance
        cov = sm.OLS(y[keep], X[keep]).fit().cov_params()
    fields = {
        "columns": [],
        "params": np.asarray(params).tolist(),
        "cov": np.asarray(cov).tolist(),
        "resid_sd": float(sd),
        "n_used": int(keep.sum()),
        "iterations": iteration,
    }
    if method == "quantreg":
        fields["quantile_params"] = {
            str(q): _quantreg(X[keep], y[keep], q)[0].tolist() for q in QUANTILES
        }
    return fields, keep


def _centre_fit(X: np.ndarray, y: np.ndarray, method: str):
    """Coefficients, residual SD (MAD-based when robust) and covariance (None for OLS).

    OLS inside the trimming loop solves the normal equations (X is tall and thin);
    statsmodels refits the final kept set once for the covariance.
    """
    if method == "ols":
        params = np.linalg.solve(X.T @ X, X.T @ y)
        resid = y - X @ params
        return params, float(np.sqrt(resid @ resid / max(len(y) - X.shape[1], 1))), None
    if method == "rlm":
        result = sm.RLM(y, X, M=sm.robust.norms.HuberT()).fit()
        return np.asarray(result.params), float(result.scale), result.cov_params()
    params, cov = _quantreg(X, y, 0.5)
    return params, float(stats.median_abs_deviation(y - X @ params, scale="normal")), cov


def _quantreg(X: np.ndarray, y: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """statsmodels QuantReg on an orthonormal reparametrisation (X = Q R) of the design.

    The same model, but IRLS converges in far fewer iterations than on raw covariates
    such as height in cm next to an intercept; coefficients and covariance map back
    through R.
    """
    Q, R = np.linalg.qr(X)
    scale = np.sqrt(len(y))
    result = sm.QuantReg(y, Q * scale).fit(q=q)
    back = scale * np.linalg.inv(R)
    return back @ np.asarray(result.params), back @ np.asarray(result.cov_params()) @ back.T


def _truncated_sd(c: float) -> float:
    """SD of a standard normal truncated to [-c, c]."""
    mass = 2 * stats.norm.cdf(c) - 1
    return float(np.sqrt(1 - 2 * c * stats.norm.pdf(c) / mass))


def _scorable(rows: pd.DataFrame, fit: MeasureFit, notes: Exclusions) -> pd.Series:
    """Rows whose covariates lie inside the fitted ranges and categories."""
    ok = pd.Series(True, index=rows.index)
    for column, (low, high) in fit.ranges.items():
        values = rows[column] if column in rows else pd.Series(np.nan, index=rows.index)
        inside = values.between(low, high)
        notes.add(
            f"vertebrae with {column} missing or outside the reference range", (ok & ~inside).sum()
        )
        ok &= inside
    for column, allowed in fit.categories.items():
        values = rows[column].astype(str) if column in rows else pd.Series("", index=rows.index)
        inside = values.isin(allowed) & rows.get(column, values).notna()
        notes.add(f"vertebrae with {column} not in the reference ({', '.join(allowed)})",
                  (ok & ~inside).sum())  # fmt: skip
        ok &= inside
    return ok


def stratified_cells(
    table: pd.DataFrame,
    measures: list[str],
    min_n: int = MIN_CELL_N,
    age_edges=AGE_EDGES,
    height_edges=HEIGHT_EDGES,
) -> pd.DataFrame:
    """n, mean, SD, P5, P50, P95 per level x sex x age band x height band, and height-pooled.

    Cells with fewer than ``min_n`` bodies keep their n but no statistics (status
    ``insufficient``). Computed one level at a time (the cells never span levels).
    """
    parts = [_level_cells(rows, measures, age_edges, height_edges)
             for _, rows in table.groupby("level", sort=False)]  # fmt: skip
    return _finish_cells(parts, min_n, age_edges, height_edges)


def _level_cells(table: pd.DataFrame, measures: list[str], age_edges=AGE_EDGES,
                 height_edges=HEIGHT_EDGES) -> pd.DataFrame:
    """The described cells of the bodies of one level (or several), height-banded and not."""
    table = table.assign(age_band=bands(table["age"], age_edges))
    if "height_cm" in table:
        table["height_band"] = bands(table["height_cm"], height_edges)
    else:
        table["height_band"] = "all"
    keys = ["level", "sex", "age_band", "height_band"]
    return pd.concat(
        [_describe(table, keys, measures),
         _describe(table.assign(height_band="all"), keys, measures)],
        ignore_index=True,
    )  # fmt: skip


def _finish_cells(parts: list[pd.DataFrame], min_n: int, age_edges=AGE_EDGES,
                  height_edges=HEIGHT_EDGES) -> pd.DataFrame:
    """Short cells marked, rows in a fixed order (measure, level, sex, age, height band)."""
    cells = pd.concat(parts, ignore_index=True)
    short = cells["n"] < min_n
    cells.loc[short, ["mean", "sd", "p5", "p50", "p95"]] = np.nan
    cells["status"] = np.where(short, f"insufficient (n<{min_n})", "ok")
    rank = {
        "level": level_order(cells["level"].unique()),
        "age_band": band_labels(age_edges),
        "height_band": [*band_labels(height_edges), "all"],
    }
    cells = cells.sort_values(
        ["measure", "level", "sex", "age_band", "height_band"],
        key=lambda s: s.map({v: i for i, v in enumerate(rank[s.name])}) if s.name in rank else s,
    )
    return cells.reset_index(drop=True)


def band_labels(edges) -> list[str]:
    """``(0, 40, 50, 200)`` -> ``["<40", "40-49", "50+"]``."""
    middle = [f"{low}-{high - 1}" for low, high in zip(edges[1:-2], edges[2:-1], strict=True)]
    return [f"<{edges[1]}", *middle, f"{edges[-2]}+"]


def bands(values: pd.Series, edges) -> pd.Series:
    """Each value's band label (left-closed bands between ``edges``)."""
    return pd.cut(values, list(edges), right=False, labels=band_labels(edges)).astype(str)


def _describe(table: pd.DataFrame, keys: list[str], measures: list[str]) -> pd.DataFrame:
    grouped = table.groupby(keys, observed=True, sort=False)[measures]
    parts = {
        "n": grouped.count(),
        "mean": grouped.mean(),
        "sd": grouped.std(),
    }
    quantiles = grouped.quantile(list(QUANTILES))
    for q, name in zip(QUANTILES, ("p5", "p50", "p95"), strict=True):
        parts[name] = quantiles.xs(q, level=-1)
    long = pd.concat({name: part.stack(future_stack=True) for name, part in parts.items()}, axis=1)
    long.index.names = [*keys, "measure"]
    long = long.reset_index()
    long["n"] = long["n"].astype(int)
    return long.loc[long["n"] > 0]
