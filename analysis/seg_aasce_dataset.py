"""Write the AASCE set as a dataset JSON (corner landmarks, the fixed split in the package).

    python analysis/seg_aasce_dataset.py [../shared/data/aasce-ap] [data/aasce/dataset.json]
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

from morpho.datasets.aasce import load_aasce
from morpho.datasets.contract import write_dataset
from morpho.resources import shared_data_dir


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else shared_data_dir() / "aasce-ap"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("data/aasce/dataset.json")
    dataset = load_aasce(source)
    write_dataset(dataset, out)
    counts = collections.Counter(item.split for item in dataset.items)
    print(f"wrote {out}: {len(dataset.items)} images, {dict(counts)}")


if __name__ == "__main__":
    main()
