"""``medsegkit prepare``: pick a registered reader, validate its options, write the canonical dataset."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from medsegkit import registry
from medsegkit.data.canonical import Progress, write_dataset
from medsegkit.data.readers.base import DatasetReader
from medsegkit.errors import UsageError


def make_reader(kind: str, options: Mapping[str, Any]) -> DatasetReader:
    """Instantiate the reader registered as ``kind`` in ``medsegkit.readers`` with user options."""
    return registry.load("readers", kind, DatasetReader).from_options(options)


def _takes(kind: str, option: str) -> bool:
    """Whether reader ``kind`` has an option called ``option``."""
    options = getattr(registry.load("readers", kind, DatasetReader), "Options", None)
    return is_dataclass(options) and option in {f.name for f in fields(options)}


def prepare(
    kind: str,
    src: Path | None,
    out: Path | None,
    data_root: Path,
    options: Mapping[str, Any],
    name: str | None = None,
    progress: Progress | None = None,
    command: str | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Convert ``src`` (a raw layout read by ``kind``) into a canonical dataset; returns (folder, manifest)."""
    options = dict(options)
    holdout = None
    if "test_fraction" in options and not _takes(kind, "test_fraction"):
        holdout = float(options.pop("test_fraction"))  # a layout without splits: medsegkit holds out a test split
    reader = make_reader(kind, options)
    if reader.needs_source and src is None:
        raise UsageError(f"reader {kind!r} needs a source folder: {reader.layout}")
    if not reader.needs_source and src is not None:
        raise UsageError(f"reader {kind!r} generates its data and takes no source folder, got {src}")
    target = out if out is not None else data_root / (name or reader.suggested_name(src))
    manifest = write_dataset(
        reader, src, target, name=name, progress=progress, command=command, reader_name=kind, holdout=holdout
    )
    return target, manifest
