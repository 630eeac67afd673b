"""Opening a canonical dataset, by path or by name under the data root."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medsegkit.data.imageio import read_gray, read_rgb
from medsegkit.data.tasks import TASKS, Task
from medsegkit.errors import DataError, UsageError

FORMAT = "medsegkit-dataset"
FORMAT_VERSION = 1
DATASET_JSON = "dataset.json"
DATA_ENV = "MEDSEGKIT_DATA"
ALIASES: dict[str, str] = {
    "domain1": "drishti-gs",
    "domain2": "rim-one",
    "domain3": "refuge",
    "domain4": "refuge-validation",
}


def data_root(flag: Path | None = None) -> Path:
    """The data root: ``--data-root``, else ``$MEDSEGKIT_DATA``, else ``./data``."""
    if flag is not None:
        return Path(flag)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else Path("data")


def resolve_dataset(name_or_path: str, root: Path) -> Path:
    """Turn a path or a dataset name (``ph2``, ``drishti-gs``, ``domain1``, ...) into a dataset folder."""
    as_path = Path(name_or_path)
    if (as_path / DATASET_JSON).is_file():
        return as_path
    key = name_or_path.lower()
    candidates = [key, ALIASES.get(key)] + [alias for alias, target in ALIASES.items() if target == key]
    for candidate in filter(None, candidates):
        if (root / candidate / DATASET_JSON).is_file():
            return root / candidate
    if as_path.is_dir():
        raise DataError(f"{as_path}: no {DATASET_JSON}; expected a dataset made by `medsegkit prepare`")
    raise UsageError(
        f"dataset {name_or_path!r} not found: not a dataset folder, and no {root / key} "
        f"(data root {root}; set it with --data-root or {DATA_ENV}, or create it with `medsegkit prepare`)"
    )


@dataclass(frozen=True)
class Dataset:
    """A canonical dataset on disk (see ``docs/datasets.md``)."""

    root: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, path: Path) -> Dataset:
        path = Path(path).absolute()  # runs record where their images are, from any working folder
        file = path / DATASET_JSON
        try:
            manifest = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise DataError(f"{file}: not found; expected a dataset made by `medsegkit prepare`") from exc
        except json.JSONDecodeError as exc:
            raise DataError(f"{file}: not valid JSON ({exc})") from exc
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise DataError(f"{file}: expected format {FORMAT} version {FORMAT_VERSION}")
        if manifest.get("task") not in TASKS:
            raise DataError(f"{file}: unknown task {manifest.get('task')!r}; expected one of {', '.join(TASKS)}")
        return cls(path, manifest)

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def task(self) -> Task:
        return TASKS[self.manifest["task"]]

    @property
    def splits(self) -> dict[str, list[str]]:
        return self.manifest["splits"]

    def case_ids(self, split: str = "all") -> list[str]:
        if split not in self.splits:
            raise UsageError(f"dataset {self.name!r} has no split {split!r}; it has {', '.join(self.splits)}")
        return list(self.splits[split])

    def split_or_all(self, preferred: str) -> str:
        """``preferred`` when the dataset has that split, else ``"all"`` (layouts without splits)."""
        return preferred if preferred in self.splits else "all"

    def image_path(self, case_id: str) -> Path:
        return self.root / self.manifest["cases"][case_id]["image"]

    def mask_path(self, case_id: str) -> Path | None:
        rel = self.manifest["cases"][case_id].get("mask")
        return self.root / rel if rel else None

    def image(self, case_id: str) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB."""
        return read_rgb(self.image_path(case_id))

    def mask(self, case_id: str) -> np.ndarray | None:
        """``(H, W)`` uint8 label map, or None for a case without ground truth."""
        path = self.mask_path(case_id)
        return read_gray(path) if path else None
