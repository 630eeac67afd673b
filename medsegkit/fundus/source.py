"""Supervised training of the source-domain segmenter (the starting point of DPL and CPR).

A DeepLabv3+ with two sigmoid outputs (channel 0 cup, channel 1 disc) is trained with BCE on the
labelled train split of a fundus dataset, validated on its test split every epoch (in bfloat16 where the device
runs it natively, as ``predict`` does). Each epoch writes ``last.pt``; the best validation Dice writes ``best.pt``;
both carry the resolved config.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from medsegkit import __version__, metrics
from medsegkit import config as config_module
from medsegkit.data.augment import augment, sample_seed
from medsegkit.data.dataset import Dataset, resolve_dataset
from medsegkit.errors import DataError, UsageError
from medsegkit.fundus.config import SourceConfig
from medsegkit.imaging import batch_tensor, resize_square, to_tensor
from medsegkit.models import create_model
from medsegkit.runtime import distributed
from medsegkit.runtime.atomic import write_json_atomic
from medsegkit.runtime.checkpoint import apply_checkpoint, check_resume, read_checkpoint, resume_run, save_checkpoint
from medsegkit.runtime.distributed import Context, barrier, wrap
from medsegkit.runtime.job import Job
from medsegkit.runtime.lock import run_lock
from medsegkit.runtime.precision import autocast, resolve_precision
from medsegkit.runtime.training import train_epoch

Progress = Callable[[Iterable[int], str], Iterator[int]]


def targets(labels: torch.Tensor) -> torch.Tensor:
    """``(B, H, W)`` canonical fundus labels -> ``(B, 2, H, W)`` float (cup, disc)."""
    return torch.stack([labels == 2, labels >= 1], dim=1).float()


def labels_of(prob: np.ndarray, threshold: float) -> np.ndarray:
    """``(2, H, W)`` probabilities (cup, disc) -> canonical labels ``(H, W)``: cup where p_cup > threshold,
    else rim where p_disc > threshold.

    Example:
        >>> labels_of(np.array([[[0.9, 0.1]], [[0.95, 0.8]]]), 0.75).tolist()
        [[2, 1]]
    """
    return np.where(prob[0] > threshold, 2, np.where(prob[1] > threshold, 1, 0)).astype(np.uint8)


def build_model(cfg: SourceConfig) -> torch.nn.Module:
    return create_model(
        cfg.model,
        encoder=cfg.encoder,
        encoder_weights=cfg.encoder_weights,
        classes=2,
        aspp_dropout=cfg.aspp_dropout,
        head_dropout=cfg.head_dropout,
        input_norm=cfg.input_norm,
    )


def load_source_model(checkpoint: Path, device: str = "cpu") -> tuple[torch.nn.Module, SourceConfig]:
    """The model saved in ``checkpoint`` by ``pretrain-source`` (or by ``adapt``, which keeps the source
    model's config beside its own), with its source config; weights from the file only."""
    payload = read_checkpoint(checkpoint)
    saved = payload.get("source_config", payload.get("config"))
    if not isinstance(saved, dict) or "encoder" not in saved:
        raise DataError(
            f"{checkpoint}: not a medsegkit fundus checkpoint "
            "(expected best.pt or last.pt from pretrain-source or adapt)"
        )
    # checkpoints written before input_norm existed fed [0, 1] intensities
    cfg = config_module.build(
        SourceConfig, {"input_norm": "none", **saved, "encoder_weights": None}, "source checkpoint"
    )
    model = build_model(cfg)
    apply_checkpoint(checkpoint, payload, model)
    return model.to(device), cfg


def held_out_set(cases: dict[str, tuple[Dataset, str]], size: int) -> tuple[list[np.ndarray], np.ndarray | None]:
    """The validation images at the working size (uint8 ``(size, size, 3)``) and their canonical label maps
    ``(N, size, size)`` (None without cases), read and resized once for every epoch's validation."""
    images = [resize_square(one.image(c), size) for one, c in cases.values()]
    masks = np.stack([resize_square(one.mask(c), size, labels=True) for one, c in cases.values()]) if cases else None
    return images, masks


@torch.no_grad()
def validate(
    model: torch.nn.Module, images: list[np.ndarray], masks: np.ndarray | None, device: str, batch: int = 8
) -> dict[str, float]:
    """Mean Dice of disc and cup over the validation images (prediction = sigmoid > 0.5), from
    :func:`held_out_set`; NaN for both without any. Batched: in evaluation mode an image's prediction does not
    depend on its batch."""
    if not images:
        return {"disc": float("nan"), "cup": float("nan")}
    model.eval()
    scores: dict[str, list[float]] = {"disc": [], "cup": []}
    for start in range(0, len(images), batch):
        x = batch_tensor(images[start : start + batch]).to(device)
        prob = (torch.sigmoid(model(x)) > 0.5).cpu().numpy()
        for p, gt in zip(prob, masks[start : start + batch], strict=True):
            scores["cup"].append(metrics.dice(p[0], gt == 2))
            scores["disc"].append(metrics.dice(p[1], gt >= 1))
    return {k: float(np.mean(v)) for k, v in scores.items()}


def _pooled(datasets: Sequence[Dataset], split: str) -> dict[str, tuple[Dataset, str]]:
    """The labelled cases of ``split`` (``train``: the train split, else all; ``test``: the test split, if any)
    of every dataset, keyed by case id, or by ``<dataset>/<case>`` when there are several datasets."""
    pooled = {}
    for ds in datasets:
        ids = (
            ds.case_ids(ds.split_or_all("train"))
            if split == "train"
            else ds.case_ids("test")
            if "test" in ds.splits
            else []
        )
        for c in ids:
            if ds.mask_path(c):
                pooled[c if len(datasets) == 1 else f"{ds.name}/{c}"] = (ds, c)
    return pooled


def train_source(
    ds: Dataset | Sequence[Dataset],
    out: Path,
    cfg: SourceConfig,
    device: str = "cpu",
    resume: bool = False,
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> dict[str, Any]:
    """Train (or resume training) on the train split of ``ds``, one labelled domain or several pooled (each
    epoch draws from all their images); returns the training history. Validation scores every domain's test
    split together.

    Under ``torchrun`` (``ctx`` from :func:`medsegkit.runtime.distributed.init`) every process trains a
    DistributedDataParallel replica on its share of each epoch; rank 0 alone validates and writes.
    """
    ctx = ctx or Context(device=device)
    datasets = [ds] if isinstance(ds, Dataset) else list(ds)
    for one in datasets:
        if one.task.name != "fundus":
            raise UsageError(f"pretrain-source needs a fundus dataset, {one.name!r} is a {one.task.name} dataset")
    train, held_out = _pooled(datasets, "train"), _pooled(datasets, "test")
    train_ids = list(train)
    if len(train_ids) < 2:
        where = ", ".join(str(one.root) for one in datasets)
        raise DataError(f"{where}: pretrain-source needs at least 2 labelled training images, found {len(train_ids)}")
    torch.manual_seed(cfg.seed)
    # channels-last: oneDNN's depthwise convolutions (most of MobileNetV2 and EfficientNet) train much faster in it
    model = build_model(cfg).to(ctx.device, memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    state = resume_run(out, cfg, model, optimiser, resume, {"epoch": 0, "best": -1.0, "history": []}, write=ctx.is_main)
    barrier(ctx)
    torch.manual_seed(cfg.seed + ctx.rank)  # dropout masks differ between processes
    net = wrap(model, ctx)
    last = out / "last.pt"

    images = {key: to_tensor(one.image(c)) for key, (one, c) in train.items()}
    labels = {key: torch.from_numpy(one.mask(c).astype(np.int64)) for key, (one, c) in train.items()}
    val_images, val_masks = held_out_set(held_out, cfg.size) if ctx.is_main else ([], None)
    precision = resolve_precision("auto", ctx.device)

    def batch_loss(batch: list[str], epoch: int) -> torch.Tensor:
        pairs = [augment(images[c], labels[c], cfg.size, sample_seed(cfg.seed, epoch, c), cfg.augment) for c in batch]
        x = torch.stack([p[0] for p in pairs]).to(ctx.device).contiguous(memory_format=torch.channels_last)
        y = targets(torch.stack([p[1] for p in pairs])).to(ctx.device)
        return F.binary_cross_entropy_with_logits(net(x), y)

    epochs = range(state["epoch"] + 1, cfg.epochs + 1)
    for epoch in progress(epochs, "pretrain-source") if progress and ctx.is_main else epochs:
        start = time.perf_counter()
        loss = train_epoch(net, optimiser, train_ids, batch_loss, ctx, cfg.seed, epoch, cfg.batch_size)
        state["epoch"] = epoch
        if ctx.is_main:
            with autocast(precision, ctx.device):  # bfloat16 where native, as `predict`: half the time at 512 px
                val = validate(model, val_images, val_masks, ctx.device)
            score = float(np.nanmean([val["disc"], val["cup"]])) if held_out else -loss
            record = {
                "epoch": epoch,
                "loss": loss,
                "val_dice_disc": val["disc"],
                "val_dice_cup": val["cup"],
                "val_precision": precision,
                "seconds": round(time.perf_counter() - start, 3),
            }
            state["history"].append(record)
            payload = {
                "model": model.state_dict(),
                "config": config_module.to_dict(cfg),
                "medsegkit_version": __version__,
                "dataset": "+".join(one.name for one in datasets),
                "world_size": ctx.world_size,
                "device": ctx.device,
            }
            if score > state["best"]:
                state["best"] = score
                save_checkpoint(out / "best.pt", {**payload, "epoch": epoch, "score": score})
            save_checkpoint(last, {**payload, **state, "optimiser": optimiser.state_dict()})
            write_json_atomic(out / "history.json", state["history"])
        barrier(ctx)
    return {"history": state["history"], "best": state["best"], "out": str(out)}


def pretrain(
    domain: str | Sequence[str], cfg: SourceConfig, job: Job, resume: bool = False
) -> tuple[Path, dict[str, Any]]:
    """``medsegkit pretrain-source``: train on the labelled dataset ``domain`` (path or name under
    ``job.data_root``), or on several pooled.

    The run folder defaults to ``runs/source-<dataset>`` (``source-<a>+<b>`` for several). Returns it and the
    training record (empty on ranks other than 0 under ``torchrun``).
    """
    domains = [domain] if isinstance(domain, str) else list(domain)
    ds = [Dataset.open(resolve_dataset(d, job.data_root)) for d in domains]
    if len({one.root for one in ds}) < len(ds):
        raise UsageError(f"--domain names one dataset twice: {', '.join(domains)}")
    destination = job.destination(Path("runs") / f"source-{'+'.join(one.name for one in ds)}")
    check_resume(destination, resume)
    with distributed.session(job.device, job.threads) as ctx, ExitStack() as held:
        if ctx.is_main:
            held.enter_context(run_lock(destination))  # a second pretrain-source on this --out is refused
        result = train_source(ds[0] if len(ds) == 1 else ds, destination, cfg, ctx.device, resume, job.progress, ctx)
    return destination, result if ctx.is_main else {}
