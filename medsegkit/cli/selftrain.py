"""``self-train``: one network for a folder, trained on its cluster run's blind masks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medsegkit.cli import _common as common
from medsegkit.cli import console
from medsegkit.cli.report import report_hint
from medsegkit.lesion.config import SelfTrainConfig

D = SelfTrainConfig()
HELP = {
    "run": "The output folder of `medsegkit cluster` (its masks, images and confidences are the teacher).",
    "steps": f"Optimiser steps ({D.steps}), whatever the folder's size; checkpointed every {D.steps_per_epoch}.",
    "encoder": f"Encoder of the DeepLabv3+ ({D.encoder}): efficientnet-lite0/1/2 or a segmentation-models-pytorch "
    "name.",
    "encoder_weights": f"{D.encoder_weights} (ImageNet weights when 'medsegkit\\[pretrained]' is installed, else "
    "random initialisation), imagenet, none, or an encoder state-dict file; nothing is downloaded.",
    "batch_size": f"Images per step, at least 2 ({D.batch_size}); per process under torchrun.",
    "lr": f"AdamW peak learning rate ({D.lr}); warm-up over the first tenth of the steps, then cosine decay.",
    "band": f"Ignored band on each side of every teacher mask's boundary, a share of the image side ({D.band}).",
    "weighting": f"confidence: each image's loss weighted by the cluster run's confidence ({D.weighting}); none.",
    "gce_q": f"q of the generalised cross-entropy (1 - p^q)/q that the network learns with ({D.gce_q}, Zhang and "
    "Sabuncu's setting for noisy labels): pixels whose teacher label it confidently contradicts pull less; 0 is "
    "the plain cross-entropy.",
    "combine": "Keep an image's cluster mask where the cluster run was more confident in it than the network is "
    "in its own (on).",
    "resume": "Continue an interrupted training in --out from its last checkpoint (same config).",
}


@common.handle_errors
def self_train(
    run: Annotated[Path, typer.Argument(help=HELP["run"])],
    out: Annotated[Path | None, common.out_option("runs/self-train-<run>")] = None,
    steps: Annotated[int | None, common.opt(HELP["steps"])] = None,
    encoder: Annotated[str | None, common.opt(HELP["encoder"])] = None,
    encoder_weights: Annotated[str | None, common.opt(HELP["encoder_weights"])] = None,
    batch_size: Annotated[int | None, common.opt(HELP["batch_size"])] = None,
    lr: Annotated[float | None, common.opt(HELP["lr"])] = None,
    band: Annotated[float | None, common.opt(HELP["band"])] = None,
    weighting: Annotated[str | None, common.opt(HELP["weighting"])] = None,
    gce_q: Annotated[float | None, common.opt(HELP["gce_q"])] = None,
    combine: Annotated[bool | None, common.opt(HELP["combine"], "--combine/--no-combine")] = None,
    seed: common.SeedOpt = None,
    config: common.ConfigOpt = None,
    set_: common.SetOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help=HELP["resume"])] = False,
    device: common.DeviceOpt = "auto",
    threads: common.ThreadsOpt = None,
) -> None:
    """Train one DeepLabv3+ on a cluster run's blind masks (confident images weigh more, boundaries are ignored),
    then write the folder's new masks, overlays, predictions.csv and review.csv in the layout of cluster, and
    model.pt for `medsegkit predict` on new images. A rerun continues an interrupted prediction; --resume an
    interrupted training."""
    from medsegkit import config as config_module
    from medsegkit.lesion.selftrain.train import self_train as run_self_train
    from medsegkit.runtime.job import Job

    flags = {
        "steps": steps, "encoder": encoder, "encoder_weights": encoder_weights, "batch_size": batch_size, "lr": lr,
        "band": band, "weighting": weighting, "gce_q": gce_q, "combine": combine, "seed": seed,
    }  # fmt: skip
    cfg = config_module.load(SelfTrainConfig, config, config_module.overrides(set_, flags), "self-train")
    job = Job(out, Path("data"), device, common.staged, threads)
    destination, manifest = run_self_train(str(run), cfg, job, resume)
    if not manifest:
        return  # a torchrun rank other than 0
    training, spent = manifest["training"], manifest["prediction"]
    cpu = training.get("total_train_cpu_seconds")  # absent in a run trained before CPU time was recorded
    console.out.print(
        f"{manifest['finished']}/{manifest['input']['images']} images segmented in {destination} on "
        f"{manifest['device']} (training {training['total_train_seconds']:.0f} s"
        + (f", CPU {cpu:.0f} s" if cpu is not None else "")
        + f"; prediction {spent['seconds']:.1f} s, CPU {spent['cpu_seconds']:.1f} s); model.pt predicts new "
        "images; see review.csv"
    )
    console.err.print(report_hint([destination]), soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("self-train")(self_train)
