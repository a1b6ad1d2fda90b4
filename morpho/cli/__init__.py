"""The ``morpho`` command line: a thin layer of argument handling over the package."""

from __future__ import annotations

import importlib

import typer
from typer.core import TyperArgument, TyperOption

from morpho import __version__


def _flag_type(option: TyperOption, ctx) -> str | None:
    """Help shows no value type for a flag (typer 0.29 prints ``--json <bool>``, as if
    the flag took a value)."""
    return None if option.is_flag else _one_item(_value_type(option, ctx))


def _one_item(label: str) -> str:
    """A list's type as one item's (``<path>``, not ``<list[Path]>``): a variadic argument's
    name ends in ``...`` and a repeatable option's help says so."""
    if label.startswith("<list[") and label.endswith("]>"):
        return f"<{label[6:-2].lower()}>"
    return label


def _argument_usage(argument: TyperArgument) -> str:
    """The usage line names an argument as click does: its metavar (or its name in
    capitals), ``...`` when it takes several, in brackets when optional (typer 0.29 prints
    ``{inputs}...``)."""
    name = argument.display_name_raw
    if argument.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name if argument.required else f"[{name}]"


def _argument_name(argument: TyperArgument) -> str:
    """An argument's name in help and errors: its metavar, or its name in capitals."""
    return argument.metavar or argument.name.upper()


_value_type = TyperOption.display_type
TyperOption.display_type = _flag_type
TyperArgument.display_name_raw = property(_argument_name)
TyperArgument.display_type = lambda argument, ctx: _one_item(_value_type(argument, ctx))
TyperArgument._usage_display_name = _argument_usage

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
