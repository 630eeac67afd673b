"""The two canonical label sets. Masks store one uint8 label per pixel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskName = Literal["lesion", "fundus"]


@dataclass(frozen=True)
class Task:
    """A label set: ``labels`` name -> value, and ``structures`` name -> the labels it is made of."""

    name: TaskName
    labels: dict[str, int]
    structures: dict[str, tuple[int, ...]]

    @property
    def values(self) -> set[int]:
        return set(self.labels.values())


LESION = Task("lesion", {"background": 0, "lesion": 1}, {"lesion": (1,)})
FUNDUS = Task("fundus", {"background": 0, "rim": 1, "cup": 2}, {"disc": (1, 2), "cup": (2,)})
TASKS: dict[str, Task] = {t.name: t for t in (LESION, FUNDUS)}
