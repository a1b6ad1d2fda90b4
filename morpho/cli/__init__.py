"""The ``morpho`` command line: a thin layer of argument handling over the package."""

from __future__ import annotations

import importlib

import typer
from typer.core import TyperOption

from morpho import __version__


def _flag_type(option: TyperOption, ctx) -> str | None:
    """Help shows no value type for a flag (typer 0.29 prints ``--json <bool>``, as if
    the flag took a value)."""
    return None if option.is_flag else _value_type(option, ctx)


_value_type = TyperOption.display_type
TyperOption.display_type = _flag_type

app = typer.Typer(
    name="morpho",
    help="Vertebral morphometry on lateral chest radiographs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module registers its own commands with ``register(app)``.
COMMAND_MODULES = (
    "info",
    "segment",
    "train",
    "evaluate",
    "export",
    "measure",
    "synth",
    "stats",
    "batch",
    "report",
    "review",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"morpho {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    from morpho.cli import common

    common.DEBUG = debug


for _name in COMMAND_MODULES:
    importlib.import_module(f"morpho.cli.{_name}").register(app)


def main() -> None:
    app()
