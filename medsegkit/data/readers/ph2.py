"""PH2 dermoscopy (Mendonça et al., EMBC 2013) in its original ADDI layout."""

from __future__ import annotations

import csv
from pathlib import Path

from medsegkit.data.readers.base import CaseSource, DatasetReader, LoadedCase, load_mapped, no_cases, require_dir
from medsegkit.data.tasks import LESION

DIAGNOSES = {"0": "common nevus", "1": "atypical nevus", "2": "melanoma"}
MASK_VALUES = {0: 0, 255: 1}  # 1-bit masks read as {0, 255}; the 24-bit ones hold {0, 255} too


class PH2Reader(DatasetReader):
    """``PH2 Dataset images/IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp`` with
    ``IMDxxx_lesion/IMDxxx_lesion.bmp`` (1-bit, or 24-bit with values {0, 255}) and an optional
    ``PH2_dataset.csv`` (Name, Clinical Diagnosis 0/1/2)."""

    task = LESION
    layout = (
        "PH2 ADDI layout: 'PH2 Dataset images/IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp' and "
        "'IMDxxx_lesion/IMDxxx_lesion.bmp'"
    )
    default_name = "ph2"

    def scan(self, src: Path | None) -> list[CaseSource]:
        src = require_dir(src, self.layout)
        images_dir = src / "PH2 Dataset images"
        if not images_dir.is_dir():
            images_dir = src
        diagnosis = self._diagnoses(src)
        cases = []
        for case_dir in sorted(p for p in images_dir.iterdir() if p.is_dir()):
            cid = case_dir.name
            image = case_dir / f"{cid}_Dermoscopic_Image" / f"{cid}.bmp"
            if not image.parent.is_dir():
                continue
            mask = case_dir / f"{cid}_lesion" / f"{cid}_lesion.bmp"
            meta = {"diagnosis": DIAGNOSES.get(diagnosis[cid], diagnosis[cid])} if cid in diagnosis else {}
            cases.append(CaseSource(cid, image, mask if mask.exists() else None, None, meta))
        if not cases:
            raise no_cases(src, self.layout)
        return cases

    def load(self, case: CaseSource) -> LoadedCase:
        return load_mapped(case, MASK_VALUES)

    @staticmethod
    def _diagnoses(src: Path) -> dict[str, str]:
        table = src / "PH2_dataset.csv"
        if not table.is_file():
            return {}
        with table.open(newline="", encoding="utf-8-sig") as fh:
            return {
                row["Name"].strip(): row.get("Clinical Diagnosis", "").strip()
                for row in csv.DictReader(fh)
                if row.get("Name")
            }
