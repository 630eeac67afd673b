"""Speed and quality of the clustering methods on a prepared lesion dataset.

    python bench/cluster.py DATASET [--methods s3,kmeans] [--size 256] [--limit N] [--out DIR] [--set key=value]
                            [--no-refine-mask]

DATASET is a prepared dataset folder (e.g. from `medsegkit prepare ph2 ../shared/data/ph2-dev/PH2Dataset
--out /tmp/ph2`). For each method prints the median seconds per image, mean iterations, and mean
Dice / HM / XOR with the honest selections: best-overlap (the cluster with most ground-truth
pixels; no masking) and blind (the method's own choice), and the mean of an oracle ceiling: the
best Dice any union of one image's clusters reaches (chosen with the ground truth, so not a result,
only a bound on what selecting whole clusters can give). Runs are resumable: rerunning with the
same --out reuses finished images.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from medsegkit.config import parse_pairs
from medsegkit.data.dataset import Dataset
from medsegkit.data.predictions import PredictionFolder
from medsegkit.evaluation import EvalSettings, evaluate_run, per_case_frame
from medsegkit.imaging import resize_nearest
from medsegkit.lesion.clusterer import make_clusterer
from medsegkit.lesion.config import ClusterRunConfig
from medsegkit.lesion.runner import collect_images, run_cluster


def best_union_dice(clusters: np.ndarray, gt: np.ndarray) -> float:
    """The highest Dice of a union of clusters against ``gt``: the best union is a prefix of the
    clusters sorted by precision (share of their pixels inside ``gt``), so n prefixes suffice."""
    values, inverse = np.unique(clusters, return_inverse=True)
    sizes = np.bincount(inverse.ravel(), minlength=values.size)
    inside = np.bincount(inverse.ravel(), weights=gt.ravel().astype(float), minlength=values.size)
    order = np.argsort(-inside / sizes)
    dice = 2 * np.cumsum(inside[order]) / (np.cumsum(sizes[order]) + gt.sum())
    return float(dice.max())


def union_ceiling(run: Path, ds: Dataset) -> float:
    folder = PredictionFolder.open(run)
    scores = []
    for case_id in sorted(folder.case_ids("clusters")):
        gt = ds.mask(case_id) > 0
        clusters = folder.read(case_id, "clusters")
        scores.append(
            best_union_dice(resize_nearest(clusters, gt.shape) if clusters.shape != gt.shape else clusters, gt)
        )
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--methods", default="s3,kmeans")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--limit", type=int, default=None, help="only the first N cases (for a quick look)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--set", action="append", default=[], help="method option key=value (all methods)")
    parser.add_argument("--no-refine-mask", action="store_true", help="blind masks without the colour-model refinement")
    args = parser.parse_args()

    ds = Dataset.open(args.dataset)
    root = args.out or Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    source = args.dataset
    if args.limit:
        _, items = collect_images(args.dataset)
        source = root / "subset"
        (source / "images").mkdir(parents=True, exist_ok=True)
        for _, path in items[: args.limit]:
            link = source / "images" / path.name
            if not link.exists():
                link.symlink_to(path.resolve())
    print(f"{ds.name}: {len(ds.case_ids())} cases, working size {args.size}, outputs in {root}")
    header = (
        f"{'method':<10}{'s/img (median)':>16}{'iters':>8}{'Dice bo':>9}{'HM bo':>8}{'XOR bo':>8}"
        f"{'Dice blind':>12}{'HM blind':>10}{'XOR blind':>11}{'union*':>8}"
    )
    rows = []
    run = ClusterRunConfig(size=args.size, seed=0, refine_mask=not args.no_refine_mask)
    options = parse_pairs(args.set)
    for name in args.methods.split(","):
        method = make_clusterer(name, None, options if name != "kmeans" else {})
        out = root / name
        manifest = run_cluster(source, out, name, method, run)
        scores = {}
        for select in ("best-overlap", "blind"):
            settings = EvalSettings(split="all", select=select)
            result = evaluate_run(out, ds, settings)
            frame = per_case_frame([result], settings)
            scores[select] = frame[["dice", "hm", "xor"]].mean()
        iters = np.mean([c["iterations"] for c in manifest["cases"]])
        rows.append(
            f"{name:<10}{manifest['median_seconds']:>16.2f}{iters:>8.1f}"
            f"{scores['best-overlap']['dice']:>9.3f}{scores['best-overlap']['hm']:>8.3f}{scores['best-overlap']['xor']:>8.3f}"
            f"{scores['blind']['dice']:>12.3f}{scores['blind']['hm']:>10.3f}{scores['blind']['xor']:>11.3f}"
            f"{union_ceiling(out, ds):>8.3f}"
        )
        print(rows[-1], flush=True)
    print()
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
