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
    assert steady.anatomy == 1.0 and steady.consistency == {"cup": 1.0, "disc": 1.0}
    assert lopsided.consistency["disc"] < 1.0
    assert helped(steady, steady)[0]  # a tie keeps the adapted model
    verdict, reason = helped(steady, lopsided)
    assert not verdict and "less consistent under mirroring" in reason


def test_less_plausible_anatomy_is_refused():
    verdict, reason = helped(Evidence(0.9, {"cup": 0.8, "disc": 0.9}), Evidence(0.8, {"cup": 0.9, "disc": 0.95}))
    assert not verdict and "plausible anatomy" in reason
