"""How far choosing among candidate masks could go: the ground-truth oracle over a run's candidates.

    python bench/ceiling.py RUN DATASET [--size 256] [--limit N] [--worst K]

RUN is a `cluster` run folder (cluster maps in clusters/, case records in cases/), DATASET the prepared
dataset with its ground truth. Per image the blind pipeline's candidates are rebuilt from the saved map
at the working size: every lesion-like union of the darker clusters (selection.candidates, finite
score), colour-refined, of the run's map and of k-means with three colour clusters (the second
opinion, seeded as the run seeded it) -- the pool `cluster` chooses from. Wider pools add k-means with
two clusters, the unions of the paler clusters, and k-means with three clusters of the image after local
contrast equalisation (OpenCV's CLAHE on CIELAB's L, clip limit 2 over 8x8 tiles; its unions selected and
refined on the equalised image, as if it were the input). The run's kept candidates (``candidates/``: the
blind choice's distinct masks and those grown from it, what ``review`` offers) are a pool of their own, and the
last line joins them to the widest pool. Prints, per pool, the mean and the share below 0.5 of the best
candidate's Dice at the ground truth's resolution, beside the run's own blind masks; with ``--worst K`` also the K
images the whole pool reaches least. The oracle uses the ground truth, so it is a bound, not a result.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from medsegkit.data.dataset import Dataset
from medsegkit.data.imageio import read_labels, read_rgb
from medsegkit.engine.candidates import read_candidates
from medsegkit.imaging import resize_nearest, resize_square
from medsegkit.lesion.blind.colour_refine import refine_mask
from medsegkit.lesion.blind.fov import field_of_view
from medsegkit.lesion.blind.selection import candidates, grey_level, score
from medsegkit.lesion.clustering.kmeans import KMeansClusterer
from medsegkit.lesion.config import ColourRefineConfig, KMeansConfig
from medsegkit.metrics import dice

POOLS = {  # name: (clusterings, paler unions too); each wider than the one before
    "run map + k-means-3 (cluster's pool)": (("run", "kmeans3"), False),
    "+ k-means-2": (("run", "kmeans3", "kmeans2"), False),
    "+ paler unions": (("run", "kmeans3", "kmeans2"), True),
    "+ contrast-equalised k-means-3": (("run", "kmeans3", "kmeans2", "clahe3"), True),
}


def equalised(work: np.ndarray) -> np.ndarray:
    """``work`` ``(H, W, 3)`` uint8 RGB with its CIELAB lightness equalised locally (CLAHE, clip limit 2, 8x8 tiles)."""
    try:
        import cv2
    except ImportError as exc:
        raise SystemExit("bench/ceiling.py needs OpenCV (the equalised pool): pip install 'medsegkit[hair]'") from exc
    lab = cv2.cvtColor(np.ascontiguousarray(work), cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def candidate_dice(work: np.ndarray, clusters: np.ndarray, gt: np.ndarray, paler: bool) -> list[float]:
    """The Dice against ``gt`` (at its resolution) of every refined lesion-like union of ``clusters``."""
    fov = field_of_view(work)
    grey = grey_level(work, paler)
    found = []
    for union in candidates(work, clusters, fov=fov, paler=paler):
        if score(union, grey, fov=fov) == float("-inf"):
            continue
        mask = refine_mask(work, union, ColourRefineConfig(), fov=fov)
        found.append(dice(resize_nearest(mask.astype(np.uint8), gt.shape) > 0, gt))
    return found


def run_cases(run: Path, limit: int | None = None) -> list[dict]:
    """The case records of a `cluster` run folder, in case order, the first ``limit``."""
    return [json.loads(p.read_text()) for p in sorted((run / "cases").glob("*.json"))][:limit]


def working(run: Path, record: dict, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A case's working image ``(size, size, 3)`` and the run's cluster map at that size (nearest)."""
    work = resize_square(read_rgb(Path(record["image"])), size)
    return work, resize_nearest(read_labels(run / "clusters" / f"{record['case']}.png"), work.shape[:2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--limit", type=int, default=None, help="only the first N cases")
    parser.add_argument("--worst", type=int, default=0, help="list the K images the whole pool reaches least")
    args = parser.parse_args()
    ds = Dataset.open(args.dataset)
    records = run_cases(args.run, args.limit)
    best = {name: [] for name in POOLS}
    widest = list(POOLS)[-1]
    own, kept, every = [], [], []
    for record in records:
        case_id = record["case"]
        gt = ds.mask(case_id) > 0
        work, run_map = working(args.run, record, args.size)
        flat = equalised(work)
        maps = {  # name: (the image its unions are selected and refined on, the cluster map)
            "run": (work, run_map),
            "kmeans3": (work, KMeansClusterer(KMeansConfig(num_clusters=3)).segment(work, record["seed"]).clusters),
            "kmeans2": (work, KMeansClusterer(KMeansConfig(num_clusters=2)).segment(work, record["seed"]).clusters),
            "clahe3": (flat, KMeansClusterer(KMeansConfig(num_clusters=3)).segment(flat, record["seed"]).clusters),
        }
        scores = {(m, p): candidate_dice(*maps[m], gt, p) for m in maps for p in (False, True)}
        for name, (clusterings, paler) in POOLS.items():
            pool = [d for m in clusterings for p in ((False, True) if paler else (False,)) for d in scores[m, p]]
            best[name].append(max(pool, default=0.0))
        own.append(dice(resize_nearest(read_labels(args.run / "masks" / f"{case_id}.png"), gt.shape) > 0, gt))
        offered = read_candidates(args.run, case_id, len(record.get("candidates", [])))
        kept.append(max((dice(resize_nearest(m.astype(np.uint8), gt.shape) > 0, gt) for m in offered), default=own[-1]))
        every.append(max(kept[-1], best[widest][-1]))
    print(f"{args.run}: {len(records)} cases, working size {args.size}")
    print(f"{'masks':<46}{'Dice':>8}{'<0.5':>8}")
    pools = {f"oracle: {k}": v for k, v in best.items()} | {"oracle: all of the above and the kept": every}
    for name, values in {"the run's blind masks": own, "oracle: its kept candidates (review)": kept, **pools}.items():
        values = np.array(values)
        print(f"{name:<46}{values.mean():>8.3f}{100 * (values < 0.5).mean():>7.1f}%")
    for i in np.argsort(every, kind="stable")[: args.worst]:
        print(f"  {records[i]['case']}: whole pool {every[i]:.3f}, kept {kept[i]:.3f}, blind {own[i]:.3f}")


if __name__ == "__main__":
    main()
