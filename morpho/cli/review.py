"""`morpho review`: check and correct a batch run's readings in the browser."""

from __future__ import annotations

import signal
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from morpho.cli.common import console, fail
from morpho.errors import MorphoError

RunArgument = Annotated[
    Path, typer.Argument(metavar="RUN", help="The output folder of a `morpho batch` run.")
]
ReaderOption = Annotated[
    str, typer.Option("--reader", help="Your name or initials, logged with each correction "
                      "(the page can change it).")
]
PortOption = Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: a free one).")]
NoBrowserOption = Annotated[
    bool, typer.Option("--no-browser", help="Print the address; do not open a browser.")
]
ExportOption = Annotated[
    bool, typer.Option("--export", help="Write RUN/measurements_corrected.parquet (and .csv) "
                       "with the corrections applied, then exit (no page).")
]


def review(
    run: RunArgument,
    reader: ReaderOption = "",
    port: PortOption = 0,
    no_browser: NoBrowserOption = False,
    export: ExportOption = False,
) -> None:
    """Review and correct a batch run's films in the browser.

    Serves a local page (127.0.0.1 only): accept bodies, mark them not gradable, rename
    levels, flip facing, drag the six points (on the run's stored film copies: the originals
    are not read). Each film is re-measured and re-graded at once; corrections go to
    RUN/corrections.csv, which `morpho report` uses. Stop with Ctrl+C."""
    from morpho.review.server import make_server

    if export:
        _export(run)
        return
    try:
        server, url = make_server(run, reader=reader, port=port)
    except MorphoError as exc:
        fail(exc.cause, exc.path)
    except OSError as exc:  # the port is taken, say
        fail(exc.strerror or str(exc), run)
    typer.echo(f"reviewing {run} at {url} (Ctrl+C to stop)", err=True)  # never wrapped
    if not no_browser:
        webbrowser.open(url)
    # Ctrl+C stops it even where the launching process blocked or ignored SIGINT (a child
    # inherits both; a CI run's server once went on after SIGINT, likely so)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("stopped; corrections are in corrections.csv")
    finally:
        server.server_close()


def _export(run: Path) -> None:
    """The corrected measurements table, or one error line."""
    from morpho.review.corrections import write_corrected

    if not (run / "measurements.parquet").is_file():
        fail("not a finished morpho batch run (measurements.parquet missing)", run)
    try:
        path = write_corrected(run)
    except (MorphoError, OSError, ValueError) as exc:
        fail(getattr(exc, "cause", None) or str(exc), run)
    console.print(f"corrected measurements in {path} (and .csv)")


def register(app: typer.Typer) -> None:
    app.command("review")(review)
