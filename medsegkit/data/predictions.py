"""Reading a folder of predictions: binary or label masks, and optional cluster maps.

Accepted layouts (case files are ``<case>.png``):

- ``PRED/masks/<case>.png`` and optionally ``PRED/clusters/<case>.png`` (what medsegkit writes);
- ``PRED/<case>.png`` (a flat folder of masks);
- a prepared dataset (``dataset.json``), whose ``masks/`` are used, e.g. to score ground truth against itself.
"""

from __future__ import annotations

import json
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


def recorded_task(root: Path) -> str | None:
    """The task (``lesion`` or ``fundus``) a medsegkit run folder's ``manifest.json`` records, or None when
    the folder has no manifest that says it (a flat folder of masks, a dataset).

    ``predict`` and ``self-train`` runs name their task; ``cluster`` runs are lesion runs; ``predict`` runs
    written before the task was recorded name their fundus checkpoint.
    """
    manifest = Path(root) / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{manifest}: not a readable manifest ({exc})") from None
    if not isinstance(data, dict):
        return None
    if data.get("task") in ("lesion", "fundus"):
        return data["task"]
    if "method" in data and "cases" in data:
        return "lesion"
    if "checkpoint" in data:
        return "fundus"
    return None


def recorded_path(value: str | Path, run: Path) -> Path:
    """A path recorded in run folder ``run`` (an image of a case, the input folder), as a path to open.

    Runs record absolute paths. Runs written before that recorded them relative to the working folder of
    the time: such a path is taken as it is when it exists from here, else from the first folder above the
    run (the run itself, its parent, ...) that it exists from, so a run under the folder it was made in is
    read from anywhere. A path found nowhere is returned as given, and its reader names it.

    Example:
        >>> recorded_path("/data/a.png", Path("runs/x")).as_posix()
        '/data/a.png'
    """
    path = Path(value)
    if path.is_absolute():
        return path
    if path.exists():
        return path.absolute()
    here = Path(run).absolute()
    for folder in (here, *here.parents):
        if (folder / path).exists():
            return folder / path
    return path


def missing_masks(run: Path, listed: list[str], allow_missing: bool, instead: str) -> list[str]:
    """The cases of ``listed`` (those a run's manifest lists) without ``masks/<case>.png`` in ``run``; an error
    naming them unless ``allow_missing`` (then the caller leaves them out, as ``instead`` says)."""
    missing = sorted(c for c in listed if not (Path(run) / "masks" / f"{c}.png").is_file())
    if missing and not allow_missing:
        names = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise DataError(
            f"{Path(run) / 'masks'}: no mask for {len(missing)} case(s) the run lists ({names}); expected one per "
            f"case, or pass --allow-missing to {instead}"
        )
    return missing
