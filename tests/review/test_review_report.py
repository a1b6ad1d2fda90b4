"""`morpho report` uses the readers' corrections of a run."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from morpho.cli import app
from morpho.review import Correction, load_corrections
from morpho.review.corrections import append_correction

SAMPLE = "sample_lateral.dcm"


def test_report_shows_corrected_levels_and_grades(run, tmp_path):
    table = pd.read_parquet(run / "measurements.parquet")
    film = table[table["file"] == SAMPLE]
    wedge = int(film[film["genant_grade"] == 2]["index"].iloc[0])
    log = load_corrections(run)
    for change in (Correction(SAMPLE, "level", 2, value="T3", reader="R"),
                   Correction(SAMPLE, "not_gradable", wedge, reader="R")):
        log = append_correction(run, log, change.checked(film))
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    assert "2 reader correction(s) applied" in result.output
    html = "".join(p.read_text() for p in (tmp_path / "rep" / "subjects").glob("*.html"))
    assert '<td class="text">T3</td>' in html and "corrected by reader" in html
    assert "not gradable (reader)" in html and "Genant grade 2" not in html


def test_export_writes_the_corrected_table(run):
    table = pd.read_parquet(run / "measurements.parquet")
    film = table[table["file"] == SAMPLE]
    change = Correction(SAMPLE, "level", 1, value="T2", reader="R").checked(film)
    append_correction(run, load_corrections(run), change)
    result = CliRunner().invoke(app, ["review", str(run), "--export"])
    assert result.exit_code == 0, result.output
    out = pd.read_parquet(run / "measurements_corrected.parquet")
    assert len(out) == len(table) and out["corrected"].sum() == len(film)
    assert out[out["file"] == SAMPLE]["level"].iloc[0] == "T2"
    assert pd.read_csv(run / "measurements_corrected.csv")["corrected"].sum() == len(film)


def test_scores_of_corrected_bodies_are_dropped(run):
    from morpho.report.html import BatchTables

    measured = pd.read_parquet(run / "measurements.parquet")
    measured[["file", "index"]].assign(hp_z=0.5).to_parquet(run / "scores.parquet")  # scored
    film = measured[measured["file"] == SAMPLE]
    append_correction(run, load_corrections(run),
                      Correction(SAMPLE, "accept", 3, reader="R").checked(film))
    m = BatchTables.load(run).measurements
    assert m["corrected"].sum() == 1 and m.loc[m["corrected"], "hp_z"].isna().all()
    assert (m.loc[~m["corrected"], "hp_z"] == 0.5).all()
