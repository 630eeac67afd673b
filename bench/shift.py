"""How a fundus checkpoint holds under synthetic acquisition shifts of one labelled dataset.

    python bench/shift.py CHECKPOINT [CHECKPOINT ...] --dataset PREPARED_FUNDUS [--split all] [--out DIR]

Writes shifted copies of the dataset with the ``shifted`` reader (what ``medsegkit prepare shifted``
does): the disc filling more of the crop (zoom 1.35), less (zoom 0.8), a darker, flatter camera, and
zoom plus darkening together; predicts each with every checkpoint (the function behind ``medsegkit
predict``, threshold 0.75 as ``adapt`` scores) and prints mean disc and cup Dice per shift and checkpoint.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from medsegkit.data.dataset import Dataset
from medsegkit.data.prepare import prepare
from medsegkit.evaluation import EvalSettings, evaluate_runs
from medsegkit.predict import predict
from medsegkit.runtime.job import Job

DARK = {"brightness": 0.6, "contrast": 0.8, "gamma": 1.3}
SHIFTS: dict[str, dict[str, float]] = {
    "none": {},
    "zoom 1.35": {"zoom": 1.35},
    "zoom 0.8": {"zoom": 0.8},
    "dark": DARK,
    "zoom 1.35 + dark": {"zoom": 1.35, **DARK},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--split", default="all", help="split to score (all, test, ...)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-shift"))
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    rows = []
    for shift, options in SHIFTS.items():
        target = args.dataset
        if options:
            target = args.out / "data" / shift.replace(" ", "").replace("+", "-")
            if not (target / "dataset.json").is_file():
                prepare("shifted", args.dataset, target, args.out, dict(options))
        ds = Dataset.open(target)
        ids = set(ds.case_ids(args.split))
        for checkpoint in args.checkpoints:
            start = time.perf_counter()
            name = f"{checkpoint.parent.name}-{target.name}"
            run, _ = predict(checkpoint, str(target), Job(args.out / "predict" / name, device=args.device))
            settings = EvalSettings(split=args.split)
            _, summary, _ = evaluate_runs([run], ds, settings, args.out / "evaluation" / name, labels=["run"])
            m = summary["run"]
            rows.append(
                (shift, str(checkpoint), m["disc"]["metrics"]["dice"]["mean"], m["cup"]["metrics"]["dice"]["mean"])
            )
            print(f"{shift}: {checkpoint} ({len(ids)} images, {time.perf_counter() - start:.0f} s)", flush=True)
    print(f"\n{args.dataset.name}, split {args.split}: mean Dice of source-only predictions (threshold 0.75)")
    print(f"{'shift':<18}{'checkpoint':<48}{'disc':>8}{'cup':>8}")
    for shift, checkpoint, disc, cup in rows:
        print(f"{shift:<18}{checkpoint[-47:]:<48}{disc:>8.4f}{cup:>8.4f}")


if __name__ == "__main__":
    main()
