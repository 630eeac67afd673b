"""Any folder of images with optional masks, for data that follows no published layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from medsegkit.data.imageio import list_images
from medsegkit.data.readers.base import CaseSource, DatasetReader, LoadedCase, load_mapped, no_cases, require_dir
from medsegkit.data.tasks import FUNDUS, LESION, TASKS
from medsegkit.errors import DataError


def parse_mask_map(text: str) -> dict[int, int]:
    """Parse ``"0:0,255:1"`` (raw value : canonical label) into a dict."""
    mapping: dict[int, int] = {}
    for item in text.split(","):
        raw, sep, label = item.strip().partition(":")
        try:
            if not sep:
                raise ValueError
            key, value = int(raw), int(label)
        except ValueError:
            raise ValueError(f"mask_map expects 'raw:label' pairs such as '0:0,255:1', got {text!r}") from None
        if not (0 <= key <= 255 and 0 <= value <= 255):
            raise ValueError(f"mask_map values must lie in 0..255, got {item.strip()!r}")
        mapping[key] = value
    return mapping


@dataclass(frozen=True)
class FolderOptions:
    task: Literal["lesion", "fundus"] = "lesion"
    mask_map: str = "0:0,255:1"

    def __post_init__(self) -> None:
        labels = set(parse_mask_map(self.mask_map).values())
        allowed = TASKS[self.task].values
        if not labels <= allowed:
            raise ValueError(
                f"mask_map maps to label(s) {sorted(labels - allowed)} outside the {self.task} labels {sorted(allowed)}"
            )


class FolderReader(DatasetReader):
    """``images/<case>.{png,jpg,bmp,tif}`` and optional ``masks/<case>[_suffix].<ext>``;
    raw mask values are turned into labels by ``--mask-map``."""

    layout = "a folder with 'images/<case>.<png|jpg|bmp|tif>' and optional 'masks/<case>.<ext>'"
    default_name = "folder"
    Options = FolderOptions

    @property
    def task(self):  # type: ignore[override]
        return LESION if self.options.task == "lesion" else FUNDUS

    def suggested_name(self, src: Path | None) -> str:
        return src.name if src is not None else self.default_name

    def scan(self, src: Path | None) -> list[CaseSource]:
        src = require_dir(src, self.layout)
        image_dir = src / "images"
        if not image_dir.is_dir():
            raise no_cases(src, self.layout)
        mask_dir = src / "masks"
        masks = list_images(mask_dir) if mask_dir.is_dir() else []
        cases = []
        for image in list_images(image_dir):
            found = [m for m in masks if m.stem == image.stem] or [
                m for m in masks if m.stem.startswith(image.stem + "_")
            ]
            if len(found) > 1:
                raise DataError(
                    f"{image}: several masks match this image ({', '.join(m.name for m in found)}); expected one"
                )
            cases.append(CaseSource(image.stem, image, found[0] if found else None))
        if not cases:
            raise no_cases(src, self.layout)
        return cases

    def load(self, case: CaseSource) -> LoadedCase:
        return load_mapped(case, parse_mask_map(self.options.mask_map))
