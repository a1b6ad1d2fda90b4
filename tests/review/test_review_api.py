"""The review server's JSON API, spoken to with urllib (no browser)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import parse_qs, quote, urlparse

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from morpho.cli import app
from morpho.review import apply_corrections, load_corrections

SAMPLE = "sample_lateral.dcm"


def _call(url: str, path: str, body: dict | None = None, token: str | None = None):
    """(status, decoded JSON or raw bytes) of one request to the server."""
    page = urlparse(url)
    token = parse_qs(page.query)["token"][0] if token is None else token
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{page.scheme}://{page.netloc}{path}", data=data,
                                     headers={"X-Morpho-Token": token,
                                              "Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw, status, kind = response.read(), response.status, response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        raw, status, kind = exc.read(), exc.code, exc.headers["Content-Type"]
    return status, json.loads(raw) if kind == "application/json" else raw


def test_page_and_films_flagged_first(server):
    url, run = server
    assert urlparse(url).hostname == "127.0.0.1"
    status, page = _call(url, "/")
    assert status == 200 and b"<canvas" in page and b"http" not in page.replace(b"https://", b"")
    status, data = _call(url, "/api/films")
    assert status == 200 and [f["file"] for f in data["films"]][0] == SAMPLE
    first = data["films"][0]
    assert first["flagged"] and first["worst_grade"] == 2 and data["reader"] == "test reader"
    assert "T12" in data["levels"]
    assert _call(url, "/api/films", token="wrong")[0] == 403
    assert _call(url, "/api/films", token="")[0] == 403


def test_film_and_its_image(server):
    url, run = server
    status, film = _call(url, f"/api/film?file={quote(SAMPLE)}")
    assert status == 200 and (film["width"], film["height"]) == (1024, 1024)
    table = pd.read_parquet(run / "measurements.parquet")
    assert len(film["bodies"]) == (table["file"] == SAMPLE).sum() >= 13
    assert set(film["bodies"][0]["points"]) >= {"ant_sup"}
    token = parse_qs(urlparse(url).query)["token"][0]
    status, png = _call(url, f"/api/image?file={quote(SAMPLE)}&token={token}")
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert status == 200 and image.shape == (1024, 1024) and image.dtype == np.uint8
    assert _call(url, f"/api/image?file={quote(SAMPLE)}&token=x")[0] == 403
    assert _call(url, "/api/film?file=nothing.dcm")[0] == 404


def test_a_correction_is_logged_and_returns_the_film_remeasured(server):
    url, run = server
    _, film = _call(url, f"/api/film?file={quote(SAMPLE)}")
    wedge = next(b for b in film["bodies"] if b["genant_grade"] == 2)
    x, y = wedge["points"]["ant_sup"]
    status, after = _call(url, "/api/correct", {"file": SAMPLE, "action": "point",
                                                "index": wedge["index"], "point": "ant_sup",
                                                "x": x, "y": y - 12, "reader": "JB"})  # fmt: skip
    moved = next(b for b in after["bodies"] if b["index"] == wedge["index"])
    assert status == 200 and moved["corrected"] and moved["ha_px"] > wedge["ha_px"] + 11
    assert moved["genant_type"] != "wedge"  # the middle height may still grade a loss
    log = load_corrections(run)
    assert list(log["reader"]) == ["JB"] and list(log["action"]) == ["point"]
    table = apply_corrections(pd.read_parquet(run / "measurements.parquet"), log)
    row = table[(table["file"] == SAMPLE) & (table["index"] == wedge["index"])].iloc[0]
    assert row["ha_px"] == pytest.approx(moved["ha_px"])
    status, data = _call(url, "/api/correct", {"file": SAMPLE, "action": "level", "index": 1,
                                               "value": "T99"})  # fmt: skip
    assert status == 400 and "unknown level" in data["error"] and len(load_corrections(run)) == 1
    assert _call(url, "/api/correct", {"file": SAMPLE}, token="x")[0] == 403
    _, films = _call(url, "/api/films")
    assert films["films"][0]["corrected"]


def test_cli_refuses_a_folder_that_is_not_a_run(tmp_path):
    result = CliRunner().invoke(app, ["review", str(tmp_path), "--no-browser"])
    assert result.exit_code == 1 and "not a finished morpho batch run" in result.output


def test_cli_serves_the_run_until_stopped(run):
    """``morpho review RUN --no-browser`` prints its address, answers there and stops on
    Ctrl+C, even when started with SIGINT blocked and ignored (a child inherits both)."""
    import signal
    import subprocess
    import sys

    def deaf() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    command = [sys.executable, "-c", "from morpho.cli import main; main()", "review", str(run),
               "--no-browser", "--reader", "cli"]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, preexec_fn=deaf)
    try:
        line = process.stderr.readline()
        url = line.split(" at ")[1].split()[0]
        status, data = _call(url, "/api/films")
        assert status == 200 and data["reader"] == "cli"
    finally:
        process.send_signal(signal.SIGINT)
        try:  # communicate drains stderr, so a full pipe cannot hold the server up
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
            raise AssertionError(f"not stopped by Ctrl+C; stderr ends: {err[-2000:]}") from None
    assert process.returncode == 0, err[-2000:]
