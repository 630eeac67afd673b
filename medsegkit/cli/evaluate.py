"""``evaluate``: score prediction folders against a prepared dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medsegkit.cli import console
from medsegkit.cli._common import DataRootOpt, handle_errors, out_option, progress
from medsegkit.cli.report import report_hint
from medsegkit.errors import MedsegkitError


@handle_errors
def evaluate(
    predictions: Annotated[
        list[Path],
        typer.Argument(
            help="One or more prediction folders (masks/<case>.png, clusters/<case>.png, or flat <case>.png); "
            "several give one comparison table."
        ),
    ],
    gt: Annotated[
        str, typer.Option("--gt", help="Ground truth: a prepared dataset folder or a name under the data root.")
    ],
    data_root: DataRootOpt = None,
    split: Annotated[
        str | None,
        typer.Option(
            help="Split of the dataset to score. Default: 'test' if the dataset has one, else 'all'.",
            show_default=False,
        ),
    ] = None,
    select: Annotated[
        str,
        typer.Option(
            help="'blind': the mask the method chose without ground truth (masks/); 'best-overlap': from a "
            "cluster map, the "
            "cluster with most pixels inside the ground truth."
        ),
    ] = "blind",
    protocol: Annotated[
        str,
        typer.Option(
            help="'standard', or 'ssct' to reproduce the official S3-Net evaluation, which multiplies "
            "predictions by the dilated "
            "ground truth (a ground-truth leak, flagged in every output)."
        ),
    ] = "standard",
    at_size: Annotated[
        int | None,
        typer.Option(
            help="Score at N x N (both resized, nearest) instead of at the ground truth's resolution, as some "
            "papers do.",
            show_default=False,
        ),
    ] = None,
    spacing: Annotated[
        str | None,
        typer.Option(
            help="Pixel size of the ground truth, 'S' or 'ROW,COL' (e.g. mm): distances in that unit instead "
            "of pixels.",
            show_default=False,
        ),
    ] = None,
    resize: Annotated[
        bool,
        typer.Option(
            "--resize",
            help="Stretch (nearest) a prediction whose aspect ratio differs from its ground truth's instead of "
            "refusing it; one of the same aspect ratio and another size is always resized back.",
        ),
    ] = False,
    out: Annotated[Path | None, out_option("<prediction>/evaluation for one run, ./evaluation for several")] = None,
    allow_missing: Annotated[
        bool,
        typer.Option("--allow-missing", help="Exit 0 even when some cases have no prediction (they are still listed)."),
    ] = False,
) -> None:
    """Score predictions against a prepared dataset: Dice, HM, XOR, HD, HD95, ASD/ASSD (and vCDR for fundus)."""
    from medsegkit import config as config_module
    from medsegkit import evaluation as ev
    from medsegkit.data.dataset import Dataset, resolve_dataset
    from medsegkit.data.dataset import data_root as resolve_root

    ds = Dataset.open(resolve_dataset(gt, resolve_root(data_root)))
    values = {
        "split": split, "select": select, "protocol": protocol, "at_size": at_size, "spacing": spacing, "resize": resize
    }  # fmt: skip
    settings = config_module.build(ev.EvalSettings, {k: v for k, v in values.items() if v is not None}, "evaluate")
    target = (
        out if out is not None else (predictions[0] / "evaluation" if len(predictions) == 1 else Path("evaluation"))
    )
    results, summary, document = ev.evaluate_runs(
        predictions, ds, settings, target, progress=progress("evaluate", transient=True)
    )
    title = (
        f"{ds.name} split {document['ground_truth']['split']}, select {settings.effective_select}, at "
        f"{document['resolution']} "
        f"resolution, distances in {document['distance_unit']}"
    )
    if settings.leaks_ground_truth:
        title = f"PROTOCOL SSCT: GROUND TRUTH LEAKS INTO PREDICTIONS (reproduction only). {title}"
        console.err.print(f"[bold yellow]warning:[/] {ev.SSCT_WARNING}")
    console.out.print(console.evaluation_table(summary, title))
    console.err.print(f"wrote {target / 'per_case.csv'} and {target / 'summary.json'}")
    console.err.print(report_hint(predictions, gt), soft_wrap=True)
    for line in ev.problems(results):
        console.err.print(f"[yellow]note:[/] {line}", soft_wrap=True)
    if any(r.missing for r in results) and not allow_missing:
        raise MedsegkitError("some cases have no prediction (listed above); pass --allow-missing to accept that")


def register(app: typer.Typer) -> None:
    app.command()(evaluate)
