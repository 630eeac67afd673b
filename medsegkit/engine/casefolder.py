"""The per-case run folder that ``cluster``, ``self-train`` and ``predict`` share.

Each case's outputs are written first and its record ``cases/<case>.json`` last, atomically: the record's
presence marks the case done, so a rerun does only the cases without one (:meth:`CaseFolder.pending`) and a
killed run loses at most the case in flight. A case that could not be read has ``failed/<case>.json``
instead, dropped once it succeeds. The folder's tables are rebuilt from the records of every process that
wrote into it (shards, ``torchrun`` ranks)::

    cases/<case>.json      one record per finished case, written last
    failed/<case>.json     one record per case that could not be read (case, image, reason)
    masks/<case>.png       the case's mask (canonical labels at the image's size)
    overlays/<case>.jpg    its contours on the image (:mod:`medsegkit.engine.overlays`)
    review.csv             every record from least to most confident, with its overlay (:func:`review_table`)
    failed.csv             every failed case
    manifest.json          the run's header and settings, and every record
"""

from __future__ import annotations

import csv
import io
import json
import platform
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from medsegkit import __version__
from medsegkit.data.imageio import png_bytes
from medsegkit.engine.overlays import overlay_path
from medsegkit.runtime.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic

FAILED_FIELDS = ("case", "image", "reason")


def csv_table(records: Iterable[dict[str, Any]], fields: Sequence[str]) -> str:
    """``records`` as CSV text with the columns ``fields`` (other keys ignored, missing ones empty).

    Example:
        >>> csv_table([{"case": "a", "x": 1, "y": 2}], ["case", "x"])
        'case,x\\na,1\\n'
    """
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return table.getvalue()


def review_table(records: list[dict[str, Any]], fields: Sequence[str]) -> str:
    """``review.csv``: every record from least to most confident (then by case; a missing confidence counts
    as 0, the least), ``fields`` and the overlay's path, so that a user looks at the likely failures first.

    Example:
        >>> print(review_table([{"case": "b", "confidence": 0.9}, {"case": "a", "confidence": None}],
        ...                    ["case", "confidence"]), end="")
        case,confidence,overlay
        a,,overlays/a.jpg
        b,0.9,overlays/b.jpg
    """
    ranked = sorted(records, key=lambda r: (r.get("confidence") or 0.0, r["case"]))
    rows = [{**r, "overlay": overlay_path(Path(), r["case"]).as_posix()} for r in ranked]
    return csv_table(rows, [*(f for f in fields if f != "overlay"), "overlay"])


def header(device: str, name: str, path: Path | str, total: int) -> dict[str, Any]:
    """What every run's manifest begins with: versions, the device, and the input (name, path, images)."""
    return {
        "medsegkit_version": __version__,
        "torch_version": metadata.version("torch"),
        "python": platform.python_version(),
        "device": device,
        "input": {"name": name, "path": str(path), "images": total},
    }


class CaseFolder:
    """A run folder ``root`` of per-case outputs (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def record_path(self, case_id: str) -> Path:
        return self.root / "cases" / f"{case_id}.json"

    def mask_path(self, case_id: str) -> Path:
        return self.root / "masks" / f"{case_id}.png"

    def overlay_path(self, case_id: str) -> Path:
        return overlay_path(self.root, case_id)

    def make(self, subfolders: Iterable[str] = ("masks", "overlays", "cases")) -> None:
        """Create the folder and ``subfolders``."""
        for sub in subfolders:
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def done(self, case_id: str) -> bool:
        return self.record_path(case_id).is_file()

    def pending(self, items: Iterable[tuple[str, Path]]) -> list[tuple[str, Path]]:
        """The ``(case, image)`` pairs of ``items`` without a record yet, in order."""
        return [(c, p) for c, p in items if not self.done(c)]

    def write_mask(self, case_id: str, labels: Any) -> None:
        """``masks/<case>.png`` from an ``(H, W)`` uint8 label map, atomically."""
        write_bytes_atomic(self.mask_path(case_id), png_bytes(labels))

    def finish(self, record: dict[str, Any]) -> None:
        """Write the record of ``record["case"]`` (last: it marks the case done) and drop its failure record."""
        write_json_atomic(self.record_path(record["case"]), record)
        (self.root / "failed" / f"{record['case']}.json").unlink(missing_ok=True)

    def fail(self, case_id: str, image: Path, reason: str) -> None:
        """Record that ``case_id`` could not be read, with the ``reason``."""
        (self.root / "failed").mkdir(exist_ok=True)
        write_json_atomic(
            self.root / "failed" / f"{case_id}.json", {"case": case_id, "image": str(image), "reason": reason}
        )

    def drop_stale_failures(self, cases: Iterable[str]) -> None:
        """Drop the failure records of cases that are no longer among ``cases`` (their image was removed)."""
        keep = set(cases)
        for record in (self.root / "failed").glob("*.json"):
            if record.stem not in keep:
                record.unlink(missing_ok=True)

    def records(self) -> list[dict[str, Any]]:
        """Every finished case's record (all processes), by case id."""
        return [json.loads(p.read_text()) for p in sorted((self.root / "cases").glob("*.json"))]

    def failures(self) -> list[dict[str, Any]]:
        """Every failure record, by case id."""
        return [json.loads(p.read_text()) for p in sorted((self.root / "failed").glob("*.json"))]

    def write_review(self, records: list[dict[str, Any]], fields: Sequence[str]) -> None:
        write_text_atomic(self.root / "review.csv", review_table(records, fields))

    def write_failed(self, failures: list[dict[str, Any]]) -> None:
        write_text_atomic(self.root / "failed.csv", csv_table(failures, FAILED_FIELDS))

    def write_table(self, name: str, records: list[dict[str, Any]], fields: Sequence[str]) -> None:
        write_text_atomic(self.root / name, csv_table(records, fields))

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json_atomic(self.root / "manifest.json", manifest)
