"""S3-Net speed on a prepared lesion dataset: seconds per iteration and per image at the defaults and at
the paper's setting, and where one image's time goes.

    python bench/s3_speed.py DATASET [--limit 3] [--size 256] [--settings default,paper] [--top 12]
                             [--no-profile] [--batches 1,4,8] [--device cpu]

For each setting it optimises the first ``--limit`` images (their working-size copies, read beforehand,
so no file I/O is timed; after a one-iteration warm-up) and prints the median seconds per image, the
mean iterations and the median seconds per iteration. Then, for the first image at each setting, the
forward time of each top-level block of the network (module hooks, summed over the run) and the
operators with the most self CPU time (``torch.profiler``, forward and backward together;
``--no-profile`` skips both). With ``--batches``, it then clusters the same images in batches of each
size B at the defaults (``segment_batch``, as ``medsegkit cluster --batch B`` does; B = 1 is one image
at a time) and prints seconds per image, images per second, how many of the batched maps' pixels
equal the one-at-a-time maps', and the mean Dice between the blind lesion masks drawn from both.
Run it alone: another torch process on the same cores changes every number here.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import torch

from medsegkit import metrics
from medsegkit.data.dataset import Dataset
from medsegkit.imaging import resize_square
from medsegkit.lesion.blind import blind_mask
from medsegkit.lesion.config import ColourRefineConfig, S3Config
from medsegkit.lesion.s3 import S3Clusterer

SETTINGS = {
    "default": S3Config(),
    "paper": S3Config(channels=64, stem_stride=1, max_iter=50, min_labels=3, affine_target="both"),
}


def block_times(clusterer: S3Clusterer, image, seed: int) -> dict[str, float]:
    """Forward seconds per top-level block of the model built inside ``segment`` (hooks on every model made)."""
    times: dict[str, float] = defaultdict(float)
    starts: dict[str, float] = {}
    original = torch.nn.Module.__call__

    def timed(module, *args, **kwargs):
        name = getattr(module, "_bench_name", None)
        if name is None:
            return original(module, *args, **kwargs)
        starts[name] = time.perf_counter()
        out = original(module, *args, **kwargs)
        times[name] += time.perf_counter() - starts[name]
        return out

    from medsegkit.models import s3net

    init = s3net.S3Net.__init__

    def named_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        for child_name, child in self.named_children():
            child._bench_name = child_name

    s3net.S3Net.__init__ = named_init
    torch.nn.Module.__call__ = timed
    try:
        clusterer.segment(image, seed)
    finally:
        torch.nn.Module.__call__ = original
        s3net.S3Net.__init__ = init
    return dict(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--limit", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--settings", default="default,paper")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--batches", default="", help="batch sizes to time at the defaults, e.g. 1,4,8")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    ds = Dataset.open(args.dataset)
    images = [resize_square(ds.image(c), args.size) for c in ds.case_ids()[: args.limit]]
    print(f"{ds.name}: {len(images)} images at {args.size}x{args.size}, {torch.get_num_threads()} threads")
    for name in args.settings.split(","):
        clusterer = S3Clusterer(SETTINGS[name], device=args.device)
        # one short run first: the first call pays for oneDNN's kernel set-up, which is not S3-Net's time
        S3Clusterer(replace(SETTINGS[name], max_iter=1, min_iter=1), device=args.device).segment(images[0], 0)
        seconds, iterations = [], []
        for i, image in enumerate(images):
            start = time.perf_counter()
            result = clusterer.segment(image, i)
            seconds.append(time.perf_counter() - start)
            iterations.append(result.iterations)
        per_iteration = statistics.median(s / n for s, n in zip(seconds, iterations, strict=True))
        print(
            f"{name:<8} s/image {statistics.median(seconds):7.2f}   iterations {statistics.mean(iterations):5.1f}   "
            f"s/iteration {per_iteration:6.3f}"
        )
        if not args.profile:
            continue
        blocks = block_times(clusterer, images[0], 0)
        total = sum(blocks.values())
        print("  forward seconds per block (first image): " + ", ".join(f"{k} {v:.2f}" for k, v in blocks.items()))
        print(f"  forward total {total:.2f} s")
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            clusterer.segment(images[0], 0)
        print(profile.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top, max_name_column_width=40))
    if args.batches:
        batches([int(b) for b in args.batches.split(",")], images, args.device)


def batches(sizes: list[int], images: list, device: str) -> None:
    """Seconds per image of batched clustering at the defaults, against one image at a time."""
    clusterer = S3Clusterer(SETTINGS["default"], device=device)
    clusterer.segment(images[0], 0)  # warm-up
    seeds = list(range(len(images)))
    alone = [clusterer.segment(image, seed) for image, seed in zip(images, seeds, strict=True)]
    for size in sizes:
        start = time.perf_counter()
        results = []
        for i in range(0, len(images), size):
            group, group_seeds = images[i : i + size], seeds[i : i + size]
            one = size == 1  # as `cluster` does: one image goes through segment()
            results += (
                [clusterer.segment(group[0], group_seeds[0])] if one else clusterer.segment_batch(group, group_seeds)
            )
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - start) / len(images)
        equal = statistics.mean(float((a.clusters == b.clusters).mean()) for a, b in zip(alone, results, strict=True))
        dice = statistics.mean(
            metrics.dice(mask(image, a, seed), mask(image, b, seed))
            for image, seed, a, b in zip(images, seeds, alone, results, strict=True)
        )
        print(
            f"batch {size:>3}  s/image {seconds:6.3f}   images/s {1 / seconds:6.2f}   "
            f"map pixels as one at a time {equal:.4f}   blind-mask Dice with one at a time {dice:.4f}"
        )


def mask(image, result, seed: int):
    """The blind lesion mask that `cluster` would write from this cluster map (working size)."""
    return blind_mask(image, result, seed, ColourRefineConfig()).mask


if __name__ == "__main__":
    main()
