"""Refining a blind lesion mask with two colour models, without ground truth.

The blind selector (:mod:`medsegkit.lesion.blind.selection`) returns a union of whole clusters, so the
lesion's boundary is wherever the clustering put it; a lighter rim of the lesion often ends in a
skin cluster. This step trusts only the mask's core and its far surroundings: it fits one Gaussian
to the (smoothed) colours of the mask eroded by a margin and one to the colours outside the mask
dilated by the same margin, gives every pixel to the more likely model (equal priors), and cleans
the result as the selector does (border-hugging off-centre components dropped, largest component
kept, holes filled, small spurs opened away). It is GrabCut's colour-model step without the graph
cut, run once.

Equal priors put the boundary where the lesion's core colour and the skin's are equally likely,
inside the lighter periphery that annotators include: they trace where the *skin* ends. So the
result is then extended to where the skin model stops explaining the colours (the outline of
:func:`atypical_of_skin`): pixels whose squared Mahalanobis distance to the skin Gaussian exceeds
the chi-square quantile ``skin_quantile`` (3 degrees of freedom), in components that touch the
mask, join it. A quantile is a statement about the skin model, not a tuned size, and the dev
collections' Dice moves by less than 0.01 between 0.95 and 0.999 (docs/cluster.md).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage, stats

from medsegkit.lesion.blind.selection import clean
from medsegkit.lesion.config import ColourRefineConfig, SelectionConfig
from medsegkit.morphology import dilate, erode


def fit_gaussian(samples: np.ndarray, ridge: float, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean ``(d,)``, inverse covariance ``(d, d)`` and log-determinant of ``scale·Σ + ridge·I`` of ``samples``
    ``(n, d)``; the ridge keeps a flat region (zero variance) invertible."""
    n, d = samples.shape
    mean = samples.mean(axis=0)
    centred = samples - mean
    cov = centred.T @ centred / max(n - 1, 1) * scale + ridge * np.eye(d)  # np.cov, as one matrix product
    return mean, np.linalg.inv(cov), float(np.linalg.slogdet(cov)[1])


def gaussian_log_likelihood(samples: np.ndarray, ridge: float = 1e-4) -> Callable[[np.ndarray], np.ndarray]:
    """Fit a Gaussian to ``samples`` ``(n, d)`` (:func:`fit_gaussian`); returns ``x (m, d) -> log N(x) + const``
    ``(m,)``."""
    mean, inverse, log_det = fit_gaussian(samples, ridge)

    def log_likelihood(x: np.ndarray) -> np.ndarray:
        return -0.5 * (squared_mahalanobis(x, mean, inverse) + log_det)

    return log_likelihood


def squared_mahalanobis(x: np.ndarray, mean: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """``(x − μ)ᵀ Σ⁻¹ (x − μ)`` ``(m,)`` of each row of ``x`` ``(m, d)``, given μ ``(d,)`` and Σ⁻¹ ``(d, d)``."""
    d = x - mean
    return ((d @ inverse) * d).sum(axis=1)  # a matrix product, not einsum's unblocked loop


def atypical_of_skin(
    colours: np.ndarray, skin: np.ndarray, quantile: float, ridge: float, steps: int = 3
) -> np.ndarray:
    """``(H, W)`` bool: the pixels of ``colours`` ``(H, W, C)`` that a Gaussian fitted to the ``skin`` pixels
    ``(H, W)`` bool does not explain, ``d²(x) = (x − μ)ᵀ (Σ + ridge·I)⁻¹ (x − μ) > χ²_C(quantile)``. For
    Gaussian skin a share ``1 − quantile`` of the skin pixels would be.

    The skin sample holds hairs, other moles and the lesion's own halo, which would widen Σ until the halo
    looks like skin, so the fit is trimmed: ``steps`` times, μ and Σ are refitted to the samples within the
    cut, and Σ is scaled by ``quantile / P(χ²_{C+2} ≤ χ²_C(quantile))``, the factor that makes a trimmed
    Gaussian's covariance consistent (Croux and Haesbroeck 1999).
    """
    channels = colours.shape[2]
    cut = stats.chi2.ppf(quantile, channels)
    consistency = quantile / stats.chi2.cdf(cut, channels + 2)
    samples = colours[skin]
    for step in range(steps + 1):
        mean, inverse, _ = fit_gaussian(samples, ridge, consistency if step else 1.0)
        within = squared_mahalanobis(samples, mean, inverse) <= cut
        if step == steps or within.sum() <= channels or within.all():
            break
        samples = samples[within]
    return (squared_mahalanobis(colours.reshape(-1, channels), mean, inverse) > cut).reshape(skin.shape)


def refine_mask(
    image: np.ndarray,
    mask: np.ndarray,
    config: ColourRefineConfig = ColourRefineConfig(),
    blind: SelectionConfig = SelectionConfig(),
    fov: np.ndarray | None = None,
) -> np.ndarray:
    """The refined lesion mask ``(H, W)`` bool of an ``(H, W, 3)`` uint8 ``image`` and its blind ``mask`` ``(H, W)``.

    Two steps (module docstring): the two colour models' decision, then the growth over the pixels the
    skin does not explain that touch it (off with ``config.skin_quantile`` 1).
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
    candidate = _opened(
        clean((lesion(pixels) > skin(pixels)).reshape(mask.shape) & fov, blind, fov), config, blind, fov
    )
    if not candidate.any():
        return mask
    outside = ~dilate(candidate, margin) & fov  # the skin as the first step left it
    if config.skin_quantile < 1 and outside.sum() >= config.min_pixels:
        labels, _ = ndimage.label(
            atypical_of_skin(colours, outside, config.skin_quantile, config.ridge) & fov | candidate
        )
        touching = np.unique(labels[candidate])
        grown = _opened(clean(np.isin(labels, touching[touching > 0]), blind, fov), config, blind, fov)
        candidate = grown if grown.any() else candidate
    return candidate


def _opened(mask: np.ndarray, config: ColourRefineConfig, blind: SelectionConfig, fov: np.ndarray) -> np.ndarray:
    """``mask`` with spurs thinner than ``config.opening`` opened away, cleaned again."""
    opening = round(config.opening * min(mask.shape))
    return clean(ndimage.binary_opening(mask, iterations=opening), blind, fov) if opening and mask.any() else mask


__all__ = ["atypical_of_skin", "fit_gaussian", "gaussian_log_likelihood", "refine_mask", "squared_mahalanobis"]
