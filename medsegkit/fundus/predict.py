"""``medsegkit predict``: a source or adapted fundus checkpoint applied to new images.

Output folder::

    settings.json          checkpoint, threshold, MC-dropout passes; a rerun with other settings is refused
    masks/<case>.png       canonical labels (0 background, 1 rim, 2 cup) at each image's own size
    overlays/<case>.png    disc (green) and cup (blue) contours, at most 1024 pixels on the longer side
    cases/<case>.json      per image: size, disc and cup area (pixels), vertical cup-to-disc ratio, and with
                           MC dropout the mean uncertainty inside each structure; written last (resume marker)
    predictions.csv        those records for every finished image (all shards), with manifest.json
"""

from __future__ import annotations

import csv
import io
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medsegkit import __version__, distributed, metrics
from medsegkit.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic
from medsegkit.data.dataset import resolve_dataset
from medsegkit.data.imageio import png_bytes, read_rgb
from medsegkit.data.images import Shard, collect_images, display_copy
from medsegkit.distributed import Context, barrier
from medsegkit.errors import DataError, UsageError
from medsegkit.fundus.config import AdaptConfig
from medsegkit.fundus.cpr import mc_dropout
from medsegkit.fundus.source import labels_of, load_source_model
from medsegkit.imaging import overlay, resize_nearest, resize_square, to_tensor
from medsegkit.job import Job, claim

FIELDS = ("case", "height", "width", "disc_area", "cup_area", "vcdr", "uncertainty_disc", "uncertainty_cup")


def predict(
    checkpoint: Path,
    images: str,
    job: Job,
    threshold: float = AdaptConfig.threshold,
    uncertainty: int = 0,
    batch_size: int = 8,
    shard: str | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Apply ``checkpoint`` at its working size to a prepared dataset or a folder of images; returns the
    output folder (default ``runs/predict-<images>``) and the manifest (empty on torchrun ranks other than 0)."""
    if not 0 < threshold < 1:
        raise UsageError(f"--threshold must be between 0 and 1, got {threshold}")
    if uncertainty < 0 or batch_size < 1:
        raise UsageError(f"need --uncertainty >= 0 and --batch-size >= 1, got {uncertainty} and {batch_size}")
    target = Path(images)
    if not target.is_dir():
        target = resolve_dataset(images, job.data_root)
    name, items = collect_images(target)
    out = job.destination(Path("runs") / f"predict-{name}")
    settings = {"checkpoint": str(Path(checkpoint).resolve()), "threshold": threshold, "uncertainty": uncertainty}
    with distributed.session(job.device, job.threads) as ctx:
        model, cfg = load_source_model(Path(checkpoint), ctx.device)
        claim(out, settings, ("masks", "overlays", "cases"))
        todo = [(c, p) for c, p in Shard.parse(shard).select(items) if not (out / "cases" / f"{c}.json").is_file()]
        batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
        progress = job.progress if (job.progress and ctx.is_main) else (lambda x: x)
        for batch in progress(batches):
            _predict_batch(model, batch, cfg.size, out, ctx, threshold, uncertainty)
        if ctx.distributed:
            barrier(ctx)
            if not ctx.is_main:
                return out, {}
    return out, _write_summary(out, name, images, settings, len(items), ctx.device)


@torch.no_grad()
def _predict_batch(
    model: torch.nn.Module,
    batch: list[tuple[str, Path]],
    size: int,
    out: Path,
    ctx: Context,
    threshold: float,
    passes: int,
) -> None:
    images = [read_rgb(path) for _, path in batch]
    x = torch.stack([to_tensor(resize_square(image, size)) for image in images]).to(ctx.device)
    model.eval()
    prob = torch.sigmoid(model(x)).cpu().numpy()
    std = mc_dropout(model, x, passes)[1].cpu().numpy() if passes else None
    for i, ((case_id, path), image) in enumerate(zip(batch, images, strict=True)):
        h, w = image.shape[:2]
        labels = resize_nearest(labels_of(prob[i], threshold), (h, w))
        cup, disc = labels == 2, labels >= 1
        write_bytes_atomic(out / "masks" / f"{case_id}.png", png_bytes(labels))
        shown = display_copy(image)
        small = resize_nearest(labels, shown.shape[:2])
        write_bytes_atomic(
            out / "overlays" / f"{case_id}.png",
            png_bytes(overlay(overlay(shown, small >= 1), small == 2, (0, 128, 255))),
        )
        record: dict[str, Any] = {
            "case": case_id,
            "image": str(path),
            "height": h,
            "width": w,
            "disc_area": int(disc.sum()),
            "cup_area": int(cup.sum()),
            "vcdr": _finite(metrics.vcdr(cup, disc)),
        }
        if std is not None:
            work = labels_of(prob[i], threshold)
            for s, structure in ((1, "disc"), (0, "cup")):
                inside = work >= 1 if structure == "disc" else work == 2
                record[f"uncertainty_{structure}"] = _finite(float(std[i, s][inside].mean())) if inside.any() else None
        write_json_atomic(out / "cases" / f"{case_id}.json", record)


def _finite(value: float) -> float | None:
    return round(value, 6) if np.isfinite(value) else None


def _write_summary(
    out: Path, name: str, images: str, settings: dict[str, Any], total: int, device: str
) -> dict[str, Any]:
    records = [json.loads(p.read_text()) for p in sorted((out / "cases").glob("*.json"))]
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    write_text_atomic(out / "predictions.csv", table.getvalue())
    manifest = {
        "medsegkit_version": __version__,
        "python": platform.python_version(),
        "device": device,
        "input": {"name": name, "path": str(images), "images": total},
        **settings,
        "finished": len(records),
        "cases": records,
    }
    write_json_atomic(out / "manifest.json", manifest)
    if not records and total:
        raise DataError(f"{out}: no image was predicted")
    return manifest
