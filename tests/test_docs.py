"""Every `medsegkit ...` command shown in the README and docs names a real verb and its options parse."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
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
                if line.startswith("medsegkit ") and "[" not in line and "..." not in line:
                    found.append((doc.name, line))
    return found


def test_docs_show_commands():
    assert len(shown_commands()) >= 10


@pytest.mark.parametrize("where, line", shown_commands())
def test_command_parses(where, line):
    args = shlex.split(line)[1:]
    command: click.Command = typer.main.get_command(app)
    ctx_args = args
    while isinstance(command, click.Group):
        name, *ctx_args = ctx_args
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"{where}: unknown verb {name!r} in {line!r}"
        command = sub
    try:
        command.make_context(command.name, list(ctx_args), resilient_parsing=False)
    except click.UsageError as exc:
        pytest.fail(f"{where}: {line!r} does not parse: {exc}")
