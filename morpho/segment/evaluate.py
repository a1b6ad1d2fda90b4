"""Evaluate a model on one split of a dataset: overlap, per-body detection, boundary error.

Per image: Dice, IoU, symmetric contour distance (mean, 95th percentile). Per truth body:
best IoU with a predicted component (detected at IoU > 0.5), the same against the bodies the
labelling makes of the mask (touching ones split: what ``morpho measure`` measures), and the
mean distance of its outline to the predicted outline (an error over 2 mm where the spacing
is known), split by fractured and intact where the dataset says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from rich.progress import track
from scipy import ndimage

from morpho.atomic import write_png, write_text
from morpho.datasets.contract import Dataset, DatasetItem, instance_labels
from morpho.io import read_radiograph
from morpho.label import label_bodies
from morpho.segment.infer import Segmenter
from morpho.segment.metrics import bootstrap_ci, dice, iou, stats
from morpho.segment.overlay import BLUE, RED, draw_outlines

MATCH_IOU = 0.5
ERROR_MM = 2.0


@dataclass
class Evaluation:
    images: pd.DataFrame  # one row per image
    bodies: pd.DataFrame  # one row per truth body
    summary: dict
    levels: pd.DataFrame  # one row per level: detection and outline error


def boundary(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask)


def distance_to(mask: np.ndarray) -> np.ndarray:
    """Distance (px) of every pixel to the outline of ``mask`` (inf when empty)."""
    edge = boundary(mask)
    if not edge.any():
        return np.full(mask.shape, np.inf)
    return ndimage.distance_transform_edt(~edge)


def labelled_instances(
    pred: np.ndarray, prob: np.ndarray | None = None, pixels: np.ndarray | None = None,
    cores: np.ndarray | None = None,
) -> np.ndarray:
    """Instance map (0 background, 1..n) of the bodies the labelling makes of a mask (with
    the body probability ``prob``, the radiograph ``pixels`` and the core probability
    ``cores``, as ``morpho measure`` parts merged bodies)."""
    out = np.zeros(pred.shape, np.int32)
    lab = label_bodies(pred, probability=prob, pixels=pixels, cores=cores)
    for k, v in enumerate(lab.vertebrae, start=1):
        out[v.rows, v.cols] = k
    return out


def best_match(body: np.ndarray, instances: np.ndarray, sizes: np.ndarray) -> tuple[float, int]:
    """(IoU, id) of the instance that overlaps a truth body best ((0, 0) when none does);
    ``sizes`` is ``np.bincount(instances.ravel())``."""
    hits = instances[body]
    area = hits.size
    hits = hits[hits > 0]
    best_iou, best = 0.0, 0
    for c in np.unique(hits):
        inter = np.count_nonzero(hits == c)
        value = inter / (area + sizes[c] - inter)
        if value > best_iou:
            best_iou, best = value, int(c)
    return best_iou, best


def in_annotated_span(labels: np.ndarray, instances: np.ndarray) -> np.ndarray:
    """For each instance 1..n, whether its centre lies within the span of spine the truth
    labels: between the first labelled body's far edge and the last one's, along the line
    through their centres. A dataset labels a run of levels; a body the model finds beyond
    it (a CT slab's unlabelled T9 or L4, an AP film's C7) is outside and no false positive."""
    n = int(instances.max())
    ids = np.unique(labels[labels > 0])
    if n == 0 or ids.size == 0:
        return np.zeros(n, bool)
    index = range(1, n + 1)
    centres = np.array(ndimage.center_of_mass(np.ones_like(labels), instances, index))
    truth_centres = np.array(ndimage.center_of_mass(np.ones_like(labels), labels, ids))
    axis = truth_centres[-1] - truth_centres[0]
    if np.linalg.norm(axis) == 0:
        axis = np.array([1.0, 0.0])  # one body: along the rows
    axis = axis / np.linalg.norm(axis)
    along = np.argwhere(labels > 0) @ axis
    position = centres @ axis
    return (position >= along.min()) & (position <= along.max())


def counted_in_span(labels: np.ndarray, instances: np.ndarray, matched: set[int]) -> int:
    """How many instances count for precision: those matched to a truth body, and the
    unmatched ones within the labelled span."""
    span = in_annotated_span(labels, instances)
    span[[k - 1 for k in matched]] = True
    return int(span.sum())


def evaluate_item(
    item: DatasetItem, pixels: np.ndarray, pred: np.ndarray, levels: list[str] | None,
    prob: np.ndarray | None = None,
    cores: np.ndarray | None = None,
) -> tuple[dict, list[dict], np.ndarray]:
    """(image row, body rows, truth mask) for one image, its predicted mask and (for the
    bodies as the labelling separates them) the body probability."""
    labels = instance_labels(item, pixels.shape[:2])
    truth = labels > 0
    tp, fp, fn = stats(pred, truth)
    to_pred, to_truth = distance_to(pred), distance_to(truth)
    both = np.concatenate([to_pred[boundary(truth)], to_truth[boundary(pred)]])
    spacing = float(np.mean(item.spacing_mm)) if item.spacing_mm else None
    n_pred, components = cv2.connectedComponents(pred.astype(np.uint8))
    lateral = item.view not in ("ap", "pa")  # the labelling cuts strips on lateral films
    instances = labelled_instances(pred, prob, pixels if lateral else None, cores)
    component_sizes, instance_sizes = (np.bincount(m.ravel()) for m in (components, instances))
    matched_pred, matched_labelled = set(), set()
    bodies = []
    for k in range(1, int(labels.max()) + 1):
        body = labels == k
        if not body.any():
            continue
        best_iou, best = best_match(body, components, component_sizes)
        if best_iou > MATCH_IOU:
            matched_pred.add(best)
        labelled_iou, labelled = best_match(body, instances, instance_sizes)
        if labelled_iou > MATCH_IOU:
            matched_labelled.add(labelled)
        level = levels[k - 1] if levels and k <= len(levels) else str(k)
        mean_px = float(to_pred[boundary(body)].mean())
        fracture = item.fractures.get(level)
        bodies.append({
            "image": item.id, "level": level, "iou": best_iou, "detected": best_iou > MATCH_IOU,
            "iou_labelled": labelled_iou, "detected_labelled": labelled_iou > MATCH_IOU,
            "contour_mean_px": mean_px,
            "contour_mean_mm": mean_px * spacing if spacing else np.nan,
            "error_2mm": (mean_px * spacing > ERROR_MM) if spacing else np.nan,
            "fractured": bool(fracture and fracture.get("grade", 0) > 0),
        })
    finite = both[np.isfinite(both)]
    row = {
        "image": item.id, "dice": dice(tp, fp, fn), "iou": iou(tp, fp, fn),
        "contour_mean_px": float(finite.mean()) if finite.size else np.nan,
        "contour_p95_px": float(np.percentile(finite, 95)) if finite.size else np.nan,
        "truth_bodies": len(bodies), "pred_components": n_pred - 1,
        "matched": len(matched_pred), "labelled_bodies": int(instances.max()),
        "matched_labelled": len(matched_labelled),
        "labelled_in_span": counted_in_span(labels, instances, matched_labelled),
    }
    row["contour_mean_mm"] = row["contour_mean_px"] * spacing if spacing else np.nan
    row["contour_p95_mm"] = row["contour_p95_px"] * spacing if spacing else np.nan
    return row, bodies, truth


def summarise(images: pd.DataFrame, bodies: pd.DataFrame) -> dict:
    summary = {"n_images": len(images), "n_bodies": len(bodies)}
    for name in ("dice", "iou"):
        summary[name] = float(images[name].mean())
        summary[f"{name}_ci95"] = bootstrap_ci(images[name].to_numpy())
    summary["recall"] = float(bodies["detected"].mean()) if len(bodies) else np.nan
    preds = images["pred_components"].sum()
    summary["precision"] = float(images["matched"].sum() / preds) if preds else np.nan
    summary["recall_labelled"] = (
        float(bodies["detected_labelled"].mean()) if len(bodies) else np.nan)
    found = images["labelled_bodies"].sum()
    summary["precision_labelled"] = (
        float(images["matched_labelled"].sum() / found) if found else np.nan)
    in_span = images["labelled_in_span"].sum()
    summary["precision_in_span"] = (
        float(images["matched_labelled"].sum() / in_span) if in_span else np.nan)
    for column in ("contour_mean_px", "contour_p95_px", "contour_mean_mm", "contour_p95_mm"):
        summary[column] = float(images[column].mean())
    for group, part in (("fractured", bodies[bodies.fractured]),
                        ("intact", bodies[~bodies.fractured])):  # fmt: skip
        summary[f"{group}_bodies"] = len(part)
        summary[f"{group}_recall"] = float(part["detected"].mean()) if len(part) else np.nan
        errors = part["error_2mm"].dropna()
        summary[f"{group}_error_2mm_rate"] = float(errors.mean()) if len(errors) else np.nan
    return summary


def by_level(bodies: pd.DataFrame) -> pd.DataFrame:
    """Detection and outline error per level, in the order the levels first appear."""
    if bodies.empty:
        return pd.DataFrame(columns=["level", "bodies", "recall", "recall_labelled",
                                     "iou_labelled", "contour_mean_px"])
    grouped = bodies.groupby("level", sort=False)
    return pd.DataFrame({
        "bodies": grouped.size(), "recall": grouped["detected"].mean(),
        "recall_labelled": grouped["detected_labelled"].mean(),
        "iou_labelled": grouped["iou_labelled"].mean(),
        "contour_mean_px": grouped["contour_mean_px"].mean(),
    }).reset_index()


def markdown(
    summary: dict, model: str, dataset: str, split: str, levels: pd.DataFrame | None = None
) -> str:
    lo, hi = summary["dice_ci95"]
    ilo, ihi = summary["iou_ci95"]
    lines = [
        f"# Segmentation evaluation: {dataset} / {split}", "",
        f"Model: `{model}`; {summary['n_images']} images, {summary['n_bodies']} truth bodies.", "",
        "| measure | value |", "|---|---|",
        f"| mean Dice (95% bootstrap CI) | {summary['dice']:.3f} ({lo:.3f}-{hi:.3f}) |",
        f"| mean IoU (95% bootstrap CI) | {summary['iou']:.3f} ({ilo:.3f}-{ihi:.3f}) |",
        f"| body recall at IoU > {MATCH_IOU} | {summary['recall']:.3f} |",
        f"| body precision at IoU > {MATCH_IOU} | {summary['precision']:.3f} |",
        f"| body recall / precision after the labelling's split (the bodies `morpho measure` "
        f"measures) | {summary['recall_labelled']:.3f} / {summary['precision_labelled']:.3f} |",
        f"| body precision after the split, within the labelled span of spine (bodies "
        f"beyond the truth's first and last level not counted) | "
        f"{summary['precision_in_span']:.3f} |",
        f"| contour distance mean / p95 (px) | {summary['contour_mean_px']:.2f} / "
        f"{summary['contour_p95_px']:.2f} |",
        f"| contour distance mean / p95 (mm) | {summary['contour_mean_mm']:.2f} / "
        f"{summary['contour_p95_mm']:.2f} |",
    ]
    for group in ("intact", "fractured"):
        lines.append(
            f"| {group} bodies: n / recall / error > {ERROR_MM:g} mm | "
            f"{summary[f'{group}_bodies']} / {summary[f'{group}_recall']:.3f} / "
            f"{summary[f'{group}_error_2mm_rate']:.3f} |"
        )
    lines += ["", "mm values and the 2 mm error rate need a known pixel spacing (nan otherwise)."]
    if levels is not None and len(levels):
        lines += ["", "## By level", "",
                  "| level | bodies | recall | recall after split | IoU after split | "
                  "contour mean (px) |", "|---|---|---|---|---|---|"]
        lines += [f"| {r.level} | {r.bodies} | {r.recall:.3f} | {r.recall_labelled:.3f} | "
                  f"{r.iou_labelled:.3f} | {r.contour_mean_px:.2f} |"
                  for r in levels.itertuples()]
    return "\n".join(lines) + "\n"


def evaluate(
    segmenter: Segmenter, dataset: Dataset, split: str, out: Path | None = None,
    overlays: bool = True,
) -> Evaluation:
    """Run the model on ``split`` and measure; writes CSVs, summary.md and overlays to ``out``."""
    items = dataset.split(split)
    rows, body_rows = [], []
    for item in track(items, description=f"evaluating {split}"):
        pixels = read_radiograph(item.image).pixels
        pred, prob, cores = segmenter.segment_with_cores(pixels)
        row, bodies, truth = evaluate_item(item, pixels, pred, dataset.levels, prob, cores)
        rows.append(row)
        body_rows.extend(bodies)
        if out is not None and overlays:
            picture = draw_outlines(pixels, [(truth, RED), (pred, BLUE)])
            write_png(out / "overlays" / f"{item.id}.png", picture)
    images, bodies = pd.DataFrame(rows), pd.DataFrame(body_rows)
    summary, levels = summarise(images, bodies), by_level(bodies)
    if out is not None:
        write_text(out / "images.csv", images.to_csv(index=False))
        write_text(out / "bodies.csv", bodies.to_csv(index=False))
        write_text(out / "levels.csv", levels.to_csv(index=False))
        write_text(out / "summary.md", markdown(
            summary, segmenter.model_version, dataset.name, split, levels))
    return Evaluation(images, bodies, summary, levels)
