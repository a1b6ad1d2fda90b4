"""The cosine learning-rate schedule: by epochs, or by the time budget when that runs out first."""

import pytest

from morpho.segment.train import cosine_lr


def test_cosine_decays_from_lr_to_the_floor_over_the_epochs():
    assert cosine_lr(1e-3, 0, 10) == pytest.approx(1e-3)
    assert cosine_lr(1e-3, 5, 10) == pytest.approx(0.51e-3)
    assert cosine_lr(1e-3, 10, 10) == pytest.approx(0.02e-3)
    assert cosine_lr(1e-3, 12, 10) == pytest.approx(0.02e-3)


def test_a_time_budget_further_along_than_the_epochs_sets_the_pace():
    # 1 epoch of 1000, but half the minutes spent: halfway down the cosine
    assert cosine_lr(1e-3, 1, 1000, done=0.5) == pytest.approx(0.51e-3)
    assert cosine_lr(1e-3, 1, 1000, done=1.3) == pytest.approx(0.02e-3)
    # the epochs further along than the time: they set the pace
    assert cosine_lr(1e-3, 5, 10, done=0.1) == pytest.approx(0.51e-3)
