"""``medsegkit report``: one self-contained HTML page that shows one or several runs.

The page holds everything it shows: thumbnails are embedded as base64 PNG, plots are inline SVG, the
per-case table sorts with a few lines of inline script; it loads nothing from anywhere. Sections: the
runs with their settings and versions; with ground truth, the metric table (mean ± std, median) and
the per-case Dice of every run as a strip plot; a sortable per-case table; a gallery (JPEG thumbnails
of at most ``THUMB`` pixels) with one row per
case and one overlay per run, worst first (lowest Dice of the first run with ground truth, else
lowest confidence, else by case id). Cases a person reviewed or excluded (``medsegkit review``) are marked so in
the table and the gallery.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from medsegkit import __version__
from medsegkit.data.dataset import Dataset
from medsegkit.data.imageio import read_labels, read_rgb
from medsegkit.data.predictions import PredictionFolder, missing_masks, recorded_path
from medsegkit.engine.overlays import draw, layers_of, overlay_bytes
from medsegkit.errors import DataError
from medsegkit.evaluation import EvalSettings, evaluate_run, per_case_frame, summarise

THUMB = 192
SHOWN_METRICS = {"dice": "Dice ↑", "hm": "HM ↓", "hd95": "HD95 ↓", "assd": "ASSD ↓", "vcdr_err": "|vCDR error| ↓"}


@dataclass
class RunView:
    """One run as the page sees it: its masks, the images they belong to, its settings and confidences."""

    label: str
    path: Path
    folder: PredictionFolder
    settings: dict[str, Any] = field(default_factory=dict)
    images: dict[str, Path] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    review: dict[str, str] = field(default_factory=dict)  # case -> reviewed or excluded (medsegkit review)

    @classmethod
    def open(cls, path: Path, label: str, allow_missing: bool = False) -> RunView:
        """The run at ``path``; cases its manifest lists without a mask file are an error unless
        ``allow_missing``."""
        view = cls(label, path, PredictionFolder.open(path))
        manifest = path / "manifest.json"
        if manifest.is_file():
            data = json.loads(manifest.read_text())
            view.settings = {k: v for k, v in data.items() if k not in ("cases", "failed")}
            for case in data.get("cases", []):
                if "image" in case:
                    view.images[case["case"]] = recorded_path(case["image"], path)
                if case.get("confidence") is not None:
                    view.confidence[case["case"]] = float(case["confidence"])
                if case.get("source") in ("reviewed", "excluded"):
                    view.review[case["case"]] = case["source"]
            missing_masks(path, [c["case"] for c in data.get("cases", [])], allow_missing, "show the others")
        elif (path.parent / "config.toml").is_file():  # adapt's source-only/ and adapted/
            view.settings = {"config.toml": (path.parent / "config.toml").read_text()}
        return view


def build(
    runs: list[Path],
    gt: Dataset | None = None,
    labels: list[str] | None = None,
    max_cases: int = 200,
    allow_missing: bool = False,
    resize: bool = False,
) -> str:
    """The page's HTML for ``runs`` (scored against ``gt`` when given; ``resize``: as ``evaluate --resize``)."""
    names = labels or _labels(runs)
    views = [RunView.open(Path(run), name, allow_missing) for run, name in zip(runs, names, strict=True)]
    task = (
        gt.task.name if gt is not None else ("fundus" if any("checkpoint" in v.settings for v in views) else "lesion")
    )
    cases = sorted(set().union(*(v.folder.masks for v in views)))
    scores: dict[str, dict[str, float]] = {v.label: {} for v in views}
    summary: dict[str, Any] = {}
    if gt is not None:
        settings = EvalSettings(split="all", resize=resize)
        results = [evaluate_run(v.path, gt, settings, label=v.label) for v in views]
        frame = per_case_frame(results, settings)
        summary = summarise(frame)
        first = "lesion" if task == "lesion" else "disc"
        for row in frame[frame["structure"] == first].itertuples() if not frame.empty else ():
            scores[row.run][row.case] = float(row.dice)
        cases.sort(key=lambda c: scores[views[0].label].get(c, math.inf))
        key = f"Dice ({first})"
    elif views[0].confidence:
        cases.sort(key=lambda c: views[0].confidence.get(c, math.inf))
        key = "confidence"
    else:
        key = ""
    values = scores if gt is not None else {v.label: v.confidence for v in views}
    parts = [_head(names), _runs(views)]
    if summary:
        parts.append(_metric_table(summary))
    if any(values.values()):
        parts.append(_strip_plot(values, key))
    parts.append(_case_table(cases, views, values, key))
    parts.append(_gallery(cases[:max_cases], views, gt, task, values, key, len(cases)))
    return "\n".join(parts) + "\n</body></html>\n"


def _labels(runs: list[Path]) -> list[str]:
    names = [Path(r).name for r in runs]
    return names if len(set(names)) == len(names) else [str(r) for r in runs]


def _head(names: list[str]) -> str:
    title = html.escape("medsegkit report: " + ", ".join(names))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
th {{ background: #f3f3f3; cursor: pointer; }} td:first-child, th:first-child {{ text-align: left; }}
.gallery td {{ text-align: center; vertical-align: top; font-size: 0.85em; }}
.gallery img {{ display: block; max-width: {THUMB}px; }}
pre {{ background: #f7f7f7; padding: 0.5em; overflow-x: auto; font-size: 0.8em; }}
b.reviewed {{ color: #2e7d32; font-size: 0.8em; }} b.excluded {{ color: #757575; font-size: 0.8em; }}
</style>
<script>
function sortTable(th) {{
  const table = th.closest("table"), body = table.tBodies[0], i = th.cellIndex;
  const up = th.dataset.up !== "1"; th.dataset.up = up ? "1" : "0";
  const value = r => {{ const t = r.cells[i].textContent; const n = parseFloat(t); return isNaN(n) ? t : n; }};
  [...body.rows].sort((a, b) => (value(a) > value(b) ? 1 : value(a) < value(b) ? -1 : 0) * (up ? 1 : -1))
    .forEach(r => body.appendChild(r));
}}
</script></head><body>
<h1>{title}</h1>
<p>Made by medsegkit {__version__} on {when}. Self-contained: nothing on this page is loaded from elsewhere.</p>"""


def _runs(views: list[RunView]) -> str:
    rows = []
    for v in views:
        text = html.escape(json.dumps(v.settings, indent=1, default=str)) if v.settings else "no manifest"
        rows.append(
            f"<details><summary><b>{html.escape(v.label)}</b>: {html.escape(str(v.path))}, "
            f"{len(v.folder.masks)} masks</summary><pre>{text}</pre></details>"
        )
    return "<h2>Runs and their settings</h2>\n" + "\n".join(rows)


def _fmt(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "–"
    return f"{entry['mean']:.4f} ± {entry['std']:.4f} ({entry['median']:.4f})"


def _metric_table(summary: dict[str, Any]) -> str:
    structures = list(next(iter(summary.values())))
    head = "".join(f"<th>{html.escape(r)}</th>" for r in summary)
    rows = []
    for s in structures:
        for metric, title in SHOWN_METRICS.items():
            cells = [summary[r].get(s, {}).get("metrics", {}).get(metric) for r in summary]
            if any(cells):
                rows.append(f"<tr><td>{s}: {title}</td>" + "".join(f"<td>{_fmt(c)}</td>" for c in cells) + "</tr>")
        cases = [str(summary[r].get(s, {}).get("cases", "–")) for r in summary]
        rows.append(f"<tr><td>{s}: cases</td>" + "".join(f"<td>{c}</td>" for c in cases) + "</tr>")
    return (
        "<h2>Metrics against the ground truth</h2><p>mean ± std (median) over cases.</p>"
        f"<table><thead><tr><th>metric</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _strip_plot(values: dict[str, dict[str, float]], key: str, width: int = 560, row: int = 36) -> str:
    """Inline SVG: one row per run, a dot per case at its value in [0, 1], the mean as a bar."""
    height = row * len(values) + 30
    left, right = 150, width - 20
    parts = [f'<svg width="{width}" height="{height}" role="img">']
    for tick in np.linspace(0, 1, 6):
        x = left + tick * (right - left)
        parts.append(f'<line x1="{x:.1f}" y1="5" x2="{x:.1f}" y2="{height - 20}" stroke="#ddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 5}" font-size="11" text-anchor="middle">{tick:.1f}</text>')
    for i, (name, by_case) in enumerate(values.items()):
        y = 20 + i * row
        parts.append(f'<text x="{left - 8}" y="{y + 4}" font-size="12" text-anchor="end">{html.escape(name)}</text>')
        for v in by_case.values():
            x = left + min(max(v, 0.0), 1.0) * (right - left)
            parts.append(f'<circle cx="{x:.1f}" cy="{y}" r="3" fill="#2a7ab9" fill-opacity="0.5"/>')
        if by_case:
            x = left + float(np.mean(list(by_case.values()))) * (right - left)
            parts.append(
                f'<line x1="{x:.1f}" y1="{y - 10}" x2="{x:.1f}" y2="{y + 10}" stroke="#c0392b" stroke-width="2"/>'
            )
    parts.append("</svg>")
    return f"<h2>Per-case {html.escape(key)}</h2><p>One dot per case; the red bar is the mean.</p>" + "".join(parts)


def _case_table(cases: list[str], views: list[RunView], values: dict[str, dict[str, float]], key: str) -> str:
    head = "".join(f'<th onclick="sortTable(this)">{html.escape(v.label)} {html.escape(key)}</th>' for v in views)
    rows = []
    for case in cases:
        cells = "".join(
            f"<td>{values[v.label][case]:.4f}{_badge(v, case)}</td>"
            if case in values.get(v.label, {})
            else f"<td>–{_badge(v, case)}</td>"
            for v in views
        )
        rows.append(f"<tr><td>{html.escape(case)}</td>{cells}</tr>")
    return (
        "<h2>Cases</h2><p>Click a column to sort.</p>"
        f'<table class="cases"><thead><tr><th onclick="sortTable(this)">case</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _thumbnail(image: np.ndarray, labels: np.ndarray, task: str) -> str:
    drawn = draw(image, layers_of(labels, task), THUMB)
    return "data:image/jpeg;base64," + base64.b64encode(overlay_bytes(drawn)).decode("ascii")


def _badge(view: RunView, case: str) -> str:
    """`` reviewed`` or `` excluded`` (a person's verdict on the case's mask, ``medsegkit review``), else nothing."""
    status = view.review.get(case)
    return f' <b class="{status}">{status}</b>' if status else ""


def _gallery(
    cases: list[str],
    views: list[RunView],
    gt: Dataset | None,
    task: str,
    values: dict[str, dict[str, float]],
    key: str,
    total: int,
) -> str:
    head = "".join(f"<th>{html.escape(v.label)}</th>" for v in views)
    order = f"lowest {key} of {views[0].label} first" if key else "by case id"
    gt_cases = set(gt.case_ids()) if gt is not None else set()
    rows = []
    for case in cases:
        image_path = next((v.images[case] for v in views if case in v.images), None)
        if image_path is None and case in gt_cases:
            image_path = gt.image_path(case)
        if image_path is None:
            raise DataError(
                f"{views[0].path}: no image recorded for case {case!r}; pass --gt DATASET to show its images"
            )
        image = read_rgb(image_path)
        cells = []
        if gt is not None and case in gt_cases and gt.mask_path(case) is not None:
            cells.append(
                f'<td><img alt="{case} ground truth" src="{_thumbnail(image, gt.mask(case), task)}">ground truth</td>'
            )
        for v in views:
            if case not in v.folder.masks:
                cells.append("<td>–</td>")
                continue
            value = values.get(v.label, {}).get(case)
            caption = (f"{key} {value:.3f}" if value is not None else "") + _badge(v, case)
            src = _thumbnail(image, read_labels(v.folder.masks[case]), task)
            cells.append(f'<td><img alt="{html.escape(case)} {html.escape(v.label)}" src="{src}">{caption}</td>')
        rows.append(f"<tr><td>{html.escape(case)}</td>{''.join(cells)}</tr>")
    gt_head = "<th>ground truth</th>" if gt is not None else ""
    shown = f"the first {len(cases)} of {total}" if len(cases) < total else f"all {total}"
    return (
        f"<h2>Gallery</h2><p>{shown} cases, {html.escape(order)}; contours: lesion or disc green, cup blue.</p>"
        f'<table class="gallery"><thead><tr><th>case</th>{gt_head}{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
