"""Overlap metrics from true/false positive and false negative counts (numpy, no torch).

As in segmentation_models_pytorch: count tp, fp, fn per image, then reduce.
"""

from __future__ import annotations

import numpy as np


def stats(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int, int]:
    """(tp, fp, fn) pixel counts of two boolean masks."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    tp = int(np.count_nonzero(pred & truth))
    return tp, int(np.count_nonzero(pred)) - tp, int(np.count_nonzero(truth)) - tp


def dice(tp: float, fp: float, fn: float) -> float:
    """2TP / (2TP + FP + FN); 1.0 when both masks are empty."""
    total = 2 * tp + fp + fn
    return 1.0 if total == 0 else 2 * tp / total


def iou(tp: float, fp: float, fn: float) -> float:
    """TP / (TP + FP + FN); 1.0 when both masks are empty."""
    total = tp + fp + fn
    return 1.0 if total == 0 else tp / total


def bootstrap_ci(
    values: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, (n_boot, values.size))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))
