"""Binary dilation and erosion by a radius, in time independent of the radius, and hole filling in one labelling.

``ndimage.binary_dilation(mask, iterations=r)`` with the default cross grows the mask by the taxicab
(L1) ball of radius ``r``, one pixel per pass: r passes over the image. The taxicab distance transform
gives the same pixels in two passes (``distance_transform_cdt``), which matters for the wide rings and
bands of the lesion pipeline (14-40 passes on a 600x450 image). Equality with the iterated scipy
operators is tested in ``tests/test_morphology.py``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """``ndimage.binary_dilation(mask, iterations=radius)``: pixels within taxicab distance ``radius`` of ``mask``."""
    mask = np.asarray(mask, bool)
    if radius < 1 or not mask.any():
        return mask.copy()
    return ndimage.distance_transform_cdt(~mask, metric="taxicab") <= radius


def erode(mask: np.ndarray, radius: int, border_value: int = 0) -> np.ndarray:
    """``ndimage.binary_erosion(mask, iterations=radius, border_value=border_value)``: pixels farther than
    ``radius`` (taxicab) from every background pixel; with ``border_value`` 0 the outside is background."""
    mask = np.asarray(mask, bool)
    if radius < 1:
        return mask.copy()
    padded = np.pad(mask, 1, constant_values=bool(border_value))
    if padded.all():
        return mask.copy()
    return (ndimage.distance_transform_cdt(padded, metric="taxicab") > radius)[1:-1, 1:-1]


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``ndimage.binary_fill_holes(mask)``: ``mask`` with every background region that does not reach the
    image border (4-connected) filled. One labelling of the background instead of scipy's dilations until
    nothing changes, which take as many passes as the widest hole is deep."""
    mask = np.asarray(mask, bool)
    labels, n = ndimage.label(~mask)
    if n == 0:
        return mask.copy()
    outer = np.zeros(n + 1, bool)
    for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        outer[edge] = True
    outer[0] = True  # label 0 is the mask itself
    return ~outer[labels] | mask
