"""Atomic file writes: write to a hidden temporary name in the same folder, then rename.

A write that fails (no permission, a full disk, a file-size limit) leaves the old file as it was and
no temporary file behind, and is reported as one error naming the file that was being written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from medsegkit.errors import MedsegkitError


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` in place (for files inside a temporary folder that is renamed into place as a
    whole); a failure is one error naming the file. A full disk fails in ``write()``, whose ``OSError`` names
    no file."""
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise MedsegkitError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        raise MedsegkitError(f"{path}: cannot write ({exc.strerror or exc}); nothing was changed there") from exc
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, allow_nan=False) + "\n")
