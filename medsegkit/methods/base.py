"""The interface of a clustering method registered in ``medsegkit.methods``."""

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
    (the runner times every method itself, selection and refinement included)."""

    clusters: np.ndarray
    iterations: int = 0
    label_history: list[int] = field(default_factory=list)


class ClusterMethod(ABC):
    """A method that clusters one image without labels. Subclasses set ``Config`` (a frozen dataclass)."""

    Config: ClassVar[type]

    def __init__(self, config: Any = None, device: str = "cpu") -> None:
        self.config = config if config is not None else self.Config()
        self.device = device

    @classmethod
    def from_options(cls, name: str, toml_file: Path | None = None, overrides: Mapping[str, Any] | None = None) -> ClusterMethod:
        return cls(config_module.load(cls.Config, toml_file, overrides or {}, f"method {name!r}"))

    @abstractmethod
    def segment(self, image: np.ndarray, seed: int) -> ClusterResult:
        """Cluster one ``(H, W, 3)`` uint8 image."""
