import numpy as np
import pandas as pd
import pytest

from morpho.errors import MorphoError
from morpho.stats.design import design, freeze, variables


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"age": rng.uniform(20, 90, 400), "sex": rng.choice(["F", "M"], 400),
                         "height_cm": rng.normal(170, 8, 400)})  # fmt: skip


@pytest.mark.parametrize(
    "formula",
    ["age + C(sex) + height_cm", "bs(age, df=4) + C(sex) + height_cm",
     "cr(age, df=5, constraints='center') + sex:height_cm", "0 + bs(age, df=3):C(sex)"],
)  # fmt: skip
def test_frozen_formula_rebuilds_the_same_columns_on_other_rows(data, formula):
    full = design(formula, data)
    frozen = freeze(full.design_info)
    subset = data.iloc[:7]  # too few rows to relearn knots or levels
    assert np.array_equal(np.asarray(design(frozen, subset, {"sex": ["F", "M"]})), full[:7])
    only_men = data.loc[data["sex"] == "M"].iloc[:5]
    rebuilt = design(frozen, only_men, {"sex": ["F", "M"]})
    assert np.allclose(rebuilt, np.asarray(full)[only_men.index])


def test_unsupported_stateful_transform(data):
    with pytest.raises(MorphoError, match="center"):
        freeze(design("center(age) + C(sex)", data).design_info)


def test_variables():
    assert variables("h ~ bs(age, df=4) + C(sex, Treatment('M')) + np.log(height_cm)") == [
        "age", "sex", "height_cm"
    ]  # fmt: skip
