"""Self-training against the per-image blind masks it learns from, transductive and inductive.

    python bench/selftrain.py DATASET [DATASET ...] --out DIR [--teacher NAME=RUN] [--set key=value]
                              [--no-inductive]

For each prepared lesion dataset: the s3 cluster run at the defaults (DIR/<name>/cluster, or the run
given with --teacher <name>=<folder>), then

- transductive: `self-train` on the whole run; its masks of the same images (with `combine`, the default,
  some keep their cluster mask; the count is printed);
- inductive: the cases split in two halves by the CRC-32 of their id; `self-train` on the first half's
  teacher masks only, then `predict` with its model.pt on the second half, which it never saw.

Prints per collection: blind (teacher) and self-trained Dice mean / median, shares below 0.5 and 0.8,
the AUROC of the self-trained confidence for Dice < 0.8, training seconds and prediction images/s; then
the inductive Dice on the second half against the transductive Dice on the same images. Every stage
is resumable: rerunning with the same --out reuses what is finished.

``--ground-truth-teacher`` is a reference, not a result: the teacher is the dataset's own masks
(DIR/<name>/ground-truth, confidence 1 for every image), ``combine`` is off and every image weighs the
same, so the numbers say what this network and recipe reach when taught the truth itself, the ceiling
of what a better cluster run could give the student.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from cluster import failure_auroc  # noqa: E402

from medsegkit import config as config_module  # noqa: E402
from medsegkit.config import parse_pairs  # noqa: E402
from medsegkit.data.dataset import Dataset  # noqa: E402
from medsegkit.data.imageio import read_labels  # noqa: E402
from medsegkit.lesion.cluster import (
    make_clusterer,  # noqa: E402
    run_cluster,  # noqa: E402
)
from medsegkit.lesion.config import ClusterRunConfig, SelfTrainConfig  # noqa: E402
from medsegkit.lesion.selftrain.train import self_train  # noqa: E402
from medsegkit.metrics import dice  # noqa: E402
from medsegkit.predict import predict  # noqa: E402
from medsegkit.runtime.job import Job  # noqa: E402


def scores(run: Path, ds: Dataset, cases: list[str]) -> np.ndarray:
    return np.array([dice(read_labels(run / "masks" / f"{c}.png") > 0, ds.mask(c) > 0) for c in cases])


def half(case: str) -> int:
    return zlib.crc32(case.encode()) % 2


def teacher_subset(run: Path, keep: set[str], out: Path) -> Path:
    """A copy of a cluster run folder holding only the ``keep`` cases (manifest and masks)."""
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["cases"] = [c for c in manifest["cases"] if c["case"] in keep]
    (out / "masks").mkdir(parents=True, exist_ok=True)
    for c in manifest["cases"]:
        shutil.copyfile(run / "masks" / f"{c['case']}.png", out / "masks" / f"{c['case']}.png")
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def ground_truth_run(ds: Dataset, out: Path) -> Path:
    """A cluster-run folder whose masks are ``ds``'s own ground truth (the leaky reference teacher)."""
    (out / "masks").mkdir(parents=True, exist_ok=True)
    cases = []
    for c in ds.case_ids():
        shutil.copyfile(ds.mask_path(c), out / "masks" / f"{c}.png")
        cases.append({"case": c, "image": str(ds.image_path(c)), "confidence": 1.0})
    (out / "manifest.json").write_text(json.dumps({"task": "lesion", "ground_truth_teacher": True, "cases": cases}))
    return out


def image_folder(ds: Dataset, cases: list[str], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for c in cases:
        path = ds.image_path(c)
        link = out / f"{c}{path.suffix}"
        if not link.exists():
            link.symlink_to(path.resolve())
    return out


def forward_speed(checkpoint: Path, batches: int = 5, batch: int = 8) -> float:
    """Images per second of the network's forward pass alone (after one warm-up batch)."""
    import torch

    from medsegkit.lesion.selftrain.network import load_lesion_model
    from medsegkit.models.fold import inference_copy
    from medsegkit.runtime.checkpoint import read_checkpoint

    model, cfg = load_lesion_model(checkpoint, read_checkpoint(checkpoint))
    model = inference_copy(model, cfg.size, "cpu")  # as predict does
    x = torch.rand(batch, 3, cfg.size, cfg.size).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        model(x)
        start = time.perf_counter()
        for _ in range(batches):
            model(x)
    return batches * batch / (time.perf_counter() - start)


def row(name: str, d: np.ndarray) -> str:
    return (
        f"{name:<22}{d.mean():>7.3f}{np.median(d):>8.3f}{100 * np.mean(d < 0.5):>7.1f}%{100 * np.mean(d < 0.8):>6.1f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--teacher", action="append", default=[], help="NAME=RUN: an existing cluster run to reuse")
    parser.add_argument("--set", action="append", default=[], help="self-train option key=value")
    parser.add_argument("--no-inductive", action="store_true")
    parser.add_argument(
        "--ground-truth-teacher",
        action="store_true",
        help="LEAKY REFERENCE: teach the network the dataset's own masks (combine off, equal weights)",
    )
    args = parser.parse_args()
    if args.ground_truth_teacher and args.teacher:
        parser.error("--ground-truth-teacher teaches the dataset's own masks; it takes no --teacher")
    teachers = parse_pairs(args.teacher, "--teacher")
    options = parse_pairs(args.set)
    if args.ground_truth_teacher:
        options |= {"combine": "false", "weighting": "none"}
        print("ground-truth teacher: a reference that reads the masks, not a result of self-training")
    cfg = config_module.build(SelfTrainConfig, options, "self-train")
    summary = []
    for path in args.datasets:
        ds = Dataset.open(path)
        root = args.out / ds.name
        run = Path(teachers[ds.name]) if ds.name in teachers else root / "cluster"
        if args.ground_truth_teacher:
            run = ground_truth_run(ds, root / "ground-truth")
        elif ds.name not in teachers:
            run_cluster(path, run, "s3", make_clusterer("s3", None, {}), ClusterRunConfig())
        cases = sorted(c["case"] for c in json.loads((run / "manifest.json").read_text())["cases"])
        trans_dir = root / "trans"
        _, manifest = self_train(str(run), cfg, Job(trans_dir, device="cpu"))
        records = {r["case"]: r for r in manifest["cases"]}
        blind, trans = scores(run, ds, cases), scores(trans_dir, ds, cases)
        confidence = np.array([records[c]["confidence"] for c in cases])
        auroc = failure_auroc(confidence, trans < 0.8)
        seconds = manifest["training"]["total_train_seconds"]
        print(f"\n{ds.name}: {len(cases)} images, teacher {run}, training {seconds:.0f} s")
        print(f"{'':<22}{'Dice':>7}{'median':>8}{'<0.5':>8}{'<0.8':>7}")
        print(row("blind (teacher)", blind))
        kept = sum(records[c].get("mask_source") == "teacher" for c in cases)
        print(row("self-trained", trans) + f"   confidence AUROC {auroc:.3f}; {kept} kept the cluster mask")
        entry = {"name": ds.name, "blind": blind.mean(), "trans": trans.mean(), "auroc": auroc,
                 "train_s": manifest["training"]["total_train_seconds"]}  # fmt: skip
        if not args.no_inductive:
            first, second = [c for c in cases if half(c) == 0], [c for c in cases if half(c) == 1]
            sub = teacher_subset(run, set(first), root / "teacher-half")
            self_train(str(sub), cfg, Job(root / "ind", device="cpu"))
            folder = image_folder(ds, second, root / "unseen")
            done_before = len(list((root / "ind-predict" / "cases").glob("*.json")))
            start = time.perf_counter()
            out, _ = predict(root / "ind" / "model.pt", str(folder), Job(root / "ind-predict", device="cpu"))
            seconds = time.perf_counter() - start
            ind, same = scores(out, ds, second), scores(trans_dir, ds, second)
            new = len(second) - done_before
            speed = f"{new / seconds:.1f} images/s (whole verb)" if new else "(predictions reused)"
            print(row(f"inductive ({len(second)} unseen)", ind) + f"   {speed}")
            print(row("transductive, same", same))
            entry |= {"ind": ind.mean(), "same": same.mean()}
        summary.append(entry)
    if summary:
        print(
            f"\nnetwork alone: {forward_speed(args.out / summary[-1]['name'] / 'trans' / 'model.pt'):.1f} images/s "
            "(forward passes of batches of 8 at the working size, no reading or writing)"
        )
    print("\ncollection   blind   self   gain  AUROC  train s   inductive  transductive-same")
    for e in summary:
        tail = f"   {e['ind']:>9.3f}  {e['same']:>17.3f}" if "ind" in e else ""
        print(
            f"{e['name']:<12}{e['blind']:>6.3f}{e['trans']:>7.3f}{e['trans'] - e['blind']:>+7.3f}{e['auroc']:>7.3f}"
            f"{e['train_s']:>9.0f}{tail}"
        )


if __name__ == "__main__":
    main()
