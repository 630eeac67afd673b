"""`medsegkit self-train` and lesion `predict` on tiny synthetic dermoscopy: training, outputs, resume, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from medsegkit.cli import app
from medsegkit.data.imageio import read_labels
from medsegkit.data.prepare import prepare
from medsegkit.lesion.config import SelfTrainConfig
from medsegkit.lesion.selftrain import train as selftrain
from medsegkit.lesion.selftrain.train import learning_rate
from medsegkit.metrics import dice

FAST = "--steps 4 --batch-size 2 --encoder-weights none --set size=32 --set steps_per_epoch=2".split()


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> tuple[Path, Path]:
    """A prepared synthetic dermoscopy dataset and its k-means cluster run."""
    from typer.testing import CliRunner

    root = tmp_path_factory.mktemp("st")
    data, _ = prepare("synthetic-dermoscopy", None, root / "derm", root, {"count": 6, "size": 64})
    run = root / "km"
    result = CliRunner().invoke(app, ["cluster", str(data), "--method", "kmeans", "--size", "48", "--out", str(run)])
    assert result.exit_code == 0, result.output
    return data, run


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_learning_rate_warms_up_then_decays_to_zero():
    cfg = SelfTrainConfig(steps=100, lr=1e-3)
    rates = [learning_rate(cfg, s) for s in range(100)]
    assert rates[0] < rates[9] == pytest.approx(1e-3) and rates[-1] < 1e-5
    assert all(a >= b for a, b in zip(rates[9:], rates[10:], strict=False))


def test_self_train_writes_a_cluster_like_run_that_the_other_verbs_read(runner, teacher, tmp_path):
    data, run = teacher
    out = tmp_path / "st"
    result = runner.invoke(app, ["self-train", str(run), "--out", str(out), *FAST, "--no-combine"])
    assert result.exit_code == 0, result.output
    assert "6/6 images segmented" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["task"] == "lesion" and manifest["config"]["encoder_weights"] == "none"
    assert manifest["training"]["epochs"] == 2
    assert manifest["training"]["train_cpu_seconds"] > 0 and manifest["prediction"]["images"] == 6
    assert manifest["training"]["total_train_cpu_seconds"] == manifest["training"]["train_cpu_seconds"]
    assert manifest["prediction"]["cpu_seconds"] > 0 and "CPU" in result.stdout
    records = {r["case"]: r for r in manifest["cases"]}
    assert {r["mask_source"] for r in records.values()} == {"network"}  # --no-combine
    table = rows(out / "review.csv")
    confidences = [float(r["confidence"]) for r in table]
    assert confidences == sorted(confidences) and len(table) == 6
    for r in rows(out / "predictions.csv"):
        mask = read_labels(out / "masks" / f"{r['case']}.png")
        assert mask.shape == (64, 64) and set(np.unique(mask)) <= {0, 1}
        assert int(r["lesion_area"]) == int(mask.sum())
    assert (out / "model.pt").is_file() and "size = 32" in (out / "config.toml").read_text()
    scored = runner.invoke(
        app, ["evaluate", str(out), "--gt", str(data), "--split", "all", "--out", str(tmp_path / "e")]
    )
    assert scored.exit_code == 0, scored.output
    exported = runner.invoke(app, ["export", str(out), "--format", "monai", "--out", str(tmp_path / "x")])
    assert exported.exit_code == 0, exported.output

    # in float32 the checkpoint predicts new images exactly as self-train's network did its own; bfloat16
    # moves boundary pixels (many here: this barely trained network says about 0.5 in places)
    for precision in ("fp32", "bf16"):
        predicted = runner.invoke(
            app,
            ["predict", str(out / "model.pt"), str(data), "--out", str(tmp_path / precision), "--precision", precision],
        )
        assert predicted.exit_code == 0, predicted.output
        assert json.loads((tmp_path / precision / "manifest.json").read_text())["precision"] == precision
    agreement = []
    for case in records:
        trained = read_labels(out / "masks" / f"{case}.png")
        np.testing.assert_array_equal(read_labels(tmp_path / "fp32" / "masks" / f"{case}.png"), trained)
        agreement.append(dice(read_labels(tmp_path / "bf16" / "masks" / f"{case}.png") > 0, trained > 0))
    assert np.mean(agreement) > 0.8
    (tmp_path / "fp32").rename(tmp_path / "p")
    assert rows(tmp_path / "p" / "review.csv")[0]["overlay"].startswith("overlays/")
    exported = runner.invoke(app, ["export", str(tmp_path / "p"), "--format", "monai", "--out", str(tmp_path / "y")])
    assert exported.exit_code == 0, exported.output
    assert json.loads((tmp_path / "y" / "datalist.json").read_text())["labels"] == {"0": "background", "1": "lesion"}

    # an interrupted prediction continues without training again
    first = sorted(records)[0]
    (out / "cases" / f"{first}.json").unlink()
    stamp = (out / "model.pt").stat().st_mtime_ns
    again = runner.invoke(app, ["self-train", str(run), "--out", str(out), *FAST, "--no-combine"])
    assert again.exit_code == 0, again.output
    assert (out / "model.pt").stat().st_mtime_ns == stamp and (out / "cases" / f"{first}.json").is_file()
    other = runner.invoke(app, ["self-train", str(run), "--out", str(out), *FAST, "--combine"])
    assert other.exit_code == 2 and "other settings" in other.stderr


def test_interrupted_training_resumes_from_its_last_checkpoint(runner, teacher, tmp_path, monkeypatch):
    _, run = teacher
    out = tmp_path / "st"
    real = selftrain.train_epoch
    calls: list[int] = []

    def stop_at_second(*args, **kwargs):
        calls.append(args[-2])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(selftrain, "train_epoch", stop_at_second)
    stopped = runner.invoke(app, ["self-train", str(run), "--out", str(out), *FAST])
    assert stopped.exit_code != 0 and not (out / "model.pt").exists()
    assert [h["epoch"] for h in json.loads((out / "history.json").read_text())] == [1]
    refused = runner.invoke(app, ["self-train", str(run), "--out", str(out), *FAST])
    assert refused.exit_code == 2 and "--resume" in refused.stderr
    monkeypatch.setattr(selftrain, "train_epoch", real)
    resumed = runner.invoke(app, ["self-train", str(run), "--out", str(out), *FAST, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert [h["epoch"] for h in json.loads((out / "history.json").read_text())] == [1, 2]


def test_the_loss_is_the_generalised_cross_entropy_unless_q_is_0(runner, teacher, tmp_path):
    """(1 - p^q)/q <= -log p for every p, so with the same seed and batches the first epoch's GCE loss is
    below the cross-entropy's; the config records which was used."""
    _, run = teacher
    losses = {}
    for q in ("0", "0.7"):
        out = tmp_path / q
        result = runner.invoke(app, ["self-train", str(run), "--out", str(out), *FAST, "--gce-q", q, "--no-combine"])
        assert result.exit_code == 0, result.output
        assert f"gce_q = {float(q)}" in (out / "config.toml").read_text()
        losses[q] = json.loads((out / "history.json").read_text())[0]["loss"]
    assert losses["0.7"] < 0.9 * losses["0"]
    assert SelfTrainConfig().gce_q == 0.7


@pytest.mark.parametrize("scale", ["folder", "fixed"])
def test_the_object_zoom_draws_from_the_folder_s_own_mask_shares(runner, teacher, tmp_path, monkeypatch, scale):
    _, run = teacher
    real, seen = selftrain.augment, set()

    def spy(image, labels, size, seed, recipe, shares=()):
        seen.add(tuple(shares))
        return real(image, labels, size, seed, recipe, shares)

    monkeypatch.setattr(selftrain, "augment", spy)
    out = tmp_path / scale
    result = runner.invoke(app, ["self-train", str(run), "--out", str(out), *FAST, "--set", f"object_scale={scale}"])
    assert result.exit_code == 0, result.output
    (shares,) = seen  # one set of shares for the whole training
    if scale == "fixed":
        assert shares == ()
        return
    # the share of the (square, 1.25x working size) training image that each blind mask covers, band included
    masks = [read_labels(p) > 0 for p in sorted((run / "masks").glob("*.png")) if read_labels(p).any()]
    assert len(shares) == len(masks) and shares == tuple(sorted(shares))
    expected = sorted(float(m.mean()) for m in masks)
    assert np.allclose(shares, expected, atol=0.06)  # the band and the resizing move each share a little
    assert SelfTrainConfig().object_scale == "folder"


def test_errors_are_one_line(runner, teacher, tmp_path):
    data, _ = teacher
    result = runner.invoke(app, ["self-train", str(data), "--out", str(tmp_path / "o"), *FAST])
    assert result.exit_code == 1 and "not a cluster run" in result.stderr and "Traceback" not in result.output
    result = runner.invoke(app, ["self-train", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not a folder" in result.stderr
    result = runner.invoke(app, ["self-train", str(data), "--set", "band=0.5"])
    assert result.exit_code == 2 and "band" in result.stderr
    result = runner.invoke(app, ["self-train", str(data), "--gce-q", "1.5"])
    assert result.exit_code == 2 and "gce_q must be in [0, 1]" in result.stderr
    result = runner.invoke(app, ["self-train", str(data), "--set", "object_scale=image"])
    assert result.exit_code == 2 and "object_scale must be one of folder, fixed" in result.stderr
