"""The blind choice's agreement term: hand-computed cases, the library's Dice as reference, and the choice between
two clusterings' masks."""

from __future__ import annotations

import numpy as np
import pytest

from medsegkit import metrics
from medsegkit.lesion.blind.consensus import agreement
from medsegkit.lesion.blind.per_image import Selection, choose


def disc(radius: float, centre: tuple[int, int] = (32, 32), size: int = 64) -> np.ndarray:
    rows, cols = np.mgrid[0:size, 0:size]
    return np.hypot(rows - centre[0], cols - centre[1]) < radius


def test_agreement_is_the_mean_dice_with_the_other_masks():
    rng = np.random.default_rng(0)
    masks = [rng.random((20, 30)) < p for p in (0.2, 0.5, 0.7, 0.9)] + [np.zeros((20, 30), bool)] * 2
    expected = [np.mean([metrics.dice(a, b) for j, b in enumerate(masks) if j != i]) for i, a in enumerate(masks)]
    assert np.allclose(agreement(masks), expected, atol=1e-6)
    assert agreement([masks[0]]).tolist() == [0.0] and agreement([]).shape == (0,)


def selections(clusterer: list[tuple[np.ndarray, float]], second: list[tuple[np.ndarray, float]]):
    empty = np.zeros((64, 64), bool)
    return tuple(Selection(empty, empty, empty, [(m, m, s) for m, s in scored]) for scored in (clusterer, second))


def test_of_two_masks_scored_alike_the_one_the_others_agree_with_wins():
    core, lesion = disc(8), disc(20)
    pool = selections([(core, 1.00), (lesion, 0.98)], [(disc(19), 0.90), (disc(21), 0.85)])
    assert choose(pool, combine=True) == (0, 1)  # the lesion: three masks overlap it, the core stands alone


def test_a_clearly_better_score_still_wins_over_the_crowd():
    core, lesion = disc(8), disc(20)
    assert choose(selections([(core, 2.5), (lesion, 0.98)], [(disc(19), 0.90), (disc(21), 0.85)]), True) == (0, 0)


@pytest.mark.parametrize("combine", [True, False])
def test_only_the_clusterers_masks_win_without_combine(combine):
    pool = selections([(disc(8), 0.5)], [(disc(20), 1.0), (disc(21), 0.9)])
    assert choose(pool, combine) == ((1, 0) if combine else (0, 0))


def test_nothing_lesion_like_is_no_choice():
    assert choose(selections([], [(disc(20), 1.0)]), combine=False) == (0, -1)
    assert choose(selections([], []), combine=True) == (0, -1)
