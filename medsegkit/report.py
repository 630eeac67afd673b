"""Everything the CLI shows a person: rich tables on stdout, messages on stderr."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

from medsegkit.registry import ComponentStatus

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def dataset_table(manifest: dict[str, Any], where: str) -> Table:
    """Summary of a canonical dataset: cases per split, sizes and label pixel shares."""
    stats = manifest["statistics"]
    table = Table(title=f"{manifest['name']} ({manifest['task']}) at {where}", title_justify="left")
    table.add_column("what")
    table.add_column("value", overflow="fold")
    table.add_row("reader", str(manifest["source"]["reader"]))
    table.add_row("cases", f"{stats['cases']} ({stats['with_mask']} with masks)")
    splits = ", ".join(f"{k} {len(v)}" for k, v in manifest["splits"].items() if k != "all")
    table.add_row("splits", splits or "none (all cases in 'all')")
    sizes = [tuple(c["size"]) for c in manifest["cases"].values()]
    if sizes:
        hs, ws = [s[0] for s in sizes], [s[1] for s in sizes]
        size_text = f"{ws[0]}x{hs[0]}" if len(set(sizes)) == 1 else f"{min(ws)}..{max(ws)} x {min(hs)}..{max(hs)}"
        table.add_row("image size (WxH)", size_text)
    total = sum(stats["label_pixels"].values())
    if total:
        shares = ", ".join(f"{label} {100 * n / total:.1f}%" for label, n in stats["label_pixels"].items())
        table.add_row("label pixels", shares)
    for note in manifest.get("notes", []):
        table.add_row("note", note)
    return table


def plugins_table(statuses: Iterable[ComponentStatus]) -> Table:
    table = Table(title="medsegkit components", title_justify="left")
    for column in ("kind", "name", "distribution", "target", "status"):
        table.add_column(column, overflow="fold")
    for s in statuses:
        c = s.component
        state = ("[green]ok[/]" if s.ok else "[red]broken[/]") + (f": {s.reason}" if s.reason else "")
        table.add_row(c.kind, c.name, c.dist, c.target, state)
    return table


def status_records(statuses: Iterable[ComponentStatus]) -> list[dict[str, Any]]:
    return [
        {
            "kind": s.component.kind,
            "name": s.component.name,
            "distribution": s.component.dist,
            "target": s.component.target,
            "status": "ok" if s.ok else "broken",
            "reason": s.reason,
        }
        for s in statuses
    ]
