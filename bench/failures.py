"""Where runs differ: their Dice on the images a reference run fails, and on the rest.

    python bench/failures.py DATASET REFERENCE RUN [RUN ...] [--below 0.8]

REFERENCE and every RUN are output folders holding ``masks/<case>.png`` (``cluster``, ``self-train``,
``predict``). The images are split by the reference's own Dice against the ground truth of the prepared
lesion DATASET: below ``--below`` (its failures) and the rest. Printed per group: the number of images and
the mean Dice of the reference and of every run on the images they all have (a run that lacks some,
``predict`` on half a folder, limits every column to the images it has), and in the row below (``best of
both``) the mean of the per-image better of the reference's and each run's Dice: the most a choice
between the two masks could give, chosen with the ground truth (a ceiling, not a result).

Used to ask whether a self-trained network mends its teacher's failures or copies them, and whether a
network that never saw a failure's mask does better on it (docs/self-training.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from medsegkit.data.dataset import Dataset
from medsegkit.data.imageio import read_labels
from medsegkit.metrics import dice


def scores(run: Path, truth: dict[str, np.ndarray]) -> dict[str, float]:
    """Dice against ``truth`` (case: ground-truth mask) of every case that ``run`` has a mask of."""
    found = {p.stem: p for p in (run / "masks").glob("*.png")}
    return {c: dice(read_labels(found[c]) > 0, gt) for c, gt in truth.items() if c in found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="a prepared lesion dataset")
    parser.add_argument("reference", type=Path, help="the run whose failures define the groups")
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--below", type=float, default=0.8, help="a failure: the reference's Dice below this")
    args = parser.parse_args()
    ds = Dataset.open(args.dataset)
    truth = {c: ds.mask(c) > 0 for c in ds.case_ids()}  # read once, for every run
    reference = scores(args.reference, truth)
    if not reference:
        parser.error(f"{args.reference}: no masks/<case>.png of {args.dataset}'s cases")
    runs = [scores(r, truth) for r in args.runs]
    print(f"{args.dataset.name}: {len(reference)} images; groups by {args.reference}'s Dice (< {args.below})")
    for i, r in enumerate(args.runs, 1):
        print(f"  run {i}: {r}")
    print("group          images  reference" + "".join(f"  run {i:<3d}" for i in range(1, len(runs) + 1)))
    shared = [c for c in reference if all(c in r for r in runs)]
    for name, cases in (
        ("failures", [c for c in shared if reference[c] < args.below]),
        ("rest", [c for c in shared if reference[c] >= args.below]),
        ("all", shared),
    ):
        if not cases:
            print(f"{name:<14} {0:>6}")
            continue
        cells = [np.mean([reference[c] for c in cases])] + [np.mean([r[c] for c in cases]) for r in runs]
        print(f"{name:<14} {len(cases):>6}  " + "".join(f"{v:>9.3f}" for v in cells))
        best = [np.mean([max(reference[c], r[c]) for c in cases]) for r in runs]
        print(f"{'  best of both':<25}" + "".join(f"{v:>9.3f}" for v in best))


if __name__ == "__main__":
    main()
