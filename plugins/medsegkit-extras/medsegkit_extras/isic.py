"""ISIC 2018 task 1 (lesion boundary segmentation) in its release layout.

``ISIC2018_Task1-2_{Training,Validation,Test}_Input/ISIC_NNNNNNN.jpg`` with
``ISIC2018_Task1_{Training,Validation,Test}_GroundTruth/ISIC_NNNNNNN_segmentation.png`` (0/255).
"""

from __future__ import annotations

from pathlib import Path

from medsegkit.data.imageio import list_images
from medsegkit.data.readers.base import CaseSource, DatasetReader, LoadedCase, load_mapped, no_cases, require_dir
from medsegkit.data.tasks import LESION

SPLITS = {"Training": "train", "Validation": "validation", "Test": "test"}


class ISIC2018Reader(DatasetReader):
    task = LESION
    layout = (
        "ISIC 2018 task 1: 'ISIC2018_Task1-2_<Split>_Input/ISIC_*.jpg' and "
        "'ISIC2018_Task1_<Split>_GroundTruth/ISIC_*_segmentation.png'"
    )
    default_name = "isic2018"

    def scan(self, src: Path | None) -> list[CaseSource]:
        src = require_dir(src, self.layout)
        cases = []
        for folder, split in SPLITS.items():
            inputs = src / f"ISIC2018_Task1-2_{folder}_Input"
            truth = src / f"ISIC2018_Task1_{folder}_GroundTruth"
            if not inputs.is_dir():
                continue
            for image in list_images(inputs):
                if not image.stem.startswith("ISIC_"):
                    continue
                mask = truth / f"{image.stem}_segmentation.png"
                cases.append(CaseSource(image.stem, image, mask if mask.is_file() else None, split))
        if not cases:
            raise no_cases(src, self.layout)
        return cases

    def load(self, case: CaseSource) -> LoadedCase:
        return load_mapped(case, {0: 0, 255: 1})
