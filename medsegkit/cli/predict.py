"""``predict``: a lesion (self-train) or fundus (pretrain-source, adapt) checkpoint applied to new images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medsegkit.cli import _common as common
from medsegkit.cli import console
from medsegkit.cli.report import report_hint
from medsegkit.fundus.config import AdaptConfig
from medsegkit.lesion.config import SelfTrainConfig

HELP = {
    "checkpoint": "A checkpoint from self-train (model.pt), pretrain-source (best.pt, last.pt) or adapt (last.pt); "
    "its working size is used.",
    "images": "A folder of images, or a prepared dataset (path or name under the data root).",
    "threshold": f"Probability threshold (default: the checkpoint's task's; fundus disc and cup "
    f"{AdaptConfig.threshold} as adapt's predictions, lesion {SelfTrainConfig.threshold}).",
    "uncertainty": "MC-dropout passes; with N > 0, predictions.csv gets each structure's mean uncertainty (0: off).",
    "batch_size": "Images per forward pass (8).",
    "precision": "Numeric precision of the network: fp32, bf16 (bfloat16 autocast; about twice as fast on CPUs with "
    "AVX512-BF16 or AMX; on the lesion dev images every mask kept a Dice of at least 0.95 with its fp32 "
    "mask), or auto: bf16 where the device runs it natively, else fp32. The choice is recorded in manifest.json.",
    "shard": "Process shard i of N (0-based 'i/N'); default: RANK/WORLD_SIZE under torchrun, else all images.",
    "fail_fast": "Stop at the first image that cannot be read, instead of recording it in failed.csv and going on.",
    "tta": "Test-time flips: average each image's probabilities with its mirror image's (fundus) or its two flips' "
    "(lesion); twice or three times the network's time.",
}


@common.handle_errors
def predict(
    checkpoint: Annotated[Path, typer.Argument(help=HELP["checkpoint"])],
    images: Annotated[str, typer.Argument(help=HELP["images"])],
    out: Annotated[Path | None, common.out_option("runs/predict-<images>")] = None,
    threshold: Annotated[float | None, typer.Option(help=HELP["threshold"], show_default=False)] = None,
    uncertainty: Annotated[int, typer.Option(help=HELP["uncertainty"], show_default=False)] = 0,
    batch_size: Annotated[int, typer.Option(help=HELP["batch_size"], show_default=False)] = 8,
    shard: Annotated[str | None, common.opt(HELP["shard"])] = None,
    precision: Annotated[str, typer.Option(help=HELP["precision"])] = "auto",
    fail_fast: Annotated[bool, typer.Option("--fail-fast", help=HELP["fail_fast"])] = False,
    tta: Annotated[bool, typer.Option("--tta", help=HELP["tta"])] = False,
    device: common.DeviceOpt = "auto",
    threads: common.ThreadsOpt = None,
    data_root: common.DataRootOpt = None,
) -> None:
    """Masks (canonical labels at each image's size), overlays and predictions.csv for every image: disc and cup
    area and vertical cup-to-disc ratio for a fundus checkpoint, lesion area and confidence (and review.csv, least
    confident first) for a lesion one; optionally MC-dropout uncertainty. A rerun skips finished images. Images that
    cannot be read are listed in failed.csv and the exit code is 1."""
    from medsegkit.data.dataset import data_root as resolve_root
    from medsegkit.predict import predict as run
    from medsegkit.runtime.job import Job

    job = Job(out, resolve_root(data_root), device, common.progress("predict"), threads)
    destination, manifest = run(
        checkpoint, images, job, threshold, uncertainty, batch_size, shard, precision, fail_fast, tta
    )
    if manifest:
        done, total = manifest["finished"], manifest["input"]["images"]
        spent = manifest["prediction"]
        console.out.print(
            f"{done}/{total} images predicted in {destination} on {manifest['device']} ({spent['images']} now, "
            f"{spent['seconds']:.1f} s, CPU {spent['cpu_seconds']:.1f} s); see predictions.csv"
        )
        console.err.print(report_hint([destination]), soft_wrap=True)
        if manifest["failed"]:
            where = destination / "failed.csv"
            common.fail(f"{len(manifest['failed'])} image(s) could not be read; listed with the reason in {where}", 1)


def register(app: typer.Typer) -> None:
    app.command()(predict)
