"""`morpho info`: one row of facts per radiograph file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import track
from rich.table import Table

from morpho.cli.common import console, expand_inputs, fail, finish, run_each
from morpho.io.info import COLUMNS, describe

TABLE_COLUMNS = {
    "file": "file",
    "size": "size",
    "bits_stored": "bits",
    "photometric": "photometric",
    "spacing_mm": "spacing mm",
    "spacing_source": "spacing source",
    "view": "view",
    "age": "age",
    "sex": "sex",
    "height_cm": "height cm",
}


def _cell(row: dict, key: str) -> str:
    if key == "size":
        return f"{row['columns']}x{row['rows']}"
    value = row[key]
    if value is None:
        return "-"
    if isinstance(value, list):
        return " x ".join(f"{v:.4g}" for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _print_table(rows: list[dict]) -> None:
    table = Table(show_lines=False)
    for title in TABLE_COLUMNS.values():
        table.add_column(title, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row, key) for key in TABLE_COLUMNS))
    out = Console()
    if not out.is_terminal:
        out = Console(width=240)  # a pipe or file gets the whole table, unwrapped
    out.print(table)


def info(
    inputs: Annotated[list[Path], typer.Argument(
        help="Files or folders (searched recursively).", metavar="INPUT...")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """One row of header facts per radiograph file.

    Size, bit depth, photometric, spacing and its source, view, age, sex, height. Reads every
    file fully, so a cohort can be checked before a long run. Folders are searched recursively
    for .dcm/.dicom/.png/.jpg/.jpeg/.tif/.tiff files and files without a suffix; files named
    explicitly are always read."""
    if as_json and as_csv:
        fail("choose one of --json and --csv")
    files = [f.path for f in expand_inputs(inputs)]
    rows: list[dict] = []
    quiet = len(files) < 2 or not console.is_terminal
    progress = track(files, description="reading", console=console, transient=True, disable=quiet)
    failures = run_each(progress, lambda path: rows.append(describe(path)))
    if as_json:
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif as_csv:
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        frame["spacing_mm"] = frame["spacing_mm"].map(
            lambda s: " ".join(map(str, s)) if isinstance(s, list) else None
        )
        frame.to_csv(sys.stdout, index=False)
    elif rows:
        _print_table(rows)
    finish(failures, len(files))


def register(app: typer.Typer) -> None:
    """Register ``morpho info``."""
    app.command("info")(info)
