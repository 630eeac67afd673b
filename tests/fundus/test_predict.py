"""`medsegkit predict` with source and adapted checkpoints on tiny synthetic fundus data."""

from __future__ import annotations

import csv
import json

import numpy as np
import torch

from medsegkit.cli import app
from medsegkit.data.imageio import read_labels, read_rgb
from medsegkit.fundus.source import labels_of, load_source_model
from medsegkit.imaging import resize_nearest, resize_square, to_tensor
from medsegkit.predict import predict
from medsegkit.runtime.job import Job
from tests.conftest import save


def rows(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_labels_follow_adapts_rule():
    prob = np.array([[[0.9, 0.2, 0.1]], [[0.95, 0.8, 0.3]]])
    assert labels_of(prob, 0.75).tolist() == [[2, 1, 0]]
    assert labels_of(prob, 0.5).tolist() == [[2, 1, 0]]


def test_predict_a_dataset_then_resume(runner, shift_domains, tmp_path):
    checkpoint, target = shift_domains
    out = tmp_path / "p"
    args = ["predict", str(checkpoint), str(target), "--out", str(out), "--precision", "fp32", "--batch-size", "4"]
    args += ["--uncertainty", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    ids = json.loads((target / "dataset.json").read_text())["splits"]["all"]
    spent = json.loads((out / "manifest.json").read_text())["prediction"]
    assert spent["images"] == len(ids) and spent["seconds"] > 0 and spent["cpu_seconds"] > 0
    assert f"({len(ids)} now," in result.stdout
    table = rows(out / "predictions.csv")
    assert sorted(r["case"] for r in table) == sorted(ids)
    for r in table:
        labels = read_labels(out / "masks" / f"{r['case']}.png")
        assert labels.shape == (48, 48) and set(np.unique(labels)) <= {0, 1, 2}  # each image's own size
        assert int(r["disc_area"]) == int((labels >= 1).sum()) and int(r["cup_area"]) == int((labels == 2).sum())
        assert "uncertainty_disc" in r
        assert (out / "overlays" / f"{r['case']}.jpg").is_file()
    # the masks are the model's own: the same as a direct forward pass, cut at the threshold
    model, cfg = load_source_model(checkpoint)
    model.eval()
    first = ids[0]
    image = read_rgb(target / "images" / f"{first}.png")
    with torch.no_grad():
        prob = torch.sigmoid(model(to_tensor(resize_square(image, cfg.size)).unsqueeze(0)))[0].numpy()
    np.testing.assert_array_equal(
        read_labels(out / "masks" / f"{first}.png"), resize_nearest(labels_of(prob, 0.75), (48, 48))
    )
    (out / "cases" / f"{first}.json").unlink()
    stamp = {p.name: p.stat().st_mtime_ns for p in (out / "masks").glob("*.png") if p.stem != first}
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert {p.name: p.stat().st_mtime_ns for p in (out / "masks").glob("*.png") if p.stem != first} == stamp
    assert json.loads((out / "manifest.json").read_text())["prediction"]["images"] == 1  # only the missing one
    other = runner.invoke(app, [*args[:-2], "--uncertainty", "0"])
    assert other.exit_code == 2 and "other settings" in other.stderr


def test_predict_a_plain_folder_of_other_sizes_with_an_adapted_checkpoint(runner, shift_domains, tmp_path):
    checkpoint, target = shift_domains
    adapted = tmp_path / "ad"
    fast = "--epochs 1 --batch-size 2 --passes 2 --set head_iters=2 --set radius=1".split()
    made = runner.invoke(
        app, ["adapt", "--from", "a", "--to", str(target), "--source", str(checkpoint), *fast, "--out", str(adapted)]
    )
    assert made.exit_code == 0, made.output
    folder = tmp_path / "photos"
    save(folder / "left.png", np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8))
    save(folder / "right.jpg", np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    out, manifest = predict(adapted / "last.pt", str(folder), Job(tmp_path / "q", device="cpu"), batch_size=1)
    assert manifest["finished"] == 2
    assert read_labels(out / "masks" / "left.png").shape == (50, 70)
    sizes = {r["case"]: (int(r["height"]), int(r["width"])) for r in rows(out / "predictions.csv")}
    assert sizes == {"left": (50, 70), "right": (40, 40)}


def test_predict_errors(runner, shift_domains, tmp_path):
    checkpoint, target = shift_domains
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"nope")
    result = runner.invoke(app, ["predict", str(bad), str(target), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "not a readable checkpoint" in result.stderr
    result = runner.invoke(
        app, ["predict", str(checkpoint), str(target), "--threshold", "1.5", "--out", str(tmp_path / "t")]
    )
    assert result.exit_code == 2 and "--threshold must be between 0 and 1" in result.stderr


def test_flip_averaging_makes_the_prediction_mirror_symmetric(runner, shift_domains, tmp_path):
    """With --tta a mirrored image gets the mirrored masks of the image: left and right eyes alike."""
    checkpoint, target = shift_domains
    image = read_rgb(next((target / "images").glob("*.png")))
    save(tmp_path / "in" / "a.png", image)
    save(tmp_path / "in" / "b.png", image[:, ::-1])
    for flag, name in (["--tta"], "tta"), ([], "plain"):
        args = ["predict", str(checkpoint), str(tmp_path / "in"), "--out", str(tmp_path / name), "--precision", "fp32"]
        assert runner.invoke(app, [*args, *flag]).exit_code == 0
    a, b = (read_labels(tmp_path / "tta" / "masks" / f"{c}.png") for c in "ab")
    assert (a[:, ::-1] == b).mean() > 0.999  # the same up to the float sums of a mirrored convolution
    assert json.loads((tmp_path / "tta" / "settings.json").read_text())["tta"] is True
    assert "tta" not in json.loads((tmp_path / "plain" / "settings.json").read_text())
