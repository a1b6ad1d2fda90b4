from typer.testing import CliRunner

from morpho.cli import app
from morpho.synth.cohort import simulate_cohort

runner = CliRunner()


def test_fit_score_summary(tmp_path):
    demo, meas = simulate_cohort(400, seed=7, levels=("T7", "T8", "T9", "T10"))
    demo.to_csv(tmp_path / "demo.csv", index=False)
    meas.to_csv(tmp_path / "meas.csv", index=False)
    ref = tmp_path / "ref.json"
    base = [str(tmp_path / "meas.csv"), "-d", str(tmp_path / "demo.csv"), "--key",
            "image=subject_id"]  # fmt: skip
    result = runner.invoke(app, ["stats", "fit", *base, "-o", str(ref)])
    assert result.exit_code == 0, result.output
    assert ref.exists() and "fitted" in result.output

    result = runner.invoke(
        app, ["stats", "score", *base, "-r", str(ref), "-o", str(tmp_path / "s")]
    )
    assert result.exit_code == 0, result.output
    assert "reference: fitted" in result.output
    assert (tmp_path / "s" / "scores.csv").exists() and (tmp_path / "s" / "subjects.csv").exists()

    result = runner.invoke(app, ["stats", "score", *base, "-o", str(tmp_path / "n")])
    assert result.exit_code == 0 and "reference: none" in result.output

    out = tmp_path / "summary"
    result = runner.invoke(app, ["stats", "summary", str(tmp_path / "s" / "scores.csv"),
                                 "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in (
        "height_by_level.png",
        "age_trends.png",
        "ratio_distributions.png",
        "prevalence.png",
        "prevalence.md",
        "heights_by_level.csv",
        "subjects.csv",
    ):
        assert (out / name).stat().st_size > 0, name  # fmt: skip


def test_bad_demographics_give_one_error_line(tmp_path):
    demo, meas = simulate_cohort(20, seed=0, levels=("T8",))
    demo.drop(columns="sex").to_csv(tmp_path / "demo.csv", index=False)
    meas.to_csv(tmp_path / "meas.csv", index=False)
    result = runner.invoke(app, ["stats", "fit", str(tmp_path / "meas.csv"), "-d",
                                 str(tmp_path / "demo.csv"), "--key", "image=subject_id",
                                 "-o", str(tmp_path / "r.json")])  # fmt: skip
    assert result.exit_code == 1
    assert f"error: {tmp_path / 'demo.csv'}: missing column(s): sex" in result.output
    assert "Traceback" not in result.output
