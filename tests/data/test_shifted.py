"""The ``shifted`` reader: a prepared dataset zoomed and re-lit, splits and masks kept in step."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from medsegkit.cli import app
from medsegkit.data.prepare import prepare
from medsegkit.data.readers.shifted import ShiftOptions, photometric, zoom_centre


def test_zoom_centre_in_and_out_keeps_size_and_labels():
    labels = np.zeros((40, 40), np.uint8)
    labels[15:25, 15:25] = 1
    inside = zoom_centre(labels, 2.0, labels=True)
    outside = zoom_centre(labels, 0.8, labels=True)  # 5 mirrored pixels each side: the square is not reflected
    assert inside.shape == outside.shape == (40, 40)
    assert set(np.unique(inside)) == set(np.unique(outside)) == {0, 1}
    assert inside.sum() == 4 * labels.sum()
    assert abs(int(outside.sum()) - 64) <= 8  # 100 · 0.8²
    image = np.dstack([labels * 200] * 3).astype(np.uint8)
    assert ((zoom_centre(image, 2.0, labels=False)[..., 0] > 100) == inside.astype(bool)).mean() > 0.98


def test_photometric_darkens_and_flattens():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    dark = photometric(image, ShiftOptions(brightness=0.6, contrast=0.8, gamma=1.3, blur=1.0))
    assert dark.dtype == np.uint8 and dark.mean() < 0.6 * image.mean() and dark.std() < image.std()
    assert np.array_equal(photometric(image, ShiftOptions()), image)


def test_prepare_shifted_keeps_splits_and_moves_masks_with_images(runner, tmp_path):
    src, _ = prepare("synthetic-fundus", None, tmp_path / "a", tmp_path, {"count": 4, "size": 64})
    out = tmp_path / "zoomed"
    args = ["prepare", "shifted", str(src), "--opt", "zoom=1.5", "--opt", "brightness=0.5", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    before, after = (json.loads((d / "dataset.json").read_text()) for d in (src, out))
    assert after["task"] == "fundus" and after["splits"] == before["splits"]
    assert any("zoom 1.5, brightness 0.5" in note for note in after["notes"])
    for case in before["cases"]:
        disc = [(np.asarray(Image.open(d / "masks" / f"{case}.png")) > 0).mean() for d in (src, out)]
        assert 1.8 < disc[1] / disc[0] < 2.7  # area grows by about zoom²
        light = [np.asarray(Image.open(d / "images" / f"{case}.png")).mean() for d in (src, out)]
        assert light[1] < 0.7 * light[0]


def test_prepare_shifted_refuses_bad_zoom_and_a_folder_without_dataset_json(runner, tmp_path):
    bad = runner.invoke(app, ["prepare", "shifted", str(tmp_path), "--opt", "zoom=9", "--out", str(tmp_path / "o")])
    assert bad.exit_code == 2 and "zoom must lie in [0.5, 3], got 9" in bad.output
    missing = runner.invoke(app, ["prepare", "shifted", str(tmp_path), "--out", str(tmp_path / "o")])
    assert missing.exit_code != 0 and "dataset.json" in missing.output
    assert len(missing.output.strip().splitlines()) == 1
