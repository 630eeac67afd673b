"""A lesion run folder under review: its cases in review order, their candidates, and decisions applied to it.

A decision is logged first (``review/decisions.jsonl``, flushed to disk), then applied: the case's mask is
rewritten atomically from its state (:func:`~medsegkit.lesion.review.decisions.fold`), the blind mask having
been copied once to ``masks-blind/<case>.png``; then the case record (``source``: ``blind``, ``reviewed`` or
``excluded``, with ``reviewer`` and ``reviewed_at``) and ``manifest.json``. Opening a run applies its whole log
again, so a run killed between the log and the files is whole again, and the run's state is always the log's.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from medsegkit.data.imageio import read_labels, read_rgb
from medsegkit.data.predictions import recorded_path
from medsegkit.engine.candidates import read_candidates
from medsegkit.engine.casefolder import CaseFolder
from medsegkit.errors import DataError, UsageError
from medsegkit.imaging import resize_nearest, resize_square
from medsegkit.lesion.blind.fov import field_of_view
from medsegkit.lesion.blind.grow import QUANTILES, grown
from medsegkit.lesion.blind.per_image import SECOND_OPINION
from medsegkit.lesion.clustering.kmeans import KMeansClusterer
from medsegkit.lesion.config import ColourRefineConfig
from medsegkit.lesion.hair import remove_hair
from medsegkit.lesion.review.click import click_mask
from medsegkit.lesion.review.decisions import Decision, State, append, fold, now, read
from medsegkit.runtime.atomic import write_bytes_atomic
from medsegkit.runtime.lock import run_lock

LOG = Path("review") / "decisions.jsonl"
REVIEW_KEYS = ("source", "reviewer", "reviewed_at", "review")


@dataclass
class Case:
    """One case of the run: its record, image, and the candidates it kept (count, their descriptions)."""

    name: str
    record: dict[str, Any]
    image: Path
    candidates: list[dict[str, Any]]


class ReviewRun:
    """The run folder ``root`` of a ``cluster``, ``self-train`` or lesion ``predict`` run (see the module
    docstring); ``reviewer`` names who decides."""

    def __init__(self, root: Path, reviewer: str | None = None) -> None:
        self.root, self.reviewer = Path(root), reviewer
        self.folder = CaseFolder(self.root)
        manifest = self.root / "manifest.json"
        if not manifest.is_file() or not (self.root / "masks").is_dir():
            raise DataError(f"{self.root}: not a run folder (expected manifest.json and masks/ of cluster or predict)")
        self.manifest = json.loads(manifest.read_text())
        if self.manifest.get("task", "lesion") != "lesion":
            raise UsageError(f"{self.root}: a {self.manifest['task']} run; review takes lesion runs")
        records = sorted(self.manifest.get("cases", []), key=lambda r: (r.get("confidence") or 0.0, r["case"]))
        if not records:
            raise DataError(f"{manifest}: no finished case to review")
        self.cases = {
            r["case"]: Case(r["case"], r, recorded_path(r["image"], self.root), r.get("candidates", []))
            for r in records
        }
        self.order = list(self.cases)  # least confident first, as review.csv
        self.size = int(self.manifest.get("size") or self.manifest.get("config", {}).get("size") or 256)
        refine = self.manifest.get("refine_mask", {})
        self.refine = ColourRefineConfig(**refine) if isinstance(refine, dict) else None
        self.log = self.root / LOG
        self.decisions: dict[str, list[Decision]] = {name: [] for name in self.cases}
        self.history: list[str] = []  # cases in the order of their decisions (undo takes the latest)
        self._lock = threading.Lock()
        self.candidates = lru_cache(maxsize=64)(self._candidates)
        self.blind_mask = lru_cache(maxsize=16)(self._blind_mask)  # never changes: masks-blind/ is written once
        if self.log.is_file():
            for decision in read(self.log, tolerate_torn_end=True):
                if decision.case in self.cases:
                    self._record(decision)
            for name in self.cases:
                if self.decisions[name]:
                    self._apply(name, write_manifest=False)
            self._write_manifest()

    def case(self, name: str) -> Case:
        """The case called ``name``; any other name is a :class:`UsageError` (names never reach a path)."""
        found = self.cases.get(name)
        if found is None:
            raise UsageError(f"unknown case {name[:80]!r}")
        return found

    def state(self, name: str) -> State:
        return fold(self.decisions[self.case(name).name])

    def counts(self) -> dict[str, int]:
        states = [self.state(n).status for n in self.order]
        return {"total": len(states), **{s: states.count(s) for s in ("blind", "reviewed", "excluded")}}

    def decide(self, decision: Decision) -> State:
        """Check, log (flushed to disk), then apply ``decision``; returns the case's new state."""
        case = self.case(decision.case)
        if decision.action == "candidate" and not 1 <= (decision.candidate or 0) <= max(1, len(case.candidates)):
            raise UsageError(
                f"case {case.name!r} has {max(1, len(case.candidates))} candidate(s), not {decision.candidate}"
            )
        stamped = replace(decision, reviewer=decision.reviewer or self.reviewer, time=decision.time or now())
        with self._lock:
            append(self.log, stamped)
            self._record(stamped)
            self._apply(case.name)
        return self.state(case.name)

    def undo_latest(self) -> str | None:
        """Take back the latest decision still standing, of any case; returns its case (None: nothing to undo)."""
        if not self.history:
            return None
        name = self.history[-1]
        self.decide(Decision(name, "undo"))
        return name

    def _record(self, decision: Decision) -> None:
        """Add ``decision`` to its case's list and to the history of standing decisions (an undo takes back the
        case's latest one there)."""
        self.decisions[decision.case].append(decision)
        if decision.action != "undo":
            self.history.append(decision.case)
        elif decision.case in self.history:
            del self.history[len(self.history) - 1 - self.history[::-1].index(decision.case)]

    def _blind_mask(self, name: str) -> np.ndarray:
        """The case's blind mask at its image's size (``masks-blind/`` once a decision has replaced it)."""
        kept = self.root / "masks-blind" / f"{name}.png"
        return read_labels(kept if kept.is_file() else self.folder.mask_path(name)) > 0

    def _candidates(self, name: str) -> list[np.ndarray]:
        """The case's candidate masks (at the working size), or its blind mask alone for a run that kept none."""
        case = self.case(name)
        kept = read_candidates(self.root, name, len(case.candidates))
        return kept or [self.blind_mask(name)]

    def working_image(self, name: str) -> np.ndarray:
        """The case's image as the run's clusterer saw it (its hairs removed if the run removed them)."""
        work = resize_square(read_rgb(self.case(name).image), self.size)
        return remove_hair(work) if self.manifest.get("hair") == "remove" else work

    def cluster_map(self, name: str, work: np.ndarray) -> np.ndarray:
        """The run's cluster map at the working size, or (runs without one) k-means with three colour clusters."""
        path = self.root / "clusters" / f"{name}.png"
        if path.is_file():
            return resize_nearest(read_labels(path), work.shape[:2])
        return KMeansClusterer(SECOND_OPINION).segment(work, int(self.case(name).record.get("seed", 0))).clusters

    def mask_of(self, name: str, state: State) -> np.ndarray:
        """The mask ``(H, W)`` bool that ``state`` gives the case, at any size (callers resize it)."""
        if state.choice == "candidate":
            found = self.candidates(name)
            return found[min(state.candidate or 1, len(found)) - 1]
        if state.choice == "click":
            work = self.working_image(name)
            mask = click_mask(work, self.cluster_map(name, work), state.point, self.refine)
            if not state.grow:
                return mask
            return grown(work, mask, field_of_view(work), QUANTILES[-1], self.refine or ColourRefineConfig())
        return self.blind_mask(name)

    def _apply(self, name: str, write_manifest: bool = True) -> None:
        """Make the case's files say its state: mask (the blind one kept first), record, manifest."""
        state = fold(self.decisions[name])
        blind_copy = self.root / "masks-blind" / f"{name}.png"
        if not blind_copy.is_file():
            blind_copy.parent.mkdir(exist_ok=True)
            write_bytes_atomic(blind_copy, self.folder.mask_path(name).read_bytes())
        blind = self.blind_mask(name)
        mask = resize_nearest(self.mask_of(name, state), blind.shape) if state.status == "reviewed" else blind
        self.folder.write_mask(name, mask.astype(np.uint8))
        record = {
            k: v for k, v in json.loads(self.folder.record_path(name).read_text()).items() if k not in REVIEW_KEYS
        }
        if state.status != "blind":
            record |= {
                "source": state.status,
                "reviewer": state.reviewer,
                "reviewed_at": state.time,
                "review": {
                    "choice": state.choice,
                    "candidate": state.candidate,
                    "point": state.point,
                    "grow": state.grow,
                    "mask_fraction": round(float(mask.mean()), 6),
                },
            }
        self.folder.finish(record)
        self.cases[name].record = record
        if write_manifest:
            self._write_manifest()

    def _write_manifest(self) -> None:
        self.manifest["cases"] = [
            self.cases[r["case"]].record if r["case"] in self.cases else r for r in self.manifest["cases"]
        ]
        self.manifest["review"] = self.counts()
        self.folder.write_manifest(self.manifest)


def apply_decisions(root: Path, file: Path, reviewer: str | None = None) -> dict[str, int]:
    """``medsegkit review RUN --apply FILE``: every decision of ``file`` (checked first, all of them, against
    the run's cases and candidates) logged and applied to the run folder ``root``; returns the run's counts."""
    with run_lock(root):
        run = ReviewRun(root, reviewer)
        decisions = read(file)
        for number, decision in enumerate(decisions, 1):
            if decision.case not in run.cases:
                raise DataError(f"{file}: decision {number} names case {decision.case!r}, which {root} does not have")
            listed = max(1, len(run.cases[decision.case].candidates))
            if decision.action == "candidate" and decision.candidate > listed:
                raise DataError(f"{file}: decision {number} picks candidate {decision.candidate} of {listed}")
        for decision in decisions:
            run.decide(decision)
        return run.counts()


def copy_run(source: Path, target: Path) -> None:
    """A copy of the run folder ``source`` at ``target`` (for a simulated review that must not touch the original)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".lock-*"))
