from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from medsegkit import metrics
from medsegkit.lesion.blind.colour_refine import atypical_of_skin, gaussian_log_likelihood, refine_mask
from medsegkit.lesion.config import ColourRefineConfig
from medsegkit.morphology import dilate

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def rimmed_lesion(size: int = 96, seed: int = 0):
    """Tight skin (200), a textured lesion lightening from 70 at its centre to 130 at its edge, dark
    vignette corners (40); the "blind" mask is the lesion's darker inner three quarters (radius)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size]
    radius = np.hypot(rows - size / 2 + 3, cols - size / 2 - 2)
    lesion, core = radius < size / 4, radius < 0.75 * size / 4
    corners = np.hypot(rows - size / 2, cols - size / 2) > 0.66 * size
    grey = 200 + rng.normal(0, 4, (size, size))
    grey[lesion] = 70 + 60 * radius[lesion] / (size / 4) + rng.normal(0, 12, lesion.sum())
    grey[corners] = 40 + rng.normal(0, 4, corners.sum())
    image = np.clip(grey[..., None] * np.array([1.0, 0.8, 0.7]), 0, 255).astype(np.uint8)
    return image, lesion, core, corners


@pytest.mark.parametrize("seed", [0, 1])
def test_the_lighter_rim_is_recovered_and_the_dark_corners_stay_out(seed):
    image, lesion, core, corners = rimmed_lesion(seed=seed)
    assert metrics.dice(core, lesion) < 0.75
    refined = refine_mask(image, core)
    assert metrics.dice(refined, lesion) > 0.9
    assert not (refined & corners).any()


def haloed_lesion(size: int = 96, seed: int = 0):
    """Skin (200), a dark core (70) and a faint halo around it (160): closer to the skin than to the core
    in the two-model sense, but not a colour the skin has. The lesion is core and halo."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size]
    radius = np.hypot(rows - size / 2, cols - size / 2)
    lesion, core = radius < size / 5, radius < size / 8
    grey = 200 + rng.normal(0, 4, (size, size))
    grey[lesion] = 160 + rng.normal(0, 4, lesion.sum())
    grey[core] = 70 + rng.normal(0, 4, core.sum())
    image = np.clip(grey[..., None] * np.array([1.0, 0.8, 0.7]), 0, 255).astype(np.uint8)
    return image, lesion, core


@pytest.mark.parametrize("seed", [0, 1])
def test_a_faint_halo_is_grown_over_where_the_skin_model_ends(seed):
    image, lesion, core = haloed_lesion(seed=seed)
    two_models = refine_mask(image, core, ColourRefineConfig(skin_quantile=1.0))
    assert metrics.dice(two_models, lesion) < 0.85  # equal priors leave the halo to the skin
    assert metrics.dice(refine_mask(image, core), lesion) > 0.95
    # the untrimmed skin fit (steps=0) is widened by the halo in its sample and leaves much of it out
    skin = ~dilate(two_models, 2)
    halo = lesion & ~two_models
    untrimmed = atypical_of_skin(image / 255.0, skin, 0.99, 1e-4, steps=0)[halo].mean()
    assert untrimmed < 0.8 < atypical_of_skin(image / 255.0, skin, 0.99, 1e-4)[halo].mean()


def test_atypical_of_skin_flags_the_expected_share_of_gaussian_skin():
    rng = np.random.default_rng(0)
    colours = rng.normal(0.6, 0.02, (200, 200, 3)) + rng.normal(0, 0.01, (200, 200, 1))  # correlated channels
    skin = np.ones((200, 200), bool)
    for quantile in (0.95, 0.99):
        assert abs(atypical_of_skin(colours, skin, quantile, 0.0).mean() - (1 - quantile)) < 0.003
    colours[90:110, 90:110] = 0.3
    assert atypical_of_skin(colours, ~np.pad(np.ones((20, 20), bool), 90), 0.99, 0.0)[90:110, 90:110].all()


def test_a_mask_already_right_stays_right():
    image, lesion, _, _ = rimmed_lesion(seed=2)
    assert metrics.dice(refine_mask(image, lesion), lesion) > 0.95


def test_degenerate_inputs_return_the_mask_unchanged():
    image, lesion, _, _ = rimmed_lesion()
    empty = np.zeros(lesion.shape, bool)
    assert not refine_mask(image, empty).any()
    speck = empty.copy()
    speck[40:43, 40:43] = True  # no core left after erosion
    np.testing.assert_array_equal(refine_mask(image, speck), speck)
    flat = np.full(image.shape, 128, np.uint8)  # one colour: both models agree everywhere, nothing to decide
    np.testing.assert_array_equal(refine_mask(flat, lesion), lesion)
    with pytest.raises(ValueError, match="differ in size"):
        refine_mask(image, lesion[:10])


def test_gaussian_log_likelihood_matches_scipy_up_to_a_constant():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(500, 3)) @ np.array([[1.0, 0.3, 0.0], [0.0, 0.5, 0.2], [0.0, 0.0, 0.8]])
    x = rng.normal(size=(20, 3))
    ours = gaussian_log_likelihood(samples, ridge=0.0)(x)
    reference = stats.multivariate_normal(samples.mean(0), np.cov(samples, rowvar=False)).logpdf(x)
    np.testing.assert_allclose(ours - reference, 1.5 * np.log(2 * np.pi), rtol=0, atol=1e-9)


def test_config_is_validated():
    with pytest.raises(ValueError, match="margin must be a fraction"):
        ColourRefineConfig(margin=0.7)
    with pytest.raises(ValueError, match="min_pixels"):
        ColourRefineConfig(min_pixels=2)
    with pytest.raises(ValueError, match="skin_quantile"):
        ColourRefineConfig(skin_quantile=0.2)
