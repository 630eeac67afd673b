"""``medsegkit adapt`` end to end: find the source checkpoint, adapt, score source-only against adapted.

The CLI verb and ``bench/cpr.py`` both call :func:`adapt_target`; neither writes the chain again.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from medsegkit.data.dataset import Dataset, resolve_dataset
from medsegkit.errors import UsageError
from medsegkit.evaluation import EvalSettings, evaluate_runs
from medsegkit.fundus.adapt import adapt
from medsegkit.fundus.config import AdaptConfig, RefineConfig
from medsegkit.fundus.refine import check_components
from medsegkit.losses import create_loss
from medsegkit.runtime import distributed
from medsegkit.runtime.checkpoint import check_resume
from medsegkit.runtime.job import Job
from medsegkit.runtime.lock import run_lock


def source_checkpoint(source: Path | None, source_domain: str) -> Path:
    """``source``, else ``runs/source-<domain>/best.pt`` (where ``pretrain-source`` writes it by default).

    A missing checkpoint is refused with the command that makes it: source training takes hours on a
    CPU and is never started implicitly.
    """
    if source is not None:
        return source
    name = Path(source_domain).name
    default = Path("runs") / f"source-{name}" / "best.pt"
    if not default.is_file():
        raise UsageError(
            f"no source checkpoint at {default}; train one first with `medsegkit pretrain-source --domain "
            f"{source_domain}` "
            "or pass --source CHECKPOINT"
        )
    return default


def adapt_target(
    source: Path | None,
    source_domain: str,
    target: str,
    cfg: AdaptConfig,
    refine_cfg: RefineConfig,
    job: Job,
    resume: bool = False,
    keep_adapted: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """Adapt the source checkpoint to ``target`` (path or name under ``job.data_root``) and score both models
    on the target's test split (``all`` without one); writes ``<run>/evaluation``. The summary's ``check`` is
    the label-free verdict that chose the output model (``model.pt``; ``keep_adapted`` overrides it).

    The run folder defaults to ``runs/adapt-<method>-<from>-to-<to>``. Returns it and the evaluation
    summary (empty on ranks other than 0 under ``torchrun``).
    """
    create_loss(cfg.loss_name)
    check_components(refine_cfg)
    checkpoint = source_checkpoint(source, source_domain)
    ds = Dataset.open(resolve_dataset(target, job.data_root))
    destination = job.destination(Path("runs") / f"adapt-{cfg.method}-{Path(source_domain).name}-to-{ds.name}")
    check_resume(destination, resume, finished="refine/manifest.json")  # refined, not yet trained
    with distributed.session(job.device, job.threads) as ctx, ExitStack() as held:
        if ctx.is_main:
            held.enter_context(run_lock(destination))  # a second adapt on this --out is refused
        result = adapt(
            checkpoint, ds, destination, cfg, refine_cfg, ctx.device, resume, job.progress, ctx, keep_adapted
        )
    if not ctx.is_main:
        return destination, {}
    settings = EvalSettings(split=ds.split_or_all("test"))
    runs = [Path(run) for run in result["runs"]]
    _, summary, _ = evaluate_runs(runs, ds, settings, destination / "evaluation", labels=[run.name for run in runs])
    return destination, {**summary, "check": result["check"]}
