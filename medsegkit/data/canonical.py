"""Writing the canonical dataset layout atomically.

``<out>/images/<case>.png`` (RGB), ``<out>/masks/<case>.png`` (uint8 label map) and
``<out>/dataset.json``. Everything is written into a hidden sibling folder that replaces ``<out>``
only when the whole dataset is complete, so an interrupted run leaves no half dataset and a rerun
produces the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from medsegkit import __version__
from medsegkit.data.dataset import DATASET_JSON, FORMAT, FORMAT_VERSION
from medsegkit.data.imageio import png_bytes
from medsegkit.data.readers.base import CaseSource, DatasetReader
from medsegkit.errors import DataError, UsageError
from medsegkit.runtime.atomic import write_bytes, write_json_atomic

Progress = Callable[[Iterable[CaseSource]], Iterator[CaseSource]]


def _check_case_id(case_id: str, where: str) -> None:
    if (
        not case_id
        or case_id.startswith(".")
        or any(ch in case_id for ch in '/\\:*?"<>|')
        or case_id != case_id.strip()
    ):
        raise DataError(
            f"{where}: case id {case_id!r} cannot be a file name; expected letters, digits, '-', '_' or '.'"
        )


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / DATASET_JSON).is_file():
        raise UsageError(f"--out {out}: folder is not empty and holds no {DATASET_JSON}; refusing to replace it")


def _check_duplicates(cases: list[CaseSource]) -> None:
    seen: dict[str, CaseSource] = {}
    for case in cases:
        _check_case_id(case.case_id, str(case.image_path or case.case_id))
        if case.case_id in seen:
            first = seen[case.case_id]
            raise DataError(f"duplicate case id {case.case_id!r}: {first.image_path} and {case.image_path}")
        seen[case.case_id] = case


def _replace_dir(tmp: Path, out: Path) -> None:
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)


HOLDOUT_NOTE = (
    "train/test split made by medsegkit (--test-fraction {fraction}, by CRC-32 of the case id), not an official split"
)


def holdout_split(cases: list[CaseSource], fraction: float, reader: str) -> list[CaseSource]:
    """Split a layout without splits: the ``round(fraction · n)`` cases with the smallest CRC-32 of their
    id are ``test``, the rest ``train``. Depends on the ids alone, so a rerun, or the same cases listed in
    another order, gives the same split."""
    if not 0 < fraction < 1:
        raise UsageError(f"--test-fraction must be between 0 and 1, got {fraction}")
    if any(c.split for c in cases):
        raise UsageError(
            f"--test-fraction: the {reader} layout already defines its splits "
            f"({sorted({c.split for c in cases if c.split})})"
        )
    ranked = sorted(cases, key=lambda c: (zlib.crc32(c.case_id.encode()), c.case_id))
    test = {c.case_id for c in ranked[: round(fraction * len(cases))]}
    return [replace(c, split="test" if c.case_id in test else "train") for c in cases]


def write_dataset(
    reader: DatasetReader,
    src: Path | None,
    out: Path,
    name: str | None = None,
    progress: Progress | None = None,
    command: str | None = None,
    reader_name: str | None = None,
    holdout: float | None = None,
) -> dict[str, Any]:
    """Read every case with ``reader`` and write the canonical dataset to ``out``.

    ``holdout`` (a fraction) gives a layout without splits a deterministic train/test split
    (:func:`holdout_split`). Returns the ``dataset.json`` content. Raises :class:`DataError` naming the
    first bad file; then ``out`` is left exactly as it was.
    """
    out = Path(out)
    _check_out(out)
    cases = reader.scan(src)
    _check_duplicates(cases)
    if holdout is not None:
        cases = holdout_split(cases, holdout, reader_name or reader.default_name)
    task = reader.task
    allowed = task.values

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "images").mkdir(parents=True)
    records: dict[str, Any] = {}
    label_pixels = {label: 0 for label in task.labels}
    try:
        for case in progress(cases) if progress else cases:
            loaded = reader.load(case)
            image, mask = loaded.image, loaded.mask
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise DataError(
                    f"{case.image_path}: reader produced an image of shape {image.shape} {image.dtype}; "
                    "expected (H, W, 3) uint8"
                )
            record: dict[str, Any] = {"split": case.split, "image": f"images/{case.case_id}.png"}
            data = png_bytes(image)
            write_bytes(tmp / record["image"], data)
            hashes = {"image": hashlib.sha256(data).hexdigest()}
            if mask is not None:
                if mask.shape != image.shape[:2]:
                    raise DataError(
                        f"{case.mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image is "
                        f"{image.shape[1]}x{image.shape[0]}; expected equal sizes"
                    )
                bad = sorted(set(np.unique(mask).tolist()) - allowed)
                if bad:
                    raise DataError(f"{case.mask_path}: label(s) {bad} outside the {task.name} labels {task.labels}")
                (tmp / "masks").mkdir(exist_ok=True)
                record["mask"] = f"masks/{case.case_id}.png"
                data = png_bytes(mask.astype(np.uint8))
                write_bytes(tmp / record["mask"], data)
                hashes["mask"] = hashlib.sha256(data).hexdigest()
                counts = np.bincount(mask.ravel(), minlength=max(allowed) + 1)
                for label, value in task.labels.items():
                    label_pixels[label] += int(counts[value])
            record["size"] = [int(image.shape[0]), int(image.shape[1])]
            extra = dict(loaded.meta)
            record["original_size"] = list(extra.pop("original_size", record["size"]))
            record["sha256"] = hashes
            record["source"] = {
                k: str(v) for k, v in (("image", case.image_path), ("mask", case.mask_path)) if v is not None
            }
            record["meta"] = {**case.meta, **extra}
            records[case.case_id] = record

        splits: dict[str, list[str]] = {}
        for case_id, record in records.items():
            if record["split"]:
                splits.setdefault(record["split"], []).append(case_id)
        splits["all"] = list(records)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": name or out.name,
            "task": task.name,
            "labels": task.labels,
            "structures": {k: list(v) for k, v in task.structures.items()},
            "splits": splits,
            "source": {
                "reader": reader_name or reader.default_name,
                "layout": reader.layout,
                "path": str(src) if src is not None else None,
                "options": reader.options_dict(),
            },
            "provenance": {"medsegkit_version": __version__, "command": command},
            "notes": reader.notes() + ([HOLDOUT_NOTE.format(fraction=holdout)] if holdout is not None else []),
            "statistics": {
                "cases": len(records),
                "with_mask": sum("mask" in r for r in records.values()),
                "label_pixels": label_pixels,
            },
            "cases": records,
        }
        write_json_atomic(tmp / DATASET_JSON, manifest)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest
