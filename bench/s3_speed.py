"""S3-Net speed on a prepared lesion dataset: seconds per iteration and per image at the defaults and at
the paper's setting, and where one image's time goes.

    python bench/s3_speed.py DATASET [--limit 3] [--size 256] [--settings default,paper] [--top 12]
                             [--no-profile] [--batches 1,4,8] [--device cpu] [--floor]

For each setting it optimises the first ``--limit`` images (their working-size copies, read beforehand,
so no file I/O is timed; after a one-iteration warm-up) and prints the median seconds per image, the
mean iterations and the median seconds per iteration. Then, for the first image at each setting, the
forward time of each top-level block of the network (module hooks, summed over the run) and the
operators with the most self CPU time (``torch.profiler``, forward and backward together;
``--no-profile`` skips both). With ``--batches``, it then clusters the same images in batches of each
size B at the defaults (``segment_batch``, as ``medsegkit cluster --batch B`` does; B = 1 is one image
at a time) and prints seconds per image, images per second, how many of the batched maps' pixels
equal the one-at-a-time maps', and the mean Dice between the blind lesion masks drawn from both.
With ``--floor``, it times alone, on random data, the operators that one iteration at the paper's
setting cannot do without (the matrix products, the oneDNN convolutions and the deformable
convolution's bilinear sampling, each forward and backward) and prints their seconds and GFLOP: a
lower bound on the iteration with PyTorch's CPU kernels, whatever else is fused or removed.
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
from medsegkit.layers.depthwise import depthwise_conv2d
from medsegkit.lesion.blind.per_image import blind_mask
from medsegkit.lesion.clustering.s3 import S3Clusterer
from medsegkit.lesion.config import ColourRefineConfig, S3Config

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
    parser.add_argument("--floor", action="store_true", help="time the paper setting's unavoidable operators alone")
    args = parser.parse_args()
    if args.floor:
        floor(args.size)
        return

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


def floor(size: int, channels: int = 64, batch: int = 2) -> None:
    """Seconds and GFLOP of one paper-setting iteration's matrix products, convolutions and sampling, alone.

    The iteration runs x and T(x) together (``batch`` 2) at full resolution with C = K = 64: per I-LKA
    block three 1x1 products (C←C, C←3C, C←C) and four depthwise convolutions (5x5; 3x3, 5x5 dilation 2,
    7x7 dilation 3), the head's C←C product, the deformable convolution's C←9C product, its 3x3
    offset convolution (27←C) and its sampling of 9 taps; each forward, then the input and weight
    gradients (the stem is left out: its 3 input channels make it negligible).
    """
    import torch.nn.functional as F

    n = size * size
    rows: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])

    def timed(name: str, flop: float, fn, *tensors: torch.Tensor) -> None:
        fn(*tensors).sum().backward()  # warm-up
        leaves = [t.detach().requires_grad_() for t in tensors]
        start = time.perf_counter()
        out = fn(*leaves)
        out.backward(torch.ones_like(out))
        rows[name][0] += time.perf_counter() - start
        rows[name][1] += flop / 1e9

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape).requires_grad_()

    products = [(channels, channels), (channels, 3 * channels), (channels, channels)] * 2
    products += [(channels, channels), (channels, 9 * channels)]
    for c_out, c_in in products:
        timed(
            "matrix products",
            6.0 * batch * n * c_out * c_in,
            torch.bmm,
            randn(batch, c_out, c_in),
            randn(batch, c_in, n),
        )
    image = (batch, channels, size, size)
    for k, d in [(5, 1), (3, 1), (5, 2), (7, 3)] * 2:  # with medsegkit's depthwise backward, as I-LKA runs
        conv = lambda x, w, d=d: depthwise_conv2d(x, w, dilation=d)  # noqa: E731
        timed(
            "depthwise convolutions", 6.0 * batch * n * channels * k * k, conv, randn(*image), randn(channels, 1, k, k)
        )
    offset = lambda x, w: F.conv2d(x, w, padding=1)  # noqa: E731
    timed("offset convolution", 6.0 * batch * n * 27 * 9 * channels, offset, randn(*image), randn(27, channels, 3, 3))
    # the 9 taps around each pixel, moved by offsets of about half a pixel, as deform_conv2d_sampled samples them
    taps = torch.tensor([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], dtype=torch.float32)
    pos = torch.stack(torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij"), -1).float()
    py_px = pos.view(1, 1, size, size, 2) + taps.view(1, 9, 1, 1, 2) + 0.5 * torch.randn(batch, 9, size, size, 2)
    grid = ((2 * py_px.flip(-1) + 1) / size - 1).view(batch, 9 * size, size, 2).requires_grad_()
    sample = lambda x, g: F.grid_sample(x, g, mode="bilinear", align_corners=False)  # noqa: E731
    timed("bilinear sampling (9 taps)", 0.0, sample, randn(*image), grid)
    total = sum(seconds for seconds, _ in rows.values())
    print(f"floor of one paper-setting iteration at {size}x{size}, {torch.get_num_threads()} threads:")
    for name, (seconds, gflop) in rows.items():
        rate = f"  {gflop / seconds:6.1f} GFLOP/s" if gflop else ""
        print(f"  {name:<28} {seconds:6.3f} s  {gflop:6.1f} GFLOP{rate}")
    print(f"  {'total':<28} {total:6.3f} s  {sum(g for _, g in rows.values()):6.1f} GFLOP")
    square = torch.randn(2048, 2048)
    square @ square
    start = time.perf_counter()
    square @ square
    rate = 2 * 2048**3 / (time.perf_counter() - start) / 1e9
    print(f"  a square 2048 matrix product for comparison: {rate:.1f} GFLOP/s")


def mask(image, result, seed: int):
    """The blind lesion mask that `cluster` would write from this cluster map (working size)."""
    return blind_mask(image, result, seed, ColourRefineConfig()).mask


if __name__ == "__main__":
    main()
