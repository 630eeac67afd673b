"""The workspace the bad-input probes run in (:mod:`tests.cli.probes`): small datasets, runs and bad files, and the
set-ups a probe needs beyond them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from medsegkit.cli import app
from medsegkit.data.prepare import prepare
from tests.conftest import save


def build_workspace(base: Path, ro: Path) -> None:
    """A tiny lesion dataset and its k-means run, a tiny fundus dataset and its source checkpoint, bad files."""
    invoke = CliRunner().invoke
    prepare("synthetic-dermoscopy", None, base / "derm", base, {"count": 4, "size": 48})
    prepare("synthetic-dermoscopy", None, base / "other", base, {"count": 2, "size": 48, "seed": 9})
    prepare("synthetic-fundus", None, base / "fun", base, {"count": 4, "size": 48})
    (base / "other" / "dataset.json").write_text(
        (base / "other" / "dataset.json")
        .read_text()
        .replace('"derm0000"', '"zz0000"')
        .replace('"derm0001"', '"zz0001"')
    )
    for case in ("0000", "0001"):  # another dataset's cases: no case in common with the run
        for sub in ("images", "masks"):
            (base / "other" / sub / f"derm{case}.png").rename(base / "other" / sub / f"zz{case}.png")
    made = invoke(app, ["cluster", str(base / "derm"), "-m", "kmeans", "--size", "32", "--out", str(base / "km")])
    assert made.exit_code == 0, made.output
    tiny = ["--size", "32", "--epochs", "1", "--batch-size", "2"]
    made = invoke(app, ["pretrain-source", "--domain", str(base / "fun"), *tiny, "--out", str(ro / "src")])
    assert made.exit_code == 0, made.output
    rng = np.random.default_rng(0)
    (base / "random.pt").write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    (base / "trunc.pt").write_bytes((ro / "src" / "best.pt").read_bytes()[:2000])
    (base / "bad.toml").write_text("lr = [\n")
    (base / "unknown.toml").write_text("no_such_option = 1\n")
    (base / "empty").mkdir()
    (base / "a-file").write_text("not a folder")
    for i in range(3):
        save(base / "broken" / f"case{i}.png", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    (base / "broken" / "case1.png").write_bytes(b"\x89PNG broken")
    for case in ("derm0000", "derm0001", "derm0002", "derm0003"):  # 100x80 masks for 48x48 ground truth
        save(base / "wide" / "masks" / f"{case}.png", np.ones((80, 100), np.uint8))
    (base / "nonempty").mkdir()
    (base / "nonempty" / "keep.txt").write_text("the user's")


def without_mask(ws: Path) -> None:
    (ws / "km" / "masks" / "derm0001.png").unlink()


def live_lock(ws: Path) -> None:
    record = {"pid": os.getpid(), "host": os.uname().nodename, "shard": [0, 1], "started": "now"}
    (ws / "km" / ".lock-0-of-1").write_text(json.dumps(record))


def stale_lock(ws: Path) -> None:
    gone = subprocess.Popen(["true"])  # a process that has ended: its pid runs nothing
    gone.wait()
    record = {"pid": gone.pid, "host": os.uname().nodename, "shard": [0, 1], "started": "long ago"}
    (ws / "km" / ".lock-0-of-1").write_text(json.dumps(record))
    (ws / "km" / "cases" / "derm0002.json").unlink()  # so that the rerun has work to do


def image_removed(ws: Path) -> None:
    """A run that failed on an image; the user removes the image and reruns."""
    done = CliRunner().invoke(
        app, ["cluster", str(ws / "broken"), "-m", "kmeans", "--size", "32", "--out", str(ws / "b")]
    )
    assert done.exit_code == 1 and (ws / "b" / "failed" / "case1.json").is_file(), done.output
    (ws / "broken" / "case1.png").unlink()


def old_relative_run(ws: Path) -> None:
    """A run as an earlier release wrote it: image paths relative to the folder it was made in."""
    manifest = json.loads((ws / "km" / "manifest.json").read_text())
    for record in manifest["cases"]:
        record["image"] = os.path.relpath(record["image"], ws)
    (ws / "km" / "manifest.json").write_text(json.dumps(manifest))
    (ws / "elsewhere").mkdir()
