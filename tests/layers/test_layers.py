from __future__ import annotations

import math

import pytest
import torch
from torchvision.ops import deform_conv2d

from medsegkit import registry
from medsegkit.layers import DeformConv2d, InceptionLKA, SpatialTransformer, deform_conv2d_sampled
from medsegkit.layers.stn import invert_affine, warp

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


@pytest.mark.parametrize("shape", [(2, 4, 7, 9), (1, 3, 5, 5), (1, 2, 1, 6)])
def test_sampled_deform_conv_equals_torchvision(shape):
    torch.manual_seed(0)
    b, c, h, w = shape
    x = torch.randn(b, c, h, w, dtype=torch.float64)
    offset = torch.randn(b, 18, h, w, dtype=torch.float64) * 2
    mask = torch.rand(b, 9, h, w, dtype=torch.float64)
    weight = torch.randn(5, c, 3, 3, dtype=torch.float64)
    bias = torch.randn(5, dtype=torch.float64)
    expected = deform_conv2d(x, offset, weight, bias, padding=1, mask=mask)
    torch.testing.assert_close(deform_conv2d_sampled(x, offset, weight, mask, bias), expected)


def test_sampled_deform_conv_gradients_match():
    torch.manual_seed(1)
    args = [
        torch.randn(1, 3, 6, 6, dtype=torch.float64),
        torch.randn(1, 18, 6, 6, dtype=torch.float64) * 0.7,
        torch.randn(4, 3, 3, 3, dtype=torch.float64),
        torch.rand(1, 9, 6, 6, dtype=torch.float64),
    ]
    ours = [a.clone().requires_grad_() for a in args]
    ref = [a.clone().requires_grad_() for a in args]
    deform_conv2d_sampled(*ours).sum().backward()
    deform_conv2d(ref[0], ref[1], ref[2], padding=1, mask=ref[3]).sum().backward()
    for a, r in zip(ours, ref, strict=True):
        torch.testing.assert_close(a.grad, r.grad)


def test_deform_layer_starts_as_half_plain_conv_and_rejects_bad_args():
    layer = DeformConv2d(3, 4)
    x = torch.randn(1, 3, 8, 8)
    plain = torch.nn.functional.conv2d(x, layer.weight, layer.bias, padding=1)
    torch.testing.assert_close(layer(x), 0.5 * (plain - layer.bias.view(1, -1, 1, 1)) + layer.bias.view(1, -1, 1, 1))
    torch.testing.assert_close(DeformConv2d(3, 4, impl="torchvision").forward(x).shape, torch.Size([1, 4, 8, 8]))
    with pytest.raises(ValueError, match="odd kernel"):
        DeformConv2d(3, 4, kernel_size=2)
    with pytest.raises(ValueError, match="impl must be"):
        DeformConv2d(3, 4, impl="cuda-magic")  # type: ignore[arg-type]


def test_inception_lka_gates_its_input():
    torch.manual_seed(0)
    layer = InceptionLKA(6)
    x = torch.randn(2, 6, 12, 10, requires_grad=True)
    y = layer(x)
    assert y.shape == x.shape
    torch.testing.assert_close(layer(torch.zeros_like(x)), torch.zeros_like(x))  # attention multiplies the input
    y.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())
    assert [b.dilation for b in layer.branches] == [(1, 1), (2, 2), (3, 3)]
    assert [b.kernel_size for b in layer.branches] == [(3, 3), (5, 5), (7, 7)]
    with pytest.raises(ValueError, match="at least 1 channel"):
        InceptionLKA(0)


def test_spatial_transformer_starts_at_identity():
    stn = SpatialTransformer(3)
    x = torch.rand(2, 3, 16, 16)
    theta = stn(x)
    torch.testing.assert_close(theta, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3))
    torch.testing.assert_close(warp(x, theta), x)


def test_invert_affine():
    a = math.radians(20)
    theta = torch.tensor([[[math.cos(a), -math.sin(a), 0.1], [math.sin(a), math.cos(a), -0.2]]])
    inv = invert_affine(theta)
    full = lambda t: torch.cat([t[0], torch.tensor([[0.0, 0.0, 1.0]])])  # noqa: E731
    torch.testing.assert_close(full(theta) @ full(inv), torch.eye(3), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", sorted({c.name for c in registry.components("attention")}))
def test_every_attention_module_keeps_shape_and_trains(name):
    from medsegkit.models import create_attention

    torch.manual_seed(0)
    module = create_attention(name, 16)
    x = torch.randn(2, 16, 12, 12)
    y = module(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.square().mean().backward()
    assert all(p.grad is not None for p in module.parameters())


def test_sampled_deform_conv_gradcheck():
    """Float64 gradients of every input (offsets away from integer positions, where bilinear sampling has kinks)."""
    torch.manual_seed(2)
    x = torch.randn(2, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    offset = (torch.randn(2, 18, 4, 5, dtype=torch.float64) * 0.6 + 0.25).requires_grad_()
    weight = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(2, 9, 4, 5, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(deform_conv2d_sampled, (x, offset, weight, mask, bias), eps=1e-6, atol=1e-5)
