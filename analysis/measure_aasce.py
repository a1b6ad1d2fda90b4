"""Morphometry on the real AASCE corner annotations (../shared/data/aasce-ap).

Each annotated quadrilateral is filled into one mask per image, which goes through the
measure path (``measure_mask``, view=ap, first_level=T1). Prints the fraction of images
with exactly 17 bodies labelled T1..L5 in order, and the middle-height error against the
annotated quadrilateral's midline height (distance between the midpoints of its top and
bottom edges). Also the suggested labelling's accuracy without --first-level.

    python analysis/measure_aasce.py [--limit N] [--masks DIR] [--split test]

``--masks DIR`` writes the masks as <stem>_mask.png (for ``morpho measure --mask``).
``--segment [MODEL]`` uses masks predicted by the model (default: the shipped one) instead,
with its body probabilities to part merged bodies (``--no-cores``: the mask alone);
``--masks`` then also writes them as <stem>_prob.png (0-255). Middle heights are compared
body by body with the nearest annotated body.
``--from-masks DIR`` measures masks written before instead: <stem>_prob.png where there is
one (thresholded at 0.5), else <stem>_mask.png (e.g. written by ``morpho segment``).
``--split test`` keeps one part of the fixed split (morpho/datasets/splits/aasce.json).
``--width-profile`` prints the median width by level, T1..L5, of the training part's
quadrilaterals relative to their film's mean, scaled to the published mean width (the AP
widths of ``morpho.label.TYPICAL_MM``), and stops.
Images not named T1..L5 are listed with what differs from the annotation (level missed, body
split in two, extra body above T1 or below L5, a gap taken for a missing level).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from rich.progress import track

from morpho.datasets.aasce import (
    annotation_defect,
    by_y,
    fill_quads,
    fixed_split,
    midline_heights,
    read_quads,
)
from morpho.io import read_radiograph
from morpho.label import LEVELS
from morpho.measure import measure_mask
from morpho.resources import shared_data_dir

EXPECTED = list(LEVELS[LEVELS.index("T1") : LEVELS.index("L5") + 1])  # rows compare as lists
# The published adult widths T1..L5 (Panjabi et al.) that TYPICAL_MM held before
# 2026-12-05; their mean sets the scale of the AASCE profile (--width-profile).
OLD_WIDTHS_T1_L5 = [25, 26, 27, 28, 29, 30, 31, 32, 33, 35, 37, 39, 41, 43, 45, 47, 49]


def nearest_annotated(df, corners: np.ndarray) -> np.ndarray:
    """For each measured body, the annotated body (index into ``by_y(corners)``) whose
    centre lies within half its midline height, or -1."""
    corners = by_y(corners)
    centres, truth = corners.mean(axis=1), midline_heights(corners)
    out = []
    for row in df.itertuples():
        d = np.hypot(*(centres - [row.cx, row.cy]).T)
        k = int(np.argmin(d))
        out.append(k if d[k] < 0.5 * truth[k] else -1)
    return np.array(out, int)


def matched_errors(df, corners: np.ndarray, match: np.ndarray) -> list[float]:
    """Hm / annotated midline height - 1 (%, signed) for the matched bodies."""
    truth = midline_heights(by_y(corners))
    return [(hm / truth[k] - 1) * 100 for hm, k in zip(df["hm_px"], match, strict=True) if k >= 0]


def on_annotation(df, corners: np.ndarray, match: np.ndarray) -> bool:
    """Every annotated body T1..L5 found once and carrying its own level, and nothing else but a
    body below L5 named S1 (the sacrum, which the annotation leaves out)."""
    below = by_y(corners).mean(axis=1)[-1, 1]
    named = [(level, k) for level, k, y in zip(df["level"], match, df["cy"], strict=True)
             if not (level == "S1" and k < 0 and y > below)]
    return [level for level, _ in named] == EXPECTED and all(
        EXPECTED[k] == level for level, k in named if k >= 0) and all(k >= 0 for _, k in named)


def count_errors(df, corners: np.ndarray, match: np.ndarray) -> list[str]:
    """What differs from the annotation, body by body."""
    centres = by_y(corners).mean(axis=1)
    found = []
    for y, k in zip(df["cy"], match, strict=True):
        if k < 0:
            found.append("extra body above T1" if y < centres[0, 1] else "extra body below L5"
                         if y > centres[-1, 1] else "extra body between levels")
    hits = np.bincount(match[match >= 0], minlength=len(centres))
    found += ["level missed"] * int((hits == 0).sum())
    found += ["body split in two"] * int((hits > 1).sum())
    found += ["gap taken for a missing level"] * int(
        df["qa"].str.contains("likely missing level").sum())
    return found


def width_profile(root: Path) -> None:
    """Print the training part's median relative width by level, in mm at the published mean."""
    split, profiles = fixed_split(), []
    for mat in sorted((root / "labels").glob("*.mat")):
        if split.get(mat.name.removesuffix(".mat")) == "train":
            c = by_y(read_quads(mat))
            width = np.log(np.linalg.norm(c[:, 1] - c[:, 0], axis=1)
                           + np.linalg.norm(c[:, 2] - c[:, 3], axis=1))
            profiles.append(width - width.mean())
    first = LEVELS.index("T1") - 2  # TYPICAL_MM starts at C3
    published = np.log(OLD_WIDTHS_T1_L5).mean()
    mm = np.exp(np.median(profiles, axis=0) + published)
    print(f"{len(profiles)} training films; widths T1..L5 (mm, published mean), from index "
          f"{first} of TYPICAL_MM['width']:")
    print(", ".join(f"{level} {w:.1f}" for level, w in zip(EXPECTED, mm, strict=True)))


def arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--masks", type=Path)
    ap.add_argument("--from-masks", type=Path, metavar="DIR")
    ap.add_argument("--no-cores", action="store_true",
                    help="label the thresholded mask alone, without the model's probabilities")
    ap.add_argument("--segment", nargs="?", const="", default=None, metavar="MODEL")
    ap.add_argument("--split", choices=["train", "val", "test"], help="one part of the split")
    ap.add_argument("--width-profile", action="store_true",
                    help="print the training part's AP width profile by level and stop")
    return ap.parse_args()


def film_mask(image: Path, corners: np.ndarray, segmenter, args: argparse.Namespace
              ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The mask to measure (the filled annotation, the model's, or one written before),
    the body probability (0-255) where there is one and the core probability (0-1) of a
    model with a core output; mask and body probability written out with ``--masks``."""
    shape = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE).shape
    mask, prob, cores = fill_quads(corners, shape), None, None
    if segmenter is not None:
        _, prob, cores = segmenter.segment_with_cores(read_radiograph(image).pixels)
        prob = np.round(prob * 255).astype(np.uint8)  # as --masks writes it
        mask = prob > 255 * segmenter.threshold
    if args.from_masks:
        saved = args.from_masks / f"{image.stem}_prob.png"
        if saved.exists():
            prob = cv2.imread(str(saved), cv2.IMREAD_GRAYSCALE)
            mask = prob > 127
        else:
            mask = cv2.imread(str(args.from_masks / f"{image.stem}_mask.png"), 0) > 0
    if args.masks:
        args.masks.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.masks / f"{image.stem}_mask.png"), mask.astype(np.uint8) * 255)
        if prob is not None:
            cv2.imwrite(str(args.masks / f"{image.stem}_prob.png"), prob)
    return mask, prob, cores


@dataclass
class Tally:
    """What the films showed, added up film by film (``add``)."""

    ok: int = 0
    ok_clean: int = 0
    defects: int = 0
    suggested_ok: int = 0
    ok_without_s1: int = 0
    ok_on_annotation: int = 0
    named: int = 0
    matched: int = 0
    errors: list[float] = field(default_factory=list)
    by_level: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)

    def add(self, df, corners: np.ndarray, image: Path) -> None:
        defect = annotation_defect(corners)
        self.defects += bool(defect)
        match = nearest_annotated(df, corners)
        self.errors.extend(matched_errors(df, corners, match))
        self.named += sum(level == EXPECTED[k] for level, k in
                          zip(df["level"], match, strict=True) if k >= 0)  # fmt: skip
        self.matched += int((match >= 0).sum())
        self.ok_without_s1 += [level for level in df["level"] if level != "S1"] == EXPECTED
        self.ok_on_annotation += on_annotation(df, corners, match)
        if list(df["level"]) == EXPECTED:
            self.ok += 1
            self.ok_clean += not defect
            self.by_level.extend(
                np.abs(df["hm_px"] / midline_heights(by_y(corners)) - 1) * 100)
        else:
            found = count_errors(df, corners, match)
            self.kinds.update(set(found))
            why = f"; annotation: {defect}" if defect else ""
            self.bad.append(
                f"{image.stem}: {len(df)} bodies ({', '.join(sorted(set(found)))}{why})")
        self.suggested_ok += list(df["suggested_level"]) == EXPECTED


def report(t: Tally, n: int) -> None:
    signed, by_level = np.array(t.errors), np.array(t.by_level)
    errors = np.abs(signed)
    print(f"images: {n}")
    print(f"17 bodies labelled T1..L5 in order: {t.ok}/{n} = {t.ok / n:.1%}")
    clean = n - t.defects
    print(f"  excluding {t.defects} images whose annotation is defective (overlapping, twisted "
          f"or degenerate quadrilaterals): {t.ok_clean}/{clean} = "
          f"{t.ok_clean / max(clean, 1):.1%}")
    print(f"  T1..L5 in order once bodies named S1 (the sacrum, not annotated) are left out: "
          f"{t.ok_without_s1}/{n} = {t.ok_without_s1 / n:.1%}")
    print(f"  the same, each on its own annotated body, a body below L5 named S1 the only "
          f"other: {t.ok_on_annotation}/{n} = {t.ok_on_annotation / n:.1%}")
    print(f"bodies on an annotated body that carry its level: {t.named}/{t.matched} = "
          f"{t.named / max(t.matched, 1):.1%}")
    print(f"middle height |error| vs the annotated midline, same level, images labelled "
          f"T1..L5 (n={by_level.size}): mean {by_level.mean():.2f}%, median "
          f"{np.median(by_level):.2f}%, within 3%: {(by_level <= 3).mean():.1%}")
    print(f"middle height |error| vs the nearest annotated midline (n={errors.size} bodies): "
          f"mean {errors.mean():.2f}%, median {np.median(errors):.2f}%, "
          f"95th pct {np.percentile(errors, 95):.2f}%, within 3%: {(errors <= 3).mean():.1%}; "
          f"signed: median {np.median(signed):+.2f}%, quartiles "
          f"{np.percentile(signed, 25):+.1f}% / {np.percentile(signed, 75):+.1f}%")
    print(f"suggested labelling (no --first-level) = T1..L5: {t.suggested_ok}/{n}")
    print(f"measure time per mask: median {np.median(t.seconds) * 1000:.0f} ms")
    print("images not T1..L5, by finding (one image can have several): " + ", ".join(
        f"{kind} {count}" for kind, count in t.kinds.most_common()))
    for line in t.bad:
        print("  not T1..L5:", line)


def main() -> None:
    args = arguments()
    root = shared_data_dir() / "aasce-ap"
    if args.width_profile:
        width_profile(root)
        return
    segmenter = None
    if args.segment is not None:
        from morpho.segment.infer import Segmenter

        segmenter = Segmenter(args.segment or None, spine_only=False)
    images = sorted((root / "images").glob("*.jpg"))
    if args.split:
        split = fixed_split()
        images = [p for p in images if split.get(p.name) == args.split]
    images = images[: args.limit or None]
    tally = Tally()
    for image in track(images, description="AASCE"):
        corners = read_quads(root / "labels" / f"{image.name}.mat")
        mask, prob, cores = film_mask(image, corners, segmenter, args)
        t0 = time.perf_counter()
        df = measure_mask(mask, view="ap", first_level="T1", image=image.stem,
                          probability=None if args.no_cores or prob is None else prob / 255,
                          cores=None if args.no_cores else cores)
        tally.seconds.append(time.perf_counter() - t0)
        tally.add(df, corners, image)
    report(tally, len(images))


if __name__ == "__main__":
    main()
