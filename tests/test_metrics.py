"""Metrics against hand-computed cases and against medpy and MONAI on random shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from medsegkit import metrics as M

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def canvas(shape=(12, 12)) -> np.ndarray:
    return np.zeros(shape, bool)


def square(top: int, left: int, side: int, shape=(12, 12)) -> np.ndarray:
    m = canvas(shape)
    m[top : top + side, left : left + side] = True
    return m


def pixel(r: int, c: int, shape=(12, 12)) -> np.ndarray:
    m = canvas(shape)
    m[r, c] = True
    return m


# ---- hand-computed cases --------------------------------------------------------------------


def test_shifted_squares():
    a, b = square(2, 2, 4), square(2, 3, 4)
    assert M.dice(a, b) == pytest.approx(2 * 12 / 32)
    assert M.hammoude(a, b) == pytest.approx(8 / 20)
    assert M.xor(a, b) == pytest.approx(8 / 16)
    assert M.hausdorff(a, b) == pytest.approx(1.0)
    # surfaces: 12 pixels each; A's top and bottom rows share 3 pixels each with B's outline (0),
    # its two left corners and the 4 side pixels are 1 away (and symmetrically for B)
    sd = M.surface_distances(a, b)
    assert sorted(sd.pred_to_gt.tolist()) == [0.0] * 6 + [1.0] * 6
    assert M.asd(a, b) == pytest.approx(0.5)
    assert M.assd(a, b) == pytest.approx(0.5)
    assert M.hd95(a, b) == pytest.approx(1.0)


def test_single_pixels_and_anisotropic_spacing():
    a, b = pixel(0, 0), pixel(3, 4)
    for fn in (M.hausdorff, M.hd95, M.asd, M.assd):
        assert fn(a, b) == pytest.approx(5.0)
    assert M.hausdorff(a, b, spacing=(2.0, 0.5)) == pytest.approx(math.hypot(6.0, 2.0))
    assert M.assd(a, b, spacing=(2.0, 0.5), variant="mean-directed") == pytest.approx(math.hypot(6.0, 2.0))
    assert M.hausdorff(a, b, spacing=(3.0,)) == pytest.approx(15.0)
    assert M.dice(a, b) == 0.0 and M.hammoude(a, b) == 1.0 and M.xor(a, b) == 2.0


def test_ring_inside_filled_square():
    outer = square(1, 1, 9)
    ring = outer & ~square(3, 3, 5)
    assert M.dice(ring, outer) == pytest.approx(2 * 56 / (56 + 81))
    assert M.hammoude(ring, outer) == pytest.approx(25 / 81)
    # the ring's outer border is the square's outline (32 px); its inner border is 1 away from it and
    # has 20 px: the 4 inner corners touch the hole only diagonally, so one 4-neighbour erosion keeps them
    sd = M.surface_distances(ring, outer)
    assert sorted(sd.pred_to_gt.tolist()) == [0.0] * 32 + [1.0] * 20
    assert sd.gt_to_pred.max() == 0.0
    assert M.hausdorff(ring, outer) == pytest.approx(1.0)
    assert M.asd(outer, ring) == 0.0 and M.asd(ring, outer) == pytest.approx(20 / 52)


def test_variants_differ_where_published_numbers_do():
    # A = B plus 3 far pixels: 3 of A's 39 surface distances are large (> 5 %), but only 3 of the
    # 75 pooled ones (< 5 %), so the max-directed P95 is large and the pooled P95 is 0.
    b = square(0, 0, 10, shape=(30, 30))
    a = b.copy()
    a[29, 27:30] = True
    sd = M.surface_distances(a, b)
    assert len(sd.pred_to_gt) == 39 and len(sd.gt_to_pred) == 36
    assert M.hd95(a, b) == 0.0
    assert M.hd95(a, b, variant="max-directed") > 20
    pooled = np.percentile(np.concatenate([sd.pred_to_gt, sd.gt_to_pred]), 95)
    maxdir = max(np.percentile(sd.pred_to_gt, 95), np.percentile(sd.gt_to_pred, 95))
    assert M.hd95(a, b, variant="pooled") == pytest.approx(pooled)
    assert M.hd95(a, b, variant="max-directed") == pytest.approx(maxdir)
    assert M.hd95(a, b, variant="pooled") != pytest.approx(M.hd95(a, b, variant="max-directed"))
    assert M.assd(a, b) != pytest.approx(M.assd(a, b, variant="mean-directed"))


def test_pixels_on_the_array_border_are_surface():
    full = np.ones((4, 4), bool)
    assert M.surface(full).sum() == 12


@pytest.mark.parametrize(
    "pred, gt, expected",
    [
        (
            canvas(),
            canvas(),
            dict(dice=1.0, hm=0.0, xor=0.0, hd=0.0, hd95=0.0, hd95_max=0.0, asd=0.0, assd=0.0, assd_mean=0.0),
        ),
        (
            canvas(),
            square(1, 1, 3),
            dict(dice=0.0, hm=1.0, xor=1.0, hd=None, hd95=None, hd95_max=None, asd=None, assd=None, assd_mean=None),
        ),
        (
            square(1, 1, 3),
            canvas(),
            dict(dice=0.0, hm=1.0, xor=None, hd=None, hd95=None, hd95_max=None, asd=None, assd=None, assd_mean=None),
        ),
    ],
    ids=["both-empty", "pred-empty", "gt-empty"],
)
def test_empty_mask_policy(pred, gt, expected):
    scores = M.binary_scores(pred, gt)
    assert set(scores) == set(M.METRICS)
    for name, value in expected.items():
        if value is None:
            assert math.isnan(scores[name]), name
        else:
            assert scores[name] == value, name


def test_empty_kind():
    assert M.empty_kind(canvas(), canvas()) == "both"
    assert M.empty_kind(canvas(), pixel(1, 1)) == "pred"
    assert M.empty_kind(pixel(1, 1), canvas()) == "gt"
    assert M.empty_kind(pixel(1, 1), pixel(1, 1)) == ""


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"prediction shape \(12, 12\) differs from ground truth shape \(5, 5\)"):
        M.dice(canvas(), canvas((5, 5)))
    with pytest.raises(ValueError, match="spacing must hold 2 positive values"):
        M.hausdorff(pixel(0, 0), pixel(1, 1), spacing=(1.0, -1.0))
    with pytest.raises(ValueError, match="variant must be"):
        M.hd95(pixel(0, 0), pixel(1, 1), variant="mean")  # type: ignore[arg-type]


def test_vertical_cup_to_disc_ratio():
    disc = square(2, 2, 8)
    cup = square(4, 3, 4)
    assert M.vertical_extent(disc) == 8
    assert M.vcdr(cup, disc) == pytest.approx(0.5)
    assert math.isnan(M.vcdr(cup, canvas()))
    assert M.vcdr(canvas(), disc) == 0.0


# ---- cross-check against reference libraries -------------------------------------------------


def random_pairs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    made = 0
    while made < n:
        shape = tuple(rng.integers(20, 70, 2))
        sigma = rng.uniform(1, 5)
        a = ndimage.gaussian_filter(rng.standard_normal(shape), sigma) > rng.uniform(-0.2, 0.4)
        b = ndimage.gaussian_filter(rng.standard_normal(shape), sigma) > rng.uniform(-0.2, 0.4)
        if rng.random() < 0.3:  # near-identical pairs, as good predictions are
            b = ndimage.binary_dilation(a, iterations=int(rng.integers(1, 3)))
        if a.any() and b.any() and not a.all() and not b.all():
            made += 1
            spacing = None if rng.random() < 0.5 else tuple(rng.uniform(0.3, 2.0, 2))
            yield a, b, spacing


def test_against_medpy():
    binary = pytest.importorskip("medpy.metric.binary")
    for a, b, spacing in random_pairs(300):
        ours = M.binary_scores(a, b, spacing)
        assert ours["dice"] == pytest.approx(binary.dc(a, b), abs=1e-6)
        assert ours["hm"] == pytest.approx(1 - binary.jc(a, b), abs=1e-6)
        assert ours["hd"] == pytest.approx(binary.hd(a, b, spacing), abs=1e-6)
        assert ours["hd95"] == pytest.approx(binary.hd95(a, b, spacing), abs=1e-6)
        assert ours["asd"] == pytest.approx(binary.asd(a, b, spacing), abs=1e-6)
        assert ours["assd"] == pytest.approx(binary.assd(a, b, spacing), abs=1e-6)  # pooled since 0.5.2
        directed = (binary.asd(a, b, spacing) + binary.asd(b, a, spacing)) / 2  # medpy < 0.5.2
        assert ours["assd_mean"] == pytest.approx(directed, abs=1e-6)


def test_against_monai():
    torch = pytest.importorskip("torch")
    monai_metrics = pytest.importorskip("monai.metrics")
    for a, b, spacing in random_pairs(200, seed=1):
        ta, tb = (torch.from_numpy(x)[None, None].float() for x in (a, b))
        kwargs = {} if spacing is None else {"spacing": list(spacing)}
        ours = M.binary_scores(a, b, spacing)
        # MONAI computes in float32: agree to 1e-6 relative
        hd95_max = monai_metrics.compute_hausdorff_distance(ta, tb, percentile=95, **kwargs).item()
        assert ours["hd95_max"] == pytest.approx(hd95_max, rel=1e-6)
        hd = monai_metrics.compute_hausdorff_distance(ta, tb, **kwargs).item()
        assert ours["hd"] == pytest.approx(hd, rel=1e-6)
        assd = monai_metrics.compute_average_surface_distance(ta, tb, symmetric=True, **kwargs).item()
        assert ours["assd"] == pytest.approx(assd, rel=1e-6)


def test_single_metric_functions_match_binary_scores():
    for a, b, spacing in random_pairs(20, seed=2):
        scores = M.binary_scores(a, b, spacing)
        assert scores["dice"] == M.dice(a, b)
        assert scores["hd"] == M.hausdorff(a, b, spacing)
        assert scores["hd95"] == M.hd95(a, b, spacing)
        assert scores["hd95_max"] == M.hd95(a, b, spacing, variant="max-directed")
        assert scores["asd"] == M.asd(a, b, spacing)
        assert scores["assd"] == M.assd(a, b, spacing)
        assert scores["assd_mean"] == M.assd(a, b, spacing, variant="mean-directed")
