"""Hair removal before clustering: thin long dark lines found and inpainted, a lesion's own texture left alone."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("cv2", reason="OpenCV is the hair extra: pip install 'medsegkit[hair]'")

from medsegkit.cli import app  # noqa: E402
from medsegkit.lesion.hair import hair_mask, remove_hair  # noqa: E402

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def hairy(size: int = 256, seed: int = 0):
    """Skin, a lesion with dark dots (texture, not hair) and three dark hairs 2 px wide; (image, hairs, lesion)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    lesion = np.hypot(rows - size / 2, cols - size / 2) < size / 5
    image = np.where(lesion[..., None], (150, 100, 80), (220, 180, 160)).astype(float)
    for r, c in rng.integers(size // 2 - 30, size // 2 + 30, (25, 2)):  # globules: dark, round, small
        image[np.hypot(rows - r, cols - c) < 2.5] = (60, 40, 30)
    hairs = np.zeros((size, size), bool)
    for slope, offset in ((0.3, 20), (-1.2, 250), (2.5, -300)):
        hairs |= np.abs(rows - (slope * cols + offset)) / np.hypot(1, slope) < 1.0
    image[hairs] = (40, 30, 25)
    return np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8), hairs, lesion


def test_hairs_are_found_and_the_lesion_texture_is_not():
    image, hairs, lesion = hairy()
    found = hair_mask(image)
    assert found[hairs].mean() > 0.8  # the hairs
    globules = lesion & ~hairs & (image.mean(axis=2) < 80)
    assert found[globules].mean() < 0.2  # round dark dots are not hairs


def test_inpainted_hairs_take_the_colour_around_them():
    image, hairs, lesion = hairy()
    clean = remove_hair(image)
    skin_hairs = hairs & ~lesion
    assert np.abs(clean[skin_hairs].astype(int) - (220, 180, 160)).mean() < 25
    assert np.abs(image[skin_hairs].astype(int) - (220, 180, 160)).mean() > 100


def test_an_image_without_hair_is_left_nearly_as_it_is():
    image, _, _ = hairy()
    smooth = np.full_like(image, 200)
    assert hair_mask(smooth).mean() < 0.005


def test_cluster_removes_hair_on_request_and_records_it(runner, tmp_path):
    from tests.conftest import save

    image, _, _ = hairy(64)
    save(tmp_path / "in" / "a.png", image)
    save(tmp_path / "in" / "b.png", image[::-1])
    args = [
        "cluster",
        str(tmp_path / "in"),
        "-m",
        "kmeans",
        "--size",
        "64",
        "--hair",
        "remove",
        "--out",
        str(tmp_path / "r"),
    ]
    assert runner.invoke(app, args).exit_code == 0
    assert json.loads((tmp_path / "r" / "settings.json").read_text())["hair"] == "remove"
    bad = runner.invoke(app, [*args[:-2], "--hair", "shave", "--out", str(tmp_path / "s")])
    assert bad.exit_code == 2 and "hair must be one of keep, remove" in bad.stderr
