"""Applying a trained network to a folder of images, for any task: the loop behind ``medsegkit predict`` and the
last step of ``self-train``.

A :class:`Predictor` turns a batch of images into canonical label maps at each image's own size and one record
per image; :func:`predict_folder` does the rest the same way for every task, in the layout of
:mod:`medsegkit.engine.casefolder`: resuming (``cases/<case>.json`` is written last), atomic writes, overlays
and the summary files (:func:`write_summary`)::

    masks/<case>.png       canonical labels at each image's own size
    overlays/<case>.jpg    the structures' contours, at most 1024 pixels on the longer side
    cases/<case>.json      the image's record (areas, ratios, confidence, ...); written last (resume marker)
    predictions.csv        every finished image's record (all shards), with manifest.json
    review.csv             (tasks with a confidence) every image from least to most confident
    failed/, failed.csv    the images that could not be read, with the reason

Which predictor a checkpoint needs is decided above both pipelines, by :mod:`medsegkit.predict`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from medsegkit.data.imageio import read_rgb_reduced
from medsegkit.engine.candidates import write_candidates
from medsegkit.engine.casefolder import CaseFolder, header
from medsegkit.engine.overlays import OVERLAY_SIDE, layers_of, write_overlay
from medsegkit.errors import DataError
from medsegkit.runtime import distributed

# (labels, record) or (labels, record, candidates): candidate masks at the working size with where each came from
Prediction = tuple[np.ndarray, dict[str, Any]] | tuple[np.ndarray, dict[str, Any], list[tuple[np.ndarray, str]]]


class Predictor(Protocol):
    """What :func:`predict_folder` needs of a task: its name, CSV fields, threshold, working size and a batch
    prediction."""

    task: str
    fields: tuple[str, ...]
    threshold: float
    size: int

    def predict(self, images: list[np.ndarray], sizes: list[tuple[int, int]]) -> list[Prediction]:
        """``(labels (H, W) uint8, record)`` of each ``(h', w', 3)`` image whose full size is ``(H, W)`` (it may
        have been decoded smaller: :func:`~medsegkit.data.imageio.read_rgb_reduced`), optionally with the
        candidate masks a reviewer may choose from (:mod:`medsegkit.engine.candidates`)."""
        ...


def predict_folder(
    predictor: Predictor,
    items: list[tuple[str, Path]],
    out: Path,
    batch_size: int = 8,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
    fail_fast: bool = False,
) -> int:
    """Predict every ``(case, image path)`` of ``items`` not yet finished in ``out``, ``batch_size`` at a time;
    returns how many were predicted. An image that cannot be read is recorded in ``failed/`` and skipped
    (``fail_fast``: the error stops the run), as ``cluster`` does."""
    folder = CaseFolder(out)
    folder.make()
    todo = folder.pending(items)
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    # one batch's overlays are drawn, and its files encoded and written, by a second thread while the next batch
    # is predicted (encoding releases the GIL); at most one batch waits, and an error there stops the run here.
    # Reading the next batch there too was slower on 2 cores (bench/predict.py): it competes with the network
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: Future | None = None
        for listed in progress(batches) if progress else batches:
            batch, read = _read_batch(folder, listed, predictor.size, fail_fast)
            if not batch:
                continue
            images = [image for image, _ in read]
            results = predictor.predict(images, [size for _, size in read])
            if pending is not None:
                pending.result()
            pending = writer.submit(_write_batch, folder, predictor.task, batch, images, results)
        if pending is not None:
            pending.result()
    return len(todo)


def _read_batch(
    folder: CaseFolder, batch: list[tuple[str, Path]], size: int, fail_fast: bool
) -> tuple[list[tuple[str, Path]], list[tuple[np.ndarray, tuple[int, int]]]]:
    """The readable images of ``batch``, decoded no larger than the overlays and the network need (masks are
    written at full size), with their full sizes; the others are recorded as failed."""
    kept, read = [], []
    for case_id, path in batch:
        try:
            read.append(read_rgb_reduced(path, OVERLAY_SIDE, size))
        except DataError as exc:
            if fail_fast:
                raise
            folder.fail(case_id, path, str(exc))
            continue
        kept.append((case_id, path))
    return kept, read


def timing(start: tuple[float, float], images: int, ctx: distributed.Context) -> dict[str, float]:
    """Images predicted, wall seconds and CPU seconds (every thread, every torchrun process) since ``start``,
    a ``(time.perf_counter(), time.process_time())`` pair. Every process must call it."""
    wall, cpu = time.perf_counter() - start[0], time.process_time() - start[1]
    return {
        "images": int(distributed.summed(float(images), ctx)),
        "seconds": round(wall, 3),
        "cpu_seconds": round(distributed.summed(cpu, ctx), 3),
    }


def _write_batch(
    folder: CaseFolder,
    task: str,
    batch: list[tuple[str, Path]],
    images: list[np.ndarray],
    results: list[Prediction],
) -> None:
    """Each image's mask, overlay, then its case record (last: it marks the image done)."""
    for (case_id, path), image, (labels, record, *more) in zip(batch, images, results, strict=True):
        folder.write_mask(case_id, labels)
        write_overlay(folder.root, case_id, image, layers_of(labels, task))
        if more and more[0]:
            write_candidates(folder.root, case_id, [mask for mask, _ in more[0]])
            record = {**record, "candidates": [{"score": None, "source": source} for _, source in more[0]]}
        folder.finish({"case": case_id, "image": str(path), **record})


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
    folder = CaseFolder(out)
    records, failed = folder.records(), folder.failures()
    folder.write_table("predictions.csv", records, predictor.fields)
    folder.write_failed(failed)
    if "confidence" in predictor.fields:
        folder.write_review(records, predictor.fields)
    manifest = {
        **header(device, name, source, total),
        "task": predictor.task,
        **settings,
        **(extra or {}),
        "finished": len(records),
        "failed": failed,
        "cases": records,
    }
    folder.write_manifest(manifest)
    if not records and total:
        raise DataError(f"{out}: no image was predicted")
    return manifest


def finite(value: float) -> float | None:
    """``value`` rounded to 6 decimals, or None when it is not finite (JSON has no NaN).

    Example:
        >>> finite(1 / 3), finite(float("nan"))
        (0.333333, None)
    """
    return round(value, 6) if np.isfinite(value) else None
