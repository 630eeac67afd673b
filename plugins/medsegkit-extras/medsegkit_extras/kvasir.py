"""Kvasir-SEG (Jha et al., MMM 2020): colonoscopy polyps in the release layout.

``Kvasir-SEG/images/<id>.jpg`` with ``Kvasir-SEG/masks/<id>.jpg``. The masks are JPEGs, so their
values scatter around 0 and 255 from compression: they are cut at 128. The release has no split
(``--test-fraction`` holds one out).
"""

from __future__ import annotations

from pathlib import Path

from medsegkit.data.imageio import check_same_size, list_images, read_gray, read_rgb
from medsegkit.data.readers.base import CaseSource, DatasetReader, LoadedCase, no_cases, require_dir
from medsegkit.data.tasks import LESION


class KvasirSEGReader(DatasetReader):
    task = LESION
    layout = (
        "Kvasir-SEG: 'images/<id>.jpg' and 'masks/<id>.jpg' (JPEG masks, cut at 128), optionally under 'Kvasir-SEG/'"
    )
    default_name = "kvasir-seg"

    def scan(self, src: Path | None) -> list[CaseSource]:
        src = require_dir(src, self.layout)
        if (src / "Kvasir-SEG").is_dir():
            src = src / "Kvasir-SEG"
        if not (src / "images").is_dir():
            raise no_cases(src, self.layout)
        cases = []
        for image in list_images(src / "images"):
            mask = next((m for m in (src / "masks").glob(f"{image.stem}.*") if m.is_file()), None)
            cases.append(CaseSource(image.stem, image, mask))
        if not cases:
            raise no_cases(src, self.layout)
        return cases

    def load(self, case: CaseSource) -> LoadedCase:
        image = read_rgb(case.image_path)
        if case.mask_path is None:
            return LoadedCase(image, None)
        raw = read_gray(case.mask_path)
        check_same_size(image, raw, case.image_path, case.mask_path)
        return LoadedCase(image, (raw >= 128).astype("uint8"))
