"""HAM10000 (Tschandl et al., Sci. Data 2018) with the lesion masks of Tschandl et al. (2020).

``HAM10000_images_part_1/ISIC_NNNNNNN.jpg`` and ``HAM10000_images_part_2/...`` (600x450),
``HAM10000_segmentations_lesion_tschandl/ISIC_NNNNNNN_segmentation.png`` ({0, 255}) and, when
present, the metadata table ``HAM10000_metadata.csv`` (lesion_id, image_id, dx, dx_type, age, sex,
localization), whose fields become each case's metadata. The release has no split.
"""

from __future__ import annotations

import csv
from pathlib import Path

from medsegkit.data.imageio import list_images
from medsegkit.data.readers.base import CaseSource, DatasetReader, LoadedCase, load_mapped, no_cases, require_dir
from medsegkit.data.tasks import LESION

IMAGE_FOLDERS = ("HAM10000_images_part_1", "HAM10000_images_part_2", "HAM10000_images")
MASK_FOLDER = "HAM10000_segmentations_lesion_tschandl"
METADATA = ("HAM10000_metadata.csv", "HAM10000_metadata")
FIELDS = ("lesion_id", "dx", "dx_type", "age", "sex", "localization")


class HAM10000Reader(DatasetReader):
    """The HAM10000 release folders with the Tschandl lesion masks."""

    task = LESION
    layout = (
        f"HAM10000 release: '{IMAGE_FOLDERS[0]}/ISIC_*.jpg' (and part_2) with '{MASK_FOLDER}/ISIC_*_segmentation.png'"
    )
    default_name = "ham10000"

    def scan(self, src: Path | None) -> list[CaseSource]:
        src = require_dir(src, self.layout)
        meta = self._metadata(src)
        cases = []
        for folder in (src / name for name in IMAGE_FOLDERS):
            if not folder.is_dir():
                continue
            for image in list_images(folder):
                mask = src / MASK_FOLDER / f"{image.stem}_segmentation.png"
                cases.append(
                    CaseSource(image.stem, image, mask if mask.is_file() else None, None, meta.get(image.stem, {}))
                )
        if not cases:
            raise no_cases(src, self.layout)
        return cases

    def load(self, case: CaseSource) -> LoadedCase:
        return load_mapped(case, {0: 0, 255: 1})

    @staticmethod
    def _metadata(src: Path) -> dict[str, dict[str, str]]:
        table = next((src / name for name in METADATA if (src / name).is_file()), None)
        if table is None:
            return {}
        with table.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        return {r["image_id"]: {k: r[k] for k in FIELDS if r.get(k)} for r in rows if r.get("image_id")}
