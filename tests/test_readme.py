"""The README's main command names the bundled sample's first whole body correctly."""

import re
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_main_command_first_level_matches_the_sample_truth():
    truth_csv = ROOT / "samples" / "sample_lateral_truth.csv"
    if not truth_csv.exists():
        pytest.skip("no bundled sample")
    command = next(line for line in (ROOT / "README.md").read_text().splitlines()
                   if "morpho batch samples/" in line)
    named = re.search(r"--first-level (\w+)", command).group(1)
    truth = pd.read_csv(truth_csv)
    assert named == truth[truth["complete"]]["level"].iloc[0]
