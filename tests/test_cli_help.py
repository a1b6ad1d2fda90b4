"""Every command's help reads as a user expects: flags without a value type, arguments by a
readable name (``INPUT...``, not typer's ``{inputs}...``), list types as one item's."""

import re

import pytest
from typer.testing import CliRunner

from morpho.cli import app

COMMANDS = [
    ["info"], ["segment"], ["train"], ["evaluate"], ["export"], ["measure"], ["batch"],
    ["report"], ["review"], ["synth", "drr"], ["synth", "phantom"], ["synth", "cohort"],
    ["stats", "fit"], ["stats", "score"], ["stats", "summary"],
]


def help_text(command: list[str]) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_no_typer_leftovers(command):
    text = help_text(command)
    assert "<bool>" not in text  # a flag takes no value
    assert "<list[" not in text  # one item's type; the name or the help says "several"
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage


@pytest.mark.parametrize(("command", "argument"), [
    (["segment"], "INPUT..."), (["info"], "INPUT..."), (["measure"], "INPUT..."),
    (["batch"], "INPUT"), (["report"], "RUN"), (["train"], "DATASET..."),
    (["evaluate"], "MODEL DATASET"),
])  # fmt: skip
def test_arguments_have_readable_names(command, argument):
    text = help_text(command)
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert re.search(rf"\[OPTIONS\] {re.escape(argument)}\s*$", usage), usage


def test_a_flag_shows_no_value_type():
    text = help_text(["info"])
    line = next(line for line in text.splitlines() if "--json" in line)
    assert "<" not in line.split("--json", 1)[1].split("Print")[0]


def test_a_missing_argument_is_named_as_in_the_usage():
    result = CliRunner().invoke(app, ["segment"])
    assert result.exit_code == 2 and "INPUT..." in result.output
