"""Scoring one prediction folder against a prepared dataset, under named selections and protocols.

Selections turn a prediction into a binary mask per structure:

- ``blind``: the mask the method wrote (``masks/``), chosen without ground truth;
- ``best-overlap``: from a cluster map (``clusters/``), the cluster with the most pixels inside the
  ground truth (label 0 included). This peeks at the ground truth to pick a cluster, as the
  S3-Net papers do.

Protocols:

- ``standard``: score the selected mask as it is;
- ``ssct``: the official S3-Net evaluation: ``best-overlap``, then the prediction is multiplied by the
  ground truth dilated twice with a 5x5 kernel. **It leaks ground truth into the prediction**; it
  exists only to reproduce published numbers, and every output says so.

Scoring happens at the ground truth's resolution (predictions of another size but the same aspect ratio are
resized back with nearest neighbour) unless ``at_size`` asks for N x N for both. A prediction whose aspect ratio
differs from its ground truth's is refused, unless ``resize`` says to stretch it: it was made for another image.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from medsegkit import metrics
from medsegkit.data.dataset import Dataset
from medsegkit.data.predictions import PredictionFolder, recorded_task
from medsegkit.errors import DataError, UsageError
from medsegkit.imaging import resize_nearest

Select = Literal["blind", "best-overlap"]
Protocol = Literal["standard", "ssct"]
SSCT_WARNING = (
    "protocol ssct multiplies predictions by the dilated ground truth: ground truth leaks into the prediction"
)
Progress = Callable[[Iterable[str]], Iterator[str]]


@dataclass(frozen=True)
class EvalSettings:
    """How predictions are turned into masks and scored (built from flags by :func:`medsegkit.config.build`)."""

    split: str | None = None
    select: Select = "blind"
    protocol: Protocol = "standard"
    at_size: int | None = None
    spacing: tuple[float, ...] | None = None
    resize: bool = False

    def __post_init__(self) -> None:
        if self.select not in ("blind", "best-overlap"):
            raise ValueError(f"select must be 'blind' or 'best-overlap', got {self.select!r}")
        if self.protocol not in ("standard", "ssct"):
            raise ValueError(f"protocol must be 'standard' or 'ssct', got {self.protocol!r}")
        if self.at_size is not None and self.at_size < 8:
            raise ValueError(f"at_size must be at least 8 pixels, got {self.at_size}")
        if self.spacing is not None and (
            len(self.spacing) not in (1, 2) or any(not np.isfinite(v) or v <= 0 for v in self.spacing)
        ):
            raise ValueError(f"spacing expects one or two positive numbers such as 0.5 or 0.5,0.4, got {self.spacing}")
        if self.at_size is not None and self.spacing is not None:
            raise ValueError("spacing gives the ground truth's pixel size; it cannot be combined with at_size")

    def split_of(self, ds: Dataset) -> str:
        """The split to score: the one asked for, else ``test`` when the dataset has one, else ``all``."""
        return self.split or ds.split_or_all("test")

    @property
    def leaks_ground_truth(self) -> bool:
        return self.protocol == "ssct"

    @property
    def effective_select(self) -> Select:
        return "best-overlap" if self.protocol == "ssct" else self.select


@dataclass
class RunResult:
    """Per-case rows of one prediction folder and what was wrong with it."""

    run: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    resized: list[str] = field(default_factory=list)


def best_overlap(clusters: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The cluster of ``clusters`` ``(H, W)`` with the most pixels inside ``gt``; empty if none overlaps."""
    inside = clusters[gt]
    if inside.size == 0:
        return np.zeros(clusters.shape, bool)
    values, counts = np.unique(inside, return_counts=True)
    return clusters == values[np.argmax(counts)]


def ssct_leak(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The official S3-Net masking: ``pred`` AND (``gt`` dilated twice by a 5x5 square)."""
    return pred & ndimage.binary_dilation(gt, structure=np.ones((5, 5), bool), iterations=2)


def same_aspect(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Do two ``(H, W)`` shapes have one aspect ratio, up to the rounding of a resize (one pixel)?

    Example:
        >>> same_aspect((287, 383), (574, 765)), same_aspect((80, 100), (574, 765))
        (True, False)
    """
    (ha, wa), (hb, wb) = a[:2], b[:2]
    return abs(wa - wb * ha / hb) <= 1 or abs(ha - hb * wa / wb) <= 1


def _structures(labels: np.ndarray, structures: dict[str, list[int]]) -> dict[str, np.ndarray]:
    return {name: np.isin(labels, values) for name, values in structures.items()}


def _predicted(
    pred: np.ndarray, gt_struct: dict[str, np.ndarray], ds: Dataset, settings: EvalSettings, path: Path
) -> dict[str, np.ndarray]:
    structures = ds.manifest["structures"]
    if ds.task.name == "lesion":
        if settings.effective_select == "best-overlap":
            mask = best_overlap(pred, gt_struct["lesion"])
            if settings.protocol == "ssct":
                mask = ssct_leak(mask, gt_struct["lesion"])
            return {"lesion": mask}
        return {"lesion": pred > 0}
    if settings.effective_select == "best-overlap":
        raise UsageError("--select best-overlap and --protocol ssct apply to lesion cluster maps, not to fundus labels")
    bad = sorted(set(np.unique(pred).tolist()) - ds.task.values)
    if bad:
        raise DataError(f"{path}: prediction value(s) {bad[:8]} outside the fundus labels {sorted(ds.task.values)}")
    return _structures(pred, structures)


def evaluate_run(
    run: Path, ds: Dataset, settings: EvalSettings, progress: Progress | None = None, label: str | None = None
) -> RunResult:
    """Score one prediction folder against ``ds`` (named ``label``, default its path), noting missing cases."""
    folder = PredictionFolder.open(run)
    task = recorded_task(run)
    if task is not None and task != ds.task.name:
        raise UsageError(f"{run}: a {task} run cannot be scored against {ds.name}, a {ds.task.name} dataset")
    result = RunResult(label or str(run))
    source = "clusters" if settings.effective_select == "best-overlap" and folder.clusters else "masks"
    split = settings.split_of(ds)
    ids = ds.case_ids(split)
    available = folder.case_ids(source)
    scored = [c for c in ids if ds.mask_path(c) is not None]
    result.missing = [c for c in scored if c not in available]
    result.extra = sorted(available - set(ids))
    todo = [c for c in scored if c in available]
    if scored and not todo:
        raise DataError(
            f"{run}: no prediction for any case of {ds.name} (split {split}; it has {_names(sorted(available), 3)}); "
            "expected predictions of that dataset's images"
        )
    for case_id in progress(todo) if progress else todo:
        gt = ds.mask(case_id)
        pred = folder.read(case_id, source)
        if settings.at_size:
            size = (settings.at_size, settings.at_size)
            gt, pred = resize_nearest(gt, size), resize_nearest(pred, size)
        elif pred.shape != gt.shape:
            pred_path = (folder.clusters if source == "clusters" else folder.masks)[case_id]
            if not (settings.resize or same_aspect(pred.shape, gt.shape)):
                raise DataError(
                    f"{pred_path}: prediction is {pred.shape[1]}x{pred.shape[0]}, its ground truth "
                    f"{gt.shape[1]}x{gt.shape[0]}: another aspect ratio, so probably not this image's; "
                    "expected the same shape (pass --resize to stretch it)"
                )
            result.resized.append(case_id)
            pred = resize_nearest(pred, gt.shape)
        gt_struct = _structures(gt, ds.manifest["structures"])
        pred_path = (folder.clusters if source == "clusters" else folder.masks)[case_id]
        pred_struct = _predicted(pred, gt_struct, ds, settings, pred_path)
        case_rows: dict[str, dict[str, Any]] = {}
        for name, gt_mask in gt_struct.items():
            row: dict[str, Any] = {"run": result.run, "case": case_id, "structure": name}
            row.update(metrics.binary_scores(pred_struct[name], gt_mask, settings.spacing))
            row["empty"] = metrics.empty_kind(pred_struct[name], gt_mask)
            case_rows[name] = row
        if ds.task.name == "fundus":
            pred_vcdr = metrics.vcdr(pred_struct["cup"], pred_struct["disc"])
            gt_vcdr = metrics.vcdr(gt_struct["cup"], gt_struct["disc"])
            case_rows["cup"].update(vcdr_pred=pred_vcdr, vcdr_gt=gt_vcdr, vcdr_err=abs(pred_vcdr - gt_vcdr))
        result.rows.extend(case_rows.values())
    return result


SUMMARY_METRICS: tuple[str, ...] = (*metrics.METRICS, "vcdr_err")


def _names(ids: list[str], limit: int = 8) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
