"""The DoFE/BEAL "Fundus" release used by DPL and CPR: ``DomainN/{train,test}/ROIs/{image,mask}/<id>.png``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from medsegkit.data.imageio import list_images
from medsegkit.data.readers.base import CaseSource, DatasetReader, LoadedCase, load_mapped, no_cases, require_dir
from medsegkit.data.tasks import FUNDUS
from medsegkit.errors import DataError, UsageError

DOMAINS = {1: "drishti-gs", 2: "rim-one", 3: "refuge", 4: "refuge-validation"}
MASK_VALUES = {0: 2, 128: 1, 255: 0}  # release: 0 cup, 128 rim, 255 background


@dataclass(frozen=True)
class DoFEOptions:
    domain: int | None = None

    def __post_init__(self) -> None:
        if self.domain is not None and self.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {', '.join(map(str, DOMAINS))}, got {self.domain}")


class DoFEReader(DatasetReader):
    """One domain of the DoFE/BEAL fundus release. Masks: 0 cup, 128 rim, 255 background.

    ``SRC`` is the release root (then ``--domain N`` picks one when several hold images) or one
    ``DomainN`` folder.
    """

    task = FUNDUS
    layout = (
        "DoFE/BEAL fundus release: 'DomainN/{train,test}/ROIs/{image,mask}/<id>.png' "
        "(masks 0 cup, 128 rim, 255 background)"
    )
    default_name = "fundus"
    Options = DoFEOptions

    def _domain_dir(self, src: Path) -> tuple[int, Path]:
        own = re.fullmatch(r"Domain(\d)", src.name)
        if own:
            number = int(own.group(1))
            if self.options.domain not in (None, number):
                raise UsageError(f"{src} is Domain{number} but --domain {self.options.domain} was given")
            return number, src
        present = {
            int(m.group(1)): p
            for p in sorted(src.iterdir())
            if p.is_dir() and (m := re.fullmatch(r"Domain(\d)", p.name))
        }
        if not present:
            raise no_cases(src, self.layout)
        if self.options.domain is not None:
            if self.options.domain not in present:
                raise DataError(
                    f"{src}: no Domain{self.options.domain} folder; it has {', '.join(f'Domain{d}' for d in present)}"
                )
            return self.options.domain, present[self.options.domain]
        with_images = [
            d for d, p in present.items() if any((p / s / "ROIs" / "image").is_dir() for s in ("train", "test"))
        ]
        if len(with_images) == 1:
            return with_images[0], present[with_images[0]]
        if not with_images:
            raise DataError(f"{src}: no domain holds images; expected {self.layout}")
        names = ", ".join(f"Domain{d}" for d in with_images)
        raise UsageError(f"{src} holds {names}; choose one with --domain N")

    def suggested_name(self, src: Path | None) -> str:
        return DOMAINS[self._domain_dir(require_dir(src, self.layout))[0]]

    def scan(self, src: Path | None) -> list[CaseSource]:
        src = require_dir(src, self.layout)
        number, folder = self._domain_dir(src)
        cases = []
        for split in ("train", "test"):
            image_dir = folder / split / "ROIs" / "image"
            if not image_dir.is_dir():
                continue
            mask_dir = folder / split / "ROIs" / "mask"
            for image in list_images(image_dir):
                mask = mask_dir / image.name
                meta = {"domain": f"Domain{number}", "dataset": DOMAINS[number]}
                cases.append(CaseSource(image.stem, image, mask if mask.is_file() else None, split, meta))
        if not cases:
            raise DataError(f"{folder}: no images in train/ROIs/image or test/ROIs/image; expected {self.layout}")
        return cases

    def load(self, case: CaseSource) -> LoadedCase:
        return load_mapped(case, MASK_VALUES)
