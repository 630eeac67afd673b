"""One writer per run folder: a lock file that a second process on the same ``--out`` is refused by.

Each process that writes a run folder holds ``.lock-<i>-of-<n>`` in it for its shard ``i/n`` (``0/1``: the
whole folder) while it works. Shards of one split (the same ``n``, other ``i``) work side by side, as
``--shard`` and ``torchrun`` ranks do; any other pair would write the same images, and the second process is
refused in one line. A lock left by a process that no longer runs (killed, or its machine rebooted) is
stale: the next run on this machine takes it over. A lock held on another machine cannot be checked from
here, so it counts as held; its message says how to remove it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from medsegkit.errors import MedsegkitError

PREFIX = ".lock-"


class LockedError(MedsegkitError):
    """Another process writes the run folder (exit code 1)."""


def _name(index: int, count: int) -> str:
    return f"{PREFIX}{index}-of-{count}"


def _alive(holder: dict) -> bool:
    """Does the process that wrote ``holder`` still run? Only a process of this machine can be checked."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError, TypeError):
        return True  # someone else's process, or a lock this code cannot read: held
    return True


def _compatible(mine: tuple[int, int], theirs: tuple[int, int]) -> bool:
    """Two shards that never share an image: one split into ``n > 1`` parts, two different parts.

    Example:
        >>> _compatible((0, 2), (1, 2)), _compatible((0, 1), (1, 2)), _compatible((0, 2), (0, 2))
        (True, False, False)
    """
    return mine[1] == theirs[1] > 1 and mine[0] != theirs[0]


@contextmanager
def run_lock(out: Path, index: int = 0, count: int = 1) -> Iterator[None]:
    """Hold the lock of shard ``index/count`` of run folder ``out`` (made if missing, and removed again if it is
    left empty) for the ``with`` block;
    another live process writing an overlapping shard is a :class:`LockedError`."""
    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    mine = out / _name(index, count)
    for other in sorted(out.glob(f"{PREFIX}*")):
        try:
            holder = json.loads(other.read_text())
            theirs = (int(holder["shard"][0]), int(holder["shard"][1]))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue  # being written or removed right now, or not ours
        if _compatible((index, count), theirs):
            continue
        if not _alive(holder):
            other.unlink(missing_ok=True)  # a killed process's lock: taken over
            continue
        raise LockedError(
            f"{out}: another medsegkit process (pid {holder.get('pid')} on {holder.get('host')}, since "
            f"{holder.get('started')}) is writing this run folder; wait for it to finish, or delete {other} if "
            "no such process runs"
        )
    record = {"pid": os.getpid(), "host": socket.gethostname(), "shard": [index, count], "started": time.ctime()}
    try:
        handle = os.open(mine, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise LockedError(f"{out}: another medsegkit process took {mine.name} just now; try again") from None
    with os.fdopen(handle, "w") as file:
        json.dump(record, file)
    try:
        yield
    finally:
        mine.unlink(missing_ok=True)
        if created and not any(out.iterdir()):  # a run refused before it wrote anything leaves no folder
            out.rmdir()
