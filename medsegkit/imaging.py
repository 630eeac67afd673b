"""Pixel helpers shared by every pipeline: resizing, image-to-tensor, contour overlays."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from scipy import ndimage

if TYPE_CHECKING:
    import torch


def resize_nearest(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a ``(h, w)`` label map to ``shape`` (pixel-centre aligned).

    Example:
        >>> resize_nearest(np.array([[1, 2], [3, 4]]), (4, 4))[:, 0].tolist()
        [1, 1, 3, 3]
    """
    h, w = labels.shape
    rows = np.minimum(((np.arange(shape[0]) + 0.5) * h / shape[0]).astype(int), h - 1)
    cols = np.minimum(((np.arange(shape[1]) + 0.5) * w / shape[1]).astype(int), w - 1)
    return labels[rows[:, None], cols[None, :]]


def resize_square(image: np.ndarray, size: int, labels: bool = False) -> np.ndarray:
    """An ``(H, W[, 3])`` uint8 image resized to ``(size, size[, 3])``: bilinear, or nearest for ``labels``.

    Example:
        >>> resize_square(np.zeros((10, 20, 3), np.uint8), 8).shape
        (8, 8, 3)
    """
    resample = Image.Resampling.NEAREST if labels else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(image).resize((size, size), resample))


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(3, H, W)`` float32 in [0, 1].

    Example:
        >>> to_tensor(np.full((2, 2, 3), 255, np.uint8)).amax().item()
        1.0
    """
    import torch

    return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).float().div_(255.0)


def overlay(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (0, 255, 0)) -> np.ndarray:
    """The ``(H, W)`` mask's contour (2 px) drawn in ``colour`` on a copy of the ``(H, W, 3)`` uint8 image."""
    m = np.asarray(mask, bool)
    edge = m & ~ndimage.binary_erosion(m, iterations=1, border_value=0)
    edge = ndimage.binary_dilation(edge, iterations=1)
    out = np.array(image, dtype=np.uint8, copy=True)
    out[edge] = colour
    return out
