"""A simulated reviewer on a cluster run: what mending the flagged few gives, before and after self-training.

    python bench/review.py DATASET RUN [--budget 0.05,0.1,0.2] [--mode grid,list] [--self-train] [--out DIR]

Per budget (a share of the folder's images) and mode, on a copy of RUN, the reviewer takes images in
``review.csv`` order (least confident first) through the library behind ``medsegkit review``:

- ``grid`` opens only the images whose mask is visibly wrong (Dice < 0.8 to the ground truth), as a person
  scanning the contact sheet would; ``list`` opens the first images of ``review.csv`` whatever their Dice (this
  measures the confidence ranking);
- on an opened image it picks the candidate with the highest Dice to the ground truth; when none reaches 0.8 it
  clicks the lesion's interior (the ground truth's deepest pixel), plainly and with shift (grown), and keeps the
  best of the three; when none reaches 0.5 it excludes the image.

Prints per budget and mode the folder's Dice mean and share below 0.5 after review, the candidate ceiling (the
oracle over every image's kept candidates, and with a click on every image), how many images were opened,
picked, clicked and excluded, and the seconds a decision took to save. With ``--self-train`` it then trains
``self-train`` (defaults) on each reviewed copy and prints the Dice of its masks, over all images and over those
nobody reviewed, beside their blind masks. With one budget and mode, ``--out DIR`` keeps the reviewed copy there.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from medsegkit.data.dataset import Dataset
from medsegkit.data.imageio import read_labels
from medsegkit.imaging import resize_nearest
from medsegkit.lesion.config import SelfTrainConfig
from medsegkit.lesion.review.decisions import Decision, State
from medsegkit.lesion.review.run import ReviewRun, copy_run
from medsegkit.lesion.selftrain.train import self_train
from medsegkit.metrics import dice
from medsegkit.runtime.job import Job

VISIBLY_WRONG, GOOD, LOST = 0.8, 0.8, 0.5


def deepest(gt: np.ndarray) -> tuple[float, float]:
    """The ground truth's pixel farthest from its edge, as fractions of the height and width."""
    depth = ndimage.distance_transform_edt(np.pad(gt, 1))[1:-1, 1:-1]
    r, c = np.unravel_index(int(np.argmax(depth)), gt.shape)
    return (r + 0.5) / gt.shape[0], (c + 0.5) / gt.shape[1]


def scored(review: ReviewRun, name: str, gt: np.ndarray) -> tuple[list[float], float, Decision | None]:
    """The Dice of each candidate, of the better of a click and a shift-click on the lesion (0 without a
    lesion), and that click's decision."""
    at = [dice(resize_nearest(m.astype(np.uint8), gt.shape) > 0, gt) for m in review.candidates(name)]
    if not gt.any():
        return at, 0.0, None
    point, best, decision = deepest(gt), -1.0, None
    for grow in (False, True):
        clicked = review.mask_of(name, State("reviewed", "click", None, point, grow=grow))
        found = dice(resize_nearest(clicked.astype(np.uint8), gt.shape) > 0, gt)
        if found > best:
            best, decision = found, Decision(name, "click", point=point, grow=grow)
    return at, best, decision


def simulate(dataset: Dataset, run: Path, budget: float, mode: str, out: Path) -> dict:
    copy_run(run, out)
    review = ReviewRun(out, reviewer="simulated")
    truth = {name: dataset.mask(name) > 0 for name in review.order}
    blind = {name: dice(read_labels(out / "masks" / f"{name}.png") > 0, truth[name]) for name in review.order}
    opened = [n for n in review.order if mode == "list" or blind[n] < VISIBLY_WRONG]
    opened = opened[: max(1, round(budget * len(review.order)))]
    tally, seconds, ceiling, ceiling_click = {"picked": 0, "clicked": 0, "excluded": 0, "accepted": 0}, [], [], []
    for name in review.order:
        at, click, clicking = scored(review, name, truth[name])
        ceiling.append(max(at))
        ceiling_click.append(max(max(at), click))
        if name not in opened:
            continue
        best = int(np.argmax(at))
        if max(at) >= GOOD or max(at) >= click:
            decision, kind = Decision(name, "candidate", candidate=best + 1), "picked" if best else "accepted"
        else:
            decision, kind = clicking, "clicked"
        if max(max(at), click) < LOST:
            decision, kind = Decision(name, "exclude"), "excluded"
        start = time.perf_counter()
        review.decide(decision)
        seconds.append(time.perf_counter() - start)
        tally[kind] += 1
    after = [dice(read_labels(out / "masks" / f"{n}.png") > 0, truth[n]) for n in review.order]
    return {
        "after": after,
        "blind": [blind[n] for n in review.order],
        "ceiling": ceiling,
        "ceiling_click": ceiling_click,
        "opened": opened,
        "order": review.order,
        "tally": tally,
        "seconds": seconds,
    }


def summary(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ({100 * np.mean(np.array(values) < LOST):.1f} % < 0.5)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("run", type=Path)
    parser.add_argument("--budget", default="0.05,0.1,0.2")
    parser.add_argument("--mode", default="grid,list")
    parser.add_argument("--self-train", action="store_true", help="self-train on each reviewed copy (minutes each)")
    parser.add_argument("--out", type=Path, default=None, help="keep the reviewed copy (one budget and mode)")
    args = parser.parse_args()
    dataset = Dataset.open(args.dataset)
    budgets = [float(b) for b in args.budget.split(",")]
    modes = args.mode.split(",")
    if args.out is not None and len(budgets) * len(modes) > 1:
        parser.error("--out keeps one reviewed copy: give one --budget and one --mode")
    scratch = Path(tempfile.mkdtemp(prefix="bench-review-"))
    print(f"{args.run}: {dataset.name}")
    for mode in modes:
        for budget in budgets:
            out = args.out or scratch / f"{mode}-{budget}"
            found = simulate(dataset, args.run, budget, mode, out)
            t = found["tally"]
            print(
                f"{mode} {budget:.2f}: opened {len(found['opened'])} (picked {t['picked']}, accepted {t['accepted']}, "
                f"clicked {t['clicked']}, excluded {t['excluded']}); Dice blind {summary(found['blind'])} -> "
                f"reviewed {summary(found['after'])}; ceiling {summary(found['ceiling'])}, with a click "
                f"{summary(found['ceiling_click'])}; decision saved in "
                f"{1000 * np.median(found['seconds'] or [0]):.0f} ms",
                flush=True,
            )
            if args.self_train:
                trained, _ = self_train(str(out), SelfTrainConfig(), Job(out.with_name(out.name + "-st"), device="cpu"))
                networks = {
                    n: dice(read_labels(trained / "masks" / f"{n}.png") > 0, dataset.mask(n) > 0)
                    for n in found["order"]
                }
                rest = [i for i, n in enumerate(found["order"]) if n not in found["opened"]]
                print(
                    f"  self-trained on the reviewed run: all {summary(list(networks.values()))}; the "
                    f"{len(rest)} unreviewed {np.mean([networks[found['order'][i]] for i in rest]):.3f} against "
                    f"their blind {np.mean([found['blind'][i] for i in rest]):.3f}",
                    flush=True,
                )
    if args.out is None:
        print(f"(reviewed copies in {scratch})")


if __name__ == "__main__":
    main()
