"""Disc-centred crops and resizing shared by the fundus readers."""

from __future__ import annotations

import numpy as np
from PIL import Image


def centre_of(mask: np.ndarray) -> tuple[float, float]:
    """Centroid ``(row, col)`` of the non-zero pixels of a ``(H, W)`` mask."""
    rows, cols = np.nonzero(mask)
    return float(rows.mean()), float(cols.mean())


def crop_centred(array: np.ndarray, centre: tuple[float, float], size: int) -> tuple[np.ndarray, list[int]]:
    """Crop a ``size`` x ``size`` window centred on ``centre`` (row, col), zero-padding outside the image.

    Returns the crop and its box ``[top, left, size, size]`` in source pixels.
    """
    top = int(round(centre[0])) - size // 2
    left = int(round(centre[1])) - size // 2
    out = np.zeros((size, size, *array.shape[2:]), dtype=array.dtype)
    h, w = array.shape[:2]
    r0, r1 = max(top, 0), min(top + size, h)
    c0, c1 = max(left, 0), min(left + size, w)
    if r1 > r0 and c1 > c0:
        out[r0 - top : r1 - top, c0 - left : c1 - left] = array[r0:r1, c0:c1]
    return out, [top, left, size, size]


def resize(array: np.ndarray, size: int, labels: bool) -> np.ndarray:
    """Resize to ``size`` x ``size``: nearest for label maps, bilinear for images."""
    if array.shape[0] == size and array.shape[1] == size:
        return array
    resample = Image.Resampling.NEAREST if labels else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(array).resize((size, size), resample))
