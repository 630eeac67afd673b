"""A prepared dataset seen through another camera: a deterministic acquisition shift for stress tests.

``medsegkit prepare shifted PREPARED --zoom 1.4 --brightness 0.6 --gamma 1.4 --out DIR`` writes a copy of
a prepared dataset with every image (and mask) zoomed about its centre, and every image darkened,
contrast-reduced, gamma-changed or blurred. It keeps the splits, so a model can be scored on a shift of
known size and direction (the optic disc filling more of the crop, a darker camera) that a real second
site shows only mixed together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from medsegkit.data.dataset import Dataset
from medsegkit.data.readers.base import CaseSource, DatasetReader, LoadedCase, require_dir
from medsegkit.data.readers.crop import resize
from medsegkit.data.tasks import TASKS, Task


@dataclass(frozen=True)
class ShiftOptions:
    """``zoom`` > 1 enlarges the centre (crops ``1/zoom`` of each side), < 1 shrinks it (mirror padding);
    ``brightness`` multiplies, ``contrast`` scales about the image mean, ``gamma`` raises [0, 1] intensities
    to that power (> 1 darkens mid-tones), ``blur`` is a Gaussian sigma in pixels."""

    zoom: float = 1.0
    brightness: float = 1.0
    contrast: float = 1.0
    gamma: float = 1.0
    blur: float = 0.0

    def __post_init__(self) -> None:
        if not 0.5 <= self.zoom <= 3:
            raise ValueError(f"zoom must lie in [0.5, 3], got {self.zoom}")
        if min(self.brightness, self.contrast, self.gamma) <= 0 or self.blur < 0:
            raise ValueError("brightness, contrast and gamma must be positive and blur >= 0")


def zoom_centre(array: np.ndarray, zoom: float, labels: bool) -> np.ndarray:
    """Zoom ``(H, W[, C])`` about its centre by ``zoom``, keeping its size (nearest for label maps).

    Example:
        >>> zoom_centre(np.arange(16, dtype=np.uint8).reshape(4, 4), 2.0, labels=True).tolist()[1]
        [5, 5, 6, 6]
    """
    if zoom == 1:
        return array
    h, w = array.shape[:2]
    if zoom > 1:
        ch, cw = max(1, round(h / zoom)), max(1, round(w / zoom))
        top, left = (h - ch) // 2, (w - cw) // 2
        window = array[top : top + ch, left : left + cw]
    else:
        ph, pw = round(h * (1 / zoom - 1) / 2), round(w * (1 / zoom - 1) / 2)
        window = np.pad(array, ((ph, ph), (pw, pw), *[(0, 0)] * (array.ndim - 2)), mode="symmetric")
    return _resize_to(window, (h, w), labels)


def _resize_to(array: np.ndarray, shape: tuple[int, int], labels: bool) -> np.ndarray:
    if array.shape[0] == array.shape[1] and shape[0] == shape[1]:
        return resize(np.ascontiguousarray(array), shape[0], labels)
    factors = (shape[0] / array.shape[0], shape[1] / array.shape[1]) + (1,) * (array.ndim - 2)
    return ndimage.zoom(array, factors, order=0 if labels else 1, grid_mode=True, mode="nearest")[
        : shape[0], : shape[1]
    ]


def photometric(image: np.ndarray, options: ShiftOptions) -> np.ndarray:
    """Blur, then contrast about the mean, brightness and gamma, on a ``(H, W, 3)`` uint8 image."""
    x = image.astype(np.float64) / 255
    if options.blur > 0:
        x = ndimage.gaussian_filter(x, (options.blur, options.blur, 0))
    x = (x - x.mean()) * options.contrast + x.mean()
    x = np.clip(x * options.brightness, 0, 1) ** options.gamma
    return np.round(x * 255).astype(np.uint8)


class ShiftedReader(DatasetReader):
    """Any prepared dataset (``dataset.json``), zoomed and re-lit; masks follow the zoom."""

    layout = "a prepared medsegkit dataset (a folder with dataset.json, images/ and masks/)"
    default_name = "shifted"
    Options = ShiftOptions

    def __init__(self, options: ShiftOptions | None = None) -> None:
        super().__init__(options)
        self._dataset: Dataset | None = None

    @property
    def task(self) -> Task:  # type: ignore[override]
        return self._dataset.task if self._dataset is not None else TASKS["lesion"]

    def suggested_name(self, src: Path | None) -> str:
        return f"{src.name}-shifted" if src is not None else self.default_name

    def notes(self) -> list[str]:
        o = self.options
        kept = list(self._dataset.manifest.get("notes", [])) if self._dataset else []
        return kept + [
            f"synthetic acquisition shift of {self._dataset.root if self._dataset else 'a prepared dataset'}: "
            f"zoom {o.zoom}, brightness {o.brightness}, contrast {o.contrast}, gamma {o.gamma}, blur {o.blur}"
        ]

    def scan(self, src: Path | None) -> list[CaseSource]:
        self._dataset = Dataset.open(require_dir(src, self.layout))
        split_of = {c: s for s, ids in self._dataset.splits.items() if s != "all" for c in ids}
        return [
            CaseSource(c, self._dataset.image_path(c), self._dataset.mask_path(c), split_of.get(c))
            for c in self._dataset.case_ids()
        ]

    def load(self, case: CaseSource) -> LoadedCase:
        assert self._dataset is not None, "scan() first"
        image = photometric(
            zoom_centre(self._dataset.image(case.case_id), self.options.zoom, labels=False), self.options
        )
        mask = self._dataset.mask(case.case_id)
        return LoadedCase(image, None if mask is None else zoom_centre(mask, self.options.zoom, labels=True))
