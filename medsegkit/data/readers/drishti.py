"""Drishti-GS1 (Sivaswamy et al., 2014/2015) in its original distribution layout.

Full fundus photographs with four-expert soft maps. The canonical dataset holds disc-centred
ROI crops; **the crop centre comes from the ground-truth disc**, as in the DoFE/BEAL release, so
these crops are for source training and evaluation, not for testing disc localisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medsegkit.data.imageio import IMAGE_SUFFIXES, check_same_size, read_gray, read_rgb
from medsegkit.data.readers.base import CaseSource, DatasetReader, LoadedCase, no_cases, require_dir
from medsegkit.data.readers.crop import centre_of, crop_centred, resize
from medsegkit.data.tasks import FUNDUS
from medsegkit.errors import DataError

SPLITS = {"Training": "train", "Test": "test"}
EXPERTS = 4


@dataclass(frozen=True)
class DrishtiOptions:
    crop_size: int = 800
    resize: int | None = None
    min_experts: int = 2

    def __post_init__(self) -> None:
        if self.crop_size < 16:
            raise ValueError(f"crop_size must be at least 16 pixels, got {self.crop_size}")
        if self.resize is not None and self.resize < 16:
            raise ValueError(f"resize must be at least 16 pixels, got {self.resize}")
        if not 1 <= self.min_experts <= EXPERTS:
            raise ValueError(f"min_experts must be between 1 and {EXPERTS}, got {self.min_experts}")


def expert_vote(soft: np.ndarray, min_experts: int) -> np.ndarray:
    """Binary mask of pixels marked by at least ``min_experts`` of the 4 experts (soft value = share x 255)."""
    return np.rint(soft.astype(np.float64) * EXPERTS / 255.0) >= min_experts


class DrishtiGSReader(DatasetReader):
    """``{Training,Test}/Images/**/drishtiGS_NNN.png`` with
    ``{Training,Test}/GT/drishtiGS_NNN/SoftMap/drishtiGS_NNN_{OD,cup}segSoftmap.png``."""

    task = FUNDUS
    layout = (
        "Drishti-GS1 distribution: '{Training,Test}/Images/**/drishtiGS_NNN.png' and "
        "'{Training,Test}/GT/drishtiGS_NNN/SoftMap/*_{OD,cup}segSoftmap.png'"
    )
    default_name = "drishti-gs"
    Options = DrishtiOptions

    def scan(self, src: Path | None) -> list[CaseSource]:
        src = require_dir(src, self.layout)
        if (src / "Drishti-GS1_files").is_dir():
            src = src / "Drishti-GS1_files"
        cases: dict[str, CaseSource] = {}
        for folder, split in SPLITS.items():
            images = sorted(p for p in (src / folder / "Images").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            for image in images:
                if image.stem in cases and image.parent.name != "ALL":
                    continue
                gt = src / folder / "GT" / image.stem
                meta = self._cdr(gt / f"{image.stem}_cdrValues.txt")
                cases[image.stem] = CaseSource(image.stem, image, gt if gt.is_dir() else None, split, meta)
        if not cases:
            raise no_cases(src, self.layout)
        return [cases[k] for k in sorted(cases)]

    def load(self, case: CaseSource) -> LoadedCase:
        image = read_rgb(case.image_path)
        meta = {"original_size": list(image.shape[:2])}
        if case.mask_path is None:
            raise DataError(
                f"{case.image_path}: no ground truth folder {case.image_path.parents[1].parent / 'GT' / case.case_id}; "
                "the disc-centred crop needs it"
            )
        od_path = case.mask_path / "SoftMap" / f"{case.case_id}_ODsegSoftmap.png"
        cup_path = case.mask_path / "SoftMap" / f"{case.case_id}_cupsegSoftmap.png"
        od, cup = read_gray(od_path), read_gray(cup_path)
        check_same_size(image, od, case.image_path, od_path)
        check_same_size(image, cup, case.image_path, cup_path)
        disc = expert_vote(od, self.options.min_experts)
        cupm = expert_vote(cup, self.options.min_experts)
        if not disc.any():
            raise DataError(
                f"{od_path}: no disc pixel marked by {self.options.min_experts} or more experts; "
                "expected a disc soft map"
            )
        labels = np.zeros(disc.shape, dtype=np.uint8)
        labels[disc] = 1
        labels[cupm] = 2
        centre = centre_of(disc)
        image, box = crop_centred(image, centre, self.options.crop_size)
        labels, _ = crop_centred(labels, centre, self.options.crop_size)
        if self.options.resize:
            image = resize(image, self.options.resize, labels=False)
            labels = resize(labels, self.options.resize, labels=True)
        meta["crop_box"] = box
        return LoadedCase(image, labels, meta)

    def notes(self) -> list[str]:
        return [
            "ROI crops are centred on the centroid of the ground-truth disc (majority of experts): "
            "the crop position uses ground truth, as in the DoFE/BEAL release.",
            f"Labels: pixels marked by at least {self.options.min_experts} of {EXPERTS} experts.",
        ]

    @staticmethod
    def _cdr(path: Path) -> dict[str, object]:
        if not path.is_file():
            return {}
        try:
            values = [float(v) for v in path.read_text().split()]
        except ValueError:
            return {}
        return {"expert_cdr": values} if values else {}
