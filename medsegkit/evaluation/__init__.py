"""Scoring prediction folders against a prepared dataset, under named selections and protocols: one run
(:mod:`~medsegkit.evaluation.score`), and the tables and files of an evaluation
(:mod:`~medsegkit.evaluation.summary`)."""

from medsegkit.evaluation.score import (
    SSCT_WARNING,
    EvalSettings,
    RunResult,
    best_overlap,
    evaluate_run,
    same_aspect,
    ssct_leak,
)
from medsegkit.evaluation.summary import evaluate_runs, per_case_frame, problems, summarise, summary_document

__all__ = [
    "SSCT_WARNING",
    "EvalSettings",
    "RunResult",
    "best_overlap",
    "evaluate_run",
    "evaluate_runs",
    "per_case_frame",
    "problems",
    "same_aspect",
    "ssct_leak",
    "summarise",
    "summary_document",
]
