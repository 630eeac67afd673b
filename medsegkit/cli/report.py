"""``report``: one self-contained HTML page for one or several runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medsegkit.cli import _common as common
from medsegkit.cli import console

HELP = {
    "runs": "Run folders with masks/ (cluster, predict, an adapt run's source-only/ and adapted/, evaluate inputs); "
    "several are shown side by side per case.",
    "gt": "Prepared dataset with ground truth (path or name under the data root): adds the metric table and sorts "
    "the gallery by Dice, worst first. Without it the gallery is sorted by the run's confidence, least first.",
    "out": "The HTML file to write (default: report.html in the first run's folder).",
    "label": "Name of each run on the page, in order (repeatable; default: the folder names).",
    "max_cases": "Most cases in the gallery (200); the tables list every case.",
    "allow_missing": "Show a run some of whose listed cases have lost their mask, instead of refusing it.",
    "resize": "With --gt: stretch a mask whose aspect ratio differs from its ground truth's (as evaluate --resize).",
}


def report_hint(runs: list[Path], gt: str | None = None) -> str:
    """The command that makes the page of ``runs``, for verbs to print when they finish."""
    import shlex

    words = ["medsegkit", "report", *(str(r) for r in runs)] + (["--gt", gt] if gt else [])
    return f"look at it: {shlex.join(words)}"


@common.handle_errors
def report_(
    runs: Annotated[list[Path], typer.Argument(help=HELP["runs"])],
    gt: Annotated[str | None, common.opt(HELP["gt"])] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help=HELP["out"], show_default=False)] = None,
    label: Annotated[list[str] | None, common.opt(HELP["label"])] = None,
    max_cases: Annotated[int, typer.Option(help=HELP["max_cases"], show_default=False)] = 200,
    allow_missing: Annotated[bool, typer.Option("--allow-missing", help=HELP["allow_missing"])] = False,
    resize: Annotated[bool, typer.Option("--resize", help=HELP["resize"])] = False,
    data_root: common.DataRootOpt = None,
) -> None:
    """Write one self-contained HTML page (embedded images, inline plots, no external files) showing the runs:
    settings, metrics with --gt, a sortable per-case table and a gallery of overlays, worst first."""
    from medsegkit.data.dataset import Dataset, resolve_dataset
    from medsegkit.data.dataset import data_root as resolve_root
    from medsegkit.errors import UsageError
    from medsegkit.report import build
    from medsegkit.runtime.atomic import write_text_atomic

    if label and len(label) != len(runs):
        raise UsageError(f"--label given {len(label)} times for {len(runs)} runs; give one per run or none")
    if max_cases < 1:
        raise UsageError(f"--max-cases must be at least 1, got {max_cases}")
    ds = Dataset.open(resolve_dataset(gt, resolve_root(data_root))) if gt else None
    target = out or runs[0] / "report.html"
    write_text_atomic(target, build(runs, ds, label, max_cases, allow_missing, resize))
    console.out.print(f"report in {target}")


def register(app: typer.Typer) -> None:
    app.command("report")(report_)
