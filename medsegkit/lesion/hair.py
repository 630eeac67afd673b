"""Hair removal before clustering: the DullRazor idea (Lee et al., Comput. Biol. Med. 1997) with OpenCV.

Hairs are thin, long and darker than what lies around them. A morphological black-hat (closing minus the image)
of the luminance with a line a twentieth of the image side long, at four orientations, is large only where
something thinner than the line and darker than its surroundings crosses it; its largest response over the
orientations is cut by Otsu's threshold (the split between the image's ordinary texture and what stands out of
it), and of what is cut only the parts at least as long as the line and no wider than ``THICKNESS`` are hairs.
They, grown by a pixel, are filled in by OpenCV's ``cv2.inpaint`` (Telea's fast marching), and the clusterer and
the blind choice see the image without its hairs; masks and overlays stay on the original image. A lesion's own
dark dots and globules are not long and thin lines: they stay.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

HAIR_CHOICES = ("keep", "remove")
LINE = 1 / 20  # the structuring line's length as a share of the image side
THICKNESS = 5  # pixels: a hair, 1-3 px wide at 256 px, and the black-hat's spread of a pixel on each side


def _cv2():  # OpenCV is the ``hair`` extra: imported when hair is removed
    try:
        import cv2
    except ImportError as exc:
        from medsegkit.errors import UsageError

        raise UsageError("--hair remove needs OpenCV: pip install 'medsegkit[hair]' (opencv-python-headless)") from exc
    return cv2


def line_kernels(length: int) -> list[np.ndarray]:
    """Lines of ``length`` pixels at 0, 45, 90 and 135 degrees, as uint8 structuring elements.

    Example:
        >>> [k.shape for k in line_kernels(5)], int(line_kernels(5)[1].sum())
        ([(1, 5), (5, 5), (5, 1), (5, 5)], 5)
    """
    diagonal = np.eye(length, dtype=np.uint8)
    return [np.ones((1, length), np.uint8), diagonal[::-1].copy(), np.ones((length, 1), np.uint8), diagonal]


def hair_mask(image: np.ndarray) -> np.ndarray:
    """The ``(H, W)`` bool hairs of an ``(H, W, 3)`` uint8 image (module docstring)."""
    cv2 = _cv2()
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    length = max(3, round(LINE * min(grey.shape)) | 1)
    response = np.max([cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, k) for k in line_kernels(length)], axis=0)
    cut, _ = cv2.threshold(response, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    above = response[response > cut]
    strong, _ = cv2.threshold(above[None], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU) if above.size else (255, 0)
    marked = (response > cut).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(marked, connectivity=8)
    extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    depth = cv2.distanceTransform(marked, cv2.DIST_L2, 3)  # half the local width, at a part's middle
    # the width most of a part has (where hairs cross, a few pixels are wider)
    width = 2 * ndimage.labeled_comprehension(depth, labels, np.arange(count), _ninetieth, float, 0.0)
    contrast = ndimage.maximum(response, labels, np.arange(count))
    hair = (extent >= length) & (width <= THICKNESS) & (contrast > strong)  # long, thin, and as dark as a hair
    hair[0] = False  # the background
    hairs = np.isin(labels, np.flatnonzero(hair)).astype(np.uint8)
    return cv2.dilate(hairs, np.ones((3, 3), np.uint8)) > 0


def remove_hair(image: np.ndarray) -> np.ndarray:
    """``image`` ``(H, W, 3)`` uint8 with its hairs (:func:`hair_mask`) inpainted."""
    cv2 = _cv2()
    hairs = hair_mask(image)
    if not hairs.any():
        return image
    return cv2.inpaint(np.ascontiguousarray(image), hairs.astype(np.uint8), 3, cv2.INPAINT_TELEA)


def _ninetieth(values: np.ndarray) -> float:
    return float(np.percentile(values, 90))
