"""The inputs of the batch verbs (``cluster``, ``self-train``, ``predict``): the images of a prepared dataset or
of a plain folder, and a process's shard of them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from medsegkit.data.dataset import DATASET_JSON, Dataset
from medsegkit.data.imageio import list_images
from medsegkit.errors import DataError, UsageError


@dataclass(frozen=True)
class Shard:
    """Process the images whose position in the sorted case list is ``index`` modulo ``count``."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str | None) -> Shard:
        """``"i/N"`` (0-based), else ``RANK``/``WORLD_SIZE`` from torchrun, else the whole folder."""
        if text is None:
            rank, world = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
            return cls(int(rank), int(world)) if rank is not None and world is not None else cls()
        try:
            index, count = (int(v) for v in text.split("/"))
        except ValueError:
            raise UsageError(f"--shard expects i/N such as 0/4, got {text!r}") from None
        if not 0 <= index < count:
            raise UsageError(f"--shard i/N needs 0 <= i < N, got {text!r}")
        return cls(index, count)

    def select(self, items: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
        return sorted(items)[self.index :: self.count]


def collect_images(target: Path) -> tuple[str, list[tuple[str, Path]]]:
    """(name, [(case id, absolute image path)]) of a prepared dataset or a plain folder of images (absolute, so
    that a run folder recording them is read from any working folder)."""
    target = Path(target).absolute()
    if (target / DATASET_JSON).is_file():
        ds = Dataset.open(target)
        return ds.name, [(c, ds.image_path(c)) for c in ds.case_ids()]
    if not target.is_dir():
        raise DataError(f"{target}: folder not found; expected a prepared dataset or a folder of images")
    images = list_images(target / "images") if (target / "images").is_dir() else list_images(target)
    if not images:
        raise DataError(f"{target}: no images (PNG, JPEG, BMP or TIFF) found")
    ids: dict[str, Path] = {}
    for path in images:
        if path.stem in ids:
            raise DataError(f"duplicate case id {path.stem!r}: {ids[path.stem]} and {path}")
        ids[path.stem] = path
    return target.name, sorted(ids.items())
