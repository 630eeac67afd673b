"""Choosing the lesion among unlabelled clusters, without ground truth.

Dermoscopic lesions are darker than the surrounding skin, compact, roughly central, and rarely
fill the image border (dark vignetting corners do). For each union of the k darkest clusters
the selector cleans the mask (drops dark components that touch the border away from the centre or
around it, keeps the largest component, fills holes) and scores it; the best-scoring mask wins.
``paler`` turns the order round, for a lesion paler than its skin (the one-image pipeline tries it when
neither clustering gives a darker one: :func:`medsegkit.lesion.blind.per_image.blind_mask`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np
from scipy import ndimage

from medsegkit.lesion.config import SelectionConfig
from medsegkit.morphology import dilate, erode, fill_holes


def border_band(fov: np.ndarray, width: int) -> np.ndarray:
    """The pixels of the field of view ``fov`` ``(H, W)`` within ``width`` pixels of its edge (of the image's
    edge when the field of view is the whole image)."""
    return fov & ~erode(fov, width, border_value=0)


def _band(fov: np.ndarray) -> np.ndarray:
    return border_band(fov, max(1, round(0.02 * min(fov.shape))))


SECTORS = 72  # directions seen from the image centre, 5 degrees each


@functools.lru_cache(maxsize=8)
def _sectors(h: int, w: int) -> np.ndarray:
    """The direction of every pixel from the centre of an ``(h, w)`` image, as a sector ``0..SECTORS-1``."""
    rows, cols = np.mgrid[0:h, 0:w]
    angle = np.arctan2(rows - (h - 1) / 2, cols - (w - 1) / 2)
    return ((angle + np.pi) / (2 * np.pi) * SECTORS).astype(np.int64).ravel() % SECTORS


@functools.lru_cache(maxsize=8)
def _coordinates(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """The row and column of every pixel of an ``(h, w)`` image, flattened: ``(h·w,)`` each."""
    return np.divmod(np.arange(h * w), w)


def surrounds_centre(labels: np.ndarray, n: int) -> np.ndarray:
    """Per component ``1..n`` of ``labels`` ``(H, W)``: does it lie around the image centre, seen from there in
    more than half of all directions, without covering or enclosing the centre? A convex region that misses a point
    spans less than half of the directions from it, so a lesion beside the centre does not; the dark ring of
    a round dermoscope's vignette does. Shape: ``(n,)`` bool."""
    h, w = labels.shape
    hit = np.bincount(labels.ravel().astype(np.int64) * SECTORS + _sectors(h, w), minlength=(n + 1) * SECTORS)
    spans = (hit.reshape(n + 1, SECTORS)[1:] > 0).mean(axis=1)
    centre = (slice((h - 1) // 2, h // 2 + 1), slice((w - 1) // 2, w // 2 + 1))
    around = (spans > 0.5) & ~np.isin(np.arange(1, n + 1), labels[centre])
    for i in np.flatnonzero(around):  # a centre in a hole of the component is covered too (a lesion's pale middle)
        around[i] = not fill_holes(labels == i + 1)[centre].any()
    return around


def clean(mask: np.ndarray, config: SelectionConfig = SelectionConfig(), fov: np.ndarray | None = None) -> np.ndarray:
    """Drop components that touch the field of view's edge away from the centre (a vignette's dark corner) or
    around it (:func:`surrounds_centre`: a vignette's dim ring), keep the largest remaining one, fill its holes.
    ``fov`` ``(H, W)`` bool: the dermoscope's field of view (default: the whole image).

    Empty when every component is such a corner or ring (vignetting, not a lesion).
    """
    labels, n = ndimage.label(mask)
    if n == 0:
        return mask.astype(bool)
    h, w = mask.shape
    band = _band(np.ones(mask.shape, bool) if fov is None else fov)
    ids = np.arange(1, n + 1)
    flat = labels.ravel()
    sizes = np.bincount(flat, minlength=n + 1)[1:]  # per-component sums as bincounts: one pass each
    on_border = np.bincount(flat[band.ravel()], minlength=n + 1)[1:] / max(band.sum(), 1)
    rows, cols = _coordinates(h, w)
    centre_rows = np.bincount(flat, rows, minlength=n + 1)[1:] / sizes
    centre_cols = np.bincount(flat, cols, minlength=n + 1)[1:] / sizes
    offcentre = np.hypot((centre_rows - h / 2) / (h / 2), (centre_cols - w / 2) / (w / 2))
    touches = on_border > config.corner_border_share
    ring = surrounds_centre(labels, n) if touches.any() else np.zeros(n, bool)  # only edge-touching ones can be
    keep = ~(touches & ((offcentre > 0.6) | ring))
    if not keep.any():
        return np.zeros(mask.shape, bool)
    best = ids[keep][np.argmax(sizes[keep])]
    return fill_holes(labels == best)


def grey_level(image: np.ndarray, paler: bool = False) -> np.ndarray:
    """The grey level ``(H, W)`` float of an ``(H, W, 3)`` image that the selection compares: the channel mean,
    negated for a ``paler`` lesion so that the lesion is the darker side either way."""
    return image.astype(np.float64).mean(axis=2) * (-1.0 if paler else 1.0)


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


def candidates(
    image: np.ndarray,
    clusters: np.ndarray,
    config: SelectionConfig = SelectionConfig(),
    fov: np.ndarray | None = None,
    paler: bool = False,
) -> Iterator[np.ndarray]:
    """The cleaned unions of the ``k`` darkest clusters (``k = 1 .. K−1``; the lightest with ``paler``)
    of a cluster map ``(H, W)`` of an ``(H, W, 3)`` uint8 image inside the field of view ``fov`` ``(H, W)`` bool
    (default: the whole image), as ``(H, W)`` bool masks. Clusters are ordered by their mean grey level in
    the field of view; a union that :func:`clean` turns into the same mask as the one before is given once."""
    fov = np.ones(clusters.shape, bool) if fov is None else fov
    grey = grey_level(image, paler)
    values = np.unique(clusters[fov])
    if values.size < 2:
        return
    brightness = np.array([grey[(clusters == v) & fov].mean() for v in values])  # negated with ``paler``
    order = values[np.argsort(brightness)]
    previous = None
    for k in range(1, values.size):
        candidate = clean(np.isin(clusters, order[:k]) & fov, config, fov)
        if previous is None or not np.array_equal(candidate, previous):
            yield candidate
        previous = candidate


def select_foreground(
    image: np.ndarray,
    clusters: np.ndarray,
    config: SelectionConfig = SelectionConfig(),
    fov: np.ndarray | None = None,
    paler: bool = False,
) -> np.ndarray:
    """The lesion mask ``(H, W)`` bool chosen from a cluster map ``(H, W)`` of an ``(H, W, 3)`` uint8 image,
    inside the field of view ``fov`` ``(H, W)`` bool (default: the whole image): the best-scoring of the
    :func:`candidates`; empty when none is lesion-like. With ``paler`` the candidates are unions of the
    lightest clusters (a lesion paler than its skin), scored with the contrast's sign turned."""
    fov = np.ones(clusters.shape, bool) if fov is None else fov
    grey = grey_level(image, paler)
    best, best_score = np.zeros(clusters.shape, bool), float("-inf")
    for candidate in candidates(image, clusters, config, fov, paler):
        s = score(candidate, grey, config, fov)
        if s > best_score:
            best, best_score = candidate, s
    return best
