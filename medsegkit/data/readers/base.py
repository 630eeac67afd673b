"""The reader interface every ``medsegkit.readers`` entry point implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from medsegkit import config
from medsegkit.data.imageio import check_same_size, map_values, read_gray, read_rgb
from medsegkit.data.tasks import Task
from medsegkit.errors import DataError, UsageError


@dataclass(frozen=True)
class CaseSource:
    """One case as found in a raw layout, before its pixels are read."""

    case_id: str
    image_path: Path | None
    mask_path: Path | None = None
    split: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class LoadedCase:
    """Pixels of one case in canonical form: ``image`` (H, W, 3) uint8, ``mask`` (H, W) uint8 labels or None."""

    image: np.ndarray
    mask: np.ndarray | None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NoOptions:
    pass


class DatasetReader(ABC):
    """Base class for raw-layout readers.

    Subclasses set ``task``, ``layout`` (one line describing the expected files), ``default_name``
    and an ``Options`` frozen dataclass, and implement :meth:`scan` and :meth:`load`.
    """

    task: ClassVar[Task]
    layout: ClassVar[str]
    default_name: ClassVar[str]
    needs_source: ClassVar[bool] = True
    Options: ClassVar[type] = NoOptions

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.Options()

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> DatasetReader:
        """Build a reader from user options, rejecting names the reader does not take."""
        return cls(config.build(cls.Options, given, f"reader {cls.default_name!r}"))

    @abstractmethod
    def scan(self, src: Path | None) -> list[CaseSource]:
        """List the cases under ``src`` (cheap: no pixels read); raise :class:`DataError` if none."""

    @abstractmethod
    def load(self, case: CaseSource) -> LoadedCase:
        """Read and validate one case's pixels."""

    def suggested_name(self, src: Path | None) -> str:
        """Folder name under the data root when ``--out`` is not given."""
        return self.default_name

    def notes(self) -> list[str]:
        """Facts about how the dataset was made that a user of it must know."""
        return []

    def options_dict(self) -> dict[str, Any]:
        return config.to_dict(self.options)


def load_mapped(case: CaseSource, mapping: Mapping[int, int]) -> LoadedCase:
    """Read ``case``'s image and, if it has one, its mask with raw values mapped to labels by ``mapping``."""
    image = read_rgb(case.image_path)
    if case.mask_path is None:
        return LoadedCase(image, None)
    raw = read_gray(case.mask_path)
    check_same_size(image, raw, case.image_path, case.mask_path)
    return LoadedCase(image, map_values(raw, mapping, case.mask_path))


def require_dir(path: Path | None, what: str) -> Path:
    """Check that ``path`` is an existing folder; the error names the path and what was expected."""
    if path is None:
        raise UsageError(f"a source folder is required: {what}")
    if not path.exists():
        raise DataError(f"{path}: folder not found; expected {what}")
    if not path.is_dir():
        raise DataError(f"{path}: not a folder; expected {what}")
    return path


def no_cases(src: Path, layout: str) -> DataError:
    return DataError(f"{src}: no cases found; expected {layout}")
