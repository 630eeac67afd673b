"""``pretrain-source``, ``refine`` and ``adapt``: source-free domain adaptation for optic disc and cup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medsegkit import report
from medsegkit.cli._common import (
    ConfigOpt,
    DataRootOpt,
    DeviceOpt,
    ResumeOpt,
    SeedOpt,
    SetOpt,
    handle_errors,
    out_option,
    staged,
)
from medsegkit.config import default
from medsegkit.fundus.config import DEFAULT_LOSS, AdaptConfig, RefineConfig, SourceConfig

MethodOpt = Annotated[
    str | None,
    typer.Option(
        help="cpr (context-aware refinement), cpr-cbam (CBAM in the similarity head) or dpl (denoising "
        "without context) "
        f"(default {default(RefineConfig, 'method')}).",
        show_default=False,
    ),
]
PassesOpt = Annotated[
    int | None,
    typer.Option(
        help=f"MC-dropout passes ({default(RefineConfig, 'passes')}; the paper uses 100).", show_default=False
    ),
]


def _opt(help_text: str) -> typer.models.OptionInfo:
    return typer.Option(help=help_text, show_default=False)


@handle_errors
def pretrain_source(
    domain: Annotated[
        str,
        typer.Option(
            help="Labelled source fundus dataset: a prepared dataset folder or a name under the data root "
            "(drishti-gs, refuge, ...)."
        ),
    ],
    epochs: Annotated[int | None, _opt(f"Training epochs ({default(SourceConfig, 'epochs')}).")] = None,
    size: Annotated[
        int | None, _opt(f"Training and validation resolution, a multiple of 16 ({default(SourceConfig, 'size')}).")
    ] = None,
    encoder: Annotated[
        str | None, _opt(f"segmentation-models-pytorch encoder of the DeepLabv3+ ({default(SourceConfig, 'encoder')}).")
    ] = None,
    encoder_weights: Annotated[
        str | None,
        _opt("none (default), imagenet (only from the local cache; nothing is downloaded) or a state-dict file."),
    ] = None,
    batch_size: Annotated[
        int | None, _opt(f"Images per step, at least 2 ({default(SourceConfig, 'batch_size')}).")
    ] = None,
    lr: Annotated[float | None, _opt(f"Adam learning rate ({default(SourceConfig, 'lr')}).")] = None,
    aspp_dropout: Annotated[
        float | None,
        _opt(f"Dropout inside the ASPP ({default(SourceConfig, 'aspp_dropout')}); also the MC-dropout of refine."),
    ] = None,
    head_dropout: Annotated[
        float | None,
        _opt(f"Dropout before the 1x1 head ({default(SourceConfig, 'head_dropout')}); also used by MC dropout."),
    ] = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    out: Annotated[Path | None, out_option("runs/source-<dataset>")] = None,
    resume: ResumeOpt = False,
    device: DeviceOpt = "auto",
    data_root: DataRootOpt = None,
) -> None:
    """Train the source-domain DeepLabv3+ (cup and disc) with augmentation; saves best.pt, last.pt and the config."""
    from medsegkit import config as config_module
    from medsegkit.data.dataset import data_root as resolve_root
    from medsegkit.fundus.source import pretrain

    flags = {
        "epochs": epochs, "size": size, "encoder": encoder, "encoder_weights": encoder_weights,
        "batch_size": batch_size,
        "lr": lr, "seed": seed, "aspp_dropout": aspp_dropout, "head_dropout": head_dropout,
    }  # fmt: skip
    overrides = config_module.overrides(set_, flags)
    cfg = config_module.load(SourceConfig, config, overrides, "pretrain-source")
    destination, result = pretrain(domain, out, cfg, resolve_root(data_root), device, resume, staged)
    if not result:
        return  # a torchrun rank other than 0
    for record in result["history"][-3:]:
        report.out.print(
            f"epoch {record['epoch']}: loss {record['loss']:.4f}, validation Dice disc {record['val_dice_disc']:.4f} "
            f"cup {record['val_dice_cup']:.4f} ({record['seconds']:.1f} s)"
        )
    report.out.print(f"checkpoints in {destination} (best.pt, last.pt, config.toml, history.json)")


@handle_errors
def refine(
    source: Annotated[
        Path,
        typer.Option(
            "--source",
            help="Source checkpoint from pretrain-source (best.pt or last.pt); the source images are never read.",
        ),
    ],
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="Unlabelled target fundus dataset (path or name under the data root); its train images are "
            "used, never its masks.",
        ),
    ],
    method: MethodOpt = None,
    passes: PassesOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    out: Annotated[Path | None, out_option("runs/refine-<method>-<target>")] = None,
    seed: SeedOpt = None,
    device: DeviceOpt = "auto",
    data_root: DataRootOpt = None,
) -> None:
    """Make denoised pseudo-labels for the target's train images: pseudo/, weights/, prob/, overlays/ and a manifest."""
    import numpy as np

    from medsegkit import config as config_module
    from medsegkit.data.dataset import data_root as resolve_root
    from medsegkit.fundus.refine import refine_target

    overrides = config_module.overrides(set_, {"method": method, "passes": passes, "seed": seed})
    cfg = config_module.load(RefineConfig, config, overrides, "refine")
    destination, manifest = refine_target(source, target, out, cfg, resolve_root(data_root), device, staged)
    kept = np.mean([c["kept"] for c in manifest["cases"]]) if manifest["cases"] else 0.0
    report.out.print(
        f"{len(manifest['cases'])} pseudo-labels in {destination} ({100 * kept:.1f}% of pixels kept by "
        f"denoising; {manifest['seconds']:.1f} s)"
    )


@handle_errors
def adapt(
    source_domain: Annotated[
        str, typer.Option("--from", help="Source domain name or dataset; names the run and the default --source.")
    ],
    target: Annotated[
        str,
        typer.Option(
            "--to",
            help="Target fundus dataset (path or name under the data root): train images adapt, test split scores.",
        ),
    ],
    source: Annotated[
        Path | None,
        typer.Option(
            "--source",
            help="Source checkpoint. Default: runs/source-<from>/best.pt; when it is missing, adapt stops and "
            "says how to train it.",
            show_default=False,
        ),
    ] = None,
    method: MethodOpt = None,
    loss: Annotated[
        str | None,
        _opt(
            "Training loss from the medsegkit.losses registry, called as loss(logits, target, weight): "
            + ", ".join(f"{v} (default for {k})" for k, v in DEFAULT_LOSS.items())
            + ", or a plugin's."
        ),
    ] = None,
    epochs: Annotated[int | None, _opt(f"Adaptation epochs ({default(AdaptConfig, 'epochs')}).")] = None,
    batch_size: Annotated[
        int | None, _opt(f"Images per step, at least 2 ({default(AdaptConfig, 'batch_size')}).")
    ] = None,
    lr: Annotated[float | None, _opt(f"Adam learning rate ({default(AdaptConfig, 'lr')}).")] = None,
    threshold: Annotated[
        float | None,
        _opt(
            f"Probability threshold of the test-split predictions, source-only and adapted alike "
            f"({default(AdaptConfig, 'threshold')}, as DPL's and CPR's evaluation)."
        ),
    ] = None,
    passes: PassesOpt = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML with adapt options as flat keys and refine options in a [refine] table; flags override it.",
            show_default=False,
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="A refine option as key=value (see docs/adaptation.md); repeatable.", show_default=False
        ),
    ] = None,
    out: Annotated[Path | None, out_option("runs/adapt-<method>-<from>-to-<to>")] = None,
    resume: ResumeOpt = False,
    seed: SeedOpt = None,
    device: DeviceOpt = "auto",
    data_root: DataRootOpt = None,
) -> None:
    """Adapt a source model to an unlabelled target without the source data, then score source-only against adapted."""
    from medsegkit import config as config_module
    from medsegkit.data.dataset import data_root as resolve_root
    from medsegkit.fundus.pipeline import adapt_target

    flags = {
        "method": method,
        "loss": loss,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "threshold": threshold,
        "seed": seed,
    }
    cfg = config_module.load(AdaptConfig, config, flags, "adapt")
    # refinement follows the adaptation's method; --set and --passes override the [refine] table
    refine_flags = config_module.overrides(set_, {"method": cfg.method, "passes": passes, "seed": seed})
    refine_cfg = config_module.load(RefineConfig, config, refine_flags, "adapt (refine options)", table="refine")
    destination, summary = adapt_target(
        source, source_domain, target, out, cfg, refine_cfg, resolve_root(data_root), device, resume, staged
    )
    if summary:
        report.out.print(
            report.evaluation_table(
                summary, f"{Path(source_domain).name} -> {Path(target).name} ({cfg.method}); {destination}"
            )
        )


def register(app: typer.Typer) -> None:
    app.command("pretrain-source")(pretrain_source)
    app.command()(refine)
    app.command()(adapt)
