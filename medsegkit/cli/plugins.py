"""``plugins list`` and ``plugins check``: the registered components, built-in and third-party."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer

from medsegkit import registry
from medsegkit.cli import console
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


def bases() -> dict[str, type]:
    """The class each kind's components must subclass, where the contract names one (readers, clusterers)."""
    from medsegkit.data.readers.base import DatasetReader
    from medsegkit.lesion.clustering.base import Clusterer

    return {"readers": DatasetReader, "clusterers": Clusterer}


def statuses(kind: str | None, exercise: bool = False) -> list[registry.ComponentStatus]:
    """Each registered component of ``kind`` (every kind when None), checked against its kind's contract."""
    base = bases()
    return [registry.check(c, exercise, base.get(c.kind)) for c in registry.components(kind)]


@app.command("list")
@handle_errors
def plugins_list(
    kind: KindOpt = None,
    fmt: Annotated[
        Literal["table", "json"], typer.Option("--format", "-f", help="Output as a rich table or JSON records.")
    ] = "table",
) -> None:
    """List every registered component with its distribution and whether it imports and has the right type."""
    found = statuses(kind)
    if fmt == "json":
        typer.echo(json.dumps(console.status_records(found), indent=2))
    else:
        console.out.print(console.plugins_table(found))


@app.command("check")
@handle_errors
def plugins_check(kind: KindOpt = None) -> None:
    """Import every component and run it once on tiny inputs against its kind's contract; exit 1 if any is broken."""
    found = statuses(kind, exercise=True)
    console.out.print(console.plugins_table(found))
    broken = [s for s in found if not s.ok]
    if broken:
        names = ", ".join(f"{s.component.kind}/{s.component.qualified_name}" for s in broken)
        raise MedsegkitError(f"{len(broken)} broken component(s): {names}")
