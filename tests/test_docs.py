"""Every `medsegkit ...` command shown in the README and docs (also after `torchrun ... -m`) names a real verb
and its options parse."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from medsegkit.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shown_commands() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for block in re.findall(r"```sh\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S):
            for line in block.splitlines():
                line = line.split("  #")[0].strip()
                if " -m medsegkit " in line:  # torchrun ... -m medsegkit VERB ...
                    line = "medsegkit " + line.split(" -m medsegkit ", 1)[1]
                if line.startswith("medsegkit ") and "[" not in line and "..." not in line:
                    found.append((doc.name, line))
    return found


def test_docs_show_commands():
    assert len(shown_commands()) >= 10


def check_parses(where: str, line: str) -> None:
    args = shlex.split(line)[1:]
    command = typer.main.get_command(app)  # Typer ships its own click: no isinstance checks on click classes
    while hasattr(command, "commands"):
        assert args, f"{where}: {line!r} stops at a group"
        name, *args = args
        assert name in command.commands, f"{where}: unknown verb {name!r} in {line!r}"
        command = command.commands[name]
    try:
        command.make_context(command.name, list(args))
    except Exception as exc:
        if getattr(exc, "exit_code", None) == 2:
            pytest.fail(f"{where}: {line!r} does not parse: {exc}")
        raise


@pytest.mark.parametrize("where, line", shown_commands())
def test_command_parses(where, line):
    check_parses(where, line)


@pytest.mark.parametrize(
    "line",
    ["medsegkit cluster x --bogus 1", "medsegkit nosuch x", "medsegkit plugins list --format xml", "medsegkit prepare"],
)
def test_checker_catches_bad_commands(line):
    with pytest.raises((pytest.fail.Exception, AssertionError)):
        check_parses("test", line)
