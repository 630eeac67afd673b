"""What every pipeline entry point needs besides its method's config: where it reads and writes, and on what it runs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medsegkit.errors import UsageError
from medsegkit.runtime.atomic import write_json_atomic


@dataclass(frozen=True)
class Job:
    """The shared arguments of ``cluster``, ``pretrain``, ``refine_target`` and ``adapt_target``.

    Args:
        out: the run folder; None for the verb's default under ``runs/``.
        data_root: where dataset names are looked up (``--data-root``, ``$MEDSEGKIT_DATA``, ``./data``).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; the one used is recorded with the outputs.
        progress: wraps an iterable to report progress (the CLI's bar or plain lines); None is silent.
        threads: torch threads of this process; None: ``$OMP_NUM_THREADS``, else the cores it owns shared
            among the ``torchrun`` processes of its machine (:func:`medsegkit.runtime.distributed.set_threads`).

    Example:
        >>> Job().destination(Path("runs") / "cluster-s3-ph2").as_posix()
        'runs/cluster-s3-ph2'
    """

    out: Path | None = None
    data_root: Path = Path("data")
    device: str = "auto"
    progress: Callable[..., Any] | None = None
    threads: int | None = None

    def destination(self, default: Path) -> Path:
        """``out``, else the verb's ``default`` folder."""
        return Path(self.out) if self.out is not None else default


def claim(out: Path, settings: dict[str, Any], subfolders: Iterable[str] = ()) -> bool:
    """Make ``out`` the folder of a run with ``settings`` (recorded in ``settings.json``), or continue the run
    already there with the same settings; a folder holding a run with other settings is refused. Creates
    ``subfolders``. Returns True for a new run."""
    out.mkdir(parents=True, exist_ok=True)
    file = out / "settings.json"
    fresh = not file.is_file()
    if not fresh and json.loads(file.read_text()) != settings:
        raise UsageError(f"{out} holds a run with other settings ({file}); choose another --out or delete it")
    if fresh:
        write_json_atomic(file, settings)
    for sub in subfolders:
        (out / sub).mkdir(exist_ok=True)
    return fresh
