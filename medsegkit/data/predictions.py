"""Reading a folder of predictions: binary or label masks, and optional cluster maps.

Accepted layouts (case files are ``<case>.png``):

- ``PRED/masks/<case>.png`` and optionally ``PRED/clusters/<case>.png`` (what medsegkit writes);
- ``PRED/<case>.png`` (a flat folder of masks);
- a prepared dataset (``dataset.json``), whose ``masks/`` are used, e.g. to score ground truth against itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medsegkit.data.dataset import DATASET_JSON
from medsegkit.data.imageio import IMAGE_SUFFIXES, read_labels
from medsegkit.errors import DataError


def _index(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
            if path.stem in files:
                raise DataError(
                    f"{path}: two prediction files for case {path.stem!r} ({files[path.stem].name} and {path.name}); "
                    "expected one"
                )
            files[path.stem] = path
    return files


@dataclass(frozen=True)
class PredictionFolder:
    """Prediction files of one run, indexed by case id."""

    root: Path
    masks: dict[str, Path]
    clusters: dict[str, Path]

    @classmethod
    def open(cls, root: Path) -> PredictionFolder:
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"{root}: prediction folder not found")
        if (root / "masks").is_dir() or (root / "clusters").is_dir() or (root / DATASET_JSON).is_file():
            masks, clusters = _index(root / "masks"), _index(root / "clusters")
        else:
            masks, clusters = _index(root), {}
        if not masks and not clusters:
            raise DataError(
                f"{root}: no prediction files; expected masks/<case>.png, clusters/<case>.png or <case>.png"
            )
        return cls(root, masks, clusters)

    @property
    def name(self) -> str:
        return self.root.name

    def case_ids(self, source: str) -> set[str]:
        return set(self.clusters if source == "clusters" else self.masks)

    def read(self, case_id: str, source: str) -> np.ndarray:
        """``(H, W)`` int32 labels from ``masks`` or ``clusters``."""
        files = self.clusters if source == "clusters" else self.masks
        return read_labels(files[case_id])
