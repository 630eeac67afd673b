"""Supervised training of the source-domain segmenter (the starting point of DPL and CPR).

A DeepLabv3+ with two sigmoid outputs (channel 0 cup, channel 1 disc) is trained with BCE on the
labelled train split of a fundus dataset, validated on its test split every epoch. Each epoch
writes ``last.pt``; the best validation Dice writes ``best.pt``; both carry the resolved config.
"""

from __future__ import annotations

import io
import pickle
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from medsegkit import __version__, config as config_module, metrics
from medsegkit.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic
from medsegkit.data.augment import augment, sample_seed
from medsegkit.data.dataset import Dataset
from medsegkit.distributed import Context, barrier, wrap
from medsegkit.errors import DataError, UsageError
from medsegkit.methods.training import train_epoch
from medsegkit.models import create_model

Progress = Callable[[Iterable[int], str], Iterator[int]]


@dataclass(frozen=True)
class SourceConfig:
    """Source training; defaults follow the DPL/CPR reference code where a CPU allows."""

    model: str = "deeplabv3plus"
    encoder: str = "mobilenet_v2"
    encoder_weights: str | None = None
    size: int = 512
    epochs: int = 50
    batch_size: int = 8
    lr: float = 1e-3
    aspp_dropout: float = 0.5
    head_dropout: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.aspp_dropout < 1 and 0 <= self.head_dropout < 1):
            raise ValueError(f"dropout rates must be in [0, 1), got aspp {self.aspp_dropout} and head {self.head_dropout}")
        if self.size % 16 or self.size < 32:
            raise ValueError(f"--size must be a multiple of 16 and at least 32, got {self.size}")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"need --epochs >= 1 and --batch-size >= 2 (BatchNorm), got {self.epochs} and {self.batch_size}")


def targets(labels: torch.Tensor) -> torch.Tensor:
    """``(B, H, W)`` canonical fundus labels -> ``(B, 2, H, W)`` float (cup, disc)."""
    return torch.stack([labels == 2, labels >= 1], dim=1).float()


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).float().div_(255.0)


def _resized(image: np.ndarray, size: int, labels: bool) -> np.ndarray:
    resample = Image.Resampling.NEAREST if labels else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(image).resize((size, size), resample))


def build_model(cfg: SourceConfig) -> torch.nn.Module:
    return create_model(cfg.model, encoder=cfg.encoder, encoder_weights=cfg.encoder_weights, classes=2, aspp_dropout=cfg.aspp_dropout, head_dropout=cfg.head_dropout)


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The payload of a checkpoint file; an unreadable file is a one-line error."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise DataError(f"{path}: checkpoint not found") from None
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as exc:
        raise DataError(f"{path}: not a readable checkpoint ({str(exc).splitlines()[0][:200]})") from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise DataError(f"{path}: checkpoint does not match: expected a medsegkit checkpoint with a 'model' entry")
    return payload


def apply_checkpoint(path: Path, payload: dict[str, Any], model: torch.nn.Module) -> None:
    try:
        model.load_state_dict(payload["model"])
    except (RuntimeError, KeyError, TypeError) as exc:
        reason = str(exc).splitlines()[0][:200]
        raise DataError(f"{path}: checkpoint does not match the model {type(model).__name__} ({reason})") from None


def load_source_model(checkpoint: Path, device: str = "cpu") -> tuple[torch.nn.Module, SourceConfig]:
    """The model saved by ``pretrain-source`` in ``checkpoint``, with its config (weights from the file only)."""
    payload = read_checkpoint(checkpoint)
    if "config" not in payload:
        raise DataError(f"{checkpoint}: not a medsegkit source checkpoint (expected best.pt or last.pt from pretrain-source)")
    cfg = config_module.build(SourceConfig, {**payload["config"], "encoder_weights": None}, "source checkpoint")
    model = build_model(cfg)
    apply_checkpoint(checkpoint, payload, model)
    return model.to(device), cfg


def resume_run(
    out: Path, cfg: Any, model: torch.nn.Module, optimiser: torch.optim.Optimizer, resume: bool, state: dict[str, Any], write: bool = True
) -> dict[str, Any]:
    """Continue the run in ``out`` from ``last.pt`` (``state`` keys restored), or refuse a folder that holds one.

    Only ``epochs`` may differ from the saved config. Writes ``config.toml`` (when ``write``: rank 0 only);
    returns the state to go on from.
    """
    last = out / "last.pt"
    if last.exists():
        if not resume:
            raise UsageError(f"{out} already holds a training run; pass --resume to continue it or choose another --out")
        payload = read_checkpoint(last)
        saved = {k: v for k, v in payload.get("config", {}).items() if k != "epochs"}
        if saved != {k: v for k, v in config_module.to_dict(cfg).items() if k != "epochs"}:
            raise UsageError(f"{last} was trained with another config ({out / 'config.toml'}); only --epochs may change on --resume")
        apply_checkpoint(last, payload, model)
        optimiser.load_state_dict(payload["optimiser"])
        state = {k: payload[k] for k in state}
    if write:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "config.toml", config_module.to_toml(cfg))
    return state


@torch.no_grad()
def validate(model: torch.nn.Module, ds: Dataset, ids: list[str], size: int, device: str) -> dict[str, float]:
    """Mean Dice of disc and cup at the working size (prediction = sigmoid > 0.5)."""
    model.eval()
    scores: dict[str, list[float]] = {"disc": [], "cup": []}
    for case_id in ids:
        x = _to_tensor(_resized(ds.image(case_id), size, labels=False)).unsqueeze(0).to(device)
        prob = torch.sigmoid(model(x))[0].cpu().numpy() > 0.5
        gt = _resized(ds.mask(case_id), size, labels=True)
        scores["cup"].append(metrics.dice(prob[0], gt == 2))
        scores["disc"].append(metrics.dice(prob[1], gt >= 1))
    return {k: float(np.mean(v)) if v else float("nan") for k, v in scores.items()}


def train_source(
    ds: Dataset, out: Path, cfg: SourceConfig, device: str = "cpu", resume: bool = False, progress: Progress | None = None, ctx: Context | None = None
) -> dict[str, Any]:
    """Train (or resume training) on ``ds``'s train split; returns the training history.

    Under ``torchrun`` (``ctx`` from :func:`medsegkit.distributed.init`) every process trains a
    DistributedDataParallel replica on its share of each epoch; rank 0 alone validates and writes.
    """
    ctx = ctx or Context(device=device)
    if ds.task.name != "fundus":
        raise UsageError(f"pretrain-source needs a fundus dataset, {ds.name!r} is a {ds.task.name} dataset")
    train_ids = [c for c in ds.case_ids("train" if "train" in ds.splits else "all") if ds.mask_path(c)]
    val_ids = [c for c in ds.case_ids("test") if ds.mask_path(c)] if "test" in ds.splits else []
    if len(train_ids) < 2:
        raise DataError(f"{ds.root}: pretrain-source needs at least 2 labelled training images, found {len(train_ids)}")
    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(ctx.device)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    state = resume_run(out, cfg, model, optimiser, resume, {"epoch": 0, "best": -1.0, "history": []}, write=ctx.is_main)
    barrier(ctx)
    torch.manual_seed(cfg.seed + ctx.rank)  # dropout masks differ between processes
    net = wrap(model, ctx)
    last = out / "last.pt"

    images = {c: _to_tensor(ds.image(c)) for c in train_ids}
    labels = {c: torch.from_numpy(ds.mask(c).astype(np.int64)) for c in train_ids}

    def batch_loss(batch: list[str], epoch: int) -> torch.Tensor:
        pairs = [augment(images[c], labels[c], cfg.size, sample_seed(cfg.seed, epoch, c)) for c in batch]
        x = torch.stack([p[0] for p in pairs]).to(ctx.device)
        y = targets(torch.stack([p[1] for p in pairs])).to(ctx.device)
        return F.binary_cross_entropy_with_logits(net(x), y)

    epochs = range(state["epoch"] + 1, cfg.epochs + 1)
    for epoch in progress(epochs, "pretrain-source") if progress and ctx.is_main else epochs:
        start = time.perf_counter()
        loss = train_epoch(net, optimiser, train_ids, batch_loss, ctx, cfg.seed, epoch, cfg.batch_size)
        state["epoch"] = epoch
        if ctx.is_main:
            val = validate(model, ds, val_ids, cfg.size, ctx.device) if val_ids else {"disc": float("nan"), "cup": float("nan")}
            score = float(np.nanmean([val["disc"], val["cup"]])) if val_ids else -loss
            record = {"epoch": epoch, "loss": loss, "val_dice_disc": val["disc"], "val_dice_cup": val["cup"], "seconds": round(time.perf_counter() - start, 3)}
            state["history"].append(record)
            payload = {"model": model.state_dict(), "config": config_module.to_dict(cfg), "medsegkit_version": __version__, "dataset": ds.name, "world_size": ctx.world_size}
            if score > state["best"]:
                state["best"] = score
                save_checkpoint(out / "best.pt", {**payload, "epoch": epoch, "score": score})
            save_checkpoint(last, {**payload, **state, "optimiser": optimiser.state_dict()})
            write_json_atomic(out / "history.json", state["history"])
        barrier(ctx)
    return {"history": state["history"], "best": state["best"], "out": str(out)}
