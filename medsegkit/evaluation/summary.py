"""The tables of an evaluation: per-case rows, the summary per run and structure, the problems worth a note, and
the files ``evaluate`` writes (``per_case.csv``, ``summary.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from medsegkit.data.dataset import Dataset
from medsegkit.evaluation.score import (
    SSCT_WARNING,
    SUMMARY_METRICS,
    EvalSettings,
    Progress,
    RunResult,
    _names,
    evaluate_run,
)
from medsegkit.runtime.atomic import write_json_atomic, write_text_atomic


def per_case_frame(results: list[RunResult], settings: EvalSettings) -> pd.DataFrame:
    frame = pd.DataFrame([row for r in results for row in r.rows])
    if frame.empty:
        return frame
    frame["select"] = settings.effective_select
    frame["protocol"] = "ssct (ground truth leak)" if settings.leaks_ground_truth else "standard"
    return frame


def summarise(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per run and structure: mean, std, median and count of each metric (NaN excluded), case and empty counts."""
    out: dict[str, dict[str, Any]] = {}
    if frame.empty:
        return out
    for (run, structure), group in frame.groupby(["run", "structure"], sort=False):
        entry: dict[str, Any] = {
            "cases": int(len(group)),
            "empty": {kind: int((group["empty"] == kind).sum()) for kind in ("pred", "gt", "both")},
            "metrics": {},
        }
        for metric in SUMMARY_METRICS:
            if metric not in group:
                continue
            values = group[metric].astype(float).dropna()
            if values.empty:
                continue
            entry["metrics"][metric] = {
                "mean": float(values.mean()),
                "std": float(values.std(ddof=0)),
                "median": float(values.median()),
                "n": int(values.size),
            }
        out.setdefault(str(run), {})[str(structure)] = entry
    return out


def problems(results: list[RunResult]) -> list[str]:
    """One line per run and kind of problem, naming the cases."""
    lines = []
    for r in results:
        if r.missing:
            lines.append(f"{r.run}: {len(r.missing)} case(s) without a prediction: {_names(r.missing)}")
        if r.extra:
            lines.append(
                f"{r.run}: {len(r.extra)} prediction(s) for cases not in the split, ignored: {_names(r.extra)}"
            )
        if r.resized:
            lines.append(
                f"{r.run}: {len(r.resized)} prediction(s) resized (nearest) to the ground truth size: "
                f"{_names(r.resized)}"
            )
    return lines


def summary_document(
    results: list[RunResult], summary: dict[str, Any], ds: Dataset, settings: EvalSettings
) -> dict[str, Any]:
    from medsegkit import __version__

    return {
        "medsegkit_version": __version__,
        "ground_truth": {"dataset": ds.name, "path": str(ds.root), "split": settings.split_of(ds)},
        "select": settings.effective_select,
        "protocol": settings.protocol,
        "leaks_ground_truth": settings.leaks_ground_truth,
        "warning": SSCT_WARNING if settings.leaks_ground_truth else None,
        "resolution": f"{settings.at_size}x{settings.at_size}" if settings.at_size else "ground truth",
        "distance_unit": "spacing units" if settings.spacing else "pixels",
        "spacing": list(settings.spacing) if settings.spacing else None,
        "empty_policy": "both empty: Dice 1, HM 0, XOR 0, distances 0; one empty: distances NaN (excluded "
        "from means, counted)",
        "runs": {
            r.run: {"missing": r.missing, "extra": r.extra, "resized": r.resized, "structures": summary.get(r.run, {})}
            for r in results
        },
    }


def evaluate_runs(
    runs: list[Path],
    ds: Dataset,
    settings: EvalSettings,
    out: Path,
    labels: list[str] | None = None,
    progress: Progress | None = None,
) -> tuple[list[RunResult], dict[str, Any], dict[str, Any]]:
    """Score prediction folders (named ``labels``, default their paths) and write ``per_case.csv`` and
    ``summary.json`` in ``out``; returns the per-run results, the summary and the summary document."""
    names = labels or [str(r) for r in runs]
    results = [
        evaluate_run(Path(run), ds, settings, progress, label=name) for run, name in zip(runs, names, strict=True)
    ]
    frame = per_case_frame(results, settings)
    summary = summarise(frame)
    document = summary_document(results, summary, ds, settings)
    write_evaluation(out, frame, document)
    return results, summary, document


def write_evaluation(out: Path, frame: pd.DataFrame, document: dict[str, Any]) -> None:
    """``per_case.csv`` and ``summary.json`` in ``out``, each written atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "per_case.csv", frame.to_csv(index=False))
    write_json_atomic(out / "summary.json", document)
