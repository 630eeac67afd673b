"""``medsegkit self-train``: distil a cluster run's per-image blind masks into one network for the folder.

Per-image clustering sees one image at a time, so each image fails alone. A DeepLabv3+ trained on the
blind masks of the whole folder learns what a lesion looks like across its images, is pulled towards
the majority where one image's mask is wrong, and then segments any new image in one forward pass.

Training (:class:`~medsegkit.lesion.config.SelfTrainConfig`): targets are the run's masks with a band
around each boundary ignored (the teacher is least sure there); each image's loss is weighted by the
run's confidence relative to the run's mean, so likely failures count little; the loss is the mean
generalised cross-entropy (Zhang and Sabuncu 2018, :mod:`medsegkit.losses.robust`) over the kept pixels of
each image,

    L = Σ_i w_i · mean_{p ∉ band_i} (1 − p_t(x_i)_p^q) / q / B,    w_i = c_i / mean_j c_j,

with p_t the network's probability of the teacher's label and q = ``gce_q`` (0: the binary
cross-entropy). A teacher's wrong mask is one the rest of the folder contradicts; its pixels pull with
weight p_t^q instead of the cross-entropy's full weight, so the network keeps what it learned elsewhere.

under strong augmentation (:func:`medsegkit.data.augment.augment`, ``robust``), whose object zoom draws
each crop's lesion share from the shares of the folder's own masks (``object_scale``). Learning rate: linear
warm-up over the first tenth of the steps, then cosine decay to zero.

Output folder (the layout of ``cluster``, so ``evaluate``, ``report`` and ``export`` read it)::

    settings.json, config.toml   the teacher run and the resolved config; another is refused
    last.pt, history.json        training state, every steps_per_epoch steps (resume with --resume)
    model.pt                     the trained network with its config (``medsegkit predict`` takes it)
    masks/, overlays/, cases/    the folder's new masks at each image's size (:mod:`medsegkit.engine.prediction`)
    predictions.csv, review.csv  per image: lesion area and confidence; review.csv least confident first
    manifest.json                the above, the teacher's per-image Dice agreement, training and prediction
                                 time (wall and CPU seconds)
"""

from __future__ import annotations

import json
import math
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from medsegkit import __version__
from medsegkit import config as config_module
from medsegkit.data.augment import augment, object_shares, sample_seed
from medsegkit.data.imageio import read_labels, read_rgb
from medsegkit.data.images import Shard
from medsegkit.engine.prediction import predict_folder, timing, write_summary
from medsegkit.errors import DataError, UsageError
from medsegkit.imaging import resize_square
from medsegkit.lesion.config import SelfTrainConfig
from medsegkit.lesion.selftrain.network import TASK, LesionPredictor, build_model, load_lesion_model, resolve_weights
from medsegkit.lesion.selftrain.teacher import IGNORE, Teacher, band_target, read_teacher, settle, weights
from medsegkit.losses.robust import generalised_bce
from medsegkit.runtime import distributed
from medsegkit.runtime.atomic import write_json_atomic
from medsegkit.runtime.checkpoint import check_resume, read_checkpoint, resume_run, save_checkpoint
from medsegkit.runtime.distributed import Context, barrier, wrap
from medsegkit.runtime.job import Job, claim
from medsegkit.runtime.lock import run_lock
from medsegkit.runtime.training import train_epoch

HEADROOM = 1.25  # images are kept at this multiple of the working size, for the augmentation's crops


def payload(model: torch.nn.Module, cfg: SelfTrainConfig) -> dict[str, Any]:
    """What every lesion checkpoint holds: the weights, the config, the task and the version."""
    return {
        "model": model.state_dict(),
        "config": config_module.to_dict(cfg),
        "task": TASK,
        "medsegkit_version": __version__,
    }


def learning_rate(cfg: SelfTrainConfig, step: int) -> float:
    """Linear warm-up over the first tenth of ``cfg.steps``, then cosine decay to zero (``step`` from 0)."""
    warm = max(1, cfg.steps // 10)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * (step - warm) / max(1, cfg.steps - warm)))


def train(
    teachers: list[Teacher], out: Path, cfg: SelfTrainConfig, ctx: Context, resume: bool, progress: Any = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train on the teachers' images and masks (:func:`band_target`, :func:`weights`); resumable from
    ``out/last.pt``. Returns the model and the training state."""
    torch.manual_seed(cfg.seed)
    # channels-last: a training step of 8 images at 256 px takes 1.03 s instead of 1.48 s on the 2-core CPU
    # (oneDNN's depthwise convolutions, most of EfficientNet, are much faster in it)
    model = build_model(cfg).to(ctx.device, memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    fresh = {"epoch": 0, "history": [], "seconds": 0.0, "cpu_seconds": 0.0}
    state = resume_run(out, cfg, model, optimiser, resume, fresh, ctx.is_main)
    state.setdefault("cpu_seconds", 0.0)  # a run begun before CPU time was recorded
    barrier(ctx)
    torch.manual_seed(cfg.seed + ctx.rank)
    net = wrap(model, ctx)
    keep = round(cfg.size * HEADROOM)
    width = round(cfg.band * keep)
    images, targets = {}, {}
    for t in teachers:
        image = read_rgb(t.image)
        mask = read_labels(t.mask) > 0
        if mask.shape != image.shape[:2]:
            raise DataError(
                f"{t.mask}: mask is {mask.shape[1]}x{mask.shape[0]}, its image {t.image} is "
                f"{image.shape[1]}x{image.shape[0]}; expected the same size"
            )
        images[t.case] = torch.from_numpy(np.array(resize_square(image, keep))).permute(2, 0, 1).contiguous()
        small = resize_square(mask.astype(np.uint8), keep, labels=True) > 0
        targets[t.case] = torch.from_numpy(band_target(small, width))
    weight = weights(teachers, cfg.weighting)
    shares = object_shares(targets.values()) if cfg.object_scale == "folder" else ()
    cases = [t.case for t in teachers]
    epochs = math.ceil(cfg.steps / cfg.steps_per_epoch)
    step = [0]

    def batch_loss(batch: list[str], epoch: int) -> torch.Tensor:
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(cfg, step[0])
        step[0] += 1
        names = [token.split("/", 1)[1] for token in batch]
        pairs = [
            augment(
                images[c].float().div(255),
                targets[c],
                cfg.size,
                sample_seed(cfg.seed, epoch, token),
                cfg.augment,
                shares,
            )
            for c, token in zip(names, batch, strict=True)
        ]
        x = torch.stack([p[0] for p in pairs]).to(ctx.device).contiguous(memory_format=torch.channels_last)
        y = torch.stack([p[1] for p in pairs]).to(ctx.device)
        valid = (y != IGNORE).float()
        logits, target = net(x)[:, 0], y.clamp(max=1).float()
        if cfg.gce_q:
            pixel = generalised_bce(logits, target, cfg.gce_q)
        else:
            pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        per_image = (pixel * valid).sum((1, 2)) / valid.sum((1, 2)).clamp(min=1)
        w = torch.tensor([weight[c] for c in names], device=per_image.device)
        return (w * per_image).mean()

    todo = range(state["epoch"] + 1, epochs + 1)
    for epoch in progress(todo, "self-train") if progress and ctx.is_main else todo:
        start, cpu = time.perf_counter(), time.process_time()
        step[0] = (epoch - 1) * cfg.steps_per_epoch
        steps = min(cfg.steps_per_epoch, cfg.steps - step[0])
        rng = np.random.default_rng([cfg.seed, epoch])
        draws = rng.integers(0, len(cases), steps * cfg.batch_size * ctx.world_size)
        tokens = [f"{i}/{cases[d]}" for i, d in enumerate(draws)]
        loss = train_epoch(net, optimiser, tokens, batch_loss, ctx, cfg.seed, epoch, cfg.batch_size)
        state["epoch"] = epoch
        state["seconds"] += time.perf_counter() - start
        state["cpu_seconds"] += time.process_time() - cpu  # every thread of this process
        state["history"].append(
            {"epoch": epoch, "steps": step[0], "loss": loss, "seconds": round(time.perf_counter() - start, 3)}
        )
        if ctx.is_main:
            save_checkpoint(out / "last.pt", {**payload(model, cfg), **state, "optimiser": optimiser.state_dict()})
            write_json_atomic(out / "history.json", state["history"])
        barrier(ctx)
    return model, state


def self_train(run: str, cfg: SelfTrainConfig, job: Job, resume: bool = False) -> tuple[Path, dict[str, Any]]:
    """``medsegkit self-train``: train on the cluster run ``run``, write the network and the folder's new
    masks; returns the output folder (default ``runs/self-train-<run>``) and the manifest (empty on
    ``torchrun`` ranks other than 0). Under ``torchrun`` training is data-parallel and each rank predicts
    its shard of the images."""
    teacher_run = Path(run)
    if not teacher_run.is_dir():
        raise UsageError(f"{teacher_run}: not a folder; self-train takes the output folder of medsegkit cluster")
    teachers = read_teacher(teacher_run)  # a bad run is reported before anything is trained
    if sum(t.teaches for t in teachers) < 2:
        raise DataError(f"{teacher_run}: self-train needs at least 2 images not excluded by review")
    cfg = resolve_weights(cfg)
    build_model(cfg)  # a bad encoder or weights file is refused before anything is written
    out = job.destination(Path("runs") / f"self-train-{teacher_run.name}")
    if cfg.rounds > 1:  # the earlier rounds are self-train runs of their own, inside this one
        earlier = replace(cfg, rounds=cfg.rounds - 1)
        self_train(run, earlier, replace(job, out=out / f"round-{cfg.rounds - 1}"), resume)
        teacher_run = out / f"round-{cfg.rounds - 1}"
        teachers = read_teacher(teacher_run)
        resume = resume and (out / "last.pt").exists()  # --resume may have had only earlier rounds to continue
    else:
        check_resume(out, resume, finished="model.pt")
    settings = {"teacher": str(teacher_run.resolve()), "config": config_module.to_dict(cfg)}
    with distributed.session(job.device, job.threads) as ctx, ExitStack() as held:
        if ctx.is_main:
            claim(out, settings, ("masks", "overlays", "cases"))
            held.enter_context(run_lock(out))  # a second self-train on this --out is refused
        barrier(ctx)
        if (out / "model.pt").is_file():  # written after training.json: the training is finished
            model, _ = load_lesion_model(out / "model.pt", read_checkpoint(out / "model.pt"), ctx.device)
            state = json.loads((out / "training.json").read_text())
        else:
            model, state = train([t for t in teachers if t.teaches], out, cfg, ctx, resume, job.progress)
            before = teacher_run / "training.json"  # an earlier round's
            earlier = json.loads(before.read_text()) if before.is_file() else {}
            cpu = distributed.summed(state["cpu_seconds"], ctx)  # every thread of every process
            state = {
                "round": cfg.rounds,
                "epochs": state["epoch"],
                "steps": cfg.steps,
                "train_seconds": round(state["seconds"], 3),
                "total_train_seconds": round(earlier.get("total_train_seconds", 0.0) + state["seconds"], 3),
                "train_cpu_seconds": round(cpu, 3),
                "total_train_cpu_seconds": round(earlier.get("total_train_cpu_seconds", 0.0) + cpu, 3),
                "world_size": ctx.world_size,
                "device": ctx.device,
            }
            if ctx.is_main:
                write_json_atomic(out / "training.json", state)
                save_checkpoint(out / "model.pt", {**payload(model, cfg), "teacher": settings["teacher"]})
            barrier(ctx)
        predictor = LesionPredictor(model.eval(), cfg, ctx.device)
        items = sorted((t.case, t.image) for t in teachers)
        bar = (lambda xs: job.progress(xs, "predict")) if job.progress and ctx.is_main else None
        mine = Shard.parse(None).select(items)
        start = time.perf_counter(), time.process_time()
        done = predict_folder(predictor, mine, out, cfg.batch_size, bar)
        by_case = {t.case: t for t in teachers}
        for case, _ in mine:
            settle(out, by_case[case], cfg.combine)
        spent = timing(start, done, ctx)
        if ctx.distributed:
            barrier(ctx)
            if not ctx.is_main:
                return out, {}
    manifest = write_summary(
        out,
        predictor,
        teacher_run.name,
        str(teacher_run.absolute()),
        settings,
        len(teachers),
        ctx.device,
        {"training": state, "prediction": spent},
    )
    return out, manifest
