"""``export``: a prepared dataset or a run's masks as an nnU-Net v2 raw dataset or a MONAI datalist."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medsegkit.cli import _common as common
from medsegkit.cli import console

HELP = {
    "source": "A prepared dataset (path or name under the data root), or a cluster, predict, refine or adapt run "
    "folder: its masks or pseudo-labels become the labels.",
    "format": "nnunet (Dataset<ID>_<Name>/imagesTr, labelsTr, imagesTs, dataset.json) or monai (images/, labels/, "
    "datalist.json with training, validation and test lists).",
    "out": "Folder to write into: nnunet writes Dataset<ID>_<Name> inside it (point it at nnUNet_raw); monai "
    "writes into it.",
    "dataset_id": "nnunet: the dataset number, 1-999; nnU-Net asks for 500 or more for your own data (501).",
    "name": "Dataset name (default: the source's).",
    "min_confidence": "Runs: leave out images whose confidence is below this (0: keep all; see review.csv); images "
    "reviewed with `medsegkit review` are always kept, those it excluded never.",
    "validation": "monai: share of training cases listed as validation, chosen by case id, when the source has no "
    "validation split; 0 <= share < 1 (0.2).",
    "allow_missing": "Leave out the cases of a run whose mask file is missing, instead of refusing the run.",
}


@common.handle_errors
def export(
    source: Annotated[str, typer.Argument(help=HELP["source"])],
    format_: Annotated[str, typer.Option("--format", "-f", help=HELP["format"])],
    out: Annotated[Path, typer.Option("--out", "-o", help=HELP["out"])],
    dataset_id: Annotated[int, typer.Option(help=HELP["dataset_id"], show_default=False)] = 501,
    name: Annotated[str | None, common.opt(HELP["name"])] = None,
    min_confidence: Annotated[float, typer.Option(help=HELP["min_confidence"], show_default=False)] = 0.0,
    validation: Annotated[float, typer.Option(help=HELP["validation"], show_default=False)] = 0.2,
    allow_missing: Annotated[bool, typer.Option("--allow-missing", help=HELP["allow_missing"])] = False,
    data_root: common.DataRootOpt = None,
) -> None:
    """Hand a dataset or a run's masks to a supervised tool: an nnU-Net v2 raw dataset or a MONAI datalist."""
    from medsegkit.data.dataset import data_root as resolve_root
    from medsegkit.data.dataset import resolve_dataset
    from medsegkit.data.export import export as run

    path = Path(source)
    if not path.is_dir():
        path = resolve_dataset(source, resolve_root(data_root))
    target, description = run(
        path,
        format_,
        out,
        dataset_id,
        name,
        min_confidence,
        validation,
        common.progress("export", transient=True),
        allow_missing,
    )
    if format_ == "nnunet":
        console.out.print(
            f"{description['numTraining']} training cases in {target}; check it with "
            f"`nnUNetv2_plan_and_preprocess -d {dataset_id} --verify_dataset_integrity` (nnUNet_raw={Path(out)})"
        )
    else:
        counts = ", ".join(f"{len(description[k])} {k}" for k in ("training", "validation", "test"))
        console.out.print(f"{counts} in {target / 'datalist.json'}")


def register(app: typer.Typer) -> None:
    app.command()(export)
