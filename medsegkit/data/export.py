"""``medsegkit export``: a prepared dataset or a run's masks, handed over to nnU-Net v2 or MONAI.

Sources, recognised by their files:

- a prepared dataset (``dataset.json``): its images and masks; ``train`` (or every labelled case when
  there is no split) is training data, ``validation`` validation, ``test`` test;
- a ``cluster``, ``self-train`` or ``predict`` run (``manifest.json`` with ``cases`` and ``masks/``): every finished
  image with the run's mask as its label (``--min-confidence`` drops cases below it; a case reviewed with
  ``medsegkit review`` is always kept and one it excluded never);
- a ``refine`` run (``manifest.json`` with ``target`` and ``pseudo/``) or an ``adapt`` run (its
  ``refine/``): the target's train images with their pseudo-labels.

Formats:

- ``nnunet``: ``Dataset<ID>_<Name>/imagesTr/<case>_0000.png`` (RGB: channels R, G, B in one file, as
  nnU-Net v2 reads natural images), ``labelsTr/<case>.png``, ``imagesTs/<case>_0000.png`` and a
  ``dataset.json`` with ``channel_names``, ``labels``, ``numTraining`` and ``file_ending``. Lesion labels
  are background 0, lesion 1. Fundus labels stay medsegkit's (0 background, 1 rim, 2 cup) and are
  declared as nnU-Net regions, ``disc: [1, 2]`` and ``cup: 2`` with ``regions_class_order [1, 2]``:
  nnU-Net then trains the overlapping disc and cup outputs that glaucoma work scores.
- ``monai``: ``images/<case>.png``, ``labels/<case>.png`` and ``datalist.json`` with ``training``,
  ``validation`` and ``test`` lists of ``{"image", "label"}`` paths relative to the file (what
  ``monai.data.load_decathlon_datalist`` reads with ``base_dir`` its folder).

Everything is written into a hidden sibling folder renamed into place at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medsegkit import __version__
from medsegkit.data.dataset import DATASET_JSON, Dataset
from medsegkit.data.imageio import png_bytes, read_labels, read_rgb
from medsegkit.data.predictions import missing_masks, recorded_path, recorded_task
from medsegkit.data.tasks import TASKS
from medsegkit.errors import DataError, UsageError
from medsegkit.runtime.atomic import write_bytes, write_json_atomic

FORMATS = ("nnunet", "monai")


@dataclass(frozen=True)
class Case:
    """One exported case: its image, its label map (canonical values) or None, and its role."""

    case_id: str
    image: Path
    label: Path | None
    role: str  # "training", "validation" or "test"


def collect(source: Path, min_confidence: float = 0.0, allow_missing: bool = False) -> tuple[str, str, list[Case]]:
    """(name, task, cases) of a prepared dataset or a cluster, self-train, predict, refine or adapt run folder; a
    run's case without its mask is an error unless ``allow_missing`` (then it is left out)."""
    if (source / DATASET_JSON).is_file():
        ds = Dataset.open(source)
        splits = ds.splits
        train = set(splits.get("train", [c for c in ds.case_ids() if ds.mask_path(c)]))
        roles = {
            **{c: "test" for c in splits.get("test", [])},
            **{c: "validation" for c in splits.get("validation", [])},
        }
        cases = [
            Case(c, ds.image_path(c), ds.mask_path(c), "training" if c in train else roles.get(c, "test"))
            for c in ds.case_ids()
        ]
        return ds.name, ds.task.name, [c for c in cases if c.role != "training" or c.label is not None]
    if (source / "refine" / "manifest.json").is_file():
        source = source / "refine"
    manifest_path = source / "manifest.json"
    if not manifest_path.is_file():
        raise DataError(
            f"{source}: expected a prepared dataset (dataset.json) or a cluster, predict, refine or adapt run"
        )
    manifest = json.loads(manifest_path.read_text())
    if "target" in manifest and (source / "pseudo").is_dir():  # refine
        ds = Dataset.open(recorded_path(manifest["target"]["path"], source))
        cases = [
            Case(c["case"], ds.image_path(c["case"]), source / "pseudo" / f"{c['case']}.png", "training")
            for c in manifest["cases"]
        ]
        return f"{ds.name}-pseudo", "fundus", cases
    if "cases" in manifest and (source / "masks").is_dir():  # cluster, self-train or predict
        task = recorded_task(source) or "lesion"
        kept = [c for c in manifest["cases"] if keeps(c, min_confidence)]
        cases = [
            Case(c["case"], recorded_path(c["image"], source), source / "masks" / f"{c['case']}.png", "training")
            for c in kept
        ]
        missing = missing_masks(source, [c.case_id for c in cases], allow_missing, "leave them out")
        cases = [c for c in cases if c.case_id not in missing]
        return str(manifest.get("input", {}).get("name", source.name)), task, cases
    raise DataError(f"{manifest_path}: not the manifest of a cluster, predict, refine or adapt run")


def keeps(record: dict[str, Any], min_confidence: float) -> bool:
    """Is a run's case exported at ``min_confidence``? A reviewed case always, one a reviewer excluded never,
    any other when its confidence (if it has one) reaches ``min_confidence``.

    Example:
        >>> [keeps(r, 0.5) for r in ({"confidence": 0.2, "source": "reviewed"}, {"source": "excluded"}, {})]
        [True, False, True]
    """
    if record.get("source") in ("reviewed", "excluded"):
        return record["source"] == "reviewed"
    return record.get("confidence") is None or record["confidence"] >= min_confidence


def validation_share(cases: list[Case], fraction: float) -> list[Case]:
    """Move the ``round(fraction · n)`` training cases with the smallest CRC-32 of their id to validation
    (only when the source has no validation split of its own)."""
    if fraction <= 0 or any(c.role == "validation" for c in cases):
        return cases
    train = sorted(
        (c for c in cases if c.role == "training"), key=lambda c: (zlib.crc32(c.case_id.encode()), c.case_id)
    )
    moved = {c.case_id for c in train[: round(fraction * len(train))]}
    return [Case(c.case_id, c.image, c.label, "validation") if c.case_id in moved else c for c in cases]


def _labels(path: Path, task: str) -> np.ndarray:
    labels = read_labels(path)
    allowed = TASKS[task].values
    bad = sorted(set(np.unique(labels).tolist()) - allowed)
    if bad:
        raise DataError(f"{path}: label value(s) {bad}; expected {sorted(allowed)} for a {task} mask")
    return labels.astype(np.uint8)


def export(
    source: Path,
    fmt: str,
    out: Path,
    dataset_id: int = 501,
    name: str | None = None,
    min_confidence: float = 0.0,
    validation: float = 0.2,
    progress: Any = None,
    allow_missing: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """Write ``source`` as an nnU-Net v2 raw dataset or a MONAI datalist under ``out``; returns the folder
    written and its description (``dataset.json`` or ``datalist.json`` content)."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not 1 <= dataset_id <= 999:
        raise UsageError(f"--dataset-id must lie in 1..999 (nnU-Net; 500+ for your own), got {dataset_id}")
    if not 0 <= validation < 1:
        raise UsageError(f"--validation is a share of the training cases, 0 <= share < 1, got {validation}")
    if not 0 <= min_confidence <= 1:
        raise UsageError(f"--min-confidence is a confidence, between 0 and 1, got {min_confidence}")
    found, task, cases = collect(Path(source), min_confidence, allow_missing)
    if not any(c.role == "training" for c in cases):
        raise DataError(
            f"{source}: nothing to train on (no case with a mask{' at that confidence' if min_confidence else ''})"
        )
    title = "".join(ch if ch.isalnum() else "-" for ch in (name or found)).strip("-") or "medsegkit"
    if fmt == "nnunet":
        cases = [Case(c.case_id, c.image, c.label, "test" if c.role == "validation" else c.role) for c in cases]
        target = Path(out) / f"Dataset{dataset_id:03d}_{title}"
    else:
        cases = validation_share(cases, validation)
        target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"--out {target}: exists and is not empty; choose another folder")
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        writer = _write_nnunet if fmt == "nnunet" else _write_monai
        description = writer(tmp, cases, task, title, str(source), progress)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.rmdir()
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target, description


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, png_bytes(array))


def _write_nnunet(tmp: Path, cases: list[Case], task: str, title: str, source: str, progress: Any) -> dict[str, Any]:
    for case in progress(cases) if progress else cases:
        _write(
            tmp / ("imagesTr" if case.role == "training" else "imagesTs") / f"{case.case_id}_0000.png",
            read_rgb(case.image),
        )
        if case.role == "training":
            _write(tmp / "labelsTr" / f"{case.case_id}.png", _labels(case.label, task))
    labels: dict[str, Any] = {"background": 0, "lesion": 1}
    description: dict[str, Any] = {"channel_names": {"0": "R", "1": "G", "2": "B"}}
    if task == "fundus":
        labels = {"background": 0, "disc": [1, 2], "cup": 2}
        description["regions_class_order"] = [1, 2]
    description |= {
        "labels": labels,
        "numTraining": sum(c.role == "training" for c in cases),
        "file_ending": ".png",
        "name": title,
        "description": f"exported by medsegkit {__version__} from {source}",
    }
    write_json_atomic(tmp / "dataset.json", description)
    return description


def _write_monai(tmp: Path, cases: list[Case], task: str, title: str, source: str, progress: Any) -> dict[str, Any]:
    lists: dict[str, list[dict[str, str]]] = {"training": [], "validation": [], "test": []}
    for case in progress(cases) if progress else cases:
        entry = {"image": f"images/{case.case_id}.png"}
        _write(tmp / entry["image"], read_rgb(case.image))
        if case.label is not None:
            entry["label"] = f"labels/{case.case_id}.png"
            _write(tmp / entry["label"], _labels(case.label, task))
        lists[case.role].append(entry)
    labels = {"0": "background", "1": "lesion"} if task == "lesion" else {"0": "background", "1": "rim", "2": "cup"}
    description = {
        "name": title,
        "description": f"exported by medsegkit {__version__} from {source}",
        "labels": labels,
        **lists,
    }
    write_json_atomic(tmp / "datalist.json", description)
    return description
