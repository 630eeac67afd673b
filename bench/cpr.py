"""The whole source-free adaptation chain on real fundus domains, timed per stage.

    python bench/cpr.py --from SOURCE_DATASET --to TARGET_DATASET [--size 256] [--source-epochs 30]
                        [--epochs 10] [--methods dpl,cpr,cpr-cbam] [--out DIR]

Both datasets are prepared fundus datasets (paths). Trains the source model (or reuses
``<out>/source/best.pt``), then for each method refines pseudo-labels and adapts, and prints one
table: disc and cup Dice, ASSD (pixels at the target's resolution) and vCDR error for source-only
and every method, with seconds per stage.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from medsegkit.data.dataset import Dataset
from medsegkit.evaluation import EvalSettings, evaluate_run, per_case_frame, summarise
from medsegkit.methods.adapt import AdaptConfig, adapt
from medsegkit.methods.refine import RefineConfig
from medsegkit.methods.source import SourceConfig, train_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, required=True)
    parser.add_argument("--to", dest="target", type=Path, required=True)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--source-epochs", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--methods", default="dpl,cpr,cpr-cbam")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-cpr"))
    args = parser.parse_args()

    src, tgt = Dataset.open(args.source), Dataset.open(args.target)
    stages: dict[str, float] = {}
    start = time.perf_counter()
    checkpoint = args.out / "source" / "best.pt"
    if not checkpoint.is_file():
        train_source(src, checkpoint.parent, SourceConfig(size=args.size, epochs=args.source_epochs), resume=True)
    stages["pretrain-source"] = time.perf_counter() - start
    runs: list[Path] = []
    for method in args.methods.split(","):
        t = time.perf_counter()
        out = args.out / method
        result = adapt(checkpoint, tgt, out, AdaptConfig(method=method, epochs=args.epochs), RefineConfig(method=method, passes=args.passes), resume=True)
        stages[method] = time.perf_counter() - t
        if not runs:
            runs.append(Path(result["runs"][0]))
        runs.append(Path(result["runs"][1]))
    settings = EvalSettings(split="test" if "test" in tgt.splits else "all")
    names = ["source-only", *args.methods.split(",")]
    summary = summarise(per_case_frame([evaluate_run(r, tgt, settings, label=n) for r, n in zip(runs, names)], settings))
    print(f"{src.name} -> {tgt.name}, {args.size} px, split {settings.split}")
    print(f"{'run':<14}{'Dice disc':>11}{'Dice cup':>10}{'ASSD disc':>11}{'ASSD cup':>10}{'vCDR err':>10}")
    for name in names:
        m = {s: summary[name][s]["metrics"] for s in ("disc", "cup")}
        print(f"{name:<14}{m['disc']['dice']['mean']:>11.4f}{m['cup']['dice']['mean']:>10.4f}"
              f"{m['disc'].get('assd', {}).get('mean', float('nan')):>11.2f}{m['cup'].get('assd', {}).get('mean', float('nan')):>10.2f}"
              f"{m['cup'].get('vcdr_err', {}).get('mean', float('nan')):>10.4f}")
    print("seconds per stage: " + ", ".join(f"{k} {v:.0f}" for k, v in stages.items()) + f"; total {time.perf_counter() - start:.0f}")


if __name__ == "__main__":
    main()
