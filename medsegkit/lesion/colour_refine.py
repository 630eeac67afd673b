"""Refining a blind lesion mask with two colour models, without ground truth.

The blind selector (:mod:`medsegkit.lesion.selection`) returns a union of whole clusters, so the
lesion's boundary is wherever the clustering put it; a lighter rim of the lesion often ends in a
skin cluster. This step trusts only the mask's core and its far surroundings: it fits one Gaussian
to the (smoothed) colours of the mask eroded by a margin and one to the colours outside the mask
dilated by the same margin, gives every pixel to the more likely model (equal priors), and cleans
the result as the selector does (border-hugging off-centre components dropped, largest component
kept, holes filled, small spurs opened away). It is GrabCut's colour-model step without the graph
cut, run once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from medsegkit.lesion.config import ColourRefineConfig, SelectionConfig
from medsegkit.lesion.selection import clean
from medsegkit.morphology import dilate, erode


def gaussian_log_likelihood(samples: np.ndarray, ridge: float = 1e-4) -> Callable[[np.ndarray], np.ndarray]:
    """Fit a Gaussian to ``samples`` ``(n, d)``; returns ``x (m, d) -> log N(x) + const`` ``(m,)``.

    ``ridge`` is added to the covariance's diagonal, so a flat region (zero variance) stays invertible.
    """
    mean = samples.mean(axis=0)
    cov = np.cov(samples, rowvar=False).reshape(samples.shape[1], samples.shape[1]) + ridge * np.eye(samples.shape[1])
    inverse = np.linalg.inv(cov)
    _, log_det = np.linalg.slogdet(cov)

    def log_likelihood(x: np.ndarray) -> np.ndarray:
        d = x - mean
        return -0.5 * (np.einsum("ij,jk,ik->i", d, inverse, d) + log_det)

    return log_likelihood


def refine_mask(
    image: np.ndarray,
    mask: np.ndarray,
    config: ColourRefineConfig = ColourRefineConfig(),
    blind: SelectionConfig = SelectionConfig(),
    fov: np.ndarray | None = None,
) -> np.ndarray:
    """The refined lesion mask ``(H, W)`` bool of an ``(H, W, 3)`` uint8 ``image`` and its blind ``mask`` ``(H, W)``.

    Returns ``mask`` unchanged when it is empty, when its core or surroundings have fewer than
    ``min_pixels`` pixels, or when nothing lesion-like survives the cleaning.
    """
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape[:2]} and mask {mask.shape} differ in size")
    mask = mask.astype(bool)
    side = min(mask.shape)
    margin = max(1, round(config.margin * side))
    core = erode(mask, margin)
    fov = np.ones(mask.shape, bool) if fov is None else fov
    outside = ~dilate(mask, margin) & fov  # skin: the field of view, not the vignette
    if core.sum() < config.min_pixels or outside.sum() < config.min_pixels:
        return mask
    colours = image.astype(np.float64) / 255.0
    sigma = config.smoothing * side
    if sigma > 0:
        colours = np.stack([ndimage.gaussian_filter(colours[..., c], sigma) for c in range(colours.shape[2])], axis=-1)
    pixels = colours.reshape(-1, colours.shape[2])
    lesion = gaussian_log_likelihood(colours[core], config.ridge)
    skin = gaussian_log_likelihood(colours[outside], config.ridge)
    candidate = clean((lesion(pixels) > skin(pixels)).reshape(mask.shape) & fov, blind, fov)
    opening = round(config.opening * side)
    if opening:
        candidate = clean(ndimage.binary_opening(candidate, iterations=opening), blind, fov)
    return candidate if candidate.any() else mask


__all__ = ["gaussian_log_likelihood", "refine_mask"]
