"""How much to trust one image's blind lesion mask, without ground truth.

Three pieces of image evidence, each in [0, 1], multiplied (one weak piece is enough to doubt a mask):

- **agreement**: Dice between the mask and a second opinion, the mask that the same selection and
  refinement make from another clustering of the same image (k-means with three colour clusters).
  Two different clusterings that end in the same lesion are rarely both wrong.
- **stability**: Dice between the mask and the union of clusters the selection score prefers before any
  refinement (the clearest union). A mask far from it means the clusters and the colours disagree on
  the lesion.
- **contrast**: the colour difference between the mask and a thin ring of skin around it, in units of
  the field of view's colour spread, mapped to [0, 1] by ``c / (1 + c)``. A lesion has a visible edge.

The product has no tuned weight or threshold; it only ranks images. ``review.csv`` lists the images of
a run from least to most confident, so that a user checks the few likely failures first.
"""

from __future__ import annotations

import numpy as np

from medsegkit.metrics import dice
from medsegkit.morphology import dilate


def boundary_contrast(image: np.ndarray, mask: np.ndarray, fov: np.ndarray | None = None, ring: float = 0.03) -> float:
    """``‖mean colour(mask) − mean colour(ring)‖ / colour spread of the field of view``, the ring being
    ``ring`` of the image side wide around the mask; 0 for an empty mask or ring.

    Example:
        >>> image = np.full((32, 32, 3), 200, np.uint8)
        >>> image[8:24, 8:24] = 60
        >>> mask = np.zeros((32, 32), bool)
        >>> mask[8:24, 8:24] = True
        >>> boundary_contrast(image, mask) > boundary_contrast(image, np.roll(mask, 8, axis=1))
        True
    """
    fov = np.ones(mask.shape, bool) if fov is None else fov
    around = dilate(mask, max(1, round(ring * min(mask.shape)))) & ~mask & fov
    if not mask.any() or not around.any():
        return 0.0
    # sums as matrix products over the flattened pixels: no copy of the image per region
    colours = image.reshape(-1, 3).astype(np.float64) / 255.0
    regions = np.stack([mask.ravel(), around.ravel(), fov.ravel()]).astype(np.float64)  # (3, N)
    counts = regions.sum(axis=1, keepdims=True)
    means = regions @ colours / counts  # (3 regions, 3 channels)
    variance = regions[2] @ (colours - means[2]) ** 2 / counts[2]
    spread = float(np.sqrt(variance.sum())) + 1e-6
    return float(np.linalg.norm(means[0] - means[1]) / spread)


def confidence(
    image: np.ndarray,
    mask: np.ndarray,
    selected: np.ndarray,
    second: np.ndarray,
    fov: np.ndarray | None = None,
) -> dict[str, float]:
    """The confidence of the final ``mask`` of an ``(H, W, 3)`` image and the pieces it is made of.

    ``selected`` is the union of clusters the selection score prefers unrefined (the clearest union, not
    necessarily the one the mask was refined from), ``second`` the second opinion's mask.
    """
    contrast = boundary_contrast(image, mask, fov)
    parts = {"agreement": dice(mask, second), "stability": dice(mask, selected), "contrast": contrast / (1 + contrast)}
    return {"confidence": float(np.prod(list(parts.values()))), **parts, "contrast_raw": contrast}
