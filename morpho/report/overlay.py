"""The one overlay renderer: the film with each measured body's outline, its three heights and
its level name (``morpho measure``'s ``_measure.png``, ``morpho batch``'s ``_overlay.png`` and
the reports' pictures all come from ``overlay_image``)."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pandas as pd

from morpho.domain import GRADE_COLOURS, UNGRADED_COLOUR

OUTLINE = ["ant_sup", "mid_sup", "post_sup", "post_inf", "mid_inf", "ant_inf"]
LABEL_SCALE = 0.6  # level names this size x the line thickness, outlined so they read on bone
#: Bodies of a frontal (AP) film: never graded, drawn in one clear colour (BGR light blue),
#: not the ungraded grey that disappears on bone.
FRONTAL_COLOUR = (255, 190, 60)
WINDOW = (0.5, 99.5)  # percentiles of the film mapped to black and white
#: A smaller film (a 320-px JPEG export) is drawn enlarged to this long side, so that its
#: points, heights and level names can be read.
MIN_SIDE = 900


def display_film(pixels: np.ndarray, max_side: int | None = None) -> np.ndarray:
    """8-bit grey film (bone bright): shrunk (area averaging) so its long side is at most
    ``max_side``, then float pixels windowed to their ``WINDOW`` percentiles (8-bit ones
    are taken as they are)."""
    scale = 1.0 if max_side is None else min(1.0, max_side / max(pixels.shape[:2]))
    if scale < 1:
        size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
        source = pixels if pixels.dtype == np.uint8 else np.asarray(pixels, np.float32)
        pixels = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
    if pixels.dtype != np.uint8:
        p = np.asarray(pixels, np.float32)
        lo, hi = np.percentile(p, WINDOW)
        pixels = np.clip((p - lo) / max(float(hi - lo), 1e-9) * 255, 0, 255).astype(np.uint8)
    return pixels


def _colour(row: dict) -> tuple[int, int, int]:
    if str(row.get("view") or "") == "ap":
        return FRONTAL_COLOUR
    grade = row.get("genant_grade")
    return GRADE_COLOURS.get(int(grade), UNGRADED_COLOUR) if pd.notna(grade) else UNGRADED_COLOUR


def _label_outlines(canvas: np.ndarray, labels: np.ndarray, colours: dict[int, tuple],
                    thickness: int) -> None:
    """Each labelled body's outline (label map at any size), thin, in its body's colour; on
    an enlarged picture the outline follows the bilinear 0.5 level, not the pixel steps."""
    size = canvas.shape[1::-1]
    enlarged = size[0] > labels.shape[1]
    small = None if enlarged else cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)
    for index, colour in colours.items():
        body = (cv2.resize((labels == index).astype(np.float32), size) > 0.5 if enlarged
                else small == index)  # fmt: skip
        contours, _ = cv2.findContours(body.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)  # fmt: skip
        cv2.drawContours(canvas, contours, -1, colour, max(1, thickness // 2), cv2.LINE_AA)


def overlay_image(
    pixels: np.ndarray,
    table: pd.DataFrame,
    original_shape: tuple[int, int] | None = None,
    max_side: int | None = 900,
    labels: np.ndarray | None = None,
    min_side: int = MIN_SIDE,
    legend: bool = False,
) -> np.ndarray:
    """BGR picture: the film (float bone-bright pixels, or an 8-bit display copy) shrunk to
    ``max_side`` (None: its own size) or enlarged to ``min_side`` (bilinear; never over
    ``max_side``), each body's six-point outline and its anterior, middle and posterior
    heights coloured by grade (frontal films in ``FRONTAL_COLOUR``),
    the level name (with the grade) outlined in black; with ``labels`` (the body label map)
    each body's mask outline too; with ``legend`` a key to the colours in the lower corner
    on the anterior side, away from the spine (lateral films: a picture seen on its own,
    not beside a report's key). ``table`` holds points in ORIGINAL pixels of a film of
    ``original_shape`` (rows, columns; default: the shape of ``pixels``)."""
    rows, columns = original_shape or pixels.shape[:2]
    side = max(rows, columns) if max_side is None else min(max_side, max(rows, columns))
    side = max(side, min_side if max_side is None else min(min_side, max_side))
    grey = display_film(pixels)
    scale = side / max(rows, columns)
    size = (max(1, round(columns * scale)), max(1, round(rows * scale)))
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    thickness = max(1, round(max(size) / 450))
    records = table.to_dict("records")
    if labels is not None:
        _label_outlines(canvas, labels, {int(r["index"]): _colour(r) for r in records}, thickness)
    factor = (size[0] / columns, size[1] / rows)
    names = [name for row in records if (name := _draw_body(canvas, row, factor, thickness))]
    _draw_names(canvas, names, thickness)
    if legend and any(str(r.get("view") or "") != "ap" for r in records):
        _draw_legend(canvas, thickness, str(records[0].get("facing") or "left"))
    return canvas


LEGEND = [(f"{grade}", GRADE_COLOURS[grade]) for grade in range(4)] + [
    ("not graded", UNGRADED_COLOUR)]


def _draw_legend(canvas: np.ndarray, thickness: int, facing: str) -> None:
    """'Genant grade' and a swatch per colour on a dark box in the lower corner on the
    ``facing`` (anterior) side; smaller on a film too narrow for it."""
    font, entries = cv2.FONT_HERSHEY_SIMPLEX, [("Genant grade", None), *LEGEND]

    def layout(unit: float) -> tuple[int, int, int, list[int]]:
        pad, box, weight = round(4 * unit), round(9 * unit), max(1, round(unit))
        widths = [cv2.getTextSize(text, font, 0.45 * unit, weight)[0][0] for text, _ in entries]
        width = sum(widths) + sum(box + pad for _, c in entries if c) + pad * (len(entries) + 1)
        return pad, box, width, widths

    unit = float(thickness)
    pad, box, width, widths = layout(unit)
    if width > canvas.shape[1] - 2 * pad:
        unit *= (canvas.shape[1] - 2 * pad) / width
        pad, box, width, widths = layout(unit)
    height, weight = box + 2 * pad, max(1, round(unit))
    top = canvas.shape[0] - height - pad
    left = max(0, canvas.shape[1] - width - pad if facing == "right" else pad)
    region = canvas[top : top + height, left : left + width]
    region[:] = (region * 0.35).astype(np.uint8)  # darkened, the film still shows through
    x, base = left + pad, top + pad + box
    for (text, colour), w in zip(entries, widths, strict=True):
        if colour is not None:
            cv2.rectangle(canvas, (x, top + pad), (x + box, top + pad + box), colour, -1)
            x += box + pad // 2
        cv2.putText(canvas, text, (x, base - weight), font, 0.45 * unit, (255, 255, 255),
                    weight, cv2.LINE_AA)  # fmt: skip
        x += w + pad


def _draw_body(canvas: np.ndarray, row: dict, factor: tuple[float, float], thickness: int
               ) -> tuple[str, np.ndarray, tuple[int, int, int], bool] | None:
    """Draws a body's six-point outline and heights; returns its name (level or #index,
    with the grade), where the name goes (beside the posterior wall), its colour and
    whether it was graded; None for a body without points."""
    points = np.array([[row[f"{p}_x"], row[f"{p}_y"]] for p in OUTLINE], dtype=np.float64)
    if not np.isfinite(points).all():
        return None
    points = (points + 0.5) * factor - 0.5  # original pixel centres -> scaled pixel centres
    colour = _colour(row)
    xy = np.round(points).astype(np.int32)
    cv2.polylines(canvas, [xy], True, colour, thickness, cv2.LINE_AA)
    for top, bottom in ((0, 5), (1, 4), (2, 3)):  # the three heights
        cv2.line(canvas, tuple(xy[top]), tuple(xy[bottom]), colour, max(1, thickness // 2),
                 cv2.LINE_AA)  # fmt: skip
    label = str(row.get("level") or f"#{row.get('index')}")
    grade = row.get("genant_grade")
    if pd.notna(grade) and int(grade) >= 1:
        label += f" G{int(grade)}"
    return label, points[[2, 3]].mean(axis=0) + [6 * thickness, 0], colour, pd.notna(grade)


def _draw_names(canvas: np.ndarray, names: list, thickness: int) -> None:
    """Writes the bodies' names, outlined in black, top to bottom. A name that would overlap
    the one above moves down clear of it, by up to its own height; one that still overlaps
    is left out if its body was not graded (small pieces at the cervicothoracic junction),
    and written anyway if it was."""
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, LABEL_SCALE * thickness
    placed: list[np.ndarray] = []  # x0, y0, x1, y1 of each name written
    for label, anchor, colour, graded in sorted(names, key=lambda n: n[1][1]):
        (width, height), _ = cv2.getTextSize(label, font, scale, thickness + 3)
        anchor = np.clip(anchor, [2, height + 2],  # a body at the film's edge: its name inside
                         [canvas.shape[1] - width - 2, canvas.shape[0] - 2])  # fmt: skip
        box = np.array([anchor[0], anchor[1] - height, anchor[0] + width, anchor[1]])
        below = max((b[3] + 2 - box[1] for b in placed if _overlap(box, b)), default=0.0)
        if 0 < below <= height and anchor[1] + below <= canvas.shape[0] - 2:
            anchor, box = anchor + [0, below], box + [0, below, 0, below]
        if any(_overlap(box, b) for b in placed) and not graded:
            continue
        placed.append(box)
        at = tuple(int(v) for v in np.round(anchor))
        for ink, weight in (((0, 0, 0), thickness + 3), (colour, thickness)):  # dark outline
            cv2.putText(canvas, label, at, font, scale, ink, weight, cv2.LINE_AA)


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two boxes (x0, y0, x1, y1) overlap."""
    return bool(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def png_bytes(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return encoded.tobytes()


def overlay_png(
    pixels: np.ndarray,
    table: pd.DataFrame,
    original_shape: tuple[int, int] | None = None,
    max_side: int | None = 900,
    labels: np.ndarray | None = None,
) -> bytes:
    """``overlay_image`` as PNG bytes."""
    return png_bytes(overlay_image(pixels, table, original_shape, max_side, labels))


def data_uri(png: bytes, kind: str = "png") -> str:
    """A picture inlined as a ``data:`` URI (reports carry no external files)."""
    return f"data:image/{kind};base64," + base64.b64encode(png).decode("ascii")
