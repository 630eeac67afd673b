"""Segmentation metrics, each defined once, with every published variant named.

Masks are boolean arrays of any dimension (usually ``(H, W)``). ``A`` is the prediction, ``B`` the
ground truth. Distances are in pixels at the masks' resolution, or in physical units when
``spacing`` (one value per axis, e.g. mm per pixel as ``(row, col)``) is given.

Surfaces follow medpy: a surface pixel is a foreground pixel removed by one binary erosion with the
axis-neighbour (``connectivity=1``) structure; pixels on the array border count as surface. The
directed surface distances ``d(A→B)`` are, for every surface pixel of A, the Euclidean distance to
the nearest surface pixel of B.

Empty masks, one policy everywhere:

- both empty: Dice 1, HM 0, XOR 0, every distance 0;
- one empty: Dice 0, HM 1, XOR 1 if only the prediction is empty and NaN if only the ground truth
  is, every distance NaN. Tables count such cases (:func:`empty_kind`); they are never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

Spacing = Sequence[float] | None
HD95Variant = Literal["pooled", "max-directed"]
ASSDVariant = Literal["pooled", "mean-directed"]
EmptyKind = Literal["", "pred", "gt", "both"]

NAN = float("nan")


def _as_bool(mask: np.ndarray) -> np.ndarray:
    return mask if isinstance(mask, np.ndarray) and mask.dtype == bool else np.asarray(mask, dtype=bool)


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_bool(pred), _as_bool(gt)
    if a.shape != b.shape:
        raise ValueError(f"prediction shape {a.shape} differs from ground truth shape {b.shape}")
    return a, b


def empty_kind(pred: np.ndarray, gt: np.ndarray) -> EmptyKind:
    """Which of the two masks is empty: ``""`` (neither), ``"pred"``, ``"gt"`` or ``"both"``."""
    a, b = bool(np.any(pred)), bool(np.any(gt))
    return "" if a and b else "both" if not (a or b) else "pred" if not a else "gt"


def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    """Dice = 2|A∩B| / (|A| + |B|), in [0, 1]; 1 when both are empty."""
    a, b = _check_pair(pred, gt)
    total = np.count_nonzero(a) + np.count_nonzero(b)
    return 1.0 if total == 0 else 2.0 * np.count_nonzero(a & b) / total


def hammoude(pred: np.ndarray, gt: np.ndarray) -> float:
    """Hammoude distance HM = |A∪B \\ A∩B| / |A∪B| = 1 − Jaccard, in [0, 1]; 0 when both are empty."""
    a, b = _check_pair(pred, gt)
    union = np.count_nonzero(a | b)
    return 0.0 if union == 0 else np.count_nonzero(a ^ b) / union


def xor(pred: np.ndarray, gt: np.ndarray) -> float:
    """XOR = |A∪B \\ A∩B| / |B|, in [0, ∞); 0 when both are empty, NaN when only B is empty."""
    a, b = _check_pair(pred, gt)
    n_gt = np.count_nonzero(b)
    n_xor = np.count_nonzero(a ^ b)
    if n_gt == 0:
        return 0.0 if n_xor == 0 else NAN
    return n_xor / n_gt


def surface(mask: np.ndarray, connectivity: int = 1) -> np.ndarray:
    """Boolean surface of ``mask``: foreground pixels that one erosion removes (array border counts)."""
    m = _as_bool(mask)
    structure = ndimage.generate_binary_structure(m.ndim, connectivity)
    return m & ~ndimage.binary_erosion(m, structure=structure, iterations=1)


def _normalise_spacing(spacing: Spacing, ndim: int) -> tuple[float, ...] | None:
    if spacing is None:
        return None
    values = tuple(float(s) for s in spacing)
    if len(values) == 1:
        values = values * ndim
    if len(values) != ndim or any(not np.isfinite(s) or s <= 0 for s in values):
        raise ValueError(f"spacing must hold {ndim} positive values, got {spacing}")
    return values


@dataclass(frozen=True)
class SurfaceDistances:
    """Directed surface distances ``pred_to_gt`` (one per surface pixel of A) and ``gt_to_pred``."""

    pred_to_gt: np.ndarray
    gt_to_pred: np.ndarray

    @property
    def pooled(self) -> np.ndarray:
        return np.concatenate([self.pred_to_gt, self.gt_to_pred])


def surface_distances(
    pred: np.ndarray, gt: np.ndarray, spacing: Spacing = None, connectivity: int = 1, symmetric: bool = True
) -> SurfaceDistances | None:
    """Both directed surface distance sets, or None when either mask is empty.

    With ``symmetric=False`` only ``pred_to_gt`` is computed (``gt_to_pred`` is left empty).

    Work is restricted to the bounding box of A ∪ B grown by one pixel, which gives the same
    distances as the full array (every surface pixel lies inside it) at a fraction of the cost.
    """
    a, b = _check_pair(pred, gt)
    if not a.any() or not b.any():
        return None
    sampling = _normalise_spacing(spacing, a.ndim)
    coords = np.nonzero(a | b)
    box = tuple(slice(max(int(c.min()) - 1, 0), int(c.max()) + 2) for c in coords)
    a, b = a[box], b[box]
    # Crop edges inside the image hold background only, so the erosion border rule is unchanged.
    sa, sb = surface(a, connectivity), surface(b, connectivity)
    to_b = ndimage.distance_transform_edt(~sb, sampling=sampling)
    if not symmetric:
        return SurfaceDistances(to_b[sa], np.empty(0))
    to_a = ndimage.distance_transform_edt(~sa, sampling=sampling)
    return SurfaceDistances(to_b[sa], to_a[sb])


def _distance_or_policy(
    pred: np.ndarray, gt: np.ndarray, spacing: Spacing, symmetric: bool = True
) -> SurfaceDistances | float:
    sd = surface_distances(pred, gt, spacing, symmetric=symmetric)
    if sd is not None:
        return sd
    return 0.0 if empty_kind(pred, gt) == "both" else NAN


def hausdorff(pred: np.ndarray, gt: np.ndarray, spacing: Spacing = None) -> float:
    """HD = max(max d(A→B), max d(B→A)); 0 when both are empty, NaN when one is."""
    sd = _distance_or_policy(pred, gt, spacing)
    return sd if isinstance(sd, float) else float(max(sd.pred_to_gt.max(), sd.gt_to_pred.max()))


def hd95(pred: np.ndarray, gt: np.ndarray, spacing: Spacing = None, variant: HD95Variant = "pooled") -> float:
    """95th-percentile Hausdorff distance, in two published variants.

    - ``pooled``: P95 of d(A→B) ∪ d(B→A) pooled (medpy ``hd95``);
    - ``max-directed``: max(P95 d(A→B), P95 d(B→A)) (MONAI ``compute_hausdorff_distance(percentile=95)``).

    Percentiles use linear interpolation. 0 when both are empty, NaN when one is.
    """
    sd = _distance_or_policy(pred, gt, spacing)
    if isinstance(sd, float):
        return sd
    if variant == "pooled":
        return float(np.percentile(sd.pooled, 95))
    if variant == "max-directed":
        return float(max(np.percentile(sd.pred_to_gt, 95), np.percentile(sd.gt_to_pred, 95)))
    raise ValueError(f"hd95 variant must be 'pooled' or 'max-directed', got {variant!r}")


def asd(pred: np.ndarray, gt: np.ndarray, spacing: Spacing = None) -> float:
    """Directed average surface distance ASD = mean d(A→B) (medpy ``asd``); 0 both empty, NaN one empty."""
    sd = _distance_or_policy(pred, gt, spacing, symmetric=False)
    return sd if isinstance(sd, float) else float(sd.pred_to_gt.mean())


def assd(pred: np.ndarray, gt: np.ndarray, spacing: Spacing = None, variant: ASSDVariant = "pooled") -> float:
    """Average symmetric surface distance, in two published variants.

    - ``pooled``: mean of d(A→B) ∪ d(B→A) (medpy ≥ 0.5.2 ``assd``);
    - ``mean-directed``: (mean d(A→B) + mean d(B→A)) / 2 (medpy < 0.5.2).

    0 when both are empty, NaN when one is.
    """
    sd = _distance_or_policy(pred, gt, spacing)
    if isinstance(sd, float):
        return sd
    if variant == "pooled":
        return float(sd.pooled.mean())
    if variant == "mean-directed":
        return float((sd.pred_to_gt.mean() + sd.gt_to_pred.mean()) / 2)
    raise ValueError(f"assd variant must be 'pooled' or 'mean-directed', got {variant!r}")


METRICS: tuple[str, ...] = ("dice", "hm", "xor", "hd", "hd95", "hd95_max", "asd", "assd", "assd_mean")


def binary_scores(pred: np.ndarray, gt: np.ndarray, spacing: Spacing = None) -> dict[str, float]:
    """Every metric of :data:`METRICS` for one pair, computing the surface distances once.

    ``hd95`` is the pooled variant, ``hd95_max`` the max of directed P95; ``assd`` the pooled mean,
    ``assd_mean`` the mean of the directed means.
    """
    scores = {"dice": dice(pred, gt), "hm": hammoude(pred, gt), "xor": xor(pred, gt)}
    sd = _distance_or_policy(pred, gt, spacing)
    if isinstance(sd, float):
        scores.update(dict.fromkeys(("hd", "hd95", "hd95_max", "asd", "assd", "assd_mean"), sd))
        return scores
    a_b, b_a = sd.pred_to_gt, sd.gt_to_pred
    pooled = sd.pooled
    scores.update(
        hd=float(max(a_b.max(), b_a.max())),
        hd95=float(np.percentile(pooled, 95)),
        hd95_max=float(max(np.percentile(a_b, 95), np.percentile(b_a, 95))),
        asd=float(a_b.mean()),
        assd=float(pooled.mean()),
        assd_mean=float((a_b.mean() + b_a.mean()) / 2),
    )
    return scores


def vertical_extent(mask: np.ndarray) -> int:
    """Number of rows between the top and bottom foreground pixel of a ``(H, W)`` mask, inclusive; 0 if empty."""
    rows = np.flatnonzero(_as_bool(mask).any(axis=1))
    return 0 if rows.size == 0 else int(rows[-1] - rows[0] + 1)


def vcdr(cup: np.ndarray, disc: np.ndarray) -> float:
    """Vertical cup-to-disc ratio = vertical extent of the cup / that of the disc; NaN if the disc is empty."""
    disc_rows = vertical_extent(disc)
    return NAN if disc_rows == 0 else vertical_extent(cup) / disc_rows
