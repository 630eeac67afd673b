"""Click-to-segment: the lesion under the click, whole, from the cluster map."""

from __future__ import annotations

import numpy as np
import pytest

from medsegkit.lesion.config import ColourRefineConfig
from medsegkit.lesion.review.click import click_mask
from medsegkit.metrics import dice

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def two_tone(size: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Skin, a lesion with a paler brown rim and a dark core, noise; (image, 3-cluster map, lesion mask)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    radius = np.hypot(rows - size / 2, cols - size / 2)
    lesion, core = radius < size / 4, radius < size / 8
    image = np.where(lesion[..., None], (150, 110, 80), (225, 190, 170)).astype(float)
    image[core] = (70, 45, 35)
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    clusters = np.where(core, 2, np.where(lesion, 1, 0))
    return image, clusters, lesion


@pytest.mark.parametrize("refine", [None, ColourRefineConfig()])
def test_a_click_on_the_rim_takes_the_core_and_a_click_on_the_core_only_the_core(refine):
    image, clusters, lesion = two_tone()
    on_rim = click_mask(image, clusters, (0.5, 0.5 + 0.18), refine)
    assert dice(on_rim, lesion) > 0.95
    on_core = click_mask(image, clusters, (0.5, 0.5), refine)
    assert on_core.sum() < 0.4 * lesion.sum() and on_core[48, 48]


def test_a_pale_lesion_is_taken_with_the_paler_clusters():
    image, clusters, lesion = two_tone()
    pale = 255 - image  # the lesion is now paler than the skin
    mask = click_mask(pale, clusters, (0.5, 0.5 + 0.18), None)
    assert dice(mask, lesion) > 0.95


def test_the_click_is_in_the_mask_and_the_mask_is_one_piece():
    from scipy import ndimage

    image, clusters, _ = two_tone(seed=3)
    for point in [(0.1, 0.1), (0.5, 0.7), (0.95, 0.95)]:
        mask = click_mask(image, clusters, point, ColourRefineConfig())
        r, c = min(int(point[0] * 96), 95), min(int(point[1] * 96), 95)
        assert mask[r, c] and ndimage.label(mask)[1] == 1
