"""The report tests share the batch tests' small data makers (tests/batch)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "batch"))
