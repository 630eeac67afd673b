"""``medsegkit adapt``: train the target model from the source weights on denoised pseudo-labels.

Runs ``refine`` first when its outputs are missing, then fine-tunes the source DeepLabv3+ on the
target's train images with a loss from the ``medsegkit.losses`` registry called as
``loss(logits, target, weight)`` (the losses contract; only pixels kept by denoising count; default
``masked-gce``, the noise-robust generalised cross-entropy; DPL's reference code used ``masked-bce`` and
CPR's ``focal-bce``, both registered), Adam,
and finally predicts the target's test split with the source-only and the adapted model and scores
both. A check without labels (:mod:`medsegkit.fundus.check`) then decides which model ``adapt`` outputs
(``model.pt``, ``check.json``): the adapted one only where it shows no sign of harm. Source images are never read.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from medsegkit import __version__
from medsegkit import config as config_module
from medsegkit.data.augment import augment, sample_seed
from medsegkit.data.dataset import Dataset
from medsegkit.data.imageio import png_bytes, read_labels
from medsegkit.errors import UsageError
from medsegkit.fundus.check import check_inputs, decide, evidence
from medsegkit.fundus.config import AdaptConfig, RefineConfig
from medsegkit.fundus.refine import check_components, refine
from medsegkit.fundus.source import labels_of, load_source_model, targets
from medsegkit.imaging import resize_nearest, resize_square, to_tensor
from medsegkit.losses import create_loss
from medsegkit.runtime.atomic import write_bytes_atomic, write_json_atomic
from medsegkit.runtime.checkpoint import read_checkpoint, resume_run, save_checkpoint
from medsegkit.runtime.distributed import Context, barrier, global_share, summed, wrap
from medsegkit.runtime.training import train_epoch


@torch.no_grad()
def predict(
    model: torch.nn.Module, ds: Dataset, ids: list[str], size: int, out: Path, device: str, threshold: float = 0.5
) -> None:
    """Canonical label maps (0/1/2) at each image's size in ``out/masks``: cup where p_cup > threshold,
    else rim where p_disc > threshold."""
    model.eval()
    (out / "masks").mkdir(parents=True, exist_ok=True)
    for case_id in ids:
        image = ds.image(case_id)
        prob = torch.sigmoid(model(to_tensor(resize_square(image, size)).unsqueeze(0).to(device)))[0].cpu().numpy()
        labels = labels_of(prob, threshold)
        write_bytes_atomic(out / "masks" / f"{case_id}.png", png_bytes(resize_nearest(labels, image.shape[:2])))


def adapt(
    checkpoint: Path,
    target: Dataset,
    out: Path,
    cfg: AdaptConfig,
    refine_cfg: RefineConfig,
    device: str = "cpu",
    resume: bool = False,
    progress: Any = None,
    ctx: Context | None = None,
    keep_adapted: bool = False,
) -> dict[str, Any]:
    """Refine (if needed), train on the pseudo-labels, predict the test split, then check without labels whether
    adaptation helped (:func:`decide`): ``model.pt`` is the adapted model if it did (or with ``keep_adapted``),
    else the source model. Returns the run record.

    Under ``torchrun`` rank 0 refines and predicts while the others wait; training is data-parallel, and
    each process's loss is rescaled by its share of the kept pixels (:func:`global_share`) so the step
    equals one process's step on the whole batch.
    """
    ctx = ctx or Context(device=device)
    device = ctx.device
    criterion = create_loss(cfg.loss_name)  # a missing or broken loss fails before any work
    check_components(refine_cfg)
    if target.task.name != "fundus":
        raise UsageError(f"adapt needs a fundus target dataset, {target.name!r} is a {target.task.name} dataset")
    refined = out / "refine"
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        if not (refined / "manifest.json").is_file():
            refine(checkpoint, target, refined, refine_cfg, device, progress)
    barrier(ctx)
    model, src_cfg = load_source_model(checkpoint, device)
    size = src_cfg.size
    test_ids = target.case_ids(target.split_or_all("test"))
    if ctx.is_main:
        predict(model, target, test_ids, size, out / "source-only", device, cfg.threshold)
    train_ids = target.case_ids(target.split_or_all("train"))
    images = {c: to_tensor(target.image(c)) for c in train_ids}
    # labels (0..2) and kept-bits (0..3) travel through the geometric augmentation as one map
    codes = {
        c: torch.from_numpy(
            read_labels(refined / "pseudo" / f"{c}.png") * 4 + read_labels(refined / "weights" / f"{c}.png")
        ).long()
        for c in train_ids
    }

    x_check = check_inputs(images, train_ids, size, device) if ctx.is_main else None
    source_evidence = evidence(model, x_check, cfg.threshold) if ctx.is_main else None
    source_weights = copy.deepcopy(model.state_dict())
    model = model.to(memory_format=torch.channels_last)  # trains much faster on CPU, as in pretrain-source
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    teacher = mean_teacher(model, cfg.ema)
    adapted = model if teacher is None else teacher.module  # the mean teacher, when there is one, is the output
    initial: dict[str, Any] = {"epoch": 0, "history": [], **({"teacher": None} if teacher is not None else {})}
    if cfg.patience:  # the best adapted epoch so far; whether it beats the source model is the check's question
        initial["best"] = {"epoch": 0, "score": float("-inf"), "stopped": False}
    state = resume_run(out, cfg, model, optimiser, resume, initial, write=ctx.is_main)
    if teacher is not None and state["teacher"] is not None:
        teacher.load_state_dict(state["teacher"])
    barrier(ctx)
    torch.manual_seed(cfg.seed + ctx.rank)  # dropout masks differ between processes
    net = wrap(model, ctx)
    last = out / "last.pt"

    def batch_loss(batch: list[str], epoch: int) -> torch.Tensor:
        pairs = [augment(images[c], codes[c], size, sample_seed(cfg.seed, epoch, c)) for c in batch]
        x = torch.stack([p[0] for p in pairs]).to(device).contiguous(memory_format=torch.channels_last)
        code = torch.stack([p[1] for p in pairs])
        kept = code % 4
        w = torch.stack([kept & 1, (kept >> 1) & 1], dim=1).float().to(device)
        if teacher is None:
            y = targets(code // 4).to(device)
        else:
            y, sure = teacher_labels(teacher, x, refine_cfg.threshold)
            w = w * sure
        return criterion(net(x), y, w) * global_share(w.sum(), ctx)

    epochs = range(state["epoch"] + 1, cfg.epochs + 1)
    for epoch in progress(epochs, f"adapt {cfg.method}") if progress and ctx.is_main else epochs:
        if cfg.patience and state["best"]["stopped"]:
            break
        start = time.perf_counter()
        update = None if teacher is None else (lambda: teacher.update_parameters(model))
        loss = train_epoch(net, optimiser, train_ids, batch_loss, ctx, cfg.seed, epoch, cfg.batch_size, update)
        state["epoch"] = epoch
        if teacher is not None:
            state["teacher"] = teacher.state_dict()
        record = {"epoch": epoch, "loss": loss}
        if cfg.patience:
            record["check_score"] = _early_stop(state, epoch, adapted, x_check, cfg, out, ctx)
        state["history"].append({**record, "seconds": round(time.perf_counter() - start, 3)})
        if ctx.is_main:
            payload = {
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "config": config_module.to_dict(cfg),
                **state,
            }
            save_checkpoint(
                last,
                {
                    **payload,
                    "medsegkit_version": __version__,
                    "world_size": ctx.world_size,
                    "device": ctx.device,
                    "loss": cfg.loss_name,
                    "source_config": config_module.to_dict(src_cfg),  # the architecture, for `predict`
                },
            )
            write_json_atomic(out / "history.json", state["history"])
        barrier(ctx)

    check: dict[str, Any] = {}
    if cfg.patience:  # the adapted model is the best epoch's
        adapted.load_state_dict(read_checkpoint(out / "best.pt")["model"])
    if ctx.is_main:
        predict(adapted, target, test_ids, size, out / "adapted", device, cfg.threshold)
        check = decide(source_evidence, adapted, x_check, cfg.threshold, keep_adapted)
        if cfg.patience:
            check["epochs"] = {"best": state["best"]["epoch"], "trained": state["epoch"]}
        write_json_atomic(out / "check.json", check)
        save_checkpoint(
            out / "model.pt",
            {
                "model": adapted.state_dict() if check["output"] == "adapted" else source_weights,
                "config": config_module.to_dict(cfg),
                "source_config": config_module.to_dict(src_cfg),
                "output": check["output"],
                "medsegkit_version": __version__,
            },
        )
    return {
        "out": str(out),
        "history": state["history"],
        "runs": [str(out / "source-only"), str(out / "adapted")],
        "check": check,
    }


def mean_teacher(model: torch.nn.Module, momentum: float) -> AveragedModel | None:
    """An exponential moving average of ``model`` (weights and BatchNorm statistics), θ_T ← m θ_T + (1 − m) θ_S,
    in evaluation mode; None when ``momentum`` is 0."""
    if momentum == 0:
        return None
    teacher = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(momentum), use_buffers=True)
    return teacher.eval()


@torch.no_grad()
def teacher_labels(
    teacher: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's hard (cup, disc) labels ``(B, 2, H, W)`` of a batch ``x`` ``(B, 3, H, W)`` (cup where its
    probability exceeds ``threshold``, disc where the cup's or the disc's does, as :func:`labels_of` cuts) and
    where the teacher is sure of them (probability above ``threshold`` or below ``1 − threshold``), as float.

    Only sure pixels teach: a pixel between the cuts labelled background would pull the structure in at every
    step, and the teacher, following the student, would shrink with it (measured: the cup collapsed)."""
    prob = torch.sigmoid(teacher(x))
    positive, negative = prob > threshold, prob < 1 - threshold
    cup = positive[:, 0]
    labels = torch.stack([cup, cup | positive[:, 1]], dim=1)
    sure = torch.stack([positive[:, 0] | negative[:, 0], cup | positive[:, 1] | negative[:, 1]], dim=1)
    return labels.float(), sure.float()


def _early_stop(
    state: dict[str, Any],
    epoch: int,
    adapted: torch.nn.Module,
    x: torch.Tensor | None,
    cfg: AdaptConfig,
    out: Path,
    ctx: Context,
) -> float:
    """Early stopping by the check: the score (:attr:`~medsegkit.fundus.check.Evidence.score`) of this epoch's
    ``adapted`` model (the teacher's module with a mean teacher) on the target images; a higher one than every epoch's
    before is kept in ``best.pt``, and ``patience`` epochs without one stop the run. Whether the best epoch beats
    the source model is left to the check at the end. Rank 0 judges; every process learns whether to stop."""
    score, best = 0.0, state["best"]
    if ctx.is_main:
        score = evidence(adapted, x, cfg.threshold).score  # (train_epoch puts the student back in training mode)
        if score > best["score"]:
            best.update(epoch=epoch, score=score)
            save_checkpoint(out / "best.pt", {"model": adapted.state_dict(), "epoch": epoch, "score": score})
        best["stopped"] = epoch - best["epoch"] >= cfg.patience
    best["stopped"] = summed(float(best["stopped"]), ctx) > 0
    return score
