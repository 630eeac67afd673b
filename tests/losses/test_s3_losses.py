from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from medsegkit.layers.stn import warp
from medsegkit.losses.s3 import AffineConsistencyLoss, BoundaryLoss, SelfLabelLoss, SpatialConsistencyLoss, self_labels

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def rotation(degrees: float) -> torch.Tensor:
    a = math.radians(degrees)
    return torch.tensor([[[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]]])


def test_self_label_is_cross_entropy_against_argmax():
    logits = torch.randn(2, 4, 5, 5, requires_grad=True)
    expected = F.cross_entropy(logits, logits.argmax(1))
    torch.testing.assert_close(SelfLabelLoss()(logits), expected)
    torch.testing.assert_close(SelfLabelLoss()(logits, self_labels(logits)), expected)
    torch.testing.assert_close(self_labels(logits), logits.argmax(dim=1))
    confident = torch.zeros(1, 3, 4, 4)
    confident[:, 1] = 20
    assert SelfLabelLoss()(confident) < 1e-6


def test_affine_loss_is_zero_for_an_equivariant_predictor():
    torch.manual_seed(0)
    pointwise = torch.nn.Conv2d(3, 4, 1)  # a per-pixel predictor commutes with any pixel permutation
    x = torch.rand(1, 3, 16, 16)
    theta = rotation(90)  # maps pixel centres onto pixel centres
    predict = lambda image: pointwise(image).softmax(1)  # noqa: E731
    loss = AffineConsistencyLoss()(predict(x), predict(warp(x, theta)), theta)
    assert loss < 1e-5


def test_affine_loss_is_positive_for_a_position_dependent_predictor():
    torch.manual_seed(0)
    ramp = torch.linspace(0, 5, 16).view(1, 1, 1, 16)
    predict = lambda image: torch.cat([image[:, :1] + ramp, image[:, 1:2]], 1).softmax(1)  # noqa: E731
    x = torch.rand(1, 3, 16, 16)
    theta = rotation(90)
    assert AffineConsistencyLoss()(predict(x), predict(warp(x, theta)), theta) > 0.1


def test_spatial_consistency():
    flat = torch.zeros(1, 2, 8, 8)
    flat[:, 0] = 1
    assert SpatialConsistencyLoss()(flat) == 0
    checker = torch.zeros(1, 2, 8, 8)
    checker[:, 0, ::2, ::2] = checker[:, 0, 1::2, 1::2] = 1
    checker[:, 1] = 1 - checker[:, 0]
    assert SpatialConsistencyLoss(sigma=None)(checker) == pytest.approx(4.0)
    # a label edge that sits on an image edge costs almost nothing when the loss is edge-aware
    halves = torch.zeros(1, 2, 8, 8)
    halves[:, 0, :, :4] = 1
    halves[:, 1, :, 4:] = 1
    image = torch.zeros(1, 3, 8, 8)
    image[:, :, :, 4:] = 1
    plain = SpatialConsistencyLoss(sigma=None)(halves, image)
    aware = SpatialConsistencyLoss(sigma=0.1)(halves, image)
    assert plain > 0 and aware < plain * 1e-6


def test_boundary_loss():
    constant = torch.full((1, 2, 32, 32), 0.5)
    assert BoundaryLoss(16)(constant) < 1e-6
    noisy = torch.rand(1, 2, 32, 32)
    assert BoundaryLoss(16)(noisy) > 0.1
    with pytest.raises(ValueError, match="factor must be at least 2"):
        BoundaryLoss(1)


@pytest.mark.parametrize(
    "loss, inputs",
    [
        ("affine", lambda: (torch.rand(1, 3, 6, 7), torch.rand(1, 3, 6, 7))),
        ("spatial", lambda: (torch.rand(2, 3, 5, 6), torch.rand(2, 3, 5, 6))),
        ("boundary", lambda: (torch.rand(1, 3, 8, 8),)),
    ],
)
def test_s3_losses_gradcheck(loss, inputs):
    """Float64 gradients of the affine-consistency, spatial and boundary losses against finite differences."""
    torch.manual_seed(3)
    args = tuple(a.double().requires_grad_() for a in inputs())
    theta = rotation(17).double()
    fn = {
        "affine": lambda p, q: AffineConsistencyLoss()(p, q, theta),
        "spatial": lambda p, image: SpatialConsistencyLoss(0.3)(p, image),
        "boundary": lambda p: BoundaryLoss(4)(p),
    }[loss]
    assert torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-5)
