"""The blind choice replayed over a cluster run's saved maps, for several weights of the agreement.

    python bench/choice.py RUN DATASET [--weights 0,0.5,1,1.5,2] [--size 256] [--limit N]

RUN is a `cluster` run folder (cluster maps in clusters/, case records in cases/), DATASET the prepared dataset
with its ground truth. Per image the working image, the run's cluster map at the working size (nearest) and the
second opinion (k-means with three colour clusters, seeded as the run seeded it) give both maps' refined
lesion-like masks once (`per_image.both_maps`); then for each weight `per_image.choose` takes one (score plus
weight times agreement; 0 is the selection score alone), and that mask is scored against the ground truth at its
resolution. Prints the mean Dice and the share below 0.5 per weight, and how many images each weight changes
against the score alone. The ground truth only scores the choices; it never makes one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from medsegkit.data.dataset import Dataset
from medsegkit.imaging import resize_nearest
from medsegkit.lesion.blind.fov import field_of_view
from medsegkit.lesion.blind.per_image import SECOND_OPINION, both_maps, choose
from medsegkit.lesion.clustering.kmeans import KMeansClusterer
from medsegkit.lesion.config import ColourRefineConfig
from medsegkit.metrics import dice

sys.path.insert(0, str(Path(__file__).parent))
from ceiling import run_cases, working  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--weights", default="0,0.5,1,1.5,2", help="agreement weights, comma-separated")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--limit", type=int, default=None, help="only the first N cases")
    args = parser.parse_args()
    weights = [float(w) for w in args.weights.split(",")]
    ds = Dataset.open(args.dataset)
    records = run_cases(args.run, args.limit)
    found: dict[float, list[float]] = {w: [] for w in weights}
    for record in records:
        case_id = record["case"]
        gt = ds.mask(case_id) > 0
        work, clusters = working(args.run, record, args.size)
        second = KMeansClusterer(SECOND_OPINION).segment(work, record["seed"]).clusters
        selections, _, _ = both_maps(work, (clusters, second), field_of_view(work), ColourRefineConfig())
        for weight in weights:
            which, index = choose(selections, combine=True, weight=weight)
            mask = selections[which].scored[index][1] if index >= 0 else np.zeros(work.shape[:2], bool)
            found[weight].append(dice(resize_nearest(mask.astype(np.uint8), gt.shape) > 0, gt))
    print(f"{args.run}: {len(records)} cases, working size {args.size}")
    print(f"{'agreement weight':<18}{'Dice':>8}{'<0.5':>8}{'changed':>9}")
    alone = np.array(found.get(0.0, found[weights[0]]))
    for weight, values in found.items():
        values = np.array(values)
        changed = int((np.abs(values - alone) > 0.005).sum())
        print(f"{weight:<18g}{values.mean():>8.3f}{100 * (values < 0.5).mean():>7.1f}%{changed:>9}")


if __name__ == "__main__":
    main()
