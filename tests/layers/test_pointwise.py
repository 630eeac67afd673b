from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck
from torch.func import vmap

from medsegkit.layers.pointwise import PointwiseConv2d

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def test_pointwise_is_a_drop_in_1x1_conv():
    torch.manual_seed(5)
    ours = PointwiseConv2d(6, 4)
    torch.manual_seed(5)
    plain = torch.nn.Conv2d(6, 4, 1)
    assert ours.state_dict().keys() == plain.state_dict().keys()
    x = torch.randn(2, 6, 7, 5)
    torch.testing.assert_close(ours(x), plain(x))
    torch.testing.assert_close(PointwiseConv2d(6, 4, bias=False)(x).shape, torch.Size([2, 4, 7, 5]))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_pointwise_values_and_gradients_equal_conv2d(bias, memory_format):
    """Both paths (batched matrix product for NCHW, einsum for channels-last), with and without bias."""
    torch.manual_seed(3)
    layer = PointwiseConv2d(5, 3, bias=bias).double()
    x = torch.randn(2, 5, 4, 6, dtype=torch.float64).contiguous(memory_format=memory_format).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    weight_ref = layer.weight.detach().clone().requires_grad_()
    bias_ref = layer.bias.detach().clone().requires_grad_() if bias else None
    y, y_ref = layer(x), torch.nn.functional.conv2d(x_ref, weight_ref, bias_ref)
    torch.testing.assert_close(y, y_ref)
    grad = torch.randn_like(y)
    y.backward(grad)
    y_ref.backward(grad)
    torch.testing.assert_close(x.grad, x_ref.grad)
    torch.testing.assert_close(layer.weight.grad, weight_ref.grad)
    if bias:
        torch.testing.assert_close(layer.bias.grad, bias_ref.grad)
    assert gradcheck(layer, (x,))


def test_pointwise_gradcheck_float64_and_under_vmap():
    layer = PointwiseConv2d(3, 2).double()
    x = torch.randn(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert gradcheck(layer, (x,))
    weights = torch.randn(3, 2, 3, 1, 1, dtype=torch.float64)  # one weight per sample, as batched clustering does
    xs = torch.randn(3, 1, 3, 4, 4, dtype=torch.float64)
    batched = vmap(lambda w, x: torch.func.functional_call(layer, {"weight": w, "bias": layer.bias}, (x,)))(weights, xs)
    for i in range(3):
        expected = torch.nn.functional.conv2d(xs[i], weights[i], layer.bias)
        torch.testing.assert_close(batched[i], expected)
