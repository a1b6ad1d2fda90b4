"""A reference file is data: a formula that would run code is refused before patsy sees it."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from morpho.cli import app
from morpho.errors import MorphoError
from morpho.stats.design import check_formula, design
from morpho.stats.reference import Reference
from morpho.synth.cohort import simulate_cohort

runner = CliRunner()


@pytest.mark.parametrize(
    "formula",
    [
        "age + C(sex, levels=['F', 'M']) + height_cm",
        "1 + bs(age, knots=[50.0, 60.0], lower_bound=20.0, upper_bound=90.0, degree=3)",
        "0 + cr(age, df=4) + C(sex):age - 1",
        "age * height_cm + cc(age, knots=[1, 2], constraints='center')",
    ],
)
def test_formulas_of_the_saved_kind_pass(formula):
    assert check_formula(formula) == formula


@pytest.mark.parametrize(
    "formula",
    [
        "age + __import__('os').system('touch X')",
        "age + I(age ** 2)",
        "age + np.log(age)",
        "age + C(sex, levels=open('x').read())",
        "age + Q('age')",
        "age + [c for c in ()]",
        "age + (lambda: 0)()",
        "age + bs(age, df=exec('1'))",
        "age + age.__class__",
        "age + C(__builtins__)",
        "age + bs(age, **{'df': 3})",
        "age ~ y ~ z",
    ],
)
def test_code_in_a_formula_is_refused(formula):
    with pytest.raises(MorphoError, match="formula"):
        check_formula(formula)
    with pytest.raises(MorphoError, match="formula"):
        design(formula, pd.DataFrame({"age": [50.0, 60.0], "sex": ["F", "M"]}))


@pytest.fixture()
def files(tmp_path, reference):
    demo, meas = simulate_cohort(60, seed=3, levels=("T8", "T9"))
    demo.to_csv(tmp_path / "demo.csv", index=False)
    meas.to_csv(tmp_path / "meas.csv", index=False)
    good = tmp_path / "ref.json"
    reference.save(good)
    return tmp_path, good


def _poisoned(good, tmp_path, edit) -> str:
    body = json.loads(good.read_text())
    edit(body)
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(body))
    return str(path)


PAYLOAD = " + __import__('os').system('touch {marker}')"


@pytest.mark.parametrize("where", ["top", "fit"])
def test_stats_score_refuses_a_malicious_reference(files, where):
    tmp_path, good = files
    marker = tmp_path / "PWNED"

    def edit(body):
        target = body if where == "top" else body["fits"][0]
        target["formula"] += PAYLOAD.format(marker=marker)

    evil = _poisoned(good, tmp_path, edit)
    result = runner.invoke(app, ["stats", "score", str(tmp_path / "meas.csv"), "-d",
                                 str(tmp_path / "demo.csv"), "--key", "image=subject_id",
                                 "-r", evil, "-o", str(tmp_path / "s")])  # fmt: skip
    assert result.exit_code == 1
    assert not marker.exists()
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "not allowed" in lines[0]
    assert "Traceback" not in result.output


def test_batch_refuses_a_malicious_reference_before_any_work(files):
    tmp_path, good = files
    marker = tmp_path / "PWNED"
    evil = _poisoned(good, tmp_path, lambda b: b.update(
        formula=b["formula"] + PAYLOAD.format(marker=marker)))
    films = tmp_path / "films"
    films.mkdir()
    result = runner.invoke(app, ["batch", str(films), "--out", str(tmp_path / "run"),
                                 "--reference", evil])  # fmt: skip
    assert result.exit_code == 1
    assert not marker.exists()
    assert "not allowed" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "edit, cause",
    [
        (lambda b: b.update(extra=1), "Additional properties"),
        (lambda b: b["fits"][0].update(params="1"), "fits/0/params"),
        (lambda b: b.update(method="eval"), "method"),
        (lambda b: b.pop("cells"), "cells"),
    ],
)
def test_a_reference_of_another_shape_is_refused(files, edit, cause):
    tmp_path, good = files
    with pytest.raises(MorphoError, match="not a valid reference file") as info:
        Reference.load(_poisoned(good, tmp_path, edit))
    assert cause in str(info.value)


def test_a_saved_reference_still_loads_and_scores(files, reference):
    _, good = files
    loaded = Reference.load(good)
    assert loaded.formula == reference.formula and len(loaded.fits) == len(reference.fits)
