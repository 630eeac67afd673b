"""The whole source-free adaptation chain on real fundus domains, over seeds, timed per stage.

    python bench/cpr.py --from SOURCE_DATASET --to TARGET_DATASET[,TARGET ...] [--seeds 0,1,2] [--size 256]
                        [--source-epochs 30] [--epochs 10] [--passes 10] [--methods dpl,cpr,cpr-cbam]
                        [--encoder efficientnet-lite0] [--encoder-weights imagenet] [--loss L] [--ema M]
                        [--patience P]
                        [--out DIR]

Every dataset is a prepared fundus dataset (path). Per seed the source model is trained once with the library
function behind ``pretrain-source`` (or ``<out>/seed<N>/source/best.pt`` is reused), then for every target and
method the function behind ``adapt`` runs (refine, adapt, score, and the label-free check that picks the model
``adapt`` outputs). Printed per target: disc and cup Dice of source-only, of each method's adapted model and of
the model ``adapt`` outputs after its check, as mean ± sd over the seeds, and the paired difference to
source-only (mean ± sd); then, over every target, method and seed, how often the check's verdict (adaptation
helped) agrees with the ground truth's, under two readings of "helped": the adapted model's mean of disc and cup
Dice above source-only's; and that, with neither structure below source-only's by more than ``HARM`` (the issue's
bound on harm); and the worst loss of the output model against source-only on either structure.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from medsegkit.fundus.config import AdaptConfig, RefineConfig, SourceConfig
from medsegkit.fundus.pipeline import adapt_target
from medsegkit.fundus.source import pretrain
from medsegkit.runtime.job import Job

STRUCTURES = ("disc", "cup")
HARM = 0.005  # the Dice an output model may lose on a structure: the adaptation issue's target


def dice(summary: dict, run: str) -> dict[str, float]:
    return {s: summary[run][s]["metrics"]["dice"]["mean"] for s in STRUCTURES}


def spread(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1) if len(values) > 1 else 0.0:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, required=True)
    parser.add_argument("--to", dest="targets", required=True, help="one or more prepared targets, comma-separated")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--source-epochs", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--methods", default="dpl,cpr,cpr-cbam")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-cpr"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--encoder", default=SourceConfig.encoder, help="e.g. efficientnet-lite0")
    parser.add_argument("--encoder-weights", default=None, help="none, imagenet or a state-dict file")
    parser.add_argument("--loss", default=None, help="adaptation loss from the registry (default: the method's)")
    parser.add_argument("--ema", type=float, default=0.0, help="mean-teacher momentum of adapt (0: none)")
    parser.add_argument("--patience", type=int, default=0, help="adapt's early stopping by the check (0: none)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    targets = [Path(t) for t in args.targets.split(",")]
    methods = args.methods.split(",")

    start, stages = time.perf_counter(), {}
    rows: dict[tuple[str, str], list[dict[str, float]]] = {}  # (target, run) -> per seed
    verdicts = []  # (check says helped, ground truth says helped, output's worst loss)
    for seed in seeds:
        checkpoint = args.out / f"seed{seed}" / "source" / "best.pt"
        t = time.perf_counter()
        if not checkpoint.is_file():
            cfg = SourceConfig(
                size=args.size,
                epochs=args.source_epochs,
                encoder=args.encoder,
                encoder_weights=args.encoder_weights,
                seed=seed,
            )
            again = (checkpoint.parent / "last.pt").is_file()  # an interrupted source training goes on
            pretrain(str(args.source), cfg, Job(checkpoint.parent, device=args.device), resume=again)
        stages.setdefault("pretrain-source", []).append(time.perf_counter() - t)
        for target in targets:
            for method in methods:
                t = time.perf_counter()
                cfg = AdaptConfig(
                    method=method, loss=args.loss, epochs=args.epochs, seed=seed, ema=args.ema, patience=args.patience
                )
                refine_cfg = RefineConfig(method=method, passes=args.passes, seed=seed)
                job = Job(args.out / f"seed{seed}" / target.name / method, device=args.device)
                again = (job.out / "last.pt").is_file() or (job.out / "refine" / "manifest.json").is_file()
                _, summary = adapt_target(checkpoint, str(args.source), str(target), cfg, refine_cfg, job, resume=again)
                stages.setdefault(method, []).append(time.perf_counter() - t)
                check = summary["check"]
                source, adapted = dice(summary, "source-only"), dice(summary, "adapted")
                output = adapted if check["output"] == "adapted" else source
                if method == methods[0]:
                    rows.setdefault((target.name, "source-only"), []).append(source)
                rows.setdefault((target.name, method), []).append(adapted)
                rows.setdefault((target.name, f"{method} output"), []).append(output)
                gained = np.mean(list(adapted.values())) > np.mean(list(source.values()))
                unharmed = gained and all(adapted[s] >= source[s] - HARM for s in STRUCTURES)
                loss = max(source[s] - output[s] for s in STRUCTURES)
                verdicts.append((check["helped"], gained, unharmed, loss))
                print(
                    f"seed {seed} {target.name} {method}: source {source['disc']:.3f}/{source['cup']:.3f}, adapted "
                    f"{adapted['disc']:.3f}/{adapted['cup']:.3f}; check: {check['reason']} -> {check['output']}"
                    + (
                        f"; best epoch {check['epochs']['best']} of {check['epochs']['trained']}"
                        if args.patience
                        else ""
                    ),
                    flush=True,
                )
    print(f"\n{args.source.name} -> targets, {args.size} px, seeds {seeds}; disc / cup Dice, mean ± sd over seeds")
    for target in targets:
        print(f"{target.name}:")
        base = rows[(target.name, "source-only")]
        for (name, run), found in rows.items():
            if name != target.name:
                continue
            cells = "  ".join(f"{s} {spread([f[s] for f in found])}" for s in STRUCTURES)
            paired = (
                ""
                if run == "source-only"
                else "  vs source-only: "
                + "  ".join(
                    f"{s} {spread([f[s] - b[s] for f, b in zip(found, base, strict=True)])}" for s in STRUCTURES
                )
            )
            print(f"  {run:<18}{cells}{paired}")
    agree = np.mean([check == gained for check, gained, _, _ in verdicts])
    strict = np.mean([check == unharmed for check, _, unharmed, _ in verdicts])
    worst = max(loss for *_, loss in verdicts)
    print(
        f"check's verdict agrees with the ground truth's in {100 * agree:.0f} % of {len(verdicts)} runs "
        f"(helped: mean Dice up), {100 * strict:.0f} % (helped: mean Dice up, no structure down by > {HARM})"
    )
    print(f"worst loss of the output model against source-only on either structure: {worst:+.3f}")
    print(
        "seconds per stage (mean over seeds): "
        + ", ".join(f"{k} {np.mean(v):.0f}" for k, v in stages.items())
        + f"; total {time.perf_counter() - start:.0f}"
    )


if __name__ == "__main__":
    main()
