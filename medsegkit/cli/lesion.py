"""``cluster``: annotation-free lesion masks for a folder of dermoscopy images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medsegkit.cli import console
from medsegkit.cli._common import (
    ConfigOpt,
    DataRootOpt,
    DeviceOpt,
    SetOpt,
    ThreadsOpt,
    fail,
    handle_errors,
    opt,
    out_option,
    progress,
)
from medsegkit.cli.report import report_hint
from medsegkit.config import default
from medsegkit.lesion.config import ClusterRunConfig, ColourRefineConfig, KMeansConfig, S3Config

RUN = ClusterRunConfig()
HELP = {
    "dataset": "Images to segment: a prepared dataset (path or name under the data root) or a plain folder of images.",
    "method": "Clusterer: s3 (S3-Net), s3-stn (with a spatial transformer and boundary loss), kmeans (colour "
    "baseline), "
    "or a plugin's (see `medsegkit plugins list --kind clusterers`).",
    "size": f"Working resolution: images are resized to N x N for clustering; outputs are resized back to each "
    f"image's size ({RUN.size}).",
    "seed": "Random seed; each image's seed derives from it and the case id, so shards agree with a single "
    f"run ({RUN.seed}).",
    "shard": "Process shard i of N (0-based 'i/N'); default: RANK/WORLD_SIZE under torchrun, else all images.",
    "max_iter": f"Maximum iterations per image: s3, s3-stn optimiser steps ({default(S3Config, 'max_iter')}; the "
    f"paper: 50); kmeans Lloyd iterations ({default(KMeansConfig, 'max_iter')}).",
    "lr": f"s3, s3-stn: SGD learning rate ({default(S3Config, 'lr')}).",
    "attention": "s3, s3-stn: attention module of the blocks, a medsegkit.attention name "
    f"({default(S3Config, 'attention')}).",
    "num_clusters": f"kmeans: clusters ({default(KMeansConfig, 'num_clusters')}); s3: initial clusters K "
    "(default C, the "
    "channels).",
    "refine": "Refine the chosen lesion mask with a lesion and a skin colour model (docs/cluster.md); the cluster maps "
    "are never changed.",
    "refine_options": "Colour-refinement option as key=value, repeatable (docs/cluster.md), e.g. skin_quantile=0.95: "
    "how far beyond the skin's colour model a pixel must lie for the mask to grow over it (1 = no growth); also "
    "margin, smoothing, opening (fractions of the image side), min_pixels, ridge "
    f"(skin_quantile {default(ColourRefineConfig, 'skin_quantile')}).",
    "combine": "Choose among the masks of a k-means second opinion too, not only among the clusterer's: the mask of "
    "highest selection score (edge contrast, less border share and distance from the centre) plus mean agreement "
    "with the other masks wins (docs/cluster.md); the second opinion also gives each image's confidence.",
    "batch": "Images clustered in one step: s3 and s3-stn optimise their networks together (the masks of one at a "
    "time, up to rounding; worth it on a GPU, about as fast per image on a CPU); kmeans runs them in turn "
    f"({RUN.batch}).",
    "fail_fast": "Stop at the first image that cannot be read, instead of recording it in failed.csv and going on.",
    "hair": "remove: find hairs (thin, long, darker than around them) and inpaint them before clustering (OpenCV, "
    f"the hair extra); keep: leave the image as it is ({RUN.hair}).",
    "encoder_candidates": "Also keep candidates from per-image clusters of ImageNet EfficientNet-Lite0 features "
    "(texture, not only colour: faint and two-tone lesions) for review; the blind mask is the same either way "
    f"(docs/cluster.md) ({'on' if RUN.encoder_candidates else 'off'}).",
}


@handle_errors
def cluster(
    dataset: Annotated[str, typer.Argument(help=HELP["dataset"])],
    method: Annotated[str, opt(HELP["method"], "--method", "-m")] = "s3",
    size: Annotated[int, opt(HELP["size"])] = RUN.size,
    out: Annotated[Path | None, out_option("runs/cluster-<method>-<dataset>")] = None,
    config: ConfigOpt = None,
    seed: Annotated[int, opt(HELP["seed"])] = RUN.seed,
    device: DeviceOpt = "auto",
    shard: Annotated[str | None, opt(HELP["shard"])] = None,
    max_iter: Annotated[int | None, opt(HELP["max_iter"])] = None,
    lr: Annotated[float | None, opt(HELP["lr"])] = None,
    attention: Annotated[str | None, opt(HELP["attention"])] = None,
    num_clusters: Annotated[int | None, opt(HELP["num_clusters"])] = None,
    set_: SetOpt = None,
    refine_mask: Annotated[bool, opt(HELP["refine"], "--refine-mask/--no-refine-mask")] = RUN.refine_mask,
    refine: Annotated[list[str] | None, opt(HELP["refine_options"], "--refine")] = None,
    combine: Annotated[bool, opt(HELP["combine"], "--combine/--no-combine")] = RUN.combine,
    batch: Annotated[int, opt(HELP["batch"])] = RUN.batch,
    fail_fast: Annotated[bool, opt(HELP["fail_fast"], "--fail-fast")] = False,
    hair: Annotated[str, opt(HELP["hair"])] = RUN.hair,
    encoder_candidates: Annotated[
        bool, opt(HELP["encoder_candidates"], "--encoder-candidates/--no-encoder-candidates")
    ] = RUN.encoder_candidates,
    threads: ThreadsOpt = None,
    data_root: DataRootOpt = None,
) -> None:
    """Segment every image without labels; writes cluster maps, blind lesion masks, overlays and a manifest.

    A rerun skips finished images, so an interrupted run loses at most the image in progress. Images that
    cannot be read are listed in failed.csv and the exit code is 1.
    """
    from medsegkit import config as config_module
    from medsegkit.data.dataset import data_root as resolve_root
    from medsegkit.lesion.cluster import cluster as run
    from medsegkit.runtime.job import Job

    flags = {"max_iter": max_iter, "lr": lr, "attention": attention, "num_clusters": num_clusters}
    values = {
        **{"size": size, "seed": seed, "refine_mask": refine_mask, "combine": combine, "batch": batch, "hair": hair},
        "encoder_candidates": encoder_candidates,
    }
    run_cfg = config_module.build(ClusterRunConfig, values, "cluster")
    bar = progress(f"cluster {method}")
    overrides = config_module.overrides(set_, flags)
    job = Job(out, resolve_root(data_root), device, bar, threads)
    refine_options = config_module.parse_pairs(refine or [], "--refine")
    destination, manifest = run(dataset, method, run_cfg, job, config, overrides, shard, fail_fast, refine_options)
    if not manifest:
        return  # a torchrun rank other than 0
    seconds = manifest["median_seconds"]
    console.out.print(
        f"{manifest['finished']}/{manifest['input']['images']} images done in {destination} on {manifest['device']}"
        + (f"; median {seconds:.2f} s per image" if seconds is not None else "")
    )
    console.err.print(report_hint([destination]), soft_wrap=True)
    if manifest["failed"]:
        where = destination / "failed.csv"
        fail(f"{len(manifest['failed'])} image(s) could not be read; listed with the reason in {where}", 1)


def register(app: typer.Typer) -> None:
    app.command()(cluster)
