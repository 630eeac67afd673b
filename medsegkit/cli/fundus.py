"""``refine`` and ``adapt``: source-free domain adaptation for optic disc and cup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medsegkit.cli import _common as common
from medsegkit.cli import console
from medsegkit.cli.report import report_hint
from medsegkit.fundus.config import DEFAULT_LOSS, AdaptConfig, RefineConfig

R, A = RefineConfig(), AdaptConfig()
HELP = {
    "method": "cpr (context-aware refinement), cpr-cbam (CBAM in the similarity head) or dpl (denoising without "
    f"context) ({R.method}).",
    "passes": f"MC-dropout passes ({R.passes}; the paper uses 100).",
    "source": "Source checkpoint from pretrain-source (best.pt or last.pt); the source images are never read.",
    "target": "Unlabelled target fundus dataset (path or name under the data root); its train images are used, "
    "never its masks.",
    "from": "Source domain name or dataset; names the run and the default --source.",
    "to": "Target fundus dataset (path or name under the data root): train images adapt, test split scores.",
    "adapt_source": "Source checkpoint. Default: runs/source-<from>/best.pt; when it is missing, adapt stops and "
    "says how to train it.",
    "loss": "Training loss from the medsegkit.losses registry, called as loss(logits, target, weight): "
    + ", ".join(f"{v} (default for {k})" for k, v in DEFAULT_LOSS.items())
    + ", or a plugin's.",
    "epochs": f"Adaptation epochs ({A.epochs}).",
    "batch_size": f"Images per step, at least 2 ({A.batch_size}).",
    "lr": f"Adam learning rate ({A.lr}).",
    "threshold": "Probability threshold of the test-split predictions, source-only and adapted alike "
    f"({A.threshold}, as DPL's and CPR's evaluation).",
    "ema": "Mean-teacher momentum: above 0, an exponential moving average of the model relabels every batch on "
    "the pixels the method's denoising kept and is the adapted model (CBMT's idea); 0 trains on the fixed "
    f"refined pseudo-labels ({A.ema}).",
    "patience": "Early stopping by the label-free check: after every epoch score the adapted model on the target's "
    "images (mirror consistency of plausible predictions), keep the best epoch and stop after this many epochs "
    f"without a better one (the check then compares it with the source model); 0 trains every epoch ({A.patience}).",
    "config": "TOML with adapt options as flat keys and refine options in a [refine] table; flags override it.",
    "set": "A refine option as key=value (see docs/adaptation.md); repeatable.",
    "keep_adapted": "Output the adapted model even when the label-free check finds it worse than the source model "
    "on the target's images (less plausible anatomy, or less consistent when mirrored).",
}
MethodOpt = Annotated[str | None, common.opt(HELP["method"])]
PassesOpt = Annotated[int | None, common.opt(HELP["passes"])]


@common.handle_errors
def refine(
    source: Annotated[Path, typer.Option("--source", help=HELP["source"])],
    target: Annotated[str, typer.Option("--target", help=HELP["target"])],
    method: MethodOpt = None,
    passes: PassesOpt = None,
    config: common.ConfigOpt = None,
    set_: common.SetOpt = None,
    out: Annotated[Path | None, common.out_option("runs/refine-<method>-<target>")] = None,
    seed: common.SeedOpt = None,
    device: common.DeviceOpt = "auto",
    threads: common.ThreadsOpt = None,
    data_root: common.DataRootOpt = None,
) -> None:
    """Make denoised pseudo-labels for the target's train images: pseudo/, weights/, prob/, overlays/ and a manifest."""
    from medsegkit import config as config_module
    from medsegkit.data.dataset import data_root as resolve_root
    from medsegkit.fundus.refine import refine_target
    from medsegkit.runtime.job import Job

    flags = {"method": method, "passes": passes, "seed": seed}
    cfg = config_module.load(RefineConfig, config, config_module.overrides(set_, flags), "refine")
    destination, manifest = refine_target(
        source, target, cfg, Job(out, resolve_root(data_root), device, common.staged, threads)
    )
    kept = 100 * sum(c["kept"] for c in manifest["cases"]) / max(len(manifest["cases"]), 1)
    console.out.print(
        f"{len(manifest['cases'])} pseudo-labels in {destination} ({kept:.1f}% of pixels kept by denoising; "
        f"{manifest['seconds']:.1f} s)"
    )
    if cfg.method != "dpl":
        fell = manifest["fell_back"]
        console.out.print(
            f"refinement kept for cup in {len(manifest['cases']) - fell['cup']} and disc in "
            f"{len(manifest['cases']) - fell['disc']} images; the others fell back to the unrefined pseudo-label "
            "(refined labels agreed less with the prototypes)"
        )


@common.handle_errors
def adapt(
    source_domain: Annotated[str, typer.Option("--from", help=HELP["from"])],
    target: Annotated[str, typer.Option("--to", help=HELP["to"])],
    source: Annotated[Path | None, common.opt(HELP["adapt_source"], "--source")] = None,
    method: MethodOpt = None,
    loss: Annotated[str | None, common.opt(HELP["loss"])] = None,
    epochs: Annotated[int | None, common.opt(HELP["epochs"])] = None,
    batch_size: Annotated[int | None, common.opt(HELP["batch_size"])] = None,
    lr: Annotated[float | None, common.opt(HELP["lr"])] = None,
    threshold: Annotated[float | None, common.opt(HELP["threshold"])] = None,
    ema: Annotated[float | None, common.opt(HELP["ema"])] = None,
    patience: Annotated[int | None, common.opt(HELP["patience"])] = None,
    passes: PassesOpt = None,
    config: Annotated[Path | None, common.opt(HELP["config"], "--config")] = None,
    set_: Annotated[list[str] | None, common.opt(HELP["set"], "--set")] = None,
    out: Annotated[Path | None, common.out_option("runs/adapt-<method>-<from>-to-<to>")] = None,
    resume: common.ResumeOpt = False,
    keep_adapted: Annotated[bool, typer.Option("--keep-adapted", help=HELP["keep_adapted"])] = False,
    seed: common.SeedOpt = None,
    device: common.DeviceOpt = "auto",
    threads: common.ThreadsOpt = None,
    data_root: common.DataRootOpt = None,
) -> None:
    """Adapt a source model to an unlabelled target without the source data, score source-only against adapted,
    and check without labels whether adaptation helped: model.pt is the adapted model if it did, else the source
    model (check.json says why)."""
    from medsegkit import config as config_module
    from medsegkit.data.dataset import data_root as resolve_root
    from medsegkit.fundus.pipeline import adapt_target
    from medsegkit.runtime.job import Job

    flags = {"method": method, "loss": loss, "epochs": epochs, "batch_size": batch_size, "lr": lr, "ema": ema}
    flags |= {"patience": patience, "threshold": threshold, "seed": seed}
    cfg = config_module.load(AdaptConfig, config, flags, "adapt")
    # refinement follows the adaptation's method; --set and --passes override the [refine] table
    refine_flags = config_module.overrides(set_, {"method": cfg.method, "passes": passes, "seed": seed})
    refine_cfg = config_module.load(RefineConfig, config, refine_flags, "adapt (refine options)", table="refine")
    job = Job(out, resolve_root(data_root), device, common.staged, threads)
    destination, summary = adapt_target(source, source_domain, target, cfg, refine_cfg, job, resume, keep_adapted)
    if summary:
        check = summary.pop("check")
        title = f"{Path(source_domain).name} -> {Path(target).name} ({cfg.method}); {destination}"
        console.out.print(console.evaluation_table(summary, title))
        output = "the adapted model" if check["output"] == "adapted" else "the source model"
        if "epochs" in check:  # stopped early by the check
            console.out.print(
                f"early stopping: best epoch {check['epochs']['best']} of {check['epochs']['trained']} trained"
            )
        console.out.print(
            f"label-free check: {check['reason']}; {destination / 'model.pt'} is {output}"
            + (" (--keep-adapted)" if check["keep_adapted"] and not check["helped"] else ""),
            soft_wrap=True,
        )
        console.err.print(report_hint([destination / "source-only", destination / "adapted"], target), soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(refine)
    app.command()(adapt)
