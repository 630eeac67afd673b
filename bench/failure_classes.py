"""The kinds of blind-mask failure the lesion candidates are built against, told apart with the ground truth.

    python bench/failure_classes.py DATASET REFERENCE RUN [--below 0.8] [--overlays DIR]

Every image the REFERENCE run fails (Dice < ``--below``) falls in one class, the first that fits:

- ``frame-filling``: the lesion covers half the image or more, or reaches two sides of it (the outer 2 %);
- ``two-tone``: the reference's mask lies inside the lesion (90 % of it or more) but covers less than 70 % of
  it: a dark core chosen, the paler rest left out;
- ``hair``: hairs (:func:`medsegkit.lesion.hair.hair_mask`) cover 1 % or more of the lesion's bounding box;
- ``faint or other``: the rest (the mask misses a faint lesion, or leaks).

Prints per class the number of images, the reference's and the RUN's Dice, and the oracle over each run's kept
candidates (``candidates/``: the most a reviewer's pick could give). With ``--overlays DIR``, one picture per
class (its first image): the image, the ground truth (blue) with the reference's mask (red), and with the run's
best kept candidate (green). The classes use the ground truth: a bench's tool, never the pipeline's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from medsegkit.data.dataset import Dataset
from medsegkit.data.imageio import read_labels
from medsegkit.engine.candidates import read_candidates
from medsegkit.imaging import overlay, resize_nearest, resize_square
from medsegkit.metrics import dice

CLASSES = ("frame-filling", "two-tone", "hair", "faint or other")


def classify(image: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> str:
    """The failure class of ``mask`` against ``gt`` (both ``(H, W)`` bool) on ``image`` (module docstring)."""
    h, w = gt.shape
    band = max(1, round(0.02 * min(h, w)))
    sides = sum(bool(s.any()) for s in (gt[:band], gt[-band:], gt[:, :band], gt[:, -band:]))
    if gt.mean() >= 0.5 or sides >= 2:
        return "frame-filling"
    inside = (mask & gt).sum() / max(mask.sum(), 1)
    if inside >= 0.9 and (mask & gt).sum() / max(gt.sum(), 1) < 0.7:
        return "two-tone"
    try:
        from medsegkit.lesion.hair import hair_mask
    except ImportError:
        hair_mask = None
    if hair_mask is not None:
        rows, cols = np.nonzero(gt)
        box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        small = resize_square(image, 256)
        hairs = resize_nearest(hair_mask(small).astype(np.uint8), gt.shape) > 0
        if hairs[box].mean() >= 0.01:
            return "hair"
    return "faint or other"


def oracle(run: Path, case: str, gt: np.ndarray) -> tuple[float, np.ndarray]:
    """The best Dice among the run's kept candidates of ``case``, and that candidate (at ``gt``'s size)."""
    record = json.loads((run / "cases" / f"{case}.json").read_text())
    masks = read_candidates(run, case, len(record.get("candidates", [])))
    masks = [resize_nearest(m.astype(np.uint8), gt.shape) > 0 for m in masks]
    masks = masks or [read_labels(run / "masks" / f"{case}.png") > 0]
    found = [dice(m, gt) for m in masks]
    return max(found), masks[int(np.argmax(found))]


def picture(image: np.ndarray, gt: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    side = 320
    small = resize_square(image, side)
    g, b, a = (resize_nearest(m.astype(np.uint8), (side, side)) > 0 for m in (gt, before, after))
    return np.concatenate([small, overlay(overlay(small, g, (0, 0, 255)), b, (255, 0, 0)),
                           overlay(overlay(small, g, (0, 0, 255)), a, (0, 255, 0))], axis=1)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("reference", type=Path)
    parser.add_argument("run", type=Path)
    parser.add_argument("--below", type=float, default=0.8)
    parser.add_argument("--overlays", type=Path, default=None)
    args = parser.parse_args()
    ds = Dataset.open(args.dataset)
    rows: dict[str, list[tuple]] = {c: [] for c in CLASSES}
    for case in ds.case_ids():
        gt = ds.mask(case) > 0
        before = read_labels(args.reference / "masks" / f"{case}.png") > 0
        if dice(before, gt) >= args.below:
            continue
        image = ds.image(case)
        after = read_labels(args.run / "masks" / f"{case}.png") > 0
        kind = classify(image, gt, before)
        (was, _), (best, picked) = oracle(args.reference, case, gt), oracle(args.run, case, gt)
        rows[kind].append((case, dice(before, gt), dice(after, gt), was, best, image, gt, before, picked))
    print(f"{ds.name}: failures of {args.reference} (Dice < {args.below}); after: {args.run}")
    print(f"{'class':<16}{'images':>7}{'before':>9}{'after':>9}{'oracle before':>15}{'oracle after':>14}")
    for kind, found in rows.items():
        if not found:
            print(f"{kind:<16}{0:>7}")
            continue
        means = [np.mean([f[i] for f in found]) for i in (1, 2, 3, 4)]
        print(
            f"{kind:<16}{len(found):>7}"
            + "".join(f"{m:>9.3f}" for m in means[:2])
            + f"{means[2]:>15.3f}{means[3]:>14.3f}"
        )
        print("  " + ", ".join(f"{f[0]} {f[1]:.2f}->{f[2]:.2f}" for f in found))
        if args.overlays is not None:
            args.overlays.mkdir(parents=True, exist_ok=True)
            first = found[0]
            target = args.overlays / f"{ds.name}-{kind.replace(' ', '-')}.png"
            Image.fromarray(picture(*first[5:])).save(target)
            print(f"  picture of {first[0]}: {target}")


if __name__ == "__main__":
    main()
