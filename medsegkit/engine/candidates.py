"""The candidate masks of a case, kept in its run folder so that a review needs no recomputation.

``candidates/<case>.png`` holds up to eight ``(h, w)`` masks at the run's working size as the bit planes of one
uint8 PNG (bit ``k`` set: the pixel is in candidate ``k``); a few kilobytes per image. The case record's
``candidates`` list describes them in the same order (score, where each came from). A candidate is shown and
applied at the image's size by nearest-neighbour resizing, as the run's own masks are made.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medsegkit.data.imageio import png_bytes, read_labels
from medsegkit.errors import DataError
from medsegkit.runtime.atomic import write_bytes_atomic

MOST = 8  # bits of a uint8 plane


def candidates_path(run: Path, case_id: str) -> Path:
    return Path(run) / "candidates" / f"{case_id}.png"


def pack(masks: Sequence[np.ndarray]) -> np.ndarray:
    """``masks`` (each ``(h, w)`` bool, at most 8) as one ``(h, w)`` uint8 of bit planes.

    Example:
        >>> a, b = np.eye(2, dtype=bool), np.ones((2, 2), bool)
        >>> pack([a, b]).tolist()
        [[3, 2], [2, 3]]
    """
    if not 0 < len(masks) <= MOST:
        raise ValueError(f"pack takes 1 to {MOST} masks, got {len(masks)}")
    planes = np.zeros(masks[0].shape, np.uint8)
    for bit, mask in enumerate(masks):
        planes |= np.asarray(mask, bool).astype(np.uint8) << bit
    return planes


def unpack(planes: np.ndarray, count: int) -> list[np.ndarray]:
    """The ``count`` masks ``(h, w)`` bool of a bit-plane image (inverse of :func:`pack`)."""
    return [(planes >> bit) & 1 > 0 for bit in range(count)]


def write_candidates(run: Path, case_id: str, masks: Sequence[np.ndarray]) -> None:
    """``candidates/<case>.png`` of ``masks``, atomically (none: nothing is written)."""
    if masks:
        candidates_path(run, case_id).parent.mkdir(exist_ok=True)
        write_bytes_atomic(candidates_path(run, case_id), png_bytes(pack(masks)))


def read_candidates(run: Path, case_id: str, count: int) -> list[np.ndarray]:
    """The ``count`` candidate masks of ``case_id`` kept in ``run`` (an empty list when it kept none)."""
    path = candidates_path(run, case_id)
    if count == 0 or not path.is_file():
        return []
    planes = read_labels(path)
    if planes.max(initial=0) >= 1 << count:
        raise DataError(f"{path}: bit planes beyond the {count} candidates its case record lists")
    return unpack(planes.astype(np.uint8), count)
