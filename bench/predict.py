"""How fast ``medsegkit predict`` applies a checkpoint to a folder: the whole verb and the network alone.

    python bench/predict.py CHECKPOINT DATASET_OR_FOLDER [--out DIR] [--batch-size 8] [--device cpu]
                            [--precision auto|fp32|bf16]

Prints the seconds to load the checkpoint, then images per second of the prediction loop (reading,
network, masks, confidence, overlays, writing; the model already loaded), and images per second of the
network's forward pass alone on random input at its working size, in the layout ``predict`` uses
(batches of ``--batch-size``, after a warm-up batch). ``--out`` defaults to a temporary folder, which is
emptied first so that no prediction is reused. Run it alone: another torch process on the same cores
changes every number here.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from medsegkit.data.images import collect_images
from medsegkit.engine.prediction import predict_folder
from medsegkit.predict import load_predictor
from medsegkit.runtime.allocator import keep_freed_memory
from medsegkit.runtime.precision import PRECISIONS, autocast, resolve_precision


def forward_speed(model: torch.nn.Module, size: int, batch: int, device: str, batches: int = 5) -> float:
    """Images per second of ``model`` on ``(batch, 3, size, size)`` channels-last input."""
    x = torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        model(x)
        start = time.perf_counter()
        for _ in range(batches):
            model(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return batches * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("images", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    args = parser.parse_args()

    keep_freed_memory()  # as the verb's session does
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-predict-"))
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    precision = resolve_precision(args.precision, args.device)
    predictor = load_predictor(args.checkpoint, args.device, None, 0, precision)
    loaded = time.perf_counter() - start
    print(f"checkpoint loaded in {loaded:.2f} s ({predictor.task}), {torch.get_num_threads()} threads, {precision}")
    _, items = collect_images(args.images)
    start = time.perf_counter()
    predict_folder(predictor, items, out, args.batch_size)
    seconds = time.perf_counter() - start
    print(f"predict loop: {len(items)} images in {seconds:.2f} s, {len(items) / seconds:.1f} images/s")
    size = predictor.cfg.size if predictor.task == "lesion" else predictor.size
    with autocast(precision, args.device):
        speed = forward_speed(predictor.model, size, args.batch_size, args.device)
    print(f"network alone: {speed:.1f} images/s ({args.batch_size} x 3 x {size} x {size})")


if __name__ == "__main__":
    main()
