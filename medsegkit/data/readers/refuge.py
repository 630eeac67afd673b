"""REFUGE challenge (Orlando et al., MedIA 2020) in its release layout.

``REFUGE-Training400/Training400/{Glaucoma,Non-Glaucoma}/gNNNN.jpg`` with
``Annotation-Training400/Disc_Cup_Masks/{Glaucoma,Non-Glaucoma}/gNNNN.bmp``;
``REFUGE-Validation400/VNNNN.jpg`` with ``REFUGE-Validation400-GT/Disc_Cup_Masks/VNNNN.bmp``;
test images ``Test400/TNNNN.jpg`` likewise. Masks: 0 cup, 128 rim, 255 background.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medsegkit.data.imageio import IMAGE_SUFFIXES
from medsegkit.data.readers.base import CaseSource, DatasetReader, LoadedCase, load_mapped, no_cases, require_dir
from medsegkit.data.readers.crop import centre_of, crop_centred, resize
from medsegkit.data.tasks import FUNDUS
from medsegkit.errors import DataError

MASK_VALUES = {0: 2, 128: 1, 255: 0}
MASK_FOLDER = "Disc_Cup_Masks"


def _split_of(path: Path) -> str | None:
    text = "/".join(path.parts).lower()
    for key, split in (("training400", "train"), ("validation400", "validation"), ("test400", "test")):
        if key in text:
            return split
    return None


@dataclass(frozen=True)
class RefugeOptions:
    crop_size: int | None = None
    resize: int | None = None

    def __post_init__(self) -> None:
        for name in ("crop_size", "resize"):
            value = getattr(self, name)
            if value is not None and value < 16:
                raise ValueError(f"{name} must be at least 16 pixels, got {value}")


class RefugeReader(DatasetReader):
    """Full REFUGE fundus photographs; ``--crop-size`` cuts a disc-centred ROI (centre from the ground truth)."""

    task = FUNDUS
    layout = (
        "REFUGE release: images '*400/**/<id>.jpg' and masks '**/Disc_Cup_Masks/**/<id>.bmp' "
        "(0 cup, 128 rim, 255 background)"
    )
    default_name = "refuge"
    Options = RefugeOptions

    def scan(self, src: Path | None) -> list[CaseSource]:
        src = require_dir(src, self.layout)
        masks: dict[str, Path] = {}
        images: list[Path] = []
        for path in sorted(src.rglob("*")):
            if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if MASK_FOLDER in path.parts:
                masks[path.stem] = path
            else:
                images.append(path)
        cases = []
        for image in images:
            meta: dict[str, object] = {}
            if image.parent.name in ("Glaucoma", "Non-Glaucoma"):
                meta["glaucoma"] = image.parent.name == "Glaucoma"
            cases.append(CaseSource(image.stem, image, masks.get(image.stem), _split_of(image.relative_to(src)), meta))
        if not cases:
            raise no_cases(src, self.layout)
        return cases

    def load(self, case: CaseSource) -> LoadedCase:
        loaded = load_mapped(case, MASK_VALUES)
        image, labels = loaded.image, loaded.mask
        meta: dict[str, object] = {"original_size": list(image.shape[:2])}
        size = self.options.crop_size
        if size:
            if labels is None or not labels.any():
                raise DataError(
                    f"{case.image_path}: --crop-size needs a disc in the ground truth to centre on, "
                    "and this case has none"
                )
            centre = centre_of(labels > 0)
            image, box = crop_centred(image, centre, size)
            labels, _ = crop_centred(labels, centre, size)
            meta["crop_box"] = box
        if self.options.resize:
            image = resize(image, self.options.resize, labels=False)
            labels = None if labels is None else resize(labels, self.options.resize, labels=True)
        return LoadedCase(image, labels, meta)

    def notes(self) -> list[str]:
        if self.options.crop_size:
            return [
                "ROI crops are centred on the centroid of the ground-truth disc: the crop position uses ground truth."
            ]
        return []
