"""The teacher of ``self-train``: a cluster run's images, blind masks and confidences, turned into training
targets and loss weights, and each image's final mask decided between the teacher and the network."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medsegkit import metrics
from medsegkit.data.imageio import read_labels, read_rgb_reduced
from medsegkit.data.predictions import recorded_path
from medsegkit.engine.candidates import read_candidates, write_candidates
from medsegkit.engine.casefolder import CaseFolder
from medsegkit.engine.overlays import GREEN, OVERLAY_SIDE, write_overlay
from medsegkit.errors import DataError
from medsegkit.imaging import resize_nearest
from medsegkit.lesion.blind.per_image import MAX_CANDIDATES, looks_same
from medsegkit.morphology import dilate, erode
from medsegkit.runtime.atomic import write_json_atomic

IGNORE = 255


@dataclass(frozen=True)
class Teacher:
    """One image of the teacher run: its mask, the run's confidence in it (None: not given) and its ``source``
    (``blind``; ``reviewed`` or ``excluded`` by ``medsegkit review``)."""

    case: str
    image: Path
    mask: Path
    confidence: float | None
    source: str = "blind"

    @property
    def teaches(self) -> bool:
        """Is the image trained on? A reviewer said no candidate fits an excluded one."""
        return self.source != "excluded"


def read_teacher(run: Path) -> list[Teacher]:
    """Every finished image of a cluster (or self-train) run folder; a reviewed image's mask has confidence 1."""
    manifest = run / "manifest.json"
    if not manifest.is_file() or not (run / "masks").is_dir():
        raise DataError(f"{run}: not a cluster run (expected manifest.json and masks/ from medsegkit cluster)")
    data = json.loads(manifest.read_text())
    if data.get("task", "lesion") != "lesion" or "checkpoint" in data and data.get("task") is None:
        raise DataError(f"{manifest}: not a lesion run; self-train needs the masks of medsegkit cluster")
    teachers = []
    for record in data.get("cases", []):
        if "image" not in record:
            raise DataError(f"{manifest}: not a cluster run (its cases name no image)")
        mask = run / "masks" / f"{record['case']}.png"
        if not mask.is_file():
            raise DataError(f"{mask}: missing; the run's manifest lists case {record['case']!r}")
        image = recorded_path(record["image"], run)
        source = record.get("source", "blind")
        confidence = 1.0 if source == "reviewed" else record.get("confidence")  # a person's mask: full weight
        teachers.append(Teacher(record["case"], image, mask, confidence, source))
    if len(teachers) < 2:
        raise DataError(f"{manifest}: self-train needs at least 2 finished images, the run has {len(teachers)}")
    return teachers


def weights(teachers: list[Teacher], kind: str) -> dict[str, float]:
    """Each image's loss weight: its confidence over the run's mean (``confidence``; 1 where a run gives
    none), or 1 for all (``none``).

    Example:
        >>> ts = [Teacher("a", Path(), Path(), 0.25), Teacher("b", Path(), Path(), 0.75)]
        >>> weights(ts, "confidence")
        {'a': 0.5, 'b': 1.5}
    """
    given = [t.confidence for t in teachers if t.confidence is not None]
    if kind == "none" or not given or max(given) <= 0:
        return {t.case: 1.0 for t in teachers}
    mean = float(np.mean(given))
    return {t.case: (t.confidence / mean if t.confidence is not None else 1.0) for t in teachers}


def band_target(mask: np.ndarray, width: int) -> np.ndarray:
    """``(H, W)`` int64 target: 1 lesion, 0 skin, :data:`IGNORE` within ``width`` pixels of the boundary.

    Example:
        >>> m = np.zeros((7, 7), bool); m[2:5, 2:5] = True
        >>> band_target(m, 1)[3].tolist()
        [0, 255, 255, 1, 255, 255, 0]
    """
    target = mask.astype(np.int64)
    if width > 0 and mask.any() and not mask.all():
        inner = erode(mask, width, border_value=1)
        outer = dilate(mask, width)
        target[outer & ~inner] = IGNORE
    return target


def settle(out: Path, teacher: Teacher, combine: bool) -> None:
    """One image's final mask, decided once (its record's ``mask_source`` marks it done).

    The record keeps the network's Dice agreement with the teacher mask and both confidences. A reviewed
    teacher mask is kept whatever the network says; an excluded image keeps the network's. Otherwise, with
    ``combine``, where the cluster run was more confident in its mask than the network is in its own, the
    teacher's mask (and its confidence) replaces the network's. The record's ``source`` carries a review's
    verdict on.
    """
    path = out / "cases" / f"{teacher.case}.json"
    record = json.loads(path.read_text())
    if "mask_source" in record:
        return
    taught = read_labels(teacher.mask) > 0
    network = read_labels(out / "masks" / f"{teacher.case}.png") > 0
    record |= {
        "teacher_agreement": round(metrics.dice(network, taught), 6),
        "teacher_confidence": teacher.confidence,
        "network_confidence": record["confidence"],
        "mask_source": "network",
        **({"source": teacher.source} if teacher.source != "blind" else {}),
    }
    wins = combine and teacher.confidence is not None and teacher.confidence > record["confidence"]
    if teacher.source == "reviewed" or (wins and teacher.teaches):
        CaseFolder(out).write_mask(teacher.case, taught.astype(np.uint8))
        write_overlay(out, teacher.case, read_rgb_reduced(teacher.image, OVERLAY_SIDE, 1)[0], [(taught, GREEN)])
        record |= {
            "mask_source": "teacher",
            "confidence": teacher.confidence,
            "lesion_area": int(taught.sum()),
            "mask_fraction": round(float(taught.mean()), 6),
        }
    record["candidates"] = _offer_teacher(
        out, teacher.case, record.get("candidates", []), taught, record["mask_source"]
    )
    write_json_atomic(path, record)


def _offer_teacher(out: Path, case: str, listed: list[dict], taught: np.ndarray, chosen: str) -> list[dict]:
    """The case's candidates with the teacher's mask among them: first when it became the case's mask, else
    last, at the candidates' working size (:mod:`medsegkit.engine.candidates`); returns their descriptions."""
    masks = read_candidates(out, case, len(listed))
    if not masks:
        return listed
    mine = resize_nearest(taught.astype(np.uint8), masks[0].shape) > 0
    pairs = [(m, d) for m, d in zip(masks, listed, strict=True) if not looks_same(m, mine)]
    entry = (mine, {"score": None, "source": "teacher"})
    pairs = [entry, *pairs] if chosen == "teacher" else [*pairs, entry]
    pairs = pairs[:MAX_CANDIDATES]
    write_candidates(out, case, [m for m, _ in pairs])
    return [d for _, d in pairs]
