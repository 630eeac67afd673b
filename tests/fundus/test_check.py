"""The label-free check of adaptation: plausible anatomy and consistency under mirroring, compared by sign."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from medsegkit.fundus.check import Evidence, evidence, helped, plausible


def disc_and_cup(size: int = 32, cup: float = 0.4) -> np.ndarray:
    rows, cols = np.mgrid[:size, :size]
    radius = np.hypot(rows - (size - 1) / 2, cols - (size - 1) / 2) / (size / 2)  # symmetric about the middle
    return np.stack([radius < cup * 0.7, radius < 0.7]).astype(float)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda p: p, True),
        (lambda p: p[::-1], False),  # the cup larger than the disc
        (lambda p: np.stack([np.zeros_like(p[0]), p[1]]), False),  # no cup
        (lambda p: np.stack([np.roll(p[0], 12, axis=1), p[1]]), False),  # the cup outside the disc
        (
            lambda p: np.stack([p[0], np.maximum(p[1], np.roll(p[1], 20, axis=0) * (np.arange(32) > 28)[:, None])]),
            False,
        ),
    ],
)
def test_plausible_anatomy(edit, expected):
    assert plausible(edit(disc_and_cup()), 0.5) is expected


class Fixed(nn.Module):
    """A "model" that draws a disc and a cup, shifted to one side when ``lopsided`` (not mirror-consistent)."""

    def __init__(self, lopsided: bool = False) -> None:
        super().__init__()
        self.lopsided = lopsided

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prob = torch.from_numpy(disc_and_cup(x.shape[-1])).float()
        if self.lopsided:
            prob = torch.roll(prob, 5, dims=-1)
        logits = torch.logit(prob.clamp(1e-4, 1 - 1e-4))
        return logits.expand(x.shape[0], -1, -1, -1) + (x.mean() * 0)


def test_a_model_that_mirrors_its_images_consistently_is_preferred():
    x = torch.rand(3, 3, 32, 32)
    steady, lopsided = evidence(Fixed(), x, 0.5), evidence(Fixed(lopsided=True), x, 0.5)
    assert steady.as_dict() == {"anatomy": 1.0, "consistency": {"cup": 1.0, "disc": 1.0}, "score": 1.0}
    assert lopsided.as_dict()["consistency"]["disc"] < 1.0
    assert helped(steady, steady)[0]  # a tie keeps the adapted model
    verdict, reason = helped(steady, lopsided)
    assert not verdict and "less consistent under mirroring" in reason


def evidence_of(plausible, cup, disc):
    return Evidence(np.array(plausible), {"cup": np.array(cup), "disc": np.array(disc)})


def test_only_a_significant_loss_refuses_the_adapted_model():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.85, 0.95, 30)
    source = evidence_of([True] * 30, base, base)
    noisy = evidence_of([True] * 30, base + rng.normal(0, 0.01, 30), base)  # a little worse, a little better
    assert helped(source, noisy)[0]
    lower = evidence_of([True] * 30, base - 0.03 + rng.normal(0, 0.01, 30), base)
    verdict, reason = helped(source, lower)
    assert not verdict and "less consistent under mirroring (cup" in reason and "p = " in reason


def test_a_trade_between_the_structures_is_judged_on_both():
    """The dev runs the per-structure test refused: the disc a little less consistent, the cup much more."""
    rng = np.random.default_rng(1)
    base = rng.uniform(0.9, 0.98, 30)
    source = evidence_of([True] * 30, base, base)
    trade = evidence_of([True] * 30, base + 0.03 + rng.normal(0, 0.01, 30), base - 0.005 + rng.normal(0, 0.002, 30))
    assert helped(source, trade)[0]
    both = evidence_of([True] * 30, base - 0.01 + rng.normal(0, 0.01, 30), base - 0.005 + rng.normal(0, 0.002, 30))
    assert not helped(source, both)[0]


def test_fewer_plausible_images_is_refused_when_it_is_more_than_chance():
    source = evidence_of([True] * 30, [0.9] * 30, [0.9] * 30)
    one_lost = evidence_of([False] + [True] * 29, [0.9] * 30, [0.9] * 30)
    assert helped(source, one_lost)[0]  # one image of 30: chance
    many_lost = evidence_of([False] * 8 + [True] * 22, [0.9] * 30, [0.9] * 30)
    verdict, reason = helped(source, many_lost)
    assert not verdict and "plausible anatomy" in reason


def test_the_score_counts_an_implausible_prediction_as_zero():
    ev = evidence_of([True, False, True], [0.8, 1.0, 0.6], [1.0, 1.0, 0.8])
    assert ev.score == pytest.approx((0.9 + 0 + 0.7) / 3)
    assert ev.as_dict()["score"] == pytest.approx(ev.score)
