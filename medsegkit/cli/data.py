"""``prepare`` and ``info``: public raw layouts to the canonical dataset layout, and its summary."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from medsegkit.cli import console
from medsegkit.cli._common import DataRootOpt, handle_errors, opt, out_option, progress
from medsegkit.data.readers.drishti import DrishtiOptions
from medsegkit.data.readers.folder import FolderOptions
from medsegkit.data.synthetic.common import SyntheticOptions

DRISHTI, FOLDER, SYNTHETIC = DrishtiOptions(), FolderOptions(), SyntheticOptions()
HELP = {
    "kind": "Reader for the raw layout: ph2, isic, ham10000, dofe-fundus, drishti-gs, refuge, origa, folder, "
    "synthetic-dermoscopy, synthetic-fundus, shifted (a prepared dataset zoomed and re-lit for stress tests: "
    "--opt zoom=1.4 --opt brightness=0.6 --opt contrast=0.8 --opt gamma=1.3 --opt blur=1), or a plugin's "
    "(see `medsegkit plugins list --kind readers`).",
    "src": "Folder in the reader's raw layout (not used by the synthetic generators).",
    "name": "Dataset name stored in dataset.json and used for the default --out.",
    "domain": "dofe-fundus: which DomainN of the release (1 Drishti-GS, 2 RIM-ONE-r3, 3 REFUGE train, 4 REFUGE val).",
    "crop_size": "drishti-gs, refuge: side of the disc-centred ROI crop in source pixels (drishti-gs default "
    f"{DRISHTI.crop_size}; refuge default: no crop).",
    "resize": "drishti-gs, refuge: resize the (cropped) image to N x N after cropping.",
    "min_experts": "drishti-gs: a pixel is labelled when at least this many of the 4 experts marked it "
    f"(default {DRISHTI.min_experts}).",
    "task": f"folder: label set, 'lesion' (0/1) or 'fundus' (0 background, 1 rim, 2 cup) (default {FOLDER.task}).",
    "mask_map": f"folder: raw mask value to label, e.g. '0:0,255:1' (default '{FOLDER.mask_map}').",
    "count": f"synthetic-*: number of cases (default {SYNTHETIC.count}).",
    "size": f"synthetic-*: image side in pixels (default {SYNTHETIC.size}).",
    "seed": f"synthetic-*: random seed; case i depends only on (seed, i, style) (default {SYNTHETIC.seed}).",
    "style": "synthetic-fundus: acquisition style 'a' or 'b' (a domain shift between them).",
    "test_fraction": f"synthetic-*: share of cases in the test split (default {SYNTHETIC.test_fraction}); layouts "
    "without splits (origa, "
    "ph2, folder): hold out this share as a test split, chosen by case id.",
    "opt": "Option for a plugin reader, as key=value; repeatable.",
    "dataset": "Prepared dataset: a folder with dataset.json, or a name under the data root (ph2, drishti-gs, ...).",
}


@handle_errors
def prepare(
    kind: Annotated[str, typer.Argument(help=HELP["kind"])],
    src: Annotated[Path | None, typer.Argument(help=HELP["src"], show_default=False)] = None,
    out: Annotated[Path | None, out_option("<data root>/<dataset name>")] = None,
    data_root: DataRootOpt = None,
    name: Annotated[str | None, opt(HELP["name"])] = None,
    domain: Annotated[int | None, opt(HELP["domain"])] = None,
    crop_size: Annotated[int | None, opt(HELP["crop_size"])] = None,
    resize: Annotated[int | None, opt(HELP["resize"])] = None,
    min_experts: Annotated[int | None, opt(HELP["min_experts"])] = None,
    task: Annotated[str | None, opt(HELP["task"])] = None,
    mask_map: Annotated[str | None, opt(HELP["mask_map"])] = None,
    count: Annotated[int | None, opt(HELP["count"])] = None,
    size: Annotated[int | None, opt(HELP["size"])] = None,
    seed: Annotated[int | None, opt(HELP["seed"])] = None,
    style: Annotated[str | None, opt(HELP["style"])] = None,
    test_fraction: Annotated[float | None, opt(HELP["test_fraction"])] = None,
    extra: Annotated[list[str] | None, opt(HELP["opt"], "--opt")] = None,
) -> None:
    """Turn a public dataset's raw layout into the canonical layout (images/, masks/, dataset.json).

    The dataset is written to a temporary folder and moved into place at the end, so an
    interrupted run leaves no half dataset, and a rerun gives the same files.
    """
    from medsegkit.config import overrides
    from medsegkit.data.dataset import data_root as resolve_root
    from medsegkit.data.prepare import prepare as run_prepare

    given = {
        "domain": domain, "crop_size": crop_size, "resize": resize, "min_experts": min_experts, "task": task,
        "mask_map": mask_map, "count": count, "size": size, "seed": seed, "style": style,
        "test_fraction": test_fraction,
    }  # fmt: skip
    options = overrides(extra, given, flag="--opt")
    command = shlex.join(["medsegkit", *sys.argv[1:]]) if sys.argv and "medsegkit" in sys.argv[0] else None
    bar = progress(f"prepare {kind}", transient=True)
    target, manifest = run_prepare(
        kind, src, out, resolve_root(data_root), options, name=name, progress=bar, command=command
    )
    console.out.print(console.dataset_table(manifest, str(target)))


@handle_errors
def info(dataset: Annotated[str, typer.Argument(help=HELP["dataset"])], data_root: DataRootOpt = None) -> None:
    """Show the summary of a prepared dataset."""
    from medsegkit.data.dataset import Dataset, resolve_dataset
    from medsegkit.data.dataset import data_root as resolve_root

    path = resolve_dataset(dataset, resolve_root(data_root))
    console.out.print(console.dataset_table(Dataset.open(path).manifest, str(path)))


def register(app: typer.Typer) -> None:
    app.command()(prepare)
    app.command()(info)
