"""A simulated cohort: demographics and per-level measurements with planted effects.

Heights follow a linear model per level, so the planted coefficients are exact targets:

    h = base[level, measure] * (1 + age_effect * (age - 60) + sex_effect * male
                                + height_effect * (height_cm - 165) + subject + vertebra + noise)

``subject`` is shared by every height of a subject, ``vertebra`` by the three heights of one
body and ``noise`` is per height (all normal, as fractions of the base height). Fractures
reduce heights after Genant (grade 1: 20-25 %, 2: 25-40 %, 3: 40-60 % loss; wedge: anterior,
biconcave: middle, crush: all three) with a per-vertebra probability that rises with age.

The base heights are APPROXIMATE adult values (posterior height about 17.5 mm at T4 rising
to about 28 mm at L4 in a 165 cm woman of 60; thoracic bodies wedged, lumbar ones not),
chosen to look like published morphometry, not taken from one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from morpho.domain import DATASET_LEVELS
from morpho.grade import GRADE_LIMITS, TYPES, crush_ratio

LEVELS = DATASET_LEVELS[DATASET_LEVELS.index("T4") : DATASET_LEVELS.index("L4") + 1]
HP_MM = (17.5, 18.0, 18.6, 19.3, 20.0, 20.8, 21.7, 22.8, 24.0, 25.5, 26.8, 27.6, 28.0)
WEDGE = (0.93, 0.91, 0.89, 0.88, 0.88, 0.89, 0.91, 0.92, 0.93, 0.95, 0.98, 1.00, 1.02)
BICONCAVE = (0.92,) * 9 + (0.90,) * 4
#: Relative fracture frequency by level (peaks at mid-thorax and the thoracolumbar junction).
FRACTURE_WEIGHT = (0.5, 0.6, 0.8, 1.2, 1.4, 1.0, 0.9, 1.3, 1.8, 1.8, 1.0, 0.8, 0.6)
GRADE_LOSS = {1: (0.20, 0.25), 2: (0.25, 0.40), 3: (0.40, 0.60)}
HEIGHTS = ("ha", "hm", "hp")


@dataclass(frozen=True)
class CohortModel:
    """Planted effects, as fractions of the level's base height (per year, male, per cm)."""

    age_effect: dict[str, float] = field(
        default_factory=lambda: {"ha": -0.0015, "hm": -0.0010, "hp": -0.0005}
    )
    sex_effect: dict[str, float] = field(
        default_factory=lambda: {"ha": 0.050, "hm": 0.063, "hp": 0.070}
    )
    height_effect: float = 0.005
    subject_sd: float = 0.04
    vertebra_sd: float = 0.02
    noise_sd: float = 0.035
    age_range: tuple[float, float] = (25.0, 90.0)
    #: Per-vertebra fracture probability of a woman of 65 (before the level weights).
    fracture_rate: float = 0.008
    fracture_or_per_decade: float = 1.8
    fracture_or_male: float = 0.6
    grade_mix: tuple[float, float, float] = (0.40, 0.35, 0.25)
    type_mix: dict[str, float] = field(
        default_factory=lambda: {"wedge": 0.6, "biconcave": 0.3, "crush": 0.1}
    )
    ungradable_rate: float = 0.01
    spacing_mm: float = 0.15

    def base(self, level: str, height: str) -> float:
        """Base height in mm of a 165 cm woman of 60 at ``level``."""
        i = LEVELS.index(level)
        shape = {"ha": WEDGE[i], "hm": BICONCAVE[i], "hp": 1.0}[height]
        return HP_MM[i] * shape

    def coefficients(self, level: str, height: str) -> dict[str, float]:
        """The planted coefficients of ``h_mm ~ age + C(sex) + height_cm`` at one level."""
        base = self.base(level, height)
        return {
            "age": base * self.age_effect[height],
            "sex[T.M]": base * self.sex_effect[height],
            "height_cm": base * self.height_effect,
        }


def simulate_cohort(
    n_subjects: int,
    seed: int = 0,
    model: CohortModel | None = None,
    levels: tuple[str, ...] = LEVELS,
    calibrated: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Demographics (one row per subject) and measurements (one row per subject and level).

    ``measurements`` has the public measurement columns (``image`` = ``subject_id``) plus the
    truth ``true_grade`` (0 = intact) and ``true_type``. Without ``calibrated`` the mm columns
    are empty, as for an image of unknown spacing.
    """
    model = model or CohortModel()
    rng = np.random.default_rng(seed)
    demographics = _demographics(n_subjects, model, rng)
    n, k = n_subjects, len(levels)
    idx = [LEVELS.index(level) for level in levels]
    age = demographics["age"].to_numpy()[:, None]
    male = (demographics["sex"] == "M").to_numpy()[:, None]
    stature = demographics["height_cm"].to_numpy()[:, None]

    subject = rng.normal(0, model.subject_sd, (n, 1))
    vertebra = rng.normal(0, model.vertebra_sd, (n, k))
    heights = {}
    for h in HEIGHTS:
        base = np.array([model.base(level, h) for level in levels])[None, :]
        relative = (
            1
            + model.age_effect[h] * (age - 60)
            + model.sex_effect[h] * male
            + model.height_effect * (stature - 165)
            + subject
            + vertebra
            + rng.normal(0, model.noise_sd, (n, k))
        )
        heights[h] = base * relative

    grade, kind = _fractures(rng, model, age, male, np.array(FRACTURE_WEIGHT)[idx])
    loss = np.zeros((n, k))
    for g, (low, high) in GRADE_LOSS.items():
        hit = grade == g
        loss[hit] = rng.uniform(low, high, hit.sum())
    heights["ha"] *= 1 - loss * ((kind == "wedge") | (kind == "crush"))
    heights["hm"] *= 1 - loss * ((kind == "biconcave") | (kind == "crush"))
    heights["hp"] *= 1 - loss * (kind == "crush")

    table = _measurement_table(demographics, levels, heights, model, calibrated)
    table["true_grade"] = grade.ravel()
    table["true_type"] = np.where(kind == "", None, kind).ravel()
    ungradable = rng.random(n * k) < model.ungradable_rate
    table.loc[ungradable, ["genant_grade", "genant_type"]] = [pd.NA, "ungradable"]
    table.loc[ungradable, "qa"] = "ungradable: simulated poor outline"
    return demographics, table


def _demographics(n: int, model: CohortModel, rng: np.random.Generator) -> pd.DataFrame:
    sex = rng.choice(np.array(["F", "M"]), n)
    male = sex == "M"
    age = rng.uniform(*model.age_range, n)
    height = np.where(male, rng.normal(176, 7, n), rng.normal(163, 6.5, n))
    weight = rng.normal(26, 4, n).clip(16, 45) * (height / 100) ** 2
    return pd.DataFrame(
        {
            "subject_id": [f"sim{i:06d}" for i in range(n)],
            "age": age.round(1),
            "sex": sex,
            "height_cm": height.round(1),
            "weight_kg": weight.round(1),
        }
    )


def _fractures(
    rng: np.random.Generator,
    model: CohortModel,
    age: np.ndarray,
    male: np.ndarray,
    level_weight: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertebra true grade (0-3) and type ("" when intact)."""
    logit = (
        np.log(model.fracture_rate / (1 - model.fracture_rate))
        + np.log(model.fracture_or_per_decade) * (age - 65) / 10
        + np.log(model.fracture_or_male) * male
    )
    p = level_weight[None, :] / (1 + np.exp(-logit))
    fractured = rng.random(p.shape) < p.clip(0, 1)
    grade = np.where(fractured, rng.choice([1, 2, 3], p.shape, p=model.grade_mix), 0)
    types = list(model.type_mix)
    weights = np.array([model.type_mix[t] for t in types])
    kind = np.where(fractured, rng.choice(types, p.shape, p=weights / weights.sum()), "")
    return grade, kind


def _measurement_table(
    demographics: pd.DataFrame,
    levels: tuple[str, ...],
    heights: dict[str, np.ndarray],
    model: CohortModel,
    calibrated: bool,
) -> pd.DataFrame:
    """The measurements table of the cohort (one row per subject and level), as `morpho
    measure` writes it, from the heights in mm; uncalibrated films keep no mm."""
    n, k = heights["hp"].shape
    ha, hm, hp = heights["ha"], heights["hm"], heights["hp"]
    px = {h: heights[h] / model.spacing_mm for h in HEIGHTS}
    wedge, biconcave, crush = ha / hp, hm / hp, crush_ratio(hp)
    grade, kind = _genant_grades(wedge, biconcave, crush)
    base_hp = np.array(HP_MM)[[LEVELS.index(level) for level in levels]][None, :]
    depth = 1.3 * base_hp / model.spacing_mm
    cx, cy, points = _six_points(px, depth, model.spacing_mm)
    scale = 1.0 if calibrated else np.nan
    columns = {
        "image": np.repeat(demographics["subject_id"].to_numpy(), k),
        "index": np.tile(np.arange(1, k + 1), n),
        "level": np.tile(np.array(levels), n),
        "cx": cx,
        "cy": cy,
        **points,
        "ha_px": px["ha"],
        "hm_px": px["hm"],
        "hp_px": px["hp"],
        "ha_mm": ha * scale,
        "hm_mm": hm * scale,
        "hp_mm": hp * scale,
        "spacing_source": "simulated" if calibrated else "none",
        "area_px": depth * (px["ha"] + 2 * px["hm"] + px["hp"]) / 4,
        "wedge_ratio": wedge,
        "biconcave_ratio": biconcave,
        "crush_ratio": crush,
        "genant_grade": pd.array(grade.ravel(), dtype="Int64"),
        "genant_type": kind.ravel(),
        "facing": "left",
        "qa": "ok",
    }
    return pd.DataFrame(
        {
            name: np.ravel(value) if isinstance(value, np.ndarray) else value
            for name, value in columns.items()
        }  # fmt: skip
    )


def _genant_grades(wedge: np.ndarray, biconcave: np.ndarray,
                   crush: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Genant grade and type as `morpho measure` gives them (morpho.grade): the largest
    loss of Ha against Hp, Hm against Hp and Hp against its neighbours; "normal" at 0."""
    losses = np.nan_to_num(np.stack([1 - wedge, 1 - biconcave, 1 - crush]), nan=-np.inf)
    worst = losses.max(axis=0)
    limits = GRADE_LIMITS
    grade = (worst >= limits[0]).astype(int) + (worst >= limits[1]) + (worst > limits[2])
    kind = np.where(grade > 0, np.array(TYPES)[losses.argmax(axis=0)], "normal")
    return grade, kind


def _six_points(px: dict[str, np.ndarray], depth: np.ndarray,
                spacing_mm: float) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Centres and the six points of bodies stacked down a vertical spine facing left
    (anterior at smaller x), ``px`` heights tall, ``depth`` px deep, 6 mm discs apart."""
    n, k = px["hp"].shape
    gap = 6.0 / spacing_mm
    cy = 400 + np.cumsum(px["hp"] + gap, axis=1) - (px["hp"] + gap) / 2
    cx = np.full((n, k), 1000.0)
    points = {}
    for name, h, x in (("ant", px["ha"], cx - depth / 2), ("mid", px["hm"], cx),
                       ("post", px["hp"], cx + depth / 2)):  # fmt: skip
        points[f"{name}_sup_x"], points[f"{name}_sup_y"] = x, cy - h / 2
        points[f"{name}_inf_x"], points[f"{name}_inf_y"] = x, cy + h / 2
    return cx, cy, points
