"""The whole source-free adaptation chain on real fundus domains, timed per stage.

    python bench/cpr.py --from SOURCE_DATASET --to TARGET_DATASET [--size 256] [--source-epochs 30]
                        [--epochs 10] [--passes 10] [--methods dpl,cpr,cpr-cbam] [--out DIR]
                        [--encoder efficientnet-lite0] [--encoder-weights imagenet] [--device auto] [--seed 0]
                        [--loss masked-gce]

Both datasets are prepared fundus datasets (paths). Trains the source model with the library function
behind ``pretrain-source`` (or reuses ``<out>/source/best.pt``), then for each method runs the function
behind ``adapt`` (refine, adapt, score), and prints one table: disc and cup Dice, ASSD (pixels at the
target's resolution) and vCDR error for source-only and every method, with seconds per stage.
``--seed`` seeds refinement and adaptation (and the source model when it is trained): with the same
``<out>/source/best.pt`` copied into several output folders, the seeds measure adaptation's own spread.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from medsegkit.fundus.config import AdaptConfig, RefineConfig, SourceConfig
from medsegkit.fundus.pipeline import adapt_target
from medsegkit.fundus.source import pretrain
from medsegkit.runtime.job import Job


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
    parser.add_argument("--device", default="auto")
    parser.add_argument("--encoder", default=SourceConfig.encoder, help="e.g. efficientnet-lite0")
    parser.add_argument("--encoder-weights", default=None, help="none, imagenet or a state-dict file")
    parser.add_argument("--seed", type=int, default=0, help="seed of every stage run here")
    parser.add_argument("--loss", default=None, help="adaptation loss from the registry (default: the method's)")
    args = parser.parse_args()

    stages: dict[str, float] = {}
    start = time.perf_counter()
    checkpoint = args.out / "source" / "best.pt"
    if not checkpoint.is_file():
        cfg = SourceConfig(
            size=args.size,
            epochs=args.source_epochs,
            encoder=args.encoder,
            encoder_weights=args.encoder_weights,
            seed=args.seed,
        )
        pretrain(str(args.source), cfg, Job(checkpoint.parent, device=args.device), resume=True)
    stages["pretrain-source"] = time.perf_counter() - start
    summaries = {}
    for method in args.methods.split(","):
        t = time.perf_counter()
        cfg, refine_cfg = (
            AdaptConfig(method=method, loss=args.loss, epochs=args.epochs, seed=args.seed),
            RefineConfig(method=method, passes=args.passes, seed=args.seed),
        )
        job = Job(args.out / method, device=args.device)
        _, summary = adapt_target(checkpoint, str(args.source), str(args.target), cfg, refine_cfg, job, resume=True)
        stages[method] = time.perf_counter() - t
        summaries.setdefault("source-only", summary["source-only"])
        summaries[method] = summary["adapted"]
    print(
        f"{args.source.name} -> {args.target.name}, {args.size} px, scored on the target's test split (all without one)"
    )
    print(f"{'run':<14}{'Dice disc':>11}{'Dice cup':>10}{'ASSD disc':>11}{'ASSD cup':>10}{'vCDR err':>10}")
    for name, summary in summaries.items():
        m = {s: summary[s]["metrics"] for s in ("disc", "cup")}
        nan = {"mean": float("nan")}
        print(
            f"{name:<14}{m['disc']['dice']['mean']:>11.4f}{m['cup']['dice']['mean']:>10.4f}"
            f"{m['disc'].get('assd', nan)['mean']:>11.2f}{m['cup'].get('assd', nan)['mean']:>10.2f}"
            f"{m['cup'].get('vcdr_err', nan)['mean']:>10.4f}"
        )
    print(
        "seconds per stage: "
        + ", ".join(f"{k} {v:.0f}" for k, v in stages.items())
        + f"; total {time.perf_counter() - start:.0f}"
    )


if __name__ == "__main__":
    main()
