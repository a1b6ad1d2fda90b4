"""Per-image settings in a batch manifest: first level, view and facing, row by row."""

from __future__ import annotations

import cv2
import pandas as pd
import pytest
from typer.testing import CliRunner

from morpho.batch import items_from_input, run_batch
from morpho.batch.chain import ChainWorker
from morpho.batch.items import ManifestError
from morpho.cli import app
from morpho.io import write_dicom
from morpho.label.levels import LEVELS
from morpho.synth.phantom import PhantomParams, render_phantom


def first_whole(table: pd.DataFrame) -> dict[str, str]:
    """Each file's first body not cut by the film's edge (the one ``first_level`` names; a
    cut one above it is the level before)."""
    whole = table[~table["qa"].fillna("").str.contains("touches the image border")]
    return whole.groupby("file")["level"].first().to_dict()


def _film(folder, name: str, facing: str, top: str, seed: int, view: str | None = None) -> None:
    image = render_phantom(PhantomParams(size=(640, 512), facing=facing, top_level=top,
                                         texture_seed=seed)).image  # fmt: skip
    if view:
        write_dicom(folder / name, image, spacing_mm=0.75, view=view)
    else:
        cv2.imwrite(str(folder / name), image)


def test_mixed_cohort_is_measured_with_each_rows_settings(tmp_path):
    """Two first levels, both facings (one against what morpho would find), a PA header
    overridden per row; the same PA film without a view is refused."""
    films = tmp_path / "films"
    films.mkdir()
    cohort = [  # name, drawn facing, first whole body, manifest first_level, anterior, view
        ("a.png", "left", "T2", "T2", "left", ""),
        ("b.png", "right", "T2", "T2", "right", ""),
        ("c.png", "left", "T4", "T4", "", ""),
        ("d.png", "right", "T4", "t4", "RIGHT", ""),
        ("e.png", "left", "T2", "T2", "right", ""),
        ("f.dcm", "left", "T2", "T2", "left", "lateral"),
        ("g.dcm", "left", "T2", "T2", "left", ""),
    ]
    for seed, (name, facing, top, *_rest) in enumerate(cohort):
        _film(films, name, facing, top, seed, view="pa" if name.endswith(".dcm") else None)
    manifest = tmp_path / "cohort.csv"
    pd.DataFrame(
        [{"path": f"films/{name}", "subject_id": f"s{i}", "age": 60 + i, "first_level": first,
          "anterior": anterior, "view": view}
         for i, (name, _f, _t, first, anterior, view) in enumerate(cohort)]
    ).to_csv(manifest, index=False)  # fmt: skip
    items = items_from_input(manifest)
    assert items[3].settings == {"first_level": "T4", "anterior": "right"}
    summary = run_batch(items, tmp_path / "out", ChainWorker, workers=1, progress=False)
    assert summary.ok == 6 and [f for f, _ in summary.failures] == ["films/g.dcm"]
    assert "frontal film (PA view" in summary.failures[0][1]
    table = pd.read_parquet(tmp_path / "out" / "measurements.parquet")
    assert first_whole(table) == {"films/a.png": "T2", "films/b.png": "T2", "films/c.png": "T4",
                                  "films/d.png": "T4", "films/e.png": "T2", "films/f.dcm": "T2"}
    for _, rows in table.groupby("file"):  # names run on down the spine from the first
        positions = [LEVELS.index(level) for level in rows["level"] if level]  # '' past S1
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
    facing = table.groupby("file")["facing"].first().to_dict()
    assert facing == {"films/a.png": "left", "films/b.png": "right", "films/c.png": "left",
                      "films/d.png": "right", "films/e.png": "right", "films/f.dcm": "left"}


def test_every_bad_row_is_one_line(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,first_level,view,anterior,sex,age\n"
        "a.png,T4,lateral,left,F,61\n"
        "a2.png,T13,lateral,left,F,61\n"
        "a3.png,T4,oblique,left,F,61\n"
        "a4.png,T4,ap,front,F,61\n"
        "a5.png,T4,pa,right,X,sixty\n"
    )
    with pytest.raises(ManifestError) as caught:
        items_from_input(manifest)
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 4", "line 5", "line 6"]
    assert "unknown level 'T13'" in problems[0] and "view 'oblique'" in problems[1]
    assert "anterior 'front'" in problems[2]
    assert "sex 'X'" in problems[3] and "age 'sixty' is not a number" in problems[3]
    result = CliRunner().invoke(app, ["batch", str(manifest), "--out", str(tmp_path / "out")])
    errors = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(errors) == 4 and "Traceback" not in result.output
    assert all(line.startswith(f"error: {manifest}: line ") for line in errors)


def test_view_pa_is_frontal_on_the_command_line(tmp_path):
    films = tmp_path / "films"
    films.mkdir()
    _film(films, "pa.dcm", "left", "T2", 0, view="pa")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["batch", str(films), "--out", str(out), "--view", "pa"])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out / "measurements.parquet")
    assert len(table) and table["genant_grade"].isna().all()  # frontal: measured, not graded
    assert table["qa"].str.contains("needs a lateral view").all()


def test_ray_engine_carries_each_rows_settings(tmp_path):
    ray = pytest.importorskip("ray")
    films = tmp_path / "films"
    films.mkdir()
    _film(films, "a.png", "left", "T2", 0)
    _film(films, "b.png", "right", "T4", 1)
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,first_level,anterior\nfilms/a.png,T2,right\nfilms/b.png,T4,right\n")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        run_batch(items_from_input(manifest), tmp_path / "ray", ChainWorker, engine="ray",
                  workers=1, progress=False)  # fmt: skip
    finally:
        ray.shutdown()
    table = pd.read_parquet(tmp_path / "ray" / "measurements.parquet")
    assert first_whole(table) == {"films/a.png": "T2", "films/b.png": "T4"}
    assert (table["facing"] == "right").all()


def test_a_changed_row_runs_again_on_resume(tmp_path):
    """The resume store keys each image on its file and its row's settings: a row whose
    first level changes is measured again, the others are not."""
    films = tmp_path / "films"
    films.mkdir()
    for seed, name in enumerate(("a.png", "b.png")):
        _film(films, name, "left", "T2", seed)
    manifest = tmp_path / "cohort.csv"

    def run(first_b: str):
        pd.DataFrame({"path": ["films/a.png", "films/b.png"],
                      "first_level": ["T2", first_b]}).to_csv(manifest, index=False)  # fmt: skip
        return run_batch(items_from_input(manifest), tmp_path / "out", ChainWorker, workers=1,
                         progress=False)  # fmt: skip

    assert run("T2").processed_now == 2
    assert run("T2").processed_now == 0
    assert run("T4").processed_now == 1
    table = pd.read_parquet(tmp_path / "out" / "measurements.parquet")
    assert first_whole(table) == {"films/a.png": "T2", "films/b.png": "T4"}


def test_a_rows_last_level_replaces_the_runs_first_level(tmp_path):
    """The run says T4 for every film; one row names its last whole body instead."""
    from morpho.chain import FilmSettings

    run = FilmSettings(first_level="T4")
    assert run.over({"last_level": "L1"}) == FilmSettings(last_level="L1")
    assert run.over({"view": "lateral"}) == FilmSettings(first_level="T4", view="lateral")
    manifest = tmp_path / "m.csv"
    (tmp_path / "a.png").write_bytes(b"")
    manifest.write_text("path,last_level\na.png,l1\n")
    assert items_from_input(manifest)[0].settings == {"last_level": "L1"}


def test_a_bad_level_on_the_command_line_is_refused_before_any_work(tmp_path):
    (tmp_path / "films").mkdir()
    _film(tmp_path / "films", "a.png", "left", "T2", 0)
    for option in (["--last-level", "L9"], ["--first-level", "T2", "--last-level", "L1"]):
        result = CliRunner().invoke(app, ["batch", str(tmp_path / "films"), *option,
                                          "--out", str(tmp_path / "out")])  # fmt: skip
        assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
        assert not (tmp_path / "out").exists()
