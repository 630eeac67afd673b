"""The contract of a clusterer registered in ``medsegkit.clusterers``: :class:`Clusterer` and its result."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from medsegkit import config as config_module


@dataclass
class ClusterResult:
    """``clusters`` ``(H, W)`` int cluster map at the working resolution, plus how it was obtained
    (the runner times every clusterer itself, selection and refinement included)."""

    clusters: np.ndarray
    iterations: int = 0
    label_history: list[int] = field(default_factory=list)


class Clusterer(ABC):
    """Clusters one image without labels. Subclasses set ``Config`` (a frozen dataclass) and ``segment``.

    ``__init__`` resolves every component the config names (models, attention modules), so a missing
    or broken plugin is reported before any image is read.
    """

    Config: ClassVar[type]

    def __init__(self, config: Any = None, device: str = "cpu") -> None:
        self.config = config if config is not None else self.Config()
        self.device = device

    @classmethod
    def from_options(
        cls, name: str, toml_file: Path | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Clusterer:
        return cls(config_module.load(cls.Config, toml_file, overrides or {}, f"clusterer {name!r}"))

    @abstractmethod
    def segment(self, image: np.ndarray, seed: int) -> ClusterResult:
        """Cluster one ``(H, W, 3)`` uint8 image."""

    def segment_batch(self, images: list[np.ndarray], seeds: list[int]) -> list[ClusterResult]:
        """Cluster several images, each with its own seed; the same results as :meth:`segment` on each.

        This default runs them one after another; a clusterer that can share the work (S3-Net optimises
        the images' networks in one step) overrides it.
        """
        return [self.segment(image, seed) for image, seed in zip(images, seeds, strict=True)]
