"""Everything the CLI shows a person: rich tables on stdout, messages on stderr."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleDimensions, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from medsegkit.registry import ComponentStatus

PIPED_WIDTH = 1000  # columns of a console whose stream is a file or a pipe: paths and table rows stay whole


class _Console(Console):
    """A rich console that wraps at its own stream's terminal width, and not at all (``PIPED_WIDTH``) when the
    stream is a file or a pipe (``2>log``, ``| less``, a batch job), unless ``COLUMNS`` says otherwise; rich
    alone would take another stream's terminal width, or 80 columns."""

    @property
    def size(self) -> ConsoleDimensions:
        dimensions = super().size
        if self._width is None and not self.is_terminal and "COLUMNS" not in self._environ:
            return ConsoleDimensions(PIPED_WIDTH, dimensions.height)
        return dimensions

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


out = _Console(highlight=False)
err = _Console(stderr=True, highlight=False)


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
    table.add_column("kind", no_wrap=True)
    table.add_column("name", no_wrap=True)
    for column in ("distribution", "target", "status"):
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


METRIC_LABELS: dict[str, str] = {
    "dice": "Dice ↑",
    "hm": "HM (1 − Jaccard) ↓",
    "xor": "XOR ↓",
    "hd": "HD ↓",
    "hd95": "HD95 pooled ↓",
    "hd95_max": "HD95 max-directed ↓",
    "asd": "ASD pred→gt ↓",
    "assd": "ASSD pooled ↓",
    "assd_mean": "ASSD mean-directed ↓",
    "vcdr_err": "|vCDR error| ↓",
}


def evaluation_table(summary: dict[str, dict[str, Any]], title: str) -> Group:
    """``title`` on its own line (it wraps at the console's width, not the table's), then one column per run;
    per structure, rows of ``mean ± std (median)`` per metric, then counts."""
    runs = list(summary)
    table = Table()
    table.add_column("structure")
    table.add_column("metric")
    for run in runs:
        table.add_column(escape(run), justify="right", overflow="fold")
    structures = list(dict.fromkeys(s for run in runs for s in summary[run]))
    for structure in structures:
        entries = [summary[run].get(structure) for run in runs]
        metrics = list(dict.fromkeys(m for e in entries if e for m in e["metrics"]))
        for i, metric in enumerate(metrics):
            cells = []
            for e in entries:
                stat = e["metrics"].get(metric) if e else None
                cells.append("–" if stat is None else f"{stat['mean']:.4f} ± {stat['std']:.4f} ({stat['median']:.4f})")
            table.add_row(structure if i == 0 else "", METRIC_LABELS.get(metric, metric), *cells)
        table.add_row("", "cases", *[str(e["cases"]) if e else "0" for e in entries])
        table.add_row(
            "",
            "empty pred / gt / both",
            *[f"{e['empty']['pred']} / {e['empty']['gt']} / {e['empty']['both']}" if e else "–" for e in entries],
            end_section=True,
        )
    table.caption = "mean ± std (median); distances exclude cases where one mask is empty (counted above)"
    return Group(Text(title), table)
