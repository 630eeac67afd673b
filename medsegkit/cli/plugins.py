"""``plugins list`` and ``plugins check``: the registered components, built-in and third-party."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer

from medsegkit import registry, report
from medsegkit.cli._common import handle_errors
from medsegkit.errors import MedsegkitError

app = typer.Typer(help="List and check registered components (built-in and third-party).", no_args_is_help=True)

KindOpt = Annotated[
    str | None,
    typer.Option(
        "--kind",
        "-k",
        help=f"Only this kind: {', '.join(registry.KINDS)} (datasets and methods are old names of readers and "
        "clusterers).",
        show_default=False,
    ),
]


@app.command("list")
@handle_errors
def plugins_list(
    kind: KindOpt = None,
    fmt: Annotated[
        Literal["table", "json"], typer.Option("--format", "-f", help="Output as a rich table or JSON records.")
    ] = "table",
) -> None:
    """List every registered component with its distribution and whether it imports and has the right type."""
    statuses = [registry.check(c) for c in registry.components(kind)]
    if fmt == "json":
        typer.echo(json.dumps(report.status_records(statuses), indent=2))
    else:
        report.out.print(report.plugins_table(statuses))


@app.command("check")
@handle_errors
def plugins_check(kind: KindOpt = None) -> None:
    """Import every component and run it once on tiny inputs against its kind's contract; exit 1 if any is broken."""
    statuses = [registry.check(c, exercise=True) for c in registry.components(kind)]
    report.out.print(report.plugins_table(statuses))
    broken = [s for s in statuses if not s.ok]
    if broken:
        names = ", ".join(f"{s.component.kind}/{s.component.qualified_name}" for s in broken)
        raise MedsegkitError(f"{len(broken)} broken component(s): {names}")
