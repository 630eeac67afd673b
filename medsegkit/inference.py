"""Applying a trained network to a folder of images, for any task: ``medsegkit predict`` and the last step of
``self-train``.

A :class:`Predictor` turns a batch of images into canonical label maps at each image's own size, overlays
and one record per image; :func:`predict_folder` does the rest the same way for every task: shards,
resuming (``cases/<case>.json`` is written last), atomic writes and the summary files.

Output folder::

    masks/<case>.png       canonical labels at each image's own size
    overlays/<case>.jpg    the structures' contours, at most 1024 pixels on the longer side
    cases/<case>.json      the image's record (areas, ratios, confidence, ...); written last (resume marker)
    predictions.csv        every finished image's record (all shards), with manifest.json
    review.csv             (tasks with a confidence) every image from least to most confident
"""

from __future__ import annotations

import csv
import io
import json
import platform
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from medsegkit import __version__, distributed
from medsegkit.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic
from medsegkit.data.dataset import resolve_dataset
from medsegkit.data.imageio import png_bytes, read_rgb_reduced
from medsegkit.data.images import OVERLAY_SIDE, Shard, collect_images, overlay_bytes, overlay_path
from medsegkit.distributed import barrier
from medsegkit.errors import DataError, UsageError
from medsegkit.job import Job, claim
from medsegkit.precision import resolve_precision


class Predictor(Protocol):
    """What :func:`predict_folder` needs of a task: its name, CSV fields, threshold, working size and a batch
    prediction."""

    task: str
    fields: tuple[str, ...]
    threshold: float
    size: int

    def predict(
        self, images: list[np.ndarray], sizes: list[tuple[int, int]]
    ) -> list[tuple[np.ndarray, np.ndarray, dict[str, Any]]]:
        """``(labels (H, W) uint8, overlay (h, w, 3) uint8, record)`` of each ``(h', w', 3)`` image whose full
        size is ``(H, W)`` (it may have been decoded smaller: :func:`~medsegkit.data.imageio.read_rgb_reduced`)."""
        ...


def predict_folder(
    predictor: Predictor,
    items: list[tuple[str, Path]],
    out: Path,
    batch_size: int = 8,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> int:
    """Predict every ``(case, image path)`` of ``items`` not yet finished in ``out``, ``batch_size`` at a time;
    returns how many were predicted."""
    for sub in ("masks", "overlays", "cases"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    todo = [(c, p) for c, p in items if not (out / "cases" / f"{c}.json").is_file()]
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    # one batch's files are encoded and written by a second thread while the next batch is predicted
    # (encoding releases the GIL); at most one batch waits, and an error there stops the run here.
    # Reading the next batch there too was slower on 2 cores (bench/predict.py): it competes with the network
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: Future | None = None
        for batch in progress(batches) if progress else batches:
            # decoded no larger than the overlays and the network need; masks are written at full size
            read = [read_rgb_reduced(path, OVERLAY_SIDE, predictor.size) for _, path in batch]
            results = predictor.predict([image for image, _ in read], [size for _, size in read])
            if pending is not None:
                pending.result()
            pending = writer.submit(_write_batch, out, batch, results)
        if pending is not None:
            pending.result()
    return len(todo)


def timing(start: tuple[float, float], images: int, ctx: distributed.Context) -> dict[str, float]:
    """Images predicted, wall seconds and CPU seconds (every thread, every torchrun process) since ``start``,
    a ``(time.perf_counter(), time.process_time())`` pair. Every process must call it."""
    wall, cpu = time.perf_counter() - start[0], time.process_time() - start[1]
    return {
        "images": int(distributed.summed(float(images), ctx)),
        "seconds": round(wall, 3),
        "cpu_seconds": round(distributed.summed(cpu, ctx), 3),
    }


def _write_batch(out: Path, batch: list[tuple[str, Path]], results: list[tuple[np.ndarray, np.ndarray, dict]]) -> None:
    """Each image's mask, overlay, then its case record (last: it marks the image done)."""
    for (case_id, path), (labels, drawn, record) in zip(batch, results, strict=True):
        write_bytes_atomic(out / "masks" / f"{case_id}.png", png_bytes(labels))
        write_bytes_atomic(overlay_path(out, case_id), overlay_bytes(drawn))
        write_json_atomic(out / "cases" / f"{case_id}.json", {"case": case_id, "image": str(path), **record})


def review_table(records: list[dict[str, Any]], fields: tuple[str, ...]) -> str:
    """Every record from least to most confident (then by case), ``fields`` and the overlay's path: the
    likely failures first, so that a user looks at those."""
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=[*fields, "overlay"], extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in sorted(records, key=lambda r: (r.get("confidence") or 0.0, r["case"])):
        writer.writerow({**r, "overlay": overlay_path(Path(), r["case"]).as_posix()})
    return table.getvalue()


def write_summary(
    out: Path,
    predictor: Predictor,
    name: str,
    source: str,
    settings: dict[str, Any],
    total: int,
    device: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``predictions.csv``, ``review.csv`` (when records carry a confidence) and ``manifest.json`` from every
    ``cases/*.json`` in ``out``; returns the manifest. No finished image out of ``total`` is an error."""
    records = [json.loads(p.read_text()) for p in sorted((out / "cases").glob("*.json"))]
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=predictor.fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    write_text_atomic(out / "predictions.csv", table.getvalue())
    if "confidence" in predictor.fields:
        write_text_atomic(out / "review.csv", review_table(records, predictor.fields))
    manifest = {
        "medsegkit_version": __version__,
        "python": platform.python_version(),
        "device": device,
        "task": predictor.task,
        "input": {"name": name, "path": str(source), "images": total},
        **settings,
        **(extra or {}),
        "finished": len(records),
        "cases": records,
    }
    write_json_atomic(out / "manifest.json", manifest)
    if not records and total:
        raise DataError(f"{out}: no image was predicted")
    return manifest


def finite(value: float) -> float | None:
    """``value`` rounded to 6 decimals, or None when it is not finite (JSON has no NaN)."""
    return round(value, 6) if np.isfinite(value) else None


def load_predictor(
    checkpoint: Path, device: str, threshold: float | None, passes: int, precision: str = "fp32"
) -> Predictor:
    """The predictor of any medsegkit checkpoint: a ``self-train`` lesion network, or a fundus source or
    adapted model; ``threshold`` None is the task's own (lesion: the network's, fundus: adapt's 0.75);
    ``precision`` ``fp32`` or ``bf16`` (see :func:`medsegkit.precision.resolve_precision`)."""
    from medsegkit.checkpoint import read_checkpoint

    payload = read_checkpoint(checkpoint)
    if payload.get("task") == "lesion":
        from medsegkit.lesion.segmenter import LesionPredictor, load_lesion_model

        model, cfg = load_lesion_model(checkpoint, payload, device)
        return LesionPredictor(model, cfg, device, threshold, passes, precision)
    from medsegkit.fundus.config import AdaptConfig
    from medsegkit.fundus.predict import FundusPredictor
    from medsegkit.fundus.source import load_source_model

    model, source = load_source_model(checkpoint, device)
    return FundusPredictor(
        model, source.size, AdaptConfig.threshold if threshold is None else threshold, device, passes, precision
    )


def predict(
    checkpoint: Path,
    images: str,
    job: Job,
    threshold: float | None = None,
    uncertainty: int = 0,
    batch_size: int = 8,
    shard: str | None = None,
    precision: str = "auto",
) -> tuple[Path, dict[str, Any]]:
    """``medsegkit predict``: apply ``checkpoint`` at its working size to a prepared dataset or a folder of
    images; returns the output folder (default ``runs/predict-<images>``) and the manifest (empty on
    ``torchrun`` ranks other than 0). A rerun skips finished images; other settings are refused.
    ``precision`` ``auto`` is bfloat16 where the device runs it natively (:mod:`medsegkit.precision`)."""
    if threshold is not None and not 0 < threshold < 1:
        raise UsageError(f"--threshold must be between 0 and 1, got {threshold}")
    if uncertainty < 0 or batch_size < 1:
        raise UsageError(f"need --uncertainty >= 0 and --batch-size >= 1, got {uncertainty} and {batch_size}")
    target = Path(images)
    if not target.is_dir():
        target = resolve_dataset(images, job.data_root)
    name, items = collect_images(target)
    out = job.destination(Path("runs") / f"predict-{name}")
    with distributed.session(job.device, job.threads) as ctx:
        precision = resolve_precision(precision, ctx.device)
        predictor = load_predictor(Path(checkpoint), ctx.device, threshold, uncertainty, precision)
        settings = {
            "checkpoint": str(Path(checkpoint).resolve()),
            "threshold": predictor.threshold,
            "uncertainty": uncertainty,
            "precision": precision,
        }
        claim(out, settings, ("masks", "overlays", "cases"))
        progress = job.progress if (job.progress and ctx.is_main) else None
        start = time.perf_counter(), time.process_time()
        done = predict_folder(predictor, Shard.parse(shard).select(items), out, batch_size, progress)
        spent = timing(start, done, ctx)
        if ctx.distributed:
            barrier(ctx)
            if not ctx.is_main:
                return out, {}
    return out, write_summary(out, predictor, name, images, settings, len(items), ctx.device, {"prediction": spent})
