"""``medsegkit predict``: any medsegkit checkpoint applied to new images.

The one place that knows both pipelines' predictors: it reads a checkpoint's task and builds the lesion
(:class:`~medsegkit.lesion.selftrain.network.LesionPredictor`) or fundus
(:class:`~medsegkit.fundus.predict.FundusPredictor`) predictor, then runs the task-agnostic loop of
:mod:`medsegkit.engine.prediction` below both.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from medsegkit.data.dataset import resolve_dataset
from medsegkit.data.images import Shard, collect_images
from medsegkit.engine.casefolder import CaseFolder
from medsegkit.engine.prediction import Predictor, predict_folder, timing, write_summary
from medsegkit.errors import UsageError
from medsegkit.runtime import distributed
from medsegkit.runtime.distributed import barrier
from medsegkit.runtime.job import Job, claim
from medsegkit.runtime.lock import run_lock
from medsegkit.runtime.precision import resolve_precision


def load_predictor(
    checkpoint: Path, device: str, threshold: float | None, passes: int, precision: str = "fp32", tta: bool = False
) -> Predictor:
    """The predictor of any medsegkit checkpoint: a ``self-train`` lesion network, or a fundus source or
    adapted model; ``threshold`` None is the task's own (lesion: the network's, fundus: adapt's 0.75);
    ``precision`` ``fp32`` or ``bf16`` (see :func:`medsegkit.runtime.precision.resolve_precision`); ``tta``
    averages each image's probabilities with those of its flips (a lesion checkpoint trained with ``tta`` does
    so anyway)."""
    from medsegkit.runtime.checkpoint import read_checkpoint

    payload = read_checkpoint(checkpoint)
    if payload.get("task") == "lesion":
        from medsegkit.lesion.selftrain.network import LesionPredictor, load_lesion_model

        model, cfg = load_lesion_model(checkpoint, payload, device)
        return LesionPredictor(model, replace(cfg, tta=cfg.tta or tta), device, threshold, passes, precision)
    from medsegkit.fundus.config import AdaptConfig
    from medsegkit.fundus.predict import FundusPredictor
    from medsegkit.fundus.source import load_source_model

    model, source = load_source_model(checkpoint, device)
    cut = AdaptConfig.threshold if threshold is None else threshold
    return FundusPredictor(model, source.size, cut, device, passes, precision, tta)


def predict(
    checkpoint: Path,
    images: str,
    job: Job,
    threshold: float | None = None,
    uncertainty: int = 0,
    batch_size: int = 8,
    shard: str | None = None,
    precision: str = "auto",
    fail_fast: bool = False,
    tta: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """``medsegkit predict``: apply ``checkpoint`` at its working size to a prepared dataset or a folder of
    images; returns the output folder (default ``runs/predict-<images>``) and the manifest (empty on
    ``torchrun`` ranks other than 0). A rerun skips finished images; other settings are refused.
    ``precision`` ``auto`` is bfloat16 where the device runs it natively (:mod:`medsegkit.runtime.precision`).
    An unreadable image is listed in ``failed.csv`` and skipped (``fail_fast``: the run stops there)."""
    if threshold is not None and not 0 < threshold < 1:
        raise UsageError(f"--threshold must be between 0 and 1, got {threshold}")
    if uncertainty < 0 or batch_size < 1:
        raise UsageError(f"need --uncertainty >= 0 and --batch-size >= 1, got {uncertainty} and {batch_size}")
    target = Path(images)
    if not target.is_dir():
        target = resolve_dataset(images, job.data_root)
    target = target.absolute()
    name, items = collect_images(target)
    out = job.destination(Path("runs") / f"predict-{name}")
    with distributed.session(job.device, job.threads) as ctx:
        precision = resolve_precision(precision, ctx.device)
        predictor = load_predictor(Path(checkpoint), ctx.device, threshold, uncertainty, precision, tta)
        settings = {
            "checkpoint": str(Path(checkpoint).resolve()),
            "threshold": predictor.threshold,
            "uncertainty": uncertainty,
            "precision": precision,
            **({"tta": True} if tta else {}),  # runs before the option resume as they were
        }
        claim(out, settings, ("masks", "overlays", "cases"))
        progress = job.progress if (job.progress and ctx.is_main) else None
        part = Shard.parse(shard)
        with run_lock(out, part.index, part.count):
            CaseFolder(out).drop_stale_failures(case for case, _ in items)
            start = time.perf_counter(), time.process_time()
            done = predict_folder(predictor, part.select(items), out, batch_size, progress, fail_fast)
            spent = timing(start, done, ctx)
            if ctx.distributed:
                barrier(ctx)
                if not ctx.is_main:
                    return out, {}
            manifest = write_summary(
                out, predictor, name, str(target), settings, len(items), ctx.device, {"prediction": spent}
            )
    return out, manifest
