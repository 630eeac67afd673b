"""ORIGA (Zhang et al., EMBC 2010) as disc-centred crops: ``images/<id>.png``, ``masks/<id>.png`` with 0/1/2."""

from __future__ import annotations

import csv
from pathlib import Path

from medsegkit.data.imageio import list_images
from medsegkit.data.readers.base import CaseSource, DatasetReader, LoadedCase, load_mapped, no_cases, require_dir
from medsegkit.data.tasks import FUNDUS

MASK_VALUES = {0: 0, 1: 1, 2: 2}  # 0 background, 1 disc rim, 2 cup


class OrigaReader(DatasetReader):
    """Disc-centred ORIGA crops with an optional ``origa_info.csv`` (Image, CDR, ..., Label)."""

    task = FUNDUS
    layout = "ORIGA crops: 'images/<id>.png' and 'masks/<id>.png' (0 background, 1 disc rim, 2 cup)"
    default_name = "origa"

    def scan(self, src: Path | None) -> list[CaseSource]:
        src = require_dir(src, self.layout)
        image_dir = src / "images"
        if not image_dir.is_dir():
            raise no_cases(src, self.layout)
        info = self._info(src)
        cases = []
        for image in list_images(image_dir):
            mask = src / "masks" / f"{image.stem}.png"
            cases.append(
                CaseSource(image.stem, image, mask if mask.is_file() else None, None, info.get(image.stem, {}))
            )
        if not cases:
            raise no_cases(src, self.layout)
        return cases

    def load(self, case: CaseSource) -> LoadedCase:
        return load_mapped(case, MASK_VALUES)

    @staticmethod
    def _info(src: Path) -> dict[str, dict[str, object]]:
        table = src / "origa_info.csv"
        if not table.is_file():
            return {}
        out: dict[str, dict[str, object]] = {}
        with table.open(newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                key = (row.get("Image") or "").strip()
                if not key:
                    continue
                meta: dict[str, object] = {}
                if row.get("CDR"):
                    meta["cdr"] = float(row["CDR"])
                if row.get("Label", "").strip() in ("0", "1"):
                    meta["glaucoma"] = row["Label"].strip() == "1"
                out[key] = meta
        return out
