"""ISIC Challenge lesion segmentation (Task 1 / Part 1) archives of 2016, 2017 and 2018.

The release's folder names say which archive and which split each folder holds::

    ISBI2016_ISIC_Part1_{Training,Test}_Data/ISIC_NNNNNNN.jpg
    ISBI2016_ISIC_Part1_{Training,Test}_GroundTruth/ISIC_NNNNNNN_Segmentation.png
    ISIC-2017_{Training,Validation,Test_v2}_Data/ISIC_NNNNNNN.jpg           (superpixel PNGs skipped)
    ISIC-2017_{Training,Validation,Test_v2}_Part1_GroundTruth/ISIC_NNNNNNN_segmentation.png
    ISIC2018_Task1-2_{Training,Validation,Test}_Input/ISIC_NNNNNNN.jpg
    ISIC2018_Task1_{Training,Validation,Test}_GroundTruth/ISIC_NNNNNNN_segmentation.png

Masks are 8-bit {0, 255}. Images are kept at full resolution (up to 6000x4000).
"""

from __future__ import annotations

import re
from pathlib import Path

from medsegkit.data.imageio import list_images
from medsegkit.data.readers.base import CaseSource, DatasetReader, LoadedCase, load_mapped, no_cases, require_dir
from medsegkit.data.tasks import LESION

SPLITS = {"Training": "train", "Validation": "validation", "Test": "test", "Test_v2": "test"}
DATA_FOLDER = re.compile(
    r"^(?P<archive>ISBI2016_ISIC_Part1|ISIC-2017|ISIC2018_Task1-2)_(?P<split>Training|Validation|Test_v2|Test)_(?:Data|Input)$"
)
CASE = re.compile(r"^ISIC_\d+$")


def _truth_folders(src: Path, archive: str, split: str) -> list[Path]:
    """The ground-truth folder names each archive uses for ``split``."""
    names = {
        "ISBI2016_ISIC_Part1": [f"ISBI2016_ISIC_Part1_{split}_GroundTruth"],
        "ISIC-2017": [f"ISIC-2017_{split}_Part1_GroundTruth"],
        "ISIC2018_Task1-2": [f"ISIC2018_Task1_{split}_GroundTruth"],
    }[archive]
    return [src / name for name in names]


class ISICReader(DatasetReader):
    """The ISIC 2016, 2017 and 2018 lesion segmentation archives, recognised by their folder names."""

    task = LESION
    layout = (
        "ISIC archive folders: 'ISIC-2017_<Split>_Data/ISIC_*.jpg' with 'ISIC-2017_<Split>_Part1_GroundTruth/"
        "ISIC_*_segmentation.png' (likewise ISBI2016_ISIC_Part1_<Split>_Data and ISIC2018_Task1-2_<Split>_Input)"
    )
    default_name = "isic"

    def scan(self, src: Path | None) -> list[CaseSource]:
        src = require_dir(src, self.layout)
        folders = [(p, DATA_FOLDER.match(p.name)) for p in sorted(src.iterdir()) if p.is_dir()]
        cases = []
        for folder, match in folders:
            if match is None:
                continue
            archive, split = match["archive"], match["split"]
            truths = _truth_folders(src, archive, split)
            for image in list_images(folder):
                if not CASE.match(image.stem):
                    continue
                masks = [
                    t / f"{image.stem}_{suffix}.png" for t in truths for suffix in ("segmentation", "Segmentation")
                ]
                mask = next((m for m in masks if m.is_file()), None)
                cases.append(CaseSource(image.stem, image, mask, SPLITS[split], {"archive": archive}))
        if not cases:
            raise no_cases(src, self.layout)
        return cases

    def load(self, case: CaseSource) -> LoadedCase:
        return load_mapped(case, {0: 0, 255: 1})

    def suggested_name(self, src: Path | None) -> str:
        archives = {m["archive"] for p in (src.iterdir() if src else []) if (m := DATA_FOLDER.match(p.name))}
        year = {"ISBI2016_ISIC_Part1": "2016", "ISIC-2017": "2017", "ISIC2018_Task1-2": "2018"}
        return f"isic{year[archives.pop()]}" if len(archives) == 1 else self.default_name
