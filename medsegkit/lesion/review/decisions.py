"""A reviewer's decisions: their format, the append-only log they are kept in, and what they add up to per case.

One decision per line of ``RUN/review/decisions.jsonl`` (and of a file given to ``review --apply``)::

    {"case": "IMD002", "action": "candidate", "candidate": 2, "reviewer": "ana", "time": "2026-12-07T10:00:00+00:00"}
    {"case": "IMD004", "action": "accept"}
    {"case": "IMD019", "action": "exclude"}
    {"case": "IMD032", "action": "click", "point": [0.52, 0.47]}
    {"case": "IMD041", "action": "click", "point": [0.40, 0.55], "grow": true}
    {"case": "IMD032", "action": "undo"}

``candidate`` picks the case's candidate mask ``candidate`` (1-based, as keys 1-6 of the page); ``accept`` keeps
the mask the case has now; ``exclude`` marks the case as one no candidate fits (it keeps its blind mask and is
left out of teaching); ``click`` builds a new candidate from the cluster regions under ``point`` (row, column as
fractions of the image's height and width) and picks it, with ``grow`` grown over what the surrounding skin
does not explain (:mod:`medsegkit.lesion.blind.grow`: a faint or two-tone lesion whole); ``undo`` takes back
the case's latest decision that still stands. ``reviewer`` and ``time`` are optional. A case's state is its
decisions folded in order (:func:`fold`), so the log replays to the same masks after a crash or on another copy
of the run.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medsegkit.errors import DataError

ACTIONS = ("candidate", "accept", "exclude", "click", "undo")
MOST_CANDIDATES = 8


@dataclass(frozen=True)
class Decision:
    """One line of the log (see the module docstring)."""

    case: str
    action: str
    candidate: int | None = None
    point: tuple[float, float] | None = None
    reviewer: str | None = None
    time: str | None = None
    grow: bool = False

    def to_json(self) -> str:
        data = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if v not in (None, False)}
        return json.dumps(data, separators=(", ", ": "))


@dataclass(frozen=True)
class State:
    """What a case's standing decisions add up to: its ``status`` (``blind``, ``reviewed`` or ``excluded``) and
    the mask it has (``choice``: ``blind``, ``candidate`` or ``click``, with the candidate or the point), and who
    decided it when."""

    status: str = "blind"
    choice: str = "blind"
    candidate: int | None = None
    point: tuple[float, float] | None = None
    reviewer: str | None = None
    time: str | None = None
    grow: bool = False


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def parse(data: Any, where: str) -> Decision:
    """A :class:`Decision` from a JSON object; anything else is a :class:`DataError` naming ``where``.

    Example:
        >>> parse({"case": "a", "action": "candidate", "candidate": 2}, "x").candidate
        2
    """
    if not isinstance(data, dict) or not isinstance(data.get("case"), str) or data.get("action") not in ACTIONS:
        raise DataError(f'{where}: expected a decision such as {{"case": ..., "action": one of {", ".join(ACTIONS)}}}')
    unknown = sorted(set(data) - {"case", "action", "candidate", "point", "reviewer", "time", "grow"})
    if unknown:
        raise DataError(f"{where}: unknown field(s) {', '.join(unknown)} in a decision")
    candidate, point = data.get("candidate"), data.get("point")
    if data["action"] == "candidate" and not (
        isinstance(candidate, int) and not isinstance(candidate, bool) and 1 <= candidate <= MOST_CANDIDATES
    ):
        raise DataError(f"{where}: a 'candidate' decision needs \"candidate\": 1..{MOST_CANDIDATES}, got {candidate!r}")
    if data["action"] == "click":
        if not (
            isinstance(point, list | tuple)
            and len(point) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in point)
        ):
            raise DataError(
                f"{where}: a 'click' decision needs \"point\": [row, column] as fractions 0..1, got {point!r}"
            )
        point = (float(point[0]), float(point[1]))
    if not isinstance(data.get("grow", False), bool):
        raise DataError(f'{where}: "grow" must be true or false')
    for key in ("reviewer", "time"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise DataError(f'{where}: "{key}" must be a string')
    return Decision(
        data["case"],
        data["action"],
        candidate if data["action"] == "candidate" else None,
        point if data["action"] == "click" else None,
        data.get("reviewer"),
        data.get("time"),
        data["action"] == "click" and data.get("grow", False),
    )


def read(path: Path, tolerate_torn_end: bool = False) -> list[Decision]:
    """The decisions of a JSON-lines file. ``tolerate_torn_end``: a last line cut short (the server was killed
    while writing it) is dropped instead of refused."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read decisions ({exc})") from None
    decisions = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            if tolerate_torn_end and number == len(lines):
                break
            raise DataError(f"{path}:{number}: not a JSON object; expected one decision per line") from None
        decisions.append(parse(data, f"{path}:{number}"))
    return decisions


def append(path: Path, decision: Decision) -> None:
    """Add ``decision`` to the log at ``path`` and flush it to the disk before returning (``fsync``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as log:
        log.write(decision.to_json() + "\n")
        log.flush()
        os.fsync(log.fileno())


def fold(decisions: list[Decision]) -> State:
    """The state of one case after its ``decisions`` in order (``undo`` takes back the latest one standing).

    Example:
        >>> d = [Decision("a", "candidate", 2), Decision("a", "accept"), Decision("a", "undo")]
        >>> fold(d).status, fold(d).candidate, fold(d[:1] + [Decision("a", "exclude")]).choice
        ('reviewed', 2, 'blind')
    """
    standing: list[Decision] = []
    for d in decisions:
        if d.action == "undo":
            if standing:
                standing.pop()
        else:
            standing.append(d)
    state = State()
    for d in standing:
        who = {"reviewer": d.reviewer, "time": d.time}
        if d.action == "candidate":
            state = State("reviewed", "candidate", d.candidate, None, **who)
        elif d.action == "click":
            state = State("reviewed", "click", None, d.point, **who, grow=d.grow)
        elif d.action == "accept":
            state = State("reviewed", state.choice, state.candidate, state.point, **who, grow=state.grow)
        else:  # exclude
            state = State("excluded", "blind", None, None, **who)
    return state
