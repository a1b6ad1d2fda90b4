"""The overlay picture: a small film is enlarged so it can be read, within max_side."""

import numpy as np
import pandas as pd

from morpho.report.overlay import MIN_SIDE, overlay_image

POINTS = ["ant_sup", "mid_sup", "post_sup", "ant_inf", "mid_inf", "post_inf"]


def _film_and_body() -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    film = np.zeros((320, 200), np.float32)
    film[100:140, 80:130] = 1.0  # one bright body
    xy = {"ant_sup": (80, 100), "mid_sup": (105, 100), "post_sup": (130, 100),
          "ant_inf": (80, 140), "mid_inf": (105, 140), "post_inf": (130, 140)}  # fmt: skip
    row = {"index": 1, "level": "T8", "genant_grade": 0, "view": "lateral"}
    for name in POINTS:
        row[f"{name}_x"], row[f"{name}_y"] = xy[name]
    labels = np.zeros(film.shape, np.uint8)
    labels[100:140, 80:130] = 1
    return film, pd.DataFrame([row]), labels


def test_small_film_is_enlarged_with_smooth_outlines_and_max_side_bounds_it():
    film, table, labels = _film_and_body()
    picture = overlay_image(film, table, max_side=None, labels=labels)
    assert picture.shape == (MIN_SIDE, round(200 * MIN_SIDE / 320), 3)
    assert (np.abs(picture[..., 1].astype(int) - picture[..., 0]) > 50).any()  # drawn in colour
    assert overlay_image(film, table, max_side=500, labels=labels).shape[:2] == (500, 312)
    big = np.zeros((2000, 1250), np.float32)
    assert overlay_image(big, table.iloc[:0], max_side=None).shape[:2] == (2000, 1250)


def test_legend_sits_in_the_lower_corner_on_the_anterior_side_and_not_on_frontal_films():
    film, table, labels = _film_and_body()
    plain = overlay_image(film, table, max_side=None, labels=labels).astype(int)

    def changed(picture: np.ndarray) -> np.ndarray:
        return np.abs(picture.astype(int) - plain).sum(axis=2) > 0

    left = changed(overlay_image(film, table.assign(facing="left"), max_side=None,
                                 labels=labels, legend=True))  # fmt: skip
    right = changed(overlay_image(film, table.assign(facing="right"), max_side=None,
                                  labels=labels, legend=True))  # fmt: skip
    h, w = left.shape
    assert left[int(0.9 * h):, : w // 4].any() and not left[: int(0.8 * h)].any()
    assert right[int(0.9 * h):, -w // 4 :].any() and not right[int(0.9 * h):, : 4].any()
    frontal = table.assign(view="ap")
    assert (overlay_image(film, frontal, max_side=None, labels=labels, legend=True)
            == overlay_image(film, frontal, max_side=None, labels=labels)).all()


def test_legend_shrinks_to_fit_a_narrow_film():
    _, table, _ = _film_and_body()
    narrow = np.zeros((900, 120), np.float32)  # 900 x 120: the key's natural width is ~480 px
    plain = overlay_image(narrow, table, max_side=None).astype(int)
    keyed = overlay_image(narrow, table.assign(facing="left"), max_side=None, legend=True)
    changed = np.abs(keyed.astype(int) - plain).sum(axis=2) > 0
    columns = np.nonzero(changed.any(axis=0))[0]
    assert columns.size and columns.max() < changed.shape[1] - 1  # inside, not cut at the edge


def test_names_of_crowded_bodies_do_not_overlap_and_graded_ones_are_always_written(monkeypatch):
    """Small pieces a few pixels apart (the cervicothoracic junction of a 320-px export):
    each name written clears the others; an ungraded piece's name gives way, a graded
    body's never does."""
    import cv2

    from morpho.report import overlay

    rows = []
    for k, top in enumerate((20, 26, 32, 60)):  # three crowded pieces, then a graded body
        row = {"index": k + 1, "level": "", "view": "lateral",
               "genant_grade": 0 if k in (1, 3) else np.nan}  # fmt: skip
        for name in POINTS:
            row[f"{name}_x"] = 60 if name.startswith("ant") else 80
            row[f"{name}_y"] = top + (5 if name.endswith("inf") else 0)
        rows.append(row)
    written = []
    real = cv2.putText

    def spy(canvas, text, at, font, scale, ink, weight, line):
        if ink != (0, 0, 0):
            (w, h), _ = cv2.getTextSize(text, font, scale, weight + 3)
            written.append((text, np.array([at[0], at[1] - h, at[0] + w, at[1]])))
        return real(canvas, text, at, font, scale, ink, weight, line)

    monkeypatch.setattr(overlay.cv2, "putText", spy)
    overlay_image(np.zeros((120, 120), np.float32), pd.DataFrame(rows), max_side=None,
                  min_side=120)  # fmt: skip
    texts = [t for t, _ in written]
    assert "#2" in texts and "#4" in texts and "#3" not in texts
    boxes = [b for _, b in written]
    assert not any(overlay._overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
