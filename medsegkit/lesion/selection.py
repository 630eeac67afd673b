"""Choosing the lesion among unlabelled clusters, without ground truth.

Dermoscopic lesions are darker than the surrounding skin, compact, roughly central, and rarely
fill the image border (dark vignetting corners do). For each union of the k darkest clusters
the selector cleans the mask (drops dark components that hug the border away from the centre,
keeps the largest component, fills holes) and scores it; the best-scoring mask wins.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from medsegkit.lesion.config import SelectionConfig
from medsegkit.morphology import dilate, erode


def border_band(fov: np.ndarray, width: int) -> np.ndarray:
    """The pixels of the field of view ``fov`` ``(H, W)`` within ``width`` pixels of its edge (of the image's
    edge when the field of view is the whole image)."""
    return fov & ~erode(fov, width, border_value=0)


def _band(fov: np.ndarray) -> np.ndarray:
    return border_band(fov, max(1, round(0.02 * min(fov.shape))))


def clean(mask: np.ndarray, config: SelectionConfig = SelectionConfig(), fov: np.ndarray | None = None) -> np.ndarray:
    """Drop components that hug the field of view's edge away from the centre, keep the largest remaining
    one, fill its holes. ``fov`` ``(H, W)`` bool: the dermoscope's field of view (default: the whole image).

    Empty when every component is a border-hugging off-centre one (vignetting, not a lesion).
    """
    labels, n = ndimage.label(mask)
    if n == 0:
        return mask.astype(bool)
    h, w = mask.shape
    band = _band(np.ones(mask.shape, bool) if fov is None else fov)
    ids = np.arange(1, n + 1)
    sizes = ndimage.sum_labels(np.ones_like(mask), labels, ids)
    on_border = ndimage.sum_labels(band, labels, ids) / max(band.sum(), 1)
    centres = np.array(ndimage.center_of_mass(mask, labels, ids)).reshape(-1, 2)
    offcentre = np.hypot((centres[:, 0] - h / 2) / (h / 2), (centres[:, 1] - w / 2) / (w / 2))
    keep = ~((on_border > config.corner_border_share) & (offcentre > 0.6))
    if not keep.any():
        return np.zeros(mask.shape, bool)
    best = ids[keep][np.argmax(sizes[keep])]
    return ndimage.binary_fill_holes(labels == best)


def score(
    mask: np.ndarray, grey: np.ndarray, config: SelectionConfig = SelectionConfig(), fov: np.ndarray | None = None
) -> float:
    """Higher is more lesion-like; ``-inf`` for an empty, tiny or image-filling mask. Statistics and the
    border are those of the field of view ``fov`` (default: the whole image)."""
    fov = np.ones(mask.shape, bool) if fov is None else fov
    area = mask.sum() / max(fov.sum(), 1)
    if area < config.min_area or area > config.max_area:
        return float("-inf")
    h, w = mask.shape
    ring = dilate(mask, max(1, round(config.ring_width * min(h, w)))) & ~mask & fov
    if not ring.any():
        return float("-inf")
    contrast = (grey[ring].mean() - grey[mask].mean()) / (grey[fov].std() + 1e-6)
    border = mask[_band(fov)].mean()
    rows, cols = np.nonzero(mask)
    offcentre = np.hypot((rows.mean() - h / 2) / (h / 2), (cols.mean() - w / 2) / (w / 2))
    return float(contrast - config.border_weight * border - config.centre_weight * offcentre)


def select_foreground(
    image: np.ndarray, clusters: np.ndarray, config: SelectionConfig = SelectionConfig(), fov: np.ndarray | None = None
) -> np.ndarray:
    """The lesion mask ``(H, W)`` bool chosen from a cluster map ``(H, W)`` of an ``(H, W, 3)`` uint8 image,
    inside the field of view ``fov`` ``(H, W)`` bool (default: the whole image)."""
    fov = np.ones(clusters.shape, bool) if fov is None else fov
    grey = image.astype(np.float64).mean(axis=2)
    values = np.unique(clusters[fov])
    if values.size < 2:
        return np.zeros(clusters.shape, bool)
    brightness = np.array([grey[(clusters == v) & fov].mean() for v in values])
    order = values[np.argsort(brightness)]
    best, best_score = np.zeros(clusters.shape, bool), float("-inf")
    for k in range(1, values.size):
        candidate = clean(np.isin(clusters, order[:k]) & fov, config, fov)
        s = score(candidate, grey, config, fov)
        if s > best_score:
            best, best_score = candidate, s
    return best
