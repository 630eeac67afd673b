"""``prepare`` and ``info``: public raw layouts to the canonical dataset layout, and its summary."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from medsegkit import report
from medsegkit.cli._common import DataRootOpt, handle_errors, out_option, progress


@handle_errors
def prepare(
    kind: Annotated[
        str,
        typer.Argument(
            help="Reader for the raw layout: ph2, dofe-fundus, drishti-gs, refuge, origa, folder, "
            "synthetic-dermoscopy, "
            "synthetic-fundus, or a plugin's (see `medsegkit plugins list --kind readers`)."
        ),
    ],
    src: Annotated[
        Path | None,
        typer.Argument(
            help="Folder in the reader's raw layout (not used by the synthetic generators).", show_default=False
        ),
    ] = None,
    out: Annotated[Path | None, out_option("<data root>/<dataset name>")] = None,
    data_root: DataRootOpt = None,
    name: Annotated[
        str | None,
        typer.Option(help="Dataset name stored in dataset.json and used for the default --out.", show_default=False),
    ] = None,
    domain: Annotated[
        int | None,
        typer.Option(
            help="dofe-fundus: which DomainN of the release (1 Drishti-GS, 2 RIM-ONE-r3, 3 REFUGE train, 4 "
            "REFUGE val).",
            show_default=False,
        ),
    ] = None,
    crop_size: Annotated[
        int | None,
        typer.Option(
            help="drishti-gs, refuge: side of the disc-centred ROI crop in source pixels (drishti-gs default "
            "800; refuge default: no crop).",
            show_default=False,
        ),
    ] = None,
    resize: Annotated[
        int | None,
        typer.Option(
            help="drishti-gs, refuge: resize the (cropped) image to N x N after cropping.", show_default=False
        ),
    ] = None,
    min_experts: Annotated[
        int | None,
        typer.Option(
            help="drishti-gs: a pixel is labelled when at least this many of the 4 experts marked it (default 2).",
            show_default=False,
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            help="folder: label set, 'lesion' (0/1) or 'fundus' (0 background, 1 rim, 2 cup).", show_default=False
        ),
    ] = None,
    mask_map: Annotated[
        str | None,
        typer.Option(help="folder: raw mask value to label, e.g. '0:0,255:1' (the default).", show_default=False),
    ] = None,
    count: Annotated[
        int | None, typer.Option(help="synthetic-*: number of cases (default 20).", show_default=False)
    ] = None,
    size: Annotated[
        int | None, typer.Option(help="synthetic-*: image side in pixels (default 256).", show_default=False)
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="synthetic-*: random seed; case i depends only on (seed, i, style) (default 0).", show_default=False
        ),
    ] = None,
    style: Annotated[
        str | None,
        typer.Option(
            help="synthetic-fundus: acquisition style 'a' or 'b' (a domain shift between them).", show_default=False
        ),
    ] = None,
    test_fraction: Annotated[
        float | None,
        typer.Option(
            help="synthetic-*: share of cases in the test split (default 0.25); layouts without splits "
            "(origa, ph2, folder): "
            "hold out this share as a test split, chosen by case id.",
            show_default=False,
        ),
    ] = None,
    opt: Annotated[
        list[str] | None,
        typer.Option("--opt", help="Option for a plugin reader, as key=value; repeatable.", show_default=False),
    ] = None,
) -> None:
    """Turn a public dataset's raw layout into the canonical layout (images/, masks/, dataset.json).

    The dataset is written to a temporary folder and moved into place at the end, so an
    interrupted run leaves no half dataset, and a rerun gives the same files.
    """
    from medsegkit.config import parse_pairs
    from medsegkit.data.dataset import data_root as resolve_root
    from medsegkit.data.prepare import prepare as run_prepare

    given = {
        "domain": domain, "crop_size": crop_size, "resize": resize, "min_experts": min_experts, "task": task,
        "mask_map": mask_map, "count": count, "size": size, "seed": seed, "style": style,
        "test_fraction": test_fraction,
    }  # fmt: skip
    options = {k: v for k, v in given.items() if v is not None} | parse_pairs(opt or [], flag="--opt")
    command = shlex.join(["medsegkit", *sys.argv[1:]]) if sys.argv and "medsegkit" in sys.argv[0] else None
    bar = progress(f"prepare {kind}", transient=True)
    target, manifest = run_prepare(
        kind, src, out, resolve_root(data_root), options, name=name, progress=bar, command=command
    )
    report.out.print(report.dataset_table(manifest, str(target)))


@handle_errors
def info(
    dataset: Annotated[
        str,
        typer.Argument(
            help="Prepared dataset: a folder with dataset.json, or a name under the data root (ph2, "
            "drishti-gs, domain1, ...)."
        ),
    ],
    data_root: DataRootOpt = None,
) -> None:
    """Show the summary of a prepared dataset."""
    from medsegkit.data.dataset import Dataset, resolve_dataset
    from medsegkit.data.dataset import data_root as resolve_root

    path = resolve_dataset(dataset, resolve_root(data_root))
    report.out.print(report.dataset_table(Dataset.open(path).manifest, str(path)))


def register(app: typer.Typer) -> None:
    app.command()(prepare)
    app.command()(info)
