"""Growing the chosen mask over what the border band's skin does not explain: a faint or two-tone lesion whole."""

from __future__ import annotations

import numpy as np
import pytest

from medsegkit.lesion.blind.fov import field_of_view
from medsegkit.lesion.blind.grow import QUANTILES, chroma, grown
from medsegkit.metrics import dice

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def faint_lesion(size: int = 128, seed: int = 0, falloff: float = 0.0):
    """Pink skin, a large lesion of the skin's brightness but browner, a small dark core; a brightness falloff
    towards the corners (a dermoscope's uneven light) of ``falloff``."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    radius = np.hypot(rows - size / 2, cols - size / 2) / (size / 2)
    lesion, core = radius < 0.55, radius < 0.15
    image = np.where(lesion[..., None], (196, 160, 140), (214, 158, 164)).astype(float)  # browner, not darker
    image[core] = (90, 60, 50)
    image *= (1 - falloff * radius**2)[..., None]
    return np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8), lesion, core


def test_chroma_is_cielab_a_and_b():
    ab = chroma(np.array([[[255, 0, 0], [128, 128, 128], [0, 0, 255]]], np.uint8))
    assert ab[0, 0, 0] > 50 and abs(ab[0, 1]).max() == 0 and ab[0, 2, 1] < -50


@pytest.mark.parametrize(("falloff", "least"), [(0.0, 0.9), (0.1, 0.85)])
def test_the_core_grows_over_the_faint_lesion_and_stops_at_the_skin(falloff, least):
    image, lesion, core = faint_lesion(falloff=falloff)
    assert dice(core, lesion) < 0.2
    for quantile in QUANTILES:
        mask = grown(image, core, field_of_view(image), quantile)
        assert dice(mask, lesion) > least, quantile  # (0.97 and 0.89 here; light falling off a quarter towards
        # the corners moves chroma enough for the looser cut to leak into the skin: 0.70)


def test_nothing_to_grow_from_and_no_skin_to_compare_with():
    image, lesion, core = faint_lesion()
    fov = np.ones(lesion.shape, bool)
    empty = np.zeros(lesion.shape, bool)
    assert not grown(image, empty, fov, 0.9).any()
    everything = np.ones(lesion.shape, bool)
    assert grown(image, everything, fov, 0.9).all()  # no band left outside the seed: the seed itself
