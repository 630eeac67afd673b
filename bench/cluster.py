"""Speed and quality of the clustering methods on a prepared lesion dataset.

    python bench/cluster.py DATASET [--methods s3,kmeans] [--size 256] [--limit N] [--out DIR] [--set key=value]
                            [--no-refine-mask] [--refine key=value] [--no-combine] [--batch B]

Per method: median seconds per image (clustering, selection, refinement) and wall seconds (reading and
writing included), iterations, the blind masks' Dice mean and median, the shares of images below 0.5
and 0.8, HM, XOR and HD95, the best-overlap Dice, the union* ceiling, and how well each image's
confidence ranks the failures (AUROC for Dice < 0.8).

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
from medsegkit.data.images import collect_images
from medsegkit.data.predictions import PredictionFolder
from medsegkit.errors import UsageError
from medsegkit.evaluation import EvalSettings, evaluate_run, per_case_frame
from medsegkit.imaging import resize_nearest
from medsegkit.lesion.cluster import colour_refine_config, make_clusterer, run_cluster
from medsegkit.lesion.config import ClusterRunConfig


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
    parser.add_argument(
        "--refine", action="append", default=[], help="colour refinement option key=value (e.g. skin_quantile=0.95)"
    )
    parser.add_argument("--no-combine", action="store_true", help="the clusterer's mask, never the second opinion's")
    parser.add_argument("--batch", type=int, default=1, help="images per clustering step, as `cluster --batch`")
    args = parser.parse_args()
    run = ClusterRunConfig(
        size=args.size, seed=0, refine_mask=not args.no_refine_mask, combine=not args.no_combine, batch=args.batch
    )
    options = parse_pairs(args.set)
    try:  # before anything is written
        refine = colour_refine_config(run, None, parse_pairs(args.refine))
    except UsageError as exc:
        parser.error(str(exc))

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
    rows = []
    for name in args.methods.split(","):
        method = make_clusterer(name, None, options if name != "kmeans" else {})
        out = root / name
        manifest = run_cluster(source, out, name, method, run, refine_config=refine)
        rows.append(summarise_run(name, out, ds, manifest))
        print(format_row(rows[-1]), flush=True)
    print()
    print(HEADER)
    print("\n".join(format_row(r) for r in rows))
    print("s/img: clustering, selection and refinement; wall: the whole image, reading and writing included.")
    print("AUROC: how well the confidence ranks the images with blind Dice < 0.8 below the others.")


HEADER = (
    f"{'method':<10}{'s/img':>7}{'wall':>7}{'iters':>7}{'Dice':>8}{'median':>8}{'<0.5':>7}{'<0.8':>7}"
    f"{'HM':>7}{'XOR':>7}{'HD95':>8}{'best-ov':>9}{'union*':>8}{'AUROC':>7}"
)


def summarise_run(name: str, out: Path, ds: Dataset, manifest: dict) -> dict:
    """The blind-mask statistics of one run, its best-overlap Dice, union* ceiling and confidence AUROC."""
    frames = {}
    for select in ("best-overlap", "blind"):
        settings = EvalSettings(split="all", select=select)
        frames[select] = per_case_frame([evaluate_run(out, ds, settings)], settings).set_index("case")
    blind = frames["blind"]
    cases = {c["case"]: c for c in manifest["cases"]}
    confidence = [cases[c].get("confidence") for c in blind.index]
    auroc = float("nan")
    if all(v is not None for v in confidence):
        auroc = failure_auroc(np.array(confidence, float), blind["dice"].to_numpy() < 0.8)
    return {
        "name": name,
        "seconds": manifest["median_seconds"],
        "wall": float(np.median([c.get("wall_seconds", np.nan) for c in manifest["cases"]])),
        "iters": float(np.mean([c["iterations"] for c in manifest["cases"]])),
        "dice": blind["dice"].mean(),
        "median": blind["dice"].median(),
        "below_05": float((blind["dice"] < 0.5).mean()),
        "below_08": float((blind["dice"] < 0.8).mean()),
        "hm": blind["hm"].mean(),
        "xor": blind["xor"].mean(),
        "hd95": blind["hd95"].mean(),
        "best_overlap": frames["best-overlap"]["dice"].mean(),
        "union": union_ceiling(out, ds),
        "auroc": auroc,
    }


def failure_auroc(confidence: np.ndarray, failed: np.ndarray) -> float:
    """P(confidence of a failure < confidence of a success), ties counting half; NaN without both kinds."""
    bad, good = confidence[failed], confidence[~failed]
    if not bad.size or not good.size:
        return float("nan")
    return float(((bad[:, None] < good[None, :]) + 0.5 * (bad[:, None] == good[None, :])).mean())


def format_row(r: dict) -> str:
    return (
        f"{r['name']:<10}{r['seconds']:>7.2f}{r['wall']:>7.2f}{r['iters']:>7.1f}{r['dice']:>8.3f}{r['median']:>8.3f}"
        f"{100 * r['below_05']:>6.1f}%{100 * r['below_08']:>6.1f}%{r['hm']:>7.3f}{r['xor']:>7.3f}{r['hd95']:>8.1f}"
        f"{r['best_overlap']:>9.3f}{r['union']:>8.3f}{r['auroc']:>7.3f}"
    )


if __name__ == "__main__":
    main()
