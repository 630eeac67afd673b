"""Does adaptation recover a synthetic style shift? Source-only against adapted, over seeds, on generated fundus.

    python bench/synthetic_shift.py [--seeds 0,1,2] [--methods cpr,dpl] [--threads N] [--out DIR]

Per seed: a source model fitted to 16 style-a images (64 px, 60 epochs), a 40-image style-b target (30 train,
10 test), then ``adapt`` (10 epochs, radius 1), through the library functions behind ``pretrain-source`` and
``adapt``. Prints disc and cup Dice of source-only and adapted per seed and method, and the paired difference
(adapted − source-only) as mean ± sd over the seeds. This was a test until it was shown to move with the
thread count and the machine's load (cup 0.739 → 0.509 on a loaded machine); a quality check over seeds
belongs here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from medsegkit.data.prepare import prepare
from medsegkit.fundus.config import AdaptConfig, RefineConfig, SourceConfig
from medsegkit.fundus.pipeline import adapt_target
from medsegkit.fundus.source import pretrain
from medsegkit.runtime.job import Job

STRUCTURES = ("disc", "cup")


def one_seed(seed: int, method: str, out: Path, threads: int | None) -> dict[str, dict[str, float]]:
    """Dice per run (source-only, adapted) and structure for one seed."""
    source = out / f"seed{seed}" / "a"
    target = out / f"seed{seed}" / "b"
    if not (source / "dataset.json").is_file():
        prepare("synthetic-fundus", None, source, out, {"count": 16, "size": 64, "seed": seed})
    if not (target / "dataset.json").is_file():
        options = {"count": 40, "size": 64, "style": "b", "test_fraction": 0.25, "seed": 100 + seed}
        prepare("synthetic-fundus", None, target, out, options)
    checkpoint = out / f"seed{seed}" / "src" / "best.pt"
    if not checkpoint.is_file():
        cfg = SourceConfig(size=64, epochs=60, batch_size=4, seed=seed)
        pretrain(str(source), cfg, Job(checkpoint.parent, device="cpu", threads=threads))
    cfg = AdaptConfig(method=method, epochs=10, batch_size=4, seed=seed)
    refine = RefineConfig(method=method, radius=1, seed=seed)
    job = Job(out / f"seed{seed}" / method, device="cpu", threads=threads)
    _, summary = adapt_target(checkpoint, "a", str(target), cfg, refine, job)
    check = summary.pop("check")
    dice = {run: {s: summary[run][s]["metrics"]["dice"]["mean"] for s in STRUCTURES} for run in summary}
    return {**dice, "output": dice["adapted" if check["output"] == "adapted" else "source-only"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default="cpr")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-synthetic-shift"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    for method in args.methods.split(","):
        gains: dict[str, list[float]] = {s: [] for s in STRUCTURES}
        for seed in seeds:
            start = time.perf_counter()
            dice = one_seed(seed, method, args.out, args.threads)
            row = "  ".join(
                f"{s} {dice['source-only'][s]:.3f} -> {dice['adapted'][s]:.3f} (output {dice['output'][s]:.3f})"
                for s in STRUCTURES
            )
            print(f"{method} seed {seed}: {row} ({time.perf_counter() - start:.0f} s)", flush=True)
            for s in STRUCTURES:
                gains[s].append(dice["adapted"][s] - dice["source-only"][s])
        summary = ", ".join(
            f"{s} {np.mean(g):+.3f} ± {np.std(g, ddof=1) if len(g) > 1 else 0:.3f}" for s, g in gains.items()
        )
        print(f"{method}: adapted − source-only over {len(seeds)} seeds: {summary}")


if __name__ == "__main__":
    main()
