"""Shared CLI plumbing: input expansion and the one-line error policy."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console

from morpho.errors import MorphoError
from morpho.io.files import find_images, output_names, relative_keys


class View(str, Enum):
    """The view to measure a film in, overriding its header (``pa`` is frontal, as ``ap``)."""

    lateral = "lateral"
    ap = "ap"
    pa = "pa"


DEBUG = False
console = Console(stderr=True)
T = TypeVar("T")
FlipOption = Annotated[
    bool | None,
    typer.Option("--flip/--no-flip", help="Average with the mirrored film (test-time "
                 "augmentation, 2x network time); default: as the model's config says."),
]
SpineOnlyOption = Annotated[
    bool,
    typer.Option("--spine-only/--all-objects", help="Drop specks, fragments and objects off "
                 "the spine curve from the mask (as the labelling does), or keep every object."),
]

NO_FILES = "no radiograph files found (suffixes .dcm .dicom .png .jpg .jpeg .tif .tiff or none)"


@dataclass(frozen=True)
class InputFile:
    """A file to process: ``key`` is its path relative to the inputs' common folder (unique),
    ``name`` its collision-free output name (``morpho.io.files.output_names``)."""

    path: Path
    key: str
    name: str


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long, say: read as a file, which fails with one line
        return False


def expand_inputs(
    inputs: Sequence[Path], recursive: bool = True, skip: Sequence[Path] = ()
) -> list[InputFile]:
    """Files as given; folders expanded (recursively) to the image files they hold, sorted,
    leaving out those under ``skip``. Exits with one error when none is left."""
    found: list[tuple[Path, Path]] = []
    for item in inputs:
        if _is_dir(item):
            found += [(f, item) for f in find_images(item, recursive, skip)]
        else:
            found.append((item, item.parent))
    if not found:
        fail(NO_FILES, ", ".join(map(str, inputs)))
    keys = relative_keys(found)
    unique = dict(zip(keys, (f for f, _ in found), strict=True))  # a file named twice: once
    names = output_names(list(unique))
    return [InputFile(f, k, n) for (k, f), n in zip(unique.items(), names, strict=True)]


def report_error(path: str | Path | None, cause: str) -> None:
    """Print the one line every command uses for a bad input."""
    where = f"{path}: " if path is not None else ""
    print(f"error: {where}{cause}", file=sys.stderr)


def run_each(
    items: Iterable[T],
    fn: Callable[[T], object],
    name: Callable[[T], str] = str,
) -> list[tuple[str, str]]:
    """Run ``fn`` on every item; a failure prints one line and the rest go on.

    Returns the list of (item, cause) failures. Unexpected exceptions are reported the
    same way (with a traceback under ``--debug``).
    """
    failures: list[tuple[str, str]] = []
    for item in items:
        try:
            fn(item)
        except MorphoError as exc:
            if DEBUG:
                traceback.print_exc()
            report_error(exc.path or name(item), exc.cause)
            failures.append((exc.path or name(item), exc.cause))
        except Exception as exc:  # noqa: BLE001 - every file must get its line
            if DEBUG:
                traceback.print_exc()
            cause = f"{type(exc).__name__}: {exc}"
            report_error(name(item), cause)
            failures.append((name(item), cause))
    return failures


def finish(failures: list[tuple[str, str]], total: int) -> None:
    """List the failures at the end and exit 1 if there were any."""
    if failures:
        print(f"{len(failures)} of {total} file(s) failed:", file=sys.stderr)
        for path, cause in failures:
            print(f"  {path}: {cause}", file=sys.stderr)
        raise typer.Exit(code=1)


def fail(cause: str, path: str | Path | None = None) -> NoReturn:
    """Abort a command with one error line (no traceback)."""
    report_error(path, cause)
    raise typer.Exit(code=1)


def known_levels(first_level: str | None, last_level: str | None
                 ) -> tuple[str | None, str | None]:
    """``--first-level`` and ``--last-level``, normalised; one error line for an unknown
    level, or for both at once, before any work."""
    from morpho.label import check_level

    if first_level and last_level:
        fail("give --first-level or --last-level, not both")
    try:
        return check_level(first_level), check_level(last_level)
    except ValueError as exc:
        fail(str(exc))
