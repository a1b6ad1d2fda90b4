"""The review page end to end in a real headless Chromium (Debian's ``chromium``, driven by
Playwright over the DevTools protocol; skipped where either is missing).

Screenshots go to ``$MORPHO_SCREENSHOTS`` when set (else the test's temporary folder)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from morpho.review import apply_corrections, load_corrections

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")
SAMPLE = "sample_lateral.dcm"


@pytest.fixture()
def page(server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        browser.close()
        assert not errors, errors


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("window.morphoReview && window.morphoReview.ready", timeout=30000)


def _saved(page, text: str) -> None:
    page.wait_for_function(f"document.getElementById('status').textContent.includes({text!r})",
                           timeout=30000)  # fmt: skip


def _row(page, level: str):
    return page.locator("#bodies tbody tr", has=page.locator(f"td:text-is('{level}')"))


def _drag_point(page, index: int, point: str, dy_px: float) -> None:
    """Drag a body's point ``dy_px`` film pixels down (negative: up) with the mouse."""
    start = page.evaluate(
        f"(() => {{ const s = window.morphoReview; const b = s.film.bodies.find(b => "
        f"b.index === {index}); const [x, y] = b.points['{point}']; "
        f"return [...s.toScreen([x, y]), ...s.toScreen([x, y + {dy_px}])]; }})()")
    box = page.locator("#film").bounding_box()
    x0, y0, x1, y1 = (v + box["x" if k % 2 == 0 else "y"] for k, v in enumerate(start))
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()


def test_a_reader_corrects_a_film_in_the_browser(server, page, tmp_path):
    url, run = server
    shots = Path(os.environ.get("MORPHO_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    _open(page, url)
    assert page.locator("#films li").first.inner_text().startswith("sample_lateral")
    page.fill("#reader", "Reader One")
    page.screenshot(path=str(shots / "review-1-opened.png"))
    table = pd.read_parquet(run / "measurements.parquet")
    film = table[table["file"] == SAMPLE]
    wedge = int(film[film["genant_grade"] == 2]["index"].iloc[0])

    _row(page, "#2").click()  # rename: body 2 is T3, the bodies below named on
    page.select_option("#level", "T3")
    page.click("#rename")
    _saved(page, "levels from T3")
    assert _row(page, "T3").count() == 1 and _row(page, "#2").count() == 0

    page.locator("#film").click(position={"x": 5, "y": 5})  # focus the film, keys on
    page.keyboard.press("0")
    for _ in range(3):
        page.keyboard.press("+")
    _drag_point(page, wedge, "ant_sup", -9.0)  # lift the wedge's anterior corner
    _saved(page, "ant_sup moved")
    page.screenshot(path=str(shots / "review-2-dragged.png"))

    _row(page, "T4").click()
    page.keyboard.press("g")  # not gradable
    _saved(page, "not gradable")
    page.keyboard.press("j")
    page.keyboard.press("a")  # the next body accepted
    _saved(page, "accepted")

    page.reload()
    page.wait_for_function("window.morphoReview && window.morphoReview.ready", timeout=30000)
    page.screenshot(path=str(shots / "review-3-reloaded.png"))
    assert _row(page, "T4").locator("td").last.inner_text() == "✗"
    assert _row(page, "T5").locator("td").last.inner_text() == "✓"
    assert "* sample_lateral" in page.locator("#films li").first.inner_text()

    log = load_corrections(run)
    assert list(log["action"]) == ["level", "point", "not_gradable", "accept"]
    assert set(log["reader"]) == {"Reader One"} and log["time"].str.endswith("+00:00").all()
    moved = log.iloc[1]
    assert moved["index"] == wedge and moved["point"] == "ant_sup"
    before = film[film["index"] == wedge].iloc[0]
    assert moved["y"] == pytest.approx(before["ant_sup_y"] - 9.0, abs=0.6)
    out = apply_corrections(table, log)
    row = out[(out["file"] == SAMPLE) & (out["index"] == wedge)].iloc[0]
    assert row["corrected"] and row["ha_px"] > before["ha_px"] + 6
    assert row["wedge_ratio"] > before["wedge_ratio"] and row["genant_grade"] < 2
    shown = _row(page, row["level"]).locator("td").nth(1).inner_text()
    assert float(shown) == pytest.approx(row["ha_mm"], abs=0.05)

    page.keyboard.press("n")  # the next film: the phantom; the reader flips its facing
    page.wait_for_function("window.morphoReview.film.file === 'phantom.png'", timeout=30000)
    found = page.locator("#facing").inner_text()
    flipped = {"left": "right", "right": "left"}[found]
    page.keyboard.press("f")
    _saved(page, f"anterior on the {flipped}")
    assert page.locator("#facing").inner_text() == flipped
    page.screenshot(path=str(shots / "review-4-flipped.png"))
    last = load_corrections(run).iloc[-1]
    assert (last["file"], last["action"], last["value"]) == ("phantom.png", "facing", flipped)
