"""The dermoscope's field of view: the lit region of an image, without the dark vignetting around it.

Contact dermoscopes image the skin through a round (or rectangular) window; outside it the image is
nearly black. Those dark corners or rings are not skin and not lesion: left in, they are the darkest
"cluster" of the image, they close a ring around it (and hole filling then takes everything inside),
and they skew every statistic of the image.

The vignette is found as what is both *very dark* and *connected to the image border*: pixels whose
brightness (the largest of R, G, B, lightly smoothed) is below ``dark_fraction`` (a quarter) of the image's
typical brightness (its median over the central region), in components that touch the border. The
field of view is the rest, with holes filled, as one component. A dark lesion touching the border is
rarely that dark (its brightness is a sizeable fraction of the skin's); and when what would remain is
less than ``min_area`` of the image, the detection is not trusted and the whole image is the field of
view. An image without vignetting gets the whole image.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from medsegkit.lesion.config import FieldOfViewConfig
from medsegkit.morphology import fill_holes


def field_of_view(image: np.ndarray, config: FieldOfViewConfig = FieldOfViewConfig()) -> np.ndarray:
    """The ``(H, W)`` bool field of view of an ``(H, W, 3)`` uint8 image (all True without vignetting).

    Example:
        >>> image = np.full((40, 40, 3), 180, np.uint8)
        >>> image[:4], image[-4:] = 5, 5  # dark bands at the top and bottom
        >>> fov = field_of_view(image)
        >>> bool(fov[20, 20]), bool(fov[1, 20]), round(float(fov.mean()), 2)
        (True, False, 0.8)
    """
    h, w = image.shape[:2]
    value = np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2]).astype(np.float64)
    sigma = config.smoothing * min(h, w)
    if sigma > 0:
        value = ndimage.gaussian_filter(value, sigma)
    r0, r1, c0, c1 = h // 4, h - h // 4, w // 4, w - w // 4
    typical = float(np.median(value[r0:r1, c0:c1]))
    dark = value < config.dark_fraction * typical
    labels, n = ndimage.label(dark)
    if n == 0:
        return np.ones((h, w), bool)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outside = np.isin(labels, border[border > 0])
    fov = fill_holes(~outside)
    labels, n = ndimage.label(fov)
    if n > 1:
        sizes = ndimage.sum_labels(np.ones_like(fov), labels, np.arange(1, n + 1))
        fov = labels == 1 + int(np.argmax(sizes))
    if fov.mean() < config.min_area:
        return np.ones((h, w), bool)
    return fov
